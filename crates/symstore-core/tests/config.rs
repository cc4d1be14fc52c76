//! Configuration: both YAML forms, the operators' Helm fixtures, validation and secrecy.

use std::path::Path;
use std::time::Duration;

use symstore_core::config::{
    AwsCredentialSource, ConfigForm, FilesystemConfig, GcsConfig, HelmValues, IamMode,
    LoadedConfig, MinioConfig, S3Config, StoreConfig, UploadOptions, load_yaml, load_yaml_file,
};
use symstore_core::{ConfigError, Secret};

macro_rules! fixture {
    ($name:literal) => {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/helm/",
            $name
        )
    };
}

/// Every Helm fixture with the secret values it contains.
const FIXTURES: &[(&str, &[&str])] = &[
    (fixture!("minio-use-existing.yaml"), &[]),
    (fixture!("minio-dev.yaml"), &["dev-secret-key"]),
    (fixture!("s3-irsa.yaml"), &[]),
    (fixture!("s3-node-profile.yaml"), &[]),
    (fixture!("s3-static-placeholders.yaml"), &[]),
    (fixture!("s3-static.yaml"), &["..."]),
    (fixture!("gcs-placeholders.yaml"), &[]),
    (
        fixture!("gcs-service-account-key.yaml"),
        &["-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"],
    ),
    (fixture!("create-minio.yaml"), &["minio123"]),
];

fn load_fixture(path: &str) -> Result<LoadedConfig, ConfigError> {
    load_yaml_file(Path::new(path))
}

fn expect_ok(path: &str) -> LoadedConfig {
    match load_fixture(path) {
        Ok(loaded) => loaded,
        Err(err) => panic!("{path} should load, got: {err}"),
    }
}

fn expect_err(text: &str) -> ConfigError {
    match load_yaml(text) {
        Ok(loaded) => panic!("expected a config error, got {loaded:?}"),
        Err(err) => err,
    }
}

/// The message of the issue at `path`.
fn issue_at<'a>(err: &'a ConfigError, path: &str) -> &'a str {
    match err.issues.iter().find(|issue| issue.path == path) {
        Some(issue) => &issue.message,
        None => panic!("no issue at {path} in: {err}"),
    }
}

fn as_minio(loaded: &LoadedConfig) -> &MinioConfig {
    match &loaded.config {
        StoreConfig::Minio(minio) => minio,
        other => panic!("expected MinIO, got {other:?}"),
    }
}

fn as_s3(loaded: &LoadedConfig) -> &S3Config {
    match &loaded.config {
        StoreConfig::S3(s3) => s3,
        other => panic!("expected S3, got {other:?}"),
    }
}

fn as_gcs(loaded: &LoadedConfig) -> &GcsConfig {
    match &loaded.config {
        StoreConfig::Gcs(gcs) => gcs,
        other => panic!("expected GCS, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The nine Helm fixtures, as tests/fixtures/helm/README.md lists them.

#[test]
fn minio_use_existing_placeholders_name_endpoint_user_and_password_as_empty() {
    let err = load_fixture(fixture!("minio-use-existing.yaml")).unwrap_err();
    for path in [
        "storage.use_existing.minio.endpoint",
        "storage.use_existing.minio.user",
        "storage.use_existing.minio.password",
    ] {
        assert!(issue_at(&err, path).starts_with("is empty"), "{err}");
    }
    assert_eq!(err.issues.len(), 3, "{err}");
}

#[test]
fn minio_dev_loads_the_endpoint_and_bucket_and_warns_that_it_is_plain_http() {
    let loaded = expect_ok(fixture!("minio-dev.yaml"));
    assert_eq!(loaded.form, ConfigForm::Helm);
    let minio = as_minio(&loaded);
    assert_eq!(minio.endpoint, "http://minio.dev.company.com:9000");
    assert_eq!(minio.bucket, "zymtrace-symdb-dev");
    assert_eq!(minio.access_key, "dev-access-key");
    assert_eq!(minio.secret_key.expose(), "dev-secret-key");
    assert!(!minio.create_bucket);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let warning = &loaded.warnings[0];
    assert_eq!(warning.path, "storage.use_existing.minio.endpoint");
    assert!(warning.message.contains("unencrypted"), "{warning}");
    assert!(warning.message.contains("use https://"), "{warning}");
}

#[test]
fn s3_irsa_uses_the_aws_default_chain_in_us_west_2_and_keeps_the_service_account() {
    let loaded = expect_ok(fixture!("s3-irsa.yaml"));
    let s3 = as_s3(&loaded);
    assert_eq!(s3.region.as_deref(), Some("us-west-2"));
    assert_eq!(s3.use_iam, Some(IamMode::Aws));
    assert_eq!(
        s3.credential_source(),
        Some(AwsCredentialSource::DefaultChain)
    );
    assert_eq!(s3.service_account.as_deref(), Some("zymtrace-s3-sa"));
    assert_eq!(s3.bucket, "your-bucket-name");
    assert_eq!(s3.endpoint, None);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn s3_node_profile_uses_the_aws_default_chain_in_us_west_2_without_a_service_account() {
    let loaded = expect_ok(fixture!("s3-node-profile.yaml"));
    let s3 = as_s3(&loaded);
    assert_eq!(s3.region.as_deref(), Some("us-west-2"));
    assert_eq!(
        s3.credential_source(),
        Some(AwsCredentialSource::DefaultChain)
    );
    assert_eq!(s3.service_account, None);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn s3_static_placeholders_name_region_access_key_and_secret_key_and_offer_use_iam() {
    let err = load_fixture(fixture!("s3-static-placeholders.yaml")).unwrap_err();
    assert_eq!(
        issue_at(&err, "storage.use_existing.s3.region"),
        "is empty: set storage.use_existing.s3.region, e.g. us-west-2 (the AWS region of the bucket)"
    );
    for path in [
        "storage.use_existing.s3.accessKey",
        "storage.use_existing.s3.secretKey",
    ] {
        let message = issue_at(&err, path);
        assert!(message.starts_with("is empty"), "{message}");
        assert!(message.contains("useIAM: \"aws\""), "{message}");
    }
    assert_eq!(err.issues.len(), 3, "{err}");
}

#[test]
fn s3_static_uses_static_keys_in_us_west_2_and_never_prints_the_secret() {
    let loaded = expect_ok(fixture!("s3-static.yaml"));
    let s3 = as_s3(&loaded);
    assert_eq!(s3.region.as_deref(), Some("us-west-2"));
    assert_eq!(s3.bucket, "zymtrace-symdb-prod");
    assert_eq!(
        s3.credential_source(),
        Some(AwsCredentialSource::Static {
            access_key: "AKIA...".into(),
            secret_key: Secret::new("..."),
        })
    );
    let printed = format!("{loaded:?} {:?}", s3.credential_source());
    assert!(!printed.contains("\"...\""), "{printed}");
    assert!(printed.contains("***"), "{printed}");
}

#[test]
fn gcs_placeholders_name_access_key_and_secret_key_as_empty() {
    let err = load_fixture(fixture!("gcs-placeholders.yaml")).unwrap_err();
    for path in [
        "storage.use_existing.gcs.accessKey",
        "storage.use_existing.gcs.secretKey",
    ] {
        assert!(issue_at(&err, path).starts_with("is empty"), "{err}");
    }
    assert_eq!(err.issues.len(), 2, "{err}");
}

#[test]
fn gcs_service_account_key_is_rejected_and_says_how_to_create_hmac_keys() {
    let err = load_fixture(fixture!("gcs-service-account-key.yaml")).unwrap_err();
    let access = issue_at(&err, "storage.use_existing.gcs.accessKey");
    assert!(access.contains("service-account e-mail"), "{access}");
    assert!(access.contains("not an HMAC access id"), "{access}");
    assert!(
        access.contains("gcloud storage hmac create SERVICE_ACCOUNT_EMAIL"),
        "{access}"
    );
    let secret = issue_at(&err, "storage.use_existing.gcs.secretKey");
    assert!(secret.contains("PEM private key"), "{secret}");
    assert!(secret.contains("not an HMAC secret"), "{secret}");
    assert!(secret.contains("gcloud storage hmac create"), "{secret}");
    assert!(
        secret
            .contains("gcloud storage hmac create service-account@project.iam.gserviceaccount.com"),
        "{secret}"
    );
}

#[test]
fn create_minio_connects_to_the_chart_minio_on_port_9000_and_creates_the_bucket() {
    let loaded = expect_ok(fixture!("create-minio.yaml"));
    assert_eq!(loaded.form, ConfigForm::Helm);
    let minio = as_minio(&loaded);
    assert_eq!(minio.access_key, "minio");
    assert_eq!(minio.secret_key.expose(), "minio123");
    assert_eq!(minio.endpoint, "http://minio:9000");
    assert_eq!(
        minio.endpoint,
        format!(
            "http://{}:{}",
            HelmValues::DEFAULT_CREATE_HOST,
            HelmValues::DEFAULT_CREATE_API_PORT
        )
    );
    assert!(minio.create_bucket);
    assert_eq!(minio.bucket, "zymtrace-symdb");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

// ---------------------------------------------------------------------------------------------
// Create mode details.

const CREATE: &str = "storage:
  mode: create
  create:
    config: { user: admin, password: pw-create-1234 }
    service: { api: { port: 9100 } }
    endpoint: ENDPOINT
  buckets: { symbols: zymtrace-symdb }
";

#[test]
fn create_mode_connects_to_create_endpoint_when_it_is_set() {
    let loaded = load_yaml(&CREATE.replace("ENDPOINT", "https://minio.ns.svc:9100")).unwrap();
    assert_eq!(as_minio(&loaded).endpoint, "https://minio.ns.svc:9100");
}

#[test]
fn create_mode_default_endpoint_follows_the_service_api_port() {
    let loaded = load_yaml(&CREATE.replace("ENDPOINT", "\"\"")).unwrap();
    assert_eq!(as_minio(&loaded).endpoint, "http://minio:9100");
    assert!(loaded.warnings.is_empty());
}

#[test]
fn create_mode_with_an_explicit_plain_http_endpoint_warns() {
    let loaded = load_yaml(&CREATE.replace("ENDPOINT", "http://minio.example.com:9100")).unwrap();
    assert_eq!(loaded.warnings[0].path, "storage.create.endpoint");
}

#[test]
fn create_mode_without_credentials_names_create_config_user_and_password() {
    let err = expect_err(
        "storage:\n  mode: create\n  create: { config: { user: \"\", password: \"\" } }\n  \
         buckets: { symbols: zymtrace-symdb }\n",
    );
    assert!(err.names("storage.create.config.user"), "{err}");
    assert!(err.names("storage.create.config.password"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Helm values: other rules.

#[test]
fn helm_values_without_bucket_name_storage_buckets_symbols() {
    for buckets in ["", "  buckets: { symbols: \"\" }\n"] {
        let err = expect_err(&format!(
            "storage:\n  mode: use_existing\n  use_existing:\n    type: s3\n    \
             s3: {{ region: us-west-2, useIAM: aws }}\n{buckets}"
        ));
        assert_eq!(err.issues.len(), 1, "{err}");
        assert!(
            issue_at(&err, "storage.buckets.symbols").starts_with("is empty"),
            "{err}"
        );
    }
}

#[test]
fn helm_values_full_file_ignores_other_top_level_keys() {
    let text = format!(
        "global: {{ imageTag: 1.2.3 }}\npostgres:\n  mode: aws_aurora\n  whatever: [1, 2]\n{}",
        std::fs::read_to_string(fixture!("s3-irsa.yaml")).unwrap()
    );
    let loaded = load_yaml(&text).unwrap();
    assert_eq!(loaded.form, ConfigForm::Helm);
    assert_eq!(as_s3(&loaded).region.as_deref(), Some("us-west-2"));
}

#[test]
fn helm_values_read_only_the_selected_backend_section() {
    let loaded = load_yaml(
        "storage:
  mode: use_existing
  use_existing:
    type: gcs
    minio: { endpoint: \"\", user: \"\", password: \"\" }
    s3: { region: \"\", accessKey: \"\", secretKey: \"\", useIAM: \"\", serviceAccount: \"\" }
    gcs: { endpoint: \"\", accessKey: GOOG1EXAMPLE, secretKey: hmac-secret-value }
  create: { config: { user: \"\", password: \"\" } }
  buckets: { symbols: zymtrace-symdb }
",
    )
    .unwrap();
    let gcs = as_gcs(&loaded);
    assert_eq!(gcs.endpoint, None);
    assert_eq!(gcs.endpoint_or_default(), "https://storage.googleapis.com");
    assert_eq!(gcs.access_key, "GOOG1EXAMPLE");
}

#[test]
fn helm_s3_accepts_an_endpoint_override_and_both_credential_kinds_are_rejected_together() {
    let loaded = load_yaml(
        "storage:\n  mode: use_existing\n  use_existing:\n    type: s3\n    s3:\n      \
         region: eu-central-1\n      accessKey: AKIAEXAMPLE\n      secretKey: s3-secret-value\n      \
         endpoint: https://s3.example.com\n  buckets: { symbols: zymtrace-symdb }\n",
    )
    .unwrap();
    assert_eq!(
        as_s3(&loaded).endpoint.as_deref(),
        Some("https://s3.example.com")
    );

    let err = expect_err(
        "storage:\n  mode: use_existing\n  use_existing:\n    type: s3\n    s3:\n      \
         region: eu-central-1\n      accessKey: AKIAEXAMPLE\n      secretKey: s3-secret-value\n      \
         useIAM: aws\n  buckets: { symbols: zymtrace-symdb }\n",
    );
    let message = issue_at(&err, "storage.use_existing.s3.useIAM");
    assert!(message.contains("pick one"), "{message}");
    assert!(!err.to_string().contains("s3-secret-value"));
}

#[test]
fn helm_use_iam_other_than_aws_is_rejected() {
    let err = expect_err(
        "storage:\n  mode: use_existing\n  use_existing:\n    type: s3\n    \
         s3: { region: us-west-2, useIAM: gcp }\n  buckets: { symbols: zymtrace-symdb }\n",
    );
    assert!(
        issue_at(&err, "storage.use_existing.s3.useIAM").contains("must be \"aws\""),
        "{err}"
    );
}

#[test]
fn helm_mode_and_type_must_be_known_values() {
    let err = expect_err("storage:\n  mode: external\n  buckets: { symbols: zymtrace-symdb }\n");
    assert!(
        issue_at(&err, "storage.mode").contains("use_existing"),
        "{err}"
    );
    let err = expect_err(
        "storage:\n  mode: use_existing\n  use_existing: { type: azure }\n  \
         buckets: { symbols: zymtrace-symdb }\n",
    );
    assert!(issue_at(&err, "storage.use_existing.type").contains("minio, s3 or gcs"));
    let err = expect_err("storage:\n  mode: \"\"\n");
    assert!(
        err.names("storage.mode") && err.names("storage.buckets.symbols"),
        "{err}"
    );
}

#[test]
fn helm_minio_endpoint_without_scheme_is_named_with_the_fix() {
    let err = expect_err(
        "storage:\n  mode: use_existing\n  use_existing:\n    type: minio\n    minio:\n      \
         endpoint: minio:9000\n      user: u\n      password: p-secret-value\n  \
         buckets: { symbols: zymtrace-symdb }\n",
    );
    assert_eq!(err.issues.len(), 1, "{err}");
    assert!(err.to_string().contains(
        "storage.use_existing.minio.endpoint: must be a URL with http:// or https://, got \"minio:9000\""
    ));
}

#[test]
fn helm_values_deserialize_the_storage_block_directly() {
    let values: HelmValues = serde_saphyr::from_str(
        "mode: use_existing\nuse_existing:\n  type: minio\n  minio:\n    \
         endpoint: https://minio.example.com\n    user: u\n    password: p\n\
         buckets:\n  symbols: zymtrace-symdb\n",
    )
    .unwrap();
    let loaded = values.to_config().unwrap();
    assert_eq!(as_minio(&loaded).endpoint, "https://minio.example.com");
    assert!(loaded.warnings.is_empty());
}

#[test]
fn a_null_storage_block_is_reported_as_empty() {
    let err = expect_err("storage:\npostgres: {}\n");
    assert!(issue_at(&err, "storage").starts_with("is empty"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The enum form.

#[test]
fn enum_form_minio_loads_every_key() {
    let loaded = load_yaml(
        "type: minio
endpoint: https://minio.example.com
access_key: symstore
secret_key: minio-secret-value
bucket: zymtrace-symdb
region: eu-west-1
create_bucket: true
connection: { connect_timeout: 2s, read_timeout: 1m, ca_file: /etc/ssl/private-ca.pem }
upload: { part_size: 16777216, concurrency: 8, multipart_threshold: 33554432, max_attempts: 6 }
",
    )
    .unwrap();
    assert_eq!(loaded.form, ConfigForm::Enum);
    assert!(loaded.warnings.is_empty());
    let minio = as_minio(&loaded);
    assert_eq!(minio.endpoint, "https://minio.example.com");
    assert_eq!(minio.access_key, "symstore");
    assert_eq!(minio.secret_key.expose(), "minio-secret-value");
    assert_eq!(minio.region.as_deref(), Some("eu-west-1"));
    assert!(minio.create_bucket);
    assert_eq!(minio.connection.connect_timeout, Duration::from_secs(2));
    assert_eq!(minio.connection.read_timeout, Duration::from_secs(60));
    assert_eq!(
        minio.connection.ca_file.as_deref(),
        Some(Path::new("/etc/ssl/private-ca.pem"))
    );
    assert_eq!(minio.upload.part_size, 16 * 1024 * 1024);
    assert_eq!(minio.upload.concurrency, 8);
    assert_eq!(minio.upload.multipart_threshold, 32 * 1024 * 1024);
    assert_eq!(minio.upload.max_attempts, 6);
}

#[test]
fn enum_form_s3_with_static_keys_or_the_default_chain() {
    let loaded = load_yaml(
        "type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\naccess_key: AKIAEXAMPLE\n\
         secret_key: s3-secret-value\n",
    )
    .unwrap();
    assert!(matches!(
        as_s3(&loaded).credential_source(),
        Some(AwsCredentialSource::Static { .. })
    ));
    let loaded = load_yaml(
        "type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\nuse_iam: aws\n\
         service_account: zymtrace-s3-sa\nforce_path_style: true\n",
    )
    .unwrap();
    let s3 = as_s3(&loaded);
    assert_eq!(
        s3.credential_source(),
        Some(AwsCredentialSource::DefaultChain)
    );
    assert_eq!(s3.service_account.as_deref(), Some("zymtrace-s3-sa"));
    assert!(s3.force_path_style);
}

#[test]
fn enum_form_s3_without_credentials_names_both_keys_and_the_use_iam_alternative() {
    let err = expect_err("type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\n");
    for path in ["access_key", "secret_key"] {
        assert!(issue_at(&err, path).contains("use_iam: \"aws\""), "{err}");
    }
    let err = expect_err(
        "type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\naccess_key: AKIAEXAMPLE\n",
    );
    assert!(
        issue_at(&err, "secret_key").contains("while access_key is set"),
        "{err}"
    );
}

#[test]
fn enum_form_s3_with_static_keys_needs_a_region_unless_an_endpoint_is_set() {
    let err = expect_err(
        "type: s3\nbucket: zymtrace-symdb\naccess_key: AKIAEXAMPLE\nsecret_key: s3cr3t\n",
    );
    assert_eq!(
        issue_at(&err, "region"),
        "is empty: set region, e.g. us-west-2 (the AWS region of the bucket)"
    );
    load_yaml(
        "type: s3\nbucket: zymtrace-symdb\naccess_key: AKIAEXAMPLE\nsecret_key: s3cr3t\n\
         endpoint: https://s3.example.com\n",
    )
    .unwrap();
}

#[test]
fn enum_form_s3_under_iam_may_leave_the_region_to_the_instance_metadata() {
    // The backend asks IMDS at open and names `region` when it cannot tell.
    let loaded = load_yaml("type: s3\nbucket: zymtrace-symdb\nuse_iam: aws\n").unwrap();
    assert_eq!(as_s3(&loaded).region, None);
}

#[test]
fn enum_form_gcs_defaults_to_the_xml_api_endpoint() {
    let loaded = load_yaml(
        "type: gcs\naccess_key: GOOG1EXAMPLE\nsecret_key: gcs-hmac-secret\nbucket: zymtrace_symdb\n",
    )
    .unwrap();
    let gcs = as_gcs(&loaded);
    assert_eq!(gcs.endpoint_or_default(), "https://storage.googleapis.com");
    assert_eq!(gcs.bucket, "zymtrace_symdb");
}

#[test]
fn enum_form_filesystem_and_memory() {
    let loaded = load_yaml("type: filesystem\nroot: /var/lib/symstore\n").unwrap();
    match &loaded.config {
        StoreConfig::Filesystem(fs) => assert_eq!(fs.root, Path::new("/var/lib/symstore")),
        other => panic!("{other:?}"),
    }
    let loaded = load_yaml("type: memory\n").unwrap();
    assert!(matches!(loaded.config, StoreConfig::Memory(_)));
    let err = expect_err("type: filesystem\nroot: \"  \"\n");
    assert!(issue_at(&err, "root").starts_with("is empty"), "{err}");
}

#[test]
fn enum_form_reports_every_problem_at_once() {
    let err = expect_err(
        "type: minio\nendpoint: minio:9000\nbucket: Symbols_Bucket\n\
         upload: { part_size: 1024, concurrency: 0, max_attempts: 0 }\n",
    );
    let paths: Vec<&str> = err.issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "endpoint",
            "access_key",
            "secret_key",
            "bucket",
            "upload.part_size",
            "upload.concurrency",
            "upload.max_attempts"
        ],
        "{err}"
    );
    assert_eq!(
        issue_at(&err, "endpoint"),
        "must be a URL with http:// or https://, got \"minio:9000\"; write e.g. \"https://minio:9000\""
    );
    assert!(
        issue_at(&err, "bucket").contains("3 to 63 lowercase letters, digits, dots and hyphens")
    );
    assert!(issue_at(&err, "upload.part_size").contains("at least 5 MiB"));
    assert!(
        err.to_string()
            .starts_with("invalid configuration (7 problems):")
    );
}

#[test]
fn upload_part_size_must_be_at_most_5_gib() {
    let err = expect_err(
        "type: minio\nendpoint: https://m.example.com\naccess_key: a\nsecret_key: b\n\
         bucket: zymtrace-symdb\nupload: { part_size: 5368709121 }\n",
    );
    assert!(
        issue_at(&err, "upload.part_size").contains("at most 5 GiB"),
        "{err}"
    );
}

#[test]
fn plain_http_to_loopback_is_not_warned_about() {
    for endpoint in [
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "http://[::1]:9000",
    ] {
        let loaded = load_yaml(&format!(
            "type: minio\nendpoint: \"{endpoint}\"\naccess_key: a\nsecret_key: b\nbucket: zymtrace-symdb\n"
        ))
        .unwrap();
        assert!(
            loaded.warnings.is_empty(),
            "{endpoint}: {:?}",
            loaded.warnings
        );
    }
}

#[test]
fn an_unknown_backend_type_is_named_with_the_valid_ones() {
    let err = expect_err("type: azure\n");
    assert_eq!(
        issue_at(&err, "type"),
        "unknown backend \"azure\": use one of minio, s3, gcs, filesystem, memory"
    );
    let err = expect_err("type: \"\"\n");
    assert!(issue_at(&err, "type").starts_with("is empty"), "{err}");
}

#[test]
fn a_document_in_neither_form_names_both_accepted_forms() {
    for text in [
        "endpoint: http://x\n",
        "",
        "# nothing\n",
        "- type: minio\n",
        "minio",
    ] {
        let err = expect_err(text);
        let shown = err.to_string();
        assert!(shown.contains("`type:`"), "{text:?}: {shown}");
        assert!(shown.contains("`storage:`"), "{text:?}: {shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// serde-level errors: unknown keys and wrong types name their full path.

#[test]
fn unknown_key_in_the_enum_form_is_reported_with_its_path_and_the_valid_keys() {
    let err = expect_err(
        "type: minio\nendpoint: https://m.example.com\nacess_key: a\nsecret_key: b\nbucket: b-1\n",
    );
    assert_eq!(err.issues.len(), 1, "{err}");
    let message = issue_at(&err, "acess_key");
    assert!(
        message.starts_with("unknown key `acess_key` (line 3, column 1)"),
        "{message}"
    );
    assert!(message.contains("access_key"), "{message}");
    assert!(
        message.contains("remove it or correct its spelling"),
        "{message}"
    );

    let err = expect_err("type: filesystem\nroot: /x\nconnection: { connect_timeout: 1s }\n");
    assert!(
        issue_at(&err, "connection").contains("the only key accepted here is root"),
        "{err}"
    );

    let err = expect_err(
        "type: minio\nendpoint: https://m.example.com\naccess_key: a\nsecret_key: b\n\
         bucket: b-1\nconnection:\n  conect_timeout: 1s\n",
    );
    let message = issue_at(&err, "connection.conect_timeout");
    assert!(
        message.contains("connect_timeout, read_timeout, ca_file"),
        "{message}"
    );
}

#[test]
fn unknown_key_in_helm_values_is_reported_with_its_full_path() {
    let err = expect_err(
        "storage:\n  mode: use_existing\n  use_existing:\n    type: minio\n    minio:\n      \
         endpont: https://m.example.com\n      user: u\n      password: p\n  \
         buckets: { symbols: zymtrace-symdb }\n",
    );
    let message = issue_at(&err, "storage.use_existing.minio.endpont");
    assert!(
        message.starts_with("unknown key `endpont` (line 6, column 7)"),
        "{message}"
    );
    assert!(message.contains("endpoint, user, password"), "{message}");

    let err =
        expect_err("storage:\n  mode: create\n  create:\n    image: { pullPolicy: Always }\n");
    assert!(err.names("storage.create.image.pullPolicy"), "{err}");
    let err = expect_err("storage:\n  mode: create\n  bukets: { symbols: x }\n");
    assert!(
        issue_at(&err, "storage.bukets").contains("buckets"),
        "{err}"
    );
}

#[test]
fn wrong_type_in_helm_values_is_reported_with_its_path_and_position() {
    let text = std::fs::read_to_string(fixture!("create-minio.yaml"))
        .unwrap()
        .replace("replicas: 1", "replicas: many");
    let err = expect_err(&text);
    assert_eq!(err.issues.len(), 1, "{err}");
    let message = issue_at(&err, "storage.create.replicas");
    assert!(message.contains("line 16, column 15"), "{message}");
    assert!(message.contains("write a whole number"), "{message}");

    let err =
        expect_err("storage:\n  mode: create\n  create:\n    service: { api: { port: 70000 } }\n");
    assert!(
        issue_at(&err, "storage.create.service.api.port").contains("0 to 65535"),
        "{err}"
    );
    let err = expect_err("storage:\n  mode: create\n  use_existing: [minio]\n");
    assert!(
        issue_at(&err, "storage.use_existing").contains("mapping"),
        "{err}"
    );
}

#[test]
fn wrong_type_in_the_enum_form_is_reported_with_its_path() {
    let base = "type: minio\nendpoint: https://m.example.com\naccess_key: a\nsecret_key: b\n\
                bucket: zymtrace-symdb\n";
    let err = expect_err(&format!("{base}connection:\n  connect_timeout: 5\n"));
    let message_text = issue_at(&err, "connection.connect_timeout");
    assert!(
        message_text.contains("write a duration such as \"5s\""),
        "{message_text}"
    );
    assert!(message_text.contains("line 7"), "{message_text}");

    let err = expect_err(&format!("{base}upload:\n  concurrency: lots\n"));
    assert!(
        issue_at(&err, "upload.concurrency").contains("whole number"),
        "{err}"
    );
    let err = expect_err(&format!("{base}create_bucket: maybe\n"));
    assert!(
        issue_at(&err, "create_bucket").contains("true or false"),
        "{err}"
    );
    let err = expect_err("type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\nuse_iam: gcp\n");
    assert!(err.names("use_iam"), "{err}");
}

#[test]
fn a_yaml_syntax_error_gives_line_and_column() {
    let err = expect_err("type: minio\nendpoint: {unclosed\n");
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn a_duplicate_key_is_named_with_its_full_path() {
    let err = expect_err("storage:\n  mode: create\n  buckets:\n    symbols: a\n    symbols: b\n");
    assert!(
        issue_at(&err, "storage.buckets.symbols").contains("line 5"),
        "{err}"
    );
}

#[test]
fn durations_are_read_as_humantime() {
    let loaded = load_yaml(
        "type: minio\nendpoint: https://m.example.com\naccess_key: a\nsecret_key: b\n\
         bucket: zymtrace-symdb\nconnection: { connect_timeout: 500ms, read_timeout: 2m }\n",
    )
    .unwrap();
    let connection = &as_minio(&loaded).connection;
    assert_eq!(connection.connect_timeout, Duration::from_millis(500));
    assert_eq!(connection.read_timeout, Duration::from_secs(120));

    let err = expect_err(
        "type: minio\nendpoint: https://m.example.com\naccess_key: a\nsecret_key: b\n\
         bucket: zymtrace-symdb\nconnection: { read_timeout: 0s }\n",
    );
    assert!(
        issue_at(&err, "connection.read_timeout").contains("longer than 0"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// "" means unset.

#[test]
fn empty_and_whitespace_strings_mean_unset_in_the_enum_form() {
    let loaded = load_yaml(
        "type: s3
region: us-west-2
bucket: zymtrace-symdb
access_key: \"\"
secret_key: \"  \"
use_iam: aws
service_account: \"\"
endpoint: \"\"
force_path_style: \"\"
connection: { connect_timeout: \"\", ca_file: \"\" }
upload: { part_size: \"\", concurrency: \" \" }
",
    )
    .unwrap();
    let s3 = as_s3(&loaded);
    assert_eq!(
        s3.credential_source(),
        Some(AwsCredentialSource::DefaultChain)
    );
    assert_eq!(s3.access_key, None);
    assert_eq!(s3.service_account, None);
    assert_eq!(s3.endpoint, None);
    assert_eq!(s3.connection.connect_timeout, Duration::from_secs(5));
    assert_eq!(s3.connection.ca_file, None);
    assert_eq!(s3.upload, UploadOptions::default());

    let loaded = load_yaml(
        "type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\naccess_key: AKIAEXAMPLE\n\
         secret_key: s3-secret-value\nuse_iam: \"\"\n",
    )
    .unwrap();
    assert!(matches!(
        as_s3(&loaded).credential_source(),
        Some(AwsCredentialSource::Static { .. })
    ));

    let err =
        expect_err("type: minio\nendpoint: \" \"\naccess_key: a\nsecret_key: b\nbucket: \"\"\n");
    assert!(issue_at(&err, "endpoint").starts_with("is empty"), "{err}");
    assert!(issue_at(&err, "bucket").starts_with("is empty"), "{err}");
}

#[test]
fn empty_strings_mean_unset_in_helm_values() {
    let loaded = load_yaml(
        "storage:
  mode: use_existing
  use_existing:
    type: s3
    s3: { region: us-west-2, accessKey: AKIAEXAMPLE, secretKey: s3-secret-value, useIAM: \"\", serviceAccount: \" \", endpoint: \"\" }
  create:
    replicas: \"\"
    service: { api: { port: \"\" } }
  buckets: { symbols: zymtrace-symdb }
",
    )
    .unwrap();
    let s3 = as_s3(&loaded);
    assert!(matches!(
        s3.credential_source(),
        Some(AwsCredentialSource::Static { .. })
    ));
    assert_eq!(s3.service_account, None);
    assert_eq!(s3.endpoint, None);
}

// ---------------------------------------------------------------------------------------------
// Configs built in code.

#[test]
fn validate_checks_configs_built_in_code_with_enum_form_paths() {
    let mut minio = MinioConfig::default();
    minio.endpoint = "http://minio.example.com:9000".into();
    minio.access_key = "a".into();
    minio.secret_key = Secret::new("code-secret-value");
    minio.bucket = "zymtrace-symdb".into();
    let warnings = StoreConfig::Minio(minio.clone()).validate().unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].path, "endpoint");

    minio.upload.part_size = 0;
    minio.bucket = "x".into();
    let err = StoreConfig::Minio(minio).validate().unwrap_err();
    assert!(
        err.names("upload.part_size") && err.names("bucket"),
        "{err}"
    );
    assert!(!err.to_string().contains("code-secret-value"));

    let mut s3 = S3Config::default();
    s3.region = Some("us-west-2".into());
    s3.bucket = "zymtrace-symdb".into();
    s3.use_iam = Some(IamMode::Aws);
    s3.access_key = Some("AKIAEXAMPLE".into());
    let err = StoreConfig::S3(s3).validate().unwrap_err();
    assert!(issue_at(&err, "use_iam").contains("pick one"), "{err}");

    assert!(
        StoreConfig::Filesystem(FilesystemConfig::new("/tmp/x"))
            .validate()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn endpoint_credentials_are_rejected_and_never_quoted() {
    let err = expect_err(
        "type: minio\nendpoint: https://user:url-password-123@m.example.com\naccess_key: a\n\
         secret_key: b\nbucket: zymtrace-symdb\n",
    );
    assert!(
        issue_at(&err, "endpoint").contains("must not contain credentials"),
        "{err}"
    );
    let err = expect_err(
        "type: minio\nendpoint: \"minio://user:url-password-123@m:9000\"\naccess_key: a\n\
         secret_key: b\nbucket: zymtrace-symdb\n",
    );
    assert!(err.names("endpoint"), "{err}");
    assert!(!err.to_string().contains("url-password-123"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Secrets never print.

/// Whether `text` shows `secret`: as written, or as a quoted Rust string (which also catches
/// short secrets such as `...` that occur inside other values).
fn shows(text: &str, secret: &str) -> bool {
    text.contains(&format!("{secret:?}"))
        || (secret.len() >= 6 && text.contains(secret))
        || secret
            .lines()
            .filter(|line| line.len() >= 6)
            .any(|line| text.contains(line))
}

fn assert_hidden(outcome: &Result<LoadedConfig, ConfigError>, secrets: &[&str], what: &str) {
    let printed = match outcome {
        Ok(loaded) => format!("{:?}\n{:?}\n{:?}", loaded.config, loaded, loaded.warnings),
        Err(err) => format!("{err}\n{err:?}"),
    };
    for secret in secrets {
        assert!(
            !shows(&printed, secret),
            "{what} prints a secret: {printed}"
        );
    }
}

#[test]
fn no_fixture_prints_its_secrets_in_configs_or_errors() {
    for (path, secrets) in FIXTURES {
        let outcome = load_fixture(path);
        assert_hidden(&outcome, secrets, path);
        if let Ok(loaded) = &outcome {
            let printed = format!("{:?} {:?}", loaded.config, loaded);
            for secret in *secrets {
                assert!(!shows(&printed, secret), "{path}: {printed}");
            }
        }
    }
}

#[test]
fn enum_form_configs_never_print_their_secrets() {
    let secret = "enum-secret-Zq81";
    let cases = [
        format!(
            "type: minio\nendpoint: http://m.example.com\naccess_key: a\nsecret_key: {secret}\nbucket: zymtrace-symdb\n"
        ),
        format!(
            "type: s3\nregion: us-west-2\nbucket: zymtrace-symdb\naccess_key: a\nsecret_key: {secret}\n"
        ),
        format!("type: gcs\naccess_key: GOOG1X\nsecret_key: {secret}\nbucket: zymtrace-symdb\n"),
        // Errors of every kind, with the secret on the neighbouring lines.
        format!("type: minio\nendpoint: minio:9000\nsecret_key: {secret}\nbucket: Bad\n"),
        format!("type: minio\nsecret_key: {secret}\nbogus: 1\n"),
        format!("type: minio\nsecret_key: {secret}\nupload: {{ concurrency: many }}\n"),
        format!("type: minio\nsecret_key: {secret}\nendpoint: {{unclosed\n"),
        format!("type: s3\nsecret_key: {secret}\nuse_iam: aws\n"),
        format!(
            "type: gcs\naccess_key: sa@p.iam.gserviceaccount.com\nsecret_key: \"-----BEGIN {secret}\"\n"
        ),
        format!(
            "storage:\n  mode: use_existing\n  use_existing:\n    type: minio\n    minio:\n      \
             password: {secret}\n      passwrd: x\n"
        ),
    ];
    for text in &cases {
        assert_hidden(&load_yaml(text), &[secret], text);
    }
}
