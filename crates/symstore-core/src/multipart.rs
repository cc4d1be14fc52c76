//! The backend-agnostic streaming upload driver.
//!
//! It reads a payload into part buffers, sends bodies below the threshold in one request and
//! larger ones as a multipart upload with up to `concurrency` parts in flight, each retried
//! with exponential backoff and jitter on retryable errors. Memory stays at about
//! `part_size * (concurrency + 1)` whatever the payload's size. On any final error, on an
//! input stream error and when the upload future is dropped, the multipart upload is
//! aborted: no object appears and no pending upload remains.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::task::JoinSet;

use crate::config::UploadOptions;
use crate::{
    ByteStream, Error, PayloadSource, Progress, ProgressFn, PutPayload, PutResult, Result,
};

/// The smallest part S3 accepts (except the last one).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// The most parts one upload may have.
pub const MAX_PARTS: u64 = 10_000;

/// A part the backend has stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The part's entity tag, as the backend returned it.
    pub e_tag: String,
    /// The part's CRC32C, as sent.
    pub crc32c: u32,
}

/// The requests a backend offers the driver, for one object.
///
/// Implementations must be cheap to share (`Arc`) and must not retry parts themselves: the
/// driver does, with backoff, only for errors whose [`Error::is_retryable`] is true.
#[async_trait]
pub trait MultipartBackend: Send + Sync + 'static {
    /// Stores a body below the multipart threshold in one request.
    async fn put_single(&self, data: Bytes, crc32c: u32) -> Result<PutResult>;
    /// Starts a multipart upload; returns its id.
    async fn create(&self) -> Result<String>;
    /// Uploads one part.
    async fn upload_part(
        &self,
        upload_id: &str,
        part_number: u32,
        data: Bytes,
        crc32c: u32,
    ) -> Result<CompletedPart>;
    /// Assembles the object from `parts` (in part-number order); `size` is the total.
    async fn complete(
        &self,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        size: u64,
    ) -> Result<PutResult>;
    /// Abandons the upload and frees its parts.
    async fn abort(&self, upload_id: &str) -> Result<()>;
}

/// The CRC32C (Castagnoli) of `data`, as S3's `x-amz-checksum-crc32c` uses it.
///
/// ```
/// assert_eq!(symstore_core::multipart::crc32c(b"123456789"), 0xe306_9283);
/// ```
pub fn crc32c(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, data) as u32
}

/// The part size for an upload: the configured size, at least [`MIN_PART_SIZE`], grown (in
/// whole MiB) so a known `total` fits in [`MAX_PARTS`] parts.
///
/// ```
/// use symstore_core::multipart::part_size_for;
/// const MIB: u64 = 1024 * 1024;
/// assert_eq!(part_size_for(8 * MIB, None), 8 * MIB);
/// assert_eq!(part_size_for(1 * MIB, None), 5 * MIB);
/// assert_eq!(part_size_for(8 * MIB, Some(200 * 1024 * MIB)), 21 * MIB);
/// ```
pub fn part_size_for(configured: u64, total: Option<u64>) -> u64 {
    let mut size = configured.clamp(MIN_PART_SIZE, MAX_PART_SIZE);
    if let Some(total) = total {
        let needed = total.div_ceil(MAX_PARTS);
        if needed > size {
            size = needed.div_ceil(1024 * 1024) * 1024 * 1024;
        }
    }
    size.min(MAX_PART_SIZE)
}

/// Uploads `payload` through `backend`: one request below the threshold, else a parallel
/// multipart upload that is aborted on any failure or cancellation.
pub async fn upload(
    backend: Arc<dyn MultipartBackend>,
    payload: PutPayload,
    options: &UploadOptions,
    progress: Option<ProgressFn>,
) -> Result<PutResult> {
    let total = match payload.size_hint() {
        Some(size) => Some(size),
        None => match payload.file_path() {
            Some(path) => tokio::fs::metadata(path).await.ok().map(|m| m.len()),
            None => None,
        },
    };
    // Bytes already in memory below the threshold need no copying at all.
    let payload = match payload.into_source() {
        PayloadSource::Bytes(data) if (data.len() as u64) < options.multipart_threshold => {
            let crc = crc32c(&data);
            let size = data.len() as u64;
            let result = backend.put_single(data, crc).await?;
            report(&progress, size, total);
            return Ok(result);
        }
        source => PutPayload::from_source(source),
    };
    let part_size = part_size_for(options.part_size, total);
    let mut reader = PartReader::new(payload.into_stream(), part_size as usize);

    // Read up to the threshold: a small body goes in one request.
    let mut head: VecDeque<Bytes> = VecDeque::new();
    let mut buffered = 0u64;
    while buffered < options.multipart_threshold.max(1) {
        match reader.next_part().await? {
            Some(part) => {
                buffered += part.len() as u64;
                head.push_back(part);
            }
            None => {
                let data = concat(head);
                let crc = crc32c(&data);
                let result = backend.put_single(data, crc).await?;
                report(&progress, buffered, total);
                return Ok(result);
            }
        }
    }

    let upload_id = backend.create().await?;
    let guard = AbortOnDrop {
        backend: backend.clone(),
        upload_id: Some(upload_id.clone()),
    };
    let outcome = send_parts(
        &backend,
        &upload_id,
        head,
        &mut reader,
        options,
        &progress,
        total,
    )
    .await;
    match outcome {
        Ok((parts, size)) => match backend.complete(&upload_id, parts, size).await {
            Ok(result) => {
                guard.disarm();
                Ok(result)
            }
            Err(e) => {
                guard.abort_now().await;
                Err(e)
            }
        },
        Err(e) => {
            guard.abort_now().await;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_parts(
    backend: &Arc<dyn MultipartBackend>,
    upload_id: &str,
    mut head: VecDeque<Bytes>,
    reader: &mut PartReader,
    options: &UploadOptions,
    progress: &Option<ProgressFn>,
    total: Option<u64>,
) -> Result<(Vec<CompletedPart>, u64)> {
    let concurrency = options.concurrency.max(1);
    let mut in_flight: JoinSet<Result<(CompletedPart, Bytes)>> = JoinSet::new();
    let mut parts = Vec::new();
    let mut next_number = 1u32;
    let mut sent = 0u64;
    let mut input_done = false;
    loop {
        while !input_done && in_flight.len() < concurrency {
            let part = match head.pop_front() {
                Some(part) => Some(part),
                None => reader.next_part().await?,
            };
            let Some(data) = part else {
                input_done = true;
                break;
            };
            if u64::from(next_number) > MAX_PARTS {
                return Err(Error::Backend {
                    context: crate::Context::new("put"),
                    message: format!(
                        "the payload needs more than {MAX_PARTS} parts: raise upload.part_size"
                    ),
                    retryable: false,
                    source: None,
                });
            }
            let backend = backend.clone();
            let upload_id = upload_id.to_owned();
            let max_attempts = options.max_attempts.max(1);
            let number = next_number;
            next_number += 1;
            in_flight.spawn(async move {
                let crc = crc32c(&data);
                let send = || backend.upload_part(&upload_id, number, data.clone(), crc);
                let part = send
                    .retry(retry_policy(max_attempts))
                    .when(Error::is_retryable)
                    .notify(|e, delay| {
                        tracing::warn!(part = number, error = %e, ?delay, "retrying part")
                    })
                    .await?;
                Ok((part, data))
            });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (part, data) = joined.map_err(|e| Error::Backend {
            context: crate::Context::new("put"),
            message: format!("a part upload task failed: {e}"),
            retryable: false,
            source: None,
        })??;
        sent += data.len() as u64;
        report(progress, sent, total);
        reader.recycle(data);
        parts.push(part);
    }
    parts.sort_by_key(|p| p.part_number);
    Ok((parts, sent))
}

fn retry_policy(max_attempts: u32) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .with_max_times(max_attempts as usize - 1)
}

fn report(progress: &Option<ProgressFn>, done: u64, total: Option<u64>) {
    if let Some(progress) = progress {
        progress(Progress {
            bytes_done: done,
            bytes_total: total,
        });
    }
}

fn concat(parts: VecDeque<Bytes>) -> Bytes {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one part");
    }
    let mut all = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for part in parts {
        all.extend_from_slice(&part);
    }
    all.freeze()
}

/// Aborts the upload when dropped before [`disarm`](Self::disarm): a cancelled upload
/// future leaves nothing behind.
struct AbortOnDrop {
    backend: Arc<dyn MultipartBackend>,
    upload_id: Option<String>,
}

impl AbortOnDrop {
    fn disarm(mut self) {
        self.upload_id = None;
    }

    async fn abort_now(mut self) {
        if let Some(id) = self.upload_id.take()
            && let Err(e) = self.backend.abort(&id).await
        {
            tracing::error!(upload_id = %id, error = %e, "aborting a failed upload failed");
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.upload_id.take() else {
            return;
        };
        let backend = self.backend.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                tracing::info!(upload_id = %id, "upload cancelled: aborting it");
                runtime.spawn(async move {
                    if let Err(e) = backend.abort(&id).await {
                        tracing::error!(upload_id = %id, error = %e, "abort after cancel failed");
                    }
                });
            }
            Err(_) => tracing::error!(upload_id = %id, "upload dropped outside a runtime"),
        }
    }
}

/// Cuts a stream of chunks into parts of exactly `part_size` bytes (the last may be
/// shorter), reusing the buffers of parts already sent.
struct PartReader {
    stream: ByteStream,
    part_size: usize,
    current: BytesMut,
    spare: Vec<BytesMut>,
    leftover: Bytes,
    done: bool,
}

impl PartReader {
    fn new(stream: ByteStream, part_size: usize) -> Self {
        Self {
            stream,
            part_size,
            current: BytesMut::new(),
            spare: Vec::new(),
            leftover: Bytes::new(),
            done: false,
        }
    }

    async fn next_part(&mut self) -> Result<Option<Bytes>> {
        if self.current.capacity() < self.part_size {
            self.current = self
                .spare
                .pop()
                .unwrap_or_else(|| BytesMut::with_capacity(self.part_size));
        }
        while self.current.len() < self.part_size {
            if self.leftover.is_empty() {
                if self.done {
                    break;
                }
                match self.stream.next().await {
                    Some(chunk) => self.leftover = chunk?,
                    None => {
                        self.done = true;
                        break;
                    }
                }
            }
            let room = self.part_size - self.current.len();
            let take = room.min(self.leftover.len());
            self.current
                .extend_from_slice(&self.leftover.split_to(take));
        }
        if self.current.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.current.split().freeze()))
    }

    /// Takes back a sent part's buffer when nothing else holds it.
    fn recycle(&mut self, part: Bytes) {
        if let Ok(mut buffer) = part.try_into_mut() {
            buffer.clear();
            if buffer.capacity() >= self.part_size {
                self.spare.push(buffer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parts_have_exactly_part_size_bytes_except_the_last() {
        let chunks: Vec<Result<Bytes>> = (0..10)
            .map(|i| Ok(Bytes::from(vec![i as u8; 3000])))
            .collect();
        let mut reader = PartReader::new(futures::stream::iter(chunks).boxed(), 7000);
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while let Some(part) = reader.next_part().await.unwrap() {
            sizes.push(part.len());
            all.extend_from_slice(&part);
            reader.recycle(part);
        }
        assert_eq!(sizes, [7000, 7000, 7000, 7000, 2000]);
        let expected: Vec<u8> = (0..10).flat_map(|i| vec![i as u8; 3000]).collect();
        assert_eq!(all, expected);
    }
}
