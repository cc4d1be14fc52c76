//! The example debuginfod server is a debuginfod server as far as elfutils' own client can
//! tell: real binaries of this machine, uploaded by the example uploader, come back from
//! `debuginfod-find` byte-identical, from the filesystem store and from SeaweedFS. Ranges,
//! sizes and misses are answered as debuginfod answers them.
//!
//! Every request goes to the server on 127.0.0.1: `debuginfod-find` runs with an environment
//! holding only its local URL and a temporary cache (no other `DEBUGINFOD_*` variable, no
//! proxy). It comes from Debian's `debuginfod` package (`scripts/install-test-tools.sh`).

#[path = "../examples/debuginfod_server.rs"]
#[allow(dead_code)]
mod debuginfod_server;
#[path = "../examples/upload_debug_file.rs"]
#[allow(dead_code)]
mod upload_debug_file;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use symstore::config::{FilesystemConfig, MinioConfig};
use symstore::{
    FileKind, Layout, MemoryStore, PutSymbolOptions, Secret, StoreConfig, SymbolKey, SymbolStore,
    put_symbol,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test.sh, which starts the S3 test servers")
    })
}

async fn seaweedfs_store() -> Arc<dyn SymbolStore> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut config = MinioConfig::default();
    config.endpoint = env("SYMSTORE_SEAWEEDFS_ENDPOINT");
    config.access_key = env("SYMSTORE_TEST_ACCESS_KEY");
    config.secret_key = Secret::new(env("SYMSTORE_TEST_SECRET_KEY"));
    config.bucket = format!(
        "debuginfod-{:x}-{:x}",
        std::process::id(),
        nanos % 0xffff_ffff
    );
    config.create_bucket = true;
    config.connection.connect_timeout = Duration::from_secs(2);
    symstore::open(&StoreConfig::Minio(config)).await.unwrap()
}

/// Starts the example server on an ephemeral port of 127.0.0.1.
async fn start_server(store: Arc<dyn SymbolStore>, layout: Layout) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(debuginfod_server::serve(listener, store, layout));
    addr
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

fn debuginfod_find_program() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("debuginfod-find"))
        .find(|path| path.is_file())
        .expect("debuginfod-find is not installed: run scripts/install-test-tools.sh")
}

/// Runs elfutils' `debuginfod-find ARGS` against `server` only, with a fresh cache; returns
/// the path of the file it fetched.
async fn debuginfod_find(server: SocketAddr, cache: &Path, args: &[&str]) -> PathBuf {
    let mut command = std::process::Command::new(debuginfod_find_program());
    command
        .args(args)
        .env_clear()
        .env("DEBUGINFOD_URLS", format!("http://{server}"))
        .env("DEBUGINFOD_CACHE_PATH", cache)
        .env("DEBUGINFOD_TIMEOUT", "30")
        .env("NO_PROXY", "*")
        .env("HOME", cache);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("debuginfod-find runs");
    assert!(
        output.status.success(),
        "debuginfod-find {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Uploads the real binaries with the example uploader, serves them, and fetches each with
/// `debuginfod-find executable <build-id>`: the files are byte-identical.
async fn debuginfod_find_fetches_what_was_uploaded(store: Arc<dyn SymbolStore>) {
    let cache = tempfile::tempdir().unwrap();
    let server = start_server(store.clone(), Layout::Debuginfod).await;
    for path in real_binaries() {
        let uploaded =
            upload_debug_file::upload_debug_file(&*store, Layout::Debuginfod, &path, None)
                .await
                .unwrap();
        assert!(uploaded.object_key.as_str().ends_with("/executable"));
        let build_id = uploaded.file.id.to_string();
        let build_id = build_id.strip_prefix("elf:").unwrap();

        let fetched = debuginfod_find(server, cache.path(), &["executable", build_id]).await;
        assert!(fetched.starts_with(cache.path()), "{}", fetched.display());
        let original = std::fs::read(&path).unwrap();
        let got = std::fs::read(&fetched).unwrap();
        assert_eq!(got.len(), original.len(), "{}", path.display());
        assert!(
            got == original,
            "{} differs from what was uploaded",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debuginfod_find_fetches_real_binaries_byte_identical_from_the_filesystem_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Filesystem(FilesystemConfig::new(dir.path()));
    debuginfod_find_fetches_what_was_uploaded(symstore::open(&config).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debuginfod_find_fetches_real_binaries_byte_identical_from_seaweedfs() {
    debuginfod_find_fetches_what_was_uploaded(seaweedfs_store().await).await;
}

const BUILD_ID: &str = "0123456789abcdef0123456789abcdef01234567";

fn elf_key(kind: FileKind) -> SymbolKey {
    SymbolKey::new(format!("elf:{BUILD_ID}").parse().unwrap(), kind)
}

/// A store holding one debuginfo file and one source file of `BUILD_ID`.
async fn store_with_debuginfo_and_source(layout: Layout) -> Arc<dyn SymbolStore> {
    let store = Arc::new(MemoryStore::new());
    let files = [
        (FileKind::Debuginfo, "0123456789"),
        (
            FileKind::Source("/usr/src/hello world.c".into()),
            "int main;\n",
        ),
    ];
    for (kind, body) in files {
        put_symbol(
            &*store,
            layout,
            &elf_key(kind),
            body.into(),
            PutSymbolOptions::default(),
        )
        .await
        .unwrap();
    }
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debuginfod_find_fetches_debuginfo_and_sources_by_their_recorded_path() {
    for layout in [Layout::Debuginfod, Layout::Unified] {
        let server = start_server(store_with_debuginfo_and_source(layout).await, layout).await;
        let cache = tempfile::tempdir().unwrap();
        let debuginfo = debuginfod_find(server, cache.path(), &["debuginfo", BUILD_ID]).await;
        assert_eq!(std::fs::read(debuginfo).unwrap(), b"0123456789");
        let source = debuginfod_find(
            server,
            cache.path(),
            &["source", BUILD_ID, "/usr/src/hello world.c"],
        )
        .await;
        assert_eq!(std::fs::read(source).unwrap(), b"int main;\n");
    }
}

/// One HTTP/1.1 exchange with the server on 127.0.0.1.
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn request(server: SocketAddr, method: &str, path: &str, range: Option<&str>) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: {server}\r\n{range}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[tokio::test]
async fn a_whole_file_comes_with_its_size_in_x_debuginfod_size() {
    let server = start_server(
        store_with_debuginfo_and_source(Layout::Debuginfod).await,
        Layout::Debuginfod,
    )
    .await;
    let reply = request(
        server,
        "GET",
        &format!("/buildid/{BUILD_ID}/debuginfo"),
        None,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"0123456789");
    assert_eq!(reply.headers["x-debuginfod-size"], "10");
    assert_eq!(reply.headers["content-length"], "10");
    assert_eq!(reply.headers["accept-ranges"], "bytes");

    let head = request(
        server,
        "HEAD",
        &format!("/buildid/{BUILD_ID}/debuginfo"),
        None,
    )
    .await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.headers["x-debuginfod-size"], "10");
    assert_eq!(head.headers["content-length"], "10");
}

#[tokio::test]
async fn a_byte_range_is_answered_206_with_its_content_range() {
    let server = start_server(
        store_with_debuginfo_and_source(Layout::Debuginfod).await,
        Layout::Debuginfod,
    )
    .await;
    let path = format!("/buildid/{BUILD_ID}/debuginfo");
    for (range, body, content_range) in [
        ("bytes=2-5", &b"2345"[..], "bytes 2-5/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ] {
        let reply = request(server, "GET", &path, Some(range)).await;
        assert_eq!(reply.status, 206, "{range}");
        assert_eq!(reply.body, body, "{range}");
        assert_eq!(reply.headers["content-range"], content_range, "{range}");
        assert_eq!(reply.headers["x-debuginfod-size"], "10", "{range}");
    }
    // Several ranges, or none that parses: the whole file, as RFC 9110 allows.
    for range in ["bytes=0-1,4-5", "lines=1-2", "bytes=5-2"] {
        let reply = request(server, "GET", &path, Some(range)).await;
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, &b"0123456789"[..]),
            "{range}"
        );
    }
    let reply = request(server, "GET", &path, Some("bytes=10-")).await;
    assert_eq!(reply.status, 416);
    assert_eq!(reply.headers["content-range"], "bytes */10");
}

#[tokio::test]
async fn what_is_not_there_is_404_and_a_malformed_build_id_is_400() {
    let server = start_server(
        store_with_debuginfo_and_source(Layout::Debuginfod).await,
        Layout::Debuginfod,
    )
    .await;
    for path in [
        format!("/buildid/{BUILD_ID}/executable"),
        format!("/buildid/{BUILD_ID}/source/usr/src/other.c"),
        "/buildid/ffff/debuginfo".to_owned(),
        format!("/buildid/{BUILD_ID}/section/.debug_info"),
        "/metrics".to_owned(),
    ] {
        assert_eq!(
            request(server, "GET", &path, None).await.status,
            404,
            "{path}"
        );
    }
    let reply = request(server, "GET", "/buildid/xyz/debuginfo", None).await;
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("invalid build-id"));
}

#[tokio::test]
async fn a_source_path_is_the_absolute_path_after_source() {
    let server = start_server(
        store_with_debuginfo_and_source(Layout::Debuginfod).await,
        Layout::Debuginfod,
    )
    .await;
    let reply = request(
        server,
        "GET",
        &format!("/buildid/{BUILD_ID}/source/usr/src/hello%20world.c"),
        None,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, &b"int main;\n"[..])
    );
}
