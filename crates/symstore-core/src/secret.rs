//! A string that never prints.

use std::fmt;

/// A secret (a secret key, a password) whose `Debug` and `Display` print `***`.
///
/// The value is reachable only through [`Secret::expose`], so it cannot end up in a log line
/// or an error message by accident.
///
/// ```
/// use symstore_core::Secret;
/// let secret = Secret::new("wJalrXUtnFEMI");
/// assert_eq!(format!("{secret} {secret:?}"), "*** ***");
/// assert_eq!(secret.expose(), "wJalrXUtnFEMI");
/// ```
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself; pass it only to the code that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (unset; Helm placeholders are empty strings).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}
