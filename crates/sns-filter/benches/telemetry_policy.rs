//! The platform's own filter policy (terraform/examples/complete/consumers.tf, telemetry's
//! COOKING_FINISHED subscription) matched against a COOKING_FINISHED envelope of about 500
//! bytes: what the local post office does for every such message.

use criterion::{Criterion, criterion_group, criterion_main};
use postoffice_sns_filter::{FilterPolicy, Message, Scope};
use std::hint::black_box;

const TELEMETRY_POLICY: &str = r#"{"payload":{"outcome":[{"anything-but":"completed"}]}}"#;

fn envelope(outcome: &str) -> String {
    serde_json::json!({
        "event": "COOKING_FINISHED",
        "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "household_id": "h-1",
        "device_id": "oven-1",
        "occurred_at": "2026-11-23T18:21:44.000Z",
        "received_at": "2026-11-23T18:21:44.012Z",
        "source": "oven-1",
        "correlation_id": "0b7e2d8c-45f1-4c53-9d0e-0e0c5a1b9f21",
        "causation_id": "8f14e45f-ceea-467f-a0e6-2b6d2f6c1a3e",
        "schema_version": 1,
        "payload": {
            "outcome": outcome,
            "finished_at": "2026-11-23T18:21:44Z",
            "cooked_s": 1184,
            "final_temperature_c": 212.5,
            "energy_wh": 845,
            "error_code": "E21"
        }
    })
    .to_string()
}

fn telemetry_policy(c: &mut Criterion) {
    let policy = FilterPolicy::parse(TELEMETRY_POLICY, Scope::MessageBody)
        .expect("the platform's policy parses");
    let failed = envelope("failed");
    let completed = envelope("completed");
    assert!(
        (450..=550).contains(&failed.len()),
        "{} bytes",
        failed.len()
    );
    assert!(policy.matches(&Message::body(&failed)));
    assert!(!policy.matches(&Message::body(&completed)));

    c.bench_function("telemetry policy, 500-byte envelope, delivered", |b| {
        b.iter(|| policy.matches(black_box(&Message::body(&failed))))
    });
    c.bench_function("telemetry policy, 500-byte envelope, filtered out", |b| {
        b.iter(|| policy.matches(black_box(&Message::body(&completed))))
    });
    c.bench_function("telemetry policy, parse", |b| {
        b.iter(|| FilterPolicy::parse(black_box(TELEMETRY_POLICY), Scope::MessageBody))
    });
}

criterion_group!(benches, telemetry_policy);
criterion_main!(benches);
