//! The in-memory store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::check::{CheckReport, StepStatus};
use crate::store::{check_conditions, resolve_range};
use crate::{
    Context, Error, GetOptions, GetResult, ListOptions, ObjectKey, ObjectMeta, PutMode, PutOptions,
    PutPayload, PutResult, Result, SymbolStore,
};

/// A store that keeps objects in memory: for tests, caches and examples. Its content is lost
/// when the last clone is dropped.
///
/// ```
/// use symstore_core::{MemoryStore, ObjectKey, SymbolStore, SymbolStoreExt, PutOptions};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = ObjectKey::new("a/b")?;
/// store.put(&key, "hello".into(), PutOptions::default()).await?;
/// assert!(store.exists(&key).await?);
/// # Ok::<(), symstore_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    objects: RwLock<BTreeMap<ObjectKey, Stored>>,
    next_tag: AtomicU64,
}

#[derive(Clone)]
struct Stored {
    data: Bytes,
    meta: ObjectMeta,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn context(&self, operation: &'static str, key: &ObjectKey) -> Context {
        Context::new(operation).key(key.as_str()).endpoint("memory")
    }

    fn read(&self, key: &ObjectKey) -> Option<Stored> {
        let objects = self
            .inner
            .objects
            .read()
            .expect("memory store lock poisoned");
        objects.get(key).cloned()
    }
}

#[async_trait]
impl SymbolStore for MemoryStore {
    async fn put(
        &self,
        key: &ObjectKey,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let context = self.context("put", key);
        if opts.mode == PutMode::Create && self.read(key).is_some() {
            return Err(Error::AlreadyExists { context });
        }
        let total = payload.total_size().await;
        let mut buffer = BytesMut::new();
        let mut stream = payload.into_stream();
        while let Some(chunk) = stream.next().await {
            buffer.extend_from_slice(&chunk?);
            if let Some(progress) = &opts.progress {
                progress(crate::Progress {
                    bytes_done: buffer.len() as u64,
                    bytes_total: total,
                });
            }
        }
        let data = buffer.freeze();
        let tag = self.inner.next_tag.fetch_add(1, Ordering::Relaxed);
        let e_tag = format!("\"mem-{tag:x}\"");
        let meta = ObjectMeta {
            key: key.clone(),
            size: data.len() as u64,
            last_modified: Some(SystemTime::now()),
            e_tag: Some(e_tag.clone()),
            content_type: opts.content_type,
            metadata: opts.metadata,
            crc32c: Some(crate::multipart::crc32c(&data)),
        };
        let size = meta.size;
        let mut objects = self
            .inner
            .objects
            .write()
            .expect("memory store lock poisoned");
        if opts.mode == PutMode::Create && objects.contains_key(key) {
            return Err(Error::AlreadyExists { context });
        }
        objects.insert(key.clone(), Stored { data, meta });
        Ok(PutResult {
            e_tag: Some(e_tag),
            size,
        })
    }

    async fn get(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let context = self.context("get", key);
        let Some(stored) = self.read(key) else {
            return Err(Error::NotFound { context });
        };
        check_conditions(&opts, stored.meta.e_tag.as_deref().unwrap_or(""), &context)?;
        let range = resolve_range(&opts, stored.meta.size, &context)?;
        let body = stored.data.slice(range.start as usize..range.end as usize);
        Ok(GetResult {
            meta: stored.meta,
            range,
            stream: futures::stream::once(async move { Ok(body) }).boxed(),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        match self.read(key) {
            Some(stored) => Ok(stored.meta),
            None => Err(Error::NotFound {
                context: self.context("head", key),
            }),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let mut objects = self
            .inner
            .objects
            .write()
            .expect("memory store lock poisoned");
        objects.remove(key);
        Ok(())
    }

    fn list(&self, prefix: &str, _opts: ListOptions) -> BoxStream<'static, Result<ObjectMeta>> {
        if let Err(e) = crate::key::validate_prefix(prefix) {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let objects = self
            .inner
            .objects
            .read()
            .expect("memory store lock poisoned");
        let found: Vec<Result<ObjectMeta>> = objects
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(key, _)| key.as_str().starts_with(prefix))
            .map(|(_, stored)| {
                let mut meta = ObjectMeta::new(stored.meta.key.clone(), stored.meta.size);
                meta.last_modified = stored.meta.last_modified;
                meta.e_tag = stored.meta.e_tag.clone();
                Ok(meta)
            })
            .collect();
        futures::stream::iter(found).boxed()
    }

    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        report.note(
            "configuration",
            StepStatus::Ok,
            "backend memory (content is lost when the process exits)",
            None,
        );
        report.probe_permissions(self).await;
        report
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.inner.objects.read().map(|o| o.len()).unwrap_or(0);
        f.debug_struct("MemoryStore")
            .field("objects", &count)
            .finish()
    }
}

impl fmt::Display for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("memory")
    }
}
