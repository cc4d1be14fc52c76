//! `use_iam: aws` end to end on 127.0.0.1: IRSA against moto's STS, the EC2 instance profile
//! against an IMDSv2 server speaking the real protocol, and the failures operators meet, each
//! with its fix. Every test names its STS and IMDS endpoints explicitly (through
//! `CredentialOverrides`), so nothing reaches AWS or 169.254.169.254, and no test depends on
//! process-wide environment variables.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::imds::{ImdsBehavior, ImdsServer};
use support::{RecordingProxy, Server, TranscriptProxy, bucket, closed_port};
use symstore_core::config::{IamMode, S3Config, StoreConfig};
use symstore_core::{Error, StepStatus, SymbolStore, conformance};
use symstore_s3::{CredentialOverrides, S3Store};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/zymtrace-s3-role";
const SERVICE_ACCOUNT: &str = "zymtrace-s3-sa";
const WEB_IDENTITY_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln";
/// The hint operators need when pods cannot reach IMDS.
const HOP_LIMIT_HINT: &str = "IMDSv2 hop limit is 1, pods cannot reach the metadata service: use \
     IRSA (recommended) or raise the hop limit to 2";
/// The bound on a failure to reach IMDS or STS; generous for a loaded machine, far below
/// what unbounded SDK defaults allow.
const BOUND: Duration = Duration::from_secs(15);

/// `type: s3` with `use_iam: aws` on `endpoint` (moto's S3, or a proxy to it).
fn iam_config(endpoint: &str, label: &str, region: Option<&str>) -> StoreConfig {
    let mut config = S3Config::default();
    config.region = region.map(str::to_owned);
    config.bucket = bucket(label);
    config.use_iam = Some(IamMode::Aws);
    config.service_account = Some(SERVICE_ACCOUNT.to_owned());
    config.endpoint = Some(endpoint.to_owned());
    config.force_path_style = true;
    config.create_bucket = true;
    config.connection.connect_timeout = Duration::from_secs(2);
    config.connection.read_timeout = Duration::from_secs(10);
    StoreConfig::S3(config)
}

/// IRSA: the token file and role, STS at `sts`; IMDS at a closed port, never used.
fn irsa(sts: &str, token_file: &Path, role_arn: &str) -> CredentialOverrides {
    let mut overrides = CredentialOverrides::default();
    overrides.sts_endpoint = Some(sts.to_owned());
    overrides.web_identity_token_file = Some(token_file.to_owned());
    overrides.role_arn = Some(role_arn.to_owned());
    overrides.imds_endpoint = Some(closed_port());
    overrides.ignore_environment = true;
    overrides
}

/// The instance profile, IMDS at `imds`.
fn instance_profile(imds: &str) -> CredentialOverrides {
    let mut overrides = CredentialOverrides::default();
    overrides.imds_endpoint = Some(imds.to_owned());
    overrides.ignore_environment = true;
    overrides
}

fn token_file(content: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), content).unwrap();
    file
}

async fn connect(config: &StoreConfig, overrides: CredentialOverrides) -> S3Store {
    S3Store::connect_with_credential_overrides(config, overrides)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// The values of `<tag>` in an XML text.
fn xml_values(text: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    text.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(value, _)| value.to_owned()))
        .collect()
}

/// The access key ids that signed the requests a proxy saw.
fn signing_keys(proxy: &RecordingProxy) -> Vec<String> {
    proxy
        .request_heads()
        .iter()
        .filter_map(|head| {
            let credential = head.split("credential=").nth(1)?;
            Some(credential.split('/').next()?.to_ascii_uppercase())
        })
        .collect()
}

/// The access key id the `credentials resolved` step of `check` reports.
async fn checked_access_key(store: &S3Store) -> String {
    let report = store.check().await;
    assert!(report.is_ok(), "{report}");
    let step = report
        .steps
        .iter()
        .find(|s| s.name == "credentials resolved")
        .unwrap_or_else(|| panic!("no credentials step in {report}"));
    step.detail
        .strip_prefix("access key id ")
        .unwrap_or_else(|| panic!("unexpected detail {:?}", step.detail))
        .to_owned()
}

fn credentials_hint(result: symstore_core::Result<()>) -> String {
    match result {
        Err(Error::Credentials { hint, .. }) => hint,
        other => panic!("expected a credentials error, got {other:?}"),
    }
}

#[tokio::test]
async fn irsa_credentials_come_from_sts_and_sign_a_round_trip() {
    let sts = TranscriptProxy::start(&Server::Moto.endpoint()).await;
    let s3 = RecordingProxy::start(&Server::Moto.endpoint()).await;
    let token = token_file(WEB_IDENTITY_TOKEN);
    let config = iam_config(&s3.endpoint, "irsa", Some("us-west-2"));
    let store = connect(&config, irsa(&sts.endpoint, token.path(), ROLE_ARN)).await;

    store.ensure_bucket().await.unwrap();
    conformance::round_trips(&store, &conformance::unique_prefix("irsa")).await;
    let checked = checked_access_key(&store).await;

    // What went to STS: the role and the token file's content.
    let request = sts.sent();
    assert!(
        request.contains("Action=AssumeRoleWithWebIdentity"),
        "{request}"
    );
    assert!(request.contains("zymtrace-s3-role"), "{request}");
    assert!(request.contains(WEB_IDENTITY_TOKEN), "{request}");
    // What STS issued signed every S3 request, and is what `check` reports.
    let issued = xml_values(&sts.received(), "AccessKeyId");
    assert!(!issued.is_empty(), "STS issued nothing");
    assert!(issued.iter().all(|k| k.starts_with("ASIA")), "{issued:?}");
    assert!(
        issued.contains(&checked),
        "check reported {checked}, STS issued {issued:?}"
    );
    let signers = signing_keys(&s3);
    assert!(!signers.is_empty());
    assert!(
        signers.iter().all(|k| issued.contains(k)),
        "S3 requests signed with {signers:?}, STS issued {issued:?}"
    );
    // With the session token STS issued alongside.
    let session_tokens: Vec<String> = xml_values(&sts.received(), "SessionToken")
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    for head in s3.request_heads() {
        let token = head
            .split("x-amz-security-token:")
            .nth(1)
            .and_then(|rest| rest.split("\r\n").next())
            .map(str::trim);
        assert!(
            token.is_some_and(|t| session_tokens.iter().any(|issued| issued == t)),
            "an S3 request without the STS session token: {head}"
        );
    }
    // Cached: the round trip's many requests needed one AssumeRoleWithWebIdentity, `check`
    // (which asks the provider directly) one more.
    assert!(issued.len() <= 2, "{issued:?}");
}

#[tokio::test]
async fn irsa_with_sts_unreachable_fails_with_a_credentials_error_naming_sts_and_the_role() {
    let token = token_file(WEB_IDENTITY_TOKEN);
    let sts = closed_port();
    let config = iam_config(&Server::Moto.endpoint(), "irsa-nosts", Some("us-west-2"));
    let store = connect(&config, irsa(&sts, token.path(), ROLE_ARN)).await;

    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, store.ensure_bucket())
        .await
        .expect("bounded");
    eprintln!("STS at a closed port failed after {:?}", started.elapsed());
    let hint = credentials_hint(result);
    assert!(
        hint.contains(&format!("cannot reach STS at {sts}")),
        "{hint}"
    );
    assert!(hint.contains(ROLE_ARN), "{hint}");
    assert!(hint.contains("check that the pod can reach STS"), "{hint}");
    assert!(
        !hint.contains(WEB_IDENTITY_TOKEN),
        "the token leaked: {hint}"
    );

    let report = store.check().await;
    let failed = report.first_failure().expect("check fails");
    assert_eq!(failed.name, "credentials resolved", "{report}");
    assert_eq!(failed.error_kind, Some("credentials"));
}

#[tokio::test]
async fn irsa_with_an_unreadable_token_file_names_the_file_and_asks_nothing_of_sts() {
    let sts = TranscriptProxy::start(&Server::Moto.endpoint()).await;
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("token");
    let config = iam_config(&Server::Moto.endpoint(), "irsa-notoken", Some("us-west-2"));
    let store = connect(&config, irsa(&sts.endpoint, &missing, ROLE_ARN)).await;

    let hint = credentials_hint(store.ensure_bucket().await);
    assert!(
        hint.contains(&format!(
            "cannot read the web identity token file {} (AWS_WEB_IDENTITY_TOKEN_FILE)",
            missing.display()
        )),
        "{hint}"
    );
    assert!(hint.contains(SERVICE_ACCOUNT), "{hint}");
    assert!(hint.contains("eks.amazonaws.com/role-arn"), "{hint}");
    assert!(sts.sent().is_empty(), "STS was asked: {}", sts.sent());

    let empty = token_file("\n");
    let store = connect(&config, irsa(&sts.endpoint, empty.path(), ROLE_ARN)).await;
    let hint = credentials_hint(store.ensure_bucket().await);
    assert!(hint.contains("the file is empty"), "{hint}");
}

#[tokio::test]
async fn half_configured_irsa_names_the_missing_variable() {
    let config = iam_config(&Server::Moto.endpoint(), "irsa-half", Some("us-west-2"));
    let mut overrides = irsa(&closed_port(), Path::new("/nonexistent"), ROLE_ARN);
    overrides.web_identity_token_file = None;

    let result = S3Store::connect_with_credential_overrides(&config, overrides).await;
    let hint = credentials_hint(result.map(drop));
    assert!(
        hint.contains("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"),
        "{hint}"
    );
    assert!(hint.contains("eks.amazonaws.com/role-arn"), "{hint}");
}

#[tokio::test]
async fn irsa_role_refused_by_sts_reports_the_trust_policy_checklist() {
    // moto's STS assumes any role; an account id of 22 digits is one it answers with an
    // error, which is how a refusal (AccessDenied, InvalidIdentityToken) reaches us too.
    let refused_role = "arn:aws:iam::1234567890123456789012:role/zymtrace-s3-role";
    let token = token_file(&format!("{WEB_IDENTITY_TOKEN}\n"));
    let config = iam_config(&Server::Moto.endpoint(), "irsa-refused", Some("us-west-2"));
    let overrides = irsa(&Server::Moto.endpoint(), token.path(), refused_role);
    let store = connect(&config, overrides).await;

    let result = tokio::time::timeout(BOUND, store.ensure_bucket())
        .await
        .expect("bounded");
    let hint = credentials_hint(result);
    assert!(
        hint.contains(&format!(
            "answered AssumeRoleWithWebIdentity for role {refused_role} with an error"
        )),
        "{hint}"
    );
    for expected in [
        "trust policy",
        "system:serviceaccount:<namespace>:<service account>",
        SERVICE_ACCOUNT,
        "eks.amazonaws.com/role-arn",
        "ends with whitespace",
    ] {
        assert!(hint.contains(expected), "{expected:?} missing from {hint}");
    }
    assert!(
        !hint.contains(WEB_IDENTITY_TOKEN),
        "the token leaked: {hint}"
    );
}

#[tokio::test]
async fn instance_profile_credentials_from_imdsv2_sign_a_round_trip_and_are_cached() {
    let imds = ImdsServer::start(ImdsBehavior::instance_profile(
        "zymtrace-node-role",
        "us-west-2",
        Duration::from_secs(6 * 3600),
    ))
    .await;
    let s3 = RecordingProxy::start(&Server::Moto.endpoint()).await;
    let config = iam_config(&s3.endpoint, "imds", Some("us-west-2"));
    let store = connect(&config, instance_profile(&imds.endpoint)).await;

    store.ensure_bucket().await.unwrap();
    conformance::round_trips(&store, &conformance::unique_prefix("imds")).await;

    let issued = imds.issued_access_keys();
    assert_eq!(issued.len(), 1, "credentials not cached: {issued:?}");
    let signers = signing_keys(&s3);
    assert!(!signers.is_empty());
    assert!(signers.iter().all(|k| *k == issued[0]), "{signers:?}");
    // IMDSv2: a token with a TTL first, every GET with it.
    assert!(imds.token_requests() >= 1);
    assert!(imds.token_ttls().iter().all(|ttl| ttl == "21600"));
    assert_eq!(imds.refused_requests(), 0);
    let secret = ImdsServer::secret_of(&issued[0]);
    assert!(!format!("{store:?} {store}").contains(&secret));
}

#[tokio::test]
async fn instance_profile_credentials_close_to_expiry_are_refreshed() {
    // Valid for 20 s: inside the refresh buffer, so the next request loads new ones instead
    // of signing with credentials about to expire.
    let imds = ImdsServer::start(ImdsBehavior::instance_profile(
        "zymtrace-node-role",
        "us-west-2",
        Duration::from_secs(20),
    ))
    .await;
    let s3 = RecordingProxy::start(&Server::Moto.endpoint()).await;
    let config = iam_config(&s3.endpoint, "imds-refresh", Some("us-west-2"));
    let store = connect(&config, instance_profile(&imds.endpoint)).await;

    store.ensure_bucket().await.unwrap();
    conformance::round_trips(&store, &conformance::unique_prefix("imds-refresh")).await;

    let issued = imds.issued_access_keys();
    assert!(issued.len() >= 2, "no refresh: {issued:?}");
    let signers = signing_keys(&s3);
    assert_eq!(signers.first(), Some(&issued[0]));
    assert!(
        signers.iter().any(|k| *k != issued[0]),
        "every request was signed with the first credentials: {signers:?}"
    );
}

#[tokio::test]
async fn imds_token_request_without_answer_fails_within_seconds_with_the_hop_limit_hint() {
    let imds = ImdsServer::start(ImdsBehavior::never_answering_token()).await;
    let config = iam_config(&Server::Moto.endpoint(), "imds-hop", Some("us-west-2"));
    let store = connect(&config, instance_profile(&imds.endpoint)).await;

    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, store.ensure_bucket())
        .await
        .expect("the failure must come within the bound");
    eprintln!(
        "IMDS token never answered: failed after {:?}",
        started.elapsed()
    );
    let hint = credentials_hint(result);
    assert!(hint.contains(HOP_LIMIT_HINT), "{hint}");
    assert!(hint.contains(&imds.endpoint), "{hint}");
    assert!(
        imds.token_requests() >= 1,
        "no token request reached the server"
    );

    let started = Instant::now();
    let report = tokio::time::timeout(BOUND, store.check())
        .await
        .expect("bounded");
    eprintln!("check with IMDS silent: {:?}", started.elapsed());
    let failed = report.first_failure().expect("check fails");
    assert_eq!(failed.name, "credentials resolved", "{report}");
    assert!(
        failed
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains(HOP_LIMIT_HINT),
        "{report}"
    );
}

#[tokio::test]
async fn instance_without_a_role_says_to_attach_one_or_use_irsa() {
    let mut behavior =
        ImdsBehavior::instance_profile("unused", "us-west-2", Duration::from_secs(3600));
    behavior.role = None;
    let imds = ImdsServer::start(behavior).await;
    let config = iam_config(&Server::Moto.endpoint(), "imds-norole", Some("us-west-2"));
    let store = connect(&config, instance_profile(&imds.endpoint)).await;

    let hint = credentials_hint(store.ensure_bucket().await);
    assert!(
        hint.contains("has no IAM role (instance profile)"),
        "{hint}"
    );
    assert!(hint.contains("use IRSA"), "{hint}");
}

#[tokio::test]
async fn imds_unreachable_says_not_on_ec2_and_suggests_irsa() {
    let imds = closed_port();
    let config = iam_config(&Server::Moto.endpoint(), "imds-closed", Some("us-west-2"));
    let store = connect(&config, instance_profile(&imds)).await;

    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, store.ensure_bucket())
        .await
        .expect("bounded");
    eprintln!(
        "IMDS at a closed port: failed after {:?}",
        started.elapsed()
    );
    let hint = credentials_hint(result);
    assert!(
        hint.contains(&format!(
            "cannot connect to the EC2 instance metadata service at {imds}"
        )),
        "{hint}"
    );
    assert!(hint.contains("Use IRSA"), "{hint}");
}

#[tokio::test]
async fn region_comes_from_imds_when_not_configured() {
    let imds = ImdsServer::start(ImdsBehavior::instance_profile(
        "zymtrace-node-role",
        "eu-central-1",
        Duration::from_secs(3600),
    ))
    .await;
    let config = iam_config(&Server::Moto.endpoint(), "imds-region", None);
    let store = connect(&config, instance_profile(&imds.endpoint)).await;

    let report = store.check().await;
    assert!(report.is_ok(), "{report}");
    let configuration = &report.steps[0];
    assert_eq!(configuration.status, StepStatus::Ok);
    assert!(
        configuration.detail.contains("region eu-central-1"),
        "{report}"
    );
}

#[tokio::test]
async fn missing_region_with_imds_unavailable_names_the_region_setting() {
    let imds = ImdsServer::start(ImdsBehavior::never_answering_token()).await;
    let config = iam_config(&Server::Moto.endpoint(), "noregion", None);

    let started = Instant::now();
    let result = tokio::time::timeout(
        BOUND,
        S3Store::connect_with_credential_overrides(&config, instance_profile(&imds.endpoint)),
    )
    .await
    .expect("bounded");
    eprintln!(
        "region from a silent IMDS: failed after {:?}",
        started.elapsed()
    );
    let error = match result {
        Err(Error::Config(error)) => error,
        other => panic!("expected a config error, got {other:?}"),
    };
    assert!(error.names("region"), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("set storage.use_existing.s3.region"),
        "{message}"
    );
    assert!(message.contains(HOP_LIMIT_HINT), "{message}");
}
