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
use tokio::task::JoinSet;

mod parts;
use parts::{Part, PartReader};

use crate::config::UploadOptions;
use crate::{Error, PayloadSource, Progress, ProgressFn, PutPayload, PutResult, Result};

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
    let total = payload.total_size().await;
    let small = |size: u64| size < options.multipart_threshold;
    let payload = match payload.into_source() {
        // Bytes already in memory below the threshold need no copying at all, and a small
        // file is read whole, in one allocation of its size.
        PayloadSource::Bytes(data) if small(data.len() as u64) => data,
        PayloadSource::File(path) if total.is_some_and(small) => tokio::fs::read(&path)
            .await
            .map_err(|e| Error::io(parts::read_context(&path), e))?
            .into(),
        source => return upload_parts(backend, source, options, progress, total).await,
    };
    let crc = crc32c(&payload);
    let size = payload.len() as u64;
    let result = backend.put_single(payload, crc).await?;
    report(&progress, size, total);
    Ok(result)
}

/// [`upload`] of a payload that may need several parts.
async fn upload_parts(
    backend: Arc<dyn MultipartBackend>,
    payload: PayloadSource,
    options: &UploadOptions,
    progress: Option<ProgressFn>,
    total: Option<u64>,
) -> Result<PutResult> {
    let part_size = part_size_for(options.part_size, total);
    let mut reader = PartReader::open(payload, part_size as usize).await?;

    // Read up to the threshold: a small body goes in one request.
    let mut head: VecDeque<Part> = VecDeque::new();
    let mut buffered = 0u64;
    while buffered < options.multipart_threshold.max(1) {
        match reader.next_part().await? {
            Some(part) => {
                buffered += part.data.len() as u64;
                head.push_back(part);
            }
            None => {
                let (data, crc) = concat(head);
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
    Read(Option<Part>),
    Sent(PartOutcome),
}

/// Sends the parts: reads the next part while up to `concurrency` parts are in flight and,
/// at the same time, collects finished parts, so a slow source neither hides a failed part
/// nor holds back progress.
async fn send_parts(
    upload: &mut OpenUpload,
    mut head: VecDeque<Part>,
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
            Event::Read(Some(part)) => {
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
                    .spawn(send_part(backend, upload_id, number, part, max_attempts));
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
    part: Part,
    max_attempts: u32,
) -> PartOutcome {
    let crc = part.crc32c();
    let data = part.data;
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

/// The parts read so far as one body, with its CRC32C.
fn concat(parts: VecDeque<Part>) -> (Bytes, u32) {
    if parts.len() == 1 {
        let part = parts.into_iter().next().expect("one part");
        let crc = part.crc32c();
        return (part.data, crc);
    }
    let mut all = BytesMut::with_capacity(parts.iter().map(|p| p.data.len()).sum());
    for part in parts {
        all.extend_from_slice(&part.data);
    }
    let all = all.freeze();
    let crc = crc32c(&all);
    (all, crc)
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
