//! Credentials for `use_iam: aws`: IRSA web identity when `AWS_WEB_IDENTITY_TOKEN_FILE` and
//! `AWS_ROLE_ARN` are set, else the EC2 instance profile over IMDSv2. The source is chosen
//! once, when the store is built, so a failing source is reported as it is instead of
//! falling through to another one with a misleading message.
//!
//! - Bounded waits: the metadata service gets [`IMDS_CONNECT_TIMEOUT`] to connect,
//!   [`IMDS_READ_TIMEOUT`] to answer, [`IMDS_ATTEMPTS`] attempts and
//!   [`IMDS_OPERATION_TIMEOUT`] in all, so a pod that cannot reach it (an EKS node's IMDSv2
//!   hop limit of 1 drops the token answer) fails within seconds, not minutes.
//! - Caching: the S3 client's identity cache keeps the credentials and loads new ones
//!   [`REFRESH_BUFFER`] (minus up to half of it, as jitter) before they expire, so a long
//!   upload never signs with expired credentials.
//! - The web identity token file is sent to STS as it is, trailing newline included
//!   (aws-config does not trim it; kubelet's projected tokens have none). When STS refuses
//!   a token that ends with whitespace, the hint says so.
//! - Every failure carries a hint (the cause and the operator's fix), which
//!   [`failure_hint`] finds again when the SDK returns the failure from an S3 call.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::imds;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::{StaticConfiguration, WebIdentityTokenCredentialsProvider};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::error::ErrorMetadata;
use symstore_core::config::{ConnectionOptions, StoreConfig};
use symstore_core::{ConfigError, Context, Error, Result};

use crate::S3Store;
use crate::client::build_with;

/// How long the metadata service gets to accept a connection.
pub(crate) const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the metadata service gets to answer a request (the IMDSv2 token request included).
pub(crate) const IMDS_READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts per metadata request.
pub(crate) const IMDS_ATTEMPTS: u32 = 2;
/// The bound on one metadata request, retries and the token request included.
pub(crate) const IMDS_OPERATION_TIMEOUT: Duration = Duration::from_secs(4);
/// How long before their expiry credentials are replaced.
pub(crate) const REFRESH_BUFFER: Duration = Duration::from_secs(60);

/// What operators see when pods cannot reach IMDS, and the fix.
pub(crate) const HOP_LIMIT_HINT: &str = "IMDSv2 hop limit is 1, pods cannot reach the metadata \
     service: use IRSA (recommended) or raise the hop limit to 2";

const TOKEN_FILE_VAR: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
const ROLE_ARN_VAR: &str = "AWS_ROLE_ARN";
const SESSION_NAME_VAR: &str = "AWS_ROLE_SESSION_NAME";
const STS_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_STS";
const IMDS_ENDPOINT_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
const IMDS_DISABLED_VAR: &str = "AWS_EC2_METADATA_DISABLED";
const IMDS_DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const REGION_PATH: &str = "/latest/meta-data/placement/region";

/// Redirections of the `use_iam: aws` credential sources, for tests against local servers.
///
/// Not a stable API. Unset fields keep the production behaviour (the environment
/// variables aws-config reads, AWS's endpoints).
///
/// ```no_run
/// use symstore_s3::{CredentialOverrides, S3Store};
/// # async fn run(config: symstore_core::config::StoreConfig) -> symstore_core::Result<()> {
/// let mut overrides = CredentialOverrides::default();
/// overrides.imds_endpoint = Some("http://127.0.0.1:8111".into());
/// overrides.ignore_environment = true;
/// let store = S3Store::connect_with_credential_overrides(&config, overrides).await?;
/// # Ok(()) }
/// ```
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CredentialOverrides {
    /// Where AssumeRoleWithWebIdentity goes instead of STS (`http://127.0.0.1:PORT`).
    pub sts_endpoint: Option<String>,
    /// Where IMDSv2 requests go instead of `http://169.254.169.254`.
    pub imds_endpoint: Option<String>,
    /// The web identity token file, instead of `AWS_WEB_IDENTITY_TOKEN_FILE`.
    pub web_identity_token_file: Option<PathBuf>,
    /// The role to assume, instead of `AWS_ROLE_ARN`.
    pub role_arn: Option<String>,
    /// Ignore `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME`: web
    /// identity is used only when both fields above are set.
    pub ignore_environment: bool,
}

impl S3Store {
    /// [`S3Store::connect`] with the credential sources redirected (tests only).
    #[doc(hidden)]
    pub async fn connect_with_credential_overrides(
        config: &StoreConfig,
        overrides: CredentialOverrides,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            inner: std::sync::Arc::new(build_with(config, &overrides).await?),
        })
    }
}

/// The credential provider of `use_iam: aws`, and the region to use.
pub(crate) struct DefaultChain {
    pub(crate) provider: SharedCredentialsProvider,
    pub(crate) region: String,
}

/// What [`default_chain`] needs from the store's configuration.
pub(crate) struct ChainSettings<'a> {
    /// The configured region, if any.
    pub(crate) region: Option<&'a str>,
    /// The project's HTTPS client (aws-config has none compiled in).
    pub(crate) http: &'a SharedHttpClient,
    pub(crate) connection: &'a ConnectionOptions,
    pub(crate) service_account: Option<&'a str>,
}

/// Builds the provider: web identity when configured, else the instance profile. Contacts
/// nothing, except IMDS when no region is configured.
pub(crate) async fn default_chain(
    settings: ChainSettings<'_>,
    overrides: &CredentialOverrides,
) -> Result<DefaultChain> {
    let base = ProviderConfig::without_region().with_http_client(settings.http.clone());
    let imds_endpoint = overrides
        .imds_endpoint
        .clone()
        .or_else(|| env(IMDS_ENDPOINT_VAR))
        .unwrap_or_else(|| IMDS_DEFAULT_ENDPOINT.to_owned());
    let imds = imds_client(&base, overrides)?;
    let region = match settings.region {
        Some(region) => region.to_owned(),
        None => region_from_imds(&imds, &imds_endpoint).await?,
    };
    let base = base.with_region(Some(Region::new(region.clone())));
    let provider = match web_identity_settings(overrides)? {
        Some(source) => SharedCredentialsProvider::new(web_identity(
            base, source, &region, &settings, overrides,
        )),
        None => SharedCredentialsProvider::new(InstanceProfile {
            inner: ImdsCredentialsProvider::builder()
                .configure(&base)
                .imds_client(imds)
                .build(),
            endpoint: imds_endpoint,
        }),
    };
    Ok(DefaultChain { provider, region })
}

/// The token file and role when web identity is configured; an error when half of it is.
fn web_identity_settings(overrides: &CredentialOverrides) -> Result<Option<(PathBuf, String)>> {
    let from_env = |name| (!overrides.ignore_environment).then(|| env(name)).flatten();
    let token_file = overrides
        .web_identity_token_file
        .clone()
        .or_else(|| from_env(TOKEN_FILE_VAR).map(PathBuf::from));
    let role_arn = overrides
        .role_arn
        .clone()
        .or_else(|| from_env(ROLE_ARN_VAR));
    let missing = match (token_file, role_arn) {
        (Some(token_file), Some(role_arn)) => return Ok(Some((token_file, role_arn))),
        (None, None) => return Ok(None),
        (Some(_), None) => (ROLE_ARN_VAR, TOKEN_FILE_VAR),
        (None, Some(_)) => (TOKEN_FILE_VAR, ROLE_ARN_VAR),
    };
    Err(Error::Credentials {
        context: Context::new("open"),
        hint: format!(
            "IRSA is half configured: {} is set but {} is not. The EKS pod identity webhook \
             sets both when the pod's service account has the eks.amazonaws.com/role-arn \
             annotation: check the annotation and restart the pod",
            missing.1, missing.0
        ),
        source: None,
    })
}

/// The IRSA provider for the token file and role of `source`, STS in `region`.
fn web_identity(
    base: ProviderConfig,
    (token_file, role_arn): (PathBuf, String),
    region: &str,
    chain: &ChainSettings<'_>,
    overrides: &CredentialOverrides,
) -> WebIdentity {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(chain.connection.connect_timeout)
        .read_timeout(chain.connection.read_timeout)
        .build();
    let mut sts_config = base.with_timeout_config(timeouts);
    if let Some(endpoint) = &overrides.sts_endpoint {
        // aws-config's web identity provider takes its STS endpoint from the environment
        // only (AWS_ENDPOINT_URL_STS); its HTTP client is used for nothing but STS, so
        // redirecting that client redirects STS and nothing else.
        sts_config = sts_config.with_http_client(redirect(chain.http.clone(), endpoint));
    }
    let session_name = (!overrides.ignore_environment)
        .then(|| env(SESSION_NAME_VAR))
        .flatten()
        .unwrap_or_else(default_session_name);
    let inner = WebIdentityTokenCredentialsProvider::builder()
        .configure(&sts_config)
        .static_configuration(StaticConfiguration {
            web_identity_token_file: token_file.clone(),
            role_arn: role_arn.clone(),
            session_name,
        })
        .build();
    let sts_endpoint = overrides
        .sts_endpoint
        .clone()
        .or_else(|| env(STS_ENDPOINT_VAR))
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    WebIdentity {
        inner,
        token_file,
        role_arn,
        sts_endpoint,
        service_account: chain.service_account.map(str::to_owned),
    }
}

fn imds_client(base: &ProviderConfig, overrides: &CredentialOverrides) -> Result<imds::Client> {
    let mut builder = imds::Client::builder()
        .configure(base)
        .connect_timeout(IMDS_CONNECT_TIMEOUT)
        .read_timeout(IMDS_READ_TIMEOUT)
        .max_attempts(IMDS_ATTEMPTS)
        .operation_timeout(IMDS_OPERATION_TIMEOUT);
    if let Some(endpoint) = &overrides.imds_endpoint {
        builder = builder.endpoint(endpoint).map_err(|e| {
            ConfigError::single("imds_endpoint", format!("not a URL: {endpoint}: {e}"))
        })?;
    }
    Ok(builder.build())
}

async fn region_from_imds(imds: &imds::Client, endpoint: &str) -> Result<String> {
    let why = if imds_disabled() {
        format!("{IMDS_DISABLED_VAR} is true")
    } else {
        match imds.get(REGION_PATH).await {
            Ok(region) if !region.as_ref().trim().is_empty() => {
                return Ok(region.as_ref().trim().to_owned());
            }
            Ok(_) => format!("{endpoint} answered an empty region"),
            Err(e) => imds_hint(&e, endpoint),
        }
    };
    Err(ConfigError::single(
        "region",
        format!(
            "is not set and the EC2 instance metadata service cannot provide it ({why}): set \
             storage.use_existing.s3.region (`region` in a symstore config), e.g. us-west-2"
        ),
    )
    .into())
}

/// IRSA: AssumeRoleWithWebIdentity with the projected service account token.
#[derive(Debug)]
struct WebIdentity {
    inner: WebIdentityTokenCredentialsProvider,
    token_file: PathBuf,
    role_arn: String,
    sts_endpoint: String,
    service_account: Option<String>,
}

impl WebIdentity {
    async fn load(&self) -> Result<Credentials, CredentialsError> {
        // Read it here too, to say which file and why before anything goes to STS.
        let token = tokio::fs::read(&self.token_file)
            .await
            .map_err(|e| failure(self.unreadable_hint(&e.to_string()), Some(e.into())))?;
        let trimmed = token.trim_ascii();
        if trimmed.is_empty() {
            return Err(failure(self.unreadable_hint("the file is empty"), None));
        }
        let padded = trimmed.len() != token.len();
        self.inner
            .provide_credentials()
            .await
            .map_err(|e| failure(self.sts_hint(&e, padded), Some(e.into())))
    }

    fn service_account(&self) -> String {
        match &self.service_account {
            Some(sa) => format!("`{sa}` (storage.use_existing.s3.serviceAccount)"),
            None => "(storage.use_existing.s3.serviceAccount is not set)".to_owned(),
        }
    }

    fn unreadable_hint(&self, why: &str) -> String {
        format!(
            "cannot read the web identity token file {} ({TOKEN_FILE_VAR}): {why}. Check that \
             the pod runs with the service account {} and that it has the \
             eks.amazonaws.com/role-arn annotation, so the EKS pod identity webhook mounts the \
             projected token there; restart the pod after annotating",
            self.token_file.display(),
            self.service_account()
        )
    }

    fn sts_hint(&self, err: &CredentialsError, padded: bool) -> String {
        let (sts, role) = (&self.sts_endpoint, &self.role_arn);
        if let Some(connector) = find::<ConnectorError>(err) {
            let why = if connector.is_timeout() {
                "timed out"
            } else {
                "connection failed"
            };
            return format!(
                "cannot reach STS at {sts} to assume role {role} ({why}): check that the pod \
                 can reach STS (egress rules, HTTP proxy, DNS; an STS VPC endpoint in a \
                 private VPC)"
            );
        }
        let mut hint = format!(
            "STS at {sts} answered AssumeRoleWithWebIdentity for role {role} with an error \
             ({}): check that the role's trust policy allows sts:AssumeRoleWithWebIdentity for this cluster's \
             OIDC provider (registered in IAM) with sub \
             system:serviceaccount:<namespace>:<service account> and aud sts.amazonaws.com, \
             for the service account {}; that its eks.amazonaws.com/role-arn annotation is \
             {role}",
            answer(err),
            self.service_account()
        );
        if padded {
            hint.push_str(&format!(
                "; the token file {} ends with whitespace, which is sent as part of the token: \
                 write it without a trailing newline",
                self.token_file.display()
            ));
        }
        hint
    }
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}

/// The EC2 instance profile over IMDSv2.
#[derive(Debug)]
struct InstanceProfile {
    inner: ImdsCredentialsProvider,
    endpoint: String,
}

impl ProvideCredentials for InstanceProfile {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner
                .provide_credentials()
                .await
                .map_err(|e| failure(imds_hint(&e, &self.endpoint), Some(e.into())))
        })
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.inner.fallback_on_interrupt()
    }
}

/// The cause and fix of a failed IMDS request.
fn imds_hint(err: &(dyn StdError + 'static), endpoint: &str) -> String {
    let chain = display_chain(err);
    let connector = find::<ConnectorError>(err);
    if imds_disabled() {
        format!(
            "no credential source: {IMDS_DISABLED_VAR}=true turns the EC2 instance profile off \
             and IRSA is not configured ({TOKEN_FILE_VAR} and {ROLE_ARN_VAR} are not set): \
             give the pod's service account the eks.amazonaws.com/role-arn annotation, or use \
             static keys"
        )
    } else if connector.is_some_and(ConnectorError::is_timeout)
        || chain.to_ascii_lowercase().contains("timeout")
    {
        format!(
            "the EC2 instance metadata service at {endpoint} did not answer the IMDSv2 token \
             request within {IMDS_READ_TIMEOUT:?}: {HOP_LIMIT_HINT} (aws ec2 \
             modify-instance-metadata-options --http-put-response-hop-limit 2 --http-tokens \
             required, and in the node group's launch template)"
        )
    } else if connector.is_some() {
        format!(
            "cannot connect to the EC2 instance metadata service at {endpoint}: not running on \
             EC2, or the instance metadata service is off. Use IRSA (the \
             eks.amazonaws.com/role-arn annotation on the pod's service account) or static keys"
        )
    } else if chain.contains("404") {
        format!(
            "the EC2 instance at {endpoint} has no IAM role (instance profile): attach a role \
             with the S3 policy to the node group, or use IRSA"
        )
    } else {
        format!(
            "the EC2 instance metadata service at {endpoint} gave no credentials ({chain}): \
             check the node's instance profile, or use IRSA"
        )
    }
}

/// A credential failure: its cause and fix, and the provider's error.
#[derive(Debug)]
struct CredentialFailure {
    hint: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl fmt::Display for CredentialFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hint)
    }
}

impl StdError for CredentialFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

fn failure(hint: String, source: Option<Box<dyn StdError + Send + Sync>>) -> CredentialsError {
    CredentialsError::provider_error(CredentialFailure { hint, source })
}

/// The hint of a credential failure somewhere in `err`'s chain (an S3 call whose
/// credentials could not be loaded).
pub(crate) fn failure_hint(err: &(dyn StdError + 'static)) -> Option<String> {
    find::<CredentialFailure>(err).map(|f| f.hint.clone())
}

fn find<'e, T: StdError + 'static>(err: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// What STS answered: its error code and message when it sent them, else the error chain
/// (never the token: requests are not part of errors).
fn answer(err: &CredentialsError) -> String {
    match find::<ErrorMetadata>(err) {
        Some(meta) if meta.code().is_some() => {
            let code = meta.code().unwrap_or_default();
            match meta.message() {
                Some(message) => format!("{code}: {message}"),
                None => code.to_owned(),
            }
        }
        // Skip the provider's generic "an error occurred while loading credentials".
        _ => display_chain(err.source().unwrap_or(err)),
    }
}

/// The `Display` of every error in the chain, joined by `: ` (no `Debug` dumps).
fn display_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}

/// An HTTP client that sends every request to `endpoint` (scheme, host and port), keeping
/// the path and query.
fn redirect(http: SharedHttpClient, endpoint: &str) -> SharedHttpClient {
    let base: std::sync::Arc<str> = endpoint.trim_end_matches('/').into();
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Redirect {
            inner: http.http_connector(settings, components),
            base: base.clone(),
        })
    })
}

#[derive(Debug)]
struct Redirect {
    inner: SharedHttpConnector,
    base: std::sync::Arc<str>,
}

impl HttpConnector for Redirect {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let uri = request.uri();
        let after_scheme = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        let path = after_scheme
            .find('/')
            .map_or("/", |start| &after_scheme[start..]);
        let target = format!("{}{path}", self.base);
        if let Err(e) = request.set_uri(target) {
            return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into())));
        }
        self.inner.call(request)
    }
}

fn default_session_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("symstore-{millis}")
}

fn imds_disabled() -> bool {
    env(IMDS_DISABLED_VAR).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
