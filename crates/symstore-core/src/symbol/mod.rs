//! Debug files by identity: typed identifiers, file kinds, the key layouts symbol servers use,
//! and deduplicated uploads.
//!
//! A [`SymbolKey`] names one artifact: an identifier ([`SymbolId`]: ELF or WebAssembly
//! build-id, Mach-O UUID, PDB GUID and age, PE code id, Breakpad id) and a [`FileKind`]
//! (executable, debuginfo, Breakpad `.sym`, GSYM, source bundle, one source file). A
//! [`Layout`] maps it to an [`ObjectKey`](crate::ObjectKey) the way a symbol server expects,
//! and back, so a listing can be read as symbol keys:
//!
//! | layout | example object key |
//! |---|---|
//! | [`Layout::Unified`] | `8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/debuginfo` |
//! | [`Layout::Debuginfod`] | `buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/debuginfo` |
//! | [`Layout::Ssqp`] | `_.debug/elf-buildid-sym-8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/_.debug` |
//!
//! [`put_symbol`] uploads create-only, so many agents uploading the same build-id race safely.
//!
//! ```
//! use symstore_core::MemoryStore;
//! use symstore_core::symbol::{put_symbol, FileKind, Layout, PutSymbolOptions, SymbolKey};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let key = SymbolKey::new("elf:8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2".parse()?, FileKind::Debuginfo);
//! let object_key = Layout::Debuginfod.object_key(&key)?;
//! assert_eq!(object_key.as_str(), "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/debuginfo");
//! put_symbol(&store, Layout::Debuginfod, &key, "\x7fELF...".into(), PutSymbolOptions::default()).await?;
//! let again = put_symbol(&store, Layout::Debuginfod, &key, "\x7fELF...".into(), PutSymbolOptions::default()).await;
//! assert!(matches!(again, Err(symstore_core::Error::AlreadyExists { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;

mod id;
mod layout;
mod put;

pub use id::{BreakpadId, BuildId, MAX_BUILD_ID_LEN, MachoUuid, PdbId, PeCodeId, SymbolId};
pub use layout::Layout;
pub use put::{PutSymbolOptions, SymbolMetadata, list_symbols, put_symbol};

use crate::Error;

/// What kind of artifact of a debug file a key names.
///
/// ```
/// use symstore_core::symbol::FileKind;
/// assert_eq!(FileKind::Debuginfo.name(), "debuginfo");
/// assert_eq!("sourcebundle".parse::<FileKind>()?, FileKind::SourceBundle);
/// assert_eq!(FileKind::Source("/usr/src/main.c".into()).name(), "source");
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FileKind {
    /// The executable or shared library itself (possibly stripped).
    Executable,
    /// The debug information: a separate ELF `.debug` file, a dSYM's DWARF, a PDB.
    Debuginfo,
    /// A Breakpad `.sym` text file.
    Breakpad,
    /// A GSYM file (compact address-to-symbol tables).
    Gsym,
    /// A source bundle: the sources a debug file references, in one zip archive.
    SourceBundle,
    /// One source file, by the absolute path the debug information records (debuginfod's
    /// `/buildid/<id>/source/<path>`).
    Source(String),
}

impl FileKind {
    /// The kind's name, as the unified and debuginfod layouts write it.
    ///
    /// ```
    /// use symstore_core::symbol::FileKind;
    /// assert_eq!(FileKind::Breakpad.name(), "breakpad");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            FileKind::Executable => "executable",
            FileKind::Debuginfo => "debuginfo",
            FileKind::Breakpad => "breakpad",
            FileKind::Gsym => "gsym",
            FileKind::SourceBundle => "sourcebundle",
            FileKind::Source(_) => "source",
        }
    }
}

impl std::str::FromStr for FileKind {
    type Err = SymbolError;

    /// Parses the name of a kind without a path (`source` needs one: build
    /// [`FileKind::Source`] directly).
    fn from_str(name: &str) -> Result<Self, SymbolError> {
        Ok(match name {
            "executable" => FileKind::Executable,
            "debuginfo" => FileKind::Debuginfo,
            "breakpad" => FileKind::Breakpad,
            "gsym" => FileKind::Gsym,
            "sourcebundle" => FileKind::SourceBundle,
            _ => {
                return Err(SymbolError::invalid_id(
                    "file kind",
                    name,
                    "expected executable, debuginfo, breakpad, gsym or sourcebundle",
                ));
            }
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKind::Source(path) => write!(f, "source {path}"),
            other => f.write_str(other.name()),
        }
    }
}

/// One artifact of one debug file: its identifier, its kind and, for layouts that name files
/// (the symbol-server layout), the file's name.
///
/// ```
/// use symstore_core::symbol::{FileKind, Layout, SymbolKey};
/// let key = SymbolKey::new("pe:5AB380779000".parse()?, FileKind::Executable).file_name("Foo.exe");
/// assert_eq!(key.to_string(), "pe:5AB380779000/executable (Foo.exe)");
/// assert_eq!(Layout::Ssqp.object_key(&key)?.as_str(), "foo.exe/5ab380779000/foo.exe");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct SymbolKey {
    /// Which debug file.
    pub id: SymbolId,
    /// Which artifact of it.
    pub kind: FileKind,
    /// The file's name without directories (`libc.so.6`, `foo.pdb`), when known.
    pub file_name: Option<String>,
}

impl SymbolKey {
    /// The key of the `kind` artifact of the debug file `id`.
    ///
    /// ```
    /// use symstore_core::symbol::{FileKind, SymbolKey};
    /// let key = SymbolKey::new("elf:abcd".parse()?, FileKind::Executable);
    /// assert_eq!(key.file_name, None);
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn new(id: SymbolId, kind: FileKind) -> Self {
        Self {
            id,
            kind,
            file_name: None,
        }
    }

    /// Sets the file's name (without directories).
    ///
    /// ```
    /// use symstore_core::symbol::{FileKind, SymbolKey};
    /// let key = SymbolKey::new("elf:abcd".parse()?, FileKind::Executable).file_name("ls");
    /// assert_eq!(key.file_name.as_deref(), Some("ls"));
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = Some(file_name.into());
        self
    }

    /// The artifact's file format, as stored in the `format` metadata: `elf`, `macho`, `pe`,
    /// `pdb`, `wasm`, `breakpad`, `gsym`, `sourcebundle` or `source`.
    ///
    /// ```
    /// use symstore_core::symbol::{FileKind, SymbolKey};
    /// let dsym = SymbolKey::new("macho:550e8400e29b41d4a716446655440000".parse()?, FileKind::Debuginfo);
    /// assert_eq!(dsym.format(), "macho");
    /// let gsym = SymbolKey::new("elf:abcd".parse()?, FileKind::Gsym);
    /// assert_eq!(gsym.format(), "gsym");
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn format(&self) -> &'static str {
        match (&self.kind, &self.id) {
            (FileKind::Breakpad, _) | (_, SymbolId::Breakpad(_)) => "breakpad",
            (FileKind::Gsym, _) => "gsym",
            (FileKind::SourceBundle, _) => "sourcebundle",
            (FileKind::Source(_), _) => "source",
            (_, SymbolId::Elf(_)) => "elf",
            (_, SymbolId::Wasm(_)) => "wasm",
            (_, SymbolId::MachO(_)) => "macho",
            (_, SymbolId::Pdb(_)) => "pdb",
            (_, SymbolId::Pe(_)) => "pe",
        }
    }
}

impl fmt::Display for SymbolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.id, self.kind)?;
        if let Some(name) = &self.file_name {
            write!(f, " ({name})")?;
        }
        Ok(())
    }
}

/// Why an identifier, a symbol key or an object key was rejected.
///
/// Converts into [`Error::InvalidKey`] where a store call needs one error type.
///
/// ```
/// use symstore_core::symbol::BuildId;
/// let err = "abc".parse::<BuildId>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid build-id \"abc\": odd number of hex digits: a build-id is whole bytes, two digits each"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    /// Text that is not an identifier (or file kind) of the expected type.
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidId {
        /// What was expected: `build-id`, `PDB id`, ...
        what: &'static str,
        /// The rejected text.
        input: String,
        /// What is wrong and what is expected instead.
        reason: &'static str,
    },
    /// A symbol key the layout has no place for.
    #[error("the {layout} layout cannot store {key}: {reason}")]
    Unsupported {
        /// The layout.
        layout: Layout,
        /// The symbol key.
        key: String,
        /// What the layout accepts instead.
        reason: &'static str,
    },
    /// An object key the layout does not write (another layout's key, a foreign object).
    #[error("{key:?} is not a key of the {layout} layout: {reason}")]
    ForeignKey {
        /// The layout.
        layout: Layout,
        /// The object key.
        key: String,
        /// Which rule of the layout it breaks.
        reason: &'static str,
    },
}

impl SymbolError {
    pub(crate) fn invalid_id(
        what: &'static str,
        input: impl Into<String>,
        reason: &'static str,
    ) -> Self {
        SymbolError::InvalidId {
            what,
            input: input.into(),
            reason,
        }
    }
}

impl From<SymbolError> for Error {
    fn from(err: SymbolError) -> Self {
        let (key, reason) = match err {
            SymbolError::InvalidId { input, reason, .. } => (input, reason),
            SymbolError::Unsupported { key, reason, .. } => (key, reason),
            SymbolError::ForeignKey { key, reason, .. } => (key, reason),
        };
        Error::InvalidKey { key, reason }
    }
}
