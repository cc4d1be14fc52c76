//! # symstore
//!
//! Store debugging symbols and other large debug artifacts (ELF debuginfo, GSYM, Breakpad
//! `.sym`, PDB, source bundles) in object storage: MinIO, AWS S3, Google Cloud Storage, or the
//! embedded local-filesystem store that needs no set-up at all.
//!
//! One async trait, [`SymbolStore`], hides the backend; [`open`] picks it from a
//! [`StoreConfig`], which also reads operators' existing Helm values (see [`config`]).
//!
//! ```
//! use symstore::{ObjectKey, PutOptions, SymbolStore, SymbolStoreExt, StoreConfig};
//! use symstore::config::FilesystemConfig;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let dir = tempfile::tempdir().unwrap();
//! let config = StoreConfig::Filesystem(FilesystemConfig::new(dir.path()));
//! let store = symstore::open(&config).await?;
//! let key = ObjectKey::new("buildid/0123abcd/debuginfo")?;
//! store.put(&key, b"\x7fELF...".as_slice().into(), PutOptions::default()).await?;
//! assert!(store.exists(&key).await?);
//! # Ok::<(), symstore::Error>(())
//! # }).unwrap();
//! ```
//!
//! Features: `fs` (default) and `s3` (default; MinIO, AWS S3 and GCS through aws-sdk-s3). A
//! service that needs only the filesystem store builds with `default-features = false,
//! features = ["fs"]` and compiles no AWS crate.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;
use std::sync::Arc;

pub use symstore_core::config::{self, StoreConfig};
pub use symstore_core::{
    ByteRange, ByteStream, CheckReport, CheckStep, ConfigError, ConfigIssue, Context, Error,
    GetOptions, GetResult, ListOptions, MemoryStore, ObjectKey, ObjectMeta, Progress, PutMode,
    PutOptions, PutPayload, PutResult, Result, Secret, StepStatus, SymbolStore, SymbolStoreExt,
    check, key,
};

pub use symstore_core::symbol::{
    self, FileKind, Layout, PutSymbolOptions, SymbolId, SymbolKey, list_symbols, put_symbol,
};

#[cfg(feature = "fs")]
pub use symstore_core::FilesystemStore;

#[cfg(feature = "s3")]
pub use symstore_s3 as s3;

/// The directory of the embedded default store: `$SYMSTORE_ROOT` when set, else
/// `./symstore-data`.
///
/// ```
/// let root = symstore::default_root();
/// assert!(!root.as_os_str().is_empty());
/// ```
pub fn default_root() -> PathBuf {
    std::env::var_os("SYMSTORE_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("symstore-data"))
}

/// The zero-setup default: the embedded filesystem store at [`default_root`].
///
/// ```
/// use symstore::config::{FilesystemConfig, StoreConfig};
/// let StoreConfig::Filesystem(fs) = symstore::default_config() else { unreachable!() };
/// assert_eq!(fs.root, symstore::default_root());
/// ```
pub fn default_config() -> StoreConfig {
    StoreConfig::Filesystem(config::FilesystemConfig::new(default_root()))
}

/// Opens the store a configuration selects, after validating it.
///
/// Network backends check the bucket on open (and create it when the configuration allows):
/// a wrong endpoint, key or bucket fails here with the cause and the fix, not on first use.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let loaded = symstore::config::load_yaml("type: memory\n")?;
/// let store = symstore::open(&loaded.config).await?;
/// assert_eq!(store.to_string(), "memory");
/// # Ok::<(), symstore::Error>(())
/// # }).unwrap();
/// ```
#[tracing::instrument(level = "info", skip_all, fields(backend = config.backend_name()))]
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn SymbolStore>> {
    for warning in config.validate()? {
        tracing::warn!(%warning, "configuration");
    }
    match config {
        StoreConfig::Memory(_) => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "fs")]
        StoreConfig::Filesystem(fs) => Ok(Arc::new(FilesystemStore::open(&fs.root).await?)),
        #[cfg(feature = "s3")]
        StoreConfig::Minio(_) | StoreConfig::S3(_) | StoreConfig::Gcs(_) => {
            Ok(Arc::new(symstore_s3::S3Store::open(config).await?))
        }
        #[allow(unreachable_patterns)]
        other => Err(ConfigError::single(
            "type",
            format!(
                "this build of symstore has no `{}` backend: enable the cargo feature `{}`",
                other.backend_name(),
                if other.backend_name() == "filesystem" {
                    "fs"
                } else {
                    "s3"
                }
            ),
        )
        .into()),
    }
}
