//! The CRC32C stored with an object, as `head` reports it and `download_to` verifies it.

mod support;

use support::{Server, minio_store};
use symstore_core::conformance::test_bytes;
use symstore_core::download::{DownloadOptions, download_to};
use symstore_core::multipart::crc32c;
use symstore_core::{ObjectKey, PutOptions, SymbolStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_request_upload_reports_its_whole_crc32c_and_a_multipart_one_does_not() {
    let store = minio_store(Server::SeaweedFs, "checksums").await;
    let small = ObjectKey::new("crc/small").unwrap();
    let body = test_bytes(100_000, 1);
    store
        .put(&small, body.clone().into(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.head(&small).await.unwrap().crc32c,
        Some(crc32c(&body))
    );

    // Above the 16 MiB threshold: parts, whose composite checksum is no whole-object CRC.
    let large = ObjectKey::new("crc/large").unwrap();
    let body = test_bytes(17 * 1024 * 1024, 2);
    store
        .put(&large, body.clone().into(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(store.head(&large).await.unwrap().crc32c, None);

    // Both download whole; the small one is verified against its CRC on the way.
    let dir = tempfile::tempdir().unwrap();
    let opts = DownloadOptions::default();
    for (key, name) in [(&small, "small"), (&large, "large")] {
        let target = dir.path().join(name);
        download_to(&store, key, &target, opts).await.unwrap();
        let expected = store.head(key).await.unwrap().size;
        assert_eq!(std::fs::metadata(&target).unwrap().len(), expected);
    }
    assert_eq!(std::fs::read(dir.path().join("large")).unwrap(), body);
}
