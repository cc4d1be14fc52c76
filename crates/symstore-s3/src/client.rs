//! Builds the aws-sdk-s3 client for a validated configuration: one rustls (ring) HTTPS client,
//! separate connect and read timeouts, and the provider's profile.

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    IdentityCache, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use symstore_core::config::{
    AwsCredentialSource, ConnectionOptions, DEFAULT_REGION, StoreConfig, UploadOptions,
};
use symstore_core::{ConfigError, Context, Error, Result};

use crate::credentials::{self, ChainSettings, CredentialOverrides};
use crate::profile::{Profile, Provider};

/// Where the credentials come from, for reports and hints (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialMode {
    Static { access_key: String },
    DefaultChain { service_account: Option<String> },
}

/// Everything the store needs, derived from the configuration.
pub(crate) struct Settings {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) credentials: SharedCredentialsProvider,
    pub(crate) credential_mode: CredentialMode,
    pub(crate) profile: Profile,
    pub(crate) bucket: std::sync::Arc<str>,
    /// The endpoint as shown to operators.
    pub(crate) endpoint: std::sync::Arc<str>,
    pub(crate) region: String,
    pub(crate) create_bucket: bool,
    pub(crate) connection: ConnectionOptions,
    pub(crate) upload: UploadOptions,
}

/// The region GCS's XML API expects in SigV4 signatures.
const GCS_REGION: &str = "auto";

pub(crate) async fn build(config: &StoreConfig) -> Result<Settings> {
    build_with(config, &CredentialOverrides::default()).await
}

/// [`build`] with the `use_iam: aws` credential sources redirected (tests).
pub(crate) async fn build_with(
    config: &StoreConfig,
    overrides: &CredentialOverrides,
) -> Result<Settings> {
    let (
        provider,
        endpoint,
        mut region,
        bucket,
        source,
        create_bucket,
        connection,
        upload,
        service,
    ) = match config {
        StoreConfig::Minio(c) => (
            Provider::Minio,
            Some(c.endpoint.trim().to_owned()),
            non_empty(c.region.as_deref())
                .unwrap_or(DEFAULT_REGION)
                .to_owned(),
            c.bucket.clone(),
            AwsCredentialSource::Static {
                access_key: c.access_key.clone(),
                secret_key: c.secret_key.clone(),
            },
            c.create_bucket,
            c.connection.clone(),
            c.upload,
            None,
        ),
        StoreConfig::S3(c) => (
            Provider::Aws,
            non_empty(c.endpoint.as_deref()).map(str::to_owned),
            // Unset only with an endpoint override (then the default) or under `use_iam: aws`
            // (then the metadata service tells it, see below).
            non_empty(c.region.as_deref())
                .unwrap_or(DEFAULT_REGION)
                .to_owned(),
            c.bucket.clone(),
            c.credential_source().ok_or_else(|| {
                ConfigError::single(
                    "access_key",
                    "set access_key and secret_key, or use_iam: aws for IRSA / instance profile",
                )
            })?,
            c.create_bucket,
            c.connection.clone(),
            c.upload,
            c.service_account.clone(),
        ),
        StoreConfig::Gcs(c) => (
            Provider::Gcs,
            Some(c.endpoint_or_default().trim().to_owned()),
            GCS_REGION.to_owned(),
            c.bucket.clone(),
            AwsCredentialSource::Static {
                access_key: c.access_key.clone(),
                secret_key: c.secret_key.clone(),
            },
            c.create_bucket,
            c.connection.clone(),
            c.upload,
            None,
        ),
        other => {
            return Err(ConfigError::single(
                "type",
                format!("`{}` is not an S3-protocol backend", other.backend_name()),
            )
            .into());
        }
    };
    // Without a configured region, `use_iam: aws` asks the instance metadata service.
    let region_configured = match config {
        StoreConfig::S3(c) => non_empty(c.region.as_deref()).is_some(),
        _ => true,
    };
    let mut profile = Profile::for_provider(provider);
    if let StoreConfig::S3(c) = config {
        profile.path_style = c.force_path_style;
    }
    let http = http_client(&connection)?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(connection.connect_timeout)
        .read_timeout(connection.read_timeout)
        .build();
    let (credentials, credential_mode) = match source {
        AwsCredentialSource::Static {
            access_key,
            secret_key,
        } => (
            SharedCredentialsProvider::new(Credentials::new(
                access_key.trim(),
                secret_key.expose().trim(),
                None,
                None,
                "symstore-static",
            )),
            CredentialMode::Static {
                access_key: access_key.trim().to_owned(),
            },
        ),
        AwsCredentialSource::DefaultChain => {
            let chain = credentials::default_chain(
                ChainSettings {
                    region: region_configured.then_some(region.as_str()),
                    http: &http,
                    connection: &connection,
                    service_account: service.as_deref(),
                },
                overrides,
            )
            .await?;
            region = chain.region;
            (
                chain.provider,
                CredentialMode::DefaultChain {
                    service_account: service,
                },
            )
        }
        _ => {
            return Err(Error::Credentials {
                context: Context::new("open"),
                hint: "this credential source is not supported by the S3 backend".into(),
                source: None,
            });
        }
    };
    let mut builder = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.clone()))
        .credentials_provider(credentials.clone())
        // Load new credentials a minute before the old ones expire, so a long upload never
        // signs a part with credentials about to expire.
        .identity_cache(
            IdentityCache::lazy()
                .buffer_time(credentials::REFRESH_BUFFER)
                .build(),
        )
        .http_client(http)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(upload.max_attempts.max(1)))
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(connection.read_timeout)
                .build(),
        )
        // Bodies are checksummed by symstore itself (a CRC32C header on each part), never
        // sent aws-chunked with signed chunks, which GCS and older MinIO reject.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .force_path_style(profile.path_style);
    if let Some(endpoint) = &endpoint {
        builder = builder.endpoint_url(endpoint.trim_end_matches('/'));
    }
    let shown_endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
    Ok(Settings {
        client: aws_sdk_s3::Client::from_conf(builder.build()),
        credentials,
        credential_mode,
        profile,
        bucket: bucket.into(),
        endpoint: shown_endpoint.into(),
        region,
        create_bucket,
        connection,
        upload,
    })
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn http_client(connection: &ConnectionOptions) -> Result<SharedHttpClient> {
    let mut trust = TrustStore::default();
    if let Some(ca_file) = &connection.ca_file {
        let pem = std::fs::read(ca_file).map_err(|e| {
            ConfigError::single(
                "connection.ca_file",
                format!("cannot read {}: {e}", ca_file.display()),
            )
        })?;
        trust = trust.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| {
            ConfigError::single(
                "connection.ca_file",
                format!("not a usable PEM certificate: {e}"),
            )
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(context)
        .build_https())
}
