//! symstore in one minute, on the embedded filesystem store (no server, no configuration).
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Stores a generated 64 MiB debug artifact (streamed, never held whole in memory) and a few
//! small files under `./symstore-data` (or `$SYMSTORE_ROOT`), lists them, reads a range of
//! the large one back and verifies every byte.

use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use symstore::{ByteRange, ObjectKey, PutOptions, PutPayload, SymbolStoreExt};

const ARTIFACT_SIZE: usize = 64 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

/// The artifact's bytes: a cheap deterministic pattern, so any range can be recomputed.
fn artifact_byte(offset: usize) -> u8 {
    let x = (offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8
}

fn artifact_chunk(index: usize) -> Bytes {
    let start = index * CHUNK;
    (start..start + CHUNK).map(artifact_byte).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = symstore::default_config();
    let store = symstore::open(&config).await?;
    println!("store:   {store} (the embedded default)");

    let build_id = "4f1c2d3e5a6b7c8d9e0f11223344556677889900";
    let artifact = ObjectKey::new(format!(
        "quickstart/{}/{}/debuginfo",
        &build_id[..2],
        &build_id[2..]
    ))?;
    let started = Instant::now();
    let chunks = futures::stream::iter(0..ARTIFACT_SIZE / CHUNK).map(|i| Ok(artifact_chunk(i)));
    let put = store
        .put(
            &artifact,
            PutPayload::from_stream(chunks.boxed(), None),
            PutOptions::default()
                .content_type("application/x-elf")
                .metadata("build-id", build_id),
        )
        .await?;
    println!(
        "put:     {artifact} ({} MiB streamed in {:.2?})",
        put.size / (1024 * 1024),
        started.elapsed()
    );

    for (name, body) in [
        ("libfoo.so.sym", "MODULE Linux x86_64 4F1C2D3E libfoo.so\n"),
        ("app.gsym", "GSYM\u{1}"),
        ("sources/main.c", "int main(void) { return 0; }\n"),
    ] {
        let key = ObjectKey::new(format!("quickstart/small/{name}"))?;
        store
            .put(&key, body.as_bytes().to_vec().into(), PutOptions::default())
            .await?;
    }
    println!("put:     3 small files under quickstart/small/");

    let listed: Vec<_> = store
        .list("quickstart/", Default::default())
        .try_collect()
        .await?;
    println!("list:    {} objects under quickstart/", listed.len());
    for meta in &listed {
        println!("           {:>10} bytes  {}", meta.size, meta.key);
    }

    let (start, len) = (ARTIFACT_SIZE / 2 + 12_345, 4096);
    let range = store
        .get_range(
            &artifact,
            ByteRange::Bounded(start as u64..(start + len) as u64),
        )
        .await?;
    let expected: Vec<u8> = (start..start + len).map(artifact_byte).collect();
    assert_eq!(
        range.as_ref(),
        expected.as_slice(),
        "the range read back differs"
    );
    println!("range:   {len} bytes at offset {start} match");

    let started = Instant::now();
    let mut whole = store.get(&artifact, Default::default()).await?.stream;
    let mut offset = 0usize;
    while let Some(chunk) = whole.try_next().await? {
        let want: Vec<u8> = (offset..offset + chunk.len()).map(artifact_byte).collect();
        assert_eq!(
            chunk.as_ref(),
            want.as_slice(),
            "byte mismatch near offset {offset}"
        );
        offset += chunk.len();
    }
    assert_eq!(offset, ARTIFACT_SIZE, "the artifact read back is truncated");
    println!(
        "verify:  all {offset} bytes match ({:.2?})",
        started.elapsed()
    );

    let report = store.check().await;
    println!("check:   {}", if report.is_ok() { "ok" } else { "FAILED" });
    if !report.is_ok() {
        print!("{report}");
        std::process::exit(1);
    }
    Ok(())
}
