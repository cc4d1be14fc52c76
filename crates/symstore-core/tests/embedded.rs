//! The conformance suite on the embedded stores, and what only the filesystem store promises.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use symstore_core::{
    Error, FilesystemStore, MemoryStore, ObjectKey, PutMode, PutOptions, PutPayload, SymbolStore,
    SymbolStoreExt,
};

async fn memory() -> Arc<dyn SymbolStore> {
    Arc::new(MemoryStore::new())
}

async fn filesystem() -> Arc<dyn SymbolStore> {
    // Leaked on purpose: the directory must outlive the store handed to the test.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Arc::new(FilesystemStore::open(dir).await.expect("open"))
}

symstore_core::conformance_tests!(memory_store, memory);
symstore_core::conformance_tests!(filesystem_store, filesystem);

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_stream_that_fails_midway_leaves_no_object_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilesystemStore::open(dir.path()).await.unwrap();
    let k = key("build/failing");
    let chunks = vec![
        Ok(Bytes::from(vec![1u8; 1 << 20])),
        Err(Error::io(
            symstore_core::Context::new("read upload source"),
            std::io::Error::other("the build died"),
        )),
    ];
    let payload = PutPayload::from_stream(futures::stream::iter(chunks).boxed(), None);
    let err = store
        .put(&k, payload, PutOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the build died"), "{err}");
    assert!(!store.exists(&k).await.unwrap());
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_overwrite_keeps_the_previous_object_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilesystemStore::open(dir.path()).await.unwrap();
    let k = key("a/b");
    store
        .put(&k, "previous".into(), PutOptions::default())
        .await
        .unwrap();
    let chunks = vec![
        Ok(Bytes::from_static(b"partial new content")),
        Err(Error::io(
            symstore_core::Context::new("read"),
            std::io::Error::other("cut"),
        )),
    ];
    let payload = PutPayload::from_stream(futures::stream::iter(chunks).boxed(), None);
    assert!(store.put(&k, payload, PutOptions::default()).await.is_err());
    let got = store.get_range(&k, symstore_core::ByteRange::From(0)).await;
    assert_eq!(got.unwrap(), Bytes::from_static(b"previous"));
}

#[tokio::test]
async fn a_dropped_put_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilesystemStore::open(dir.path()).await.unwrap();
    // A stream that yields one chunk and then never ends.
    let stream = futures::stream::once(async { Ok(Bytes::from(vec![0u8; 4096])) })
        .chain(futures::stream::pending());
    let payload = PutPayload::from_stream(stream.boxed(), None);
    let k = key("never/finishes");
    let put = store.put(&k, payload, PutOptions::default());
    let outcome = tokio::time::timeout(std::time::Duration::from_millis(200), put).await;
    assert!(outcome.is_err(), "the put is still waiting for its input");
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
    assert!(!store.exists(&k).await.unwrap());
}

#[cfg(unix)]
#[tokio::test]
async fn keys_cannot_reach_outside_the_root_through_a_symlink() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret%"), b"SYMSTOR1\0\0\0\0{}").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = FilesystemStore::open(dir.path()).await.unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();

    for result in [
        store
            .put(&key("escape/new"), "x".into(), PutOptions::default())
            .await
            .map(|_| ()),
        store.head(&key("escape/secret")).await.map(|_| ()),
        store.delete(&key("escape/secret")).await,
    ] {
        match result {
            Err(Error::InvalidKey { reason, .. }) => assert!(reason.contains("symbolic link")),
            other => panic!("an access through the link gave {other:?}"),
        }
    }
    assert_eq!(files_under(outside.path()), vec!["secret%".to_owned()]);
    assert!(
        store.list_all("").await.unwrap().is_empty(),
        "links are not followed"
    );
}

#[tokio::test]
async fn a_key_and_its_prefix_coexist_as_distinct_objects() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilesystemStore::open(dir.path()).await.unwrap();
    store
        .put(&key("a"), "file".into(), PutOptions::default())
        .await
        .unwrap();
    store
        .put(&key("a/b"), "nested".into(), PutOptions::default())
        .await
        .unwrap();
    let keys: Vec<String> = store
        .list_all("")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(keys, ["a", "a/b"]);
    store.delete(&key("a/b")).await.unwrap();
    assert_eq!(
        files_under(dir.path()),
        vec!["a%".to_owned()],
        "empty dirs pruned"
    );
}

#[tokio::test]
async fn create_only_race_has_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn SymbolStore> = Arc::new(FilesystemStore::open(dir.path()).await.unwrap());
    let k = key("buildid/abcd/debuginfo");
    let tasks = (0u8..8).map(|i| {
        let store = store.clone();
        let k = k.clone();
        tokio::spawn(async move {
            let opts = PutOptions::default().mode(PutMode::Create);
            store.put(&k, vec![i; 100_000].into(), opts).await
        })
    });
    let results = futures::future::join_all(tasks).await;
    let winners = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    let losers = results
        .iter()
        .filter(|r| matches!(r.as_ref().unwrap(), Err(Error::AlreadyExists { .. })))
        .count();
    assert_eq!((winners, losers), (1, 7));
    let body = store
        .get_range(&k, symstore_core::ByteRange::From(0))
        .await
        .unwrap();
    assert_eq!(body.len(), 100_000);
    assert!(body.iter().all(|b| *b == body[0]));
}

#[tokio::test]
async fn download_to_writes_the_whole_object_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let body = symstore_core::conformance::test_bytes(3 << 20, 1);
    store
        .put(&key("big"), body.clone().into(), PutOptions::default())
        .await
        .unwrap();
    let target = dir.path().join("big.debug");
    let written = store.download_to(&key("big"), &target).await.unwrap();
    assert_eq!(written, body.len() as u64);
    assert_eq!(std::fs::read(&target).unwrap(), body);
    assert!(matches!(
        store
            .download_to(&key("missing"), dir.path().join("m"))
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(files_under(dir.path()), vec!["big.debug".to_owned()]);
}

/// A memory store that misbehaves on purpose: it can replace the object right after the
/// first read (as a concurrent uploader would), claim another CRC32C than its bytes have,
/// cut every body one byte short, or hand bodies over in small chunks of `rechunk` bytes
/// (as a network connection does).
#[derive(Debug, Default)]
struct Tampered {
    inner: MemoryStore,
    replace_after_first_read: bool,
    wrong_crc32c: bool,
    short_bodies: bool,
    rechunk: Option<usize>,
    reads: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Display for Tampered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tampered")
    }
}

#[async_trait::async_trait]
impl SymbolStore for Tampered {
    async fn put(
        &self,
        key: &ObjectKey,
        payload: PutPayload,
        opts: PutOptions,
    ) -> symstore_core::Result<symstore_core::PutResult> {
        self.inner.put(key, payload, opts).await
    }
    async fn get(
        &self,
        key: &ObjectKey,
        opts: symstore_core::GetOptions,
    ) -> symstore_core::Result<symstore_core::GetResult> {
        let read = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.replace_after_first_read && read == 1 {
            let newer = vec![2u8; 3 << 20];
            self.inner
                .put(key, newer.into(), PutOptions::default())
                .await?;
        }
        let mut result = self.inner.get(key, opts).await?;
        if self.short_bodies || self.rechunk.is_some() {
            let taken = std::mem::replace(&mut result.stream, futures::stream::empty().boxed());
            let mut body: Vec<u8> = Vec::new();
            for chunk in taken.collect::<Vec<_>>().await {
                body.extend_from_slice(&chunk?);
            }
            let mut body = Bytes::from(body);
            if self.short_bodies {
                body.truncate(body.len() - 1);
            }
            let size = self.rechunk.unwrap_or(body.len()).max(1);
            let chunks: Vec<symstore_core::Result<Bytes>> = (0..body.len())
                .step_by(size)
                .map(|at| Ok(body.slice(at..(at + size).min(body.len()))))
                .collect();
            result.stream = futures::stream::iter(chunks).boxed();
        }
        Ok(result)
    }
    async fn head(&self, key: &ObjectKey) -> symstore_core::Result<symstore_core::ObjectMeta> {
        let mut meta = self.inner.head(key).await?;
        if self.wrong_crc32c {
            meta.crc32c = meta.crc32c.map(|crc| crc ^ 1);
        }
        Ok(meta)
    }
    async fn delete(&self, key: &ObjectKey) -> symstore_core::Result<()> {
        self.inner.delete(key).await
    }
    fn list(
        &self,
        prefix: &str,
        opts: symstore_core::ListOptions,
    ) -> futures::stream::BoxStream<'static, symstore_core::Result<symstore_core::ObjectMeta>> {
        self.inner.list(prefix, opts)
    }
    async fn check(&self) -> symstore_core::CheckReport {
        self.inner.check().await
    }
}

/// Stores `body` in `store`, then downloads it to a fresh directory in ranges of
/// `range_size`, `concurrency` at a time; returns the directory, the target and the outcome.
async fn download_through(
    store: &Tampered,
    body: impl Into<PutPayload>,
    range_size: u64,
    concurrency: usize,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    symstore_core::Result<u64>,
) {
    let k = key("downloaded/object");
    store
        .put(&k, body.into(), PutOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = symstore_core::download::DownloadOptions::default();
    opts.range_size = range_size;
    opts.concurrency = concurrency;
    let target = dir.path().join("out");
    let outcome = symstore_core::download::download_to(store, &k, &target, opts).await;
    (dir, target, outcome)
}

#[tokio::test]
async fn an_object_replaced_during_a_ranged_download_fails_it_instead_of_mixing_versions() {
    let store = Tampered {
        replace_after_first_read: true,
        ..Default::default()
    };
    let (dir, _, outcome) = download_through(&store, vec![1u8; 3 << 20], 1 << 20, 1).await;
    match outcome {
        Err(Error::Precondition { .. }) => {}
        other => panic!("expected a precondition failure, got {other:?}"),
    }
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_download_whose_bytes_do_not_match_the_stored_crc32c_fails_and_writes_nothing() {
    let store = Tampered {
        wrong_crc32c: true,
        ..Default::default()
    };
    let (dir, _, outcome) = download_through(&store, vec![5u8; 3 << 20], 1 << 20, 4).await;
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("CRC32C"), "{err}");
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_download_arriving_in_small_uneven_chunks_is_written_byte_exact() {
    // Ranges of 2 MiB + 3 bytes arriving in 7,777-byte chunks: every write gathers many
    // chunks and ends mid-chunk; the memory store's CRC32C checks the whole on top.
    let store = Tampered {
        rechunk: Some(7_777),
        ..Default::default()
    };
    let body = symstore_core::conformance::test_bytes((5 << 20) + 12_345, 9);
    let (_dir, target, outcome) = download_through(&store, body.clone(), (2 << 20) + 3, 4).await;
    assert_eq!(outcome.unwrap(), body.len() as u64);
    assert!(std::fs::read(&target).unwrap() == body, "byte-exact");
}

#[tokio::test]
async fn a_range_that_comes_back_short_fails_the_download_and_writes_nothing() {
    let store = Tampered {
        short_bodies: true,
        ..Default::default()
    };
    let (dir, _, outcome) = download_through(&store, vec![3u8; 3 << 20], 1 << 20, 4).await;
    let err = outcome.unwrap_err();
    assert!(
        err.to_string()
            .contains("bytes 0..1048576 came back as 1048575 bytes"),
        "{err}"
    );
    assert!(err.is_retryable(), "a short body is worth another try");
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_file_put_into_an_embedded_store_is_stored_whole_with_its_metadata_and_progress() {
    // 3 MiB + 17 bytes: after the filesystem store's header, and over several chunks.
    let dir = tempfile::tempdir().unwrap();
    let source_dir = tempfile::tempdir().unwrap();
    let body = symstore_core::conformance::test_bytes((3 << 20) + 17, 4);
    let source = source_dir.path().join("libfoo.so.debug");
    std::fs::write(&source, &body).unwrap();
    let stores: Vec<(&str, Arc<dyn SymbolStore>)> = vec![
        (
            "filesystem",
            Arc::new(FilesystemStore::open(dir.path()).await.unwrap()),
        ),
        ("memory", Arc::new(MemoryStore::new())),
    ];
    for (name, store) in stores {
        let reported = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reported.clone();
        let opts = PutOptions::default()
            .content_type("application/x-elf")
            .progress(move |p| seen.lock().unwrap().push((p.bytes_done, p.bytes_total)));
        let k = key("buildid/ab/debuginfo");
        let result = store
            .put(&k, PutPayload::from_file(&source), opts)
            .await
            .unwrap();
        assert_eq!(result.size, body.len() as u64, "{name}");
        let back = store.get(&k, Default::default()).await.unwrap();
        assert_eq!(
            back.meta.content_type.as_deref(),
            Some("application/x-elf"),
            "{name}"
        );
        assert!(back.bytes().await.unwrap() == body, "{name}: byte-exact");
        let len = body.len() as u64;
        assert_eq!(
            reported.lock().unwrap().last().copied(),
            Some((len, Some(len))),
            "{name}: progress ends at the whole file, with the file's size as the total"
        );
    }
}

#[tokio::test]
async fn a_missing_source_file_fails_naming_it_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilesystemStore::open(dir.path()).await.unwrap();
    let missing = dir.path().join("not-built-yet.debug");
    let err = store
        .put(
            &key("missing/source"),
            PutPayload::from_file(&missing),
            PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-built-yet.debug"), "{err}");
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
}
