//! [`S3Store`]: the `SymbolStore` over the S3 protocol.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use symstore_core::check::{CheckReport, StepStatus};
use symstore_core::config::StoreConfig;
use symstore_core::{
    Context, Error, GetOptions, GetResult, ListOptions, ObjectKey, ObjectMeta, PutMode, PutOptions,
    PutPayload, PutResult, Result, SymbolStore,
};

use crate::client::{CredentialMode, Settings, build};
use crate::error::{HintFacts, map_sdk_error};
use crate::upload::ObjectUpload;

/// A bucket on MinIO, AWS S3 or GCS, reached through aws-sdk-s3.
///
/// ```no_run
/// use symstore_core::{ObjectKey, PutOptions, SymbolStore, config::load_yaml};
/// # async fn run() -> symstore_core::Result<()> {
/// let config = load_yaml(
///     "type: s3\nregion: us-west-2\nuse_iam: aws\nbucket: zymtrace-symdb\n",
/// )?.config;
/// let store = symstore_s3::S3Store::open(&config).await?;
/// let key = ObjectKey::new("buildid/0123abcd/debuginfo")?;
/// store.put(&key, b"\x7fELF".as_slice().into(), PutOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct S3Store {
    pub(crate) inner: Arc<Settings>,
}

/// A multipart upload that was started and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingUpload {
    /// The key being uploaded.
    pub key: String,
    /// The upload's id.
    pub upload_id: String,
    /// When it was started, when the server says.
    pub initiated: Option<SystemTime>,
}

impl S3Store {
    /// Opens the bucket a `minio`, `s3` or `gcs` configuration names: checks that it exists
    /// (creating it when the configuration allows) so that a wrong endpoint, key or bucket
    /// fails here, with the cause and the fix.
    #[tracing::instrument(level = "info", skip_all, fields(backend = config.backend_name()))]
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let store = Self::connect(config).await?;
        store.ensure_bucket().await?;
        Ok(store)
    }

    /// Builds the client without contacting the server (no bucket check); `check` then
    /// reports each step.
    pub async fn connect(config: &StoreConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(build(config).await?),
        })
    }

    /// The underlying aws-sdk-s3 client (for operations symstore does not wrap).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.inner.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The provider profile in use.
    pub fn profile(&self) -> crate::Profile {
        self.inner.profile
    }

    pub(crate) fn context(&self, operation: &'static str, key: Option<&str>) -> Context {
        let context = Context::new(operation)
            .bucket(self.inner.bucket.clone())
            .endpoint(self.inner.endpoint.clone());
        match key {
            Some(key) => context.key(key),
            None => context,
        }
    }

    pub(crate) fn facts(&self) -> HintFacts<'_> {
        HintFacts {
            provider: self.inner.profile.provider,
            endpoint: &self.inner.endpoint,
            bucket: &self.inner.bucket,
            credential_mode: &self.inner.credential_mode,
            read_timeout: self.inner.connection.read_timeout,
        }
    }

    pub(crate) fn map<E>(&self, err: SdkError<E, HttpResponse>, context: Context) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        map_sdk_error(err, context, &self.facts())
    }

    /// Checks that the bucket exists; creates it when allowed.
    pub async fn ensure_bucket(&self) -> Result<()> {
        let context = self.context("open", None);
        let found = self
            .inner
            .client
            .head_bucket()
            .bucket(&*self.inner.bucket)
            .send()
            .await;
        match found.map_err(|e| self.map(e, context.clone())) {
            Ok(_) => Ok(()),
            // HeadBucket answers 403 without a body, so a wrong secret, an unknown key and a
            // missing permission all look alike: a listing's error body tells them apart.
            Err(Error::AccessDenied { .. }) => self
                .inner
                .client
                .list_objects_v2()
                .bucket(&*self.inner.bucket)
                .max_keys(1)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.map(e, context)),
            Err(Error::NotFound { .. } | Error::BucketNotFound { .. })
                if self.inner.create_bucket =>
            {
                self.create_bucket().await
            }
            Err(Error::NotFound { context }) => Err(Error::BucketNotFound {
                context,
                hint: self.facts().bucket_not_found(),
            }),
            Err(other) => Err(other),
        }
    }

    async fn create_bucket(&self) -> Result<()> {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        let mut request = self
            .inner
            .client
            .create_bucket()
            .bucket(&*self.inner.bucket);
        if self.inner.profile.provider == crate::Provider::Aws && self.inner.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.inner.region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => {
                tracing::info!(bucket = %self.inner.bucket, "created the bucket");
                Ok(())
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(self.map(e, self.context("create bucket", None))),
        }
    }

    /// The multipart uploads pending under `prefix`, oldest first.
    pub async fn list_pending_uploads(&self, prefix: &str) -> Result<Vec<PendingUpload>> {
        let context = self.context("list pending uploads", Some(prefix));
        let mut pending = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .inner
                .client
                .list_multipart_uploads()
                .bucket(&*self.inner.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| self.map(e, context.clone()))?;
            for upload in page.uploads() {
                pending.push(PendingUpload {
                    key: upload.key().unwrap_or_default().to_owned(),
                    upload_id: upload.upload_id().unwrap_or_default().to_owned(),
                    initiated: upload
                        .initiated()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                });
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            id_marker = page.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() && id_marker.is_none() {
                break;
            }
        }
        pending.sort_by_key(|p| p.initiated);
        Ok(pending)
    }

    /// Aborts the pending uploads under `prefix` started more than `older_than` ago (uploads
    /// orphaned by a crashed process); returns those aborted.
    pub async fn abort_stale_uploads(
        &self,
        prefix: &str,
        older_than: Duration,
    ) -> Result<Vec<PendingUpload>> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut aborted = Vec::new();
        for upload in self.list_pending_uploads(prefix).await? {
            if upload.initiated.is_some_and(|t| t > cutoff) {
                continue;
            }
            self.inner
                .client
                .abort_multipart_upload()
                .bucket(&*self.inner.bucket)
                .key(&upload.key)
                .upload_id(&upload.upload_id)
                .send()
                .await
                .map_err(|e| self.map(e, self.context("abort upload", Some(&upload.key))))?;
            aborted.push(upload);
        }
        Ok(aborted)
    }
}

fn system_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<SystemTime> {
    t.and_then(|t| SystemTime::try_from(*t).ok())
}

fn metadata_map(
    metadata: Option<&std::collections::HashMap<String, String>>,
) -> BTreeMap<String, String> {
    metadata
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The whole object's CRC32C from `x-amz-checksum-crc32c`, unless it is the composite of a
/// multipart upload's parts (`...-N`), which no plain read can check.
fn full_object_crc32c(
    value: Option<&str>,
    kind: Option<&aws_sdk_s3::types::ChecksumType>,
) -> Option<u32> {
    let value = value?;
    if value.contains('-') || matches!(kind, Some(aws_sdk_s3::types::ChecksumType::Composite)) {
        return None;
    }
    let bytes: [u8; 4] = aws_smithy_types::base64::decode(value)
        .ok()?
        .try_into()
        .ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Parses `bytes START-END/TOTAL`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some((start.parse().ok()?, end.parse().ok()?, total.parse().ok()?))
}

#[async_trait]
impl SymbolStore for S3Store {
    #[tracing::instrument(level = "debug", skip_all, fields(store = "s3", key = %key))]
    async fn put(
        &self,
        key: &ObjectKey,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if opts.mode == PutMode::Create {
            // Answer a taken key without sending the body; the conditional write below
            // settles races between concurrent uploaders.
            match self.head(key).await {
                Ok(_) => {
                    return Err(Error::AlreadyExists {
                        context: self.context("put", Some(key.as_str())),
                    });
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let progress = opts.progress.clone();
        let upload = Arc::new(ObjectUpload::new(self.clone(), key.clone(), opts));
        symstore_core::multipart::upload(upload, payload, &self.inner.upload, progress).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(store = "s3", key = %key))]
    async fn get(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let context = self.context("get", Some(key.as_str()));
        let output = self
            .inner
            .client
            .get_object()
            .bucket(&*self.inner.bucket)
            .key(key.as_str())
            .set_range(opts.range.as_ref().map(|r| r.to_http_header()))
            .set_if_match(opts.if_match.clone())
            .set_if_none_match(opts.if_none_match.clone())
            .send()
            .await
            .map_err(|e| self.map(e, context.clone()))?;
        let length = output.content_length().unwrap_or(0).max(0) as u64;
        let (range, size) = match output.content_range().and_then(parse_content_range) {
            Some((start, end, total)) => (start..end + 1, total),
            None => (0..length, length),
        };
        let mut meta = ObjectMeta::new(key.clone(), size);
        meta.e_tag = output.e_tag().map(str::to_owned);
        meta.content_type = output.content_type().map(str::to_owned);
        meta.last_modified = system_time(output.last_modified());
        meta.metadata = metadata_map(output.metadata());
        let body = output.body;
        let stream = futures::stream::try_unfold(body, move |mut body| {
            let context = context.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, body))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(Error::Backend {
                        context,
                        message: format!("reading the body failed: {e}"),
                        retryable: true,
                        source: Some(Box::new(e)),
                    }),
                }
            }
        });
        Ok(GetResult {
            meta,
            range,
            stream: stream.boxed(),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let context = self.context("head", Some(key.as_str()));
        let output = self
            .inner
            .client
            .head_object()
            .bucket(&*self.inner.bucket)
            .key(key.as_str())
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| self.map(e, context))?;
        let mut meta = ObjectMeta::new(
            key.clone(),
            output.content_length().unwrap_or(0).max(0) as u64,
        );
        meta.e_tag = output.e_tag().map(str::to_owned);
        meta.content_type = output.content_type().map(str::to_owned);
        meta.last_modified = system_time(output.last_modified());
        meta.metadata = metadata_map(output.metadata());
        meta.crc32c = full_object_crc32c(output.checksum_crc32_c(), output.checksum_type());
        Ok(meta)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        // One object at a time: GCS's XML API has no DeleteObjects, and MinIO-derived
        // servers require Content-MD5 on it.
        let context = self.context("delete", Some(key.as_str()));
        match self
            .inner
            .client
            .delete_object()
            .bucket(&*self.inner.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| self.map(e, context))
        {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn list(&self, prefix: &str, opts: ListOptions) -> BoxStream<'static, Result<ObjectMeta>> {
        if let Err(e) = symstore_core::key::validate_prefix(prefix) {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let store = self.clone();
        let prefix = prefix.to_owned();
        let page_size = opts.page_size.map(|n| n.clamp(1, 1000) as i32);
        // State: the next continuation token, or `None` once the last page was read.
        let pages = futures::stream::try_unfold(Some(None::<String>), move |state| {
            let store = store.clone();
            let prefix = prefix.clone();
            async move {
                let Some(token) = state else {
                    return Ok::<_, Error>(None);
                };
                let context = store.context("list", Some(&prefix));
                let page = store
                    .inner
                    .client
                    .list_objects_v2()
                    .bucket(&*store.inner.bucket)
                    .prefix(&prefix)
                    .set_max_keys(page_size)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .map_err(|e| store.map(e, context))?;
                let items: Vec<Result<ObjectMeta>> = page
                    .contents()
                    .iter()
                    .filter_map(|object| {
                        let key = object.key()?;
                        let Ok(key) = ObjectKey::new(key) else {
                            tracing::warn!(key, "skipping an object whose key symstore rejects");
                            return None;
                        };
                        let mut meta = ObjectMeta::new(key, object.size().unwrap_or(0) as u64);
                        meta.last_modified = system_time(object.last_modified());
                        meta.e_tag = object.e_tag().map(str::to_owned);
                        Some(Ok(meta))
                    })
                    .collect();
                let next = match (page.is_truncated(), page.next_continuation_token()) {
                    (Some(true), Some(token)) => Some(Some(token.to_owned())),
                    _ => None,
                };
                Ok(Some((futures::stream::iter(items), next)))
            }
        });
        pages.try_flatten().boxed()
    }

    /// Reports, step by step: the configuration (secrets masked), a plain-HTTP warning, the
    /// credentials, whether the endpoint answers (over TLS for https), whether the bucket
    /// exists (creating it when allowed), then the permission probe. Every failure is a
    /// step with its cause and fix, never an early return: build the store with
    /// [`S3Store::connect`] so that a missing bucket is reported here too.
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        let inner = &self.inner;
        let credential = match &inner.credential_mode {
            CredentialMode::Static { access_key } => format!("static key {access_key}"),
            CredentialMode::DefaultChain { service_account } => format!(
                "AWS default chain (IRSA web identity, then IMDSv2 instance profile){}",
                service_account
                    .as_deref()
                    .map(|sa| format!(", service account {sa}"))
                    .unwrap_or_default()
            ),
        };
        report.note(
            "configuration",
            StepStatus::Ok,
            format!(
                "backend {:?}, endpoint {}, region {}, bucket {}, credentials: {credential}",
                inner.profile.provider, inner.endpoint, inner.region, inner.bucket
            ),
            None,
        );
        if let Some(warning) = plain_http_warning(&inner.endpoint) {
            report.note(
                "transport",
                StepStatus::Warning,
                "plain HTTP",
                Some(warning),
            );
        }
        let credentials = inner.credentials.clone();
        report
            .step("credentials resolved", async {
                let resolved =
                    credentials
                        .provide_credentials()
                        .await
                        .map_err(|e| Error::Credentials {
                            context: self.context("check", None),
                            hint: crate::credentials::failure_hint(&e).unwrap_or_else(|| {
                                crate::check_support::NO_CREDENTIALS_FIX.to_owned()
                            }),
                            source: Some(Box::new(e)),
                        })?;
                Ok(((), format!("access key id {}", resolved.access_key_id())))
            })
            .await;
        // Any HTTP answer, even 403 or 404, proves the endpoint and the TLS handshake.
        let bucket_missing = report
            .step("endpoint reachable", async {
                let answer = inner
                    .client
                    .head_bucket()
                    .bucket(&*inner.bucket)
                    .send()
                    .await;
                let status = match answer {
                    Ok(_) => 200,
                    Err(SdkError::ServiceError(e)) => e.raw().status().as_u16(),
                    Err(e) => return Err(self.map(e, self.context("check", None))),
                };
                let tls = if inner.endpoint.starts_with("https://") {
                    " over TLS"
                } else {
                    ""
                };
                Ok((
                    status == 404,
                    format!("{} answered{tls} (HTTP {status})", inner.endpoint),
                ))
            })
            .await;
        report
            .step("bucket exists", async {
                self.ensure_bucket().await?;
                let detail = match bucket_missing {
                    Some(true) => format!("created bucket {}", inner.bucket),
                    _ => format!("bucket {} exists", inner.bucket),
                };
                Ok(((), detail))
            })
            .await;
        report.probe_permissions(self).await;
        crate::check_support::name_missing_actions(&mut report, inner.profile.provider);
        report
    }
}

/// A warning for plain HTTP to a host that is not this machine.
pub(crate) fn plain_http_warning(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let local = match url.host()? {
        url::Host::Domain(d) => d == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    (!local).then(|| {
        format!(
            "{endpoint} is plain HTTP: credentials and symbols travel unencrypted; use https://"
        )
    })
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("provider", &self.inner.profile.provider)
            .field("endpoint", &self.inner.endpoint)
            .field("bucket", &self.inner.bucket)
            .field("credentials", &self.inner.credential_mode)
            .finish()
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.inner.profile.provider {
            crate::Provider::Minio => "minio",
            crate::Provider::Aws => "s3",
            crate::Provider::Gcs => "gcs",
        };
        write!(
            f,
            "{scheme}://{}@{}",
            self.inner.bucket, self.inner.endpoint
        )
    }
}
