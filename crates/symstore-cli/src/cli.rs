//! The command line: every command, argument and its help.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::exit;

/// Store debug symbols in object storage (MinIO, AWS S3, GCS) or a local directory, and tell
/// why a bucket does not connect.
///
/// Without --config the store is the embedded filesystem store at $SYMSTORE_ROOT, else
/// ./symstore-data.
#[derive(Debug, Parser)]
#[command(name = "symstore", version, after_help = exit::help_text())]
pub(crate) struct Cli {
    /// A YAML file: the config enum (`type: minio|s3|gcs|filesystem|memory`) or operators'
    /// Helm values (`storage:`), detected.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "SYMSTORE_CONFIG",
        value_name = "FILE"
    )]
    pub(crate) config: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check connectivity and permissions step by step, with the cause and fix of a failure.
    ///
    /// Steps: configuration (secrets masked), credentials, endpoint (and TLS), bucket (created
    /// when the configuration allows), then put, get, list and delete of a probe object under
    /// `.symstore-check/`, which is always removed.
    #[command(after_help = exit::help_text())]
    Check {
        /// Print the report as JSON (for a Kubernetes bucket-check job).
        #[arg(long, conflicts_with = "explain")]
        json: bool,
        /// Print every failure check can report with its fix (the README's Troubleshooting
        /// section), and exit.
        #[arg(long)]
        explain: bool,
    },
    /// Upload FILE (or standard input: `-`) as KEY, streaming it.
    Put {
        /// The file to upload, or `-` for standard input.
        file: PathBuf,
        /// The object key, e.g. `buildid/0123abcd/debuginfo`.
        key: String,
    },
    /// Download KEY to FILE (default: `-`, standard output), streaming it.
    Get {
        /// The object key.
        key: String,
        /// Where to write; `-` is standard output. A file is written whole or not at all.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Only these bytes: `START-END` (inclusive), `START-` or `-LAST_N`.
        #[arg(long, value_parser = parse_range, value_name = "A-B")]
        range: Option<symstore::ByteRange>,
    },
    /// List the keys under PREFIX.
    Ls {
        /// A plain string prefix, e.g. `buildid/`.
        #[arg(default_value = "")]
        prefix: String,
        /// Also show size and last modification time.
        #[arg(short = 'l', long = "long")]
        long: bool,
        /// Print a JSON array of objects.
        #[arg(long, conflicts_with = "long")]
        json: bool,
    },
    /// Show an object's metadata.
    Stat {
        /// The object key.
        key: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove objects (removing a missing key succeeds).
    Rm {
        /// The object keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Abort stale pending multipart uploads (left by crashed uploaders); S3-protocol
    /// backends only.
    Gc {
        /// Abort only uploads started at least this long ago, e.g. `24h`, `30m`, `0s`.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        older_than: Duration,
        /// Only uploads whose key starts with this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e}: write a duration such as 0s, 30m or 24h"))
}

/// Parses `A-B` (inclusive, as HTTP), `A-` or `-N`.
fn parse_range(text: &str) -> Result<symstore::ByteRange, String> {
    let invalid = || format!("{text:?} is not a byte range: write START-END, START- or -LAST_N");
    let (start, end) = text.trim().split_once('-').ok_or_else(invalid)?;
    let number = |s: &str| s.parse::<u64>().map_err(|_| invalid());
    match (start.is_empty(), end.is_empty()) {
        (false, false) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(format!("{text:?}: the end comes before the start"));
            }
            Ok(symstore::ByteRange::Bounded(start..end + 1))
        }
        (false, true) => Ok(symstore::ByteRange::From(number(start)?)),
        (true, false) => Ok(symstore::ByteRange::Suffix(number(end)?)),
        (true, true) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use symstore::ByteRange;

    #[test]
    fn ranges_are_inclusive_like_http() {
        assert_eq!(parse_range("0-9").unwrap(), ByteRange::Bounded(0..10));
        assert_eq!(parse_range("100-").unwrap(), ByteRange::From(100));
        assert_eq!(parse_range("-16").unwrap(), ByteRange::Suffix(16));
        assert!(parse_range("9-0").is_err());
        assert!(parse_range("-").is_err());
        assert!(parse_range("a-b").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
