//! The two topic rules Terraform applies for COOKING_REQUESTED (terraform/modules/event/rule-sql.tf;
//! the SQL is the module's golden files, tests/rule-sql/, which its `terraform test` compares with
//! what it builds): the event rule makes the envelope of the device messages the handlers can read
//! (docs/contracts.md, Envelope), the rejection rule keeps every other message in the format of
//! docs/contracts.md, "Rejected device messages". crates/catalog-terraform/tests/rule_sql.rs
//! checks the whole contract against the handler library; here, what the engine makes of them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice_iot_sql::{Message, Outgoing, Statement};
use serde_json::{Value, json};

/// `{prefix}_{EVENT}`: `WHERE @readable`, publishes the envelope.
const RULE_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../terraform/modules/event/tests/rule-sql/COOKING_REQUESTED.sql"
));
/// `{prefix}_{EVENT}_rejected`: `WHERE NOT @readable`, keeps the message.
const REJECTED_RULE_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../terraform/modules/event/tests/rule-sql/COOKING_REQUESTED_rejected.sql"
));
const TOPIC: &str = "COOKING_REQUESTED/h-1/oven-1";
const TRACE_ID: &str = "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4";
/// 2026-11-23T20:00:00.012Z
const RECEIVED_MS: i64 = 1_795_464_000_012;
const RECEIVED_AT: &str = "2026-11-23T20:00:00.012Z";

fn rule() -> Statement {
    Statement::parse(RULE_SQL).expect("the platform's rule SQL parses")
}

fn rejection_rule() -> Statement {
    Statement::parse(REJECTED_RULE_SQL).expect("the platform's rejection rule SQL parses")
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

/// The envelope the event rule publishes of a readable message; the rejection rule takes none.
fn envelope_of(message: &Message<'_>) -> Value {
    assert_eq!(
        rejection_rule().evaluate(message).expect("evaluates"),
        None,
        "a readable message is not rejected"
    );
    rule()
        .evaluate(message)
        .expect("evaluates")
        .expect("the rule takes a readable message")
}

fn envelope(payload: &Value) -> Value {
    let bytes = payload.to_string();
    envelope_of(&over_mqtt(bytes.as_bytes()))
}

/// What the rejection rule keeps of an unreadable message; the event rule publishes nothing.
fn rejection_of(message: &Message<'_>) -> Value {
    assert_eq!(
        rule().execute(message),
        None,
        "an unreadable message is not published"
    );
    rejection_rule()
        .evaluate(message)
        .expect("evaluates")
        .expect("the rejection rule takes an unreadable message")
}

fn rejection(payload: &[u8]) -> Value {
    rejection_of(&over_mqtt(payload))
}

#[test]
fn both_rules_listen_on_their_events_topics() {
    for rule in [rule(), rejection_rule()] {
        assert_eq!(rule.topic_filter(), "COOKING_REQUESTED/+/+");
        assert!(rule.matches_topic(TOPIC));
        assert!(!rule.matches_topic("COOKING_FINISHED/h-1/oven-1"));
        assert!(!rule.matches_topic("COOKING_REQUESTED/h-1"));
    }
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

/// Null is absent, as the handler library reads a device message: the defaults apply (before,
/// a null event_id stayed null and the handlers refused the envelope). causation_id, which has no
/// default, is passed on as null, which the library reads as absent.
#[test]
fn null_fields_are_absent_fields() {
    let out = envelope(&json!({
        "event_id": null,
        "occurred_at": null,
        "correlation_id": null,
        "causation_id": null,
        "schema_version": null,
        "payload": {}
    }));
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
            "causation_id": null,
            "schema_version": 1,
            "payload": {}
        })
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

/// The event rule validates what it takes: a message the handlers cannot read is not published
/// (before, its fields were copied as they were and every consumer refused the envelope); the
/// rejection rule keeps it, as published, naming the unreadable parts in the contract's order.
#[test]
fn unreadable_device_fields_go_to_the_rejection_rule() {
    let message = json!({"event_id": "x", "schema_version": "two", "payload": 5});
    let bytes = message.to_string();
    assert_eq!(
        rejection(bytes.as_bytes()),
        json!({
            "ruleName": "postoffice_COOKING_REQUESTED_rejected",
            "topic": TOPIC,
            "clientId": "oven-1",
            "traceId": TRACE_ID,
            "receivedAt": RECEIVED_AT,
            "unreadable": ["payload", "event_id", "schema_version"],
            "base64OriginalPayload": BASE64.encode(&bytes),
        })
    );
    for (message, unreadable) in [
        (json!({"event_id": 7, "payload": {}}), json!(["event_id"])),
        (
            json!({"occurred_at": "2026-11-23", "payload": {}}),
            json!(["occurred_at"]),
        ),
        (
            json!({"correlation_id": "6a0c1d52", "causation_id": true, "payload": {}}),
            json!(["correlation_id", "causation_id"]),
        ),
        (
            json!({"schema_version": 0, "payload": {}}),
            json!(["schema_version"]),
        ),
        (json!({"payload": null}), json!(["payload"])),
    ] {
        let bytes = message.to_string();
        assert_eq!(
            rejection(bytes.as_bytes())["unreadable"],
            unreadable,
            "{message}"
        );
    }
}

/// A topic's household and device levels must be Post Office ids.
#[test]
fn a_topic_that_names_no_post_office_ids_goes_to_the_rejection_rule() {
    let topic = "COOKING_REQUESTED/h.1/oven:1";
    let message = Message {
        topic,
        ..over_mqtt(br#"{"payload": {}}"#)
    };
    let out = rejection_of(&message);
    assert_eq!(out["topic"], topic);
    assert_eq!(out["unreadable"], json!(["topic"]));
}

#[test]
fn a_payload_that_is_not_json_or_not_an_object_is_rejected_as_published() {
    let payloads: [&[u8]; 6] = [
        b"\x00\x01\xfe binary",
        b"not json",
        b"",
        b"[1, 2, 3]",
        b"\"text\"",
        b"42",
    ];
    for payload in payloads {
        let out = rejection(payload);
        assert_eq!(out["unreadable"], json!(["payload"]), "{payload:?}");
        assert_eq!(
            out["base64OriginalPayload"],
            BASE64.encode(payload),
            "{payload:?}"
        );
        assert_eq!(
            rejection_rule().execute(&over_mqtt(payload)),
            Some(Outgoing::Json(out)),
            "the rejection's output is JSON whatever the message: {payload:?}"
        );
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
    let out = envelope_of(&message);
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

#[test]
fn without_mqtt_a_rejection_has_no_trace_id() {
    let message = Message {
        trace_id: None,
        client_id: None,
        ..over_mqtt(br#"{"payload": []}"#)
    };
    let out = rejection_of(&message);
    assert_eq!(out["clientId"], "n/a");
    assert!(out.get("traceId").is_none(), "{out}");
    assert_eq!(out["unreadable"], json!(["payload"]));
}
