//! `symstore check` against every failure it names, each provoked for real on 127.0.0.1:
//! the step that fails, its cause and fix, and the exit code. Each printed fix must be the
//! one the Troubleshooting guide documents.

mod support;

use std::time::{Duration, Instant};

use support::{
    SelfSignedServer, SilentServer, Workdir, admin, assert_documented, bucket, closed_port,
    fix_line, minio_yaml, no_delete, seaweedfs,
};

/// Runs `check` with `yaml`; returns (exit code, stdout).
fn check(yaml: &str) -> (i32, String) {
    let work = Workdir::new();
    let output = work.symstore_with(yaml).arg("check").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let code = output.status.code().expect("exited");
    (code, stdout)
}

/// Runs `check --json` with `yaml`; returns (exit code, the parsed report).
fn check_json(yaml: &str) -> (i32, serde_json::Value) {
    let work = Workdir::new();
    let output = work
        .symstore_with(yaml)
        .args(["check", "--json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (output.status.code().expect("exited"), report)
}

fn failed_step(stdout: &str) -> &str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("[FAIL] "))
        .map(|rest| rest.split("  ").next().unwrap().trim())
        .unwrap_or_else(|| panic!("no failed step in:\n{stdout}"))
}

#[test]
fn check_passes_creates_the_missing_bucket_when_allowed_and_leaves_no_probe() {
    let name = bucket("created");
    let yaml = minio_yaml(&seaweedfs(), &admin(), &name, true);
    let (code, stdout) = check(&yaml);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("created bucket {name}")),
        "{stdout}"
    );
    for step in [
        "credentials resolved",
        "endpoint reachable",
        "permission: put object",
        "permission: get object",
        "permission: list objects",
        "permission: delete object",
    ] {
        assert!(
            stdout.contains(&format!("[ok  ] {step}")),
            "{step}:\n{stdout}"
        );
    }
    assert!(stdout.contains("OK: every step passed"), "{stdout}");

    let (code, again) = check(&yaml);
    assert_eq!(code, 0, "{again}");
    assert!(again.contains(&format!("bucket {name} exists")), "{again}");

    let work = Workdir::new();
    let listing = work
        .symstore_with(&yaml)
        .args(["ls", ".symstore-check/"])
        .output()
        .unwrap();
    assert!(listing.status.success());
    assert!(listing.stdout.is_empty(), "the probe objects are removed");
}

#[test]
fn check_never_prints_the_secret_key() {
    let yaml = minio_yaml(&seaweedfs(), &admin(), &bucket("secret"), true);
    let (_, stdout) = check(&yaml);
    let (_, json) = check_json(&yaml);
    let secret = admin().1;
    assert!(!stdout.contains(&secret), "{stdout}");
    assert!(!json.to_string().contains(&secret), "{json}");
}

#[test]
fn a_wrong_secret_fails_the_bucket_step_as_unauthenticated_with_exit_3() {
    let (access_key, _) = admin();
    let wrong = (access_key.clone(), "not-the-secret-key".to_owned());
    let name = bucket("wrong-secret");
    let (code, stdout) = check(&minio_yaml(&seaweedfs(), &wrong, &name, true));
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(failed_step(&stdout), "bucket exists", "{stdout}");
    assert!(stdout.contains("cause: "), "{stdout}");
    assert!(stdout.contains("not authenticated"), "{stdout}");
    let fix = fix_line(&stdout);
    assert!(fix.contains("The secret key does not match"), "{fix}");
    assert!(!stdout.contains("not-the-secret-key"), "{stdout}");
    assert_documented(&fix, &[(&access_key, "ACCESS_KEY")]);
}

#[test]
fn a_missing_bucket_without_create_fails_with_exit_4_and_says_how_to_create_it() {
    let name = bucket("missing");
    let endpoint = seaweedfs();
    let (code, stdout) = check(&minio_yaml(&endpoint, &admin(), &name, false));
    assert_eq!(code, 4, "{stdout}");
    assert_eq!(failed_step(&stdout), "bucket exists", "{stdout}");
    let fix = fix_line(&stdout);
    assert!(fix.contains(&format!("mc mb ALIAS/{name}")), "{fix}");
    assert!(fix.contains("create_bucket: true"), "{fix}");
    assert!(stdout.contains("[skip] permission: put object"), "{stdout}");
    assert_documented(&fix, &[(&endpoint, "ENDPOINT"), (&name, "BUCKET")]);
}

#[test]
fn a_missing_bucket_in_json_names_the_failed_step_its_kind_and_exit_code() {
    let name = bucket("missing-json");
    let (code, report) = check_json(&minio_yaml(&seaweedfs(), &admin(), &name, false));
    assert_eq!(code, 4);
    assert_eq!(report["ok"], false);
    assert_eq!(report["exit_code"], 4);
    let failed = &report["failed_step"];
    assert_eq!(failed["name"], "bucket exists");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_kind"], "bucket_not_found");
    assert!(failed["fix"].as_str().unwrap().contains(&name), "{failed}");
    assert!(failed["duration_ms"].as_f64().unwrap() > 0.0, "{failed}");
    let steps = report["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["status"] == "skipped"), "{report}");
}

#[test]
fn a_passing_check_in_json_is_ok_with_exit_0() {
    let yaml = minio_yaml(&seaweedfs(), &admin(), &bucket("json-ok"), true);
    let (code, report) = check_json(&yaml);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    assert!(report["failed_step"].is_null());
    assert_eq!(report["steps"].as_array().unwrap().len(), 8, "{report}");
}

#[test]
fn a_closed_port_fails_the_endpoint_step_as_connect_with_exit_5() {
    let endpoint = closed_port();
    let (code, stdout) = check(&minio_yaml(&endpoint, &admin(), &bucket("closed"), true));
    assert_eq!(code, 5, "{stdout}");
    assert_eq!(failed_step(&stdout), "endpoint reachable", "{stdout}");
    assert!(stdout.contains("cannot connect"), "{stdout}");
    let fix = fix_line(&stdout);
    assert!(fix.contains(&format!("Cannot reach {endpoint}")), "{fix}");
    assert_documented(&fix, &[(&endpoint, "ENDPOINT")]);
}

#[test]
fn a_server_that_never_answers_times_out_after_the_read_timeout_with_exit_5() {
    let server = SilentServer::start();
    let started = Instant::now();
    let (code, stdout) = check(&minio_yaml(
        &server.endpoint,
        &admin(),
        &bucket("silent"),
        true,
    ));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "check gives up by itself"
    );
    assert_eq!(code, 5, "{stdout}");
    assert_eq!(failed_step(&stdout), "endpoint reachable", "{stdout}");
    assert!(stdout.contains("timed out"), "{stdout}");
    let fix = fix_line(&stdout);
    assert!(fix.contains("did not answer within 2s"), "{fix}");
    assert!(fix.contains("firewall"), "{fix}");
    assert_documented(
        &fix,
        &[
            (&server.endpoint, "ENDPOINT"),
            ("within 2s", "within READ_TIMEOUT"),
        ],
    );
}

#[test]
fn a_self_signed_certificate_fails_the_endpoint_step_as_tls_with_exit_5() {
    let server = SelfSignedServer::start();
    let (code, stdout) = check(&minio_yaml(
        &server.endpoint,
        &admin(),
        &bucket("tls"),
        true,
    ));
    assert_eq!(code, 5, "{stdout}");
    assert_eq!(failed_step(&stdout), "endpoint reachable", "{stdout}");
    assert!(stdout.contains("TLS error"), "{stdout}");
    let fix = fix_line(&stdout);
    assert!(fix.contains("connection.ca_file"), "{fix}");
    assert_documented(&fix, &[(&server.endpoint, "ENDPOINT")]);
}

#[test]
fn an_identity_without_delete_fails_the_delete_step_naming_s3_delete_object_with_exit_3() {
    let name = bucket("no-delete");
    let endpoint = seaweedfs();
    let (code, created) = check(&minio_yaml(&endpoint, &admin(), &name, true));
    assert_eq!(code, 0, "the admin creates the bucket:\n{created}");

    let (code, stdout) = check(&minio_yaml(&endpoint, &no_delete(), &name, false));
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(
        failed_step(&stdout),
        "permission: delete object",
        "{stdout}"
    );
    for step in [
        "permission: put object",
        "permission: get object",
        "permission: list objects",
    ] {
        assert!(
            stdout.contains(&format!("[ok  ] {step}")),
            "{step}:\n{stdout}"
        );
    }
    let cause = stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("cause:"))
        .unwrap();
    assert!(
        cause.contains("access denied: this step needs s3:DeleteObject"),
        "{cause}"
    );
    let fix = fix_line(&stdout);
    assert!(fix.contains("s3:DeleteObject"), "{fix}");
    assert_documented(&fix, &[(&name, "BUCKET")]);

    // The admin removes the probe the restricted identity could not.
    let work = Workdir::new();
    let admin_yaml = minio_yaml(&endpoint, &admin(), &name, false);
    let left = work
        .symstore_with(&admin_yaml)
        .args(["ls", ".symstore-check/"])
        .output()
        .unwrap();
    let left = String::from_utf8(left.stdout).unwrap();
    let keys: Vec<&str> = left.lines().collect();
    assert_eq!(keys.len(), 1, "{left}");
    work.symstore_with(&admin_yaml)
        .arg("rm")
        .args(&keys)
        .assert()
        .success();
}

#[test]
fn an_invalid_configuration_fails_the_first_step_with_its_yaml_path_and_exit_2() {
    let yaml = "type: minio\nendpoint: minio:9000\naccess_key: a\nsecret_key: b\nbucket: c\n";
    let (code, stdout) = check(yaml);
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(failed_step(&stdout), "configuration", "{stdout}");
    assert!(
        stdout.contains("endpoint: must be a URL with http:// or https://"),
        "{stdout}"
    );
    let (code, report) = check_json(yaml);
    assert_eq!(code, 2);
    assert_eq!(report["failed_step"]["error_kind"], "config");
    assert_documented(&fix_line(&stdout), &[]);
}

#[test]
fn helm_values_are_detected_and_checked() {
    let name = bucket("helm");
    let endpoint = seaweedfs();
    let (access_key, secret_key) = admin();
    let (code, created) = check(&minio_yaml(&endpoint, &admin(), &name, true));
    assert_eq!(code, 0, "{created}");
    let values = format!(
        "storage:\n  mode: use_existing\n  use_existing:\n    type: minio\n    minio:\n      \
         endpoint: {endpoint}\n      user: {access_key}\n      password: {secret_key}\n  \
         buckets:\n    symbols: {name}\npostgres:\n  mode: create\n"
    );
    let (code, stdout) = check(&values);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("bucket {name} exists")),
        "{stdout}"
    );
}

#[test]
fn the_default_filesystem_store_passes_the_check() {
    let work = Workdir::new();
    work.symstore()
        .arg("check")
        .assert()
        .success()
        .stdout(predicates::str::contains("backend filesystem"))
        .stdout(predicates::str::contains("OK: every step passed"));
}
