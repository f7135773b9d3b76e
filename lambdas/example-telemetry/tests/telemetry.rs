//! The telemetry consumer with a recording publisher and a temporary handled-event log.

use std::sync::Arc;

use example_telemetry::{HandledLog, Telemetry};
use postoffice::handler::testing::RecordingPublisher;
use postoffice::handler::{Consumer, ErrorKind, InMemoryIdempotencyStore};
use postoffice::invocation::HandlerInvocation;
use serde_json::{Value, json};

const TELEMETRY_REPORTED: &[u8] = include_bytes!("fixtures/device_telemetry_reported.json");
const COOKING_FINISHED: &[u8] = include_bytes!("fixtures/cooking_finished.json");

fn consumer(log: Option<HandledLog>) -> Consumer<Telemetry> {
    Consumer::new(
        Telemetry::new(log),
        Arc::new(RecordingPublisher::default()),
        "arn:aws:sns:eu-west-1:123456789012:postoffice-",
    )
}

fn fixture(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn with_new_event_id(mut invocation: Value) -> Value {
    invocation["envelope"]["event_id"] = json!("9d3f5b7d-6e8c-4d0f-a2b4-3c4d5e6f7081");
    invocation
}

#[test]
fn fixtures_round_trip() {
    for bytes in [TELEMETRY_REPORTED, COOKING_FINISHED] {
        let parsed: HandlerInvocation = serde_json::from_slice(bytes).unwrap();
        let json = serde_json::to_value(&parsed).unwrap();
        assert_eq!(json, fixture(bytes));
        assert_eq!(
            serde_json::from_value::<HandlerInvocation>(json).unwrap(),
            parsed
        );
    }
}

#[tokio::test]
async fn keeps_per_device_statistics() {
    let consumer = consumer(None);
    consumer
        .handle_invocation(fixture(TELEMETRY_REPORTED))
        .await
        .unwrap();
    let mut second = with_new_event_id(fixture(TELEMETRY_REPORTED));
    second["envelope"]["payload"]["power_w"] = json!(1200);
    second["envelope"]["payload"]["cavity_temperature_c"] = json!(180.5);
    second["envelope"]["payload"]["door_open"] = json!(false);
    consumer.handle_invocation(second).await.unwrap();
    let handled = consumer
        .handle_invocation(fixture(COOKING_FINISHED))
        .await
        .unwrap();
    assert!(handled.published.is_empty());

    let stats = consumer.handler().stats("h-42", "oven-7").unwrap();
    assert_eq!(stats.reports, 2);
    assert_eq!(stats.last_cavity_temperature_c, Some(180.5));
    assert_eq!(stats.peak_power_w, 2150.0);
    assert_eq!(stats.reports_with_door_open, 1);
    assert_eq!(stats.firmware_version.as_deref(), Some("4.2.1"));
    assert_eq!(stats.sessions_completed, 1);
    assert_eq!(stats.cooked_s, 2700);
    assert_eq!(stats.energy_wh, 1630.0);
    assert_eq!(consumer.handler().stats("h-42", "oven-8"), None);
}

#[tokio::test]
async fn writes_one_line_per_handled_event_and_none_for_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handled.jsonl");
    let consumer = consumer(Some(HandledLog::new(&path)))
        .with_idempotency(Arc::new(InMemoryIdempotencyStore::default()));

    consumer
        .handle_invocation(fixture(TELEMETRY_REPORTED))
        .await
        .unwrap();
    let duplicate = consumer
        .handle_invocation(fixture(TELEMETRY_REPORTED))
        .await
        .unwrap();
    assert!(duplicate.duplicate);
    consumer
        .handle_invocation(fixture(COOKING_FINISHED))
        .await
        .unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        json!({
            "event": "DEVICE_TELEMETRY_REPORTED",
            "event_id": "8c2e4f6a-5d7b-4c9e-9f1a-2b3c4d5e6f70",
            "household_id": "h-42",
            "device_id": "oven-7",
            "redriven": false
        })
    );
    assert_eq!(lines[1]["event"], "COOKING_FINISHED");
    assert_eq!(
        consumer.handler().stats("h-42", "oven-7").unwrap().reports,
        1
    );
}

#[tokio::test]
async fn an_unwritable_log_is_retryable_and_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let consumer = consumer(Some(HandledLog::new(
        dir.path().join("missing/handled.jsonl"),
    )));
    let error = consumer
        .handle_invocation(fixture(TELEMETRY_REPORTED))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(error.message().contains("handled.jsonl"), "{error}");
    assert_eq!(consumer.handler().stats("h-42", "oven-7"), None);
}

#[tokio::test]
async fn an_invalid_reading_is_permanent() {
    let consumer = consumer(None);
    let mut invocation = fixture(TELEMETRY_REPORTED);
    invocation["envelope"]["payload"]["power_w"] = json!(-5);
    let error = consumer.handle_invocation(invocation).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(error.message().contains("/power_w"), "{error}");
}
