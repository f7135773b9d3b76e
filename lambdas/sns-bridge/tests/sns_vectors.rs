//! Genuine SNS messages (../shared/sns-vectors) through the bridge: their signatures verify
//! when the topic is allowed, and the topic check refuses them when it is not.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postoffice::sns::{SnsMessage, StaticCertificateFetcher};
use support::*;

/// Inside the certificates' validity (2021-09-07 – 2022-08-17), minutes after the messages.
fn vector_time() -> DateTime<Utc> {
    "2022-07-28T21:30:00Z".parse().unwrap()
}

fn vectors() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors");
    let mut vectors: Vec<_> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(&path).unwrap();
            let pem = std::fs::read(path.with_extension("pem")).unwrap();
            (name, body, pem)
        })
        .collect();
    vectors.sort();
    assert_eq!(vectors.len(), 5, "all five vectors are present");
    vectors
}

/// Their topics are not Post Office topics (`publish-and-verify-<uuid>` names no event), so only
/// an account-wide prefix admits them.
fn account_prefix(body: &[u8]) -> String {
    let topic_arn = SnsMessage::parse(body).unwrap().topic_arn;
    format!("{}*", &topic_arn[..topic_arn.rfind(':').unwrap() + 1])
}

fn vector_bridge(
    allowed: &str,
    more: &[(&str, &str)],
    body: &[u8],
    pem: &[u8],
) -> (TestBridge, RecordingFetcher, FakeInvoker) {
    let message = SnsMessage::parse(body).unwrap();
    let fetcher = RecordingFetcher::serving(
        StaticCertificateFetcher::new().with_certificate(&message.signing_cert_url, pem.to_vec()),
    );
    let invoker = FakeInvoker::handled();
    let bridge = bridge(
        &config_with(allowed, Duration::from_secs(5), more),
        vector_time(),
        fetcher.clone(),
        invoker.clone(),
        FakeConfirmer::default(),
    );
    (bridge, fetcher, invoker)
}

const ACCEPT_V1: (&str, &str) = ("POSTOFFICE_MIN_SIGNATURE_VERSION", "1");

/// Their `Message` is "Hello world", not an envelope: a verified vector gets as far as the
/// envelope check (400 `message_not_envelope`, parked in the DLQ), past the topic and signature
/// checks (403) it would otherwise fail. Their certificates chain to Amazon Root CA 1.
#[tokio::test]
async fn vectors_verify_when_their_topic_is_allowed() {
    for (name, body, pem) in vectors() {
        let topic_arn = SnsMessage::parse(&body).unwrap().topic_arn;
        let (bridge, fetcher, invoker) =
            vector_bridge(&account_prefix(&body), &[ACCEPT_V1], &body, &pem);
        let report = bridge.decide(sns_post(&body)).await;
        assert_eq!(
            report.decision.reason(),
            "message_not_envelope",
            "{name}: {:?}",
            report.detail
        );
        assert_eq!(report.topic_arn.as_deref(), Some(topic_arn.as_str()));
        assert_eq!(fetcher.fetched().len(), 1, "{name}");
        assert!(invoker.calls().is_empty());
    }
}

/// Post Office topics sign with version 2; a version 1 (SHA-1) message is refused unless the
/// bridge is configured to accept it.
#[tokio::test]
async fn version_1_vectors_are_403_by_default() {
    for (name, body, pem) in vectors() {
        let (bridge, fetcher, _) = vector_bridge(&account_prefix(&body), &[], &body, &pem);
        let response = bridge.handle(sns_post(&body)).await;
        if name.ends_with("sha1") {
            assert_eq!(response.status(), 403, "{name}");
            assert_eq!(body_json(&response)["reason"], "signature_rejected");
            let report = bridge.decide(sns_post(&body)).await;
            assert_eq!(
                report.detail.as_deref(),
                Some("signature-version-below-minimum")
            );
            assert!(
                fetcher.fetched().is_empty(),
                "{name}: refused before any fetch"
            );
        } else {
            assert_eq!(response.status(), 400, "{name}");
            assert_eq!(body_json(&response)["reason"], "message_not_envelope");
        }
    }
}

#[tokio::test]
async fn vectors_are_403_when_their_topic_is_not_allowed() {
    for (name, body, pem) in vectors() {
        let (bridge, fetcher, _) = vector_bridge(
            "arn:aws:sns:us-east-2:295079676684:postoffice-SOME_OTHER_EVENT,arn:aws:sns:us-east-2:123456789012:*",
            &[ACCEPT_V1],
            &body,
            &pem,
        );
        let response = bridge.handle(sns_post(&body)).await;
        assert_eq!(response.status(), 403, "{name}");
        assert_eq!(body_json(&response)["reason"], "topic_not_allowed");
        assert!(fetcher.fetched().is_empty());
    }
}

#[tokio::test]
async fn tampered_vectors_are_403() {
    for (name, body, pem) in vectors() {
        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("Hello world", "Hello World");
        let (bridge, _, _) = vector_bridge(&account_prefix(&body), &[ACCEPT_V1], &body, &pem);
        let response = bridge.handle(sns_post(tampered.as_bytes())).await;
        assert_eq!(response.status(), 403, "{name}");
        assert_eq!(body_json(&response)["reason"], "signature_rejected");
    }
}

#[tokio::test]
async fn expired_certificates_are_403_at_todays_date() {
    let (name, body, pem) = vectors().remove(0);
    let fetcher = RecordingFetcher::serving(
        StaticCertificateFetcher::new()
            .with_certificate(&SnsMessage::parse(&body).unwrap().signing_cert_url, pem),
    );
    let bridge = bridge(
        &config(&account_prefix(&body), Duration::from_secs(5)),
        Utc::now(),
        fetcher,
        FakeInvoker::handled(),
        FakeConfirmer::default(),
    );
    let report = bridge.decide(sns_post(&body)).await;
    assert_eq!(report.decision.reason(), "signature_rejected", "{name}");
    assert_eq!(report.detail.as_deref(), Some("certificate-expired"));
}
