//! What the `gcs` profile puts on the wire: nothing GCS's XML API rejects. Recorded by a TCP
//! proxy in front of SeaweedFS.

mod support;

use support::{RecordingProxy, Server, bucket, gcs_config};
use symstore_core::config::StoreConfig;
use symstore_core::conformance::test_bytes;
use symstore_core::{ObjectKey, PutOptions, SymbolStore, SymbolStoreExt};
use symstore_s3::S3Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gcs_profile_sends_no_chunked_bodies_no_checksum_headers_and_no_batch_delete() {
    let proxy = RecordingProxy::start(&Server::SeaweedFs.endpoint()).await;
    let mut config = gcs_config(&proxy.endpoint, &bucket("gcs-wire"));
    config.upload.multipart_threshold = 6 * 1024 * 1024;
    let store = S3Store::open(&StoreConfig::Gcs(config)).await.unwrap();

    let small = ObjectKey::new("wire/small").unwrap();
    let large = ObjectKey::new("wire/large").unwrap();
    let large_body = test_bytes(11 * 1024 * 1024, 3);
    store
        .put(&small, "small".into(), PutOptions::default())
        .await
        .unwrap();
    store
        .put(&large, large_body.clone().into(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_range(&large, symstore_core::ByteRange::From(0))
            .await
            .unwrap(),
        large_body
    );
    store.delete(&small).await.unwrap();
    store.delete(&large).await.unwrap();

    let heads = proxy.request_heads();
    let uploads: Vec<&String> = heads
        .iter()
        .filter(|h| h.starts_with("post ") && h.contains("?uploads"))
        .collect();
    assert_eq!(
        uploads.len(),
        1,
        "one multipart upload was created: {heads:#?}"
    );
    assert!(
        uploads[0].contains("\r\ncontent-length: 0"),
        "CreateMultipartUpload carries Content-Length: 0: {}",
        uploads[0]
    );
    let parts = heads.iter().filter(|h| h.contains("partnumber=")).count();
    assert_eq!(parts, 2, "11 MiB went in two parts");
    for head in &heads {
        assert!(!head.contains("aws-chunked"), "no aws-chunked body: {head}");
        assert!(
            !head.contains("x-amz-checksum"),
            "no checksum header: {head}"
        );
        assert!(!head.contains("x-amz-trailer"), "no trailer: {head}");
        assert!(!head.contains("?delete"), "no DeleteObjects: {head}");
    }
    let deletes = heads.iter().filter(|h| h.starts_with("delete ")).count();
    assert_eq!(deletes, 2, "objects are deleted one at a time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minio_profile_protects_each_part_with_a_crc32c_header() {
    let proxy = RecordingProxy::start(&Server::SeaweedFs.endpoint()).await;
    let mut config = support::minio_config(&proxy.endpoint, &bucket("minio-wire"));
    config.upload.multipart_threshold = 6 * 1024 * 1024;
    let store = S3Store::open(&StoreConfig::Minio(config)).await.unwrap();
    let key = ObjectKey::new("wire/large").unwrap();
    store
        .put(
            &key,
            test_bytes(11 * 1024 * 1024, 4).into(),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let heads = proxy.request_heads();
    let parts: Vec<&String> = heads.iter().filter(|h| h.contains("partnumber=")).collect();
    assert_eq!(parts.len(), 2);
    for part in parts {
        assert!(part.contains("x-amz-checksum-crc32c: "), "{part}");
        assert!(
            part.contains("x-amz-content-sha256: unsigned-payload"),
            "the payload is not signed: {part}"
        );
        assert!(!part.contains("aws-chunked"), "{part}");
    }
}
