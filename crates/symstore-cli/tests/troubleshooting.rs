//! The README's Troubleshooting section is exactly what `symstore check --explain` prints,
//! so the guide and the tool cannot drift apart.

mod support;

#[test]
fn the_readme_ends_with_the_troubleshooting_guide_check_explain_prints() {
    let guide = support::explained();
    assert!(guide.starts_with("## Troubleshooting\n"), "{guide}");
    let readme = support::readme();
    assert!(
        readme.ends_with(&format!("\n{guide}")),
        "README.md's Troubleshooting section differs from `symstore check --explain`: \
         replace everything from `## Troubleshooting` to the end of README.md with the \
         output of `cargo run -q -p symstore-cli -- check --explain`"
    );
}

#[test]
fn the_guide_gives_every_known_failure_a_fix_and_an_exit_code() {
    let guide = support::explained();
    for needle in [
        "### Wrong secret key",
        "### Bucket not found (MinIO)",
        "### Bucket not found (AWS S3)",
        "### Bucket not found (GCS)",
        "### Connection timeout",
        "### TLS error",
        "### IMDS timeout",
        "(exit 3)",
        "(exit 4)",
        "(exit 5)",
        "| 2 | configuration or usage",
    ] {
        assert!(guide.contains(needle), "{needle} in:\n{guide}");
    }
    assert!(
        !guide.contains('<') || guide.matches('<').count() == guide.matches("<!--").count(),
        "no HTML-like placeholder that Markdown would swallow"
    );
}

#[test]
fn the_example_values_file_is_read_as_helm_values_for_minio() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/values-minio.yaml");
    let loaded = symstore::config::load_yaml_file(&path).unwrap();
    assert_eq!(loaded.form, symstore::config::ConfigForm::Helm);
    assert_eq!(loaded.config.backend_name(), "minio");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}
