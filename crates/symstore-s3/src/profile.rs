//! What differs between S3-compatible providers, in one place.

/// The provider behind an S3-protocol endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// MinIO (and other self-hosted S3-compatible servers).
    Minio,
    /// Amazon S3.
    Aws,
    /// Google Cloud Storage's XML API with HMAC keys.
    Gcs,
}

/// How the backend talks to one provider.
///
/// ```
/// use symstore_s3::{Profile, Provider};
/// let gcs = Profile::for_provider(Provider::Gcs);
/// assert!(!gcs.checksum_headers);
/// assert!(gcs.create_multipart_needs_content_length);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// Which provider.
    pub provider: Provider,
    /// Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    /// Send the CRC32C of each body as `x-amz-checksum-crc32c` (GCS's XML API rejects it).
    pub checksum_headers: bool,
    /// Send `Content-Length: 0` on CreateMultipartUpload (GCS answers 411 without it).
    pub create_multipart_needs_content_length: bool,
    /// The provider honours `If-None-Match: *` on writes (create-only puts).
    pub conditional_writes: bool,
}

impl Profile {
    /// The profile of `provider`.
    pub fn for_provider(provider: Provider) -> Self {
        match provider {
            Provider::Minio => Self {
                provider,
                path_style: true,
                checksum_headers: true,
                create_multipart_needs_content_length: false,
                conditional_writes: true,
            },
            Provider::Aws => Self {
                provider,
                path_style: false,
                checksum_headers: true,
                create_multipart_needs_content_length: false,
                conditional_writes: true,
            },
            Provider::Gcs => Self {
                provider,
                path_style: true,
                checksum_headers: false,
                create_multipart_needs_content_length: true,
                conditional_writes: true,
            },
        }
    }
}
