//! The embedded local-filesystem store, the zero-setup default.
//!
//! Layout under the root: each key segment but the last is a directory, the last is a file
//! whose name ends in `%`; a literal `%` in a segment is written `%25`. So key `a` (file `a%`)
//! and key `a/b` (directory `a`, file `b%`) coexist as they do on S3. Each file starts with a
//! small header (content type, user metadata) followed by the object's bytes. Writes go to
//! `%tmp/` and are renamed into place after fsync: a crashed or failed write never leaves a
//! partial object.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::check::{CheckReport, StepStatus};
use crate::fs_util::TempFile;
use crate::store::{check_conditions, resolve_range};
use crate::{
    Context, Error, GetOptions, GetResult, ListOptions, ObjectKey, ObjectMeta, Progress, PutMode,
    PutOptions, PutPayload, PutResult, Result, SymbolStore,
};

const MAGIC: &[u8; 8] = b"SYMSTOR1";
const TEMP_DIR: &str = "%tmp";
const FILE_SUFFIX: char = '%';
const MAX_NAME_LEN: usize = 255;

/// Objects stored as files under a root directory.
///
/// ```
/// use symstore_core::{FilesystemStore, ObjectKey, SymbolStore, SymbolStoreExt, PutOptions};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = FilesystemStore::open(dir.path()).await?;
/// let key = ObjectKey::new("buildid/0123abcd/debuginfo")?;
/// store.put(&key, "ELF".into(), PutOptions::default()).await?;
/// assert_eq!(store.head(&key).await?.size, 3);
/// # Ok::<(), symstore_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct FilesystemStore {
    root: Arc<PathBuf>,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

impl FilesystemStore {
    /// Opens (creating when missing) a store rooted at `root`.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let context = Context::new("open").endpoint(root.display().to_string());
        tokio::fs::create_dir_all(root.join(TEMP_DIR))
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
        let root = tokio::fs::canonicalize(root)
            .await
            .map_err(|e| Error::io(context, e))?;
        Ok(Self {
            root: Arc::new(root),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn context(&self, operation: &'static str, key: &ObjectKey) -> Context {
        Context::new(operation)
            .key(key.as_str())
            .endpoint(self.root.display().to_string())
    }

    /// The file holding `key`, after checking that no existing component of the path is a
    /// symbolic link (which could lead outside the root).
    async fn object_path(&self, key: &ObjectKey) -> Result<PathBuf> {
        let segments: Vec<&str> = key.segments().collect();
        let mut path = self.root.to_path_buf();
        let mut exists = true;
        for (i, segment) in segments.iter().enumerate() {
            let mut name = encode_segment(segment);
            if i + 1 == segments.len() {
                name.push(FILE_SUFFIX);
            }
            if name.len() > MAX_NAME_LEN {
                return Err(Error::InvalidKey {
                    key: key.to_string(),
                    reason: "a key segment is longer than the filesystem store allows (254 bytes)",
                });
            }
            path.push(name);
            if !exists {
                continue;
            }
            match tokio::fs::symlink_metadata(&path).await {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(Error::InvalidKey {
                        key: key.to_string(),
                        reason: "the key passes through a symbolic link in the store's root",
                    });
                }
                Ok(_) => {}
                Err(e) if is_missing(&e) => exists = false,
                Err(e) => return Err(Error::io(self.context("resolve", key), e)),
            }
        }
        Ok(path)
    }

    async fn open_object(&self, key: &ObjectKey, operation: &'static str) -> Result<OpenObject> {
        let context = self.context(operation, key);
        let path = self.object_path(key).await?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if is_missing(&e) => return Err(Error::NotFound { context }),
            Err(e) => return Err(Error::io(context, e)),
        };
        let io_err = |e| Error::io(context.clone(), e);
        let stat = file.metadata().await.map_err(io_err)?;
        if !stat.is_file() {
            return Err(Error::NotFound { context });
        }
        let mut fixed = [0u8; 12];
        file.read_exact(&mut fixed).await.map_err(io_err)?;
        if &fixed[..8] != MAGIC {
            return Err(corrupt(
                context,
                "the file does not start with the store's header",
            ));
        }
        let header_len = u32::from_le_bytes(fixed[8..12].try_into().expect("4 bytes")) as u64;
        let mut json = vec![0u8; header_len as usize];
        file.read_exact(&mut json).await.map_err(io_err)?;
        let header: Header = serde_json::from_slice(&json)
            .map_err(|e| corrupt(context.clone(), &format!("unreadable header: {e}")))?;
        let data_offset = 12 + header_len;
        let size = stat.len().saturating_sub(data_offset);
        let modified = stat.modified().ok();
        let meta = ObjectMeta {
            key: key.clone(),
            size,
            last_modified: modified,
            e_tag: Some(e_tag_of(&stat, size)),
            content_type: header.content_type,
            metadata: header.metadata,
            crc32c: None,
        };
        Ok(OpenObject {
            file,
            data_offset,
            meta,
        })
    }

    fn walk(root: &Path, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        // Start at the deepest directory the prefix names completely.
        let mut dir = root.to_path_buf();
        let mut key_prefix = String::new();
        let complete: Vec<&str> = match prefix.rfind('/') {
            Some(end) => prefix[..end].split('/').collect(),
            None => Vec::new(),
        };
        for segment in complete {
            dir.push(encode_segment(segment));
            key_prefix.push_str(segment);
            key_prefix.push('/');
        }
        let mut found = Vec::new();
        let mut pending = vec![(dir, key_prefix)];
        while let Some((dir, key_prefix)) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if is_missing(&e) => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let file_type = entry.file_type()?;
                if file_type.is_dir() && name != TEMP_DIR {
                    let child = format!("{key_prefix}{}/", decode_segment(&name));
                    if child.starts_with(prefix) || prefix.starts_with(&child) {
                        pending.push((entry.path(), child));
                    }
                } else if file_type.is_file()
                    && let Some(stem) = name.strip_suffix(FILE_SUFFIX)
                {
                    let key = format!("{key_prefix}{}", decode_segment(stem));
                    if !key.starts_with(prefix) {
                        continue;
                    }
                    let Ok(key) = ObjectKey::new(key) else {
                        continue;
                    };
                    let stat = entry.metadata()?;
                    let size = data_size(&entry.path(), stat.len())?;
                    let mut meta = ObjectMeta::new(key, size);
                    meta.last_modified = stat.modified().ok();
                    meta.e_tag = Some(e_tag_of(&stat, size));
                    found.push(meta);
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// Removes the empty directories left above `path` by a delete, up to the root.
    async fn prune_empty_parents(&self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root.as_path() || !d.starts_with(self.root.as_path()) {
                break;
            }
            if tokio::fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
    }
}

struct OpenObject {
    file: tokio::fs::File,
    data_offset: u64,
    meta: ObjectMeta,
}

fn encode_segment(segment: &str) -> String {
    segment.replace('%', "%25")
}

fn decode_segment(name: &str) -> String {
    name.replace("%25", "%")
}

fn is_missing(e: &io::Error) -> bool {
    // NotADirectory: a path component is a file (key `a` exists, `a/b` asked for).
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn corrupt(context: Context, why: &str) -> Error {
    Error::Backend {
        context,
        message: format!("corrupt object file: {why}"),
        retryable: false,
        source: None,
    }
}

fn e_tag_of(stat: &std::fs::Metadata, size: u64) -> String {
    let nanos = stat
        .modified()
        .ok()
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(stat);
    #[cfg(not(unix))]
    let inode = 0u64;
    format!("\"{inode:x}-{nanos:x}-{size:x}\"")
}

fn data_size(path: &Path, file_len: u64) -> io::Result<u64> {
    use std::io::Read;
    let mut fixed = [0u8; 12];
    std::fs::File::open(path)?.read_exact(&mut fixed)?;
    let header_len = u32::from_le_bytes(fixed[8..12].try_into().expect("4 bytes")) as u64;
    Ok(file_len.saturating_sub(12 + header_len))
}

#[async_trait]
impl SymbolStore for FilesystemStore {
    #[tracing::instrument(level = "debug", skip_all, fields(store = "filesystem", key = %key))]
    async fn put(
        &self,
        key: &ObjectKey,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let context = self.context("put", key);
        let io_err = |e| Error::io(context.clone(), e);
        let target = self.object_path(key).await?;
        if opts.mode == PutMode::Create && tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return Err(Error::AlreadyExists { context });
        }
        let header = serde_json::to_vec(&Header {
            content_type: opts.content_type.clone(),
            metadata: opts.metadata.clone(),
        })
        .expect("the header serializes");
        let total = payload.total_size().await;
        let mut temp = TempFile::create_in(&self.root.join(TEMP_DIR))
            .await
            .map_err(io_err)?;
        temp.write_all(MAGIC).await.map_err(io_err)?;
        temp.write_all(&(header.len() as u32).to_le_bytes())
            .await
            .map_err(io_err)?;
        temp.write_all(&header).await.map_err(io_err)?;
        let mut size = 0u64;
        let mut stream = payload.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            temp.write_all(&chunk).await.map_err(io_err)?;
            size += chunk.len() as u64;
            if let Some(progress) = &opts.progress {
                progress(Progress {
                    bytes_done: size,
                    bytes_total: total,
                });
            }
        }
        let parent = target.parent().expect("an object path has a parent");
        tokio::fs::create_dir_all(parent).await.map_err(io_err)?;
        let placed = match opts.mode {
            PutMode::Create => temp.persist_new(&target).await,
            _ => temp.persist(&target).await,
        };
        match placed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists { context });
            }
            Err(e) => return Err(io_err(e)),
        }
        let stat = tokio::fs::metadata(&target).await.map_err(io_err)?;
        Ok(PutResult {
            e_tag: Some(e_tag_of(&stat, size)),
            size,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(store = "filesystem", key = %key))]
    async fn get(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let context = self.context("get", key);
        let mut object = self.open_object(key, "get").await?;
        check_conditions(&opts, object.meta.e_tag.as_deref().unwrap_or(""), &context)?;
        let range = resolve_range(&opts, object.meta.size, &context)?;
        object
            .file
            .seek(SeekFrom::Start(object.data_offset + range.start))
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
        let reader = object.file.take(range.end - range.start);
        let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)
            .map_err(move |e| Error::io(context.clone(), e));
        Ok(GetResult {
            meta: object.meta,
            range,
            stream: stream.boxed(),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        Ok(self.open_object(key, "head").await?.meta)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(store = "filesystem", key = %key))]
    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let path = self.object_path(key).await?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                self.prune_empty_parents(&path).await;
                Ok(())
            }
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(Error::io(self.context("delete", key), e)),
        }
    }

    fn list(&self, prefix: &str, _opts: ListOptions) -> BoxStream<'static, Result<ObjectMeta>> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        futures::stream::once(async move {
            crate::key::validate_prefix(&prefix)?;
            let context = Context::new("list")
                .key(prefix.clone())
                .endpoint(root.display().to_string());
            let found = crate::fs_util::blocking(move || Self::walk(&root, &prefix))
                .await
                .map_err(|e| Error::io(context, e))?;
            Ok::<_, Error>(futures::stream::iter(found.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        report.note(
            "configuration",
            StepStatus::Ok,
            format!("backend filesystem, root {}", self.root.display()),
            None,
        );
        report.probe_permissions(self).await;
        report
    }
}

impl fmt::Debug for FilesystemStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesystemStore")
            .field("root", &self.root)
            .finish()
    }
}

impl fmt::Display for FilesystemStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filesystem:{}", self.root.display())
    }
}
