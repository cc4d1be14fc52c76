//! A debuginfod server on any symstore backend: gdb, perf, systemtap and elfutils'
//! `debuginfod-find` fetch executables, debug info and sources from the bucket.
//!
//! ```text
//! cargo run --example debuginfod_server -- [--listen 127.0.0.1:8002] [--config FILE]
//!     [--layout debuginfod|unified]
//! DEBUGINFOD_URLS=http://127.0.0.1:8002 debuginfod-find executable <build-id>
//! ```
//!
//! It serves `/buildid/<id>/debuginfo`, `/buildid/<id>/executable` and
//! `/buildid/<id>/source/<absolute path>` from the store (`--config FILE`, or the embedded
//! default), streaming each object as it is read, with single byte ranges (`Range:`, answered
//! 206 or 416), `X-Debuginfod-Size` (the whole file's size) and 404 for what is not there.
//! It listens on 127.0.0.1 unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use symstore::symbol::{BuildId, FileKind, Layout, SymbolId, SymbolKey};
use symstore::{ByteRange, Error, GetOptions, SymbolStore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The header debuginfod clients read a download's total size from.
pub const X_DEBUGINFOD_SIZE: &str = "x-debuginfod-size";

#[derive(Clone)]
struct App {
    store: Arc<dyn SymbolStore>,
    layout: Layout,
}

/// The debuginfod routes over `store`, whose objects are named by `layout`.
pub fn router(store: Arc<dyn SymbolStore>, layout: Layout) -> Router {
    Router::new()
        .route("/buildid/{id}/debuginfo", get(debuginfo))
        .route("/buildid/{id}/executable", get(executable))
        .route("/buildid/{id}/source/{*path}", get(source))
        .with_state(App { store, layout })
}

/// Serves `router(store, layout)` on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn SymbolStore>,
    layout: Layout,
) -> std::io::Result<()> {
    axum::serve(listener, router(store, layout)).await
}

async fn debuginfo(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    fetch(&app, &method, &headers, &id, FileKind::Debuginfo).await
}

async fn executable(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    fetch(&app, &method, &headers, &id, FileKind::Executable).await
}

async fn source(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    Path((id, path)): Path<(String, String)>,
) -> Response {
    // The route's wildcard drops the path's leading `/`; debug info records absolute paths.
    let path = format!("/{}", path.trim_start_matches('/'));
    fetch(&app, &method, &headers, &id, FileKind::Source(path)).await
}

async fn fetch(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    id: &str,
    kind: FileKind,
) -> Response {
    let build_id: BuildId = match id.parse() {
        Ok(id) => id,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let key = SymbolKey::new(SymbolId::Elf(build_id), kind);
    let object_key = match app.layout.object_key(&key) {
        Ok(key) => key,
        // The layout has no place for it, so it cannot be in the store.
        Err(e) => return text(StatusCode::NOT_FOUND, e.to_string()),
    };
    if method == Method::HEAD {
        return match app.store.head(&object_key).await {
            Ok(meta) => {
                let mut response = StatusCode::OK.into_response();
                file_headers(response.headers_mut(), meta.size);
                set(response.headers_mut(), header::CONTENT_LENGTH, meta.size);
                response
            }
            Err(e) => error_response(app, &object_key, e).await,
        };
    }
    let range = requested_range(headers);
    let partial = range.is_some();
    let mut opts = GetOptions::default();
    opts.range = range;
    match app.store.get(&object_key, opts).await {
        Ok(result) => {
            let size = result.meta.size;
            let (start, end) = (result.range.start, result.range.end);
            let mut response = Body::from_stream(result.stream).into_response();
            let headers = response.headers_mut();
            file_headers(headers, size);
            set(headers, header::CONTENT_LENGTH, end - start);
            if partial {
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                let content_range = format!("bytes {start}-{}/{size}", end.saturating_sub(1));
                set(response.headers_mut(), header::CONTENT_RANGE, content_range);
            }
            response
        }
        Err(e) => error_response(app, &object_key, e).await,
    }
}

fn file_headers(headers: &mut HeaderMap, size: u64) {
    set(headers, header::CONTENT_TYPE, "application/octet-stream");
    set(headers, header::ACCEPT_RANGES, "bytes");
    set(headers, X_DEBUGINFOD_SIZE, size);
}

fn set(
    headers: &mut HeaderMap,
    name: impl axum::http::header::IntoHeaderName,
    value: impl ToString,
) {
    let value = HeaderValue::from_str(&value.to_string()).expect("a plain ASCII header value");
    headers.insert(name, value);
}

async fn error_response(app: &App, key: &symstore::ObjectKey, err: Error) -> Response {
    match err {
        Error::NotFound { .. } => text(StatusCode::NOT_FOUND, "not found"),
        Error::RangeNotSatisfiable { message, .. } => {
            let mut response = text(StatusCode::RANGE_NOT_SATISFIABLE, message);
            if let Ok(meta) = app.store.head(key).await {
                set(
                    response.headers_mut(),
                    header::CONTENT_RANGE,
                    format!("bytes */{}", meta.size),
                );
            }
            response
        }
        other => {
            eprintln!("debuginfod_server: {other}");
            text(StatusCode::BAD_GATEWAY, other.to_string())
        }
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, format!("{}\n", body.into())).into_response()
}

/// The single byte range of a `Range` header. Anything else (no header, several ranges, a
/// unit other than bytes, a malformed value) asks for the whole file, as RFC 9110 allows.
fn requested_range(headers: &HeaderMap) -> Option<ByteRange> {
    let value = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(ByteRange::Suffix(number(last)?)),
        (false, true) => Some(ByteRange::From(number(first)?)),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            (first <= last).then(|| ByteRange::Bounded(first..last.saturating_add(1)))
        }
        (true, true) => None,
    }
}

struct Args {
    listen: SocketAddr,
    config: Option<PathBuf>,
    layout: Layout,
}

const USAGE: &str = "usage: debuginfod_server [--listen 127.0.0.1:8002] [--config FILE] \
                     [--layout debuginfod|unified]";

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8002)),
        config: None,
        layout: Layout::Debuginfod,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| {
            argv.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--listen" => args.listen = value("--listen")?.parse()?,
            "--config" => args.config = Some(value("--config")?.into()),
            "--layout" => args.layout = value("--layout")?.parse()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unexpected argument {other}\n{USAGE}").into()),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let config = match &args.config {
        Some(path) => symstore::config::load_yaml_file(path)?.config,
        None => symstore::default_config(),
    };
    let store = symstore::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!(
        "debuginfod on http://{} from {store} (layout {})",
        listener.local_addr()?,
        args.layout
    );
    serve(listener, store, args.layout).await?;
    Ok(())
}
