//! `put` and `get`: streaming uploads and downloads, from and to files or stdin/stdout, with a
//! progress bar for large transfers when stderr is a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use symstore::{
    ByteRange, Context, Error, GetOptions, ObjectKey, PutOptions, PutPayload, SymbolStore,
};
use tokio::io::AsyncWriteExt;

/// Transfers at least this large get a progress bar (on a terminal).
const LARGE: u64 = 16 * 1024 * 1024;

/// A progress bar on stderr for a transfer of `total` bytes (unknown: `None`), or none when
/// stderr is not a terminal or the transfer is small.
fn progress_bar(total: Option<u64>, verb: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || total.is_some_and(|t| t < LARGE) {
        return None;
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{msg} {spinner} {bytes} {bytes_per_sec}")
                .expect("a valid template"),
        ),
    };
    Some(bar.with_message(verb.to_owned()))
}

/// `put FILE|- KEY`: uploads a file or standard input, streaming it.
pub(crate) async fn put(store: &dyn SymbolStore, file: &Path, key: &str) -> Result<(), Error> {
    let key = ObjectKey::new(key)?;
    let from_stdin = file == Path::new("-");
    let (payload, total) = if from_stdin {
        (PutPayload::from_reader(tokio::io::stdin()), None)
    } else {
        let size = tokio::fs::metadata(file)
            .await
            .map_err(|e| Error::io(Context::new("put").key(file.display().to_string()), e))?
            .len();
        (PutPayload::from_file(file), Some(size))
    };
    let bar = progress_bar(total, "uploading");
    let mut opts = PutOptions::default();
    if let Some(bar) = bar.clone() {
        opts = opts.progress(move |p| bar.set_position(p.bytes_done));
    }
    let stored = store.put(&key, payload, opts).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let stored = stored?;
    if std::io::stderr().is_terminal() {
        eprintln!("uploaded {key}: {} bytes", stored.size);
    }
    Ok(())
}

/// `get KEY [FILE|-] [--range A-B]`: downloads to a file (written whole or not at all) or to
/// standard output, streaming it.
pub(crate) async fn get(
    store: &dyn SymbolStore,
    key: &str,
    file: &Path,
    range: Option<ByteRange>,
) -> Result<(), Error> {
    let key = ObjectKey::new(key)?;
    let mut opts = GetOptions::default();
    if let Some(range) = range {
        opts = opts.range(range);
    }
    let result = store.get(&key, opts).await?;
    let total = result.range.end - result.range.start;
    let bar = progress_bar(Some(total), "downloading");
    let to_stdout = file == Path::new("-");
    let written = if to_stdout {
        copy_to_stdout(result.stream, bar.as_ref()).await
    } else {
        copy_to_file(result.stream, file, bar.as_ref()).await
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    written
}

async fn copy_to_stdout(
    mut stream: symstore::ByteStream,
    bar: Option<&ProgressBar>,
) -> Result<(), Error> {
    let context = || Context::new("write to standard output");
    let mut stdout = tokio::io::stdout();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        match stdout.write_all(&chunk).await {
            // The reader went away (`| head`): what it wanted was written.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other.map_err(|e| Error::io(context(), e))?,
        }
        if let Some(bar) = bar {
            bar.inc(chunk.len() as u64);
        }
    }
    match stdout.flush().await {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| Error::io(context(), e)),
    }
}

/// Writes to a temporary file beside `path`, renamed into place once complete.
async fn copy_to_file(
    mut stream: symstore::ByteStream,
    path: &Path,
    bar: Option<&ProgressBar>,
) -> Result<(), Error> {
    let context = || Context::new("download").key(path.display().to_string());
    let partial = partial_path(path);
    let written = async {
        let mut out = tokio::fs::File::create(&partial).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            out.write_all(&chunk).await?;
            if let Some(bar) = bar {
                bar.inc(chunk.len() as u64);
            }
        }
        out.sync_all().await?;
        drop(out);
        tokio::fs::rename(&partial, path).await
    }
    .await;
    if let Err(error) = written {
        let _ = tokio::fs::remove_file(&partial).await;
        // A failed read of the object keeps its own error (and exit code).
        return Err(match error.downcast::<Error>() {
            Ok(inner) => inner,
            Err(io) => Error::io(context(), io),
        });
    }
    Ok(())
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".symstore-partial-{}", std::process::id()));
    path.with_file_name(name)
}
