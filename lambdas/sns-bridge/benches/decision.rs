//! Request → decision with the signing certificate already cached, and signature verification
//! alone on the real SNS vectors (the messages `benches/peers` gives the other validators).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use postoffice::sns::{FixedClock, MessageType, SnsMessage, StaticCertificateFetcher, Verifier};
use support::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn request_to_decision(c: &mut Criterion) {
    let runtime = runtime();
    let bridge = bridge(
        &config(TOPIC_ARN, Duration::from_secs(10)),
        Utc::now(),
        RecordingFetcher::serving_test_certificate(),
        FakeInvoker::handled().not_recording(),
        FakeConfirmer::default(),
    );
    let message = signed(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope().to_json(),
        Utc::now(),
    );
    let body = Bytes::from(message.to_http_json());
    let request = || {
        http::Request::post("/")
            .header("x-amz-sns-message-type", "Notification")
            .header("x-amz-sns-topic-arn", TOPIC_ARN)
            .body(body.clone())
            .unwrap()
    };
    // Caches the certificate; every measured request then finds it.
    let first = runtime.block_on(bridge.decide(request()));
    assert_eq!(first.decision.reason(), "handled");

    c.bench_function("request_to_decision/notification_sv2_cached_key", |b| {
        b.to_async(&runtime).iter(|| bridge.decide(request()))
    });
}

fn vectors() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors");
    let mut vectors: Vec<_> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
                std::fs::read(path.with_extension("pem")).unwrap(),
            )
        })
        .collect();
    vectors.sort();
    vectors
}

/// Parse + verify from the raw body, as the peers do (cert served from memory, cached).
fn verify_vectors(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("verify_vector");
    for (name, body, pem) in vectors() {
        let url = SnsMessage::parse(&body).unwrap().signing_cert_url;
        let verifier = Verifier::new(
            StaticCertificateFetcher::new().with_certificate(&url, pem),
            FixedClock("2022-07-28T21:30:00Z".parse().unwrap()),
        );
        let verify = || async {
            let message = SnsMessage::parse(&body).unwrap();
            verifier.verify(&message).await
        };
        runtime.block_on(verify()).expect("vector verifies");
        group.bench_function(&name, |b| b.to_async(&runtime).iter(verify));
    }
    group.finish();
}

criterion_group!(benches, request_to_decision, verify_vectors);
criterion_main!(benches);
