//! Reading a YAML document in either form: the `type:`-tagged config enum or operators' Helm
//! values (`storage:`).
//!
//! A document is read in two passes over the same text with serde-saphyr:
//!
//! 1. an outline pass walks every node and records the shape of each mapping entry, which
//!    tells the form (`storage:` or `type:` at the top) and which entries are unset (an empty
//!    or whitespace-only string, or null);
//! 2. the typed pass deserializes the form's structs through `serde_path_to_error`, which
//!    names the full YAML path of a failing key or value, and through a filter that drops the
//!    unset entries (so they take their defaults) and, in the enum form, the `type` tag.
//!
//! Errors are rendered without source snippets, so a secret on a nearby line is never echoed.

use std::fmt;
use std::path::Path;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess,
    SeqAccess, Visitor,
};

use serde::Deserialize;

use super::helm::HelmDocument;
use super::validate::{self, FieldPaths};
use super::{FilesystemConfig, GcsConfig, MemoryConfig, MinioConfig, S3Config, StoreConfig};
use crate::ConfigError;
use crate::error::ConfigIssue;

/// Which form a document was written in.
///
/// ```
/// use symstore_core::config::{load_yaml, ConfigForm};
/// let enum_form = load_yaml("type: memory\n")?;
/// assert_eq!(enum_form.form, ConfigForm::Enum);
/// let helm = load_yaml(
///     "storage:\n  mode: create\n  create: { config: { user: minio, password: minio123 } }\n  \
///      buckets: { symbols: zymtrace-symdb }\n",
/// )?;
/// assert_eq!(helm.form, ConfigForm::Helm);
/// # Ok::<(), symstore_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigForm {
    /// The `type:`-tagged config enum.
    Enum,
    /// Operators' Helm values (`storage:`).
    Helm,
}

/// A validated configuration and what an operator should know about it.
///
/// ```
/// use symstore_core::config::{load_yaml, StoreConfig};
/// let loaded = load_yaml(
///     "type: minio\nendpoint: http://minio.internal:9000\naccess_key: symstore\n\
///      secret_key: s3cr3t-value\nbucket: zymtrace-symdb\n",
/// )?;
/// assert!(matches!(loaded.config, StoreConfig::Minio(_)));
/// assert_eq!(loaded.warnings[0].path, "endpoint"); // plain HTTP to a remote host
/// assert!(!format!("{loaded:?}").contains("s3cr3t-value"));
/// # Ok::<(), symstore_core::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadedConfig {
    /// The backend configuration.
    pub config: StoreConfig,
    /// Which form it was read from.
    pub form: ConfigForm,
    /// Warnings (plain HTTP to a remote host, ...), each with its YAML path.
    pub warnings: Vec<ConfigIssue>,
}

/// Reads and validates a YAML document in either form.
///
/// * A top-level `storage:` key means operators' Helm values (see
///   [`HelmValues`](super::HelmValues)); every other top-level key of a full values file
///   (`postgres:`, ...) is ignored.
/// * Otherwise a top-level `type:` key means the config enum ([`StoreConfig`]).
///
/// An empty or whitespace-only string (and null) means unset everywhere. Every problem found
/// is reported at once, each with its full YAML path, the line and column where known, and
/// the fix; unknown keys are reported with the keys accepted there.
///
/// ```
/// use symstore_core::config::load_yaml;
///
/// let err = load_yaml(
///     "storage:\n  mode: use_existing\n  use_existing:\n    type: minio\n    minio:\n      \
///      endpoint: minio:9000\n      user: \"\"\n      password: \"\"\n  \
///      buckets:\n    symbols: zymtrace-symdb\n",
/// )
/// .unwrap_err();
/// assert!(err.to_string().contains(
///     "storage.use_existing.minio.endpoint: must be a URL with http:// or https://, got \"minio:9000\""
/// ));
/// assert!(err.names("storage.use_existing.minio.user"));
/// assert!(err.names("storage.use_existing.minio.password"));
/// ```
pub fn load_yaml(text: &str) -> Result<LoadedConfig, ConfigError> {
    let outline = deserialize_tracked(text, None, false, |de| ShapeSeed.deserialize(de))?;
    let Shape::Map(entries) = &outline else {
        return Err(ConfigError::single(
            "",
            format!("the document is {}; {ACCEPTED_FORMS}", outline.describe()),
        ));
    };
    if entries.iter().any(|(key, _)| key == "storage") {
        let document: HelmDocument = deserialize_tracked(text, Some(&outline), false, |de| {
            HelmDocument::deserialize(de)
        })?;
        let Some(storage) = document.storage else {
            return Err(ConfigError::single(
                "storage",
                "is empty: set storage.mode and the section it selects, as the operators' \
                 guide documents (e.g. storage.mode: use_existing, storage.use_existing.type: \
                 minio)",
            ));
        };
        return storage.to_config();
    }
    let Some((_, tag)) = entries.iter().find(|(key, _)| key == "type") else {
        return Err(ConfigError::single("", ACCEPTED_FORMS));
    };
    let tag = match tag {
        Shape::Str(tag) => tag.trim(),
        Shape::Blank => {
            return Err(ConfigError::single(
                "type",
                format!("is empty: set one of {BACKENDS}"),
            ));
        }
        other => {
            return Err(ConfigError::single(
                "type",
                format!("must be one of {BACKENDS}, got {}", other.describe()),
            ));
        }
    };
    let config = match tag {
        "minio" => StoreConfig::Minio(enum_body::<MinioConfig>(text, &outline)?),
        "s3" => StoreConfig::S3(enum_body::<S3Config>(text, &outline)?),
        "gcs" => StoreConfig::Gcs(enum_body::<GcsConfig>(text, &outline)?),
        "filesystem" => StoreConfig::Filesystem(enum_body::<FilesystemConfig>(text, &outline)?),
        "memory" => StoreConfig::Memory(enum_body::<MemoryConfig>(text, &outline)?),
        other => {
            return Err(ConfigError::single(
                "type",
                format!("unknown backend {other:?}: use one of {BACKENDS}"),
            ));
        }
    };
    let warnings = validate::validate(&config, &FieldPaths::enum_form()).into_result()?;
    Ok(LoadedConfig {
        config,
        form: ConfigForm::Enum,
        warnings,
    })
}

/// Reads and validates a YAML file in either form (see [`load_yaml`]).
///
/// ```
/// use symstore_core::config::load_yaml_file;
///
/// let path = std::env::temp_dir().join(format!("symstore-doc-{}.yaml", std::process::id()));
/// std::fs::write(&path, "type: filesystem\nroot: /var/lib/symstore\n").unwrap();
/// let loaded = load_yaml_file(&path)?;
/// assert_eq!(loaded.config.backend_name(), "filesystem");
/// # std::fs::remove_file(&path).unwrap();
///
/// let err = load_yaml_file(std::path::Path::new("/nonexistent/values.yaml")).unwrap_err();
/// assert!(err.to_string().contains("cannot read /nonexistent/values.yaml"));
/// # Ok::<(), symstore_core::ConfigError>(())
/// ```
pub fn load_yaml_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::single("", format!("cannot read {}: {e}", path.display())))?;
    load_yaml(&text)
}

const BACKENDS: &str = "minio, s3, gcs, filesystem, memory";

const ACCEPTED_FORMS: &str = "expected one of two forms: the config enum, a mapping with a \
     top-level `type:` (minio, s3, gcs, filesystem or memory) and that backend's keys \
     (e.g. `type: minio`, `endpoint: https://...`, `bucket: ...`), or Helm values with a \
     top-level `storage:` mapping (`storage.mode: use_existing` or `create`, as the operators' \
     guide documents)";

/// Deserializes the body of the enum form as `T`, without its `type` tag.
fn enum_body<T: DeserializeOwned>(text: &str, outline: &Shape) -> Result<T, ConfigError> {
    deserialize_tracked(text, Some(outline), true, |de| T::deserialize(de))
}

/// Runs `f` on a deserializer of `text` that tracks YAML paths and, when `outline` is given,
/// drops unset entries (and the top-level `type` tag when `skip_type`).
fn deserialize_tracked<T, F>(
    text: &str,
    outline: Option<&Shape>,
    skip_type: bool,
    f: F,
) -> Result<T, ConfigError>
where
    F: for<'de, 'e> FnOnce(
        Filter<'_, serde_path_to_error::Deserializer<'_, '_, serde_saphyr::Deserializer<'de, 'e>>>,
    ) -> Result<T, serde_saphyr::Error>,
{
    let mut failed_at = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        let mut track = serde_path_to_error::Track::new();
        let result = f(Filter {
            de: serde_path_to_error::Deserializer::new(de, &mut track),
            shape: outline,
            skip_type,
        });
        if result.is_err() {
            failed_at = Some(track.path());
        }
        result
    });
    result.map_err(|err| ConfigError {
        issues: vec![yaml_issue(failed_at.as_ref(), &err)],
    })
}

/// Turns a serde-saphyr error into an issue: the path, the message without any source
/// snippet, the line and column, and the fix.
fn yaml_issue(path: Option<&serde_path_to_error::Path>, err: &serde_saphyr::Error) -> ConfigIssue {
    let mut path = path.map(yaml_path).unwrap_or_default();
    let mut message = err.render_with_options(serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let location = err
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| (l.line(), l.column()));
    if let Some((line, column)) = location {
        for suffix in [
            format!(" at line {line}, column {column}"),
            format!("line {line} column {column}: "),
        ] {
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_owned();
            } else if let Some(stripped) = message.strip_prefix(&suffix) {
                message = stripped.to_owned();
            }
        }
    }
    let message = message.trim().trim_start_matches("error: ").to_owned();
    // A duplicate key is found before the tracker learns its name: take it from the message.
    if let Some(rest) = message
        .split_once("duplicate mapping key `")
        .map(|(_, rest)| rest)
        && let Some((key, _)) = rest.split_once('`')
        && !path.ends_with(key)
    {
        path = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
    }
    let at = location
        .map(|(line, column)| format!(" (line {line}, column {column})"))
        .unwrap_or_default();
    ConfigIssue {
        path,
        message: explain(&message, &at),
    }
}

/// The YAML path of a tracked serde path: `storage.create.replicas`, `list[1].port`; unknown
/// segments (`?`) are left out.
fn yaml_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Rewrites a serde message as what is wrong, where, and how to fix it.
fn explain(message: &str, at: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, expected)) = rest.split_once('`')
    {
        let valid = match expected_list(expected) {
            Some(list) if list.contains(',') => format!("the keys accepted here are {list}"),
            Some(one) => format!("the only key accepted here is {one}"),
            None => String::from("no keys are accepted here"),
        };
        return format!("unknown key `{key}`{at}: {valid}; remove it or correct its spelling");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, expected)) = rest.split_once('`')
    {
        let valid = expected_list(expected).unwrap_or_default();
        return format!("unknown value `{value}`{at}: use one of {valid}");
    }
    let fix = if let Some(range) = message.strip_prefix("invalid ").and_then(integer_range) {
        format!("write a whole number {range}")
    } else if message.contains("invalid boolean") {
        String::from("write true or false")
    } else if message.contains("expected mapping") || message.contains("expected struct") {
        String::from("write a mapping (indented `key: value` lines) here")
    } else if message.contains("expected string") {
        String::from("write a single value (text) here, not a list or a mapping")
    } else if message.contains("expected a sequence") {
        String::from("write a list here")
    } else if message.contains("duplicate") {
        String::from("keep one of the entries")
    } else if message.contains("duration") {
        return format!("{message}{at}");
    } else {
        String::from("correct the YAML here")
    };
    format!("{message}{at}: {fix}")
}

/// The list in the `, expected one of a, b` tail of a serde message, without backticks;
/// `None` when empty.
fn expected_list(tail: &str) -> Option<String> {
    let (_, expected) = tail.split_once("expected")?;
    let list = expected.trim_start().trim_start_matches("one of").trim();
    (!list.is_empty()).then(|| list.replace('`', ""))
}

/// The range of an integer type saphyr names in `invalid u16`.
fn integer_range(ty: &str) -> Option<&'static str> {
    Some(match ty.split_whitespace().next()? {
        "u8" => "from 0 to 255",
        "u16" => "from 0 to 65535",
        "u32" => "from 0 to 4294967295",
        "u64" | "usize" | "u128" => "(0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" | "i128" => "in range",
        _ => return None,
    })
}

/// What the outline pass learns about one node.
enum Shape {
    /// Unset: an empty or whitespace-only string, or null.
    Blank,
    /// A string scalar.
    Str(String),
    /// Another scalar (number, boolean).
    Scalar,
    /// A sequence.
    Seq,
    /// A mapping: its keys (as text) and the shapes of their values, in document order.
    Map(Vec<(String, Shape)>),
}

impl Shape {
    fn describe(&self) -> &'static str {
        match self {
            Shape::Blank => "empty",
            Shape::Str(_) | Shape::Scalar => "a single value, not a mapping",
            Shape::Seq => "a list, not a mapping",
            Shape::Map(_) => "a mapping",
        }
    }

    fn entry(&self, key: &str) -> Option<&Shape> {
        match self {
            Shape::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, s)| s),
            _ => None,
        }
    }
}

/// Walks any node, building its [`Shape`].
struct ShapeSeed;

impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = Shape;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = Shape;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Shape, E> {
        Ok(if v.trim().is_empty() {
            Shape::Blank
        } else {
            Shape::Str(v.to_owned())
        })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Blank)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Blank)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element_seed(ShapeSeed)?.is_some() {}
        Ok(Shape::Seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeyText)? {
            let value = map.next_value_seed(ShapeSeed)?;
            entries.push((key, value));
        }
        Ok(Shape::Map(entries))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Shape, A::Error> {
        let (_, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant_seed(variant, ShapeSeed)
    }
}

/// A mapping key as text (numbers and booleans as written).
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for KeyText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::from("null"))
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::from("null"))
    }
}

/// A deserializer that hides the unset entries of every mapping (so they take their
/// defaults) and, at the top level of the enum form, the `type` tag.
struct Filter<'s, D> {
    de: D,
    shape: Option<&'s Shape>,
    skip_type: bool,
}

impl<'s, D> Filter<'s, D> {
    fn visitor<V>(&self, visitor: V) -> FilterVisitor<'s, V> {
        FilterVisitor {
            visitor,
            shape: self.shape,
            skip_type: self.skip_type,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method($($arg,)* visitor)
        }
    )*};
}

macro_rules! wrap_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let visitor = self.visitor(visitor);
            self.de.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Filter<'_, D> {
    type Error = D::Error;

    wrap_deserialize! {
        deserialize_any();
        deserialize_option();
        deserialize_map();
        deserialize_newtype_struct(name: &'static str);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
    }

    forward_deserialize! {
        deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32();
        deserialize_i64(); deserialize_i128(); deserialize_u8(); deserialize_u16();
        deserialize_u32(); deserialize_u64(); deserialize_u128(); deserialize_f32();
        deserialize_f64(); deserialize_char(); deserialize_str(); deserialize_string();
        deserialize_bytes(); deserialize_byte_buf(); deserialize_unit(); deserialize_seq();
        deserialize_identifier(); deserialize_ignored_any();
        deserialize_unit_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct FilterVisitor<'s, V> {
    visitor: V,
    shape: Option<&'s Shape>,
    skip_type: bool,
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for FilterVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool); visit_i64(i64); visit_i128(i128); visit_u64(u64);
        visit_u128(u128); visit_f64(f64); visit_char(char); visit_str(&str);
        visit_borrowed_str(&'de str); visit_string(String); visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Filter {
            de: deserializer,
            shape: self.shape,
            skip_type: self.skip_type,
        })
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Filter {
            de: d,
            shape: self.shape,
            skip_type: self.skip_type,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(FilterMap {
            map,
            shape: self.shape,
            skip_type: self.skip_type,
            value_shape: None,
        })
    }
}

struct FilterMap<'s, A> {
    map: A,
    shape: Option<&'s Shape>,
    skip_type: bool,
    /// The shape of the value of the key just returned.
    value_shape: Option<&'s Shape>,
}

impl<'de, 's, A: MapAccess<'de>> MapAccess<'de> for FilterMap<'s, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut seed = Some(seed);
        loop {
            let key = self.map.next_key_seed(FilterKey {
                seed: &mut seed,
                shape: self.shape,
                skip_type: self.skip_type,
                value_shape: &mut self.value_shape,
            })?;
            match key {
                None => return Ok(None),
                Some(Some(key)) => return Ok(Some(key)),
                Some(None) => {
                    self.map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(FilterSeed {
            seed,
            shape: self.value_shape.take(),
        })
    }
}

/// Reads a key; hands it to the wrapped seed unless its entry is hidden (`None`).
struct FilterKey<'a, 's, K> {
    seed: &'a mut Option<K>,
    shape: Option<&'s Shape>,
    skip_type: bool,
    value_shape: &'a mut Option<&'s Shape>,
}

impl<'de, 's, K: DeserializeSeed<'de>> DeserializeSeed<'de> for FilterKey<'_, 's, K> {
    type Value = Option<K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let key = KeyText.deserialize(deserializer)?;
        let value_shape = self.shape.and_then(|shape| shape.entry(&key));
        if (self.skip_type && key == "type") || matches!(value_shape, Some(Shape::Blank)) {
            return Ok(None);
        }
        *self.value_shape = value_shape;
        let seed = self
            .seed
            .take()
            .ok_or_else(|| de::Error::custom("internal error: a key seed was used twice"))?;
        seed.deserialize(key.into_deserializer()).map(Some)
    }
}

/// Deserializes a mapping value through a [`Filter`] of its own shape.
struct FilterSeed<'s, S> {
    seed: S,
    shape: Option<&'s Shape>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for FilterSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Filter {
            de: deserializer,
            shape: self.shape,
            skip_type: false,
        })
    }
}
