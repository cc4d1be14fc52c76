//! The streaming upload against SeaweedFS on 127.0.0.1: round trips at every size boundary
//! from bytes, streams of unknown length and files; faults injected into UploadPart requests
//! by a proxy (reset, 503 SlowDown, a stalled answer, a corrupted body); cancellation; an
//! input stream that fails; progress; stale uploads. After every failure neither an object
//! nor a pending multipart upload may remain.
//!
//! Parts are the smallest S3 allows (5 MiB) and the threshold is lowered to 1 MiB, so that
//! every path runs on a few MiB.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use support::fault_proxy::{Fault, FaultProxy, Target, attempts_by_part};
use support::{Server, bucket, gcs_config, minio_config, open};
use symstore_core::config::{MinioConfig, StoreConfig};
use symstore_core::{
    ByteStream, Context, Error, GetOptions, ObjectKey, Progress, PutOptions, PutPayload,
    SymbolStore,
};
use symstore_s3::S3Store;

const MIB: usize = 1024 * 1024;
/// The part size of these tests: the smallest S3 allows.
const PART: usize = 5 * MIB;
/// The multipart threshold of these tests.
const THRESHOLD: usize = MIB;

/// A store on SeaweedFS (or a proxy in front of it) with 5 MiB parts, a 1 MiB threshold,
/// 4 parts in flight and 4 attempts per part; `tune` adjusts the configuration.
async fn store_at(endpoint: &str, tune: impl FnOnce(&mut MinioConfig)) -> S3Store {
    let mut config = minio_config(endpoint, &bucket("multipart"));
    config.upload.part_size = PART as u64;
    config.upload.multipart_threshold = THRESHOLD as u64;
    config.upload.concurrency = 4;
    config.upload.max_attempts = 4;
    tune(&mut config);
    open(StoreConfig::Minio(config)).await
}

async fn seaweedfs() -> S3Store {
    store_at(&Server::SeaweedFs.endpoint(), |_| {}).await
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(format!("multipart/{name}")).unwrap()
}

/// `len` bytes of a xorshift sequence: every part differs, so a misplaced part shows.
fn data(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

/// `data` as a stream of unknown length, in chunks of an odd size that never lines up with
/// a part.
fn stream_of(data: &Bytes) -> ByteStream {
    let chunk = 100_003;
    let chunks: Vec<symstore_core::Result<Bytes>> = (0..data.len())
        .step_by(chunk)
        .map(|start| Ok(data.slice(start..(start + chunk).min(data.len()))))
        .collect();
    futures::stream::iter(chunks).boxed()
}

/// The size boundaries: name, length and the number of parts expected (`None`: one PUT).
fn boundary_sizes() -> Vec<(&'static str, usize, Option<usize>)> {
    vec![
        ("0 bytes", 0, None),
        ("1 byte", 1, None),
        ("threshold - 1", THRESHOLD - 1, None),
        ("exactly the threshold", THRESHOLD, Some(1)),
        ("threshold + 1", THRESHOLD + 1, Some(1)),
        ("exactly one part", PART, Some(1)),
        ("one part + 1 byte", PART + 1, Some(2)),
        ("3.5 parts", PART * 7 / 2, Some(4)),
    ]
}

/// Reads `key` back and checks its bytes and how its entity tag says it was assembled.
async fn assert_stored(store: &S3Store, key: &ObjectKey, expected: &[u8], parts: Option<usize>) {
    let got = store
        .get(key, GetOptions::default())
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("read {key}: {e}"));
    assert_eq!(got.len(), expected.len(), "{key}: stored length");
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("{key}: the stored bytes differ from the uploaded ones at offset {at}");
    }
    let e_tag = store.head(key).await.unwrap().e_tag.unwrap_or_default();
    assert_e_tag(key, &e_tag, parts);
}

fn assert_e_tag(key: &ObjectKey, e_tag: &str, parts: Option<usize>) {
    let e_tag = e_tag.trim_matches('"');
    match parts {
        Some(n) => assert!(
            e_tag.ends_with(&format!("-{n}")),
            "{key}: ETag {e_tag} does not say the object was assembled from {n} parts"
        ),
        None => assert!(
            !e_tag.contains('-'),
            "{key}: ETag {e_tag} says a multipart upload, expected one PUT"
        ),
    }
}

/// Neither an object nor a pending multipart upload exists under `key`.
async fn assert_nothing_left(store: &S3Store, key: &ObjectKey) {
    let pending = store.list_pending_uploads(key.as_str()).await.unwrap();
    assert!(
        pending.is_empty(),
        "{key}: multipart uploads still pending: {pending:?}"
    );
    match store.head(key).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{key}: expected no object, got {other:?}"),
    }
}

/// Waits (a few seconds at most) until nothing is pending under `key`, then checks that
/// no object exists either.
async fn assert_nothing_left_eventually(store: &S3Store, key: &ObjectKey) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pending = store.list_pending_uploads(key.as_str()).await.unwrap();
        if pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{key}: multipart uploads still pending after 5 s: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_nothing_left(store, key).await;
}

// ------------------------------------------------------------------------- round trips

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_from_bytes_round_trips_every_size_boundary() {
    let store = seaweedfs().await;
    for (i, (name, len, parts)) in boundary_sizes().into_iter().enumerate() {
        let key = key(&format!("bytes/{len}"));
        let body = data(len, i as u64);
        let result = store
            .put(&key, body.clone().into(), PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.size, len as u64, "{name}: reported size");
        assert_e_tag(&key, result.e_tag.as_deref().unwrap_or_default(), parts);
        assert_stored(&store, &key, &body, parts).await;
        assert!(
            store
                .list_pending_uploads(key.as_str())
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_from_a_stream_of_unknown_length_round_trips_every_size_boundary() {
    let store = seaweedfs().await;
    for (i, (name, len, parts)) in boundary_sizes().into_iter().enumerate() {
        let key = key(&format!("stream/{len}"));
        let body = data(len, 100 + i as u64);
        let payload = PutPayload::from_stream(stream_of(&body), None);
        let result = store
            .put(&key, payload, PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.size, len as u64, "{name}: reported size");
        assert_stored(&store, &key, &body, parts).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_from_a_file_round_trips_every_size_boundary() {
    let store = seaweedfs().await;
    let dir = std::env::temp_dir().join(format!("symstore-multipart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (name, len, parts)) in boundary_sizes().into_iter().enumerate() {
        let key = key(&format!("file/{len}"));
        let body = data(len, 200 + i as u64);
        let path = dir.join(format!("{len}.debug"));
        std::fs::write(&path, &body).unwrap();
        let result = store
            .put(&key, PutPayload::from_file(&path), PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.size, len as u64, "{name}: reported size");
        assert_stored(&store, &key, &body, parts).await;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_settings_put_16_mib_minus_1_in_one_request_and_16_mib_plus_1_in_3_parts() {
    let defaults = MinioConfig::default().upload;
    let store = store_at(&Server::SeaweedFs.endpoint(), |c| {
        c.upload = defaults;
    })
    .await;
    let threshold = defaults.multipart_threshold as usize;
    assert_eq!(threshold, 16 * MIB, "the documented default threshold");
    assert_eq!(
        defaults.part_size,
        8 * MIB as u64,
        "the documented default part"
    );
    for (len, parts) in [(threshold - 1, None), (threshold + 1, Some(3))] {
        let key = key(&format!("defaults/{len}"));
        let body = data(len, len as u64);
        let payload = PutPayload::from_stream(stream_of(&body), None);
        store
            .put(&key, payload, PutOptions::default())
            .await
            .unwrap();
        assert_stored(&store, &key, &body, parts).await;
    }
}

// ------------------------------------------------------------------------------ faults

/// A store whose requests go through a fault proxy in front of SeaweedFS.
async fn through_proxy(
    target: Target,
    fault: Fault,
    tune: impl FnOnce(&mut MinioConfig),
) -> (S3Store, FaultProxy) {
    let proxy = FaultProxy::start(&Server::SeaweedFs.endpoint(), target, fault).await;
    let store = store_at(&proxy.endpoint, tune).await;
    (store, proxy)
}

/// Uploads 2.5 parts through `fault` on the second UploadPart request and expects the
/// upload to succeed byte-exact after one retry of that part.
async fn put_survives_one_fault(name: &str, fault: Fault, tune: impl FnOnce(&mut MinioConfig)) {
    let (store, proxy) = through_proxy(Target::NthPartRequest(2), fault, tune).await;
    let key = key(name);
    let body = data(PART * 5 / 2, 300);
    let payload = PutPayload::from_stream(stream_of(&body), None);
    store
        .put(&key, payload, PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{fault:?} on one part was not retried: {e}"));
    let requests = proxy.part_requests();
    assert_eq!(
        proxy.faulted_parts().len(),
        1,
        "the fault was injected once"
    );
    assert_eq!(
        requests.len(),
        4,
        "3 parts and one retry, got {:?}",
        attempts_by_part(&requests)
    );
    assert_eq!(proxy.attempts_of_part(proxy.faulted_parts()[0]), 2);
    assert_stored(&store, &key, &body, Some(3)).await;
    assert!(
        store
            .list_pending_uploads(key.as_str())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_reset_in_the_middle_of_a_part_is_retried_and_the_object_is_byte_exact() {
    put_survives_one_fault("fault/reset-once", Fault::ResetMidBody, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_503_on_a_part_is_retried_and_the_object_is_byte_exact() {
    put_survives_one_fault("fault/slowdown-once", Fault::SlowDown, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_part_times_out_is_retried_and_the_object_is_byte_exact() {
    let started = Instant::now();
    put_survives_one_fault("fault/stall-once", Fault::Stall, |c| {
        c.connection.read_timeout = Duration::from_secs(2);
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stalled part was given up after the read timeout, not later"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_slow_down_on_a_part_fails_the_put_naming_the_part_and_leaves_nothing() {
    let (store, proxy) = through_proxy(Target::EveryAttemptOfPart(2), Fault::SlowDown, |c| {
        c.upload.max_attempts = 3;
    })
    .await;
    let key = key("fault/slowdown-always");
    let body = data(PART * 3, 400);
    let err = store
        .put(
            &key,
            PutPayload::from_stream(stream_of(&body), None),
            PutOptions::default(),
        )
        .await
        .expect_err("a part that always gets 503 must fail the put");
    let message = err.to_string();
    assert!(
        message.contains("SlowDown"),
        "names the server's answer: {message}"
    );
    assert!(message.contains("part 2"), "names the part: {message}");
    assert!(
        message.contains("3 attempts"),
        "says it was retried: {message}"
    );
    assert_eq!(
        proxy.attempts_of_part(2),
        3,
        "part 2 was tried max_attempts times: {:?}",
        attempts_by_part(&proxy.part_requests())
    );
    assert_nothing_left(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_connection_resets_fail_the_put_and_leave_nothing() {
    let (store, proxy) = through_proxy(Target::EveryAttemptOfPart(1), Fault::ResetMidBody, |c| {
        c.upload.max_attempts = 2;
    })
    .await;
    let key = key("fault/reset-always");
    let body = data(PART * 2, 500);
    let err = store
        .put(
            &key,
            PutPayload::from_stream(stream_of(&body), None),
            PutOptions::default(),
        )
        .await
        .expect_err("a part whose connection always resets must fail the put");
    let message = err.to_string();
    assert!(message.contains("part 1"), "names the part: {message}");
    assert!(
        message.contains("2 attempts"),
        "says it was retried: {message}"
    );
    let last = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        last.contains("connection broke during the request"),
        "a reset after connecting is not called a connect failure: {last}"
    );
    assert_eq!(proxy.attempts_of_part(1), 2);
    assert_nothing_left(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_part_is_refused_with_bad_digest_and_not_retried() {
    let (store, proxy) = through_proxy(Target::NthPartRequest(1), Fault::CorruptBody, |_| {}).await;
    let key = key("fault/corrupt");
    let body = data(PART * 2, 600);
    let err = store
        .put(
            &key,
            PutPayload::from_stream(stream_of(&body), None),
            PutOptions::default(),
        )
        .await
        .expect_err("a part corrupted in transit must be refused by the server's CRC32C check");
    let message = err.to_string();
    assert!(
        message.contains("BadDigest"),
        "names the checksum failure: {message}"
    );
    assert!(!err.is_retryable(), "a checksum mismatch is final: {err:?}");
    let corrupted = proxy.faulted_parts()[0];
    assert_eq!(
        proxy.attempts_of_part(corrupted),
        1,
        "the refused part was not sent again: {:?}",
        attempts_by_part(&proxy.part_requests())
    );
    assert_nothing_left(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_single_put_is_refused_with_bad_digest_and_not_retried() {
    let (store, proxy) = through_proxy(Target::NthObjectPut(1), Fault::CorruptBody, |_| {}).await;
    let key = key("fault/corrupt-single");
    let err = store
        .put(&key, data(THRESHOLD / 2, 650).into(), PutOptions::default())
        .await
        .expect_err("a body corrupted in transit must be refused by the server's CRC32C check");
    let message = err.to_string();
    assert!(
        message.contains("BadDigest"),
        "names the checksum failure: {message}"
    );
    assert!(!err.is_retryable(), "a checksum mismatch is final: {err:?}");
    assert_eq!(
        proxy.object_puts(),
        1,
        "the refused body was not sent again"
    );
    assert_nothing_left(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crc32c_header_is_what_catches_corruption_without_it_seaweedfs_stores_it() {
    // The control for the two tests above: the `gcs` profile sends no checksum header (GCS's
    // XML API refuses them), and the same flipped byte is then stored unnoticed.
    let proxy = FaultProxy::start(
        &Server::SeaweedFs.endpoint(),
        Target::NthPartRequest(1),
        Fault::CorruptBody,
    )
    .await;
    let mut config = gcs_config(&proxy.endpoint, &bucket("multipart-gcs"));
    config.upload.part_size = PART as u64;
    config.upload.multipart_threshold = THRESHOLD as u64;
    let store = open(StoreConfig::Gcs(config)).await;
    assert!(!store.profile().checksum_headers);
    let key = key("fault/corrupt-without-crc");
    let body = data(PART * 2, 660);
    store
        .put(
            &key,
            PutPayload::from_stream(stream_of(&body), None),
            PutOptions::default(),
        )
        .await
        .expect("without a checksum header the server has nothing to check");
    let stored = store
        .get(&key, GetOptions::default())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.len(), body.len());
    let differing = stored
        .iter()
        .zip(body.iter())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 1, "the flipped byte was stored");
    store.delete(&key).await.unwrap();
}

// ------------------------------------------------------- cancellation and input errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_put_future_aborts_the_upload_and_leaves_nothing_pending() {
    let store = seaweedfs().await;
    let key = key("cancel/dropped");
    // Two parts arrive at once, then the source goes quiet, as a stalled build would.
    let body = data(PART * 2, 700);
    let stream = stream_of(&body).chain(futures::stream::pending()).boxed();
    let (sent_two_parts, mut reached) = tokio::sync::watch::channel(false);
    let opts = PutOptions::default().progress(move |p: Progress| {
        if p.bytes_done >= 2 * PART as u64 {
            let _ = sent_two_parts.send(true);
        }
    });
    let put = store.put(&key, PutPayload::from_stream(stream, None), opts);
    tokio::select! {
        result = put => panic!("the put cannot finish, its source never ends: {result:?}"),
        _ = reached.wait_for(|&done| done) => {}
    }
    // The put future is dropped here, with its upload open.
    assert_nothing_left_eventually(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_put_was_really_pending_before_the_drop() {
    // The counterpart of the test above: it proves there was something to clean up.
    let store = seaweedfs().await;
    let key = key("cancel/pending-before-drop");
    let body = data(PART * 2, 710);
    let stream = stream_of(&body).chain(futures::stream::pending()).boxed();
    let (sent_two_parts, mut reached) = tokio::sync::watch::channel(false);
    let opts = PutOptions::default().progress(move |p: Progress| {
        if p.bytes_done >= 2 * PART as u64 {
            let _ = sent_two_parts.send(true);
        }
    });
    let mut put = Box::pin(store.put(&key, PutPayload::from_stream(stream, None), opts));
    tokio::select! {
        result = &mut put => panic!("the put cannot finish: {result:?}"),
        _ = reached.wait_for(|&done| done) => {}
    }
    let pending = store.list_pending_uploads(key.as_str()).await.unwrap();
    assert_eq!(
        pending.len(),
        1,
        "one upload open while the put runs: {pending:?}"
    );
    drop(put);
    assert_nothing_left_eventually(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_around_a_slow_put_aborts_the_upload_and_leaves_nothing_pending() {
    let store = seaweedfs().await;
    let key = key("cancel/timeout");
    // One part every 300 ms: a slow producer that outlives the caller's patience.
    let stream = futures::stream::unfold(0u64, |i| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok(data(PART, 720 + i)), i + 1))
    })
    .boxed();
    let put = store.put(
        &key,
        PutPayload::from_stream(stream, None),
        PutOptions::default(),
    );
    let outcome = tokio::time::timeout(Duration::from_secs(2), put).await;
    assert!(outcome.is_err(), "the put of an endless stream timed out");
    assert_nothing_left_eventually(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_stream_error_after_the_threshold_fails_the_put_and_leaves_nothing() {
    let store = seaweedfs().await;
    let key = key("input/fails-mid-way");
    let body = data(PART * 2 + MIB, 800);
    let failure = futures::stream::once(async {
        Err(Error::io(
            Context::new("read build output"),
            std::io::Error::other("the compiler's pipe broke"),
        ))
    });
    let stream = stream_of(&body).chain(failure).boxed();
    let err = store
        .put(
            &key,
            PutPayload::from_stream(stream, None),
            PutOptions::default(),
        )
        .await
        .expect_err("a failing source fails the put");
    assert!(
        err.to_string().contains("the compiler's pipe broke"),
        "the source's error is returned: {err}"
    );
    assert_nothing_left(&store, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_stream_error_below_the_threshold_fails_the_put_and_leaves_nothing() {
    let store = seaweedfs().await;
    let key = key("input/fails-early");
    let failure = futures::stream::once(async {
        Err(Error::io(
            Context::new("read build output"),
            std::io::Error::other("no such build"),
        ))
    });
    let stream = stream_of(&data(1000, 810)).chain(failure).boxed();
    let err = store
        .put(
            &key,
            PutPayload::from_stream(stream, None),
            PutOptions::default(),
        )
        .await
        .expect_err("a failing source fails the put");
    assert!(err.to_string().contains("no such build"), "{err}");
    assert_nothing_left(&store, &key).await;
}

// ---------------------------------------------------------------------------- progress

fn recording() -> (Arc<Mutex<Vec<Progress>>>, PutOptions) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let opts = PutOptions::default().progress(move |p| sink.lock().unwrap().push(p));
    (seen, opts)
}

fn assert_progress(seen: &[Progress], total: u64, known_total: Option<u64>) {
    assert!(!seen.is_empty(), "progress was reported");
    for pair in seen.windows(2) {
        assert!(
            pair[0].bytes_done < pair[1].bytes_done,
            "bytes done increase: {seen:?}"
        );
    }
    assert_eq!(seen.last().unwrap().bytes_done, total, "ends at the total");
    assert!(
        seen.iter().all(|p| p.bytes_total == known_total),
        "{seen:?}"
    );
    assert!(seen.iter().all(|p| p.bytes_done <= total), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_of_a_stream_increases_monotonically_and_ends_at_the_total() {
    let store = seaweedfs().await;
    let key = key("progress/stream");
    let body = data(PART * 7 / 2, 900);
    let (seen, opts) = recording();
    store
        .put(&key, PutPayload::from_stream(stream_of(&body), None), opts)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_progress(&seen, body.len() as u64, None);
    assert_eq!(seen.len(), 4, "one report per part: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_of_bytes_and_files_knows_the_total_and_ends_at_it() {
    let store = seaweedfs().await;
    let body = data(PART * 2 + 17, 910);
    let (seen, opts) = recording();
    store
        .put(&key("progress/bytes"), body.clone().into(), opts)
        .await
        .unwrap();
    assert_progress(
        &seen.lock().unwrap(),
        body.len() as u64,
        Some(body.len() as u64),
    );

    let path = std::env::temp_dir().join(format!("symstore-progress-{}", std::process::id()));
    std::fs::write(&path, &body).unwrap();
    let (seen, opts) = recording();
    store
        .put(&key("progress/file"), PutPayload::from_file(&path), opts)
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_progress(
        &seen.lock().unwrap(),
        body.len() as u64,
        Some(body.len() as u64),
    );

    let (seen, opts) = recording();
    store
        .put(&key("progress/small"), data(10, 920).into(), opts)
        .await
        .unwrap();
    assert_progress(&seen.lock().unwrap(), 10, Some(10));
}

// ---------------------------------------------------------------------- stale uploads

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_pending_uploads_under_a_prefix_are_listed_and_aborted_and_fresh_ones_kept() {
    let store = seaweedfs().await;
    let prefix = "stale/";
    // Orphans, as a crashed process leaves them: started and never completed.
    for name in ["stale/a", "stale/b"] {
        store
            .client()
            .create_multipart_upload()
            .bucket(store.bucket())
            .key(name)
            .send()
            .await
            .unwrap();
    }
    let pending = store.list_pending_uploads(prefix).await.unwrap();
    let mut keys: Vec<_> = pending.iter().map(|p| p.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["stale/a", "stale/b"]);
    assert!(pending.iter().all(|p| p.initiated.is_some()), "{pending:?}");

    let kept = store
        .abort_stale_uploads(prefix, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(
        kept.is_empty(),
        "uploads younger than an hour are kept: {kept:?}"
    );
    assert_eq!(store.list_pending_uploads(prefix).await.unwrap().len(), 2);

    let aborted = store
        .abort_stale_uploads(prefix, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(aborted.len(), 2);
    assert!(store.list_pending_uploads(prefix).await.unwrap().is_empty());
}
