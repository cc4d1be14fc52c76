//! The S3-protocol backend of symstore, on aws-sdk-s3: MinIO, AWS S3 (static keys or the AWS
//! default credential chain) and Google Cloud Storage with HMAC keys through its XML API.
//!
//! What differs between providers (checksum headers, path-style addressing, quirks of the
//! XML API) lives in one place, [`Profile`].
//!
//! ```no_run
//! use symstore_core::config::load_yaml;
//! # async fn run() -> symstore_core::Result<()> {
//! let loaded = load_yaml(
//!     "type: minio\nendpoint: http://127.0.0.1:9000\naccess_key: symstore\n\
//!      secret_key: secret\nbucket: zymtrace-symdb\n",
//! )?;
//! let store = symstore_s3::S3Store::open(&loaded.config).await?;
//! println!("{}", symstore_core::SymbolStore::check(&store).await);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rustdoc::broken_intra_doc_links)]

mod check_support;
mod client;
mod credentials;
mod error;
mod profile;
mod store;
mod upload;

#[doc(hidden)]
pub use credentials::CredentialOverrides;
pub use profile::{Profile, Provider};
pub use store::{PendingUpload, S3Store};
