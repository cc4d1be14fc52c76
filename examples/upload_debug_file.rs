//! Uploads debug files under their build-id (ELF) or UUID (Mach-O), the way a CI job or a
//! profiling agent publishes what it built or found.
//!
//! ```text
//! cargo run --example upload_debug_file -- [--config FILE] [--layout unified|debuginfod|ssqp]
//!     [--kind executable|debuginfo] FILE...
//! cargo run --example upload_debug_file -- --layout debuginfod /bin/ls
//! ```
//!
//! The store comes from `--config FILE` (YAML, the config enum or Helm values) or is the
//! embedded default (`./symstore-data`, or `$SYMSTORE_ROOT`). The identity, architecture and
//! kind of each file are read with the `object` crate, which reads only the headers and notes
//! it needs, never the whole file; the file itself is streamed to the store. Uploads are
//! create-only: a file already stored under its build-id is reported and not sent again.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, SectionKind};
use symstore::symbol::{
    BuildId, FileKind, Layout, MachoUuid, PutSymbolOptions, SymbolId, SymbolKey, put_symbol,
};
use symstore::{Error, ObjectKey, PutPayload, SymbolStore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a debug file is, as read from its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugFile {
    /// Its identity: the ELF build-id or the Mach-O UUID.
    pub id: SymbolId,
    /// An executable (or shared library), or a debug-only file whose code was stripped out.
    pub kind: FileKind,
    /// The CPU architecture, e.g. `x86_64`.
    pub arch: String,
    /// The file's name without directories.
    pub file_name: String,
    /// The file's size in bytes.
    pub size: u64,
}

/// What one upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The file as read.
    pub file: DebugFile,
    /// Where it is in the store.
    pub object_key: ObjectKey,
    /// `false` when an object was already there (another agent uploaded it first).
    pub stored: bool,
}

/// Reads a debug file's identity with the `object` crate.
pub fn read_debug_file(path: &Path) -> Result<DebugFile, BoxError> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = file.metadata()?.len();
    let data = object::ReadCache::new(file);
    let parsed = object::File::parse(&data).map_err(|e| {
        format!(
            "{}: not an object file object can read: {e}",
            path.display()
        )
    })?;
    let id = if let Some(build_id) = parsed.build_id()? {
        SymbolId::Elf(BuildId::from_bytes(build_id)?)
    } else if let Some(uuid) = parsed.mach_uuid()? {
        SymbolId::MachO(MachoUuid::from_bytes(uuid))
    } else {
        return Err(format!(
            "{}: no build-id note (link with -Wl,--build-id) and no Mach-O UUID",
            path.display()
        )
        .into());
    };
    // objcopy --only-keep-debug leaves the code sections without contents (SHT_NOBITS).
    let code_stripped = parsed
        .section_by_name(".text")
        .is_none_or(|text| text.kind() == SectionKind::UninitializedData);
    let has_dwarf = parsed.section_by_name(".debug_info").is_some()
        || parsed.section_by_name("__debug_info").is_some();
    let kind = if has_dwarf && code_stripped {
        FileKind::Debuginfo
    } else {
        FileKind::Executable
    };
    Ok(DebugFile {
        id,
        kind,
        arch: arch_name(parsed.architecture()),
        file_name: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size,
    })
}

/// Uploads one file under its identity in `layout`; `kind` overrides the kind read from the
/// file. A file already in the store is not sent again (`stored: false`).
pub async fn upload_debug_file(
    store: &dyn SymbolStore,
    layout: Layout,
    path: &Path,
    kind: Option<FileKind>,
) -> Result<Uploaded, BoxError> {
    let mut file = read_debug_file(path)?;
    if let Some(kind) = kind {
        file.kind = kind;
    }
    let key = SymbolKey::new(file.id.clone(), file.kind.clone()).file_name(&file.file_name);
    let object_key = layout.object_key(&key)?;
    let opts = PutSymbolOptions::default()
        .arch(&file.arch)
        .file_name(&file.file_name)
        .size(file.size);
    let stored = match put_symbol(store, layout, &key, PutPayload::from_file(path), opts).await {
        Ok(_) => true,
        Err(Error::AlreadyExists { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Uploaded {
        file,
        object_key,
        stored,
    })
}

fn arch_name(arch: object::Architecture) -> String {
    match arch {
        object::Architecture::X86_64 => "x86_64".into(),
        object::Architecture::I386 => "x86".into(),
        object::Architecture::Aarch64 => "aarch64".into(),
        object::Architecture::Arm => "arm".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

struct Args {
    config: Option<PathBuf>,
    layout: Layout,
    kind: Option<FileKind>,
    files: Vec<PathBuf>,
}

const USAGE: &str = "usage: upload_debug_file [--config FILE] [--layout unified|debuginfod|ssqp] \
                     [--kind executable|debuginfo] FILE...";

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        config: None,
        layout: Layout::Debuginfod,
        kind: None,
        files: Vec::new(),
    };
    let mut argv = std::env::args_os().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| {
            argv.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.to_str() {
            Some("--config") => args.config = Some(value("--config")?.into()),
            Some("--layout") => args.layout = value("--layout")?.to_string_lossy().parse()?,
            Some("--kind") => args.kind = Some(value("--kind")?.to_string_lossy().parse()?),
            Some("-h" | "--help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            Some(flag) if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}").into());
            }
            _ => args.files.push(arg.into()),
        }
    }
    if args.files.is_empty() {
        return Err(USAGE.into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let config = match &args.config {
        Some(path) => symstore::config::load_yaml_file(path)?.config,
        None => symstore::default_config(),
    };
    let store = symstore::open(&config).await?;
    println!("store:  {store}, layout {}", args.layout);
    for path in &args.files {
        let uploaded = upload_debug_file(store.as_ref(), args.layout, path, args.kind.clone())
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let verb = if uploaded.stored { "stored" } else { "exists" };
        println!(
            "{verb}: {} ({}, {}, {} bytes) {}",
            uploaded.object_key,
            uploaded.file.id,
            uploaded.file.arch,
            uploaded.file.size,
            path.display()
        );
    }
    Ok(())
}
