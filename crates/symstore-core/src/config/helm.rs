//! Operators' Helm values: the `storage:` block, read exactly as the operators' guide documents
//! it, and mapped to a [`StoreConfig`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::load::{ConfigForm, LoadedConfig};
use super::validate::{self, FieldPaths, Findings};
use super::{GcsConfig, IamMode, MinioConfig, S3Config, StoreConfig};
use crate::error::ConfigIssue;
use crate::{ConfigError, Secret};

/// The `storage:` block of operators' Helm values.
///
/// Every key the operators' guide documents is accepted, and nothing else (an unknown key is
/// reported with its full path):
///
/// ```yaml
/// storage:
///   mode: use_existing            # or: create
///   use_existing:
///     type: minio                 # minio | s3 | gcs
///     minio: { endpoint: "", user: "", password: "" }
///     s3: { region: "", accessKey: "", secretKey: "", useIAM: "", serviceAccount: "", endpoint: "" }
///     gcs: { endpoint: "", accessKey: "", secretKey: "" }
///   create:
///     image: { repository: minio/minio, tag: "..." }
///     config: { user: minio, password: minio123 }
///     service: { api: { port: 9000 }, console: { port: 9001 } }
///     replicas: 1
///     resources: { requests: { cpu: 200m, memory: 512Mi }, limits: { cpu: 1000m, memory: 1Gi } }
///     storage: { type: persistent, size: 20Gi, className: "" }
///     endpoint: ""                # optional: the URL under which the chart's MinIO is reachable
///   buckets:
///     symbols: zymtrace-symdb
/// ```
///
/// Only the section that `mode` (and `use_existing.type`) selects is read, so a values file
/// that keeps placeholders for every backend is fine. Empty strings mean unset. The mapping:
///
/// * `use_existing` + `minio` → [`StoreConfig::Minio`]: `user` is the access key, `password`
///   the secret key.
/// * `use_existing` + `s3` → [`StoreConfig::S3`]: `useIAM: "aws"` selects the AWS default
///   credential chain ([`IamMode::Aws`]); `serviceAccount` is kept for reporting.
/// * `use_existing` + `gcs` → [`StoreConfig::Gcs`] (HMAC keys, XML API).
/// * `create` → [`StoreConfig::Minio`] with `create_bucket = true`, the access key
///   `create.config.user` and the secret `create.config.password`. The endpoint is
///   `create.endpoint` when set, else `http://minio:<port>` where `<port>` is
///   `create.service.api.port`, or 9000 when that is unset
///   ([`HelmValues::DEFAULT_CREATE_HOST`], [`HelmValues::DEFAULT_CREATE_API_PORT`]). No
///   plain-HTTP warning is given for that default: the chart's MinIO serves plain HTTP inside
///   the cluster.
/// * `buckets.symbols` is the bucket, required in every mode.
///
/// ```
/// use symstore_core::config::{HelmValues, StoreConfig};
///
/// let values: HelmValues = serde_saphyr::from_str(
///     "mode: use_existing\n\
///      use_existing:\n  type: s3\n  s3: { region: us-west-2, useIAM: \"aws\" }\n\
///      buckets: { symbols: zymtrace-symdb }\n",
/// )
/// .expect("valid YAML");
/// let loaded = values.to_config()?;
/// assert!(matches!(loaded.config, StoreConfig::S3(_)));
/// # Ok::<(), symstore_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HelmValues {
    mode: Option<String>,
    use_existing: Option<UseExisting>,
    create: Option<Create>,
    buckets: Option<Buckets>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct UseExisting {
    #[serde(rename = "type")]
    kind: Option<String>,
    minio: Option<HelmMinio>,
    s3: Option<HelmS3>,
    gcs: Option<HelmGcs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct HelmMinio {
    endpoint: Option<String>,
    user: Option<String>,
    password: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct HelmS3 {
    region: Option<String>,
    access_key: Option<String>,
    secret_key: Option<Secret>,
    #[serde(rename = "useIAM")]
    use_iam: Option<String>,
    service_account: Option<String>,
    endpoint: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct HelmGcs {
    endpoint: Option<String>,
    access_key: Option<String>,
    secret_key: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Create {
    /// The chart's MinIO image; used by the chart only.
    #[allow(dead_code)]
    image: Option<Image>,
    config: Option<CreateCredentials>,
    service: Option<Service>,
    replicas: Option<u32>,
    /// The chart's MinIO resources; used by the chart only.
    #[allow(dead_code)]
    resources: Option<Resources>,
    /// The chart's MinIO volume; used by the chart only.
    #[allow(dead_code)]
    storage: Option<CreateStorage>,
    endpoint: Option<String>,
}

/// The chart's MinIO image; parsed so that typos are reported, used by the chart only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(dead_code)]
struct Image {
    repository: Option<String>,
    tag: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CreateCredentials {
    user: Option<String>,
    password: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Service {
    api: Option<ServicePort>,
    /// The MinIO console; used by the chart only.
    #[allow(dead_code)]
    console: Option<ServicePort>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ServicePort {
    port: Option<u16>,
}

/// Kubernetes resource requests and limits (`cpu: 200m`, `memory: 1Gi`, ...); used by the
/// chart only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(dead_code)]
struct Resources {
    requests: Option<BTreeMap<String, Quantity>>,
    limits: Option<BTreeMap<String, Quantity>>,
}

/// The chart's MinIO volume; used by the chart only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct CreateStorage {
    #[serde(rename = "type")]
    kind: Option<String>,
    size: Option<Quantity>,
    class_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Buckets {
    symbols: Option<String>,
}

/// A Kubernetes quantity, written as a string (`20Gi`, `200m`) or a number (`1`, `0.5`).
#[derive(Debug, Clone, Default)]
#[allow(dead_code)]
struct Quantity(String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;
        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kubernetes quantity such as 20Gi, 200m or 1")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// A whole Helm values file: only `storage:` is read, every other top-level key is ignored.
#[derive(Debug, Deserialize)]
pub(super) struct HelmDocument {
    #[serde(default)]
    pub(super) storage: Option<HelmValues>,
}

const MODE: &str = "storage.mode";
const TYPE: &str = "storage.use_existing.type";
const BUCKET: &str = "storage.buckets.symbols";

impl HelmValues {
    /// The host of the chart-deployed MinIO when `create.endpoint` is unset: the endpoint is
    /// then `http://minio:<create.service.api.port>`.
    ///
    /// ```
    /// use symstore_core::config::HelmValues;
    /// assert_eq!(HelmValues::DEFAULT_CREATE_HOST, "minio");
    /// ```
    pub const DEFAULT_CREATE_HOST: &'static str = "minio";

    /// The MinIO API port used in create mode when `create.service.api.port` is unset.
    ///
    /// ```
    /// use symstore_core::config::HelmValues;
    /// assert_eq!(HelmValues::DEFAULT_CREATE_API_PORT, 9000);
    /// ```
    pub const DEFAULT_CREATE_API_PORT: u16 = 9000;

    /// Maps these values to a validated [`StoreConfig`], reporting every problem with its full
    /// path (`storage.use_existing.minio.endpoint`, `storage.buckets.symbols`, ...).
    ///
    /// ```
    /// use symstore_core::config::{HelmValues, StoreConfig};
    ///
    /// let values: HelmValues = serde_saphyr::from_str(
    ///     "mode: create\ncreate: { config: { user: minio, password: minio123 } }\n\
    ///      buckets: { symbols: zymtrace-symdb }\n",
    /// )
    /// .expect("valid YAML");
    /// let StoreConfig::Minio(minio) = values.to_config()?.config else { unreachable!() };
    /// assert_eq!(minio.endpoint, "http://minio:9000");
    /// assert!(minio.create_bucket);
    ///
    /// let empty: HelmValues = serde_saphyr::from_str("mode: use_existing\n").expect("valid YAML");
    /// let err = empty.to_config().unwrap_err();
    /// assert!(err.names("storage.use_existing.type") && err.names("storage.buckets.symbols"));
    /// # Ok::<(), symstore_core::ConfigError>(())
    /// ```
    pub fn to_config(&self) -> Result<LoadedConfig, ConfigError> {
        let bucket = text(self.buckets.as_ref().and_then(|b| b.symbols.as_ref()))
            .unwrap_or_default()
            .to_owned();
        let mut early = Vec::new();
        let mapped = match text(self.mode.as_ref()) {
            Some("use_existing") => self.use_existing(bucket.clone(), &mut early),
            Some("create") => Some(self.create(bucket.clone(), &mut early)),
            Some(other) => {
                early.push(issue(
                    MODE,
                    format!(
                        "must be use_existing (connect to an existing MinIO, AWS S3 or GCS) or \
                         create (the chart deploys MinIO), got {other:?}"
                    ),
                ));
                None
            }
            None => {
                early.push(issue(
                    MODE,
                    "is empty: set use_existing (connect to an existing MinIO, AWS S3 or GCS) \
                     or create (the chart deploys MinIO)",
                ));
                None
            }
        };
        let Some(Mapped {
            config,
            paths,
            default_endpoint,
        }) = mapped
        else {
            let mut findings = Findings::default();
            validate::check_bucket(&bucket, BUCKET, false, &mut findings);
            early.extend(findings.errors);
            return Err(ConfigError { issues: early });
        };
        let mut findings = validate::validate(&config, &paths);
        if default_endpoint {
            let endpoint = paths.path("endpoint");
            findings.warnings.retain(|w| w.path != endpoint);
        }
        early.append(&mut findings.errors);
        findings.errors = early;
        let warnings = findings.into_result()?;
        Ok(LoadedConfig {
            config,
            form: ConfigForm::Helm,
            warnings,
        })
    }

    fn use_existing(&self, bucket: String, issues: &mut Vec<ConfigIssue>) -> Option<Mapped> {
        let existing = self.use_existing.clone().unwrap_or_default();
        match text(existing.kind.as_ref()) {
            Some("minio") => Some(minio(existing.minio.unwrap_or_default(), bucket)),
            Some("s3") => Some(s3(existing.s3.unwrap_or_default(), bucket, issues)),
            Some("gcs") => Some(gcs(existing.gcs.unwrap_or_default(), bucket)),
            Some(other) => {
                issues.push(issue(
                    TYPE,
                    format!("must be minio, s3 or gcs, got {other:?}"),
                ));
                None
            }
            None => {
                issues.push(issue(
                    TYPE,
                    "is empty: set minio, s3 or gcs, and fill in the section of that name",
                ));
                None
            }
        }
    }

    fn create(&self, bucket: String, issues: &mut Vec<ConfigIssue>) -> Mapped {
        let create = self.create.clone().unwrap_or_default();
        let credentials = create.config.unwrap_or_default();
        if create.replicas == Some(0) {
            issues.push(issue(
                "storage.create.replicas",
                "must be at least 1: the chart's MinIO must run for symbols to be stored",
            ));
        }
        let port = match create.service.and_then(|s| s.api).and_then(|api| api.port) {
            Some(0) => {
                issues.push(issue(
                    "storage.create.service.api.port",
                    "must be a TCP port from 1 to 65535, e.g. 9000",
                ));
                Self::DEFAULT_CREATE_API_PORT
            }
            Some(port) => port,
            None => Self::DEFAULT_CREATE_API_PORT,
        };
        let (endpoint, default_endpoint) = match text(create.endpoint.as_ref()) {
            Some(endpoint) => (endpoint.to_owned(), false),
            None => (format!("http://{}:{port}", Self::DEFAULT_CREATE_HOST), true),
        };
        let config = MinioConfig {
            endpoint,
            access_key: text(credentials.user.as_ref())
                .unwrap_or_default()
                .to_owned(),
            secret_key: credentials.password.unwrap_or_default(),
            bucket,
            create_bucket: true,
            ..MinioConfig::default()
        };
        Mapped {
            config: StoreConfig::Minio(config),
            paths: FieldPaths::with_prefix("storage.create")
                .map("access_key", "storage.create.config.user")
                .map("secret_key", "storage.create.config.password")
                .map("bucket", BUCKET),
            default_endpoint,
        }
    }
}

/// A Helm section mapped to a config, with the paths to report its fields under.
struct Mapped {
    config: StoreConfig,
    paths: FieldPaths,
    /// The endpoint is the documented default, not the operator's.
    default_endpoint: bool,
}

fn minio(values: HelmMinio, bucket: String) -> Mapped {
    let config = MinioConfig {
        endpoint: text(values.endpoint.as_ref())
            .unwrap_or_default()
            .to_owned(),
        access_key: text(values.user.as_ref()).unwrap_or_default().to_owned(),
        secret_key: values.password.unwrap_or_default(),
        bucket,
        ..MinioConfig::default()
    };
    Mapped {
        config: StoreConfig::Minio(config),
        paths: FieldPaths::with_prefix("storage.use_existing.minio")
            .map("access_key", "storage.use_existing.minio.user")
            .map("secret_key", "storage.use_existing.minio.password")
            .map("bucket", BUCKET),
        default_endpoint: false,
    }
}

fn s3(values: HelmS3, bucket: String, issues: &mut Vec<ConfigIssue>) -> Mapped {
    const USE_IAM: &str = "storage.use_existing.s3.useIAM";
    let use_iam = match text(values.use_iam.as_ref()) {
        None => None,
        Some(mode) if mode.eq_ignore_ascii_case("aws") => Some(IamMode::Aws),
        Some(other) => {
            issues.push(issue(
                USE_IAM,
                format!(
                    "must be \"aws\" (the AWS default credential chain: IRSA, then the EC2 \
                     instance profile) or empty to sign with accessKey/secretKey, got {other:?}"
                ),
            ));
            None
        }
    };
    let owned = |v: Option<&String>| text(v).map(str::to_owned);
    let config = S3Config {
        region: owned(values.region.as_ref()),
        bucket,
        access_key: owned(values.access_key.as_ref()),
        secret_key: values.secret_key.filter(|s| !s.is_empty()),
        use_iam,
        service_account: owned(values.service_account.as_ref()),
        endpoint: owned(values.endpoint.as_ref()),
        ..S3Config::default()
    };
    Mapped {
        config: StoreConfig::S3(config),
        paths: FieldPaths::with_prefix("storage.use_existing.s3")
            .map("access_key", "storage.use_existing.s3.accessKey")
            .map("secret_key", "storage.use_existing.s3.secretKey")
            .map("use_iam", USE_IAM)
            .map("service_account", "storage.use_existing.s3.serviceAccount")
            .map("bucket", BUCKET),
        default_endpoint: false,
    }
}

fn gcs(values: HelmGcs, bucket: String) -> Mapped {
    let config = GcsConfig {
        endpoint: text(values.endpoint.as_ref()).map(str::to_owned),
        access_key: text(values.access_key.as_ref())
            .unwrap_or_default()
            .to_owned(),
        secret_key: values.secret_key.unwrap_or_default(),
        bucket,
        ..GcsConfig::default()
    };
    Mapped {
        config: StoreConfig::Gcs(config),
        paths: FieldPaths::with_prefix("storage.use_existing.gcs")
            .map("access_key", "storage.use_existing.gcs.accessKey")
            .map("secret_key", "storage.use_existing.gcs.secretKey")
            .map("bucket", BUCKET),
        default_endpoint: false,
    }
}

/// The trimmed value unless it is unset, empty or whitespace.
fn text(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn issue(path: &str, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        path: path.to_owned(),
        message: message.into(),
    }
}
