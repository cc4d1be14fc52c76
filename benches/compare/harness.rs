//! The comparison harness of issue 7: symstore's upload against the clients users would pick
//! instead, on the same file (in page cache) and the same server, interleaved and repeated.
//!
//! Run it through `scripts/bench-compare.sh`, which builds it in release, starts SeaweedFS,
//! installs awscli and makes the file. Subcommands:
//!
//! ```text
//! bench_compare run --file F --seaweedfs URL --bucket B [--reps 3] [--aws PATH] [--clients a,b]
//!                   [--out DIR]
//! bench_compare client KIND --endpoint URL --bucket B --key K --file F
//! bench_compare small --endpoint URL --bucket B [--count 10000] [--size 65536] [--concurrency 16]
//! bench_compare sink --port P
//! ```
//!
//! Upload clients read `--file`; download clients (`symstore-download`, `sdk-get`, `os-get`,
//! `awscli-download`, chosen with `--clients`) fetch an object of the file's size (uploaded to
//! SeaweedFS first, made up by the sink) into `--out` (default `/dev/shm`, so the disk is not
//! what they measure), and `run` checks the size they wrote.
//!
//! `run` starts the sink itself and runs every client in its own process under `/usr/bin/time`,
//! so CPU (user + sys) and peak RSS are the client's alone, process start included. Credentials
//! come from `SYMSTORE_TEST_ACCESS_KEY` / `SYMSTORE_TEST_SECRET_KEY`. Every address is
//! 127.0.0.1.

#[path = "../sink/mod.rs"]
mod sink;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::aws::{AmazonS3Builder, Checksum};
use symstore::config::MinioConfig;
use symstore::{
    ObjectKey, PutOptions, PutPayload, Secret, StoreConfig, SymbolStore, SymbolStoreExt,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const MIB: usize = 1024 * 1024;
const PART: usize = 8 * MIB;
const CONCURRENCY: usize = 4;

/// The upload clients `run` compares, in the order of the first repetition.
const CLIENTS: &[&str] = &[
    "symstore-file",
    "symstore-stream",
    "sdk-put-path",
    "sdk-multipart",
    "os-signed",
    "os-unsigned",
    "os-unsigned-crc64",
    "awscli-default",
    "awscli-nochecksum",
];

fn main() -> Fallible<()> {
    // object_store's HTTP client (reqwest, rustls without a bundled provider) uses ring, the
    // one rustls provider this workspace compiles (deprecated only for lacking post-quantum
    // key exchange, irrelevant to plain-HTTP benchmarks on 127.0.0.1).
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args.split_first().ok_or("usage: see the module docs")?;
    match command.as_str() {
        "run" => run(&Flags::parse(rest)),
        "client" => {
            let (kind, rest) = rest.split_first().ok_or("client KIND ...")?;
            runtime().block_on(client(kind, &Flags::parse(rest)))
        }
        "small" => runtime().block_on(small(&Flags::parse(rest))),
        "sink" => {
            let port: u16 = Flags::parse(rest).get("port")?.parse()?;
            runtime().block_on(sink::serve(([127, 0, 0, 1], port).into()))?;
            Ok(())
        }
        other => Err(format!("unknown command {other}").into()),
    }
}

/// The clients' runtime: tokio's multi-threaded one, as services use it, or with
/// `BENCH_RUNTIME=current_thread` a single-threaded one (no cross-thread wake-ups).
fn runtime() -> tokio::runtime::Runtime {
    let mut builder = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().expect("tokio runtime")
}

struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: &[String]) -> Self {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if let Some(name) = flag.strip_prefix("--") {
                map.insert(name.to_owned(), it.next().cloned().unwrap_or_default());
            }
        }
        Self(map)
    }

    fn get(&self, name: &str) -> Fallible<String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn or(&self, name: &str, default: &str) -> String {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }
}

fn keys() -> (String, String) {
    let get = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    (
        get("SYMSTORE_TEST_ACCESS_KEY"),
        get("SYMSTORE_TEST_SECRET_KEY"),
    )
}

// ------------------------------------------------------------------------------ clients

async fn client(kind: &str, flags: &Flags) -> Fallible<()> {
    let endpoint = flags.get("endpoint")?;
    let bucket = flags.get("bucket")?;
    let key = flags.get("key")?;
    let file = PathBuf::from(flags.get("file")?);
    let started = Instant::now();
    match kind {
        "symstore-file" => {
            let store = symstore_store(&endpoint, &bucket, false).await?;
            let payload = PutPayload::from_file(&file);
            store
                .put(&ObjectKey::new(key)?, payload, PutOptions::default())
                .await?;
        }
        "symstore-stream" => {
            let store = symstore_store(&endpoint, &bucket, false).await?;
            let payload = PutPayload::from_reader(tokio::fs::File::open(&file).await?);
            store
                .put(&ObjectKey::new(key)?, payload, PutOptions::default())
                .await?;
        }
        "sdk-put-path" => {
            let body = ByteStream::from_path(&file).await?;
            sdk_client(&endpoint)
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body)
                .send()
                .await?;
        }
        "sdk-multipart" => sdk_multipart(&sdk_client(&endpoint), &bucket, &key, &file).await?,
        "os-signed" => object_store_upload(&endpoint, &bucket, &key, &file, false, None).await?,
        "os-unsigned" => object_store_upload(&endpoint, &bucket, &key, &file, true, None).await?,
        "os-unsigned-crc64" => {
            let crc = Some(Checksum::CRC64NVME);
            object_store_upload(&endpoint, &bucket, &key, &file, true, crc).await?
        }
        "symstore-download" => {
            let store = symstore_store(&endpoint, &bucket, false).await?;
            store.download_to(&ObjectKey::new(key)?, &file).await?;
        }
        "sdk-get" => {
            let object = sdk_client(&endpoint)
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await?;
            let mut out = tokio::fs::File::create(&file).await?;
            tokio::io::copy(&mut object.body.into_async_read(), &mut out).await?;
            out.sync_all().await?;
        }
        "os-get" => {
            let store = object_store_client(&endpoint, &bucket, true, None)?;
            let mut stream = store
                .get(&object_store::path::Path::from(key))
                .await?
                .into_stream();
            let mut out = tokio::fs::File::create(&file).await?;
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?).await?;
            }
            out.sync_all().await?;
        }
        other => return Err(format!("unknown client {other}").into()),
    }
    println!("transfer_s={:.3}", started.elapsed().as_secs_f64());
    Ok(())
}

/// Whether `client` downloads (to `--file`) rather than uploads (from it).
fn is_download(client: &str) -> bool {
    client.ends_with("-download") || client.ends_with("-get")
}

async fn symstore_store(
    endpoint: &str,
    bucket: &str,
    create: bool,
) -> Fallible<symstore::s3::S3Store> {
    let (access_key, secret_key) = keys();
    let mut config = MinioConfig::default();
    config.endpoint = endpoint.to_owned();
    config.access_key = access_key;
    config.secret_key = Secret::new(secret_key);
    config.bucket = bucket.to_owned();
    config.create_bucket = create;
    config.connection.read_timeout = Duration::from_secs(60);
    let config = StoreConfig::Minio(config);
    Ok(if create {
        symstore::s3::S3Store::open(&config).await?
    } else {
        symstore::s3::S3Store::connect(&config).await?
    })
}

/// aws-sdk-s3 with its defaults (checksum calculation "when supported", signed payloads).
fn sdk_client(endpoint: &str) -> aws_sdk_s3::Client {
    let (access_key, secret_key) = keys();
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            access_key, secret_key, None, None, "bench",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A hand-driven multipart upload: 8 MiB parts read into memory, 4 in flight.
async fn sdk_multipart(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    file: &Path,
) -> Fallible<()> {
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await?;
    let upload_id = created.upload_id().ok_or("no upload id")?.to_owned();
    let mut file = tokio::fs::File::open(file).await?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut parts = Vec::new();
    let mut number = 0;
    loop {
        let part = read_part(&mut file, PART).await?;
        if part.is_empty() {
            break;
        }
        number += 1;
        while tasks.len() >= CONCURRENCY {
            parts.push(tasks.join_next().await.expect("a task")??);
        }
        let request = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(part));
        tasks.spawn(async move {
            let sent = request.send().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(sent.e_tag().map(str::to_owned))
                    .set_checksum_crc32(sent.checksum_crc32().map(str::to_owned))
                    .build(),
            )
        });
    }
    while let Some(part) = tasks.join_next().await {
        parts.push(part??);
    }
    parts.sort_by_key(|p| p.part_number());
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

async fn read_part(file: &mut tokio::fs::File, size: usize) -> std::io::Result<Bytes> {
    let mut buffer = BytesMut::zeroed(size);
    let mut filled = 0;
    while filled < size {
        let n = file.read(&mut buffer[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buffer.truncate(filled);
    Ok(buffer.freeze())
}

fn object_store_client(
    endpoint: &str,
    bucket: &str,
    unsigned: bool,
    checksum: Option<Checksum>,
) -> Fallible<object_store::aws::AmazonS3> {
    let (access_key, secret_key) = keys();
    let mut builder = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id(access_key)
        .with_secret_access_key(secret_key)
        .with_unsigned_payload(unsigned);
    if let Some(checksum) = checksum {
        builder = builder.with_checksum_algorithm(checksum);
    }
    Ok(builder.build()?)
}

/// object_store's `WriteMultipart`: 8 MiB parts, 4 in flight.
async fn object_store_upload(
    endpoint: &str,
    bucket: &str,
    key: &str,
    file: &Path,
    unsigned: bool,
    checksum: Option<Checksum>,
) -> Fallible<()> {
    let store = object_store_client(endpoint, bucket, unsigned, checksum)?;
    let upload = store
        .put_multipart(&object_store::path::Path::from(key))
        .await?;
    let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
    let mut file = tokio::fs::File::open(file).await?;
    let mut buffer = vec![0u8; MIB];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(CONCURRENCY).await?;
        writer.write(&buffer[..n]);
    }
    writer.finish().await?;
    Ok(())
}

/// Many small puts at a fixed concurrency through symstore; prints objects/s and latencies.
async fn small(flags: &Flags) -> Fallible<()> {
    let endpoint = flags.get("endpoint")?;
    let bucket = flags.get("bucket")?;
    let count: usize = flags.or("count", "10000").parse()?;
    let size: usize = flags.or("size", "65536").parse()?;
    let concurrency: usize = flags.or("concurrency", "16").parse()?;
    let store = Arc::new(symstore_store(&endpoint, &bucket, false).await?);
    let body = Bytes::from(vec![7u8; size]);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..count)
        .map(|i| {
            let (store, body) = (store.clone(), body.clone());
            async move {
                let key = ObjectKey::new(format!("small/{i}/{size}")).expect("a valid key");
                let at = Instant::now();
                store
                    .put(&key, PutPayload::from_bytes(body), PutOptions::default())
                    .await
                    .map(|_| at.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let wall = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "transfer_s={wall:.3} objects_per_s={:.0} p50_ms={:.2} p99_ms={:.2}",
        count as f64 / wall,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}

// ------------------------------------------------------------------------------ run

/// One client process's figures, from `/usr/bin/time` and the client's own line.
#[derive(Debug, Clone, Default)]
struct Sample {
    wall_s: f64,
    cpu_s: f64,
    rss_kib: f64,
    extra: String,
}

fn run(flags: &Flags) -> Fallible<()> {
    let file = PathBuf::from(flags.get("file")?);
    let seaweedfs = flags.get("seaweedfs")?;
    let bucket = flags.get("bucket")?;
    let reps: usize = flags.or("reps", "3").parse()?;
    let aws = flags.or("aws", "aws");
    let work = PathBuf::from(flags.or("work", "/tmp/symstore-bench-compare"));
    let clients: Vec<String> = match flags.0.get("clients") {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => CLIENTS.iter().map(|c| c.to_string()).collect(),
    };
    let small_count = flags.or("small-count", "10000");
    std::fs::create_dir_all(&work)?;
    let size = std::fs::metadata(&file)?.len();
    let gib = size as f64 / (1u64 << 30) as f64;

    // Downloads write to memory-backed storage where there is some, so the disk's write speed
    // is not what they measure.
    let out_dir = PathBuf::from(flags.or(
        "out",
        if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        },
    ));
    let download_key = format!("compare/download/{size}");
    runtime().block_on(async {
        let store = symstore_store(&seaweedfs, &bucket, true).await?;
        if clients.iter().any(|c| is_download(c)) {
            // The object the download clients fetch from SeaweedFS (the sink makes up a
            // body of the size the key ends with).
            store
                .put(
                    &ObjectKey::new(download_key.as_str())?,
                    PutPayload::from_file(&file),
                    PutOptions::default(),
                )
                .await?;
        }
        Fallible::Ok(())
    })?;
    let (port, mut sink_process) = start_sink(&work)?;
    let sink_url = format!("http://127.0.0.1:{port}");
    let servers = [
        ("seaweedfs", seaweedfs.as_str()),
        ("sink", sink_url.as_str()),
    ];

    let mut samples: HashMap<(String, String), Vec<Sample>> = HashMap::new();
    let outcome = (|| -> Fallible<()> {
        for rep in 0..reps {
            // Rotate the order each repetition so no client always runs first or last.
            let mut order = clients.clone();
            order.rotate_left(rep % clients.len().max(1));
            for client in &order {
                for (server, endpoint) in servers {
                    let (key, path) = if is_download(client) {
                        (download_key.clone(), out_dir.join(format!("{client}.out")))
                    } else {
                        (format!("compare/{client}/obj"), file.clone())
                    };
                    let command = client_command(client, endpoint, &bucket, &key, &path, &aws)?;
                    let sample = timed(command, &work)?;
                    if server == "seaweedfs" && !is_download(client) {
                        // SeaweedFS reclaims a deleted object's space only in a vacuum, by
                        // default every 15 minutes: without both, repeated 4 GiB uploads
                        // fill the disk (seen: 60 GiB in one run).
                        runtime().block_on(async {
                            let store = symstore_store(endpoint, &bucket, false).await?;
                            store.delete(&ObjectKey::new(key.as_str())?).await?;
                            vacuum_seaweedfs().await
                        })?;
                    }
                    if is_download(client) {
                        let got = std::fs::metadata(&path)?.len();
                        std::fs::remove_file(&path)?;
                        if got != size {
                            return Err(format!("{client} wrote {got} bytes, not {size}").into());
                        }
                    }
                    eprintln!(
                        "rep {} {server:9} {client:18} wall {:.2}s cpu {:.2}s rss {:.0} MiB",
                        rep + 1,
                        sample.wall_s,
                        sample.cpu_s,
                        sample.rss_kib / 1024.0
                    );
                    samples
                        .entry((server.to_owned(), client.clone()))
                        .or_default()
                        .push(sample);
                }
            }
            if small_count != "0" {
                for (server, endpoint) in servers {
                    let mut command = Command::new(std::env::current_exe()?);
                    command.args([
                        "small",
                        "--endpoint",
                        endpoint,
                        "--bucket",
                        &bucket,
                        "--count",
                        &small_count,
                    ]);
                    let sample = timed(command, &work)?;
                    eprintln!(
                        "rep {} {server:9} small-64k-c16      {} cpu {:.2}s",
                        rep + 1,
                        sample.extra,
                        sample.cpu_s
                    );
                    samples
                        .entry((server.to_owned(), "symstore-small".to_owned()))
                        .or_default()
                        .push(sample);
                }
            }
        }
        Ok(())
    })();
    let _ = sink_process.kill();
    let _ = sink_process.wait();
    outcome?;

    println!(
        "\n{} x {:.2} GiB, {reps} repetitions, medians (wall and CPU of the whole client process)\n",
        clients.len(),
        gib
    );
    println!("| server | client | wall s | GiB/s | CPU s/GiB | peak RSS MiB |");
    println!("|---|---|---:|---:|---:|---:|");
    for (server, _) in servers {
        for client in &clients {
            let Some(list) = samples.get(&(server.to_owned(), client.clone())) else {
                continue;
            };
            let wall = median(list.iter().map(|s| s.wall_s));
            let cpu = median(list.iter().map(|s| s.cpu_s));
            let rss = median(list.iter().map(|s| s.rss_kib));
            println!(
                "| {server} | {client} | {wall:.2} | {:.3} | {:.3} | {:.0} |",
                gib / wall,
                cpu / gib,
                rss / 1024.0
            );
        }
    }
    let count: f64 = small_count.parse()?;
    for (server, _) in servers {
        if let Some(list) = samples.get(&(server.to_owned(), "symstore-small".to_owned())) {
            let field = |name: &str| {
                median(list.iter().map(|s| {
                    s.extra
                        .split_whitespace()
                        .find_map(|f| f.strip_prefix(&format!("{name}=")))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN)
                }))
            };
            println!(
                "\nsmall puts ({count} x 64 KiB, concurrency 16, symstore) on {server}: \
                 {:.0} objects/s, p50 {:.2} ms, p99 {:.2} ms, client CPU {:.0} us/object, \
                 peak RSS {:.0} MiB",
                field("objects_per_s"),
                field("p50_ms"),
                field("p99_ms"),
                median(list.iter().map(|s| s.cpu_s)) / count * 1e6,
                median(list.iter().map(|s| s.rss_kib)) / 1024.0
            );
        }
    }
    println!("\nwhat each client sent (logged by the sink):");
    print!("{}", std::fs::read_to_string(work.join("sink.log"))?);
    Ok(())
}

/// Asks SeaweedFS's master (`SYMSTORE_SEAWEEDFS_MASTER`, from `scripts/test-servers.sh`) to
/// compact every volume with garbage now; the call returns when it is done.
async fn vacuum_seaweedfs() -> Fallible<()> {
    let Ok(master) = std::env::var("SYMSTORE_SEAWEEDFS_MASTER") else {
        return Ok(());
    };
    reqwest::Client::new()
        .get(format!("{master}/vol/vacuum?garbageThreshold=0.01"))
        .timeout(Duration::from_secs(300))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn start_sink(work: &Path) -> Fallible<(u16, std::process::Child)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::File::create(work.join("sink.log"))?;
    let child = Command::new(std::env::current_exe()?)
        .args(["sink", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((port, child));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the sink did not start".into())
}

fn client_command(
    client: &str,
    endpoint: &str,
    bucket: &str,
    key: &str,
    file: &Path,
    aws: &str,
) -> Fallible<Command> {
    if let Some(variant) = client.strip_prefix("awscli-") {
        let (access_key, secret_key) = keys();
        let config = std::env::temp_dir().join(format!("symstore-bench-aws-{variant}.ini"));
        // `payload_signing_enabled = false` turns the SHA-256 of each part into
        // UNSIGNED-PAYLOAD (seen on the sink, even over http://); `when_required` turns off
        // the default CRC32 header.
        let text = match variant {
            "default" | "download" => "[default]\n",
            _ => {
                "[default]\nrequest_checksum_calculation = when_required\n\
                 s3 =\n    payload_signing_enabled = false\n"
            }
        };
        std::fs::write(&config, text)?;
        let object = format!("s3://{bucket}/{key}");
        let mut command = Command::new(aws);
        command.args(["s3", "cp", "--only-show-errors", "--endpoint-url", endpoint]);
        if is_download(client) {
            command.arg(object).arg(file);
        } else {
            command.arg(file).arg(object);
        }
        command
            .env("AWS_ACCESS_KEY_ID", access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        return Ok(command);
    }
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["client", client, "--endpoint", endpoint, "--bucket", bucket])
        .args(["--key", key, "--file"])
        .arg(file);
    Ok(command)
}

/// Runs `command` under `/usr/bin/time` and reads its wall, user + sys and peak RSS.
fn timed(command: Command, work: &Path) -> Fallible<Sample> {
    let report = work.join("time.out");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%e %U %S %M", "-o"])
        .arg(&report)
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            timed.env(name, value);
        }
    }
    let output = timed.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("{:?} failed: {}", command, output.status).into());
    }
    let text = std::fs::read_to_string(&report)?;
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(f64::NAN))
        .collect();
    let [wall_s, user, sys, rss_kib] = fields[..] else {
        return Err(format!("unexpected /usr/bin/time output {text:?}").into());
    };
    Ok(Sample {
        wall_s,
        cpu_s: user + sys,
        rss_kib,
        extra: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    })
}
