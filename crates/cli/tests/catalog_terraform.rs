//! `postoffice catalog check` also checks that the Terraform agrees with the catalog.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(terraform: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postoffice"));
    command
        .args(["catalog", "check", "--catalog"])
        .arg(repository().join("event-catalog"));
    if let Some(dir) = terraform {
        command.arg("--terraform").arg(dir);
    }
    command.output().unwrap()
}

#[test]
fn the_repository_terraform_is_checked_by_default_and_agrees() {
    let output = check(None);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("not checked"), "{err}");
}

#[test]
fn a_device_policy_beyond_the_catalog_fails_naming_the_event() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-terraform/device-policy");
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(repository().join("terraform/examples/complete")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let main = dir.join("main.tf");
    let text = fs::read_to_string(&main).unwrap();
    let edited = text.replace(
        r#""DEVICE_TELEMETRY_REPORTED"]"#,
        r#""DEVICE_TELEMETRY_REPORTED", "FIRMWARE_UPDATE_OFFERED"]"#,
    );
    assert_ne!(edited, text);
    fs::write(&main, edited).unwrap();

    let output = check(Some(&dir));
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "module.platform.device_events: the device policy allows event FIRMWARE_UPDATE_OFFERED"
        ),
        "{out}"
    );
}
