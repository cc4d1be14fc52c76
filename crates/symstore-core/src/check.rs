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

impl StepStatus {
    /// A short stable name: `ok`, `warning`, `failed` or `skipped` (for JSON output).
    ///
    /// ```
    /// assert_eq!(symstore_core::StepStatus::Failed.as_str(), "failed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Warning => "warning",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
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
    /// What was found (endpoint, credential source, ...), never a secret; for a failure, the
    /// cause: the error without its fix, followed by the lowest-level reason when there is one
    /// (`connection refused`, `invalid peer certificate: UnknownIssuer`, ...).
    pub detail: String,
    /// What to do about a failure or warning.
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

    /// Records a failed step: its cause (see [`CheckStep::detail`]), the error's fix and kind.
    ///
    /// ```
    /// use std::time::Duration;
    /// use symstore_core::{CheckReport, Context, Error};
    /// let mut report = CheckReport::new();
    /// let error = Error::Timeout { context: Context::new("check"), hint: "check the firewall".into() };
    /// report.fail("bucket exists", Duration::from_secs(2), &error);
    /// let step = report.first_failure().unwrap();
    /// assert_eq!(step.detail, "check: timed out");
    /// assert_eq!(step.fix.as_deref(), Some("check the firewall"));
    /// assert_eq!(step.error_kind, Some("timeout"));
    /// ```
    pub fn fail(&mut self, name: impl Into<String>, duration: Duration, error: &Error) {
        self.steps.push(CheckStep {
            name: name.into(),
            status: StepStatus::Failed,
            duration,
            detail: cause_of(error),
            fix: error.hint().map(str::to_owned),
            error_kind: Some(error.kind_name()),
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
        match outcome {
            Ok((value, detail)) => {
                self.steps.push(CheckStep {
                    name: name.to_owned(),
                    status: StepStatus::Ok,
                    duration,
                    detail,
                    fix: None,
                    error_kind: None,
                });
                Some(value)
            }
            Err(error) => {
                self.fail(name, duration, &error);
                None
            }
        }
    }

    /// Runs the permission probe on `store`: put, get, list and delete of a small object under
    /// [`PROBE_PREFIX`]. Once the put was attempted the probe object is deleted whatever
    /// failed in between (a put that failed on the client's side may still have been stored).
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
        let put_attempted = self.is_ok();
        let put = self
            .step(STEP_PUT, async {
                store
                    .put(&key, PutPayload::from(body.clone()), PutOptions::default())
                    .await
                    .map(|_| ((), format!("wrote {key}")))
            })
            .await;
        self.step(STEP_GET, async {
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
        self.step(STEP_LIST, async {
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
        if !put_attempted {
            self.note(STEP_DELETE, StepStatus::Skipped, "", None);
            return;
        }
        // Deleted even after a failure in between: a failed get or list must not leave the
        // probe behind. The step is reported only when the put worked; after a failed put the
        // removal is a silent best effort (it would fail for the same reason).
        let started = Instant::now();
        let deleted = store.delete(&key).await;
        match (put.is_some(), deleted) {
            (true, Ok(())) => self.steps.push(CheckStep {
                name: STEP_DELETE.into(),
                status: StepStatus::Ok,
                duration: started.elapsed(),
                detail: format!("deleted {key}"),
                fix: None,
                error_kind: None,
            }),
            (true, Err(error)) => {
                self.fail(STEP_DELETE, started.elapsed(), &error);
                if let Some(step) = self.steps.last_mut() {
                    step.detail.push_str(&format!(
                        " (the probe object {key} remains: remove it with credentials allowed \
                         to delete)"
                    ));
                }
            }
            (false, _) => self.note(STEP_DELETE, StepStatus::Skipped, "", None),
        }
    }
}

/// The name of the probe's put step.
pub const STEP_PUT: &str = "permission: put object";
/// The name of the probe's get step.
pub const STEP_GET: &str = "permission: get object";
/// The name of the probe's list step.
pub const STEP_LIST: &str = "permission: list objects";
/// The name of the probe's delete step.
pub const STEP_DELETE: &str = "permission: delete object";

/// The cause of a failure as a report shows it: the error's message without its fix (shown
/// apart), then the lowest-level reason from the source chain when it adds something.
fn cause_of(error: &Error) -> String {
    let message = error.to_string();
    let mut cause = match error.hint() {
        Some(hint) if !hint.is_empty() => message
            .strip_suffix(hint)
            .unwrap_or(&message)
            .trim_end_matches([' ', '.'])
            .to_owned(),
        _ => message,
    };
    let mut root: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(next) = root.and_then(|e| e.source()) {
        root = Some(next);
    }
    if let Some(root) = root {
        let reason = root.to_string();
        let reason = reason.trim();
        if !reason.is_empty() && !cause.contains(reason) {
            let reason: String = reason.chars().take(300).collect();
            cause.push_str(&format!(" ({reason})"));
        }
    }
    cause
}

/// One failure `check` can report, as an operators' troubleshooting guide lists it: the
/// symptom, the step that reports it, the error kind and the fix `check` prints, with
/// placeholders (`<endpoint>`, `<bucket>`, ...) for what differs between installations.
///
/// Backends list theirs (e.g. `symstore_s3::S3Store::known_failures`); the README's
/// Troubleshooting section is rendered from that list by `symstore check --explain`, so the
/// guide and the tool cannot say different things.
///
/// ```
/// use symstore_core::check::KnownFailure;
/// let failure = KnownFailure::new("Timeout", "endpoint reachable", "timeout", "check the firewall");
/// assert_eq!(failure.error_kind, "timeout");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KnownFailure {
    /// What the operator sees or did, e.g. `Wrong secret key`.
    pub symptom: String,
    /// The step of the report that fails; several are joined by ` or ` (`permission: *`
    /// stands for each probe step).
    pub step: String,
    /// The error's kind name (see [`Error::kind_name`]).
    pub error_kind: &'static str,
    /// The fix `check` prints, with placeholders.
    pub fix: String,
}

impl KnownFailure {
    /// A known failure; see the fields.
    pub fn new(
        symptom: impl Into<String>,
        step: impl Into<String>,
        error_kind: &'static str,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            symptom: symptom.into(),
            step: step.into(),
            error_kind,
            fix: fix.into(),
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
            // Untimed steps (configuration facts, skipped steps) show no duration.
            let duration = if step.duration.is_zero() {
                String::new()
            } else {
                format!("{:.1?}", step.duration)
            };
            let line = match step.status {
                StepStatus::Ok => {
                    format!("[{mark}] {:<28} {duration:>9}  {}", step.name, step.detail)
                }
                _ => format!("[{mark}] {:<28} {duration:>9}", step.name),
            };
            writeln!(f, "{}", line.trim_end())?;
            if matches!(step.status, StepStatus::Failed | StepStatus::Warning)
                && !step.detail.is_empty()
            {
                writeln!(f, "       cause: {}", step.detail)?;
            }
            if let Some(fix) = &step.fix {
                writeln!(f, "       fix:   {fix}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, MemoryStore, SymbolStoreExt};

    #[test]
    fn a_failure_shows_its_cause_and_fix_apart() {
        let mut report = CheckReport::new();
        let error = Error::AccessDenied {
            context: Context::new("delete").key("k").bucket("b"),
            hint: "grant s3:DeleteObject".into(),
        };
        report.fail(
            "permission: delete object",
            Duration::from_millis(3),
            &error,
        );
        let text = report.to_string();
        assert!(
            text.contains("cause: delete `k` in bucket `b`: access denied\n"),
            "{text}"
        );
        assert!(text.contains("fix:   grant s3:DeleteObject\n"), "{text}");
    }

    #[test]
    fn a_cause_ends_with_the_lowest_level_reason() {
        let error = Error::Connect {
            context: Context::new("check"),
            hint: "check the port".into(),
            source: Some(Box::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ))),
        };
        assert_eq!(
            cause_of(&error),
            "check: cannot connect (connection refused)"
        );
    }

    #[tokio::test]
    async fn the_probe_passes_on_memory_and_leaves_no_probe_object() {
        let store = MemoryStore::new();
        let mut report = CheckReport::new();
        report.probe_permissions(&store).await;
        assert!(report.is_ok(), "{report}");
        assert!(store.list_all(PROBE_PREFIX).await.unwrap().is_empty());
    }
}
