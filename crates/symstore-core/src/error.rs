//! The one public error type of symstore.
//!
//! Every backend converts its own failures into [`Error`]; each variant carries the
//! [`Context`] of the failed call (operation, key, bucket, endpoint) and, where an
//! operator can act, a `hint` that names the fix.

use std::fmt;
use std::sync::Arc;

/// A boxed error from a lower layer (an SDK, the operating system).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every fallible symstore call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an error happened: the operation and, when known, the key, bucket and endpoint.
///
/// Bucket and endpoint are shared strings, so contexts are cheap to build on every call and
/// keep [`Error`] small.
///
/// ```
/// use symstore_core::Context;
/// let ctx = Context::new("get").key("ab/cdef/debuginfo").bucket("symbols");
/// assert_eq!(ctx.to_string(), "get `ab/cdef/debuginfo` in bucket `symbols`");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The operation that failed: `put`, `get`, `head`, `delete`, `list`, `check`, `open`, ...
    pub operation: &'static str,
    /// The object key, when the operation had one.
    pub key: Option<String>,
    /// The bucket, for bucket-based backends.
    pub bucket: Option<Arc<str>>,
    /// The endpoint URL or the filesystem root.
    pub endpoint: Option<Arc<str>>,
}

impl Context {
    /// A context for `operation` with nothing else known yet.
    pub fn new(operation: &'static str) -> Self {
        Self {
            operation,
            ..Self::default()
        }
    }

    /// Adds the object key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds the bucket.
    pub fn bucket(mut self, bucket: impl Into<Arc<str>>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// Adds the endpoint (URL or filesystem root).
    pub fn endpoint(mut self, endpoint: impl Into<Arc<str>>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation)?;
        if let Some(key) = &self.key {
            write!(f, " `{key}`")?;
        }
        if let Some(bucket) = &self.bucket {
            write!(f, " in bucket `{bucket}`")?;
        }
        if let Some(endpoint) = &self.endpoint {
            write!(f, " at {endpoint}")?;
        }
        Ok(())
    }
}

/// One problem found in a configuration: the full YAML path and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The full YAML path, e.g. `storage.use_existing.minio.endpoint`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one configuration, reported together so an operator fixes them
/// in one pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigError {
    /// The problems, in the order of the document.
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    /// A configuration error with a single issue.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            issues: vec![ConfigIssue {
                path: path.into(),
                message: message.into(),
            }],
        }
    }

    /// Whether some issue names exactly `path`.
    pub fn names(&self, path: &str) -> bool {
        self.issues.iter().any(|issue| issue.path == path)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.issues.as_slice() {
            [] => f.write_str("invalid configuration"),
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for issue in many {
                    write!(f, "\n  - {issue}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every failure symstore reports.
///
/// Match on the variant to decide what to do; print it to tell an operator what went wrong
/// and how to fix it.
///
/// ```
/// use symstore_core::{Context, Error};
/// let err = Error::NotFound { context: Context::new("get").key("a/b") };
/// assert!(!err.is_retryable());
/// assert_eq!(err.to_string(), "get `a/b`: object not found");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("{context}: object not found")]
    NotFound {
        /// Where it happened.
        context: Context,
    },
    /// The bucket does not exist (or is not visible to these credentials).
    #[error("{context}: bucket not found. {hint}")]
    BucketNotFound {
        /// Where it happened.
        context: Context,
        /// How to fix it.
        hint: String,
    },
    /// A create-only put found the key already taken.
    #[error("{context}: an object with this key already exists")]
    AlreadyExists {
        /// Where it happened.
        context: Context,
    },
    /// An `if-match` condition failed.
    #[error("{context}: precondition failed: {message}")]
    Precondition {
        /// Where it happened.
        context: Context,
        /// Which condition failed.
        message: String,
    },
    /// An `if-none-match` condition matched: the caller's copy is current.
    #[error("{context}: not modified")]
    NotModified {
        /// Where it happened.
        context: Context,
    },
    /// The requested byte range lies outside the object.
    #[error("{context}: range not satisfiable: {message}")]
    RangeNotSatisfiable {
        /// Where it happened.
        context: Context,
        /// The range and the object's size.
        message: String,
    },
    /// The credentials are valid but lack a permission.
    #[error("{context}: access denied. {hint}")]
    AccessDenied {
        /// Where it happened.
        context: Context,
        /// The permissions needed and where to grant them.
        hint: String,
    },
    /// The server did not accept the credentials (unknown key, wrong secret).
    #[error("{context}: not authenticated. {hint}")]
    Unauthenticated {
        /// Where it happened.
        context: Context,
        /// What to check.
        hint: String,
    },
    /// The server or the network did not answer in time.
    #[error("{context}: timed out. {hint}")]
    Timeout {
        /// Where it happened.
        context: Context,
        /// What to check.
        hint: String,
    },
    /// No connection could be made (refused, unreachable, DNS).
    #[error("{context}: cannot connect. {hint}")]
    Connect {
        /// Where it happened.
        context: Context,
        /// What to check.
        hint: String,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The TLS handshake failed (untrusted or mismatched certificate).
    #[error("{context}: TLS error. {hint}")]
    Tls {
        /// Where it happened.
        context: Context,
        /// What to check.
        hint: String,
        /// The TLS layer's error.
        #[source]
        source: Option<BoxError>,
    },
    /// Credentials could not be resolved (IRSA, instance profile, static keys).
    #[error("{context}: cannot load credentials. {hint}")]
    Credentials {
        /// Where it happened.
        context: Context,
        /// What to check.
        hint: String,
        /// The credential provider's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The object key is not valid (see [`ObjectKey`](crate::ObjectKey)).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The configuration is invalid; each issue names its YAML path and the fix.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A local I/O error (filesystem store, reading an upload's source).
    #[error("{context}: {source}")]
    Io {
        /// Where it happened.
        context: Context,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Any other failure reported by the backend.
    #[error("{context}: {message}")]
    Backend {
        /// Where it happened.
        context: Context,
        /// The backend's description.
        message: String,
        /// Whether repeating the call may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// Whether the same call may succeed if repeated (after a backoff).
    ///
    /// ```
    /// use symstore_core::{Context, Error};
    /// let err = Error::Timeout { context: Context::new("put"), hint: String::new() };
    /// assert!(err.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Connect { .. } => true,
            Error::Backend { retryable, .. } => *retryable,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }

    /// The context of the failed call, when the variant has one.
    pub fn context(&self) -> Option<&Context> {
        match self {
            Error::NotFound { context }
            | Error::BucketNotFound { context, .. }
            | Error::AlreadyExists { context }
            | Error::Precondition { context, .. }
            | Error::NotModified { context }
            | Error::RangeNotSatisfiable { context, .. }
            | Error::AccessDenied { context, .. }
            | Error::Unauthenticated { context, .. }
            | Error::Timeout { context, .. }
            | Error::Connect { context, .. }
            | Error::Tls { context, .. }
            | Error::Credentials { context, .. }
            | Error::Io { context, .. }
            | Error::Backend { context, .. } => Some(context),
            Error::InvalidKey { .. } | Error::Config(_) => None,
        }
    }

    /// The operator's fix carried by the error, when it has one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::BucketNotFound { hint, .. }
            | Error::AccessDenied { hint, .. }
            | Error::Unauthenticated { hint, .. }
            | Error::Timeout { hint, .. }
            | Error::Connect { hint, .. }
            | Error::Tls { hint, .. }
            | Error::Credentials { hint, .. } => Some(hint),
            _ => None,
        }
    }

    /// A short stable name of the variant (`not_found`, `access_denied`, ...), for reports,
    /// metrics and JSON output.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::BucketNotFound { .. } => "bucket_not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Precondition { .. } => "precondition",
            Error::NotModified { .. } => "not_modified",
            Error::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Error::AccessDenied { .. } => "access_denied",
            Error::Unauthenticated { .. } => "unauthenticated",
            Error::Timeout { .. } => "timeout",
            Error::Connect { .. } => "connect",
            Error::Tls { .. } => "tls",
            Error::Credentials { .. } => "credentials",
            Error::InvalidKey { .. } => "invalid_key",
            Error::Config(_) => "config",
            Error::Io { .. } => "io",
            Error::Backend { .. } => "backend",
        }
    }

    /// An I/O error in `context`.
    pub fn io(context: Context, source: std::io::Error) -> Self {
        Error::Io { context, source }
    }
}
