//! Downloads to a local file: large objects as parallel ranged reads written at their
//! offsets, every range pinned to the same version of the object by its entity tag, the
//! whole object's CRC32C verified when the backend stored one, through a temporary file
//! renamed into place only when complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};

use crate::fs_util::TempFile;
use crate::multipart::crc32c;
use crate::{ByteRange, Context, Error, GetOptions, ObjectKey, Result, SymbolStore};

/// How a download is split.
///
/// ```
/// use symstore_core::download::DownloadOptions;
/// let opts = DownloadOptions::default();
/// assert_eq!(opts.range_size, 8 * 1024 * 1024);
/// assert_eq!(opts.concurrency, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Bytes per ranged read; objects no larger than this are read in one request.
    pub range_size: u64,
    /// Ranged reads in flight. Memory is about `concurrency` times 1 MiB (the write buffer
    /// of each range), whatever `range_size` is.
    pub concurrency: usize,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            range_size: 8 * 1024 * 1024,
            concurrency: 4,
        }
    }
}

/// Writes the object at `key` to `path`; returns its size.
///
/// Objects larger than one range are read as parallel ranged GETs, each with `If-Match` on
/// the entity tag `head` reported: an object replaced during the download fails the download
/// (with [`Error::Precondition`]) instead of mixing two versions. When the object's metadata
/// carries its CRC32C ([`ObjectMeta::crc32c`](crate::ObjectMeta::crc32c)), the bytes received
/// must match it. Nothing appears at `path` unless every byte arrived intact.
///
/// ```
/// use symstore_core::{MemoryStore, ObjectKey, SymbolStore, PutOptions};
/// use symstore_core::download::{download_to, DownloadOptions};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = ObjectKey::new("a/b")?;
/// store.put(&key, vec![7u8; 3000].into(), PutOptions::default()).await?;
/// let dir = tempfile::tempdir().unwrap();
/// let mut opts = DownloadOptions::default();
/// opts.range_size = 1024;
/// let size = download_to(&store, &key, &dir.path().join("b"), opts).await?;
/// assert_eq!(size, 3000);
/// # Ok::<(), symstore_core::Error>(())
/// # }).unwrap();
/// ```
pub async fn download_to<S: SymbolStore + ?Sized>(
    store: &S,
    key: &ObjectKey,
    path: &Path,
    opts: DownloadOptions,
) -> Result<u64> {
    let context = Context::new("download")
        .key(key.as_str())
        .endpoint(path.display().to_string());
    let io_err = |e| Error::io(context.clone(), e);
    let meta = store.head(key).await?;
    let size = meta.size;
    let range_size = opts.range_size.max(1);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp = TempFile::create_in(&dir).await.map_err(io_err)?;
    let file = Arc::new(temp.std_clone().await.map_err(io_err)?);
    let ranges: Vec<_> = (0..size.div_ceil(range_size))
        .map(|i| i * range_size..((i + 1) * range_size).min(size))
        .collect();
    // Each range's CRC32C, in the order of the ranges, to check the whole object's.
    let crcs: Vec<(u32, u64)> = futures::stream::iter(ranges)
        .map(|range| {
            let file = file.clone();
            let mut get = GetOptions::default();
            if size > range_size {
                get.range = Some(ByteRange::Bounded(range.clone()));
            }
            get.if_match = meta.e_tag.clone();
            let context = context.clone();
            async move {
                let body = store.get(key, get).await?.stream;
                write_range(body, file, range, context).await
            }
        })
        .buffered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    if let Some(expected) = meta.crc32c {
        let actual = crcs.iter().fold(crc32c(b""), |whole, (crc, len)| {
            crc_fast::checksum_combine(
                crc_fast::CrcAlgorithm::Crc32Iscsi,
                u64::from(whole),
                u64::from(*crc),
                *len,
            ) as u32
        });
        if actual != expected {
            return Err(Error::Backend {
                context,
                message: format!(
                    "the downloaded bytes have CRC32C {actual:08x}, the stored object \
                     {expected:08x}: corrupted in transit or at rest; nothing was written"
                ),
                retryable: true,
                source: None,
            });
        }
    }
    drop(file);
    temp.persist(path).await.map_err(io_err)?;
    Ok(size)
}

/// What a range's body is gathered into before one positional write: few enough system
/// calls and blocking-pool hops, small enough to be reused without the page faults of a
/// buffer the size of the range.
const WRITE_CHUNK: usize = 1024 * 1024;

/// Writes one range's body at its offset as it arrives, in [`WRITE_CHUNK`] writes, and
/// returns its CRC32C (computed on arrival, while the bytes are in cache) and length.
async fn write_range(
    mut body: crate::ByteStream,
    file: Arc<std::fs::File>,
    range: std::ops::Range<u64>,
    context: Context,
) -> Result<(u32, u64)> {
    let expected = range.end - range.start;
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    let mut pending = bytes::BytesMut::new();
    let mut written = range.start;
    let mut received = 0u64;
    let wrong_length = |received: String| Error::Backend {
        context: context.clone(),
        message: format!(
            "bytes {}..{} came back as {received} bytes",
            range.start, range.end
        ),
        retryable: true,
        source: None,
    };
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        received += chunk.len() as u64;
        if received > expected {
            return Err(wrong_length(format!("{received} or more")));
        }
        digest.update(&chunk);
        if pending.is_empty() && chunk.len() >= WRITE_CHUNK {
            // A large chunk goes to the file as it is, without a copy.
            written = write_chunk(&file, chunk, written, &context).await?;
            continue;
        }
        if pending.capacity() == 0 {
            pending.reserve(WRITE_CHUNK);
        }
        pending.extend_from_slice(&chunk);
        if pending.len() >= WRITE_CHUNK {
            let full = std::mem::take(&mut pending).freeze();
            written = write_chunk(&file, full.clone(), written, &context).await?;
            // Reuse the buffer once the blocking write has let go of it.
            pending = full.try_into_mut().unwrap_or_default();
            pending.clear();
        }
    }
    if !pending.is_empty() {
        written = write_chunk(&file, pending.freeze(), written, &context).await?;
    }
    if written - range.start != expected {
        return Err(wrong_length(received.to_string()));
    }
    Ok((digest.finalize() as u32, expected))
}

/// Writes `bytes` at `offset` on the blocking pool; returns the offset after them.
async fn write_chunk(
    file: &Arc<std::fs::File>,
    bytes: bytes::Bytes,
    offset: u64,
    context: &Context,
) -> Result<u64> {
    let file = file.clone();
    let end = offset + bytes.len() as u64;
    crate::fs_util::blocking(move || write_at(&file, &bytes, offset))
        .await
        .map_err(|e| Error::io(context.clone(), e))?;
    Ok(end)
}

#[cfg(unix)]
fn write_at(file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_at(file: &std::fs::File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, bytes, offset)?;
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}
