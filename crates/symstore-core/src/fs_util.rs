//! Atomic file writes: a temporary file beside the target, fsync, then rename (or link for
//! create-only), so a reader never sees a partial file and a failure leaves nothing behind;
//! and blocking file I/O run off the async workers.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Runs blocking file I/O on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    io: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    joined(tokio::task::spawn_blocking(io).await)
}

/// The outcome of a blocking I/O task; a task that panicked or was cancelled is an I/O error.
pub(crate) fn joined<T>(task: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    task.map_err(io::Error::other)?
}

/// A temporary file that is removed on drop unless it was moved into place.
pub(crate) struct TempFile {
    path: PathBuf,
    file: tokio::fs::File,
    placed: bool,
}

impl TempFile {
    /// Creates a new, empty temporary file in `dir`.
    pub(crate) async fn create_in(dir: &Path) -> io::Result<Self> {
        let name = format!(
            ".symstore-tmp-{}-{}",
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file,
            placed: false,
        })
    }

    /// Appends `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes).await
    }

    /// A second handle on the same file, for positional writes from blocking threads.
    pub(crate) async fn std_clone(&mut self) -> io::Result<std::fs::File> {
        self.file.flush().await?;
        Ok(self.file.try_clone().await?.into_std().await)
    }

    /// Flushes and fsyncs the data, then renames the file to `target`, replacing it.
    pub(crate) async fn persist(mut self, target: &Path) -> io::Result<()> {
        self.sync().await?;
        tokio::fs::rename(&self.path, target).await?;
        self.placed = true;
        sync_parent(target).await
    }

    /// Like [`persist`](Self::persist), but fails with `AlreadyExists` when `target` exists.
    /// A hard link is atomic and never replaces its target.
    pub(crate) async fn persist_new(mut self, target: &Path) -> io::Result<()> {
        self.sync().await?;
        tokio::fs::hard_link(&self.path, target).await?;
        sync_parent(target).await
        // Dropping `self` removes the temporary name; the data stays under `target`.
    }

    async fn sync(&mut self) -> io::Result<()> {
        self.file.flush().await?;
        self.file.sync_all().await
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn sync_parent(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::File::open(parent).await?.sync_all().await?;
    }
    Ok(())
}
