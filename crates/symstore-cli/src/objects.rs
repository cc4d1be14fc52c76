//! `ls`, `stat`, `rm` and `gc`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use serde_json::json;
use symstore::s3::S3Store;
use symstore::{ConfigError, Context, Error, ListOptions, ObjectKey, ObjectMeta, SymbolStore};

use crate::store;

fn rfc3339(time: Option<SystemTime>) -> Option<String> {
    time.map(|t| humantime::format_rfc3339_seconds(t).to_string())
}

fn meta_json(meta: &ObjectMeta) -> serde_json::Value {
    json!({
        "key": meta.key.as_str(),
        "size": meta.size,
        "last_modified": rfc3339(meta.last_modified),
        "e_tag": meta.e_tag,
        "content_type": meta.content_type,
        "metadata": meta.metadata,
    })
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::io(Context::new("write to standard output"), e)
}

/// `ls [PREFIX] [-l] [--json]`: streams the listing, page by page; `--json` prints one JSON
/// array, written as the pages arrive.
pub(crate) async fn ls(
    store: &dyn SymbolStore,
    prefix: &str,
    long: bool,
    json: bool,
) -> Result<(), Error> {
    let mut listing = store.list(prefix, ListOptions::default());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    if json {
        out.write_all(b"[").map_err(stdout_error)?;
    }
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        let line = if json {
            let separator = if count == 0 { "\n  " } else { ",\n  " };
            format!("{separator}{}", meta_json(&meta))
        } else if long {
            let modified = rfc3339(meta.last_modified).unwrap_or_else(|| "-".into());
            format!("{:>14} {modified:<20} {}\n", meta.size, meta.key)
        } else {
            format!("{}\n", meta.key)
        };
        out.write_all(line.as_bytes()).map_err(stdout_error)?;
        count += 1;
    }
    if json {
        let end = if count == 0 { "]\n" } else { "\n]\n" };
        out.write_all(end.as_bytes()).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}

/// `stat KEY [--json]`.
pub(crate) async fn stat(store: &dyn SymbolStore, key: &str, json: bool) -> Result<(), Error> {
    let meta = store.head(&ObjectKey::new(key)?).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&meta_json(&meta)).expect("a JSON value serializes")
        );
        return Ok(());
    }
    println!("key:           {}", meta.key);
    println!("size:          {}", meta.size);
    let none = || "-".to_owned();
    println!(
        "last modified: {}",
        rfc3339(meta.last_modified).unwrap_or_else(none)
    );
    println!("e-tag:         {}", meta.e_tag.clone().unwrap_or_else(none));
    println!(
        "content type:  {}",
        meta.content_type.clone().unwrap_or_else(none)
    );
    for (name, value) in &meta.metadata {
        println!("metadata:      {name}={value}");
    }
    Ok(())
}

/// `rm KEY...`: every key is validated before any is removed.
pub(crate) async fn rm(store: &dyn SymbolStore, keys: &[String]) -> Result<(), Error> {
    let keys = keys
        .iter()
        .map(|k| ObjectKey::new(k.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    for key in &keys {
        store.delete(key).await?;
    }
    Ok(())
}

/// `gc [--older-than D] [--prefix P]`: aborts the pending multipart uploads started at least
/// `older_than` ago, printing each.
pub(crate) async fn gc(
    config_path: Option<&Path>,
    prefix: &str,
    older_than: Duration,
) -> Result<(), Error> {
    let config = store::load(config_path)?;
    if !store::is_s3(&config) {
        return Err(ConfigError::single(
            "type",
            format!(
                "`gc` aborts stale multipart uploads, which only the S3-protocol backends \
                 (minio, s3, gcs) have; the configured `{}` store has none to collect",
                config.backend_name()
            ),
        )
        .into());
    }
    let s3 = S3Store::open(&config).await?;
    let aborted = s3.abort_stale_uploads(prefix, older_than).await?;
    let now = SystemTime::now();
    for upload in &aborted {
        let age = upload
            .initiated
            .and_then(|t| now.duration_since(t).ok())
            .map(|age| {
                let rounded = Duration::from_secs(age.as_secs());
                format!(", started {} ago", humantime::format_duration(rounded))
            })
            .unwrap_or_default();
        println!("aborted {} (upload {}{age})", upload.key, upload.upload_id);
    }
    eprintln!(
        "aborted {} pending upload(s) older than {} in bucket {}",
        aborted.len(),
        humantime::format_duration(older_than),
        s3.bucket()
    );
    Ok(())
}
