//! `postoffice catalog check` also checks that the Terraform agrees with the catalog.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(catalog: &Path, terraform: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postoffice"));
    command.args(["catalog", "check", "--catalog"]).arg(catalog);
    if let Some(dir) = terraform {
        command.arg("--terraform").arg(dir);
    }
    command.output().unwrap()
}

#[test]
fn the_repository_terraform_is_checked_by_default_and_agrees() {
    let output = check(&repository().join("event-catalog"), None);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("not checked"), "{err}");
}

/// Copies `from`'s files ending in `extension` into `to`.
fn copy_files(from: &Path, to: &Path, extension: &str) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == extension) {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn a_device_policy_beyond_the_catalog_fails_naming_the_event() {
    // The repository's layout, so that the example's catalog module reads the copied catalog.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-terraform/device-policy");
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    let catalog = dir.join("event-catalog");
    let terraform = dir.join("terraform/examples/complete");
    copy_files(&repository().join("event-catalog"), &catalog, "yaml");
    copy_files(
        &repository().join("terraform/examples/complete"),
        &terraform,
        "tf",
    );
    let main = terraform.join("main.tf");
    let text = fs::read_to_string(&main).unwrap();
    let edited = text.replace(
        r#"module.catalog.actor_events["device"]"#,
        r#"concat(module.catalog.actor_events["device"], ["FIRMWARE_UPDATE_OFFERED"])"#,
    );
    assert_ne!(edited, text);
    fs::write(&main, edited).unwrap();

    let output = check(&catalog, Some(&terraform));
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "module.platform.device_events: the device policy allows event FIRMWARE_UPDATE_OFFERED"
        ),
        "{out}"
    );
}

#[test]
fn a_consumer_the_catalog_names_without_a_consumer_block_fails_naming_the_event() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-terraform/missing-consumer");
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    let catalog = dir.join("event-catalog");
    let terraform = dir.join("terraform/examples/complete");
    copy_files(&repository().join("event-catalog"), &catalog, "yaml");
    copy_files(
        &repository().join("terraform/examples/complete"),
        &terraform,
        "tf",
    );
    let finished = catalog.join("COOKING_FINISHED.yaml");
    let text = fs::read_to_string(&finished).unwrap();
    let edited = text.replace(
        "consumers: [kitchen, telemetry]",
        "consumers: [kitchen, telemetry, billing]",
    );
    assert_ne!(edited, text);
    fs::write(&finished, edited).unwrap();

    let output = check(&catalog, Some(&terraform));
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("the catalog lists billing as a consumer of event COOKING_FINISHED, but no consumer module block is named billing"),
        "{out}"
    );
}
