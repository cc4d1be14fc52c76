//! The core of symstore: the [`SymbolStore`] trait, validated [`ObjectKey`]s, the one
//! [`Error`] type, configuration, and the embedded stores ([`FilesystemStore`],
//! [`MemoryStore`]).
//!
//! Most users depend on the facade crate `symstore`, which re-exports all of this and opens
//! the configured backend.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rustdoc::broken_intra_doc_links)]

pub mod check;
pub mod config;
pub mod download;
mod error;
mod fs;
mod fs_util;
pub mod key;
mod memory;
pub mod multipart;
mod secret;
mod store;
pub mod symbol;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use check::{CheckReport, CheckStep, StepStatus};
pub use error::{BoxError, ConfigError, ConfigIssue, Context, Error, Result};
pub use fs::FilesystemStore;
pub use key::ObjectKey;
pub use memory::MemoryStore;
pub use secret::Secret;
pub use store::{
    ByteRange, ByteStream, GetOptions, GetResult, ListOptions, ObjectMeta, PayloadSource, Progress,
    ProgressFn, PutMode, PutOptions, PutPayload, PutResult, SymbolStore, SymbolStoreExt,
};
