//! The S3 requests behind symstore's upload driver: PutObject for small bodies, and
//! Create/UploadPart/Complete/AbortMultipartUpload for large ones.
//!
//! Bodies are sent with `UNSIGNED-PAYLOAD` (the headers are signed, the payload is not:
//! SHA-256 of every byte costs about 14 times a CRC) and protected by a CRC32C header that
//! the server checks, where the provider accepts checksum headers.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload};
use aws_smithy_types::base64;
use bytes::Bytes;
use symstore_core::multipart::{CompletedPart, MultipartBackend};
use symstore_core::{Error, ObjectKey, PutMode, PutOptions, PutResult, Result};

use crate::store::S3Store;

/// One object being uploaded.
pub(crate) struct ObjectUpload {
    store: S3Store,
    key: ObjectKey,
    content_type: Option<String>,
    metadata: Option<HashMap<String, String>>,
    create_only: bool,
}

impl ObjectUpload {
    pub(crate) fn new(store: S3Store, key: ObjectKey, opts: PutOptions) -> Self {
        Self {
            store,
            key,
            content_type: opts.content_type,
            metadata: (!opts.metadata.is_empty()).then(|| opts.metadata.into_iter().collect()),
            create_only: opts.mode == PutMode::Create,
        }
    }

    fn crc_header(&self, crc32c: u32) -> Option<String> {
        self.store
            .profile()
            .checksum_headers
            .then(|| base64::encode(crc32c.to_be_bytes()))
    }

    fn if_none_match(&self) -> Option<String> {
        (self.create_only && self.store.profile().conditional_writes).then(|| "*".to_owned())
    }

    /// A create-only write that lost the race reports `AlreadyExists`.
    fn map_write_error(&self, error: Error) -> Error {
        match error {
            Error::Precondition { context, .. } if self.create_only => {
                Error::AlreadyExists { context }
            }
            other => other,
        }
    }

    fn no_sdk_retries() -> aws_sdk_s3::config::Builder {
        // The driver retries parts itself, with backoff, and never a checksum mismatch.
        aws_sdk_s3::config::Builder::default().retry_config(RetryConfig::disabled())
    }
}

#[async_trait]
impl MultipartBackend for ObjectUpload {
    async fn put_single(&self, data: Bytes, crc32c: u32) -> Result<PutResult> {
        let size = data.len() as u64;
        let context = self.store.context("put", Some(self.key.as_str()));
        let output = self
            .store
            .client()
            .put_object()
            .bucket(self.store.bucket())
            .key(self.key.as_str())
            .content_length(size as i64)
            .body(ByteStream::from(data))
            .set_content_type(self.content_type.clone())
            .set_metadata(self.metadata.clone())
            .set_checksum_crc32_c(self.crc_header(crc32c))
            .set_if_none_match(self.if_none_match())
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| self.map_write_error(self.store.map(e, context)))?;
        Ok(put_result(output.e_tag(), size))
    }

    async fn create(&self) -> Result<String> {
        let context = self
            .store
            .context("create multipart upload", Some(self.key.as_str()));
        let profile = self.store.profile();
        let mut request = self
            .store
            .client()
            .create_multipart_upload()
            .bucket(self.store.bucket())
            .key(self.key.as_str())
            .set_content_type(self.content_type.clone())
            .set_metadata(self.metadata.clone());
        if profile.checksum_headers {
            request = request.checksum_algorithm(ChecksumAlgorithm::Crc32C);
        }
        let output = request
            .customize()
            .mutate_request(move |request| {
                if profile.create_multipart_needs_content_length {
                    request.headers_mut().insert("content-length", "0");
                }
            })
            .send()
            .await
            .map_err(|e| self.store.map(e, context.clone()))?;
        output
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::Backend {
                context,
                message: "the server returned no upload id".into(),
                retryable: false,
                source: None,
            })
    }

    async fn upload_part(
        &self,
        upload_id: &str,
        part_number: u32,
        data: Bytes,
        crc32c: u32,
    ) -> Result<CompletedPart> {
        let context = self.store.context("upload part", Some(self.key.as_str()));
        let output = self
            .store
            .client()
            .upload_part()
            .bucket(self.store.bucket())
            .key(self.key.as_str())
            .upload_id(upload_id)
            .part_number(part_number as i32)
            .content_length(data.len() as i64)
            .body(ByteStream::from(data))
            .set_checksum_crc32_c(self.crc_header(crc32c))
            .customize()
            .disable_payload_signing()
            .config_override(Self::no_sdk_retries())
            .send()
            .await
            .map_err(|e| self.store.map(e, context.clone()))?;
        let e_tag = output
            .e_tag()
            .map(str::to_owned)
            .ok_or_else(|| Error::Backend {
                context,
                message: format!("the server returned no entity tag for part {part_number}"),
                retryable: true,
                source: None,
            })?;
        Ok(CompletedPart {
            part_number,
            e_tag,
            crc32c,
        })
    }

    async fn complete(
        &self,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        size: u64,
    ) -> Result<PutResult> {
        let context = self
            .store
            .context("complete multipart upload", Some(self.key.as_str()));
        let parts = parts
            .into_iter()
            .map(|part| {
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(part.part_number as i32)
                    .e_tag(part.e_tag)
                    .set_checksum_crc32_c(self.crc_header(part.crc32c))
                    .build()
            })
            .collect();
        let output = self
            .store
            .client()
            .complete_multipart_upload()
            .bucket(self.store.bucket())
            .key(self.key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .set_if_none_match(self.if_none_match())
            .send()
            .await
            .map_err(|e| self.map_write_error(self.store.map(e, context)))?;
        Ok(put_result(output.e_tag(), size))
    }

    async fn abort(&self, upload_id: &str) -> Result<()> {
        let context = self
            .store
            .context("abort multipart upload", Some(self.key.as_str()));
        match self
            .store
            .client()
            .abort_multipart_upload()
            .bucket(self.store.bucket())
            .key(self.key.as_str())
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| self.store.map(e, context))
        {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn put_result(e_tag: Option<&str>, size: u64) -> PutResult {
    let mut result = PutResult::default();
    result.e_tag = e_tag.map(str::to_owned);
    result.size = size;
    result
}
