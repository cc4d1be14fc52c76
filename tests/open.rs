//! The facade opens every backend from YAML, the config enum and the operators' Helm values
//! alike.

use symstore::config::load_yaml;
use symstore::{ObjectKey, PutOptions, SymbolStoreExt};

#[tokio::test]
async fn the_embedded_filesystem_store_opens_from_the_config_enum() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("type: filesystem\nroot: {}\n", dir.path().display());
    let store = symstore::open(&load_yaml(&yaml).unwrap().config)
        .await
        .unwrap();
    let key = ObjectKey::new("ab/cdef/debuginfo").unwrap();
    store
        .put(&key, "elf".into(), PutOptions::default())
        .await
        .unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert!(store.to_string().starts_with("filesystem:"));
}

#[tokio::test]
async fn an_invalid_config_fails_to_open_with_its_yaml_path() {
    let mut config = symstore::config::MinioConfig::default();
    config.bucket = "zymtrace-symdb".into();
    let err = symstore::open(&symstore::StoreConfig::Minio(config))
        .await
        .unwrap_err();
    match &err {
        symstore::Error::Config(config) => assert!(config.names("endpoint"), "{err}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn helm_values_for_minio_open_a_working_store_on_a_real_server() {
    let endpoint = std::env::var("SYMSTORE_SEAWEEDFS_ENDPOINT")
        .expect("run through scripts/test.sh, which starts the S3 test servers");
    let access = std::env::var("SYMSTORE_TEST_ACCESS_KEY").unwrap();
    let secret = std::env::var("SYMSTORE_TEST_SECRET_KEY").unwrap();
    let bucket = format!("facade-helm-{}", std::process::id());
    // `mode: create` means the chart's MinIO: the bucket is created automatically.
    let values = format!(
        "storage:\n  mode: create\n  create:\n    endpoint: \"{endpoint}\"\n    config:\n      \
         user: \"{access}\"\n      password: \"{secret}\"\n    service:\n      api:\n        \
         port: 9000\n  buckets:\n    symbols: \"{bucket}\"\n"
    );
    let loaded = load_yaml(&values).unwrap();
    let store = symstore::open(&loaded.config).await.unwrap();
    let key = ObjectKey::new("buildid/0123/debuginfo").unwrap();
    store
        .put(&key, "debug info".into(), PutOptions::default())
        .await
        .unwrap();
    let got = store
        .get_range(&key, symstore::ByteRange::From(0))
        .await
        .unwrap();
    assert_eq!(&got[..], b"debug info");
    assert!(store.check().await.is_ok());
}
