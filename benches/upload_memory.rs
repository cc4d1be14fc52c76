//! Peak memory of a streaming upload: uploads SIZE bytes, generated on the fly as a stream of
//! unknown length, to the S3 server in `$SYMSTORE_SEAWEEDFS_ENDPOINT` and prints the peak
//! resident set size (`VmHWM` from `/proc/self/status`) with the bound the upload driver
//! promises: `part_size * (concurrency + 2) + 20 MiB`, whatever SIZE is.
//!
//! A program, not a timed test: one size per process, so each peak is its own. Run it through
//! `scripts/bench-memory.sh`, which starts the servers, builds in release and writes the
//! table of BENCHMARKS.md; by hand:
//!
//! ```text
//! cargo bench --bench upload_memory -- 1GiB [--part-size-mib 8] [--concurrency 4]
//! ```
//!
//! The object is checked (size, ETag of N parts, nothing pending) and deleted afterwards.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use symstore::config::{MinioConfig, StoreConfig};
use symstore::s3::S3Store;
use symstore::{ObjectKey, PutOptions, PutPayload, Secret, SymbolStore};

const MIB: u64 = 1024 * 1024;
/// The chunk size of the generated stream, as `PutPayload::from_reader` reads.
const CHUNK: usize = 256 * 1024;

struct Args {
    size: u64,
    part_size: u64,
    concurrency: usize,
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1024,
        "mib" | "m" => MIB,
        "gib" | "g" => 1024 * MIB,
        _ => return None,
    };
    number.parse::<u64>().ok().map(|n| n * factor)
}

fn args() -> Args {
    let defaults = MinioConfig::default().upload;
    let mut args = Args {
        size: 1024 * MIB,
        part_size: defaults.part_size,
        concurrency: defaults.concurrency,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            "--part-size-mib" => {
                args.part_size = it.next().and_then(|v| v.parse::<u64>().ok()).expect("MiB") * MIB
            }
            "--concurrency" => {
                args.concurrency = it.next().and_then(|v| v.parse().ok()).expect("a count")
            }
            other => {
                args.size = parse_size(other)
                    .unwrap_or_else(|| panic!("`{other}` is not a size such as 1GiB or 512MiB"))
            }
        }
    }
    args
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/bench-memory.sh, which starts SeaweedFS")
    })
}

/// A `VmXXX:   1234 kB` line of `/proc/self/status`, in bytes.
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// `size` bytes of a xorshift sequence in fresh `CHUNK`-sized buffers, as a reader of a
/// pipe would hand them over; the length is not announced.
fn generated(size: u64) -> symstore::ByteStream {
    futures::stream::unfold(
        (0u64, 0x2545_f491_4f6c_dd1du64),
        move |(sent, mut state)| async move {
            if sent >= size {
                return None;
            }
            let len = (size - sent).min(CHUNK as u64) as usize;
            let mut chunk = BytesMut::with_capacity(len);
            while chunk.len() < len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let word = state.to_le_bytes();
                let take = word.len().min(len - chunk.len());
                chunk.extend_from_slice(&word[..take]);
            }
            let chunk: Bytes = chunk.freeze();
            Some((Ok(chunk), (sent + len as u64, state)))
        },
    )
    .boxed()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let mut config = MinioConfig::default();
    config.endpoint = env("SYMSTORE_SEAWEEDFS_ENDPOINT");
    config.access_key = env("SYMSTORE_TEST_ACCESS_KEY");
    config.secret_key = Secret::new(env("SYMSTORE_TEST_SECRET_KEY"));
    config.bucket = format!("bench-memory-{}", std::process::id());
    config.create_bucket = true;
    config.upload.part_size = args.part_size;
    config.upload.concurrency = args.concurrency;
    let upload = config.upload;
    let store = S3Store::open(&StoreConfig::Minio(config))
        .await
        .unwrap_or_else(|e| panic!("open SeaweedFS: {e}"));
    let key = ObjectKey::new(format!("bench/upload-memory/{}", args.size)).unwrap();

    let before = proc_status("VmHWM");
    let started = Instant::now();
    let result = store
        .put(
            &key,
            PutPayload::from_stream(generated(args.size), None),
            PutOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("upload of {} bytes: {e}", args.size));
    let seconds = started.elapsed().as_secs_f64();
    let peak = proc_status("VmHWM");

    let meta = store.head(&key).await.expect("head of the uploaded object");
    assert_eq!(meta.size, args.size, "stored size");
    let parts = args.size.div_ceil(upload.part_size);
    let e_tag = result.e_tag.unwrap_or_default();
    assert!(
        e_tag.trim_matches('"').ends_with(&format!("-{parts}")),
        "ETag {e_tag} shows {parts} parts"
    );
    assert!(
        store
            .list_pending_uploads("bench/")
            .await
            .unwrap()
            .is_empty()
    );
    store.delete(&key).await.expect("delete the object");
    let _ = store
        .client()
        .delete_bucket()
        .bucket(store.bucket())
        .send()
        .await;

    let bound = upload.part_size * (upload.concurrency as u64 + 2) + 20 * MIB;
    println!(
        "size_mib={:.0} peak_rss_mib={:.1} peak_rss_before_upload_mib={:.1} bound_mib={:.0} \
         within_bound={} seconds={:.1} mib_per_s={:.0} part_mib={} concurrency={} parts={}",
        mib(args.size),
        mib(peak),
        mib(before),
        mib(bound),
        peak <= bound,
        seconds,
        mib(args.size) / seconds,
        upload.part_size / MIB,
        upload.concurrency,
        parts,
    );
}
