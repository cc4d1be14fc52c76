//! Test support: the S3 servers started by `scripts/test-servers.sh`, stores on them, and a
//! recording TCP proxy. Every address is on 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

pub mod imds;

pub mod fault_proxy;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use symstore_core::config::{GcsConfig, MinioConfig, StoreConfig};
use symstore_core::{Secret, SymbolStore};
use symstore_s3::S3Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The S3 servers the test command starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    SeaweedFs,
    Moto,
    JuiceFs,
}

impl Server {
    fn variable(self) -> &'static str {
        match self {
            Server::SeaweedFs => "SYMSTORE_SEAWEEDFS_ENDPOINT",
            Server::Moto => "SYMSTORE_MOTO_ENDPOINT",
            Server::JuiceFs => "SYMSTORE_JUICEFS_ENDPOINT",
        }
    }

    pub fn endpoint(self) -> String {
        env(self.variable())
    }

    pub fn name(self) -> &'static str {
        match self {
            Server::SeaweedFs => "seaweedfs",
            Server::Moto => "moto",
            Server::JuiceFs => "juicefs",
        }
    }
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `scripts/test.sh`, which starts the S3 \
             test servers on 127.0.0.1"
        )
    })
}

pub fn access_key() -> String {
    env("SYMSTORE_TEST_ACCESS_KEY")
}

pub fn secret_key() -> String {
    env("SYMSTORE_TEST_SECRET_KEY")
}

/// A bucket name unique to this test process and `label`.
pub fn bucket(label: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
    });
    format!("t-{label}-{run}")
}

/// A `minio` config for `endpoint` with the admin keys, creating the bucket.
pub fn minio_config(endpoint: &str, bucket: &str) -> MinioConfig {
    let mut config = MinioConfig::default();
    config.endpoint = endpoint.to_owned();
    config.access_key = access_key();
    config.secret_key = Secret::new(secret_key());
    config.bucket = bucket.to_owned();
    config.create_bucket = true;
    config.connection.connect_timeout = Duration::from_secs(2);
    config.connection.read_timeout = Duration::from_secs(10);
    config
}

/// A `gcs` (HMAC, XML API) config pointed at `endpoint`.
pub fn gcs_config(endpoint: &str, bucket: &str) -> GcsConfig {
    let mut config = GcsConfig::default();
    config.endpoint = Some(endpoint.to_owned());
    config.access_key = access_key();
    config.secret_key = Secret::new(secret_key());
    config.bucket = bucket.to_owned();
    config.create_bucket = true;
    config
}

pub async fn open(config: StoreConfig) -> S3Store {
    S3Store::open(&config)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", config.backend_name()))
}

pub async fn minio_store(server: Server, label: &str) -> S3Store {
    open(StoreConfig::Minio(minio_config(
        &server.endpoint(),
        &bucket(label),
    )))
    .await
}

pub fn shared(store: S3Store) -> Arc<dyn SymbolStore> {
    Arc::new(store)
}

/// The bytes one client connection sent.
type Recorded = Arc<Mutex<Vec<u8>>>;

/// A TCP proxy on 127.0.0.1 that forwards to `upstream` and records every byte each client
/// connection sent, so a test can see what went on the wire.
pub struct RecordingProxy {
    pub endpoint: String,
    connections: Arc<Mutex<Vec<Recorded>>>,
}

impl RecordingProxy {
    pub async fn start(upstream: &str) -> Self {
        let connections: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let all = connections.clone();
        let endpoint = relay(upstream, move |client, server| {
            let record = Recorded::default();
            all.lock().unwrap().push(record.clone());
            async move {
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    pump(client_read, server_write, Some(record), None),
                    pump(server_read, client_write, None, None),
                );
            }
        })
        .await;
        Self {
            endpoint,
            connections,
        }
    }

    /// The request heads (request line and headers, lowercased) sent so far, parsed as the
    /// HTTP/1.1 requests of each connection in turn.
    pub fn request_heads(&self) -> Vec<String> {
        let connections = self.connections.lock().unwrap();
        let mut heads = Vec::new();
        for connection in connections.iter() {
            let bytes = connection.lock().unwrap();
            let mut rest: &[u8] = &bytes;
            while let Some(end) = find(rest, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
                let body_len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                heads.push(head);
                let next = (end + 4 + body_len).min(rest.len());
                rest = &rest[next..];
            }
        }
        heads
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A port on 127.0.0.1 that accepts connections and never answers.
pub async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (endpoint, task)
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A TCP proxy on 127.0.0.1 that passes requests through and trickles responses back,
/// `chunk` bytes every `interval`: a slow but steadily progressing server.
pub async fn trickling_proxy(upstream: &str, chunk: usize, interval: Duration) -> String {
    relay(upstream, move |client, server| async move {
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::join!(
            pump(client_read, server_write, None, None),
            pump(server_read, client_write, None, Some((chunk, interval))),
        );
    })
    .await
}

/// A TCP proxy on 127.0.0.1 that forwards to `upstream` and records both directions: what
/// the client sent and what the server answered.
pub struct TranscriptProxy {
    pub endpoint: String,
    sent: Arc<Mutex<Vec<u8>>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl TranscriptProxy {
    pub async fn start(upstream: &str) -> Self {
        let sent = Recorded::default();
        let received = Recorded::default();
        let (record_sent, record_received) = (sent.clone(), received.clone());
        let endpoint = relay(upstream, move |client, server| {
            let (sent, received) = (record_sent.clone(), record_received.clone());
            async move {
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    pump(client_read, server_write, Some(sent), None),
                    pump(server_read, client_write, Some(received), None),
                );
            }
        })
        .await;
        Self {
            endpoint,
            sent,
            received,
        }
    }

    /// Everything the clients sent so far, as text.
    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
    }

    /// Everything the server answered so far, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

/// Listens on 127.0.0.1 and, for each client connection, connects to `upstream`
/// (`http://host:port`) and runs `per_connection` on the two streams; returns the proxy's
/// endpoint.
async fn relay<F, Fut>(upstream: &str, per_connection: F) -> String
where
    F: Fn(TcpStream, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            tokio::spawn(per_connection(client, server));
        }
    });
    endpoint
}

/// Copies `from` to `to` until either side closes, appending what passes to `record`, and,
/// with `trickle`, passing at most `chunk` bytes every `interval`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    record: Option<Recorded>,
    trickle: Option<(usize, Duration)>,
) {
    let mut buffer = vec![0u8; trickle.map_or(64 * 1024, |(chunk, _)| chunk)];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(record) = &record {
            record.lock().unwrap().extend_from_slice(&buffer[..n]);
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        if let Some((_, interval)) = trickle {
            tokio::time::sleep(interval).await;
        }
    }
    let _ = to.shutdown().await;
}
