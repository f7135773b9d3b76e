//! `postoffice catalog check` on the repository's catalog and on broken copies of it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository_catalog() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../event-catalog")
}

/// A fresh copy of the repository's catalog, private to one test.
fn catalog_copy(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("catalog-check")
        .join(test);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(repository_catalog()).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// Replaces `from` (which must occur) with `to` in one catalog file.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} does not contain {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postoffice"))
        .args(["catalog", "check", "--catalog"])
        .arg(dir)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[track_caller]
fn assert_fails_with(output: &Output, expected: &[&str]) {
    let out = stdout(output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    for line in expected {
        assert!(out.contains(line), "expected {line:?} in:\n{out}");
    }
    assert!(
        !out.contains("\nok "),
        "no event is ok while there are problems:\n{out}"
    );
}

#[test]
fn the_repository_catalog_passes() {
    let output = check(&repository_catalog());
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 11, "{out}");
    assert!(lines.contains(
        &"ok COOKING_REQUESTED actor-to-backend producers=mobile,device consumers=kitchen"
    ));
    assert!(lines.contains(
        &"ok COOKING_FINISHED actor-to-backend producers=device consumers=kitchen,telemetry"
    ));
    assert!(lines.contains(
        &"ok FIRMWARE_UPDATE_OFFERED backend-to-actor producers=firmware consumers=iot-forwarder"
    ));
    assert!(lines.contains(
        &"ok DEVICE_TELEMETRY_REPORTED actor-to-backend producers=device consumers=telemetry collection_max_wait_s=3600"
    ));
    assert!(lines.contains(
        &"ok EVENT_COLLECTION actor-to-backend producers=device consumers=collection-unpacker"
    ));
    assert!(lines.contains(
        &"ok DEVICE_PAIRING_REQUESTED actor-to-backend producers=mobile consumers=onboarding"
    ));
    assert!(lines.contains(
        &"ok DEVICE_PAIRING_REPLIED backend-to-actor producers=onboarding consumers=iot-forwarder"
    ));
    assert!(lines[10].ends_with(": 10 events, no problems"), "{out}");
}

#[test]
fn the_catalog_directory_defaults_to_event_catalog() {
    let output = Command::new(env!("CARGO_BIN_EXE_postoffice"))
        .args(["catalog", "check"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("catalog event-catalog: 10 events"));
}

#[test]
fn a_name_that_differs_from_the_file_name_fails() {
    let dir = catalog_copy("name-differs");
    fs::rename(
        dir.join("COOKING_STARTED.yaml"),
        dir.join("COOKING_BEGAN.yaml"),
    )
    .unwrap();
    assert_fails_with(
        &check(&dir),
        &[
            "error COOKING_BEGAN.yaml: name: \"COOKING_STARTED\" must equal the file name (\"COOKING_BEGAN\")",
            ": 1 problem(s)",
        ],
    );
}

#[test]
fn an_unknown_direction_fails() {
    let dir = catalog_copy("unknown-direction");
    edit(
        &dir,
        "COOKING_REPLIED.yaml",
        "direction: backend-to-actor",
        "direction: backend-to-fridge",
    );
    assert_fails_with(
        &check(&dir),
        &["error COOKING_REPLIED.yaml: direction: unknown direction \"backend-to-fridge\""],
    );
}

#[test]
fn a_schema_that_does_not_compile_fails() {
    let dir = catalog_copy("schema-does-not-compile");
    edit(
        &dir,
        "COOKING_REQUESTED.yaml",
        "minimum: 30",
        "minimum: thirty",
    );
    assert_fails_with(
        &check(&dir),
        &[
            "error COOKING_REQUESTED.yaml: schema: is not a valid JSON Schema (2020-12) at /properties/temperature_c/minimum",
        ],
    );
}

#[test]
fn an_example_that_fails_its_schema_fails() {
    let dir = catalog_copy("example-fails");
    edit(
        &dir,
        "COOKING_FINISHED.yaml",
        "cooked_s: 2700",
        "cooked_s: -5",
    );
    assert_fails_with(
        &check(&dir),
        &[
            "error COOKING_FINISHED.yaml: examples[0]: does not match the schema: /cooked_s: -5 is less than the minimum of 0",
        ],
    );
}

#[test]
fn every_problem_of_every_file_is_printed() {
    let dir = catalog_copy("many-problems");
    edit(
        &dir,
        "DEVICE_TELEMETRY_REPORTED.yaml",
        "consumers: [telemetry]",
        "consumers: []",
    );
    edit(
        &dir,
        "FIRMWARE_UPDATE_OFFERED.yaml",
        "consumers: [iot-forwarder]",
        "consumers: [firmware-audit]",
    );
    edit(
        &dir,
        "FIRMWARE_UPDATE_OFFERED.yaml",
        "schema_version: 1",
        "schema_version: 1\nowner: firmware-team",
    );
    assert_fails_with(
        &check(&dir),
        &[
            "error DEVICE_TELEMETRY_REPORTED.yaml: consumers: must be a non-empty list",
            "error FIRMWARE_UPDATE_OFFERED.yaml: consumers: backend-to-actor events must be consumed by iot-forwarder",
            "error FIRMWARE_UPDATE_OFFERED.yaml: owner: unknown key",
            ": 3 problem(s)",
        ],
    );
}

#[test]
fn a_missing_catalog_directory_fails() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-catalog");
    let output = check(&dir);
    assert_fails_with(&output, &["cannot read the catalog directory"]);
    assert!(stdout(&output).contains(&dir.display().to_string()));
}
