//! The decoder reads what the rejection rules really write: the rejection rule of
//! COOKING_REQUESTED (terraform/modules/event/tests/rule-sql/, the SQL the event module builds),
//! run with the local post office's rule engine, gives the body of the rejected-device-messages
//! queue's messages (the SQS action sends the rule's output as it is, `useBase64 = false`).

use std::path::Path;

use postoffice::envelope::format_time;
use postoffice_dlq::message::{DeadLetter, ReceivedMessage, RejectedMessage};
use postoffice_iot_sql::{Message, Statement};

const TRACE_ID: &str = "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4";
/// 2026-11-23T20:00:00.012Z
const RECEIVED_MS: i64 = 1_795_464_000_012;

fn rejection_rule() -> Statement {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../terraform/modules/event/tests/rule-sql/COOKING_REQUESTED_rejected.sql");
    let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Statement::parse(sql.trim_end()).expect("the rejection rule parses")
}

/// What lands in the queue when `payload` is published on `topic`, decoded.
fn rejected(message: Message<'_>) -> RejectedMessage {
    let output = rejection_rule()
        .execute(&message)
        .unwrap_or_else(|| panic!("the rejection rule took no {message:?}"));
    let body = String::from_utf8(output.into_bytes()).expect("the rule writes JSON");
    let received = ReceivedMessage {
        message_id: "m-1".into(),
        receipt_handle: "r-1".into(),
        body: body.clone(),
        ..ReceivedMessage::default()
    };
    match DeadLetter::decode(&received) {
        Ok(DeadLetter::Rejected(rejected)) => *rejected,
        other => panic!("{body} is not decoded as a rejected message: {other:?}"),
    }
}

fn over_mqtt<'a>(topic: &'a str, payload: &'a [u8]) -> Message<'a> {
    Message {
        topic,
        payload,
        client_id: Some("oven-1"),
        timestamp_ms: RECEIVED_MS,
        trace_id: Some(TRACE_ID),
        principal: None,
    }
}

#[test]
fn a_message_with_an_unreadable_event_id() {
    let payload = br#"{"event_id":"x","payload":{"recipe_id":"bread"}}"#;
    let rejected = rejected(over_mqtt("COOKING_REQUESTED/h-1/oven-1", payload));
    assert_eq!(rejected.rule_name, "postoffice_COOKING_REQUESTED_rejected");
    assert_eq!(rejected.topic, "COOKING_REQUESTED/h-1/oven-1");
    assert_eq!(rejected.client_id, "oven-1");
    assert_eq!(rejected.trace_id.as_deref(), Some(TRACE_ID));
    assert_eq!(
        format_time(&rejected.received_at),
        "2026-11-23T20:00:00.012Z"
    );
    assert_eq!(rejected.unreadable, ["event_id"]);
    assert_eq!(rejected.original_payload, payload);
    assert_eq!(
        rejected.payload_text(),
        Some(std::str::from_utf8(payload).unwrap())
    );
}

#[test]
fn a_binary_message_on_a_topic_that_names_no_post_office_ids() {
    let payload = b"\x00\x01\xfe\xff firmware garbage";
    let rejected = rejected(over_mqtt("COOKING_REQUESTED/h.1/oven:1", payload));
    assert_eq!(rejected.unreadable, ["topic", "payload"]);
    assert_eq!(rejected.original_payload, payload);
    assert_eq!(rejected.payload_text(), None);
    assert_eq!(rejected.topic_level(1), "h.1");
    assert_eq!(rejected.topic_level(2), "oven:1");
}

#[test]
fn a_message_not_sent_over_mqtt_has_no_trace_id() {
    let message = Message {
        client_id: None,
        trace_id: None,
        ..over_mqtt(
            "COOKING_REQUESTED/h-1/oven-1",
            br#"{"payload": [], "schema_version": "1"}"#,
        )
    };
    let rejected = rejected(message);
    assert_eq!(rejected.client_id, "n/a");
    assert_eq!(rejected.trace_id, None);
    assert_eq!(rejected.unreadable, ["payload", "schema_version"]);
}
