//! The connectivity and permission check: a step-by-step report with timings, and the first
//! failure's cause and fix.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;

use crate::{Error, GetOptions, ListOptions, ObjectKey, PutOptions, PutPayload, SymbolStore};

/// The prefix under which `check` writes its probe object. Nothing else is stored there.
pub const PROBE_PREFIX: &str = ".symstore-check/";

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepStatus {
    /// It worked.
    Ok,
    /// It worked, but something deserves attention (plain HTTP to a remote host, ...).
    Warning,
    /// It failed; later steps were not run.
    Failed,
    /// Not run because an earlier step failed.
    Skipped,
}

/// One step of a check.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckStep {
    /// What was checked, e.g. `bucket exists`.
    pub name: String,
    /// How it ended.
    pub status: StepStatus,
    /// How long it took.
    pub duration: Duration,
    /// What was found (endpoint, credential source, ...), never a secret.
    pub detail: String,
    /// The cause and fix, for a failure or warning.
    pub fix: Option<String>,
    /// The error's kind name (see [`Error::kind_name`]) for a failure.
    pub error_kind: Option<&'static str>,
}

/// The result of [`SymbolStore::check`].
///
/// ```
/// use symstore_core::{MemoryStore, SymbolStore};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let report = MemoryStore::new().check().await;
/// assert!(report.is_ok(), "{report}");
/// # });
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CheckReport {
    /// The steps, in order.
    pub steps: Vec<CheckStep>,
}

impl CheckReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no step failed.
    pub fn is_ok(&self) -> bool {
        !self.steps.iter().any(|s| s.status == StepStatus::Failed)
    }

    /// The first failed step.
    pub fn first_failure(&self) -> Option<&CheckStep> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed)
    }

    /// Records a step that needed no timing (configuration facts, warnings).
    pub fn note(
        &mut self,
        name: impl Into<String>,
        status: StepStatus,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.steps.push(CheckStep {
            name: name.into(),
            status,
            duration: Duration::ZERO,
            detail: detail.into(),
            fix,
            error_kind: None,
        });
    }

    /// Runs one step unless an earlier one failed, timing it; returns its value on success.
    pub async fn step<T, F>(&mut self, name: &str, run: F) -> Option<T>
    where
        F: Future<Output = Result<(T, String), Error>>,
    {
        if !self.is_ok() {
            self.note(name, StepStatus::Skipped, "", None);
            return None;
        }
        let started = Instant::now();
        let outcome = run.await;
        let duration = started.elapsed();
        let (status, detail, fix, error_kind, value) = match outcome {
            Ok((value, detail)) => (StepStatus::Ok, detail, None, None, Some(value)),
            Err(error) => (
                StepStatus::Failed,
                error.to_string(),
                error.hint().map(str::to_owned),
                Some(error.kind_name()),
                None,
            ),
        };
        self.steps.push(CheckStep {
            name: name.to_owned(),
            status,
            duration,
            detail,
            fix,
            error_kind,
        });
        value
    }

    /// Runs the permission probe on `store`: put, get, list and delete of a small object under
    /// [`PROBE_PREFIX`]. The probe object is removed even when a later step fails.
    pub async fn probe_permissions<S: SymbolStore + ?Sized>(&mut self, store: &S) {
        let name = format!(
            "{PROBE_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let key = ObjectKey::new(name).expect("the probe key is valid");
        let body = Bytes::from_static(b"symstore permission probe\n");
        let put = self
            .step("permission: put object", async {
                store
                    .put(&key, PutPayload::from(body.clone()), PutOptions::default())
                    .await
                    .map(|_| ((), format!("wrote {key}")))
            })
            .await;
        self.step("permission: get object", async {
            let read = store
                .get(&key, GetOptions::default())
                .await?
                .bytes()
                .await?;
            if read == body {
                Ok(((), format!("read {} bytes back", read.len())))
            } else {
                Err(Error::Backend {
                    context: crate::Context::new("check").key(key.as_str()),
                    message: "the probe object read back differs from what was written".into(),
                    retryable: false,
                    source: None,
                })
            }
        })
        .await;
        self.step("permission: list objects", async {
            let found: Vec<_> = store
                .list(PROBE_PREFIX, ListOptions::default())
                .try_collect()
                .await?;
            if found.iter().any(|m| m.key == key) {
                Ok((
                    (),
                    format!("listed {} object(s) under {PROBE_PREFIX}", found.len()),
                ))
            } else {
                Err(Error::Backend {
                    context: crate::Context::new("check").key(key.as_str()),
                    message: "the probe object is missing from the listing".into(),
                    retryable: false,
                    source: None,
                })
            }
        })
        .await;
        if put.is_some() {
            // Always try to remove the probe, whatever failed in between.
            let started = Instant::now();
            let outcome = store.delete(&key).await;
            let (status, detail, fix, error_kind) = match outcome {
                Ok(()) => (StepStatus::Ok, format!("deleted {key}"), None, None),
                Err(e) => (
                    StepStatus::Failed,
                    e.to_string(),
                    e.hint().map(str::to_owned),
                    Some(e.kind_name()),
                ),
            };
            self.steps.push(CheckStep {
                name: "permission: delete object".into(),
                status,
                duration: started.elapsed(),
                detail,
                fix,
                error_kind,
            });
        } else {
            self.note("permission: delete object", StepStatus::Skipped, "", None);
        }
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            let mark = match step.status {
                StepStatus::Ok => "ok  ",
                StepStatus::Warning => "warn",
                StepStatus::Failed => "FAIL",
                StepStatus::Skipped => "skip",
            };
            write!(f, "[{mark}] {:<28}", step.name)?;
            if step.status != StepStatus::Skipped {
                write!(f, " {:>8.1?}", step.duration)?;
            }
            if !step.detail.is_empty() {
                write!(f, "  {}", step.detail)?;
            }
            writeln!(f)?;
            if let Some(fix) = &step.fix {
                writeln!(f, "       fix: {fix}")?;
            }
        }
        Ok(())
    }
}
