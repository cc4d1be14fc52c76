//! Maps aws-sdk-s3 failures to symstore's public [`Error`], each with the operator's fix.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use symstore_core::{Context, Error};

use crate::client::CredentialMode;
use crate::profile::Provider;

/// What the hints need to know about the store.
pub(crate) struct HintFacts<'a> {
    pub(crate) provider: Provider,
    pub(crate) endpoint: &'a str,
    pub(crate) bucket: &'a str,
    pub(crate) credential_mode: &'a CredentialMode,
    pub(crate) read_timeout: std::time::Duration,
}

impl HintFacts<'_> {
    pub(crate) fn bucket_not_found(&self) -> String {
        let b = self.bucket;
        let create = match self.provider {
            Provider::Minio => format!("`mc mb ALIAS/{b}`"),
            Provider::Aws => format!("`aws s3 mb s3://{b}`"),
            Provider::Gcs => format!("`gcloud storage buckets create gs://{b}`"),
        };
        format!(
            "Bucket `{b}` does not exist at {}: create it with {create}, or let symstore create \
             it (create_bucket: true; Helm mode: create always does); check storage.buckets.symbols",
            self.endpoint
        )
    }

    fn access_denied(&self) -> String {
        let b = self.bucket;
        let mut hint = match self.provider {
            Provider::Gcs => format!(
                "The HMAC key's service account needs storage.objects.create, .delete, .get, \
                 .list and storage.buckets.get on bucket `{b}` (e.g. Storage Object Admin)"
            ),
            _ => format!(
                "The credentials need s3:GetObject, s3:PutObject, s3:DeleteObject, \
                 s3:ListBucket and s3:GetBucketLocation on arn:aws:s3:::{b} and \
                 arn:aws:s3:::{b}/*"
            ),
        };
        if let CredentialMode::DefaultChain { service_account } = self.credential_mode {
            let sa = service_account.as_deref().unwrap_or("<not set>");
            hint.push_str(&format!(
                ". With useIAM: \"aws\" check: the IAM role has that S3 policy attached; for \
                 IRSA the role's trust policy names the exact namespace and service account \
                 (storage.use_existing.s3.serviceAccount is `{sa}`); the service account has \
                 the eks.amazonaws.com/role-arn annotation; the bucket in the policy's resource \
                 ARN equals storage.buckets.symbols (`{b}`)"
            ));
        }
        hint
    }

    fn unauthenticated(&self, code: &str) -> String {
        let key = match self.credential_mode {
            CredentialMode::Static { access_key } => format!("`{access_key}`"),
            CredentialMode::DefaultChain { .. } => "from the AWS credential chain".to_owned(),
        };
        match code {
            "SignatureDoesNotMatch" => format!(
                "The secret key does not match access key {key}: check the secret key \
                 (MinIO: password, S3/GCS: secretKey)"
            ),
            "InvalidAccessKeyId" => format!(
                "{} does not know access key {key}: check the access key (MinIO: user, \
                 S3/GCS: accessKey) and that it is active",
                self.endpoint
            ),
            "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => {
                "The session credentials expired or are invalid: check the credential source \
                 (IRSA token, instance profile)"
                    .to_owned()
            }
            _ => format!("The server refused the credentials ({code}): check access key {key}"),
        }
    }

    fn timeout(&self) -> String {
        format!(
            "{} did not answer within {:?}: check network connectivity and firewall rules, and \
             that the endpoint is the S3 API port",
            self.endpoint, self.read_timeout
        )
    }

    fn connect(&self) -> String {
        format!(
            "Cannot reach {}: check the URL and port, DNS, network connectivity and firewall \
             rules",
            self.endpoint
        )
    }

    fn tls(&self) -> String {
        format!(
            "The TLS handshake with {} failed: check the server's certificate (host name, \
             expiry); for a private CA set connection.ca_file to its PEM file; an http:// \
             server cannot be reached with https://",
            self.endpoint
        )
    }
}

/// Maps one SDK error; `context` names the operation, key and bucket.
pub(crate) fn map_sdk_error<E>(
    err: SdkError<E, HttpResponse>,
    context: Context,
    facts: &HintFacts<'_>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // Credentials that could not be loaded (IRSA, instance profile): the provider's hint.
    if let Some(hint) = crate::credentials::failure_hint(&err) {
        return Error::Credentials {
            context,
            hint,
            source: Some(Box::new(err)),
        };
    }
    let chain = format!("{}", DisplayErrorContext(&err));
    let lowered = chain.to_ascii_lowercase();
    match &err {
        SdkError::TimeoutError(_) => Error::Timeout {
            context,
            hint: facts.timeout(),
        },
        SdkError::DispatchFailure(failure) => {
            if looks_like_tls(&lowered) {
                Error::Tls {
                    context,
                    hint: facts.tls(),
                    source: Some(Box::new(err)),
                }
            } else if failure.is_timeout() {
                Error::Timeout {
                    context,
                    hint: facts.timeout(),
                }
            } else if looks_like_credentials(&lowered) {
                credentials_error(context, &chain, err)
            } else if looks_like_no_connection(&lowered) {
                Error::Connect {
                    context,
                    hint: facts.connect(),
                    source: Some(Box::new(err)),
                }
            } else {
                // Connected, then the exchange broke (reset, closed mid-message).
                Error::Backend {
                    context,
                    message: format!("the connection broke during the request: {chain}"),
                    retryable: true,
                    source: Some(Box::new(err)),
                }
            }
        }
        SdkError::ConstructionFailure(_) if looks_like_credentials(&lowered) => {
            credentials_error(context, &chain, err)
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or_default().to_owned();
            let message = err.message().unwrap_or_default().to_owned();
            map_service_error(status, &code, &message, context, facts, err)
        }
        _ => Error::Backend {
            context,
            message: chain,
            retryable: matches!(err, SdkError::ResponseError(_)),
            source: Some(Box::new(err)),
        },
    }
}

fn map_service_error<E>(
    status: u16,
    code: &str,
    message: &str,
    context: Context,
    facts: &HintFacts<'_>,
    err: SdkError<E, HttpResponse>,
) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    match (code, status) {
        ("NoSuchBucket", _) => Error::BucketNotFound {
            context,
            hint: facts.bucket_not_found(),
        },
        ("NoSuchKey" | "NotFound" | "NoSuchUpload", _) | (_, 404) => Error::NotFound { context },
        (
            "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "InvalidSecurity",
            _,
        ) => Error::Unauthenticated {
            context,
            hint: facts.unauthenticated(code),
        },
        (_, 401) => Error::Unauthenticated {
            context,
            hint: facts.unauthenticated(if code.is_empty() { "401" } else { code }),
        },
        ("AccessDenied" | "AllAccessDisabled", _) | (_, 403) => Error::AccessDenied {
            context,
            hint: facts.access_denied(),
        },
        (_, 304) => Error::NotModified { context },
        (_, 412) | ("PreconditionFailed", _) => Error::Precondition {
            context,
            message: non_empty_or(message, "the entity tag does not match"),
        },
        (_, 416) | ("InvalidRange", _) => Error::RangeNotSatisfiable {
            context,
            message: non_empty_or(message, "the range lies outside the object"),
        },
        ("BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch", _) => Error::Backend {
            context,
            message: format!(
                "{code}: the server computed another checksum than the one sent (data \
                 corrupted in transit); not retried"
            ),
            retryable: false,
            source: Some(Box::new(err)),
        },
        (_, 409) if code == "ConditionalRequestConflict" => Error::Precondition {
            context,
            message: "a concurrent conditional write won".into(),
        },
        _ => Error::Backend {
            context,
            message: format!("HTTP {status} {code}: {message}"),
            retryable: status >= 500
                || status == 429
                || matches!(code, "SlowDown" | "RequestTimeout" | "InternalError"),
            source: Some(Box::new(err)),
        },
    }
}

fn credentials_error<E>(context: Context, chain: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::Credentials {
        context,
        hint: format!("No usable credentials: {chain}"),
        source: Some(Box::new(err)),
    }
}

fn looks_like_tls(lowered: &str) -> bool {
    [
        "certificate",
        "tls",
        "handshake",
        "invalidcontenttype",
        "corrupt message",
    ]
    .iter()
    .any(|needle| lowered.contains(needle))
}

/// No connection was made at all: refused, unreachable, or the name did not resolve.
fn looks_like_no_connection(lowered: &str) -> bool {
    [
        "client error (connect)",
        "connection refused",
        "dns error",
        "failed to lookup address",
        "network is unreachable",
        "no route to host",
    ]
    .iter()
    .any(|needle| lowered.contains(needle))
}

fn looks_like_credentials(lowered: &str) -> bool {
    ["credentials", "identity", "provide_credentials"]
        .iter()
        .any(|needle| lowered.contains(needle))
}

fn non_empty_or(message: &str, default: &str) -> String {
    if message.is_empty() {
        default.to_owned()
    } else {
        message.to_owned()
    }
}
