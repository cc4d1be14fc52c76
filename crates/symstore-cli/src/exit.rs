//! The exit codes of `symstore`: one per kind of cause an operator acts on differently.
//!
//! The table below is the single source of the codes: the mapping from errors, the `--help`
//! text and the README's Troubleshooting section are all derived from it.

use std::fmt::Write as _;

/// One exit code: its number, what it means, and the error kinds
/// ([`symstore::Error::kind_name`]) that lead to it.
pub(crate) struct ExitKind {
    pub(crate) code: u8,
    pub(crate) meaning: &'static str,
    pub(crate) error_kinds: &'static [&'static str],
}

/// Success.
pub(crate) const OK: u8 = 0;
/// Any failure not named by another code.
pub(crate) const OTHER: u8 = 1;
/// The configuration or the command line is wrong.
pub(crate) const CONFIGURATION: u8 = 2;

/// Every exit code, in order.
pub(crate) const EXIT_CODES: &[ExitKind] = &[
    ExitKind {
        code: OK,
        meaning: "success (for `check`: every step passed; warnings do not fail it)",
        error_kinds: &[],
    },
    ExitKind {
        code: OTHER,
        meaning: "any other failure (I/O, an unexpected answer from the server)",
        error_kinds: &[
            "backend",
            "io",
            "already_exists",
            "precondition",
            "not_modified",
            "range_not_satisfiable",
        ],
    },
    ExitKind {
        code: CONFIGURATION,
        meaning: "configuration or usage: bad config file, argument or key; command not for \
                  this backend",
        error_kinds: &["config", "invalid_key"],
    },
    ExitKind {
        code: 3,
        meaning: "authentication or permission: credentials missing, refused or lacking an action",
        error_kinds: &["credentials", "unauthenticated", "access_denied"],
    },
    ExitKind {
        code: 4,
        meaning: "not found: the bucket or the object does not exist",
        error_kinds: &["bucket_not_found", "not_found"],
    },
    ExitKind {
        code: 5,
        meaning: "connectivity: connection refused or unreachable, timeout, TLS",
        error_kinds: &["connect", "timeout", "tls"],
    },
];

/// The exit code for an error kind name; unknown kinds are [`OTHER`].
pub(crate) fn for_kind(kind: &str) -> u8 {
    EXIT_CODES
        .iter()
        .find(|exit| exit.error_kinds.contains(&kind))
        .map_or(OTHER, |exit| exit.code)
}

/// The exit code for an error.
pub(crate) fn for_error(error: &symstore::Error) -> u8 {
    for_kind(error.kind_name())
}

/// The exit code table as `--help` shows it.
pub(crate) fn help_text() -> String {
    let mut text = String::from("Exit codes:\n");
    for exit in EXIT_CODES {
        let _ = writeln!(text, "  {}  {}", exit.code, exit.meaning);
    }
    text
}

/// The exit code table in Markdown, for the README.
pub(crate) fn markdown_table() -> String {
    let mut text = String::from("| exit code | meaning | error kinds |\n|---|---|---|\n");
    for exit in EXIT_CODES {
        let kinds: Vec<String> = exit.error_kinds.iter().map(|k| format!("`{k}`")).collect();
        let _ = writeln!(
            text,
            "| {} | {} | {} |",
            exit.code,
            exit.meaning,
            kinds.join(", ")
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_kind_has_exactly_one_exit_code() {
        let mut seen = std::collections::BTreeSet::new();
        for exit in EXIT_CODES {
            for kind in exit.error_kinds {
                assert!(seen.insert(*kind), "{kind} is listed twice");
            }
        }
    }

    #[test]
    fn codes_are_distinct_per_cause() {
        assert_eq!(for_kind("config"), 2);
        assert_eq!(for_kind("access_denied"), 3);
        assert_eq!(for_kind("unauthenticated"), 3);
        assert_eq!(for_kind("bucket_not_found"), 4);
        assert_eq!(for_kind("tls"), 5);
        assert_eq!(for_kind("timeout"), 5);
        assert_eq!(for_kind("something new"), OTHER);
    }
}
