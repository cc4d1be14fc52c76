//! `put`, `get`, `ls`, `stat`, `rm` and `gc` as processes, on SeaweedFS (127.0.0.1) and on
//! the default filesystem store.

mod support;

use predicates::prelude::*;
use support::{Workdir, admin, bucket, minio_yaml, pattern, seaweedfs};

fn s3_yaml(label: &str) -> String {
    minio_yaml(&seaweedfs(), &admin(), &bucket(label), true)
}

#[test]
fn put_get_ls_stat_rm_round_trip_is_byte_exact() {
    let work = Workdir::new();
    let yaml = s3_yaml("round-trip");
    let body = pattern(300_000);
    let source = work.write("libfoo.so.debug", &body);
    let key = "buildid/4f1c2d3e/debuginfo";

    work.symstore_with(&yaml)
        .arg("put")
        .arg(&source)
        .arg(key)
        .assert()
        .success()
        .stderr("");

    let target = work.path("downloaded");
    work.symstore_with(&yaml)
        .args(["get", key])
        .arg(&target)
        .assert()
        .success()
        .stderr("");
    assert_eq!(std::fs::read(&target).unwrap(), body);

    work.symstore_with(&yaml)
        .args(["ls", "buildid/"])
        .assert()
        .success()
        .stdout(format!("{key}\n"));
    work.symstore_with(&yaml)
        .args(["ls", "-l"])
        .assert()
        .success()
        .stdout(predicate::str::contains("300000").and(predicate::str::contains(key)));

    let listed = work
        .symstore_with(&yaml)
        .args(["ls", "--json"])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["key"], key);
    assert_eq!(listed[0]["size"], 300_000);

    let stat = work
        .symstore_with(&yaml)
        .args(["stat", key, "--json"])
        .output()
        .unwrap();
    assert!(stat.status.success());
    let stat: serde_json::Value = serde_json::from_slice(&stat.stdout).unwrap();
    assert_eq!(stat["size"], 300_000);
    assert!(stat["last_modified"].is_string(), "{stat}");
    work.symstore_with(&yaml)
        .args(["stat", key])
        .assert()
        .success()
        .stdout(predicate::str::contains("size:          300000"));

    work.symstore_with(&yaml)
        .args(["rm", key])
        .assert()
        .success();
    work.symstore_with(&yaml)
        .args(["stat", key])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("object not found"));
    work.symstore_with(&yaml)
        .arg("ls")
        .assert()
        .success()
        .stdout("");
}

#[test]
fn stdin_put_and_stdout_get_stream_a_multipart_sized_artifact() {
    let work = Workdir::new();
    let yaml = s3_yaml("stdio");
    // Larger than the multipart threshold (16 MiB), of a size no part size divides.
    let body = pattern(20 * 1024 * 1024 + 3);
    work.symstore_with(&yaml)
        .args(["put", "-", "big/artifact"])
        .write_stdin(body.clone())
        .assert()
        .success()
        .stderr(predicate::str::is_empty().name("no progress bar off a terminal"));

    let output = work
        .symstore_with(&yaml)
        .args(["get", "big/artifact"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stderr.is_empty(), "no progress bar off a terminal");
    assert!(
        output.stdout == body,
        "stdout carries the object byte for byte"
    );

    let output = work
        .symstore_with(&yaml)
        .args(["get", "big/artifact", "-", "--range", "1000-1999"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stdout == body[1000..2000]);

    let output = work
        .symstore_with(&yaml)
        .args(["get", "big/artifact", "-", "--range=-10"])
        .output()
        .unwrap();
    assert!(output.stdout == body[body.len() - 10..]);
}

#[test]
fn the_default_store_is_the_filesystem_at_symstore_root() {
    let work = Workdir::new();
    let body = pattern(4096);
    work.symstore()
        .args(["put", "-", "ab/cdef/debuginfo"])
        .write_stdin(body.clone())
        .assert()
        .success();
    assert!(
        work.path("default-store").is_dir(),
        "the store lives at $SYMSTORE_ROOT"
    );
    let output = work
        .symstore()
        .args(["get", "ab/cdef/debuginfo"])
        .output()
        .unwrap();
    assert!(output.stdout == body);
    work.symstore()
        .arg("ls")
        .assert()
        .success()
        .stdout("ab/cdef/debuginfo\n");
}

#[test]
fn a_missing_object_exits_4_and_an_invalid_key_exits_2() {
    let work = Workdir::new();
    work.symstore()
        .args(["get", "no/such/key"])
        .assert()
        .code(4);
    work.symstore()
        .args(["stat", "../escape"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid object key"));
}

#[test]
fn a_failed_download_leaves_no_file_behind() {
    let work = Workdir::new();
    let target = work.path("never");
    work.symstore()
        .args(["get", "no/such/key"])
        .arg(&target)
        .assert()
        .code(4);
    let left: Vec<_> = std::fs::read_dir(work.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("never"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn gc_aborts_an_orphaned_pending_upload_older_than_the_limit() {
    let work = Workdir::new();
    let name = bucket("gc");
    let yaml = minio_yaml(&seaweedfs(), &admin(), &name, true);
    let config = symstore::config::load_yaml(&yaml).unwrap().config;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime
        .block_on(symstore::s3::S3Store::open(&config))
        .unwrap();
    // An upload a crashed uploader left: started, never completed nor aborted.
    let created = runtime
        .block_on(
            store
                .client()
                .create_multipart_upload()
                .bucket(&name)
                .key("orphans/libxul.so.debug")
                .send(),
        )
        .unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();
    let pending = || {
        runtime
            .block_on(store.list_pending_uploads("orphans/"))
            .unwrap()
    };
    assert_eq!(pending().len(), 1);

    work.symstore_with(&yaml)
        .args(["gc", "--prefix", "orphans/"])
        .assert()
        .success()
        .stderr(predicate::str::contains("aborted 0 pending upload(s)"));
    assert_eq!(
        pending().len(),
        1,
        "a fresh upload is younger than the default 24h"
    );

    work.symstore_with(&yaml)
        .args(["gc", "--older-than", "0s", "--prefix", "orphans/"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&upload_id))
        .stderr(predicate::str::contains("aborted 1 pending upload(s)"));
    assert!(pending().is_empty(), "the orphaned upload is gone");
}

#[test]
fn gc_on_the_filesystem_store_says_it_applies_to_s3_backends_only() {
    Workdir::new()
        .symstore()
        .args(["gc", "--older-than", "0s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "only the S3-protocol backends (minio, s3, gcs)",
        ));
}

#[test]
fn help_documents_the_exit_codes() {
    Workdir::new()
        .symstore()
        .arg("--help")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Exit codes:")
                .and(predicate::str::contains("3  authentication or permission"))
                .and(predicate::str::contains("5  connectivity")),
        );
}
