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

fn vector_bridge(
    allowed: &str,
    body: &[u8],
    pem: &[u8],
) -> (TestBridge, RecordingFetcher, FakeInvoker) {
    let message = SnsMessage::parse(body).unwrap();
    let fetcher = RecordingFetcher::serving(
        StaticCertificateFetcher::new().with_certificate(&message.signing_cert_url, pem.to_vec()),
    );
    let invoker = FakeInvoker::handled();
    let bridge = bridge(
        &config(allowed, Duration::from_secs(5)),
        vector_time(),
        fetcher.clone(),
        invoker.clone(),
        FakeConfirmer::default(),
    );
    (bridge, fetcher, invoker)
}

/// Their `Message` is "Hello world", not an envelope: a verified vector gets as far as the
/// envelope check (400 `message_not_envelope`, parked in the DLQ), past the topic and signature
/// checks (403) it would otherwise fail.
#[tokio::test]
async fn vectors_verify_when_their_topic_is_allowed() {
    for (name, body, pem) in vectors() {
        let topic_arn = SnsMessage::parse(&body).unwrap().topic_arn;
        let account_prefix = format!("{}*", &topic_arn[..topic_arn.rfind(':').unwrap() + 1]);
        for allowed in [topic_arn.clone(), account_prefix] {
            let (bridge, fetcher, invoker) = vector_bridge(&allowed, &body, &pem);
            let report = bridge.decide(post(body.clone())).await;
            assert_eq!(
                report.decision.reason(),
                "message_not_envelope",
                "{name} with {allowed}: {:?}",
                report.detail
            );
            assert_eq!(report.topic_arn.as_deref(), Some(topic_arn.as_str()));
            assert_eq!(fetcher.fetched().len(), 1, "{name}");
            assert!(invoker.calls().is_empty());
        }
    }
}

#[tokio::test]
async fn vectors_are_403_when_their_topic_is_not_allowed() {
    for (name, body, pem) in vectors() {
        let (bridge, fetcher, _) = vector_bridge(
            "arn:aws:sns:us-east-2:295079676684:some-other-topic,arn:aws:sns:us-east-2:123456789012:*",
            &body,
            &pem,
        );
        let response = bridge.handle(post(body)).await;
        assert_eq!(response.status(), 403, "{name}");
        assert_eq!(body_json(&response)["reason"], "topic_not_allowed");
        assert!(fetcher.fetched().is_empty());
    }
}

#[tokio::test]
async fn tampered_vectors_are_403() {
    for (name, body, pem) in vectors() {
        let topic_arn = SnsMessage::parse(&body).unwrap().topic_arn;
        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("Hello world", "Hello World");
        let (bridge, _, _) = vector_bridge(&topic_arn, &body, &pem);
        let response = bridge.handle(post(tampered)).await;
        assert_eq!(response.status(), 403, "{name}");
        assert_eq!(body_json(&response)["reason"], "signature_rejected");
    }
}

#[tokio::test]
async fn expired_certificates_are_403_at_todays_date() {
    let (name, body, pem) = vectors().remove(0);
    let topic_arn = SnsMessage::parse(&body).unwrap().topic_arn;
    let fetcher = RecordingFetcher::serving(
        StaticCertificateFetcher::new()
            .with_certificate(&SnsMessage::parse(&body).unwrap().signing_cert_url, pem),
    );
    let bridge = bridge(
        &config(&topic_arn, Duration::from_secs(5)),
        Utc::now(),
        fetcher,
        FakeInvoker::handled(),
        FakeConfirmer::default(),
    );
    let report = bridge.decide(post(body)).await;
    assert_eq!(report.decision.reason(), "signature_rejected", "{name}");
    assert_eq!(report.detail.as_deref(), Some("certificate-expired"));
}
