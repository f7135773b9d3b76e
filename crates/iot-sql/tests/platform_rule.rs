//! The topic rule Terraform applies for COOKING_REQUESTED (terraform/modules/event/main.tf,
//! `rule_sql`): the envelope it makes of device messages (docs/contracts.md, Envelope).

use postoffice_iot_sql::{Message, Outgoing, Statement};
use serde_json::{Value, json};

const RULE_SQL: &str = include_str!("fixtures/cooking_requested_rule.sql");
const TOPIC: &str = "COOKING_REQUESTED/h-1/oven-1";
const TRACE_ID: &str = "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4";
/// 2026-11-23T20:00:00.012Z
const RECEIVED_MS: i64 = 1_795_464_000_012;
const RECEIVED_AT: &str = "2026-11-23T20:00:00.012Z";

fn rule() -> Statement {
    Statement::parse(RULE_SQL).expect("the platform's rule SQL parses")
}

fn over_mqtt(payload: &[u8]) -> Message<'_> {
    Message {
        topic: TOPIC,
        payload,
        client_id: Some("oven-1"),
        timestamp_ms: RECEIVED_MS,
        trace_id: Some(TRACE_ID),
        principal: Some("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"),
    }
}

fn envelope(payload: &Value) -> Value {
    let bytes = payload.to_string();
    rule()
        .evaluate(&over_mqtt(bytes.as_bytes()))
        .expect("evaluates")
        .expect("the rule has no WHERE clause")
}

#[test]
fn the_rule_listens_on_its_events_topics() {
    let rule = rule();
    assert_eq!(rule.topic_filter(), "COOKING_REQUESTED/+/+");
    assert!(rule.matches_topic(TOPIC));
    assert!(!rule.matches_topic("COOKING_FINISHED/h-1/oven-1"));
    assert!(!rule.matches_topic("COOKING_REQUESTED/h-1"));
}

#[test]
fn a_complete_device_message_keeps_its_fields() {
    let out = envelope(&json!({
        "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "occurred_at": "2026-11-23T19:59:58.000Z",
        "correlation_id": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
        "causation_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "schema_version": 2,
        "payload": {"recipe_id": "bread", "temperature_c": 230}
    }));
    assert_eq!(
        out,
        json!({
            "event": "COOKING_REQUESTED",
            "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
            "household_id": "h-1",
            "device_id": "oven-1",
            "occurred_at": "2026-11-23T19:59:58.000Z",
            "received_at": RECEIVED_AT,
            "source": "oven-1",
            "correlation_id": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
            "causation_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "schema_version": 2,
            "payload": {"recipe_id": "bread", "temperature_c": 230}
        })
    );
}

#[test]
fn a_minimal_device_message_gets_the_defaults() {
    let out = envelope(&json!({"payload": {"recipe_id": "bread"}}));
    // event_id and correlation_id: the MQTT message's trace id; occurred_at: received_at;
    // schema_version 1; causation_id left out (Undefined).
    assert_eq!(
        out,
        json!({
            "event": "COOKING_REQUESTED",
            "event_id": TRACE_ID,
            "household_id": "h-1",
            "device_id": "oven-1",
            "occurred_at": RECEIVED_AT,
            "received_at": RECEIVED_AT,
            "source": "oven-1",
            "correlation_id": TRACE_ID,
            "schema_version": 1,
            "payload": {"recipe_id": "bread"}
        })
    );
}

#[test]
fn each_missing_field_defaults_on_its_own() {
    let out = envelope(&json!({
        "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "payload": {}
    }));
    // correlation_id defaults to the device's event_id, not the trace id.
    assert_eq!(out["event_id"], "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11");
    assert_eq!(
        out["correlation_id"],
        "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11"
    );
    assert_eq!(out["occurred_at"], RECEIVED_AT);

    let out = envelope(
        &json!({"occurred_at": "2026-11-23T19:00:00.000Z", "schema_version": 3, "payload": {}}),
    );
    assert_eq!(out["event_id"], TRACE_ID);
    assert_eq!(out["correlation_id"], TRACE_ID);
    assert_eq!(out["occurred_at"], "2026-11-23T19:00:00.000Z");
    assert_eq!(out["schema_version"], 3);

    let out =
        envelope(&json!({"correlation_id": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "payload": {}}));
    assert_eq!(out["event_id"], TRACE_ID);
    assert_eq!(
        out["correlation_id"],
        "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
    );
}

#[test]
fn identity_fields_in_the_device_message_are_not_copied() {
    let out = envelope(&json!({
        "event": "SOMETHING_ELSE",
        "household_id": "someone-else",
        "device_id": "not-me",
        "source": "spoofed",
        "received_at": "1999-01-01T00:00:00.000Z",
        "extra": "dropped",
        "payload": {}
    }));
    assert_eq!(out["event"], "COOKING_REQUESTED");
    assert_eq!(out["household_id"], "h-1");
    assert_eq!(out["device_id"], "oven-1");
    assert_eq!(out["source"], "oven-1");
    assert_eq!(out["received_at"], RECEIVED_AT);
    assert!(out.get("extra").is_none());
}

/// What IoT does with these is what the SQL says: fields are taken as they are, so a null
/// event_id stays null (isUndefined(null) is false) and a numeric one stays a number. The
/// envelope check downstream is what refuses them.
#[test]
fn device_fields_are_not_validated_by_the_rule() {
    let out = envelope(&json!({"event_id": null, "schema_version": "two", "payload": 5}));
    assert_eq!(out["event_id"], Value::Null);
    assert_eq!(out["correlation_id"], Value::Null);
    assert_eq!(out["schema_version"], "two");
    assert_eq!(out["payload"], 5);
}

#[test]
fn a_payload_that_is_not_json_or_not_an_object_gives_an_envelope_without_payload() {
    let expected = json!({
        "event": "COOKING_REQUESTED",
        "event_id": TRACE_ID,
        "household_id": "h-1",
        "device_id": "oven-1",
        "occurred_at": RECEIVED_AT,
        "received_at": RECEIVED_AT,
        "source": "oven-1",
        "correlation_id": TRACE_ID,
        "schema_version": 1
    });
    let payloads: [&[u8]; 6] = [
        b"\x00\x01\xfe binary",
        b"not json",
        b"",
        b"[1, 2, 3]",
        b"\"text\"",
        b"42",
    ];
    for payload in payloads {
        let out = rule().execute(&over_mqtt(payload));
        assert_eq!(out, Some(Outgoing::Json(expected.clone())), "{payload:?}");
    }
}

#[test]
fn without_mqtt_the_ids_are_new_uuids() {
    // A message not sent over MQTT (e.g. iot-data Publish) has no trace id: newuuid() is called
    // once for event_id and once more for correlation_id, so the two differ.
    let message = Message {
        trace_id: None,
        client_id: None,
        ..over_mqtt(br#"{"payload": {}}"#)
    };
    let out = rule().evaluate(&message).unwrap().unwrap();
    let event_id = out["event_id"].as_str().unwrap();
    let correlation_id = out["correlation_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(event_id).is_ok(), "{event_id}");
    assert!(
        uuid::Uuid::parse_str(correlation_id).is_ok(),
        "{correlation_id}"
    );
    assert_ne!(event_id, correlation_id);
    assert_eq!(out["source"], "n/a");
}
