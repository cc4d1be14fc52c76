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
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let all = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let record = Arc::new(Mutex::new(Vec::new()));
                all.lock().unwrap().push(record.clone());
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream_copy = async {
                        let mut buffer = vec![0u8; 64 * 1024];
                        loop {
                            let n = match client_read.read(&mut buffer).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            record.lock().unwrap().extend_from_slice(&buffer[..n]);
                            if server_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let downstream_copy = async {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                        let _ = client_write.shutdown().await;
                    };
                    tokio::join!(upstream_copy, downstream_copy);
                });
            }
        });
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
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = async {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    let _ = server_write.shutdown().await;
                };
                let down = async {
                    let mut buffer = vec![0u8; chunk];
                    loop {
                        let n = match server_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(interval).await;
                    }
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    endpoint
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
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let sent: Arc<Mutex<Vec<u8>>> = Arc::default();
        let received: Arc<Mutex<Vec<u8>>> = Arc::default();
        let (record_sent, record_received) = (Arc::clone(&sent), Arc::clone(&received));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let (sent, received) = (record_sent.clone(), record_received.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        copy_recording(client_read, server_write, sent),
                        copy_recording(server_read, client_write, received),
                    );
                });
            }
        });
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

async fn copy_recording(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    record: Arc<Mutex<Vec<u8>>>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        record.lock().unwrap().extend_from_slice(&buffer[..n]);
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
