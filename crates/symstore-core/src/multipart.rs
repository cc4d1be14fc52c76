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
    let mut upload = OpenUpload {
        backend: backend.clone(),
        upload_id: Some(upload_id.clone()),
        in_flight: JoinSet::new(),
    };
    let outcome = send_parts(&mut upload, head, &mut reader, options, &progress, total).await;
    let completed = match outcome {
        Ok((parts, size)) => backend.complete(&upload_id, parts, size).await,
        Err(e) => Err(e),
    };
    match completed {
        Ok(result) => {
            upload.disarm();
            Ok(result)
        }
        Err(e) => {
            upload.abort_now().await;
            Err(e)
        }
    }
}

/// A part upload task's outcome: the stored part and its buffer (for reuse).
type PartOutcome = Result<(CompletedPart, Bytes)>;

/// What the send loop waits for next.
enum Event {
    Read(Option<Bytes>),
    Sent(PartOutcome),
}

/// Sends the parts: reads the next part while up to `concurrency` parts are in flight and,
/// at the same time, collects finished parts, so a slow source neither hides a failed part
/// nor holds back progress.
async fn send_parts(
    upload: &mut OpenUpload,
    mut head: VecDeque<Bytes>,
    reader: &mut PartReader,
    options: &UploadOptions,
    progress: &Option<ProgressFn>,
    total: Option<u64>,
) -> Result<(Vec<CompletedPart>, u64)> {
    let concurrency = options.concurrency.max(1);
    let max_attempts = options.max_attempts.max(1);
    let upload_id = upload.upload_id.clone().unwrap_or_default();
    let mut parts = Vec::new();
    let mut next_number = 1u32;
    let mut sent = 0u64;
    let mut input_done = false;
    loop {
        let may_read = !input_done && upload.in_flight.len() < concurrency;
        if !may_read && upload.in_flight.is_empty() {
            break;
        }
        let event = if may_read && let Some(part) = head.pop_front() {
            Event::Read(Some(part))
        } else {
            // Finished parts first: a failure ends the upload without waiting for input.
            tokio::select! {
                biased;
                Some(joined) = upload.in_flight.join_next(), if !upload.in_flight.is_empty() => {
                    Event::Sent(joined.unwrap_or_else(|e| Err(task_failed(e))))
                }
                part = reader.next_part(), if may_read => Event::Read(part?),
            }
        };
        match event {
            Event::Read(None) => input_done = true,
            Event::Read(Some(data)) => {
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
                let backend = upload.backend.clone();
                let upload_id = upload_id.clone();
                let number = next_number;
                next_number += 1;
                upload
                    .in_flight
                    .spawn(send_part(backend, upload_id, number, data, max_attempts));
            }
            Event::Sent(outcome) => {
                let (part, data) = outcome?;
                sent += data.len() as u64;
                report(progress, sent, total);
                reader.recycle(data);
                parts.push(part);
            }
        }
    }
    parts.sort_by_key(|p| p.part_number);
    Ok((parts, sent))
}

/// Uploads one part, retrying retryable errors with backoff; a part that still fails after
/// the last attempt says so.
async fn send_part(
    backend: Arc<dyn MultipartBackend>,
    upload_id: String,
    number: u32,
    data: Bytes,
    max_attempts: u32,
) -> PartOutcome {
    let crc = crc32c(&data);
    let mut attempts = 0u32;
    let send = || {
        attempts += 1;
        backend.upload_part(&upload_id, number, data.clone(), crc)
    };
    let outcome = send
        .retry(retry_policy(max_attempts))
        .when(Error::is_retryable)
        .notify(|e, delay| tracing::warn!(part = number, error = %e, ?delay, "retrying part"))
        .await;
    match outcome {
        Ok(part) => Ok((part, data)),
        // A retryable error here means every attempt failed.
        Err(e) if e.is_retryable() => Err(gave_up(e, number, attempts)),
        Err(e) => Err(e),
    }
}

/// The error of a part that failed every attempt: names the part and the attempts, and
/// keeps the last error as its source.
fn gave_up(last: Error, part: u32, attempts: u32) -> Error {
    let context = last
        .context()
        .cloned()
        .unwrap_or_else(|| crate::Context::new("upload part"));
    let full = last.to_string();
    let cause = full
        .strip_prefix(&format!("{context}: "))
        .unwrap_or(&full)
        .to_owned();
    let plural = if attempts == 1 { "" } else { "s" };
    Error::Backend {
        context,
        message: format!(
            "part {part} failed after {attempts} attempt{plural}, the last with: {cause}"
        ),
        retryable: true,
        source: Some(Box::new(last)),
    }
}

fn task_failed(e: tokio::task::JoinError) -> Error {
    Error::Backend {
        context: crate::Context::new("put"),
        message: format!("a part upload task failed: {e}"),
        retryable: false,
        source: None,
    }
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

/// A started multipart upload and its part tasks. Unless [`disarm`](Self::disarm)ed after
/// completion it is aborted, also when dropped (the upload future cancelled): the part
/// tasks are stopped and awaited first, so no part lands after the abort.
struct OpenUpload {
    backend: Arc<dyn MultipartBackend>,
    upload_id: Option<String>,
    in_flight: JoinSet<PartOutcome>,
}

impl OpenUpload {
    fn disarm(mut self) {
        self.upload_id = None;
    }

    async fn abort_now(mut self) {
        let Some(id) = self.upload_id.take() else {
            return;
        };
        abort(
            self.backend.clone(),
            id,
            std::mem::take(&mut self.in_flight),
        )
        .await;
    }
}

impl Drop for OpenUpload {
    fn drop(&mut self) {
        let Some(id) = self.upload_id.take() else {
            return;
        };
        let in_flight = std::mem::take(&mut self.in_flight);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                tracing::info!(upload_id = %id, "upload cancelled: aborting it");
                runtime.spawn(abort(self.backend.clone(), id, in_flight));
            }
            Err(_) => tracing::error!(upload_id = %id, "upload dropped outside a runtime"),
        }
    }
}

/// Stops the part tasks, waits until they are gone, then aborts the upload.
async fn abort(
    backend: Arc<dyn MultipartBackend>,
    upload_id: String,
    mut in_flight: JoinSet<PartOutcome>,
) {
    in_flight.shutdown().await;
    if let Err(e) = backend.abort(&upload_id).await {
        tracing::error!(upload_id = %upload_id, error = %e, "aborting the upload failed");
    }
}

/// How long (in 1 ms steps) the reader waits for a sent part's buffer to come back before it
/// allocates another one.
const RECLAIM_WAITS: u32 = 20;

/// Cuts a stream of chunks into parts of exactly `part_size` bytes (the last may be
/// shorter), reusing the buffers of parts already sent.
struct PartReader {
    stream: ByteStream,
    part_size: usize,
    current: BytesMut,
    /// Emptied buffers, ready for the next part.
    spare: Vec<BytesMut>,
    /// Sent parts whose buffer the HTTP client may still hold for a moment after the
    /// response arrived (it drops the request body on its own connection task).
    returning: Vec<Bytes>,
    /// Start addresses of the buffers this reader allocated: parts sliced out of the
    /// caller's bytes are not ours to reuse.
    owned: Vec<usize>,
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
            returning: Vec::new(),
            owned: Vec::new(),
            leftover: Bytes::new(),
            done: false,
        }
    }

    /// The next part, `None` at the end of the input. Cancel-safe: a call dropped while it
    /// waits for input loses nothing, the next call goes on where it stopped.
    async fn next_part(&mut self) -> Result<Option<Bytes>> {
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
            if self.current.is_empty() && self.leftover.len() >= self.part_size {
                // A chunk holding a whole part (bytes in memory): slice it, do not copy it.
                return Ok(Some(self.leftover.split_to(self.part_size)));
            }
            if self.current.capacity() < self.part_size {
                // What is left of the last split still shares the previous part's buffer:
                // let go of it, so that buffer can come back.
                self.current = BytesMut::new();
                self.current = self.buffer().await;
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

    /// An empty buffer of `part_size`: a sent part's when one is free or about to be,
    /// else a new one. Without the short wait, every part whose body the HTTP client had
    /// not dropped yet cost a fresh allocation, and peak memory crept up with the upload's
    /// length (43 MiB after 1 GiB, 51 to 59 MiB after 4 GiB).
    async fn buffer(&mut self) -> BytesMut {
        for _ in 0..RECLAIM_WAITS {
            self.reclaim();
            if let Some(buffer) = self.spare.pop() {
                return buffer;
            }
            if self.returning.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let buffer = BytesMut::with_capacity(self.part_size);
        self.owned.push(buffer.as_ptr() as usize);
        buffer
    }

    /// Moves the sent parts nothing else holds any more to `spare`.
    fn reclaim(&mut self) {
        let mut still_held = Vec::new();
        for part in self.returning.drain(..) {
            match part.try_into_mut() {
                Ok(mut buffer) => {
                    buffer.clear();
                    // A short last part's view cannot hold a whole part; it is the end.
                    if buffer.capacity() >= self.part_size {
                        self.spare.push(buffer);
                    }
                }
                Err(part) => still_held.push(part),
            }
        }
        self.returning = still_held;
    }

    /// Takes back a sent part's buffer, now or once the HTTP client lets go of it.
    fn recycle(&mut self, part: Bytes) {
        if self.owned.contains(&(part.as_ptr() as usize)) {
            self.returning.push(part);
            self.reclaim();
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

    fn chunks_of(total: usize, chunk: usize) -> ByteStream {
        let chunks: Vec<Result<Bytes>> = (0..total.div_ceil(chunk))
            .map(|i| Ok(Bytes::from(vec![i as u8; chunk.min(total - i * chunk)])))
            .collect();
        futures::stream::iter(chunks).boxed()
    }

    #[tokio::test]
    async fn a_sent_part_still_held_by_the_client_for_a_moment_is_reused_not_reallocated() {
        let mut reader = PartReader::new(chunks_of(30_000, 1000), 10_000);
        let first = reader.next_part().await.unwrap().unwrap();
        let address = first.as_ptr();
        // The HTTP client drops its copy of the body a moment after the response.
        let held_by_client = first.clone();
        reader.recycle(first);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(3)).await;
            drop(held_by_client);
        });
        let second = reader.next_part().await.unwrap().unwrap();
        assert_eq!(
            second.as_ptr(),
            address,
            "the first part's buffer was reused"
        );
        assert_eq!(reader.owned.len(), 1, "one buffer allocated in all");
    }

    #[tokio::test]
    async fn parts_of_bytes_in_memory_are_slices_and_never_reused_as_buffers() {
        let body = Bytes::from(vec![7u8; 25_000]);
        let stream = futures::stream::once({
            let body = body.clone();
            async move { Ok(body) }
        })
        .boxed();
        let mut reader = PartReader::new(stream, 10_000);
        let mut sizes = Vec::new();
        while let Some(part) = reader.next_part().await.unwrap() {
            if sizes.is_empty() {
                assert_eq!(part.as_ptr(), body.as_ptr(), "sliced, not copied");
            }
            sizes.push(part.len());
            reader.recycle(part);
        }
        assert_eq!(sizes, [10_000, 10_000, 5_000]);
        assert_eq!(reader.owned.len(), 1, "only the short tail was copied");
        let kept: Vec<usize> = reader
            .returning
            .iter()
            .map(|p| p.as_ptr() as usize)
            .collect();
        assert!(
            kept.iter().all(|a| reader.owned.contains(a)),
            "no slice of the caller's bytes kept"
        );
        assert!(
            body.iter().all(|&b| b == 7),
            "the caller's bytes were not touched"
        );
    }
}
