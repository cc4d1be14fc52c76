//! Validated object keys.

use std::fmt;

use crate::{Error, Result};

/// The longest key accepted, in bytes (the S3 limit).
pub const MAX_KEY_LEN: usize = 1024;

/// An object key that means the same object on every backend.
///
/// A key is a `/`-separated path of non-empty segments. It may not start with `/`, contain
/// an empty segment (`a//b`, a trailing `/`), a `.` or `..` segment, a backslash or a control
/// character, and is at most [`MAX_KEY_LEN`] bytes long. These rules keep the filesystem store
/// inside its root and make keys portable between S3, GCS and the local disk.
///
/// ```
/// use symstore_core::ObjectKey;
/// let key = ObjectKey::new("buildid/0123abcd/debuginfo")?;
/// assert_eq!(key.as_str(), "buildid/0123abcd/debuginfo");
/// assert!(ObjectKey::new("../etc/passwd").is_err());
/// assert!(ObjectKey::new("/absolute").is_err());
/// # Ok::<(), symstore_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        match invalid_reason(&key, false) {
            None => Ok(Self(key)),
            Some(reason) => Err(Error::InvalidKey { key, reason }),
        }
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's `/`-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The key's last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

/// Validates a listing prefix: the key rules, except that it may be empty and may end with
/// `/` or in the middle of a segment.
///
/// ```
/// use symstore_core::key::validate_prefix;
/// assert!(validate_prefix("").is_ok());
/// assert!(validate_prefix("buildid/ab").is_ok());
/// assert!(validate_prefix("buildid/").is_ok());
/// assert!(validate_prefix("../").is_err());
/// ```
pub fn validate_prefix(prefix: &str) -> Result<()> {
    match invalid_reason(prefix, true) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidKey {
            key: prefix.to_owned(),
            reason,
        }),
    }
}

fn invalid_reason(key: &str, is_prefix: bool) -> Option<&'static str> {
    if key.is_empty() {
        return (!is_prefix).then_some("the key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Some("the key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Some("the key starts with `/`");
    }
    if key.chars().any(char::is_control) {
        return Some("the key contains a control character");
    }
    if key.contains('\\') {
        return Some("the key contains a backslash");
    }
    let mut segments: Vec<&str> = key.split('/').collect();
    if is_prefix {
        // The last segment of a prefix may be partial or empty ("a/" or "a/b").
        let last = segments.pop().unwrap_or_default();
        if last == "." || last == ".." {
            return Some("the key has a `.` or `..` segment");
        }
    }
    for segment in segments {
        if segment.is_empty() {
            return Some("the key has an empty segment (`//` or a trailing `/`)");
        }
        if segment == "." || segment == ".." {
            return Some("the key has a `.` or `..` segment");
        }
    }
    None
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Lets maps keyed by `ObjectKey` be searched by `&str` (ordering and hashing are the
// string's own).
impl std::borrow::Borrow<str> for ObjectKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        Self::new(value)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_keys_are_accepted() {
        for key in [
            "a",
            "ab/cdef/debuginfo",
            "buildid/0123/source/%2Fusr%2Fsrc%2Fmain.c",
            "libxul.so/ABCDEF0123/libxul.so",
            "a.b/..c/d..",
            "ünïcode/ключ",
        ] {
            assert!(ObjectKey::new(key).is_ok(), "{key} should be valid");
        }
        assert!(ObjectKey::new("x".repeat(MAX_KEY_LEN)).is_ok());
    }

    #[test]
    fn invalid_keys_are_rejected_with_the_rule_they_break() {
        let cases = [
            ("", "empty"),
            ("/a", "starts with `/`"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
            ("..", "`..` segment"),
            ("a/../b", "`..` segment"),
            ("./a", "`.` or `..`"),
            ("a\nb", "control character"),
            ("a\0b", "control character"),
            ("a\\b", "backslash"),
        ];
        for (key, expected) in cases {
            match ObjectKey::new(key) {
                Err(Error::InvalidKey { reason, .. }) => {
                    assert!(reason.contains(expected), "{key:?}: {reason}")
                }
                other => panic!("{key:?} gave {other:?}"),
            }
        }
        assert!(ObjectKey::new("x".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn prefixes_may_be_empty_or_partial_but_not_escape() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("a/").is_ok());
        assert!(validate_prefix("a/b").is_ok());
        assert!(validate_prefix("a//").is_err());
        assert!(validate_prefix("a/..").is_err());
        assert!(validate_prefix("/a").is_err());
    }
}
