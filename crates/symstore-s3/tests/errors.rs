//! Every failure the S3 backend names, provoked for real on 127.0.0.1, with its variant and
//! the operator's fix.

mod support;

use std::time::Duration;

use support::{Server, bucket, closed_port, minio_config, silent_server};
use symstore_core::config::{MinioConfig, StoreConfig};
use symstore_core::{Error, ObjectKey, PutOptions, Secret, SymbolStore};
use symstore_s3::S3Store;

async fn open(config: MinioConfig) -> Result<S3Store, Error> {
    S3Store::open(&StoreConfig::Minio(config)).await
}

fn quick(mut config: MinioConfig) -> MinioConfig {
    config.connection.connect_timeout = Duration::from_secs(1);
    config.connection.read_timeout = Duration::from_secs(1);
    config.upload.max_attempts = 2;
    config
}

#[tokio::test]
async fn a_wrong_secret_is_unauthenticated_and_says_to_check_the_secret() {
    let mut config = minio_config(&Server::SeaweedFs.endpoint(), &bucket("wrong-secret"));
    config.secret_key = Secret::new("not-the-secret");
    match open(config).await {
        Err(Error::Unauthenticated { hint, .. }) => {
            assert!(hint.contains("secret key does not match"), "{hint}");
            assert!(
                hint.contains(&support::access_key()),
                "names the access key: {hint}"
            );
            assert!(!hint.contains("not-the-secret"), "never the secret: {hint}");
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_access_key_is_unauthenticated_and_says_to_check_the_key() {
    let mut config = minio_config(&Server::SeaweedFs.endpoint(), &bucket("unknown-key"));
    config.access_key = "nobody-has-this-key".into();
    match open(config).await {
        Err(Error::Unauthenticated { hint, .. }) => {
            assert!(
                hint.contains("does not know access key `nobody-has-this-key`"),
                "{hint}"
            )
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_permission_is_access_denied_and_lists_the_needed_actions() {
    let name = bucket("no-delete");
    // The admin creates the bucket and an object; the restricted identity may not delete.
    let admin = open(minio_config(&Server::SeaweedFs.endpoint(), &name))
        .await
        .unwrap();
    let key = ObjectKey::new("probe/object").unwrap();
    admin
        .put(&key, "x".into(), PutOptions::default())
        .await
        .unwrap();

    let mut config = minio_config(&Server::SeaweedFs.endpoint(), &name);
    config.access_key = support::env("SYMSTORE_TEST_NODELETE_ACCESS_KEY");
    config.secret_key = Secret::new(support::env("SYMSTORE_TEST_NODELETE_SECRET_KEY"));
    config.create_bucket = false;
    let restricted = open(config).await.unwrap();
    match restricted.delete(&key).await {
        Err(Error::AccessDenied { hint, context }) => {
            for action in [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
            ] {
                assert!(hint.contains(action), "{action} in {hint}");
            }
            assert!(hint.contains(&format!("arn:aws:s3:::{name}/*")), "{hint}");
            assert_eq!(context.operation, "delete");
            assert_eq!(context.key.as_deref(), Some("probe/object"));
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    assert!(
        symstore_core::SymbolStoreExt::exists(&admin, &key)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_missing_bucket_is_reported_with_its_name_and_how_to_create_it() {
    let name = bucket("missing");
    let mut config = minio_config(&Server::SeaweedFs.endpoint(), &name);
    config.create_bucket = false;
    match open(config).await {
        Err(Error::BucketNotFound { hint, context }) => {
            assert!(
                hint.contains(&format!("Bucket `{name}` does not exist")),
                "{hint}"
            );
            assert!(hint.contains(&format!("mc mb ALIAS/{name}")), "{hint}");
            assert!(hint.contains("create_bucket: true"), "{hint}");
            assert_eq!(context.bucket.as_deref(), Some(name.as_str()));
        }
        other => panic!("expected BucketNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_bucket_is_created_when_the_config_allows_it() {
    let name = bucket("auto-create");
    let store = open(minio_config(&Server::SeaweedFs.endpoint(), &name))
        .await
        .expect("the bucket is created");
    let key = ObjectKey::new("a").unwrap();
    store
        .put(&key, "in the new bucket".into(), PutOptions::default())
        .await
        .unwrap();
    // Opening again finds it.
    let mut again = minio_config(&Server::SeaweedFs.endpoint(), &name);
    again.create_bucket = false;
    open(again).await.expect("the created bucket exists");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_naming_the_endpoint() {
    let endpoint = closed_port();
    match open(quick(minio_config(&endpoint, &bucket("closed")))).await {
        Err(Error::Connect { hint, .. }) => {
            assert!(hint.contains(&format!("Cannot reach {endpoint}")), "{hint}");
            assert!(hint.contains("firewall"), "{hint}");
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_instead_of_hanging() {
    let (endpoint, _server) = silent_server().await;
    let opened = tokio::time::timeout(
        Duration::from_secs(60),
        open(quick(minio_config(&endpoint, &bucket("silent")))),
    )
    .await
    .expect("the open gives up by itself, well before the test's own limit");
    match opened {
        Err(Error::Timeout { hint, .. }) => {
            assert!(hint.contains("did not answer within 1s"), "{hint}");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
}

/// A TLS server (openssl's test server) whose certificate a private CA signed.
struct SelfSignedServer {
    endpoint: String,
    ca: std::path::PathBuf,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl SelfSignedServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl is installed");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // A private CA, and a server certificate for 127.0.0.1 that it signs.
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=symstore test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            endpoint: format!("https://127.0.0.1:{port}"),
            ca: dir.path().join("ca.pem"),
            child,
            _dir: dir,
        }
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_that_points_to_ca_file() {
    let server = SelfSignedServer::start();
    match open(quick(minio_config(&server.endpoint, &bucket("tls")))).await {
        Err(Error::Tls { hint, .. }) => {
            assert!(hint.contains("connection.ca_file"), "{hint}");
            assert!(hint.contains(&server.endpoint), "{hint}");
        }
        other => panic!("expected Tls, got {other:?}"),
    }
    // Trusting its certificate through `ca_file` gets past the handshake: whatever fails
    // next (openssl's toy server speaks no S3), it is no longer a TLS error.
    let mut trusting = quick(minio_config(&server.endpoint, &bucket("tls")));
    trusting.connection.ca_file = Some(server.ca.clone());
    match open(trusting).await {
        Err(e @ Error::Tls { .. }) => panic!("the configured CA was not used: {e:?}"),
        Ok(_) => panic!("openssl s_server is not an S3 server"),
        Err(_) => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_progressing_download_is_not_cut_off_by_the_read_timeout() {
    let name = bucket("slow");
    let direct = open(minio_config(&Server::SeaweedFs.endpoint(), &name))
        .await
        .unwrap();
    let key = ObjectKey::new("slow/object").unwrap();
    let body = symstore_core::conformance::test_bytes(1024 * 1024, 9);
    direct
        .put(&key, body.clone().into(), PutOptions::default())
        .await
        .unwrap();

    // 16 KiB every 100 ms: the whole body takes about 6 s, five times the read timeout.
    let slow = support::trickling_proxy(
        &Server::SeaweedFs.endpoint(),
        16 * 1024,
        Duration::from_millis(100),
    )
    .await;
    let mut config = quick(minio_config(&slow, &name));
    config.create_bucket = false;
    let store = open(config).await.unwrap();
    let started = std::time::Instant::now();
    let got =
        symstore_core::SymbolStoreExt::get_range(&store, &key, symstore_core::ByteRange::From(0))
            .await
            .expect("a progressing transfer completes");
    assert_eq!(got, body);
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the proxy really was slow ({:?}), so the read timeout of 1s was outlasted",
        started.elapsed()
    );
}
