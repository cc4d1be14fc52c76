//! The conformance suite: what every [`SymbolStore`] must do, written once and run against
//! every backend (memory, filesystem, and each S3 server).
//!
//! Each check takes a store and a prefix that no other check or run uses, and panics with a
//! description of the first difference. [`conformance_tests!`](crate::conformance_tests)
//! turns the whole suite into one `#[tokio::test]` per check.
//!
//! ```no_run
//! // In a backend's tests/conformance.rs:
//! use std::sync::Arc;
//! use symstore_core::{MemoryStore, SymbolStore};
//!
//! async fn memory() -> Arc<dyn SymbolStore> {
//!     Arc::new(MemoryStore::new())
//! }
//! symstore_core::conformance_tests!(memory_store, memory);
//! # fn main() {}
//! ```

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

use crate::{
    ByteRange, Error, GetOptions, ListOptions, ObjectKey, PutMode, PutOptions, PutPayload,
    SymbolStore, SymbolStoreExt,
};

/// A prefix unique to this process and `case`, so reruns and parallel runs never collide.
pub fn unique_prefix(case: &str) -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!("{:x}-{:x}", std::process::id(), nanos)
    });
    format!("conformance/{run}/{case}/")
}

/// `len` deterministic pseudo-random bytes.
pub fn test_bytes(len: usize, seed: u64) -> Bytes {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut data = vec![0u8; len];
    rng.fill(&mut data[..]);
    Bytes::from(data)
}

fn key(prefix: &str, name: &str) -> ObjectKey {
    ObjectKey::new(format!("{prefix}{name}")).expect("test keys are valid")
}

async fn read_all(store: &dyn SymbolStore, key: &ObjectKey) -> Bytes {
    store
        .get(key, GetOptions::default())
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("read {key}: {e}"))
}

/// Empty, one-byte, small and multi-MiB bodies, from bytes and from a stream of unknown
/// length, come back byte for byte, with the right size in `head`.
pub async fn round_trips(store: &dyn SymbolStore, prefix: &str) {
    for (name, len) in [
        ("empty", 0usize),
        ("one", 1),
        ("small", 100 * 1024),
        ("multi-mib", 5 * 1024 * 1024 + 17),
    ] {
        let body = test_bytes(len, len as u64);
        let k = key(prefix, name);
        let put = store
            .put(&k, body.clone().into(), PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("put {k}: {e}"));
        assert_eq!(put.size, len as u64, "put of {k} reported its size");
        assert_eq!(read_all(store, &k).await, body, "{k} read back");
        assert_eq!(store.head(&k).await.expect("head").size, len as u64);

        let streamed = key(prefix, &format!("{name}-streamed"));
        let chunks: Vec<crate::Result<Bytes>> = body
            .chunks(64 * 1024 + 3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let payload = PutPayload::from_stream(futures::stream::iter(chunks).boxed(), None);
        store
            .put(&streamed, payload, PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("put {streamed}: {e}"));
        assert_eq!(
            read_all(store, &streamed).await,
            body,
            "{streamed} read back"
        );
    }
}

/// Keys with spaces, `%`, `+`, `=`, `&`, unicode and odd dots round trip and list exactly.
pub async fn unusual_keys_round_trip(store: &dyn SymbolStore, prefix: &str) {
    let names = [
        "with space/file name.debug",
        "percent%25/100%",
        "plus+and=equals&amp",
        "ünïcode/ключ/符号",
        "dots.../..x/.y",
    ];
    for (i, name) in names.iter().enumerate() {
        let k = key(prefix, name);
        store
            .put(
                &k,
                test_bytes(10 + i, i as u64).into(),
                PutOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("put {k:?}: {e}"));
    }
    for (i, name) in names.iter().enumerate() {
        let k = key(prefix, name);
        assert_eq!(
            read_all(store, &k).await,
            test_bytes(10 + i, i as u64),
            "{k:?}"
        );
    }
    let listed: BTreeSet<String> = store
        .list_all(prefix)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key.as_str()[prefix.len()..].to_owned())
        .collect();
    let expected: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(listed, expected, "the listing names every key exactly");
}

/// A key that is also the prefix of another key (`a` and `a/b`) names a distinct object.
///
/// MinIO and servers built on a filesystem (the JuiceFS gateway) refuse this; S3, GCS and
/// the embedded stores allow it.
pub async fn key_and_prefix_coexist(store: &dyn SymbolStore, prefix: &str) {
    let file = key(prefix, "nested");
    let child = key(prefix, "nested/child");
    store
        .put(&file, "file".into(), PutOptions::default())
        .await
        .expect("put nested");
    store
        .put(&child, "child".into(), PutOptions::default())
        .await
        .expect("put nested/child");
    assert_eq!(read_all(store, &file).await, Bytes::from_static(b"file"));
    assert_eq!(read_all(store, &child).await, Bytes::from_static(b"child"));
    let listed: Vec<ObjectKey> = store
        .list_all(prefix)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, vec![file, child]);
}

/// First byte, last byte, a suffix, an open-ended range, a range clamped at the end, and an
/// unsatisfiable range.
pub async fn ranges(store: &dyn SymbolStore, prefix: &str) {
    let body = test_bytes(1000, 7);
    let k = key(prefix, "ranged");
    store
        .put(&k, body.clone().into(), PutOptions::default())
        .await
        .expect("put");
    let cases = [
        (ByteRange::Bounded(0..1), 0..1),
        (ByteRange::Bounded(999..1000), 999..1000),
        (ByteRange::Bounded(100..200), 100..200),
        (ByteRange::Bounded(990..2000), 990..1000),
        (ByteRange::From(900), 900..1000),
        (ByteRange::Suffix(10), 990..1000),
        (ByteRange::Suffix(5000), 0..1000),
    ];
    for (range, expected) in cases {
        let result = store
            .get(&k, GetOptions::default().range(range.clone()))
            .await
            .unwrap_or_else(|e| panic!("range {range}: {e}"));
        assert_eq!(result.range, expected, "range {range} reported");
        assert_eq!(result.meta.size, 1000, "range {range}: whole size");
        let got = result.bytes().await.expect("read range");
        assert_eq!(
            got,
            body.slice(expected.start as usize..expected.end as usize)
        );
    }
    for range in [ByteRange::From(1000), ByteRange::Bounded(2000..3000)] {
        match store
            .get(&k, GetOptions::default().range(range.clone()))
            .await
        {
            Err(Error::RangeNotSatisfiable { .. }) => {}
            other => panic!("range {range} of 1000 bytes gave {other:?}"),
        }
    }
}

/// Content type and user metadata come back from `head` and `get`.
pub async fn metadata_and_content_type(store: &dyn SymbolStore, prefix: &str) {
    let k = key(prefix, "with-metadata");
    let opts = PutOptions::default()
        .content_type("application/x-elf")
        .metadata("arch", "x86_64")
        .metadata("build-id", "0123abcd");
    store
        .put(&k, Bytes::from_static(b"\x7fELF").into(), opts)
        .await
        .expect("put");
    let head = store.head(&k).await.expect("head");
    assert_eq!(head.size, 4);
    assert_eq!(head.content_type.as_deref(), Some("application/x-elf"));
    assert_eq!(
        head.metadata.get("arch").map(String::as_str),
        Some("x86_64")
    );
    assert_eq!(
        head.metadata.get("build-id").map(String::as_str),
        Some("0123abcd")
    );
    assert!(head.e_tag.is_some(), "an entity tag is reported");
    let got = store.get(&k, GetOptions::default()).await.expect("get");
    assert_eq!(got.meta.content_type.as_deref(), Some("application/x-elf"));
    assert_eq!(got.meta.metadata, head.metadata);
}

/// `if-match` and `if-none-match` on reads.
pub async fn conditional_reads(store: &dyn SymbolStore, prefix: &str) {
    let k = key(prefix, "conditional");
    store
        .put(&k, Bytes::from_static(b"v1").into(), PutOptions::default())
        .await
        .expect("put");
    let e_tag = store.head(&k).await.expect("head").e_tag.expect("e-tag");
    let ok = store
        .get(&k, GetOptions::default().if_match(e_tag.clone()))
        .await
        .expect("if-match with the current tag");
    assert_eq!(ok.bytes().await.expect("read"), Bytes::from_static(b"v1"));
    match store
        .get(&k, GetOptions::default().if_match("\"not-the-tag\""))
        .await
    {
        Err(Error::Precondition { .. }) => {}
        other => panic!("if-match with another tag gave {other:?}"),
    }
    match store
        .get(&k, GetOptions::default().if_none_match(e_tag))
        .await
    {
        Err(Error::NotModified { .. }) => {}
        other => panic!("if-none-match with the current tag gave {other:?}"),
    }
}

/// A listing returns exactly the keys under a prefix, in order, across several pages, and
/// a partial last segment works as a prefix.
pub async fn list_with_prefix_across_pages(store: &dyn SymbolStore, prefix: &str) {
    let mut expected = Vec::new();
    for i in 0..23 {
        let k = key(prefix, &format!("in/{:02x}/debuginfo", i));
        store
            .put(&k, test_bytes(i, i as u64).into(), PutOptions::default())
            .await
            .expect("put");
        expected.push((k, i as u64));
    }
    for name in ["out/other", "inside-but-not-under"] {
        store
            .put(&key(prefix, name), "x".into(), PutOptions::default())
            .await
            .expect("put");
    }
    let listed: Vec<(ObjectKey, u64)> = store
        .list(&format!("{prefix}in/"), ListOptions::default().page_size(5))
        .map_ok(|m| (m.key, m.size))
        .try_collect()
        .await
        .expect("list");
    assert_eq!(
        listed, expected,
        "keys and sizes under {prefix}in/, in key order"
    );

    let partial: Vec<ObjectKey> = store
        .list(
            &format!("{prefix}in/1"),
            ListOptions::default().page_size(2),
        )
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .expect("list partial");
    let want: Vec<ObjectKey> = expected
        .iter()
        .filter(|(k, _)| k.as_str().starts_with(&format!("{prefix}in/1")))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(partial.len(), 7, "in/10 .. in/16");
    assert_eq!(partial, want);

    let everything = store.list_all(prefix).await.expect("list all");
    assert_eq!(everything.len(), 25);
    let nothing = store
        .list_all(&format!("{prefix}nothing-here/"))
        .await
        .expect("list empty");
    assert!(nothing.is_empty());
}

/// Deleting removes the object; deleting a missing key succeeds; reads of a missing key
/// fail with `NotFound`.
pub async fn delete_and_not_found(store: &dyn SymbolStore, prefix: &str) {
    let k = key(prefix, "to-delete");
    store
        .put(&k, "bye".into(), PutOptions::default())
        .await
        .expect("put");
    assert!(store.exists(&k).await.expect("exists"));
    store.delete(&k).await.expect("delete");
    assert!(!store.exists(&k).await.expect("exists after delete"));
    store
        .delete(&k)
        .await
        .expect("delete of a missing key succeeds");
    match store.get(&k, GetOptions::default()).await {
        Err(Error::NotFound { context }) => {
            assert_eq!(
                context.key.as_deref(),
                Some(k.as_str()),
                "the error names the key"
            )
        }
        other => panic!("get of a deleted key gave {other:?}"),
    }
    match store.head(&key(prefix, "never/existed")).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("head of a missing key gave {other:?}"),
    }
}

/// A create-only put on an existing key fails with `AlreadyExists` and changes nothing.
pub async fn create_only_on_existing_key(store: &dyn SymbolStore, prefix: &str) {
    let k = key(prefix, "build-id");
    let create = || PutOptions::default().mode(PutMode::Create);
    store
        .put(&k, "first".into(), create())
        .await
        .expect("the first create-only put succeeds");
    match store.put(&k, "second".into(), create()).await {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("a second create-only put gave {other:?}"),
    }
    assert_eq!(read_all(store, &k).await, Bytes::from_static(b"first"));
    store
        .put(&k, "third".into(), PutOptions::default())
        .await
        .expect("an overwrite put replaces it");
    assert_eq!(read_all(store, &k).await, Bytes::from_static(b"third"));
}

/// Invalid keys never reach the backend, and an invalid listing prefix is refused.
pub async fn invalid_keys(store: &dyn SymbolStore, _prefix: &str) {
    for bad in ["", "/abs", "a//b", "../up", "a/./b", "nul\0", "trailing/"] {
        assert!(
            matches!(ObjectKey::new(bad), Err(Error::InvalidKey { .. })),
            "{bad:?} is rejected"
        );
    }
    match store.list_all("../").await {
        Err(Error::InvalidKey { .. }) => {}
        other => panic!("listing `../` gave {other:?}"),
    }
}

/// Concurrent writers to one key end with one whole object: one writer's bytes, never a
/// mix or a truncation.
pub async fn concurrent_writers_to_one_key(store: &dyn SymbolStore, prefix: &str) {
    let k = key(prefix, "contended");
    let len = 1024 * 1024 + 5;
    let writers = (0u8..6).map(|i| {
        let body = Bytes::from(vec![i; len]);
        store.put(&k, body.into(), PutOptions::default())
    });
    for written in futures::future::join_all(writers).await {
        written.expect("put");
    }
    let got = read_all(store, &k).await;
    assert_eq!(got.len(), len, "the object is whole");
    assert!(
        got.iter().all(|b| *b == got[0]),
        "the object holds one writer's bytes"
    );
}

/// `download_to` writes the whole object, read in parallel ranges, and an empty one; a
/// missing key leaves no file.
pub async fn download_in_ranges(store: &dyn SymbolStore, prefix: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = crate::download::DownloadOptions {
        range_size: 1024 * 1024,
        ..Default::default()
    };
    for (name, len) in [
        ("ranged", 3 * 1024 * 1024 + 5),
        ("one-range", 1000),
        ("empty", 0),
    ] {
        let k = key(prefix, name);
        let body = test_bytes(len, 11);
        store
            .put(&k, body.clone().into(), PutOptions::default())
            .await
            .expect("put");
        let target = dir.path().join(name);
        let size = crate::download::download_to(store, &k, &target, opts)
            .await
            .unwrap_or_else(|e| panic!("download {k}: {e}"));
        assert_eq!(size, len as u64);
        assert_eq!(
            std::fs::read(&target).expect("read"),
            body,
            "{k} downloaded"
        );
    }
    let missing = dir.path().join("missing");
    match crate::download::download_to(store, &key(prefix, "missing"), &missing, opts).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("download of a missing key gave {other:?}"),
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left.len(), 3, "no temporary file is left: {left:?}");
}

/// `check` succeeds and leaves no probe object behind.
pub async fn check_passes_and_cleans_up(store: &dyn SymbolStore, _prefix: &str) {
    let report = store.check().await;
    assert!(report.is_ok(), "check failed:\n{report}");
    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    for step in ["permission: put object", "permission: delete object"] {
        assert!(names.contains(&step), "{step} in {names:?}");
    }
    let left = store
        .list_all(crate::check::PROBE_PREFIX)
        .await
        .expect("list probes");
    assert!(left.is_empty(), "probe objects left: {left:?}");
}

/// Runs every check, each under its own prefix below `prefix`.
pub async fn run_all(store: &dyn SymbolStore, prefix: &str) {
    round_trips(store, &format!("{prefix}round_trips/")).await;
    key_and_prefix_coexist(store, &format!("{prefix}key_and_prefix/")).await;
    unusual_keys_round_trip(store, &format!("{prefix}unusual_keys/")).await;
    ranges(store, &format!("{prefix}ranges/")).await;
    metadata_and_content_type(store, &format!("{prefix}metadata/")).await;
    conditional_reads(store, &format!("{prefix}conditional/")).await;
    list_with_prefix_across_pages(store, &format!("{prefix}list/")).await;
    delete_and_not_found(store, &format!("{prefix}delete/")).await;
    create_only_on_existing_key(store, &format!("{prefix}create_only/")).await;
    invalid_keys(store, &format!("{prefix}invalid/")).await;
    concurrent_writers_to_one_key(store, &format!("{prefix}concurrent/")).await;
    download_in_ranges(store, &format!("{prefix}download/")).await;
    check_passes_and_cleans_up(store, prefix).await;
}

/// Expands to one `#[tokio::test]` per conformance check, in a module named `$module`, each
/// opening its store with `$factory` (an `async fn() -> Arc<dyn SymbolStore>`).
///
/// `only [check, ...]` limits the tests to the checks a server supports; say in a comment
/// why each missing one is left out.
///
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($module:ident, $factory:ident) => {
        $crate::conformance_tests!($module, $factory, only [
            round_trips,
            key_and_prefix_coexist,
            unusual_keys_round_trip,
            ranges,
            metadata_and_content_type,
            conditional_reads,
            list_with_prefix_across_pages,
            delete_and_not_found,
            create_only_on_existing_key,
            invalid_keys,
            concurrent_writers_to_one_key,
            download_in_ranges,
            check_passes_and_cleans_up
        ]);
    };
    ($module:ident, $factory:ident, only [$($check:ident),* $(,)?]) => {
        mod $module {
            async fn store() -> ::std::sync::Arc<dyn $crate::SymbolStore> {
                super::$factory().await
            }
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let prefix = $crate::conformance::unique_prefix(
                        &concat!(module_path!(), "/", stringify!($check)).replace("::", "-"),
                    );
                    $crate::conformance::$check(&*store().await, &prefix).await;
                }
            )*
        }
    };
}
