//! The platform's topic rule (terraform/modules/event, COOKING_REQUESTED, its golden SQL in
//! tests/rule-sql/) evaluated on a typical device message of about 500 bytes.

use criterion::{Criterion, criterion_group, criterion_main};
use postoffice_iot_sql::{Message, Statement};
use std::hint::black_box;

const RULE_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../terraform/modules/event/tests/rule-sql/COOKING_REQUESTED.sql"
));

fn device_message() -> Vec<u8> {
    let message = serde_json::json!({
        "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "occurred_at": "2026-11-23T20:00:00.000Z",
        "correlation_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "schema_version": 1,
        "payload": {
            "recipe_id": "sourdough-country-loaf",
            "program": "bake",
            "temperature_c": 230,
            "duration_s": 2700,
            "steam": true,
            "preheat": {"target_c": 250, "hold_s": 600},
            "stages": [
                {"name": "steam", "temperature_c": 250, "duration_s": 900},
                {"name": "dry", "temperature_c": 230, "duration_s": 1500},
                {"name": "crisp", "temperature_c": 210, "duration_s": 300}
            ],
            "notes": "score before loading"
        }
    });
    message.to_string().into_bytes()
}

fn rule_sql(c: &mut Criterion) {
    let statement = Statement::parse(RULE_SQL).expect("the platform's rule SQL parses");
    let payload = device_message();
    assert!(
        (450..=550).contains(&payload.len()),
        "{} bytes",
        payload.len()
    );
    let message = Message {
        topic: "COOKING_REQUESTED/h-1/oven-1",
        payload: &payload,
        client_id: Some("oven-1"),
        timestamp_ms: 1_795_464_000_012,
        trace_id: Some("4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4"),
        principal: Some("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"),
    };
    assert!(
        statement.evaluate(&message).unwrap().is_some(),
        "the message is readable: the rule takes it"
    );
    c.bench_function(
        "evaluate COOKING_REQUESTED rule on a 500-byte message",
        |b| b.iter(|| statement.evaluate(black_box(&message)).unwrap()),
    );
    c.bench_function("parse COOKING_REQUESTED rule", |b| {
        b.iter(|| Statement::parse(black_box(RULE_SQL)).unwrap())
    });
}

criterion_group!(benches, rule_sql);
criterion_main!(benches);
