//! Configuration: one serde enum selects the backend, and an adapter reads operators' Helm
//! values (`storage.mode`, `storage.use_existing...`, `storage.buckets.symbols`) unchanged.
//!
//! ```
//! use symstore_core::config::{load_yaml, StoreConfig};
//! let loaded = load_yaml("type: filesystem\nroot: /var/lib/symstore\n")?;
//! assert!(matches!(loaded.config, StoreConfig::Filesystem(_)));
//! # Ok::<(), symstore_core::ConfigError>(())
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Secret;

mod helm;
mod load;
mod validate;

pub use helm::HelmValues;
pub use load::{ConfigForm, LoadedConfig, load_yaml, load_yaml_file};

/// The region used when a MinIO (or other S3-compatible) config names none.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The endpoint of Google Cloud Storage's S3-compatible XML API.
pub const GCS_DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// Which backend to open, and how.
///
/// Deserialized from YAML with a `type` tag:
///
/// ```yaml
/// type: minio            # minio | s3 | gcs | filesystem | memory
/// endpoint: http://127.0.0.1:9000
/// access_key: symstore
/// secret_key: "..."
/// bucket: zymtrace-symdb
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum StoreConfig {
    /// A MinIO server (or any S3-compatible server with path-style addressing).
    Minio(MinioConfig),
    /// AWS S3, with static keys or the AWS default credential chain (IRSA, instance profile).
    S3(S3Config),
    /// Google Cloud Storage with HMAC keys, through its S3-compatible XML API.
    Gcs(GcsConfig),
    /// The embedded local-filesystem store.
    Filesystem(FilesystemConfig),
    /// An in-memory store (tests, caches); its content is lost when dropped.
    Memory(MemoryConfig),
}

impl StoreConfig {
    /// The backend's name as written in the `type` tag.
    pub fn backend_name(&self) -> &'static str {
        match self {
            StoreConfig::Minio(_) => "minio",
            StoreConfig::S3(_) => "s3",
            StoreConfig::Gcs(_) => "gcs",
            StoreConfig::Filesystem(_) => "filesystem",
            StoreConfig::Memory(_) => "memory",
        }
    }
}

/// A MinIO server.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MinioConfig {
    /// The server's URL, `http://` or `https://` (path-style addressing is used).
    pub endpoint: String,
    /// The access key (MinIO user).
    pub access_key: String,
    /// The secret key (MinIO password).
    pub secret_key: Secret,
    /// The bucket holding the symbols.
    pub bucket: String,
    /// The region to sign for; [`DEFAULT_REGION`] when unset.
    pub region: Option<String>,
    /// Create the bucket when it does not exist.
    pub create_bucket: bool,
    /// Timeouts and TLS.
    pub connection: ConnectionOptions,
    /// Multipart upload tuning.
    pub upload: UploadOptions,
}

/// AWS S3.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket's region, e.g. `us-west-2`.
    pub region: Option<String>,
    /// The bucket holding the symbols.
    pub bucket: String,
    /// A static access key id; leave unset with `use_iam: aws`.
    pub access_key: Option<String>,
    /// A static secret access key; leave unset with `use_iam: aws`.
    pub secret_key: Option<Secret>,
    /// `aws` selects the AWS default credential chain: IRSA web identity when
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` are set, else the EC2 instance
    /// profile over IMDSv2.
    pub use_iam: Option<IamMode>,
    /// The Kubernetes service account bound to the IAM role (IRSA); reported by `check`,
    /// never used to sign.
    pub service_account: Option<String>,
    /// An endpoint override (an S3-compatible server, a VPC endpoint); AWS when unset.
    pub endpoint: Option<String>,
    /// Use path-style addressing (needed by most S3-compatible servers).
    pub force_path_style: bool,
    /// Create the bucket when it does not exist.
    pub create_bucket: bool,
    /// Timeouts and TLS.
    pub connection: ConnectionOptions,
    /// Multipart upload tuning.
    pub upload: UploadOptions,
}

/// How AWS credentials are obtained when no static keys are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum IamMode {
    /// The AWS default chain: web identity (IRSA), then the instance profile (IMDSv2).
    Aws,
}

/// Where an S3 store's credentials come from, as decided by a validated [`S3Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsCredentialSource {
    /// A static access key id and secret.
    Static {
        /// The access key id.
        access_key: String,
        /// The secret access key.
        secret_key: Secret,
    },
    /// The AWS default chain (IRSA web identity, then the EC2 instance profile).
    DefaultChain,
}

impl S3Config {
    /// The credential source this config selects; `None` when it selects none (an invalid
    /// config, which validation reports).
    pub fn credential_source(&self) -> Option<AwsCredentialSource> {
        let access_key = self.access_key.as_deref().filter(|k| !k.trim().is_empty());
        let secret_key = self.secret_key.as_ref().filter(|s| !s.is_empty());
        match (access_key, secret_key, self.use_iam) {
            (Some(access_key), Some(secret_key), _) => Some(AwsCredentialSource::Static {
                access_key: access_key.to_owned(),
                secret_key: secret_key.clone(),
            }),
            (None, None, Some(IamMode::Aws)) => Some(AwsCredentialSource::DefaultChain),
            _ => None,
        }
    }
}

/// Google Cloud Storage with an HMAC key, through the S3-compatible XML API.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GcsConfig {
    /// The XML API endpoint; [`GCS_DEFAULT_ENDPOINT`] when unset.
    pub endpoint: Option<String>,
    /// The HMAC access id (`GOOG1...`).
    pub access_key: String,
    /// The HMAC secret.
    pub secret_key: Secret,
    /// The bucket holding the symbols.
    pub bucket: String,
    /// Create the bucket when it does not exist.
    pub create_bucket: bool,
    /// Timeouts and TLS.
    pub connection: ConnectionOptions,
    /// Multipart upload tuning.
    pub upload: UploadOptions,
}

impl GcsConfig {
    /// The endpoint to use: the configured one or [`GCS_DEFAULT_ENDPOINT`].
    pub fn endpoint_or_default(&self) -> &str {
        self.endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or(GCS_DEFAULT_ENDPOINT)
    }
}

/// The embedded local-filesystem store.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FilesystemConfig {
    /// The directory holding the objects; created when missing.
    pub root: PathBuf,
}

impl FilesystemConfig {
    /// A filesystem store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

/// An in-memory store.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MemoryConfig {}

/// Timeouts and TLS settings of a network backend.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ConnectionOptions {
    /// How long to wait for a TCP (and TLS) connection.
    #[serde(with = "humantime_serde_compat")]
    pub connect_timeout: Duration,
    /// How long to wait for the next bytes of a response; a slow but progressing transfer is
    /// never cut off.
    #[serde(with = "humantime_serde_compat")]
    pub read_timeout: Duration,
    /// A PEM file of extra certificate authorities to trust (a private CA for MinIO).
    pub ca_file: Option<PathBuf>,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            ca_file: None,
        }
    }
}

/// Multipart upload tuning.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Bytes per part; at least 5 MiB, grown so a known size fits in 10,000 parts.
    pub part_size: u64,
    /// Parts uploaded at once. Memory is about `part_size * (concurrency + 1)`.
    pub concurrency: usize,
    /// Bodies smaller than this go in one PUT.
    pub multipart_threshold: u64,
    /// Attempts per request (the first one included) on retryable errors.
    pub max_attempts: u32,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            part_size: 8 * 1024 * 1024,
            concurrency: 4,
            multipart_threshold: 16 * 1024 * 1024,
            max_attempts: 4,
        }
    }
}

/// Durations written as `5s`, `500ms`, `2m` (humantime).
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{e}: write a duration such as \"5s\", \"500ms\" or \"2m\""
            ))
        })
    }
}
