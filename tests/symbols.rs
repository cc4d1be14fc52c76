//! Symbol keys through the facade: deduplicated uploads racing on one build-id, the metadata
//! stored with each debug file, and real binaries of this machine uploaded under every layout
//! and listed back, on the embedded stores and on SeaweedFS.

#[path = "../examples/upload_debug_file.rs"]
#[allow(dead_code)]
mod upload_debug_file;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use symstore::config::{FilesystemConfig, MinioConfig};
use symstore::symbol::SymbolMetadata;
use symstore::{
    Error, FileKind, Layout, MemoryStore, PutMode, PutSymbolOptions, Secret, StoreConfig,
    SymbolKey, SymbolStore, SymbolStoreExt, list_symbols, put_symbol,
};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test.sh, which starts the S3 test servers")
    })
}

fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "sym-{label}-{:x}-{:x}",
        std::process::id(),
        nanos % 0xffff_ffff
    )
}

async fn seaweedfs_store(label: &str) -> Arc<dyn SymbolStore> {
    let mut config = MinioConfig::default();
    config.endpoint = env("SYMSTORE_SEAWEEDFS_ENDPOINT");
    config.access_key = env("SYMSTORE_TEST_ACCESS_KEY");
    config.secret_key = Secret::new(env("SYMSTORE_TEST_SECRET_KEY"));
    config.bucket = unique(label);
    config.create_bucket = true;
    config.connection.connect_timeout = Duration::from_secs(2);
    symstore::open(&StoreConfig::Minio(config)).await.unwrap()
}

async fn filesystem_store(dir: &tempfile::TempDir) -> Arc<dyn SymbolStore> {
    let config = StoreConfig::Filesystem(FilesystemConfig::new(dir.path()));
    symstore::open(&config).await.unwrap()
}

/// `/bin/ls` and the C library this test links (as the process maps it).
fn real_binaries() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libc = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.contains("/libc.so") || path.contains("/libc-"))
        .expect("this test links the C library dynamically");
    vec![PathBuf::from("/bin/ls"), PathBuf::from(libc)]
}

/// The build-id as binutils' `readelf -n` prints it.
fn readelf_build_id(path: &std::path::Path) -> String {
    let output = std::process::Command::new("readelf")
        .arg("-n")
        .arg(path)
        .output()
        .expect("readelf (binutils) is installed");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("{} has no build-id note", path.display()))
        .to_owned()
}

/// Uploads of the same key from `tasks` tasks at once, each with its own body: exactly one
/// succeeds, all others get `AlreadyExists`, and the object holds the winner's whole body.
async fn one_of_many_racing_uploads_wins(store: Arc<dyn SymbolStore>, tasks: usize) {
    const SIZE: usize = 1024 * 1024 + 17;
    let key = SymbolKey::new(
        "elf:c0ffee00112233445566778899aabbccddeeff00"
            .parse()
            .unwrap(),
        FileKind::Debuginfo,
    );
    let body = |task: usize| -> Vec<u8> {
        (0..SIZE)
            .map(|i| (i as u8).wrapping_mul(31) ^ task as u8)
            .collect()
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let uploads = (0..tasks).map(|task| {
        let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
        let payload = body(task);
        tokio::spawn(async move {
            barrier.wait().await;
            let opts = PutSymbolOptions::default().arch("x86_64");
            let result = put_symbol(&*store, Layout::Debuginfod, &key, payload.into(), opts).await;
            (task, result)
        })
    });
    let results = futures::future::join_all(uploads).await;
    let mut winners = Vec::new();
    for joined in results {
        match joined.unwrap() {
            (task, Ok(put)) => {
                assert_eq!(put.size, SIZE as u64);
                winners.push(task);
            }
            (_, Err(Error::AlreadyExists { .. })) => {}
            (task, Err(other)) => panic!("task {task}: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?} on {store}");

    let object_key = Layout::Debuginfod.object_key(&key).unwrap();
    let stored = store.get(&object_key, Default::default()).await.unwrap();
    let meta = SymbolMetadata::from_object(&stored.meta);
    let bytes = stored.bytes().await.unwrap();
    assert_eq!(bytes.len(), SIZE, "the object is whole");
    assert!(
        bytes[..] == body(winners[0])[..],
        "the object is the winner's body"
    );
    assert_eq!(meta.size, Some(SIZE as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_of_one_build_id_have_one_winner_in_memory() {
    one_of_many_racing_uploads_wins(Arc::new(MemoryStore::new()), 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_of_one_build_id_have_one_winner_on_the_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    one_of_many_racing_uploads_wins(filesystem_store(&dir).await, 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_of_one_build_id_have_one_winner_on_seaweedfs() {
    one_of_many_racing_uploads_wins(seaweedfs_store("race").await, 16).await;
}

/// What `put_symbol` records reads back the same from the store's metadata.
async fn metadata_describes_the_file(store: Arc<dyn SymbolStore>) {
    let key = SymbolKey::new(
        "pdb:3249d99d-0c40-4931-8610-f4e4fb0b6936-1"
            .parse()
            .unwrap(),
        FileKind::Debuginfo,
    )
    .file_name("Säge.pdb");
    let opts = PutSymbolOptions::default().arch("x86_64");
    put_symbol(&*store, Layout::Ssqp, &key, "MSF 7.00".into(), opts)
        .await
        .unwrap();
    let object_key = Layout::Ssqp.object_key(&key).unwrap();
    assert_eq!(
        object_key.as_str(),
        "säge.pdb/3249d99d0c4049318610f4e4fb0b69361/säge.pdb"
    );
    let meta = SymbolMetadata::from_object(&store.head(&object_key).await.unwrap());
    assert_eq!(
        meta.id.as_deref(),
        Some("pdb:3249D99D0C4049318610F4E4FB0B69361")
    );
    assert_eq!(meta.kind.as_deref(), Some("debuginfo"));
    assert_eq!(meta.format.as_deref(), Some("pdb"));
    assert_eq!(meta.arch.as_deref(), Some("x86_64"));
    assert_eq!(meta.file_name.as_deref(), Some("Säge.pdb"));
    assert_eq!(meta.size, Some(8));
}

#[tokio::test]
async fn put_symbol_records_format_arch_file_name_and_size_on_the_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    metadata_describes_the_file(filesystem_store(&dir).await).await;
}

#[tokio::test]
async fn put_symbol_records_format_arch_file_name_and_size_on_seaweedfs() {
    metadata_describes_the_file(seaweedfs_store("meta").await).await;
}

#[tokio::test]
async fn overwrite_mode_replaces_what_create_only_keeps() {
    let store = MemoryStore::new();
    let key = SymbolKey::new("elf:abcdef".parse().unwrap(), FileKind::Gsym);
    let object_key = Layout::Unified.object_key(&key).unwrap();
    assert_eq!(object_key.as_str(), "ab/cdef/gsym");
    let put = |body: &'static str, mode| {
        let opts = PutSymbolOptions::default().mode(mode);
        put_symbol(&store, Layout::Unified, &key, body.into(), opts)
    };
    put("first", PutMode::Create).await.unwrap();
    let again = put("second", PutMode::Create).await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(
        store
            .get_range(&object_key, symstore::ByteRange::From(0))
            .await
            .unwrap(),
        "first"
    );
    put("third", PutMode::Overwrite).await.unwrap();
    assert_eq!(
        store
            .get_range(&object_key, symstore::ByteRange::From(0))
            .await
            .unwrap(),
        "third"
    );
}

#[tokio::test]
async fn a_key_the_layout_cannot_hold_is_refused_before_any_upload() {
    let store = MemoryStore::new();
    let key = SymbolKey::new("pe:5AB380779000".parse().unwrap(), FileKind::Executable);
    let err = put_symbol(
        &store,
        Layout::Debuginfod,
        &key,
        "MZ".into(),
        Default::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
    assert!(err.to_string().contains("only ELF build-ids"), "{err}");
    assert!(store.list_all("").await.unwrap().is_empty());
}

#[test]
fn the_build_ids_read_from_real_binaries_are_the_ones_readelf_prints() {
    for path in real_binaries() {
        let file = upload_debug_file::read_debug_file(&path).unwrap();
        assert_eq!(
            file.id.to_string(),
            format!("elf:{}", readelf_build_id(&path))
        );
        assert_eq!(
            file.kind,
            FileKind::Executable,
            "{} is not debug-only",
            path.display()
        );
        assert_eq!(file.size, std::fs::metadata(&path).unwrap().len());
    }
}

/// Real binaries uploaded under `layout` list back as their symbol keys, byte-identical.
async fn real_binaries_list_back(store: Arc<dyn SymbolStore>, layout: Layout) {
    let binaries = real_binaries();
    for path in &binaries {
        let uploaded = upload_debug_file::upload_debug_file(&*store, layout, path, None)
            .await
            .unwrap();
        assert!(uploaded.stored, "{}", uploaded.object_key);
        let again = upload_debug_file::upload_debug_file(&*store, layout, path, None)
            .await
            .unwrap();
        assert!(
            !again.stored,
            "a second upload of {} is deduplicated",
            path.display()
        );
    }
    let listed: Vec<(SymbolKey, _)> = list_symbols(&*store, layout, "")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), binaries.len(), "{layout}: {listed:?}");
    for path in &binaries {
        let build_id = readelf_build_id(path);
        let (key, meta) = listed
            .iter()
            .find(|(key, _)| key.id.to_string() == format!("elf:{build_id}"))
            .unwrap_or_else(|| panic!("{layout}: {build_id} not listed: {listed:?}"));
        assert_eq!(key.kind, FileKind::Executable);
        let original = std::fs::read(path).unwrap();
        assert_eq!(meta.size, original.len() as u64);
        let stored = store
            .get(&meta.key, Default::default())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(stored[..] == original[..], "{} differs", meta.key);
    }
}

#[tokio::test]
async fn real_binaries_uploaded_under_each_layout_list_back_as_symbol_keys() {
    for layout in Layout::ALL {
        real_binaries_list_back(Arc::new(MemoryStore::new()), layout).await;
    }
}

#[tokio::test]
async fn real_binaries_uploaded_to_seaweedfs_list_back_as_symbol_keys() {
    real_binaries_list_back(seaweedfs_store("list").await, Layout::Unified).await;
}
