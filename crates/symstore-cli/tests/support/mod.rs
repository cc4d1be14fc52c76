//! Test support: the `symstore` binary as a process, configuration files for the S3 test
//! servers started by `scripts/test-servers.sh`, and misbehaving servers on 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::Command;

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `scripts/test.sh`, which starts the S3 \
             test servers on 127.0.0.1"
        )
    })
}

pub fn seaweedfs() -> String {
    env("SYMSTORE_SEAWEEDFS_ENDPOINT")
}

/// The admin identity: every action.
pub fn admin() -> (String, String) {
    (
        env("SYMSTORE_TEST_ACCESS_KEY"),
        env("SYMSTORE_TEST_SECRET_KEY"),
    )
}

/// The restricted identity: put, get and list, but not delete.
pub fn no_delete() -> (String, String) {
    (
        env("SYMSTORE_TEST_NODELETE_ACCESS_KEY"),
        env("SYMSTORE_TEST_NODELETE_SECRET_KEY"),
    )
}

/// A bucket name unique to this test process and `label`.
pub fn bucket(label: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
    });
    format!("cli-{label}-{run}")
}

/// A `type: minio` configuration (the config enum) with short timeouts.
pub fn minio_yaml(
    endpoint: &str,
    (access_key, secret_key): &(String, String),
    bucket: &str,
    create_bucket: bool,
) -> String {
    format!(
        "type: minio\n\
         endpoint: {endpoint}\n\
         access_key: {access_key}\n\
         secret_key: {secret_key}\n\
         bucket: {bucket}\n\
         create_bucket: {create_bucket}\n\
         connection: {{read_timeout: 2s, connect_timeout: 2s}}\n"
    )
}

/// A temporary directory holding configuration files and downloads.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name`; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `symstore` with `--config` set to a file holding `yaml`.
    pub fn symstore_with(&self, yaml: &str) -> Command {
        let config = self.write("config.yaml", yaml);
        let mut command = self.symstore();
        command.arg("--config").arg(config);
        command
    }

    /// `symstore` with no configuration: the default store lives in this directory.
    pub fn symstore(&self) -> Command {
        let mut command = assert_cmd::cargo::cargo_bin_cmd!("symstore");
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("SYMSTORE_ROOT", self.path("default-store"))
            .env_remove("SYMSTORE_CONFIG")
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(120));
        command
    }
}

/// Bytes that are not all alike, so a misplaced chunk shows.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// The line of `report` that starts with `fix:`, without the label.
pub fn fix_line(report: &str) -> String {
    report
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("fix:"))
        .unwrap_or_else(|| panic!("no fix in:\n{report}"))
        .trim()
        .to_owned()
}

/// The Troubleshooting guide `symstore check --explain` prints.
pub fn explained() -> String {
    let output = Workdir::new()
        .symstore()
        .args(["check", "--explain"])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

/// Asserts that the guide documents the fix printed for one installation, once its values
/// (`replacements`: value, placeholder) are replaced by the guide's placeholders.
pub fn assert_documented(fix: &str, replacements: &[(&str, &str)]) {
    let mut general = fix.to_owned();
    for (value, placeholder) in replacements {
        general = general.replace(value, placeholder);
    }
    let guide = explained();
    assert!(
        guide.contains(&format!("> {general}\n")),
        "the Troubleshooting guide lacks the fix check printed:\n{general}"
    );
}

/// A port on 127.0.0.1 that accepts connections and never answers; closed on drop.
pub struct SilentServer {
    pub endpoint: String,
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentServer {
    pub fn start() -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for socket in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(socket) = socket {
                    held.push(socket);
                }
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// `openssl s_server` with a self-signed certificate for `localhost`, made in a temporary
/// directory; killed on drop.
pub struct SelfSignedServer {
    pub endpoint: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SelfSignedServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = StdCommand::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
            .args(["-subj", "/CN=localhost", "-days", "1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl is installed");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = StdCommand::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        wait_for_port(port);
        Self {
            endpoint: format!("https://127.0.0.1:{port}"),
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

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// The README at the workspace root.
pub fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).unwrap()
}
