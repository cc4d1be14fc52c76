//! Small-object latency and throughput through symstore's S3 backend against SeaweedFS on
//! 127.0.0.1: put, get and head of 4 KiB and 64 KiB objects, one at a time and 16 at once.
//!
//! ```text
//! SYMSTORE_TEST_RUN_DIR=/tmp/run-bench bash scripts/test-servers.sh start
//! source /tmp/run-bench/env
//! cargo bench --bench small_objects
//! ```
//!
//! Each iteration of a `c16` benchmark runs 16 requests at once; the throughput criterion
//! prints is in requests per second. Without `SYMSTORE_SEAWEEDFS_ENDPOINT` it skips.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::future::try_join_all;
use symstore::config::MinioConfig;
use symstore::{GetOptions, ObjectKey, PutOptions, PutPayload, Secret, StoreConfig, SymbolStore};

const SIZES: [(usize, &str); 2] = [(4 * 1024, "4KiB"), (64 * 1024, "64KiB")];
const CONCURRENCY: [usize; 2] = [1, 16];

fn store(runtime: &tokio::runtime::Runtime) -> Option<Arc<dyn SymbolStore>> {
    let Ok(endpoint) = std::env::var("SYMSTORE_SEAWEEDFS_ENDPOINT") else {
        eprintln!(
            "small_objects: SYMSTORE_SEAWEEDFS_ENDPOINT is not set, skipping (start the servers \
             with scripts/test-servers.sh and source its env file)"
        );
        return None;
    };
    let mut config = MinioConfig::default();
    config.endpoint = endpoint;
    config.access_key = std::env::var("SYMSTORE_TEST_ACCESS_KEY").expect("access key");
    config.secret_key = Secret::new(std::env::var("SYMSTORE_TEST_SECRET_KEY").expect("secret"));
    config.bucket = "bench-small-objects".to_owned();
    config.create_bucket = true;
    let config = StoreConfig::Minio(config);
    let store = runtime
        .block_on(symstore::open(&config))
        .expect("open the SeaweedFS store");
    Some(store)
}

fn key(size: &str, i: usize) -> ObjectKey {
    ObjectKey::new(format!("small/{size}/{i}")).expect("a valid key")
}

fn small_objects(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let Some(store) = store(&runtime) else {
        return;
    };
    for (size, label) in SIZES {
        let body = Bytes::from(vec![0x5a; size]);
        // The objects get and head read: one per concurrent request.
        runtime
            .block_on(try_join_all((0..16).map(|i| {
                let (store, body) = (store.clone(), body.clone());
                async move {
                    let payload = PutPayload::from_bytes(body);
                    store
                        .put(&key(label, i), payload, PutOptions::default())
                        .await
                }
            })))
            .expect("seed objects");
        for operation in ["put", "get", "head"] {
            let mut group = c.benchmark_group(operation);
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
            for concurrency in CONCURRENCY {
                group.throughput(Throughput::Elements(concurrency as u64));
                let id = BenchmarkId::from_parameter(format!("{label}/c{concurrency}"));
                group.bench_function(id, |b| {
                    b.to_async(&runtime).iter(|| {
                        try_join_all((0..concurrency).map(|i| {
                            let (store, body) = (store.clone(), body.clone());
                            async move {
                                let key = key(label, i);
                                match operation {
                                    "put" => store
                                        .put(
                                            &key,
                                            PutPayload::from_bytes(body),
                                            PutOptions::default(),
                                        )
                                        .await
                                        .map(drop),
                                    "get" => {
                                        let result = store.get(&key, GetOptions::default()).await?;
                                        result.bytes().await.map(drop)
                                    }
                                    _ => store.head(&key).await.map(drop),
                                }
                            }
                        }))
                    })
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, small_objects);
criterion_main!(benches);
