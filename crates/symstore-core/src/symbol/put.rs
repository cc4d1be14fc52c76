//! Deduplicated uploads of debug files, their metadata, and listings read as symbol keys.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};

use super::{Layout, SymbolKey};
use crate::{
    Context, Error, ObjectMeta, PayloadSource, Progress, ProgressFn, PutMode, PutOptions,
    PutPayload, PutResult, Result, SymbolStore,
};

/// Options of [`put_symbol`]: create-only unless told otherwise, and what to record about the
/// file.
///
/// ```
/// use symstore_core::PutMode;
/// use symstore_core::symbol::PutSymbolOptions;
/// let opts = PutSymbolOptions::default().arch("x86_64").file_name("libc.so.6");
/// assert_eq!(opts.mode, PutMode::Create);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct PutSymbolOptions {
    /// [`PutMode::Create`] by default: the first upload of a key wins, later ones get
    /// [`Error::AlreadyExists`].
    pub mode: PutMode,
    /// The CPU architecture (`x86_64`, `aarch64`, ...), stored as the `arch` metadata.
    pub arch: Option<String>,
    /// The file's original name, stored as the `file-name` metadata.
    pub file_name: Option<String>,
    /// The file's size in bytes, stored as the `size` metadata; taken from the payload (a
    /// file's length, the bytes' length) when unset.
    pub size: Option<u64>,
    /// The object's content type; `application/octet-stream` when unset.
    pub content_type: Option<String>,
    /// Called as the upload progresses.
    pub progress: Option<ProgressFn>,
}

impl Default for PutSymbolOptions {
    fn default() -> Self {
        Self {
            mode: PutMode::Create,
            arch: None,
            file_name: None,
            size: None,
            content_type: None,
            progress: None,
        }
    }
}

impl PutSymbolOptions {
    /// Sets create-only or overwrite.
    ///
    /// ```
    /// use symstore_core::PutMode;
    /// use symstore_core::symbol::PutSymbolOptions;
    /// assert_eq!(PutSymbolOptions::default().mode(PutMode::Overwrite).mode, PutMode::Overwrite);
    /// ```
    pub fn mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }

    /// Records the CPU architecture.
    ///
    /// ```
    /// use symstore_core::symbol::PutSymbolOptions;
    /// assert_eq!(PutSymbolOptions::default().arch("aarch64").arch.as_deref(), Some("aarch64"));
    /// ```
    pub fn arch(mut self, arch: impl Into<String>) -> Self {
        self.arch = Some(arch.into());
        self
    }

    /// Records the file's original name.
    ///
    /// ```
    /// use symstore_core::symbol::PutSymbolOptions;
    /// assert_eq!(PutSymbolOptions::default().file_name("ls").file_name.as_deref(), Some("ls"));
    /// ```
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = Some(file_name.into());
        self
    }

    /// Records the file's size.
    ///
    /// ```
    /// use symstore_core::symbol::PutSymbolOptions;
    /// assert_eq!(PutSymbolOptions::default().size(42).size, Some(42));
    /// ```
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Sets the content type.
    ///
    /// ```
    /// use symstore_core::symbol::PutSymbolOptions;
    /// let opts = PutSymbolOptions::default().content_type("text/plain");
    /// assert_eq!(opts.content_type.as_deref(), Some("text/plain"));
    /// ```
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets a progress callback.
    ///
    /// ```
    /// use symstore_core::symbol::PutSymbolOptions;
    /// let opts = PutSymbolOptions::default().progress(|p| eprintln!("{} bytes", p.bytes_done));
    /// assert!(opts.progress.is_some());
    /// ```
    pub fn progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
}

impl fmt::Debug for PutSymbolOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutSymbolOptions")
            .field("mode", &self.mode)
            .field("arch", &self.arch)
            .field("file_name", &self.file_name)
            .field("size", &self.size)
            .field("content_type", &self.content_type)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What [`put_symbol`] records with each object, read back from an object's metadata.
///
/// Stored as user metadata under the names of the associated constants; the file name is
/// percent-encoded outside printable ASCII, since S3 metadata travels in HTTP headers.
///
/// ```
/// use symstore_core::{GetOptions, MemoryStore, SymbolStore};
/// use symstore_core::symbol::{put_symbol, FileKind, Layout, PutSymbolOptions, SymbolKey, SymbolMetadata};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = SymbolKey::new("elf:abcdef".parse()?, FileKind::Executable);
/// let opts = PutSymbolOptions::default().arch("x86_64").file_name("café");
/// put_symbol(&store, Layout::Unified, &key, "\x7fELF".into(), opts).await?;
/// let meta = store.head(&Layout::Unified.object_key(&key)?).await?;
/// assert_eq!(meta.metadata["file-name"], "caf%C3%A9");
/// let read = SymbolMetadata::from_object(&meta);
/// assert_eq!(read.file_name.as_deref(), Some("café"));
/// assert_eq!((read.format.as_deref(), read.size), (Some("elf"), Some(4)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SymbolMetadata {
    /// The symbol id's text form (`elf:8a6e...`).
    pub id: Option<String>,
    /// The file kind's name (`executable`, `debuginfo`, ...).
    pub kind: Option<String>,
    /// The file format (see [`SymbolKey::format`]).
    pub format: Option<String>,
    /// The CPU architecture.
    pub arch: Option<String>,
    /// The file's original name.
    pub file_name: Option<String>,
    /// The file's size in bytes, as declared by the uploader.
    pub size: Option<u64>,
}

impl SymbolMetadata {
    /// The metadata name of [`id`](Self::id).
    pub const ID: &'static str = "symbol-id";
    /// The metadata name of [`kind`](Self::kind).
    pub const KIND: &'static str = "kind";
    /// The metadata name of [`format`](Self::format).
    pub const FORMAT: &'static str = "format";
    /// The metadata name of [`arch`](Self::arch).
    pub const ARCH: &'static str = "arch";
    /// The metadata name of [`file_name`](Self::file_name).
    pub const FILE_NAME: &'static str = "file-name";
    /// The metadata name of [`size`](Self::size).
    pub const SIZE: &'static str = "size";

    /// Reads what [`put_symbol`] recorded from an object's metadata (from `head` or `get`;
    /// listings carry none).
    ///
    /// ```
    /// use symstore_core::{ObjectKey, ObjectMeta};
    /// use symstore_core::symbol::SymbolMetadata;
    /// let mut meta = ObjectMeta::new(ObjectKey::new("a/b")?, 3);
    /// meta.metadata.insert("size".into(), "3".into());
    /// assert_eq!(SymbolMetadata::from_object(&meta).size, Some(3));
    /// # Ok::<(), symstore_core::Error>(())
    /// ```
    pub fn from_object(meta: &ObjectMeta) -> Self {
        let get = |name: &str| meta.metadata.get(name).cloned();
        Self {
            id: get(Self::ID),
            kind: get(Self::KIND),
            format: get(Self::FORMAT),
            arch: get(Self::ARCH).map(|arch| percent_decode(&arch)),
            file_name: get(Self::FILE_NAME).map(|name| percent_decode(&name)),
            size: get(Self::SIZE).and_then(|size| size.parse().ok()),
        }
    }

    fn to_metadata(&self) -> BTreeMap<String, String> {
        let entries = [
            (Self::ID, self.id.clone()),
            (Self::KIND, self.kind.clone()),
            (Self::FORMAT, self.format.clone()),
            (Self::ARCH, self.arch.as_deref().map(percent_encode)),
            (
                Self::FILE_NAME,
                self.file_name.as_deref().map(percent_encode),
            ),
            (Self::SIZE, self.size.map(|size| size.to_string())),
        ];
        entries
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?)))
            .collect()
    }
}

/// Uploads one debug file under `key` in `layout`, create-only by default.
///
/// Many agents may upload the same build-id at once: the first upload wins and every other
/// gets [`Error::AlreadyExists`], which callers treat as success. Backends check before they
/// send the body where they can (the S3 backend asks with a HEAD first, then sends
/// `If-None-Match: *`), so a duplicate usually costs no upload. The object's metadata records
/// the id, the kind, the file format, the architecture, the original file name and the size
/// (see [`SymbolMetadata`]).
///
/// ```
/// use symstore_core::{Error, MemoryStore};
/// use symstore_core::symbol::{put_symbol, FileKind, Layout, PutSymbolOptions, SymbolKey};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = SymbolKey::new("elf:8a6e3c1b".parse()?, FileKind::Debuginfo);
/// let first = put_symbol(&store, Layout::Debuginfod, &key, "debug".into(), PutSymbolOptions::default()).await?;
/// assert_eq!(first.size, 5);
/// match put_symbol(&store, Layout::Debuginfod, &key, "debug".into(), PutSymbolOptions::default()).await {
///     Err(Error::AlreadyExists { .. }) => {} // another agent was first: nothing to do
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn put_symbol<S: SymbolStore + ?Sized>(
    store: &S,
    layout: Layout,
    key: &SymbolKey,
    payload: PutPayload,
    opts: PutSymbolOptions,
) -> Result<PutResult> {
    let object_key = layout.object_key(key)?;
    let size = match (opts.size, payload.size_hint(), payload.file_path()) {
        (Some(size), _, _) | (None, Some(size), _) => Some(size),
        (None, None, Some(path)) => Some(
            tokio::fs::metadata(path)
                .await
                .map_err(|e| Error::io(Context::new("put").key(path.display().to_string()), e))?
                .len(),
        ),
        (None, None, None) => None,
    };
    let metadata = SymbolMetadata {
        id: Some(key.id.to_string()),
        kind: Some(key.kind.name().to_owned()),
        format: Some(key.format().to_owned()),
        arch: opts.arch,
        file_name: opts.file_name.or_else(|| key.file_name.clone()),
        size,
    };
    let mut put = PutOptions::default().mode(opts.mode).content_type(
        opts.content_type
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
    );
    put.metadata = metadata.to_metadata();
    put.progress = opts.progress;
    // A stream of known size keeps its size, so backends can plan the upload.
    let payload = match payload.into_source() {
        PayloadSource::Stream { stream, size: None } if size.is_some() => {
            PutPayload::from_stream(stream, size)
        }
        source => PutPayload::from_source(source),
    };
    store.put(&object_key, payload, put).await
}

/// Lists the objects under `prefix` that `layout` names, as symbol keys with their metadata
/// (listings carry sizes, not user metadata). Objects of other layouts and foreign objects are
/// skipped.
///
/// ```
/// use futures::TryStreamExt;
/// use symstore_core::{MemoryStore, ObjectKey, PutOptions, SymbolStore};
/// use symstore_core::symbol::{list_symbols, put_symbol, FileKind, Layout, PutSymbolOptions, SymbolKey};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = SymbolKey::new("elf:8a6e3c1b".parse()?, FileKind::Executable);
/// put_symbol(&store, Layout::Debuginfod, &key, "elf".into(), PutSymbolOptions::default()).await?;
/// store.put(&ObjectKey::new("buildid/README")?, "not a symbol".into(), PutOptions::default()).await?;
/// let listed: Vec<_> = list_symbols(&store, Layout::Debuginfod, "buildid/").try_collect().await?;
/// assert_eq!(listed.len(), 1);
/// assert_eq!(listed[0].0, key);
/// assert_eq!(listed[0].1.size, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn list_symbols<S: SymbolStore + ?Sized>(
    store: &S,
    layout: Layout,
    prefix: &str,
) -> BoxStream<'static, Result<(SymbolKey, ObjectMeta)>> {
    store
        .list(prefix, Default::default())
        .filter_map(move |item| async move {
            match item {
                Ok(meta) => layout.symbol_key(&meta.key).ok().map(|key| Ok((key, meta))),
                Err(e) => Some(Err(e)),
            }
        })
        .boxed()
}

/// Percent-encodes `%` and everything outside printable ASCII.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Reverses [`percent_encode`]; text it did not write comes back as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values_survive_http_headers() {
        for value in ["libc.so.6", "café", "100%", "a\tb", "日本.so"] {
            let encoded = percent_encode(value);
            assert!(
                encoded.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{encoded}"
            );
            assert_eq!(percent_decode(&encoded), value);
        }
    }
}
