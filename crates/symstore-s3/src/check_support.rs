//! What `check` adds to the backend's errors, and the failures it can report.

use std::time::Duration;

use aws_sdk_s3::error::{ErrorMetadata, SdkError};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use symstore_core::Context;
use symstore_core::check::{self, CheckReport, KnownFailure, StepStatus};

use crate::Provider;
use crate::client::CredentialMode;
use crate::error::{HintFacts, map_sdk_error};

/// The fix for credentials that could not be loaded, when the provider gave none.
pub(crate) const NO_CREDENTIALS_FIX: &str = "No credentials found: set access_key and \
     secret_key (Helm: accessKey, secretKey), or use_iam: aws (Helm: useIAM: \"aws\") with \
     IRSA (a service account annotated with eks.amazonaws.com/role-arn) or an EC2 instance \
     profile";

/// The action each step needs, per provider.
fn action(step: &str, provider: Provider) -> Option<&'static str> {
    let gcs = provider == Provider::Gcs;
    Some(match step {
        "bucket exists" if gcs => "storage.buckets.get",
        "bucket exists" => "s3:ListBucket",
        check::STEP_PUT if gcs => "storage.objects.create",
        check::STEP_PUT => "s3:PutObject",
        check::STEP_GET if gcs => "storage.objects.get",
        check::STEP_GET => "s3:GetObject",
        check::STEP_LIST if gcs => "storage.objects.list",
        check::STEP_LIST => "s3:ListBucket",
        check::STEP_DELETE if gcs => "storage.objects.delete",
        check::STEP_DELETE => "s3:DeleteObject",
        _ => return None,
    })
}

/// Adds to the cause of each access-denied step the exact action it needed.
pub(crate) fn name_missing_actions(report: &mut CheckReport, provider: Provider) {
    for step in &mut report.steps {
        if step.status == StepStatus::Failed
            && step.error_kind == Some("access_denied")
            && let Some(action) = action(&step.name, provider)
        {
            let named = format!("access denied: this step needs {action}");
            step.detail = if step.detail.contains("access denied") {
                step.detail.replacen("access denied", &named, 1)
            } else {
                format!("{}; {named}", step.detail)
            };
        }
    }
}

impl crate::S3Store {
    /// Every failure `check` can report on MinIO, AWS S3 and GCS, each fix rendered by
    /// the code that renders a real failure's, with `ENDPOINT`, `BUCKET`, `ACCESS_KEY`,
    /// `SERVICE_ACCOUNT` and `READ_TIMEOUT` in place of one installation's values.
    /// `symstore check --explain` renders the README's Troubleshooting section from it.
    ///
    /// ```
    /// let failures = symstore_s3::S3Store::known_failures();
    /// assert!(failures.iter().any(|f| f.error_kind == "bucket_not_found"));
    /// ```
    pub fn known_failures() -> Vec<KnownFailure> {
        known_failures()
    }
}

/// A read timeout no configuration uses, replaced by `READ_TIMEOUT` in the catalog.
const TIMEOUT_SENTINEL: Duration = Duration::from_nanos(987_654_321);

fn service_error(status: u16, code: &str) -> SdkError<ListObjectsV2Error, HttpResponse> {
    let error = ListObjectsV2Error::generic(ErrorMetadata::builder().code(code).build());
    let raw = HttpResponse::new(status.try_into().expect("a valid status"), SdkBody::empty());
    SdkError::service_error(error, raw)
}

fn dispatch_error(source: ConnectorError) -> SdkError<ListObjectsV2Error, HttpResponse> {
    SdkError::dispatch_failure(source)
}

/// See [`S3Store::known_failures`](crate::S3Store::known_failures).
fn known_failures() -> Vec<KnownFailure> {
    let static_key = CredentialMode::Static {
        access_key: "ACCESS_KEY".into(),
    };
    let irsa = CredentialMode::DefaultChain {
        service_account: Some("SERVICE_ACCOUNT".into()),
    };
    let facts = |provider, credential_mode| HintFacts {
        provider,
        endpoint: "ENDPOINT",
        bucket: "BUCKET",
        credential_mode,
        read_timeout: TIMEOUT_SENTINEL,
    };
    let minio = facts(Provider::Minio, &static_key);
    let render = |error: SdkError<ListObjectsV2Error, HttpResponse>, facts: &HintFacts<'_>| {
        let mapped = map_sdk_error(error, Context::new("check"), facts);
        (
            mapped.kind_name(),
            mapped
                .hint()
                .unwrap_or_default()
                .replace(&format!("{TIMEOUT_SENTINEL:?}"), "READ_TIMEOUT"),
        )
    };
    let known = |symptom: &str, step: &str, (kind, fix): (&'static str, String)| {
        KnownFailure::new(symptom, step, kind, fix)
    };
    let io = |kind| ConnectorError::io(Box::new(std::io::Error::from(kind)));
    let untrusted = ConnectorError::other("invalid peer certificate: UnknownIssuer".into(), None);
    let remote = "http://minio.example.com:9000";
    let plain_http = crate::store::plain_http_warning(remote)
        .expect("a remote plain-HTTP endpoint gets a warning")
        .replace(remote, "ENDPOINT");
    vec![
        known(
            "Plain HTTP to a host other than this machine (a warning)",
            "transport",
            ("warning", plain_http),
        ),
        known(
            "No credentials (keys left empty, or useIAM: \"aws\" with no source)",
            "credentials resolved",
            ("credentials", NO_CREDENTIALS_FIX.to_owned()),
        ),
        known(
            "IMDS timeout (useIAM: \"aws\" with the node instance profile, from a pod)",
            "credentials resolved",
            ("credentials", crate::credentials::HOP_LIMIT_HINT.to_owned()),
        ),
        known(
            "Connection timeout: the server never answers",
            "endpoint reachable",
            render(SdkError::timeout_error("timed out"), &minio),
        ),
        known(
            "Connection refused or host unreachable",
            "endpoint reachable",
            render(
                dispatch_error(io(std::io::ErrorKind::ConnectionRefused)),
                &minio,
            ),
        ),
        known(
            "TLS error: self-signed or private-CA certificate, wrong host name",
            "endpoint reachable",
            render(dispatch_error(untrusted), &minio),
        ),
        known(
            "Wrong secret key",
            "bucket exists",
            render(service_error(403, "SignatureDoesNotMatch"), &minio),
        ),
        known(
            "Unknown or inactive access key",
            "bucket exists",
            render(service_error(403, "InvalidAccessKeyId"), &minio),
        ),
        known(
            "Expired session credentials (IRSA, instance profile)",
            "bucket exists",
            render(
                service_error(400, "ExpiredToken"),
                &facts(Provider::Aws, &irsa),
            ),
        ),
        known(
            "Bucket not found (MinIO)",
            "bucket exists",
            render(service_error(404, "NoSuchBucket"), &minio),
        ),
        known(
            "Bucket not found (AWS S3)",
            "bucket exists",
            render(
                service_error(404, "NoSuchBucket"),
                &facts(Provider::Aws, &static_key),
            ),
        ),
        known(
            "Bucket not found (GCS)",
            "bucket exists",
            render(
                service_error(404, "NoSuchBucket"),
                &facts(Provider::Gcs, &static_key),
            ),
        ),
        known(
            "Access denied: a permission is missing (MinIO, AWS S3 with keys)",
            "permission: * or bucket exists",
            render(service_error(403, "AccessDenied"), &minio),
        ),
        known(
            "Access denied with useIAM: \"aws\" (IRSA or instance profile)",
            "permission: * or bucket exists",
            render(
                service_error(403, "AccessDenied"),
                &facts(Provider::Aws, &irsa),
            ),
        ),
        known(
            "Access denied (GCS HMAC key)",
            "permission: * or bucket exists",
            render(
                service_error(403, "AccessDenied"),
                &facts(Provider::Gcs, &static_key),
            ),
        ),
    ]
}
