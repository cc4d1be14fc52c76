//! Reading the configuration and opening the store.

use std::path::Path;
use std::sync::Arc;

use symstore::config::LoadedConfig;
use symstore::{StoreConfig, SymbolStore};

/// The configuration from `--config FILE` (either form, detected), else the embedded
/// filesystem default. Warnings go to stderr.
pub(crate) fn load(path: Option<&Path>) -> Result<StoreConfig, symstore::Error> {
    let Some(path) = path else {
        return Ok(symstore::default_config());
    };
    let LoadedConfig {
        config, warnings, ..
    } = symstore::config::load_yaml_file(path)?;
    for warning in &warnings {
        eprintln!("warning: {}: {warning}", path.display());
    }
    Ok(config)
}

/// Opens the configured store (network backends check the bucket on open).
pub(crate) async fn open(path: Option<&Path>) -> Result<Arc<dyn SymbolStore>, symstore::Error> {
    let config = load(path)?;
    symstore::open(&config).await
}

/// Whether a configuration selects an S3-protocol backend.
pub(crate) fn is_s3(config: &StoreConfig) -> bool {
    matches!(
        config,
        StoreConfig::Minio(_) | StoreConfig::S3(_) | StoreConfig::Gcs(_)
    )
}
