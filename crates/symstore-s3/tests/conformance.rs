//! The conformance suite against real S3 servers on 127.0.0.1: SeaweedFS, moto and the
//! JuiceFS gateway with the `minio` profile, and SeaweedFS with the `gcs` profile.

mod support;

use std::sync::Arc;

use support::{Server, bucket, gcs_config, minio_store, open};
use symstore_core::SymbolStore;
use symstore_core::config::StoreConfig;

async fn seaweedfs() -> Arc<dyn SymbolStore> {
    Arc::new(minio_store(Server::SeaweedFs, "conf-weed").await)
}

async fn moto() -> Arc<dyn SymbolStore> {
    Arc::new(minio_store(Server::Moto, "conf-moto").await)
}

async fn juicefs() -> Arc<dyn SymbolStore> {
    Arc::new(minio_store(Server::JuiceFs, "conf-jfs").await)
}

async fn gcs_profile_on_seaweedfs() -> Arc<dyn SymbolStore> {
    let config = gcs_config(&Server::SeaweedFs.endpoint(), &bucket("conf-gcs"));
    Arc::new(open(StoreConfig::Gcs(config)).await)
}

symstore_core::conformance_tests!(minio_profile_on_seaweedfs, seaweedfs);
symstore_core::conformance_tests!(minio_profile_on_moto, moto);
// The JuiceFS gateway keeps objects as files: it stores no content type or user metadata,
// and, like MinIO itself, refuses a key that is also a prefix of another key (`a`, `a/b`).
symstore_core::conformance_tests!(minio_profile_on_juicefs_gateway, juicefs, only [
    round_trips,
    unusual_keys_round_trip,
    ranges,
    conditional_reads,
    list_with_prefix_across_pages,
    delete_and_not_found,
    create_only_on_existing_key,
    invalid_keys,
    concurrent_writers_to_one_key,
    download_in_ranges,
    check_passes_and_cleans_up,
]);
symstore_core::conformance_tests!(gcs_profile_on_seaweedfs, gcs_profile_on_seaweedfs);
