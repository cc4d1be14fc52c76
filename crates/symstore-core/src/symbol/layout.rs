//! How symbol servers name debug files: symbol keys to object keys and back.

use std::fmt;
use std::str::FromStr;

use super::id::{decode_hex, hex_lower};
use super::{BuildId, FileKind, SymbolError, SymbolId, SymbolKey};
use crate::ObjectKey;

/// A way of naming debug files in a bucket, as one kind of symbol server expects them.
///
/// Every layout writes keys that are valid [`ObjectKey`]s on every backend, and reads its own
/// keys back with [`symbol_key`](Layout::symbol_key), so a listing can be read as symbol keys.
/// Reading back always gives a key that maps to the same object; where a layout drops
/// information (the id's type, a file name, its case), the key read back is the one
/// described on the variant.
///
/// ```
/// use symstore_core::symbol::{FileKind, Layout, SymbolKey};
/// let key = SymbolKey::new("elf:8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2".parse()?, FileKind::Executable)
///     .file_name("libc.so.6");
/// let cases = [
///     (Layout::Unified, "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/executable"),
///     (Layout::Debuginfod, "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/executable"),
///     (Layout::Ssqp, "libc.so.6/elf-buildid-8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/libc.so.6"),
/// ];
/// for (layout, expected) in cases {
///     let object_key = layout.object_key(&key)?;
///     assert_eq!(object_key.as_str(), expected);
///     assert_eq!(layout.object_key(&layout.symbol_key(&object_key)?)?, object_key);
/// }
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Layout {
    /// Sentry's unified symbol-server layout: `<first 2 hex digits>/<the rest>/<kind>`, the id
    /// as lowercase hex without separators (a PDB's GUID followed by its age, a PE file's
    /// timestamp followed by its size), the kind `executable`, `debuginfo`, `breakpad`,
    /// `gsym` or `sourcebundle`; one source file is `<ab>/<rest>/source/<escaped path>`.
    ///
    /// The key keeps the id's hex, not its type: reading it back gives a Breakpad id for
    /// `breakpad` files, else an ELF build-id when the digits are whole bytes, else a PDB id
    /// (33 to 39 digits) or a PE code id (9 to 15 digits).
    Unified,
    /// debuginfod's URL space: `buildid/<lowercase hex>/debuginfo`, `.../executable` and
    /// `.../source/<escaped path>`, for ELF build-ids only.
    Debuginfod,
    /// Microsoft's symbol-server keys (SSQP), lowercase throughout:
    /// `<file>/<timestamp><size>/<file>` for PE files, `<file>/<guid><age>/<file>` for PDBs,
    /// `<file>/elf-buildid-<id>/<file>` and `_.debug/elf-buildid-sym-<id>/_.debug` for ELF
    /// (ids shorter than 20 bytes padded with zeros to 20), `<file>/mach-uuid-<uuid>/<file>`
    /// and `_.dwarf/mach-uuid-sym-<uuid>/_.dwarf` for Mach-O, `<file>.s/<id>/<file>.s` for
    /// WebAssembly debuginfo, and Mozilla's `<file>/<breakpad id>/<file without .pdb>.sym`
    /// for Breakpad files.
    ///
    /// Executables, PDBs, WebAssembly and Breakpad files need [`SymbolKey::file_name`];
    /// keys read back carry the lowercase name (none for ELF and Mach-O debuginfo).
    Ssqp,
}

impl Layout {
    /// Every layout.
    ///
    /// ```
    /// use symstore_core::symbol::Layout;
    /// let names: Vec<_> = Layout::ALL.iter().map(|layout| layout.name()).collect();
    /// assert_eq!(names, ["unified", "debuginfod", "ssqp"]);
    /// ```
    pub const ALL: [Layout; 3] = [Layout::Unified, Layout::Debuginfod, Layout::Ssqp];

    /// The layout's name: `unified`, `debuginfod` or `ssqp`.
    ///
    /// ```
    /// use symstore_core::symbol::Layout;
    /// assert_eq!(Layout::Ssqp.name(), "ssqp");
    /// assert_eq!("symstore".parse::<Layout>()?, Layout::Ssqp);
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Layout::Unified => "unified",
            Layout::Debuginfod => "debuginfod",
            Layout::Ssqp => "ssqp",
        }
    }

    /// The object key of `key` in this layout, or why the layout has no place for it.
    ///
    /// ```
    /// use symstore_core::symbol::{FileKind, Layout, SymbolKey};
    /// let pdb = SymbolKey::new("pdb:497b72f6-390a-44fc-878e-5a2d63b6cc4b-1".parse()?, FileKind::Debuginfo)
    ///     .file_name("Foo.pdb");
    /// assert_eq!(Layout::Ssqp.object_key(&pdb)?.as_str(), "foo.pdb/497b72f6390a44fc878e5a2d63b6cc4b1/foo.pdb");
    /// assert_eq!(Layout::Unified.object_key(&pdb)?.as_str(), "49/7b72f6390a44fc878e5a2d63b6cc4b1/debuginfo");
    /// let err = Layout::Debuginfod.object_key(&pdb).unwrap_err();
    /// assert!(err.to_string().contains("only ELF build-ids"), "{err}");
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn object_key(self, key: &SymbolKey) -> Result<ObjectKey, SymbolError> {
        let unsupported = |reason| SymbolError::Unsupported {
            layout: self,
            key: key.to_string(),
            reason,
        };
        match (&key.kind, &key.id) {
            (FileKind::Breakpad, SymbolId::Breakpad(_)) => {}
            (FileKind::Breakpad, _) => {
                return Err(unsupported(
                    "a Breakpad .sym file is named by its Breakpad id (breakpad:...)",
                ));
            }
            (_, SymbolId::Breakpad(_)) => {
                return Err(unsupported("a Breakpad id names only a Breakpad .sym file"));
            }
            _ => {}
        }
        let text = match self {
            Layout::Unified => unified_key(key).map_err(unsupported)?,
            Layout::Debuginfod => debuginfod_key(key).map_err(unsupported)?,
            Layout::Ssqp => ssqp_key(key).map_err(unsupported)?,
        };
        ObjectKey::new(text).map_err(|err| match err {
            crate::Error::InvalidKey { reason, .. } => unsupported(reason),
            _ => unsupported("not a valid object key"),
        })
    }

    /// The symbol key of an object key this layout wrote; an error for any other key (see
    /// the variants for what is kept).
    ///
    /// ```
    /// use symstore_core::ObjectKey;
    /// use symstore_core::symbol::{FileKind, Layout};
    /// let object_key = ObjectKey::new("buildid/8a6e3c1b/source/%2Fusr%2Fsrc%2Fmain.c")?;
    /// let key = Layout::Debuginfod.symbol_key(&object_key)?;
    /// assert_eq!(key.id.to_string(), "elf:8a6e3c1b");
    /// assert_eq!(key.kind, FileKind::Source("/usr/src/main.c".into()));
    /// assert!(Layout::Unified.symbol_key(&object_key).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn symbol_key(self, key: &ObjectKey) -> Result<SymbolKey, SymbolError> {
        let segments: Vec<&str> = key.segments().collect();
        let parsed = match self {
            Layout::Unified => parse_unified(&segments),
            Layout::Debuginfod => parse_debuginfod(&segments),
            Layout::Ssqp => parse_ssqp(key.as_str(), &segments),
        };
        parsed.map_err(|reason| SymbolError::ForeignKey {
            layout: self,
            key: key.as_str().to_owned(),
            reason,
        })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = SymbolError;

    fn from_str(name: &str) -> Result<Self, SymbolError> {
        match name {
            "unified" => Ok(Layout::Unified),
            "debuginfod" => Ok(Layout::Debuginfod),
            "ssqp" | "symstore" => Ok(Layout::Ssqp),
            _ => Err(SymbolError::invalid_id(
                "layout",
                name,
                "expected unified, debuginfod or ssqp",
            )),
        }
    }
}

type Reason = &'static str;

fn unified_key(key: &SymbolKey) -> Result<String, Reason> {
    let hex = key.id.to_lower_hex();
    if hex.len() < 3 {
        return Err("the unified layout needs an id of at least 3 hex digits");
    }
    let (head, rest) = hex.split_at(2);
    Ok(match &key.kind {
        FileKind::Source(path) => format!("{head}/{rest}/source/{}", escape_source_path(path)?),
        kind => format!("{head}/{rest}/{}", kind.name()),
    })
}

fn parse_unified(segments: &[&str]) -> Result<SymbolKey, Reason> {
    let (head, rest, kind) = match segments {
        [head, rest, kind] => (head, rest, kind.parse::<FileKind>().map_err(|_| UNIFIED)?),
        [head, rest, "source", path] => (head, rest, FileKind::Source(unescape_source_path(path)?)),
        _ => return Err(UNIFIED),
    };
    if head.len() != 2 || !is_lower_hex(head) || !is_lower_hex(rest) {
        return Err("the id is not lowercase hex split after its first 2 digits");
    }
    let hex = format!("{head}{rest}");
    let id = match (&kind, hex.len()) {
        (FileKind::Breakpad, _) => SymbolId::Breakpad(hex.parse().map_err(|_| BAD_ID)?),
        (_, n) if n % 2 == 0 => SymbolId::Elf(hex.parse().map_err(|_| BAD_ID)?),
        (_, 33..=39) => SymbolId::Pdb(hex.parse().map_err(|_| BAD_ID)?),
        (_, 9..=15) => SymbolId::Pe(hex.parse().map_err(|_| BAD_ID)?),
        _ => return Err(BAD_ID),
    };
    Ok(SymbolKey::new(id, kind))
}

const UNIFIED: Reason =
    "expected <2 hex digits>/<hex>/<kind> or <2 hex digits>/<hex>/source/<path>";
const BAD_ID: Reason = "the hex digits are no identifier of a known type";

fn debuginfod_key(key: &SymbolKey) -> Result<String, Reason> {
    let SymbolId::Elf(id) = &key.id else {
        return Err("the debuginfod layout stores only ELF build-ids");
    };
    Ok(match &key.kind {
        FileKind::Executable | FileKind::Debuginfo => format!("buildid/{id}/{}", key.kind.name()),
        FileKind::Source(path) => format!("buildid/{id}/source/{}", escape_source_path(path)?),
        _ => return Err("the debuginfod layout has only executable, debuginfo and source files"),
    })
}

fn parse_debuginfod(segments: &[&str]) -> Result<SymbolKey, Reason> {
    let (id, kind) = match segments {
        ["buildid", id, "executable"] => (id, FileKind::Executable),
        ["buildid", id, "debuginfo"] => (id, FileKind::Debuginfo),
        ["buildid", id, "source", path] => (id, FileKind::Source(unescape_source_path(path)?)),
        _ => {
            return Err(
                "expected buildid/<hex>/executable, buildid/<hex>/debuginfo or \
                 buildid/<hex>/source/<path>",
            );
        }
    };
    if !is_lower_hex(id) {
        return Err("the build-id is not lowercase hex");
    }
    let id: BuildId = id
        .parse()
        .map_err(|_| "the build-id is not whole bytes of hex")?;
    Ok(SymbolKey::new(SymbolId::Elf(id), kind))
}

/// SSQP pads ELF build-ids shorter than this with zero bytes.
const SSQP_ELF_ID_LEN: usize = 20;

fn ssqp_key(key: &SymbolKey) -> Result<String, Reason> {
    let name = || -> Result<String, Reason> {
        let name = key
            .file_name
            .as_deref()
            .ok_or("the ssqp layout names this file by its file name: set SymbolKey::file_name")?;
        check_file_name(name)?;
        Ok(name.to_lowercase())
    };
    let hex = key.id.to_lower_hex();
    Ok(match (&key.id, &key.kind) {
        (SymbolId::Elf(id), FileKind::Executable) => {
            let name = name()?;
            format!("{name}/elf-buildid-{}/{name}", padded_elf_id(id))
        }
        (SymbolId::Elf(id), FileKind::Debuginfo) => {
            format!("_.debug/elf-buildid-sym-{}/_.debug", padded_elf_id(id))
        }
        (SymbolId::MachO(_), FileKind::Executable) => {
            let name = name()?;
            format!("{name}/mach-uuid-{hex}/{name}")
        }
        (SymbolId::MachO(_), FileKind::Debuginfo) => format!("_.dwarf/mach-uuid-sym-{hex}/_.dwarf"),
        (SymbolId::Wasm(_), FileKind::Debuginfo) => {
            let name = name()?;
            format!("{name}.s/{hex}/{name}.s")
        }
        (SymbolId::Pe(_), FileKind::Executable) | (SymbolId::Pdb(_), FileKind::Debuginfo) => {
            let name = name()?;
            format!("{name}/{hex}/{name}")
        }
        (SymbolId::Breakpad(_), FileKind::Breakpad) => {
            let name = name()?;
            format!("{name}/{hex}/{}", breakpad_sym_name(&name))
        }
        _ => {
            return Err(
                "the ssqp layout has keys for ELF and Mach-O executables and debuginfo, PE \
                 executables, PDBs, WebAssembly debuginfo and Breakpad files only",
            );
        }
    })
}

fn parse_ssqp(whole: &str, segments: &[&str]) -> Result<SymbolKey, Reason> {
    let [first, id, last] = segments else {
        return Err("expected <file>/<id>/<file>");
    };
    if whole.chars().any(|c| c.is_uppercase()) {
        return Err("ssqp keys are lowercase");
    }
    let bad_id = |_| "the id does not match the file's type";
    let named = |id: SymbolId, kind: FileKind, name: &str| {
        SymbolKey::new(id, kind).file_name(name.to_owned())
    };
    let key = if let Some(hex) = id.strip_prefix("elf-buildid-sym-") {
        if (*first, *last) != ("_.debug", "_.debug") {
            return Err("ELF debuginfo keys are _.debug/elf-buildid-sym-<id>/_.debug");
        }
        SymbolKey::new(
            SymbolId::Elf(hex.parse().map_err(bad_id)?),
            FileKind::Debuginfo,
        )
    } else if let Some(hex) = id.strip_prefix("mach-uuid-sym-") {
        if (*first, *last) != ("_.dwarf", "_.dwarf") {
            return Err("Mach-O debuginfo keys are _.dwarf/mach-uuid-sym-<uuid>/_.dwarf");
        }
        SymbolKey::new(
            SymbolId::MachO(hex.parse().map_err(bad_id)?),
            FileKind::Debuginfo,
        )
    } else if first != last {
        if *last != breakpad_sym_name(first) {
            return Err("the first and last segments name different files");
        }
        named(
            SymbolId::Breakpad(id.parse().map_err(bad_id)?),
            FileKind::Breakpad,
            first,
        )
    } else if let Some(hex) = id.strip_prefix("elf-buildid-") {
        named(
            SymbolId::Elf(hex.parse().map_err(bad_id)?),
            FileKind::Executable,
            first,
        )
    } else if let Some(hex) = id.strip_prefix("mach-uuid-") {
        named(
            SymbolId::MachO(hex.parse().map_err(bad_id)?),
            FileKind::Executable,
            first,
        )
    } else if first.ends_with(".pdb") {
        named(
            SymbolId::Pdb(id.parse().map_err(bad_id)?),
            FileKind::Debuginfo,
            first,
        )
    } else if let Some(wasm) = first.strip_suffix(".s").filter(|_| id.len() % 2 == 0) {
        named(
            SymbolId::Wasm(id.parse().map_err(bad_id)?),
            FileKind::Debuginfo,
            wasm,
        )
    } else {
        named(
            SymbolId::Pe(id.parse().map_err(bad_id)?),
            FileKind::Executable,
            first,
        )
    };
    Ok(key)
}

fn padded_elf_id(id: &BuildId) -> String {
    let mut bytes = id.as_bytes().to_vec();
    if bytes.len() < SSQP_ELF_ID_LEN {
        bytes.resize(SSQP_ELF_ID_LEN, 0);
    }
    hex_lower(&bytes)
}

/// Mozilla's name of a Breakpad file: `xul.pdb` -> `xul.sym`, `libxul.so` -> `libxul.so.sym`.
fn breakpad_sym_name(debug_file: &str) -> String {
    let stem = debug_file.strip_suffix(".pdb").unwrap_or(debug_file);
    format!("{stem}.sym")
}

fn check_file_name(name: &str) -> Result<(), Reason> {
    if name.is_empty() || name == "." || name == ".." {
        return Err("the file name is empty, `.` or `..`");
    }
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err("the file name has a directory separator or a control character");
    }
    Ok(())
}

fn is_lower_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A source file's absolute path as one key segment: every byte but ASCII letters, digits
/// and `-._~` percent-encoded (`/usr/src/a b.c` -> `%2Fusr%2Fsrc%2Fa%20b.c`), so the segment
/// is never empty, `.` or `..` and the path reads back exactly.
fn escape_source_path(path: &str) -> Result<String, Reason> {
    if !path.starts_with('/') || path.len() < 2 {
        return Err("a source file's path must be absolute, as the debug information records it");
    }
    if path.chars().any(char::is_control) {
        return Err("a source file's path has a control character");
    }
    let mut escaped = String::with_capacity(path.len() * 2);
    for byte in path.bytes() {
        if is_unreserved(byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(escaped)
}

fn unescape_source_path(segment: &str) -> Result<String, Reason> {
    const BAD: Reason = "the source path is not percent-encoded as this layout writes it";
    let bytes = segment.as_bytes();
    let mut path = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3).ok_or(BAD)?;
            if hex.bytes().any(|b| b.is_ascii_lowercase()) {
                return Err(BAD);
            }
            let byte = decode_hex(hex).ok_or(BAD)?[0];
            if is_unreserved(byte) {
                return Err(BAD);
            }
            path.push(byte);
            i += 3;
        } else if is_unreserved(bytes[i]) {
            path.push(bytes[i]);
            i += 1;
        } else {
            return Err(BAD);
        }
    }
    let path = String::from_utf8(path).map_err(|_| BAD)?;
    escape_source_path(&path)?;
    Ok(path)
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELF: &str = "elf:8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2";
    const ELF_SHORT: &str = "elf:180a373d6afbabf0eb1f09be1bc45bd7";
    const WASM: &str = "wasm:e3b0c44298fc1c149afbf4c8996fb92427ae41e4";
    const MACHO: &str = "macho:497B72F6-390A-44FC-878E-5A2D63B6CC4B";
    const PDB: &str = "pdb:497B72F6390A44FC878E5A2D63B6CC4B1";
    const PORTABLE_PDB: &str = "pdb:497B72F6390A44FC878E5A2D63B6CC4BFFFFFFFF";
    const PE: &str = "pe:542D574Ec2000";
    const BREAKPAD: &str = "breakpad:44E4EC8C2F41492B9369D6B9A059577C2";

    fn key(id: &str, kind: FileKind, file_name: Option<&str>) -> SymbolKey {
        let key = SymbolKey::new(id.parse().unwrap(), kind);
        match file_name {
            Some(name) => key.file_name(name),
            None => key,
        }
    }

    fn source(path: &str) -> FileKind {
        FileKind::Source(path.to_owned())
    }

    /// The exact object key of each identifier type and file kind, per layout.
    #[rustfmt::skip]
    fn table() -> Vec<(Layout, SymbolKey, &'static str)> {
        use FileKind::*;
        use Layout::*;
        vec![
            (Unified, key(ELF, Executable, None), "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/executable"),
            (Unified, key(ELF, Debuginfo, None), "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/debuginfo"),
            (Unified, key(ELF, Gsym, None), "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/gsym"),
            (Unified, key(ELF, SourceBundle, None), "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/sourcebundle"),
            (Unified, key(ELF, source("/usr/src/a b.c"), None), "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/source/%2Fusr%2Fsrc%2Fa%20b.c"),
            (Unified, key(ELF_SHORT, Debuginfo, None), "18/0a373d6afbabf0eb1f09be1bc45bd7/debuginfo"),
            (Unified, key(WASM, Debuginfo, None), "e3/b0c44298fc1c149afbf4c8996fb92427ae41e4/debuginfo"),
            (Unified, key(MACHO, Executable, Some("foo.dylib")), "49/7b72f6390a44fc878e5a2d63b6cc4b/executable"),
            (Unified, key(MACHO, Debuginfo, None), "49/7b72f6390a44fc878e5a2d63b6cc4b/debuginfo"),
            (Unified, key(PDB, Debuginfo, Some("Foo.pdb")), "49/7b72f6390a44fc878e5a2d63b6cc4b1/debuginfo"),
            (Unified, key(PORTABLE_PDB, Debuginfo, None), "49/7b72f6390a44fc878e5a2d63b6cc4bffffffff/debuginfo"),
            (Unified, key(PE, Executable, Some("Foo.exe")), "54/2d574ec2000/executable"),
            (Unified, key(BREAKPAD, Breakpad, None), "44/e4ec8c2f41492b9369d6b9a059577c2/breakpad"),
            (Debuginfod, key(ELF, Executable, None), "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/executable"),
            (Debuginfod, key(ELF, Debuginfo, Some("ls.debug")), "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/debuginfo"),
            (Debuginfod, key(ELF, source("/usr/src/debug/coreutils-9.1/src/ls.c"), None), "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/source/%2Fusr%2Fsrc%2Fdebug%2Fcoreutils-9.1%2Fsrc%2Fls.c"),
            (Debuginfod, key(ELF, source("/src/../x/ü%.c"), None), "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/source/%2Fsrc%2F..%2Fx%2F%C3%BC%25.c"),
            (Debuginfod, key(ELF_SHORT, Debuginfo, None), "buildid/180a373d6afbabf0eb1f09be1bc45bd7/debuginfo"),
            (Ssqp, key(ELF, Executable, Some("libc.so.6")), "libc.so.6/elf-buildid-8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/libc.so.6"),
            (Ssqp, key(ELF, Debuginfo, Some("libc.so.6.debug")), "_.debug/elf-buildid-sym-8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/_.debug"),
            (Ssqp, key(ELF_SHORT, Debuginfo, None), "_.debug/elf-buildid-sym-180a373d6afbabf0eb1f09be1bc45bd700000000/_.debug"),
            (Ssqp, key(MACHO, Executable, Some("Foo.dylib")), "foo.dylib/mach-uuid-497b72f6390a44fc878e5a2d63b6cc4b/foo.dylib"),
            (Ssqp, key(MACHO, Debuginfo, None), "_.dwarf/mach-uuid-sym-497b72f6390a44fc878e5a2d63b6cc4b/_.dwarf"),
            (Ssqp, key(WASM, Debuginfo, Some("main.wasm")), "main.wasm.s/e3b0c44298fc1c149afbf4c8996fb92427ae41e4/main.wasm.s"),
            (Ssqp, key(PDB, Debuginfo, Some("Foo.pdb")), "foo.pdb/497b72f6390a44fc878e5a2d63b6cc4b1/foo.pdb"),
            (Ssqp, key(PORTABLE_PDB, Debuginfo, Some("Foo.pdb")), "foo.pdb/497b72f6390a44fc878e5a2d63b6cc4bffffffff/foo.pdb"),
            (Ssqp, key(PE, Executable, Some("Foo.exe")), "foo.exe/542d574ec2000/foo.exe"),
            (Ssqp, key(BREAKPAD, Breakpad, Some("xul.pdb")), "xul.pdb/44e4ec8c2f41492b9369d6b9a059577c2/xul.sym"),
            (Ssqp, key(BREAKPAD, Breakpad, Some("libxul.so")), "libxul.so/44e4ec8c2f41492b9369d6b9a059577c2/libxul.so.sym"),
        ]
    }

    #[test]
    fn each_layout_writes_the_exact_key_of_each_id_type() {
        for (layout, symbol_key, expected) in table() {
            let object_key = layout.object_key(&symbol_key);
            assert_eq!(
                object_key.as_ref().map(ObjectKey::as_str),
                Ok(expected),
                "{layout} {symbol_key}"
            );
        }
    }

    #[test]
    fn each_key_reads_back_as_a_symbol_key_of_the_same_object() {
        for (layout, _, expected) in table() {
            let object_key = ObjectKey::new(expected).unwrap();
            let read = layout
                .symbol_key(&object_key)
                .unwrap_or_else(|e| panic!("{layout} {expected}: {e}"));
            assert_eq!(layout.object_key(&read).unwrap(), object_key, "{read}");
        }
    }

    #[test]
    fn keys_read_back_keep_what_the_layout_records() {
        #[rustfmt::skip]
        let cases = [
            (Layout::Unified, "8a/6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/debuginfo", key(ELF, FileKind::Debuginfo, None)),
            (Layout::Unified, "49/7b72f6390a44fc878e5a2d63b6cc4b1/debuginfo", key(PDB, FileKind::Debuginfo, None)),
            (Layout::Unified, "54/2d574ec2000/executable", key(PE, FileKind::Executable, None)),
            (Layout::Unified, "44/e4ec8c2f41492b9369d6b9a059577c2/breakpad", key(BREAKPAD, FileKind::Breakpad, None)),
            // A Mach-O UUID is 16 whole bytes: read back, it is an ELF build-id of the same hex.
            (Layout::Unified, "49/7b72f6390a44fc878e5a2d63b6cc4b/debuginfo", key("elf:497b72f6390a44fc878e5a2d63b6cc4b", FileKind::Debuginfo, None)),
            (Layout::Debuginfod, "buildid/8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2/source/%2Fa%2Fb.c", key(ELF, source("/a/b.c"), None)),
            (Layout::Ssqp, "foo.exe/542d574ec2000/foo.exe", key(PE, FileKind::Executable, Some("foo.exe"))),
            (Layout::Ssqp, "foo.pdb/497b72f6390a44fc878e5a2d63b6cc4b1/foo.pdb", key(PDB, FileKind::Debuginfo, Some("foo.pdb"))),
            (Layout::Ssqp, "_.dwarf/mach-uuid-sym-497b72f6390a44fc878e5a2d63b6cc4b/_.dwarf", key(MACHO, FileKind::Debuginfo, None)),
            (Layout::Ssqp, "main.wasm.s/e3b0c44298fc1c149afbf4c8996fb92427ae41e4/main.wasm.s", key(WASM, FileKind::Debuginfo, Some("main.wasm"))),
            (Layout::Ssqp, "xul.pdb/44e4ec8c2f41492b9369d6b9a059577c2/xul.sym", key(BREAKPAD, FileKind::Breakpad, Some("xul.pdb"))),
        ];
        for (layout, object_key, expected) in cases {
            let read = layout.symbol_key(&ObjectKey::new(object_key).unwrap());
            assert_eq!(read, Ok(expected), "{layout} {object_key}");
        }
    }

    #[test]
    fn layouts_refuse_keys_they_have_no_place_for() {
        #[rustfmt::skip]
        let cases = [
            (Layout::Debuginfod, key(PDB, FileKind::Debuginfo, Some("foo.pdb")), "only ELF build-ids"),
            (Layout::Debuginfod, key(WASM, FileKind::Debuginfo, None), "only ELF build-ids"),
            (Layout::Debuginfod, key(ELF, FileKind::Gsym, None), "only executable, debuginfo and source"),
            (Layout::Debuginfod, key(ELF, source("usr/src/a.c"), None), "must be absolute"),
            (Layout::Debuginfod, key(ELF, source("/usr/src/a\n.c"), None), "control character"),
            (Layout::Unified, key(ELF, FileKind::Breakpad, None), "named by its Breakpad id"),
            (Layout::Unified, key(BREAKPAD, FileKind::Debuginfo, None), "only a Breakpad .sym file"),
            (Layout::Unified, key("elf:ab", FileKind::Debuginfo, None), "at least 3 hex digits"),
            (Layout::Unified, key(ELF, source(&format!("/{}", "x".repeat(1000))), None), "longer than 1024 bytes"),
            (Layout::Ssqp, key(ELF, FileKind::Executable, None), "set SymbolKey::file_name"),
            (Layout::Ssqp, key(PE, FileKind::Executable, Some("bin/foo.exe")), "directory separator"),
            (Layout::Ssqp, key(PE, FileKind::Executable, Some("..")), "`..`"),
            (Layout::Ssqp, key(ELF, FileKind::Gsym, None), "ssqp layout has keys for"),
            (Layout::Ssqp, key(PDB, FileKind::Executable, Some("foo.pdb")), "ssqp layout has keys for"),
        ];
        for (layout, symbol_key, reason) in cases {
            let err = layout.object_key(&symbol_key).unwrap_err();
            assert!(matches!(err, SymbolError::Unsupported { .. }), "{err:?}");
            assert!(
                err.to_string().contains(reason),
                "{layout} {symbol_key}: {err}"
            );
        }
    }

    #[test]
    fn layouts_do_not_read_other_layouts_or_foreign_keys() {
        #[rustfmt::skip]
        let cases = [
            (Layout::Unified, "buildid/8a6e3c1b/debuginfo"),
            (Layout::Unified, "8A/6E3C1B/debuginfo"),
            (Layout::Unified, "8a6/e3c1b/debuginfo"),
            (Layout::Unified, "8a/6e3c1b/binary"),
            (Layout::Unified, "8a/6e3c1b5a6e3c1b5a1/debuginfo"),
            (Layout::Unified, ".symstore-check/probe"),
            (Layout::Debuginfod, "8a/6e3c1b/debuginfo"),
            (Layout::Debuginfod, "buildid/8A6E3C1B/debuginfo"),
            (Layout::Debuginfod, "buildid/8a6e3c1/debuginfo"),
            (Layout::Debuginfod, "buildid/8a6e3c1b/source/%2fa.c"),
            (Layout::Debuginfod, "buildid/8a6e3c1b/source/%2Fa%2E.c"),
            (Layout::Debuginfod, "buildid/8a6e3c1b/source/a.c"),
            (Layout::Debuginfod, "buildid/8a6e3c1b/source/%2Fa%FF.c"),
            (Layout::Ssqp, "Foo.exe/542d574ec2000/Foo.exe"),
            (Layout::Ssqp, "foo.exe/542d574ec2000/bar.exe"),
            (Layout::Ssqp, "foo.exe/xyz/foo.exe"),
            (Layout::Ssqp, "foo.so/elf-buildid-sym-180a/foo.so"),
            (Layout::Ssqp, "buildid/8a6e3c1b/debuginfo/extra"),
        ];
        for (layout, object_key) in cases {
            let err = layout
                .symbol_key(&ObjectKey::new(object_key).unwrap())
                .unwrap_err();
            assert!(
                matches!(err, SymbolError::ForeignKey { .. }),
                "{layout} {object_key}: {err:?}"
            );
        }
    }

    #[test]
    fn source_paths_escape_to_one_segment_and_back() {
        for path in [
            "/a",
            "/usr/src/a b.c",
            "/x/../y/./z",
            "/ü/%41/~-._",
            "//double//slash",
        ] {
            let escaped = escape_source_path(path).unwrap();
            assert!(
                !escaped.contains('/') && escaped != "." && escaped != "..",
                "{escaped}"
            );
            assert_eq!(unescape_source_path(&escaped).unwrap(), path);
        }
    }
}
