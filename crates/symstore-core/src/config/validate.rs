//! Validation of a [`StoreConfig`]: one set of rules for both configuration forms.
//!
//! The rules speak of logical field names (`endpoint`, `access_key`, `secret_key`, `bucket`,
//! `region`, `use_iam`, `service_account`, `root`, `connection.connect_timeout`,
//! `upload.part_size`, ...), which are the keys of the `type:`-tagged enum form. A
//! [`FieldPaths`] maps them to the YAML paths an operator wrote, so the Helm adapter reports
//! `storage.use_existing.minio.user` where the enum form reports `access_key`.
//!
//! Every issue is collected (not only the first), and no message ever contains a secret.

use std::net::IpAddr;

use super::{
    ConnectionOptions, FilesystemConfig, GcsConfig, IamMode, MinioConfig, S3Config, StoreConfig,
    UploadOptions,
};
use crate::ConfigError;
use crate::error::ConfigIssue;

/// The smallest part S3 accepts in a multipart upload (except the last one).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part S3 accepts in a multipart upload.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// How to create GCS HMAC keys, quoted in every GCS credential message.
const GCS_HMAC_HOWTO: &str = "gcloud storage hmac create SERVICE_ACCOUNT_EMAIL";

impl StoreConfig {
    /// Checks the configuration and returns its warnings, or every problem found.
    ///
    /// Issues name the keys of the `type:`-tagged form (`endpoint`, `access_key`,
    /// `upload.part_size`, ...); configurations read by [`load_yaml`](super::load_yaml) are
    /// already validated, with the paths of the form they were written in. Empty and
    /// whitespace-only strings count as unset.
    ///
    /// ```
    /// use symstore_core::config::{FilesystemConfig, StoreConfig};
    ///
    /// let ok = StoreConfig::Filesystem(FilesystemConfig::new("/var/lib/symstore"));
    /// assert!(ok.validate()?.is_empty());
    ///
    /// let err = StoreConfig::Filesystem(FilesystemConfig::new("")).validate().unwrap_err();
    /// assert!(err.names("root"));
    /// # Ok::<(), symstore_core::ConfigError>(())
    /// ```
    pub fn validate(&self) -> Result<Vec<ConfigIssue>, ConfigError> {
        validate(self, &FieldPaths::enum_form()).into_result()
    }
}

/// Maps a logical field name to the YAML path reported in an issue.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldPaths {
    /// Prepended to a field that has no explicit mapping.
    prefix: String,
    /// Explicit mappings, `(logical name, YAML path)`.
    explicit: Vec<(&'static str, String)>,
}

impl FieldPaths {
    /// The `type:`-tagged form: the logical names are the YAML paths.
    pub(crate) fn enum_form() -> Self {
        Self::default()
    }

    /// Fields without an explicit mapping become `prefix.field`.
    pub(crate) fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            explicit: Vec::new(),
        }
    }

    /// Reports `field` as `path`.
    pub(crate) fn map(mut self, field: &'static str, path: impl Into<String>) -> Self {
        self.explicit.push((field, path.into()));
        self
    }

    /// The YAML path of `field`.
    pub(crate) fn path(&self, field: &str) -> String {
        if let Some((_, path)) = self.explicit.iter().find(|(name, _)| *name == field) {
            return path.clone();
        }
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    /// The last key of `field`'s path, as an operator writes it (`useIAM`, `use_iam`).
    pub(crate) fn key(&self, field: &str) -> String {
        let path = self.path(field);
        match path.rsplit_once('.') {
            Some((_, key)) => key.to_owned(),
            None => path,
        }
    }
}

/// The outcome of validation: errors make the configuration unusable, warnings do not.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) errors: Vec<ConfigIssue>,
    pub(crate) warnings: Vec<ConfigIssue>,
}

impl Findings {
    fn error(&mut self, path: String, message: impl Into<String>) {
        self.errors.push(ConfigIssue {
            path,
            message: message.into(),
        });
    }

    fn warning(&mut self, path: String, message: impl Into<String>) {
        self.warnings.push(ConfigIssue {
            path,
            message: message.into(),
        });
    }

    /// The warnings when there is no error, else every error.
    pub(crate) fn into_result(self) -> Result<Vec<ConfigIssue>, ConfigError> {
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(ConfigError {
                issues: self.errors,
            })
        }
    }
}

/// Validates `config`, reporting each issue under the path `paths` gives its field.
pub(crate) fn validate(config: &StoreConfig, paths: &FieldPaths) -> Findings {
    let mut findings = Findings::default();
    match config {
        StoreConfig::Minio(minio) => validate_minio(minio, paths, &mut findings),
        StoreConfig::S3(s3) => validate_s3(s3, paths, &mut findings),
        StoreConfig::Gcs(gcs) => validate_gcs(gcs, paths, &mut findings),
        StoreConfig::Filesystem(fs) => validate_filesystem(fs, paths, &mut findings),
        StoreConfig::Memory(_) => {}
    }
    findings
}

fn validate_minio(config: &MinioConfig, paths: &FieldPaths, findings: &mut Findings) {
    match set(&config.endpoint) {
        None => findings.error(
            paths.path("endpoint"),
            "is empty: set the URL of the MinIO server, e.g. https://minio.example.com or \
             http://192.168.1.100:9000",
        ),
        Some(endpoint) => check_endpoint(endpoint, &paths.path("endpoint"), findings),
    }
    if set(&config.access_key).is_none() {
        findings.error(
            paths.path("access_key"),
            "is empty: set the MinIO access key (the MinIO user)",
        );
    }
    if config.secret_key.is_empty() {
        findings.error(
            paths.path("secret_key"),
            "is empty: set the MinIO secret key (the MinIO user's password)",
        );
    }
    check_bucket(&config.bucket, &paths.path("bucket"), false, findings);
    check_connection(&config.connection, paths, findings);
    check_upload(&config.upload, paths, findings);
}

fn validate_s3(config: &S3Config, paths: &FieldPaths, findings: &mut Findings) {
    let endpoint = config.endpoint.as_deref().and_then(set);
    // Under `use_iam: aws` an EC2 node can tell its region (IMDS); the backend reports a
    // missing one at open, naming this same path, when IMDS cannot.
    let region_from_imds =
        config.use_iam.is_some() && config.access_key.as_deref().and_then(set).is_none();
    if config.region.as_deref().and_then(set).is_none() && endpoint.is_none() && !region_from_imds {
        findings.error(
            paths.path("region"),
            format!(
                "is empty: set {}, e.g. us-west-2 (the AWS region of the bucket)",
                paths.path("region")
            ),
        );
    }
    check_s3_credentials(config, paths, findings);
    if let Some(endpoint) = endpoint {
        check_endpoint(endpoint, &paths.path("endpoint"), findings);
    }
    check_bucket(&config.bucket, &paths.path("bucket"), false, findings);
    check_connection(&config.connection, paths, findings);
    check_upload(&config.upload, paths, findings);
}

fn check_s3_credentials(config: &S3Config, paths: &FieldPaths, findings: &mut Findings) {
    let access_key = config.access_key.as_deref().and_then(set).is_some();
    let secret_key = config.secret_key.as_ref().is_some_and(|s| !s.is_empty());
    let iam = config.use_iam;
    let (ak, sk, iam_key) = (
        paths.key("access_key"),
        paths.key("secret_key"),
        paths.key("use_iam"),
    );
    let iam_alternative = format!(
        "or leave both keys empty and set {iam_key}: \"aws\" to use the AWS default credential \
         chain (IRSA web identity, then the EC2 instance profile over IMDSv2)"
    );
    match (access_key, secret_key, iam) {
        (false, false, None) => {
            findings.error(
                paths.path("access_key"),
                format!("is empty: set the AWS access key id, {iam_alternative}"),
            );
            findings.error(
                paths.path("secret_key"),
                format!("is empty: set the AWS secret access key, {iam_alternative}"),
            );
        }
        (true, false, None) => findings.error(
            paths.path("secret_key"),
            format!("is empty while {ak} is set: set the AWS secret access key, {iam_alternative}"),
        ),
        (false, true, None) => findings.error(
            paths.path("access_key"),
            format!("is empty while {sk} is set: set the AWS access key id, {iam_alternative}"),
        ),
        (true, _, Some(IamMode::Aws)) | (_, true, Some(IamMode::Aws)) => findings.error(
            paths.path("use_iam"),
            format!(
                "static keys ({ak}/{sk}) and {iam_key}: \"aws\" are both set: pick one; remove \
                 the keys to use the AWS default credential chain, or remove {iam_key} to sign \
                 with the keys"
            ),
        ),
        (true, true, None) | (false, false, Some(IamMode::Aws)) => {}
    }
    let service_account = config.service_account.as_deref().and_then(set);
    if service_account.is_some() && iam.is_none() && (access_key || secret_key) {
        findings.warning(
            paths.path("service_account"),
            format!(
                "is only meaningful with {iam_key}: \"aws\" (IRSA); it is ignored with static keys"
            ),
        );
    }
}

fn validate_gcs(config: &GcsConfig, paths: &FieldPaths, findings: &mut Findings) {
    if let Some(endpoint) = config.endpoint.as_deref().and_then(set) {
        check_endpoint(endpoint, &paths.path("endpoint"), findings);
    }
    let (ak, sk) = (paths.key("access_key"), paths.key("secret_key"));
    let access_key = set(&config.access_key);
    let service_account_email = access_key.filter(|key| looks_like_service_account(key));
    match access_key {
        None => findings.error(
            paths.path("access_key"),
            format!(
                "is empty: set the access id of a GCS HMAC key (GOOG1...); create one with \
                 `{GCS_HMAC_HOWTO}`"
            ),
        ),
        Some(email) if service_account_email.is_some() => findings.error(
            paths.path("access_key"),
            format!(
                "is a service-account e-mail ({email}), not an HMAC access id: GCS is reached \
                 through its S3-compatible XML API, which signs with an HMAC key. Create one \
                 with `{GCS_HMAC_HOWTO}` (here: `gcloud storage hmac create {email}`), then set \
                 {ak} to its access id (GOOG1...) and {sk} to its secret"
            ),
        ),
        Some(_) => {}
    }
    let secret = config.secret_key.expose().trim();
    if config.secret_key.is_empty() {
        findings.error(
            paths.path("secret_key"),
            format!(
                "is empty: set the secret of a GCS HMAC key; create one with `{GCS_HMAC_HOWTO}`"
            ),
        );
    } else if let Some(kind) = private_key_kind(secret) {
        let target = service_account_email.unwrap_or("SERVICE_ACCOUNT_EMAIL");
        findings.error(
            paths.path("secret_key"),
            format!(
                "is {kind}, not an HMAC secret: GCS is reached through its S3-compatible XML \
                 API, which signs with an HMAC key. Create one with `{GCS_HMAC_HOWTO}` (here: \
                 `gcloud storage hmac create {target}`), then set {ak} to its access id \
                 (GOOG1...) and {sk} to its secret"
            ),
        );
    }
    check_bucket(&config.bucket, &paths.path("bucket"), true, findings);
    check_connection(&config.connection, paths, findings);
    check_upload(&config.upload, paths, findings);
}

fn validate_filesystem(config: &FilesystemConfig, paths: &FieldPaths, findings: &mut Findings) {
    if config
        .root
        .to_str()
        .is_some_and(|root| root.trim().is_empty())
    {
        findings.error(
            paths.path("root"),
            "is empty: set the directory holding the objects, e.g. /var/lib/symstore",
        );
    }
}

/// `value` unless it is empty or whitespace (unset).
fn set(value: &str) -> Option<&str> {
    (!value.trim().is_empty()).then_some(value)
}

fn looks_like_service_account(access_key: &str) -> bool {
    let key = access_key.trim().to_ascii_lowercase();
    key.contains('@') && key.ends_with(".gserviceaccount.com")
}

/// What kind of private key `secret` is, when it is one rather than an HMAC secret.
fn private_key_kind(secret: &str) -> Option<&'static str> {
    if secret.starts_with("-----BEGIN") {
        Some("a PEM private key")
    } else if secret.starts_with('{') && secret.contains("private_key") {
        Some("a service-account JSON key file")
    } else {
        None
    }
}

/// Checks that `endpoint` is an `http://` or `https://` URL; warns about plain HTTP to a
/// host other than loopback.
fn check_endpoint(endpoint: &str, path: &str, findings: &mut Findings) {
    let trimmed = endpoint.trim();
    let shown = redact_userinfo(trimmed);
    let parsed = url::Url::parse(trimmed).ok().filter(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    });
    let Some(url) = parsed else {
        let example = if trimmed.contains("://") {
            String::from("https://minio.example.com")
        } else {
            format!("https://{shown}")
        };
        findings.error(
            path.to_owned(),
            format!(
                "must be a URL with http:// or https://, got {shown:?}; write e.g. {example:?}"
            ),
        );
        return;
    };
    if !url.username().is_empty() || url.password().is_some() {
        findings.error(
            path.to_owned(),
            "must not contain credentials (user:password@): set the access and secret keys in \
             their own fields",
        );
        return;
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        findings.warning(
            path.to_owned(),
            format!(
                "plain http:// to {}: credentials and symbols travel unencrypted; use https://",
                url.host_str().unwrap_or_default()
            ),
        );
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost")
                || domain.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `endpoint` with any `user:password@` replaced by `***@`, so a message can quote it.
fn redact_userinfo(endpoint: &str) -> String {
    let (scheme, rest) = match endpoint.find("://") {
        Some(at) => endpoint.split_at(at + 3),
        None => ("", endpoint),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => endpoint.to_owned(),
    }
}

/// Checks a bucket name against the S3 rules (and GCS's, which also allow `_`).
pub(crate) fn check_bucket(
    bucket: &str,
    path: &str,
    allow_underscore: bool,
    findings: &mut Findings,
) {
    let Some(bucket) = set(bucket) else {
        findings.error(
            path.to_owned(),
            "is empty: set the name of the bucket holding the symbols, e.g. zymtrace-symdb",
        );
        return;
    };
    if let Some(reason) = bucket_name_problem(bucket, allow_underscore) {
        let allowed = if allow_underscore {
            "lowercase letters, digits, dots, hyphens and underscores"
        } else {
            "lowercase letters, digits, dots and hyphens"
        };
        findings.error(
            path.to_owned(),
            format!(
                "{bucket:?} is not a valid bucket name ({reason}): use 3 to 63 {allowed}, \
                 starting and ending with a letter or digit, e.g. zymtrace-symdb"
            ),
        );
    }
}

fn bucket_name_problem(bucket: &str, allow_underscore: bool) -> Option<String> {
    let len = bucket.chars().count();
    if !(3..=63).contains(&len) {
        return Some(if len == 1 {
            String::from("it is 1 character long")
        } else {
            format!("it is {len} characters long")
        });
    }
    if let Some(bad) = bucket.chars().find(|&c| {
        !(c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '.'
            || c == '-'
            || (allow_underscore && c == '_'))
    }) {
        return Some(if bad.is_ascii_uppercase() {
            format!("uppercase {bad:?}")
        } else {
            format!("the character {bad:?}")
        });
    }
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alphanumeric(bucket.chars().next()) || !alphanumeric(bucket.chars().last()) {
        return Some(String::from("it must start and end with a letter or digit"));
    }
    if bucket.contains("..") {
        return Some(String::from("two adjacent dots"));
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(String::from("it is formatted as an IP address"));
    }
    None
}

fn check_connection(connection: &ConnectionOptions, paths: &FieldPaths, findings: &mut Findings) {
    for (field, value) in [
        ("connection.connect_timeout", connection.connect_timeout),
        ("connection.read_timeout", connection.read_timeout),
    ] {
        if value.is_zero() {
            findings.error(
                paths.path(field),
                "must be longer than 0: write a duration such as \"5s\" or \"500ms\"",
            );
        }
    }
}

fn check_upload(upload: &UploadOptions, paths: &FieldPaths, findings: &mut Findings) {
    if upload.part_size < MIN_PART_SIZE {
        findings.error(
            paths.path("upload.part_size"),
            format!(
                "must be at least 5 MiB ({MIN_PART_SIZE} bytes), the smallest part S3 accepts; \
                 got {} bytes",
                upload.part_size
            ),
        );
    } else if upload.part_size > MAX_PART_SIZE {
        findings.error(
            paths.path("upload.part_size"),
            format!(
                "must be at most 5 GiB ({MAX_PART_SIZE} bytes), the largest part S3 accepts; \
                 got {} bytes",
                upload.part_size
            ),
        );
    }
    if upload.concurrency == 0 {
        findings.error(
            paths.path("upload.concurrency"),
            "must be at least 1 (parts uploaded at once), e.g. 4",
        );
    }
    if upload.max_attempts == 0 {
        findings.error(
            paths.path("upload.max_attempts"),
            "must be at least 1 (the first attempt counts), e.g. 4",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        for good in ["zymtrace-symdb", "a.b-c", "abc", &"a".repeat(63)] {
            assert_eq!(bucket_name_problem(good, false), None, "{good}");
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
        ] {
            assert!(bucket_name_problem(bad, false).is_some(), "{bad}");
        }
        assert_eq!(bucket_name_problem("a_b", true), None);
    }

    #[test]
    fn userinfo_is_redacted_before_quoting_an_endpoint() {
        assert_eq!(
            redact_userinfo("minio://u:p@host:9000/x"),
            "minio://***@host:9000/x"
        );
        assert_eq!(redact_userinfo("u:p@host"), "***@host");
        assert_eq!(redact_userinfo("minio:9000"), "minio:9000");
    }

    #[test]
    fn helm_paths_map_logical_names() {
        let paths = FieldPaths::with_prefix("storage.use_existing.s3")
            .map("use_iam", "storage.use_existing.s3.useIAM");
        assert_eq!(paths.path("region"), "storage.use_existing.s3.region");
        assert_eq!(paths.key("use_iam"), "useIAM");
        assert_eq!(FieldPaths::enum_form().key("use_iam"), "use_iam");
    }
}
