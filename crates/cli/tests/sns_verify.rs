//! `postoffice sns verify` against the genuine SNS vectors in ../shared/sns-vectors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/sns-vectors")
        .join(name)
}

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postoffice"))
        .args(["sns", "verify"])
        .args(args)
        .output()
        .expect("postoffice runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

const IN_VALIDITY: &str = "2022-01-01T00:00:00Z";

#[test]
fn a_genuine_message_is_valid() {
    for (name, expected) in [
        (
            "php-2022-notification-sha1",
            "valid: Notification 792cda85-518f-5dd3-9163-81d851212f3a v1\n",
        ),
        (
            "php-2022-lambda-subjectnull-sha256",
            "valid: Notification 17dea24b-55c2-540b-8362-f916557af765 v2\n",
        ),
    ] {
        let message = vector(&format!("{name}.json"));
        let cert = vector(&format!("{name}.pem"));
        let output = verify(&[
            message.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--at",
            IN_VALIDITY,
        ]);
        assert_eq!(stdout(&output), expected, "{name}");
        assert_eq!(output.status.code(), Some(0), "{name}");
    }
}

fn tampered_copy(dir: &tempfile::TempDir, from: &str, to: &str) -> PathBuf {
    let original = std::fs::read_to_string(vector("php-2022-notification-sha256.json")).unwrap();
    assert!(original.contains(from));
    let path = dir.path().join("tampered.json");
    std::fs::write(&path, original.replace(from, to)).unwrap();
    path
}

#[test]
fn a_tampered_message_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let message = tampered_copy(&dir, "Hello world", "Hello world!");
    let cert = vector("php-2022-notification-sha256.pem");
    let output = verify(&[
        message.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--at",
        IN_VALIDITY,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("invalid: signature-mismatch"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn the_certificate_url_policy_applies_with_cert() {
    let dir = tempfile::tempdir().unwrap();
    let message = tampered_copy(
        &dir,
        "sns.us-east-2.amazonaws.com/Simple",
        "evil.example.com/Simple",
    );
    let cert = vector("php-2022-notification-sha256.pem");
    let output = verify(&[
        message.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--at",
        IN_VALIDITY,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("invalid: untrusted-certificate-url"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_expired_certificate_is_invalid_now() {
    let message = vector("php-2022-notification-sha256.json");
    let cert = vector("php-2022-notification-sha256.pem");
    let output = verify(&[message.to_str().unwrap(), "--cert", cert.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("invalid: certificate-expired"));
}

#[test]
fn unreadable_and_non_json_files_are_invalid() {
    let output = verify(&["/nonexistent/message.json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("invalid: unreadable-file"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("/nonexistent/message.json"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.json");
    std::fs::write(&path, "this is not json").unwrap();
    let output = verify(&[path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("invalid: malformed-message"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_missing_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let message = tampered_copy(&dir, "\"Timestamp\"", "\"Timestump\"");
    let output = verify(&[message.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("`Timestamp`"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_bad_time_is_a_usage_error() {
    let message = vector("php-2022-notification-sha256.json");
    let output = verify(&[message.to_str().unwrap(), "--at", "yesterday"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("RFC 3339"));
}
