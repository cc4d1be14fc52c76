//! Typed identifiers of debug files, parsed from the text forms tools print.

use std::fmt;
use std::str::FromStr;

use super::SymbolError;

/// The longest build-id accepted, in bytes. ELF and WebAssembly allow any length; this bound
/// keeps every layout's object key under the 1024-byte key limit.
///
/// ```
/// use symstore_core::symbol::{BuildId, MAX_BUILD_ID_LEN};
/// assert!(BuildId::from_bytes(&[0xab; MAX_BUILD_ID_LEN]).is_ok());
/// assert!(BuildId::from_bytes(&[0xab; MAX_BUILD_ID_LEN + 1]).is_err());
/// ```
pub const MAX_BUILD_ID_LEN: usize = 256;

/// An ELF (`NT_GNU_BUILD_ID` note) or WebAssembly (`build_id` section) build-id: whole bytes,
/// written as hex.
///
/// Parsing accepts either case; the text form is lowercase, as `readelf -n` and debuginfod
/// write it. Any length from 1 to [`MAX_BUILD_ID_LEN`] bytes is accepted (SHA-1 ids have 20,
/// MD5 and UUID ids 16, xxHash ids 8).
///
/// ```
/// use symstore_core::symbol::BuildId;
/// let id: BuildId = "8A6E3C1BF9E5E2D2A1F0C3B4D5E6F7A8B9C0D1E2".parse()?;
/// assert_eq!(id.to_string(), "8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2");
/// assert_eq!(id.as_bytes().len(), 20);
/// assert!("abc".parse::<BuildId>().is_err()); // not whole bytes
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuildId(Box<[u8]>);

impl BuildId {
    /// A build-id of these bytes, e.g. from an object file parser.
    ///
    /// ```
    /// use symstore_core::symbol::BuildId;
    /// assert_eq!(BuildId::from_bytes(&[0xab, 0xcd])?.to_string(), "abcd");
    /// assert!(BuildId::from_bytes(&[]).is_err());
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SymbolError> {
        let invalid = |reason| SymbolError::invalid_id("build-id", hex_lower(bytes), reason);
        if bytes.is_empty() {
            return Err(invalid("a build-id has at least one byte"));
        }
        if bytes.len() > MAX_BUILD_ID_LEN {
            return Err(invalid("a build-id has at most 256 bytes"));
        }
        Ok(Self(bytes.into()))
    }

    /// The id's bytes.
    ///
    /// ```
    /// use symstore_core::symbol::BuildId;
    /// assert_eq!("00ff".parse::<BuildId>()?.as_bytes(), &[0x00, 0xff]);
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for BuildId {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, SymbolError> {
        let invalid = |reason| SymbolError::invalid_id("build-id", text, reason);
        if text.is_empty() {
            return Err(invalid("it is empty; expected hex digits"));
        }
        if text.len() % 2 == 1 {
            return Err(invalid(
                "odd number of hex digits: a build-id is whole bytes, two digits each",
            ));
        }
        let bytes = decode_hex(text).ok_or_else(|| invalid("expected only hex digits 0-9, a-f"))?;
        Self::from_bytes(&bytes).map_err(|_| invalid("a build-id has at most 256 bytes"))
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_lower(&self.0))
    }
}

impl fmt::Debug for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildId({self})")
    }
}

/// A Mach-O `LC_UUID`: 16 bytes, as `dwarfdump --uuid` prints them.
///
/// Parsing accepts 32 hex digits with or without the dashes (8-4-4-4-12) in either case; the
/// text form is uppercase with dashes.
///
/// ```
/// use symstore_core::symbol::MachoUuid;
/// let uuid: MachoUuid = "550e8400e29b41d4a716446655440000".parse()?;
/// assert_eq!(uuid.to_string(), "550E8400-E29B-41D4-A716-446655440000");
/// assert_eq!(uuid, "550E8400-E29B-41D4-A716-446655440000".parse()?);
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MachoUuid([u8; 16]);

impl MachoUuid {
    /// The UUID of these bytes, in the order they are stored in `LC_UUID`.
    ///
    /// ```
    /// use symstore_core::symbol::MachoUuid;
    /// let uuid = MachoUuid::from_bytes([0x11; 16]);
    /// assert_eq!(uuid.as_bytes(), &[0x11; 16]);
    /// ```
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The UUID's bytes.
    ///
    /// ```
    /// use symstore_core::symbol::MachoUuid;
    /// assert_eq!(MachoUuid::from_bytes([7; 16]).as_bytes()[0], 7);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl FromStr for MachoUuid {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, SymbolError> {
        parse_guid(text).map(Self).ok_or_else(|| {
            SymbolError::invalid_id(
                "Mach-O UUID",
                text,
                "expected 32 hex digits, with or without dashes (8-4-4-4-12)",
            )
        })
    }
}

impl fmt::Display for MachoUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&dashed_upper(&self.0))
    }
}

impl fmt::Debug for MachoUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MachoUuid({self})")
    }
}

/// The identity of a PDB file: the GUID and age of its CodeView record, as a PE file's debug
/// directory names it.
///
/// Parsing accepts the symbol-server form (32 hex digits of the GUID followed by the age in
/// hex: `3249D99D0C4049318610F4E4FB0B69361`) and the dashed debug-id form
/// (`3249d99d-0c40-4931-8610-f4e4fb0b6936-1`, braces allowed around the GUID), in either case.
/// The text form is the symbol-server one.
///
/// ```
/// use symstore_core::symbol::PdbId;
/// let id: PdbId = "3249d99d-0c40-4931-8610-f4e4fb0b6936-1".parse()?;
/// assert_eq!(id.to_string(), "3249D99D0C4049318610F4E4FB0B69361");
/// assert_eq!(id.age(), 1);
/// assert_eq!(id, "3249D99D0C4049318610F4E4FB0B69361".parse()?);
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PdbId {
    guid: [u8; 16],
    age: u32,
}

impl PdbId {
    /// A PDB id of a GUID (its 16 bytes in the order the GUID is printed) and an age.
    ///
    /// ```
    /// use symstore_core::symbol::PdbId;
    /// let id = PdbId::new([0xab; 16], 2);
    /// assert_eq!(id.to_string(), format!("{}2", "AB".repeat(16)));
    /// ```
    pub fn new(guid: [u8; 16], age: u32) -> Self {
        Self { guid, age }
    }

    /// A PDB id from an `RSDS` CodeView record, whose GUID stores its first three fields
    /// little-endian (as `object`'s `CodeView::guid()` returns it).
    ///
    /// ```
    /// use symstore_core::symbol::PdbId;
    /// let raw = [0x9d, 0xd9, 0x49, 0x32, 0x40, 0x0c, 0x31, 0x49,
    ///            0x86, 0x10, 0xf4, 0xe4, 0xfb, 0x0b, 0x69, 0x36];
    /// assert_eq!(PdbId::from_codeview(raw, 1).to_string(), "3249D99D0C4049318610F4E4FB0B69361");
    /// ```
    pub fn from_codeview(raw_guid: [u8; 16], age: u32) -> Self {
        Self::new(swap_guid_fields(raw_guid), age)
    }

    /// The GUID's bytes, in the order it is printed.
    ///
    /// ```
    /// use symstore_core::symbol::PdbId;
    /// assert_eq!(PdbId::new([1; 16], 0).guid(), &[1; 16]);
    /// ```
    pub fn guid(&self) -> &[u8; 16] {
        &self.guid
    }

    /// The age: how often the PDB was written for this GUID.
    ///
    /// ```
    /// use symstore_core::symbol::PdbId;
    /// assert_eq!(PdbId::new([1; 16], 7).age(), 7);
    /// ```
    pub fn age(&self) -> u32 {
        self.age
    }
}

impl FromStr for PdbId {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, SymbolError> {
        parse_guid_age(text, true)
            .map(|(guid, age)| Self::new(guid, age))
            .ok_or_else(|| {
                SymbolError::invalid_id(
                    "PDB id",
                    text,
                    "expected the GUID (32 hex digits, or 8-4-4-4-12 with dashes) followed by \
                     the age in hex (1 to 8 digits, after a dash in the dashed form)",
                )
            })
    }
}

impl fmt::Display for PdbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:X}", hex_upper(&self.guid), self.age)
    }
}

impl fmt::Debug for PdbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdbId({self})")
    }
}

/// The identity of a PE file (`.exe`, `.dll`) on a symbol server: the COFF header's
/// `TimeDateStamp` and the optional header's `SizeOfImage`.
///
/// The text form is the timestamp in 8 hex digits followed by the size in hex without leading
/// zeros (`5AB380779000`); parsing accepts either case.
///
/// ```
/// use symstore_core::symbol::PeCodeId;
/// let id = PeCodeId::new(0x5ab38077, 0x9000);
/// assert_eq!(id.to_string(), "5AB380779000");
/// assert_eq!("5ab380779000".parse::<PeCodeId>()?, id);
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeCodeId {
    timestamp: u32,
    size_of_image: u32,
}

impl PeCodeId {
    /// A code id of a PE file's timestamp and image size.
    ///
    /// ```
    /// use symstore_core::symbol::PeCodeId;
    /// assert_eq!(PeCodeId::new(1, 0x1000).to_string(), "000000011000");
    /// ```
    pub fn new(timestamp: u32, size_of_image: u32) -> Self {
        Self {
            timestamp,
            size_of_image,
        }
    }

    /// The COFF header's `TimeDateStamp`.
    ///
    /// ```
    /// use symstore_core::symbol::PeCodeId;
    /// assert_eq!(PeCodeId::new(5, 6).timestamp(), 5);
    /// ```
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The optional header's `SizeOfImage`.
    ///
    /// ```
    /// use symstore_core::symbol::PeCodeId;
    /// assert_eq!(PeCodeId::new(5, 6).size_of_image(), 6);
    /// ```
    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }
}

impl FromStr for PeCodeId {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, SymbolError> {
        let invalid = || {
            SymbolError::invalid_id(
                "PE code id",
                text,
                "expected the timestamp in 8 hex digits followed by the image size in 1 to 8 \
                 hex digits",
            )
        };
        if !(9..=16).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let timestamp = u32::from_str_radix(&text[..8], 16).map_err(|_| invalid())?;
        let size_of_image = u32::from_str_radix(&text[8..], 16).map_err(|_| invalid())?;
        Ok(Self::new(timestamp, size_of_image))
    }
}

impl fmt::Display for PeCodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}{:X}", self.timestamp, self.size_of_image)
    }
}

impl fmt::Debug for PeCodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeCodeId({self})")
    }
}

/// The module id of a Breakpad `.sym` file, as its `MODULE` line prints it: 32 hex digits
/// of a GUID followed by the age in hex (`0` for ELF and Mach-O modules).
///
/// Parsing accepts either case; the text form is uppercase.
///
/// ```
/// use symstore_core::symbol::BreakpadId;
/// let id: BreakpadId = "b8a9d1ac1d1c2a2f33a7b61ac7f7bbd10".parse()?;
/// assert_eq!(id.to_string(), "B8A9D1AC1D1C2A2F33A7B61AC7F7BBD10");
/// assert!("B8A9D1AC1D1C2A2F33A7B61AC7F7BBD1".parse::<BreakpadId>().is_err()); // no age
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BreakpadId {
    guid: [u8; 16],
    age: u32,
}

impl BreakpadId {
    /// A Breakpad id of a GUID (its bytes in the order it is printed) and an age.
    ///
    /// ```
    /// use symstore_core::symbol::BreakpadId;
    /// assert_eq!(BreakpadId::new([0; 16], 0).to_string(), format!("{}0", "0".repeat(32)));
    /// ```
    pub fn new(guid: [u8; 16], age: u32) -> Self {
        Self { guid, age }
    }

    /// The GUID's bytes, in the order it is printed.
    ///
    /// ```
    /// use symstore_core::symbol::BreakpadId;
    /// assert_eq!(BreakpadId::new([3; 16], 0).guid(), &[3; 16]);
    /// ```
    pub fn guid(&self) -> &[u8; 16] {
        &self.guid
    }

    /// The age.
    ///
    /// ```
    /// use symstore_core::symbol::BreakpadId;
    /// assert_eq!(BreakpadId::new([3; 16], 9).age(), 9);
    /// ```
    pub fn age(&self) -> u32 {
        self.age
    }
}

impl FromStr for BreakpadId {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, SymbolError> {
        parse_guid_age(text, false)
            .filter(|_| text.len() > 32)
            .map(|(guid, age)| Self::new(guid, age))
            .ok_or_else(|| {
                SymbolError::invalid_id(
                    "Breakpad id",
                    text,
                    "expected 33 to 40 hex digits: the GUID's 32 followed by the age",
                )
            })
    }
}

impl fmt::Display for BreakpadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:X}", hex_upper(&self.guid), self.age)
    }
}

impl fmt::Debug for BreakpadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BreakpadId({self})")
    }
}

/// Which debug file an artifact belongs to: one identifier of any supported type.
///
/// The text form is the type's name, a colon and the identifier's own text form; parsing
/// accepts each type's forms after the colon.
///
/// ```
/// use symstore_core::symbol::SymbolId;
/// let id: SymbolId = "elf:8A6E3C1B".parse()?;
/// assert_eq!(id.to_string(), "elf:8a6e3c1b");
/// assert_eq!(id.type_name(), "elf");
/// let err = "coff:1234".parse::<SymbolId>().unwrap_err();
/// assert!(err.to_string().contains("elf, wasm, macho, pdb, pe or breakpad"), "{err}");
/// # Ok::<(), symstore_core::symbol::SymbolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SymbolId {
    /// An ELF build-id (`NT_GNU_BUILD_ID`).
    Elf(BuildId),
    /// A WebAssembly build-id (the `build_id` custom section).
    Wasm(BuildId),
    /// A Mach-O UUID (`LC_UUID`).
    MachO(MachoUuid),
    /// A PDB file's GUID and age.
    Pdb(PdbId),
    /// A PE file's timestamp and image size.
    Pe(PeCodeId),
    /// A Breakpad module id.
    Breakpad(BreakpadId),
}

impl SymbolId {
    /// The type's name: `elf`, `wasm`, `macho`, `pdb`, `pe` or `breakpad`.
    ///
    /// ```
    /// use symstore_core::symbol::{PeCodeId, SymbolId};
    /// assert_eq!(SymbolId::Pe(PeCodeId::new(1, 2)).type_name(), "pe");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            SymbolId::Elf(_) => "elf",
            SymbolId::Wasm(_) => "wasm",
            SymbolId::MachO(_) => "macho",
            SymbolId::Pdb(_) => "pdb",
            SymbolId::Pe(_) => "pe",
            SymbolId::Breakpad(_) => "breakpad",
        }
    }

    /// The identifier as lowercase hex without separators, as the unified and symbol-server
    /// layouts write it.
    ///
    /// ```
    /// use symstore_core::symbol::SymbolId;
    /// let id: SymbolId = "macho:550E8400-E29B-41D4-A716-446655440000".parse()?;
    /// assert_eq!(id.to_lower_hex(), "550e8400e29b41d4a716446655440000");
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn to_lower_hex(&self) -> String {
        match self {
            SymbolId::Elf(id) | SymbolId::Wasm(id) => id.to_string(),
            SymbolId::MachO(uuid) => hex_lower(uuid.as_bytes()),
            SymbolId::Pdb(id) => id.to_string().to_ascii_lowercase(),
            SymbolId::Pe(id) => id.to_string().to_ascii_lowercase(),
            SymbolId::Breakpad(id) => id.to_string().to_ascii_lowercase(),
        }
    }

    /// The identifier's own text form, without the type name.
    ///
    /// ```
    /// use symstore_core::symbol::SymbolId;
    /// let id: SymbolId = "pe:5ab380779000".parse()?;
    /// assert_eq!(id.value_string(), "5AB380779000");
    /// # Ok::<(), symstore_core::symbol::SymbolError>(())
    /// ```
    pub fn value_string(&self) -> String {
        match self {
            SymbolId::Elf(id) | SymbolId::Wasm(id) => id.to_string(),
            SymbolId::MachO(id) => id.to_string(),
            SymbolId::Pdb(id) => id.to_string(),
            SymbolId::Pe(id) => id.to_string(),
            SymbolId::Breakpad(id) => id.to_string(),
        }
    }
}

impl FromStr for SymbolId {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, SymbolError> {
        let Some((kind, value)) = text.split_once(':') else {
            return Err(SymbolError::invalid_id(
                "symbol id",
                text,
                "expected TYPE:ID, e.g. elf:8a6e3c1b (TYPE: elf, wasm, macho, pdb, pe or \
                 breakpad)",
            ));
        };
        Ok(match kind.to_ascii_lowercase().as_str() {
            "elf" => SymbolId::Elf(value.parse()?),
            "wasm" => SymbolId::Wasm(value.parse()?),
            "macho" => SymbolId::MachO(value.parse()?),
            "pdb" => SymbolId::Pdb(value.parse()?),
            "pe" => SymbolId::Pe(value.parse()?),
            "breakpad" => SymbolId::Breakpad(value.parse()?),
            _ => {
                return Err(SymbolError::invalid_id(
                    "symbol id",
                    text,
                    "unknown type: expected elf, wasm, macho, pdb, pe or breakpad",
                ));
            }
        })
    }
}

impl fmt::Display for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.type_name(), self.value_string())
    }
}

impl From<MachoUuid> for SymbolId {
    fn from(value: MachoUuid) -> Self {
        SymbolId::MachO(value)
    }
}

impl From<PdbId> for SymbolId {
    fn from(value: PdbId) -> Self {
        SymbolId::Pdb(value)
    }
}

impl From<PeCodeId> for SymbolId {
    fn from(value: PeCodeId) -> Self {
        SymbolId::Pe(value)
    }
}

impl From<BreakpadId> for SymbolId {
    fn from(value: BreakpadId) -> Self {
        SymbolId::Breakpad(value)
    }
}

pub(super) fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    hex_lower(bytes).to_ascii_uppercase()
}

fn dashed_upper(guid: &[u8; 16]) -> String {
    let hex = hex_upper(guid);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Decodes an even number of hex digits of either case.
pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 == 1 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A GUID from 32 hex digits, or 8-4-4-4-12 with dashes, optionally in braces.
fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let hex: String = match text.len() {
        32 => text.to_owned(),
        36 => {
            let groups: Vec<&str> = text.split('-').collect();
            let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
            if lengths != [8, 4, 4, 4, 12] {
                return None;
            }
            groups.concat()
        }
        _ => return None,
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    decode_hex(&hex)?.try_into().ok()
}

/// A GUID followed by an age: `GUID32AGE`, or (when `dashed` is allowed) a dashed GUID
/// (optionally in braces) followed by `-AGE` or by nothing (age 0).
fn parse_guid_age(text: &str, dashed: bool) -> Option<([u8; 16], u32)> {
    let age = |digits: &str| {
        ((1..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(digits, 16).ok())
            .flatten()
    };
    if text.len() > 32 && text.is_ascii() && !text.contains('-') && !text.starts_with('{') {
        let (guid, rest) = text.split_at(32);
        return Some((parse_guid(guid)?, age(rest)?));
    }
    if !dashed || !text.is_ascii() {
        return None;
    }
    let guid_len = if text.starts_with('{') { 38 } else { 36 };
    if text.len() == guid_len {
        return Some((parse_guid(text)?, 0));
    }
    let (guid, rest) = text.split_at_checked(guid_len)?;
    Some((parse_guid(guid)?, age(rest.strip_prefix('-')?)?))
}

/// Converts between a GUID's in-memory form (first three fields little-endian) and the order
/// it is printed; the conversion is its own inverse.
fn swap_guid_fields(mut guid: [u8; 16]) -> [u8; 16] {
    guid[..4].reverse();
    guid[4..6].reverse();
    guid[6..8].reverse();
    guid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_parse_hex_of_either_case_and_print_lowercase() {
        for (text, printed) in [
            ("ab", "ab"),
            ("AB", "ab"),
            ("0123456789ABCDEFabcdef", "0123456789abcdefabcdef"),
            (
                "8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2",
                "8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2",
            ),
        ] {
            assert_eq!(text.parse::<BuildId>().unwrap().to_string(), printed);
        }
        let longest = "ab".repeat(MAX_BUILD_ID_LEN);
        assert_eq!(longest.parse::<BuildId>().unwrap().as_bytes().len(), 256);
    }

    #[test]
    fn invalid_build_ids_say_what_is_wrong() {
        for (text, reason) in [
            ("", "empty"),
            ("abc", "odd number of hex digits"),
            ("zz", "only hex digits"),
            ("0x12", "only hex digits"),
            ("ab cd", "odd number"),
            ("a-bc", "only hex digits"),
            ("éé", "only hex digits"),
        ] {
            let err = text.parse::<BuildId>().unwrap_err().to_string();
            assert!(err.contains(reason), "{text:?}: {err}");
            assert!(err.contains("build-id"), "{text:?}: {err}");
        }
        let err = "ab".repeat(MAX_BUILD_ID_LEN + 1).parse::<BuildId>();
        assert!(err.unwrap_err().to_string().contains("at most 256 bytes"));
    }

    #[test]
    fn macho_uuids_parse_with_or_without_dashes() {
        let expected = "550E8400-E29B-41D4-A716-446655440000";
        for text in [
            "550e8400e29b41d4a716446655440000",
            "550E8400-E29B-41D4-A716-446655440000",
            "{550e8400-e29b-41d4-a716-446655440000}",
        ] {
            assert_eq!(text.parse::<MachoUuid>().unwrap().to_string(), expected);
        }
        for text in [
            "550e8400e29b41d4a71644665544000",
            "550e8400-e29b41d4-a716-446655440000",
            "550e8400e29b41d4a71644665544000g",
            "",
        ] {
            let err = text.parse::<MachoUuid>().unwrap_err().to_string();
            assert!(
                err.contains("Mach-O UUID") && err.contains("32 hex digits"),
                "{err}"
            );
        }
    }

    #[test]
    fn pdb_ids_parse_the_symbol_server_and_the_debug_id_forms() {
        let expected = "3249D99D0C4049318610F4E4FB0B69361";
        for text in [
            "3249D99D0C4049318610F4E4FB0B69361",
            "3249d99d0c4049318610f4e4fb0b69361",
            "3249d99d-0c40-4931-8610-f4e4fb0b6936-1",
            "{3249D99D-0C40-4931-8610-F4E4FB0B6936}-1",
        ] {
            assert_eq!(
                text.parse::<PdbId>().unwrap().to_string(),
                expected,
                "{text}"
            );
        }
        let no_age: PdbId = "3249d99d-0c40-4931-8610-f4e4fb0b6936".parse().unwrap();
        assert_eq!(no_age.age(), 0);
        let big_age: PdbId = "3249D99D0C4049318610F4E4FB0B6936FFFFFFFF".parse().unwrap();
        assert_eq!(big_age.age(), u32::MAX);
        for text in [
            "3249D99D0C4049318610F4E4FB0B6936",
            "3249D99D0C4049318610F4E4FB0B6936123456789",
            "3249d99d-0c40-4931-8610-f4e4fb0b6936-",
            "3249d99d-0c40-4931-8610-f4e4fb0b69361",
            "3249D99D0C4049318610F4E4FB0B6936x",
        ] {
            let err = text.parse::<PdbId>().unwrap_err().to_string();
            assert!(
                err.contains("PDB id") && err.contains("age"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn pe_code_ids_are_an_8_digit_timestamp_and_the_image_size() {
        let id: PeCodeId = "5AB380779000".parse().unwrap();
        assert_eq!((id.timestamp(), id.size_of_image()), (0x5ab38077, 0x9000));
        assert_eq!(PeCodeId::new(0x12, 0x1).to_string(), "000000121");
        for text in ["5AB38077", "5AB380779000000000", "5AB3807790g0", ""] {
            let err = text.parse::<PeCodeId>().unwrap_err().to_string();
            assert!(
                err.contains("PE code id") && err.contains("timestamp"),
                "{err}"
            );
        }
    }

    #[test]
    fn breakpad_ids_need_the_age() {
        let id: BreakpadId = "B8A9D1AC1D1C2A2F33A7B61AC7F7BBD10".parse().unwrap();
        assert_eq!(id.age(), 0);
        for text in [
            "B8A9D1AC1D1C2A2F33A7B61AC7F7BBD1",
            "b8a9d1ac-1d1c-2a2f-33a7-b61ac7f7bbd1-0",
            "B8A9D1AC1D1C2A2F33A7B61AC7F7BBD1012345678",
        ] {
            let err = text.parse::<BreakpadId>().unwrap_err().to_string();
            assert!(
                err.contains("Breakpad id") && err.contains("33 to 40"),
                "{err}"
            );
        }
    }

    #[test]
    fn codeview_guids_are_printed_with_their_first_fields_swapped() {
        let raw = [
            0x9d, 0xd9, 0x49, 0x32, 0x40, 0x0c, 0x31, 0x49, 0x86, 0x10, 0xf4, 0xe4, 0xfb, 0x0b,
            0x69, 0x36,
        ];
        let id = PdbId::from_codeview(raw, 0x2a);
        assert_eq!(id.to_string(), "3249D99D0C4049318610F4E4FB0B69362A");
    }

    #[test]
    fn symbol_ids_round_trip_through_their_text_form() {
        for text in [
            "elf:8a6e3c1bf9e5e2d2a1f0c3b4d5e6f7a8b9c0d1e2",
            "wasm:00112233445566778899aabbccddeeff",
            "macho:550E8400-E29B-41D4-A716-446655440000",
            "pdb:3249D99D0C4049318610F4E4FB0B69361",
            "pe:5AB380779000",
            "breakpad:B8A9D1AC1D1C2A2F33A7B61AC7F7BBD10",
        ] {
            let id: SymbolId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
        }
        let err = "8a6e3c1b".parse::<SymbolId>().unwrap_err().to_string();
        assert!(err.contains("expected TYPE:ID"), "{err}");
    }
}
