//! Large uploads through symstore's multipart driver (8 MiB parts, 4 in flight, CRC32C per
//! part, unsigned payload) against SeaweedFS on 127.0.0.1: 64 MiB, 256 MiB and 1 GiB from
//! memory, and 256 MiB and 1 GiB from a file (positional reads into the part buffers).
//!
//! ```text
//! SYMSTORE_TEST_RUN_DIR=/tmp/run-bench bash scripts/test-servers.sh start
//! source /tmp/run-bench/env
//! cargo bench --bench large_uploads
//! ```
//!
//! The 1 GiB (and larger) figures, from a file and against peers, come from the comparison
//! harness (`scripts/bench-compare.sh`). Without `SYMSTORE_SEAWEEDFS_ENDPOINT` it skips.

use std::time::Duration;

use bytes::Bytes;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use symstore::config::MinioConfig;
use symstore::{ObjectKey, PutOptions, PutPayload, Secret, StoreConfig};

const MIB: usize = 1024 * 1024;

fn large_uploads(c: &mut Criterion) {
    let Ok(endpoint) = std::env::var("SYMSTORE_SEAWEEDFS_ENDPOINT") else {
        eprintln!(
            "large_uploads: SYMSTORE_SEAWEEDFS_ENDPOINT is not set, skipping (start the servers \
             with scripts/test-servers.sh and source its env file)"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut config = MinioConfig::default();
    config.endpoint = endpoint;
    config.access_key = std::env::var("SYMSTORE_TEST_ACCESS_KEY").expect("access key");
    config.secret_key = Secret::new(std::env::var("SYMSTORE_TEST_SECRET_KEY").expect("secret"));
    config.bucket = "bench-large-uploads".to_owned();
    config.create_bucket = true;
    config.connection.read_timeout = Duration::from_secs(60);
    let store = runtime
        .block_on(symstore::open(&StoreConfig::Minio(config)))
        .expect("open the SeaweedFS store");

    let mut group = c.benchmark_group("upload");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("a temporary directory");
    for mib in [64, 256, 1024] {
        let body = Bytes::from((0..mib * MIB).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let key = ObjectKey::new(format!("large/{mib}MiB")).expect("a valid key");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(BenchmarkId::new("memory", format!("{mib}MiB")), |b| {
            b.to_async(&runtime).iter(|| {
                store.put(
                    &key,
                    PutPayload::from_bytes(body.clone()),
                    PutOptions::default(),
                )
            })
        });
        if mib >= 256 {
            // Written once, then read from the page cache by every iteration.
            let path = dir.path().join(format!("{mib}MiB.bin"));
            std::fs::write(&path, &body).expect("write the file");
            drop(body);
            group.bench_function(BenchmarkId::new("file", format!("{mib}MiB")), |b| {
                b.to_async(&runtime)
                    .iter(|| store.put(&key, PutPayload::from_file(&path), PutOptions::default()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, large_uploads);
criterion_main!(benches);
