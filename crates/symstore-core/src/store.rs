//! The `SymbolStore` trait and the types it exchanges.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::check::CheckReport;
use crate::{Context, Error, ObjectKey, Result};

/// A stream of byte chunks, as read from an object or fed to an upload.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// One store of debug artifacts: MinIO, AWS S3, GCS, the local filesystem or memory.
///
/// The trait is object-safe: services hold an `Arc<dyn SymbolStore>` chosen by configuration
/// (see `symstore::open`). Conveniences built on it live in [`SymbolStoreExt`].
///
/// ```
/// use symstore_core::{MemoryStore, ObjectKey, PutOptions, PutPayload, SymbolStore, GetOptions};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = ObjectKey::new("ab/cdef/debuginfo")?;
/// store.put(&key, PutPayload::from("ELF..."), PutOptions::default()).await?;
/// let body = store.get(&key, GetOptions::default()).await?.bytes().await?;
/// assert_eq!(&body[..], b"ELF...");
/// # Ok::<(), symstore_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait SymbolStore: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Stores `payload` under `key`. Large and streaming payloads go through multipart
    /// upload; a failed or cancelled put leaves no object and no partial upload behind.
    async fn put(
        &self,
        key: &ObjectKey,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult>;

    /// Reads an object (or a byte range of it) as a stream.
    async fn get(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult>;

    /// Reads an object's metadata.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta>;

    /// Deletes an object; deleting a missing key succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// Lists the objects whose key starts with `prefix` (a plain string prefix), in key
    /// order, fetching pages as the stream is polled.
    fn list(&self, prefix: &str, opts: ListOptions) -> BoxStream<'static, Result<ObjectMeta>>;

    /// Probes connectivity and the permissions the store needs, step by step.
    async fn check(&self) -> CheckReport;
}

/// What to upload: bytes in memory, a stream of unknown length, or a file.
///
/// ```
/// use symstore_core::PutPayload;
/// let payload = PutPayload::from(vec![1u8, 2, 3]);
/// assert_eq!(payload.size_hint(), Some(3));
/// ```
pub struct PutPayload(PayloadSource);

/// Where a [`PutPayload`]'s bytes come from; backends match on it.
#[non_exhaustive]
pub enum PayloadSource {
    /// Bytes already in memory.
    Bytes(Bytes),
    /// A stream of chunks, with its total size when known.
    Stream {
        /// The chunks.
        stream: ByteStream,
        /// The total size, when known.
        size: Option<u64>,
    },
    /// A file read with positional reads, never loaded whole.
    File(PathBuf),
}

impl PutPayload {
    /// A payload of bytes in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self(PayloadSource::Bytes(bytes.into()))
    }

    /// A payload read from a stream whose length may be unknown.
    pub fn from_stream(stream: ByteStream, size: Option<u64>) -> Self {
        Self(PayloadSource::Stream { stream, size })
    }

    /// A payload read from an `AsyncRead` (stdin, a pipe, a decompressor) of unknown length.
    pub fn from_reader(reader: impl tokio::io::AsyncRead + Send + 'static) -> Self {
        let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)
            .map_err(|e| Error::io(Context::new("read upload source"), e));
        Self::from_stream(stream.boxed(), None)
    }

    /// A payload read from a file.
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        Self(PayloadSource::File(path.into()))
    }

    /// The payload's size, when known without reading it (a file's size is not looked up).
    pub fn size_hint(&self) -> Option<u64> {
        match &self.0 {
            PayloadSource::Bytes(b) => Some(b.len() as u64),
            PayloadSource::Stream { size, .. } => *size,
            PayloadSource::File(_) => None,
        }
    }

    /// The payload's size when it can be known before reading it: a file's is looked up.
    ///
    /// ```
    /// use symstore_core::PutPayload;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("a.debug");
    /// std::fs::write(&path, [0u8; 42]).unwrap();
    /// assert_eq!(PutPayload::from_file(&path).total_size().await, Some(42));
    /// assert_eq!(PutPayload::from(vec![1u8, 2]).total_size().await, Some(2));
    /// # });
    /// ```
    pub fn total_size(&self) -> impl std::future::Future<Output = Option<u64>> + Send + 'static {
        // Owned, so the future does not borrow the payload (which is not `Sync`).
        let (file, known) = (self.file_path().map(PathBuf::from), self.size_hint());
        async move {
            match file {
                Some(path) => tokio::fs::metadata(path).await.ok().map(|m| m.len()),
                None => known,
            }
        }
    }

    /// The source, for backends.
    pub fn into_source(self) -> PayloadSource {
        self.0
    }

    /// A payload from a source taken apart with [`into_source`](Self::into_source).
    pub fn from_source(source: PayloadSource) -> Self {
        Self(source)
    }

    /// The file this payload reads, when it is a file.
    pub fn file_path(&self) -> Option<&std::path::Path> {
        match &self.0 {
            PayloadSource::File(path) => Some(path),
            _ => None,
        }
    }

    /// The payload as a stream of chunks, whatever its source.
    pub fn into_stream(self) -> ByteStream {
        match self.0 {
            PayloadSource::Bytes(b) => futures::stream::once(async move { Ok(b) }).boxed(),
            PayloadSource::Stream { stream, .. } => stream,
            PayloadSource::File(path) => futures::stream::once(async move {
                let context = Context::new("read upload source").key(path.display().to_string());
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Error::io(context.clone(), e))?;
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
                    .map_err(move |e| Error::io(context.clone(), e));
                Ok::<_, Error>(stream)
            })
            .try_flatten()
            .boxed(),
        }
    }
}

impl fmt::Debug for PutPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            PayloadSource::Bytes(b) => write!(f, "PutPayload::Bytes({} bytes)", b.len()),
            PayloadSource::Stream { size, .. } => write!(f, "PutPayload::Stream(size={size:?})"),
            PayloadSource::File(p) => write!(f, "PutPayload::File({})", p.display()),
        }
    }
}

impl From<Bytes> for PutPayload {
    fn from(value: Bytes) -> Self {
        Self::from_bytes(value)
    }
}

impl From<Vec<u8>> for PutPayload {
    fn from(value: Vec<u8>) -> Self {
        Self::from_bytes(value)
    }
}

impl From<&'static [u8]> for PutPayload {
    fn from(value: &'static [u8]) -> Self {
        Self::from_bytes(value)
    }
}

impl From<&'static str> for PutPayload {
    fn from(value: &'static str) -> Self {
        Self::from_bytes(value.as_bytes())
    }
}

impl From<String> for PutPayload {
    fn from(value: String) -> Self {
        Self::from_bytes(value)
    }
}

/// Whether a put may replace an existing object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutMode {
    /// Replace whatever is there.
    #[default]
    Overwrite,
    /// Fail with [`Error::AlreadyExists`] when the key is taken: the first of many agents
    /// uploading the same build-id wins, the others learn it was already there.
    Create,
}

/// Bytes uploaded so far, reported during a put.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// An upload's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes acknowledged by the backend so far.
    pub bytes_done: u64,
    /// The total size, when known.
    pub bytes_total: Option<u64>,
}

/// Options of [`SymbolStore::put`].
///
/// ```
/// use symstore_core::{PutMode, PutOptions};
/// let opts = PutOptions::default()
///     .content_type("application/x-elf")
///     .metadata("arch", "x86_64")
///     .mode(PutMode::Create);
/// assert_eq!(opts.metadata["arch"], "x86_64");
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct PutOptions {
    /// The object's content type.
    pub content_type: Option<String>,
    /// User metadata stored with the object (ASCII keys, lowercase on S3).
    pub metadata: BTreeMap<String, String>,
    /// Overwrite or create-only.
    pub mode: PutMode,
    /// Called as parts complete.
    pub progress: Option<ProgressFn>,
}

impl PutOptions {
    /// Sets the content type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Adds one user metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets overwrite or create-only.
    pub fn mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets a progress callback.
    pub fn progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
}

impl fmt::Debug for PutOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutOptions")
            .field("content_type", &self.content_type)
            .field("metadata", &self.metadata)
            .field("mode", &self.mode)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What a successful put returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// The object's entity tag, when the backend has one.
    pub e_tag: Option<String>,
    /// Bytes stored.
    pub size: u64,
}

/// A byte range of an object.
///
/// ```
/// use symstore_core::ByteRange;
/// assert_eq!(ByteRange::Bounded(0..10).resolve(100).unwrap(), 0..10);
/// assert_eq!(ByteRange::From(90).resolve(100).unwrap(), 90..100);
/// assert_eq!(ByteRange::Suffix(10).resolve(100).unwrap(), 90..100);
/// assert!(ByteRange::From(100).resolve(100).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ByteRange {
    /// `start..end`, end exclusive; an end past the object is clamped.
    Bounded(Range<u64>),
    /// From an offset to the end.
    From(u64),
    /// The last `n` bytes (all of them when the object is smaller).
    Suffix(u64),
}

impl ByteRange {
    /// The absolute range within an object of `size` bytes, or a description of why none is
    /// satisfiable (as HTTP's 416).
    pub fn resolve(&self, size: u64) -> std::result::Result<Range<u64>, String> {
        let range = match self {
            ByteRange::Bounded(r) if r.start < r.end && r.start < size => r.start..r.end.min(size),
            ByteRange::From(start) if *start < size => *start..size,
            ByteRange::Suffix(n) if *n > 0 && size > 0 => size.saturating_sub(*n)..size,
            _ => return Err(format!("range {self} of an object of {size} bytes")),
        };
        Ok(range)
    }

    /// The HTTP `Range` header value, e.g. `bytes=0-9`.
    pub fn to_http_header(&self) -> String {
        format!("bytes={self}")
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteRange::Bounded(r) => write!(f, "{}-{}", r.start, r.end.saturating_sub(1)),
            ByteRange::From(start) => write!(f, "{start}-"),
            ByteRange::Suffix(n) => write!(f, "-{n}"),
        }
    }
}

/// Options of [`SymbolStore::get`].
///
/// ```
/// use symstore_core::{ByteRange, GetOptions};
/// let opts = GetOptions::default().range(ByteRange::Bounded(0..4096));
/// assert!(opts.range.is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetOptions {
    /// Read only these bytes.
    pub range: Option<ByteRange>,
    /// Fail with [`Error::Precondition`] unless the object's entity tag is this one.
    pub if_match: Option<String>,
    /// Fail with [`Error::NotModified`] when the object's entity tag is this one.
    pub if_none_match: Option<String>,
}

impl GetOptions {
    /// Reads only `range`.
    pub fn range(mut self, range: ByteRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Requires the entity tag `e_tag`.
    pub fn if_match(mut self, e_tag: impl Into<String>) -> Self {
        self.if_match = Some(e_tag.into());
        self
    }

    /// Skips the body when the entity tag is still `e_tag`.
    pub fn if_none_match(mut self, e_tag: impl Into<String>) -> Self {
        self.if_none_match = Some(e_tag.into());
        self
    }
}

/// Options of [`SymbolStore::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Keys fetched per request; the backend's maximum when unset.
    pub page_size: Option<u32>,
}

impl ListOptions {
    /// Fetches at most `page_size` keys per request.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The key.
    pub key: ObjectKey,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written, when known.
    pub last_modified: Option<SystemTime>,
    /// The entity tag, when the backend has one.
    pub e_tag: Option<String>,
    /// The content type, when set (not returned by listings).
    pub content_type: Option<String>,
    /// User metadata (not returned by listings).
    pub metadata: BTreeMap<String, String>,
    /// The CRC32C of the whole object, when the backend stored one (S3 for objects sent in
    /// one request; multipart uploads store a composite of their parts' CRCs instead, which
    /// is not this). [`download_to`](crate::download::download_to) verifies it.
    pub crc32c: Option<u32>,
}

impl ObjectMeta {
    /// Metadata of an object of `size` bytes with nothing else known.
    pub fn new(key: ObjectKey, size: u64) -> Self {
        Self {
            key,
            size,
            last_modified: None,
            e_tag: None,
            content_type: None,
            metadata: BTreeMap::new(),
            crc32c: None,
        }
    }
}

/// An object being read: its metadata, the byte range returned, and the bytes.
pub struct GetResult {
    /// The whole object's metadata.
    pub meta: ObjectMeta,
    /// Which bytes of the object the stream carries.
    pub range: Range<u64>,
    /// The bytes.
    pub stream: ByteStream,
}

impl GetResult {
    /// Collects the whole body into memory.
    pub async fn bytes(self) -> Result<Bytes> {
        let capacity = usize::try_from(self.range.end - self.range.start).unwrap_or(0);
        let mut buffer = bytes::BytesMut::with_capacity(capacity);
        let mut stream = self.stream;
        while let Some(chunk) = stream.next().await {
            buffer.extend_from_slice(&chunk?);
        }
        Ok(buffer.freeze())
    }
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// Conveniences on every [`SymbolStore`], built on the trait's methods.
#[async_trait]
pub trait SymbolStoreExt: SymbolStore {
    /// Whether an object exists.
    async fn exists(&self, key: &ObjectKey) -> Result<bool> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads `range` of an object into memory.
    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        self.get(key, GetOptions::default().range(range))
            .await?
            .bytes()
            .await
    }

    /// Uploads a file, streaming it.
    async fn put_file(
        &self,
        key: &ObjectKey,
        path: impl Into<PathBuf> + Send,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.put(key, PutPayload::from_file(path), opts).await
    }

    /// Writes an object to a local file: large objects as parallel ranged reads, all of the
    /// same version, through a temporary file renamed into place when complete (see
    /// [`download::download_to`](crate::download::download_to) for the options).
    async fn download_to(&self, key: &ObjectKey, path: impl Into<PathBuf> + Send) -> Result<u64> {
        let path = path.into();
        crate::download::download_to(self, key, &path, Default::default()).await
    }

    /// Collects a listing into memory.
    async fn list_all(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.list(prefix, ListOptions::default())
            .try_collect()
            .await
    }
}

impl<T: SymbolStore + ?Sized> SymbolStoreExt for T {}

/// Applies `if-match` / `if-none-match` of `opts` to an object whose entity tag is `e_tag`
/// (for backends that evaluate conditions themselves).
pub(crate) fn check_conditions(opts: &GetOptions, e_tag: &str, context: &Context) -> Result<()> {
    let same = |wanted: &str| wanted == "*" || wanted.trim_matches('"') == e_tag.trim_matches('"');
    if let Some(wanted) = &opts.if_match
        && !same(wanted)
    {
        return Err(Error::Precondition {
            context: context.clone(),
            message: format!("if-match {wanted} but the entity tag is {e_tag}"),
        });
    }
    if let Some(wanted) = &opts.if_none_match
        && same(wanted)
    {
        return Err(Error::NotModified {
            context: context.clone(),
        });
    }
    Ok(())
}

/// Resolves the optional range of `opts` within an object of `size` bytes.
pub(crate) fn resolve_range(opts: &GetOptions, size: u64, context: &Context) -> Result<Range<u64>> {
    match &opts.range {
        None => Ok(0..size),
        Some(range) => range
            .resolve(size)
            .map_err(|message| Error::RangeNotSatisfiable {
                context: context.clone(),
                message,
            }),
    }
}
