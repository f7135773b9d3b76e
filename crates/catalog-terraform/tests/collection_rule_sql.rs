//! EVENT_COLLECTION's two IoT topic rules (terraform/modules/event/rule-sql.tf), run with the
//! local post office's rule engine on collection messages: exactly one of them takes each
//! message; the rule takes a collection with an optional UUID `collection_id` and 1 to
//! `MAX_COLLECTION_MEMBERS` members whatever the members are (the collection-unpacker checks
//! them one by one), and builds an envelope the handler library reads and the catalog's
//! EVENT_COLLECTION schema accepts; the rejection rule keeps every other message in the
//! rejected-device-messages format, naming `topic`, `collection_id` or `events`.
//!
//! The SQL is the module's own: its `terraform test` compares what it builds for
//! EVENT_COLLECTION with the files read here.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeZone, Utc};
use postoffice::catalog::{COLLECTION_EVENT, Catalog, MAX_COLLECTION_MEMBERS};
use postoffice::envelope::Envelope;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{CLIENT_ID, RECEIVED_MS, Route, Rules, TRACE_ID};
use uuid::Uuid;

const TOPIC: &str = "EVENT_COLLECTION/h-1/oven-1";
const COLLECTION_ID: &str = "2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d";

/// The envelope the rule builds, read by the handler library and checked against the
/// catalog's EVENT_COLLECTION schema as the collection-unpacker's library checks it.
fn envelope(rules: &Rules, message: &Value) -> Envelope {
    let Route::Accepted(selected) = rules.route(TOPIC, message.to_string().as_bytes()) else {
        panic!("{message} was rejected");
    };
    let envelope = Envelope::from_json(selected.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("the rule built {selected} for {message}: {e}"));
    Catalog::embedded()
        .validate_payload(COLLECTION_EVENT, &envelope.payload)
        .unwrap_or_else(|e| panic!("the rule built {selected} for {message}: {e}"));
    envelope
}

fn telemetry(n: usize) -> Value {
    json!({
        "event": "DEVICE_TELEMETRY_REPORTED",
        "event_id": Uuid::from_u128(n as u128).to_string(),
        "payload": {"sampled_at": "2026-11-23T18:10:00Z", "cavity_temperature_c": n,
                    "power_w": 2150, "door_open": false}
    })
}

fn collection(members: usize) -> Value {
    json!({"collection_id": COLLECTION_ID, "events": (0..members).map(telemetry).collect::<Vec<_>>()})
}

#[test]
fn the_rules_read_the_collection_topics() {
    let rules = Rules::load(COLLECTION_EVENT);
    for rule in [&rules.accept, &rules.reject] {
        assert_eq!(rule.topic_filter(), "EVENT_COLLECTION/+/+");
    }
}

#[test]
fn a_collection_becomes_an_envelope_of_its_members_with_identity_from_the_topic() {
    let rules = Rules::load(COLLECTION_EVENT);
    let mut message = collection(2);
    // Identity or anything else in the message does not reach the envelope.
    message["household_id"] = json!("h-2");
    message["device_id"] = json!("not-me");
    message["payload"] = json!({"events": []});
    let envelope = envelope(&rules, &message);
    let received_at = Utc.timestamp_millis_opt(RECEIVED_MS).unwrap();
    let collection_id: Uuid = COLLECTION_ID.parse().unwrap();
    assert_eq!(
        envelope,
        Envelope {
            event: COLLECTION_EVENT.to_owned(),
            event_id: collection_id,
            household_id: "h-1".to_owned(),
            device_id: "oven-1".to_owned(),
            occurred_at: received_at,
            received_at: Some(received_at),
            source: CLIENT_ID.to_owned(),
            correlation_id: collection_id,
            causation_id: None,
            schema_version: 1,
            payload: json!({"events": [telemetry(0), telemetry(1)]}),
        }
    );
}

#[test]
fn a_collection_without_its_id_gets_the_mqtt_messages_trace_id() {
    let rules = Rules::load(COLLECTION_EVENT);
    for message in [
        json!({"events": [telemetry(0)]}),
        json!({"collection_id": null, "events": [telemetry(0)]}),
    ] {
        let envelope = envelope(&rules, &message);
        assert_eq!(envelope.event_id, TRACE_ID.parse::<Uuid>().unwrap());
        assert_eq!(envelope.correlation_id, envelope.event_id);
    }
    let upper = json!({"collection_id": COLLECTION_ID.to_uppercase(), "events": [telemetry(0)]});
    assert_eq!(
        envelope(&rules, &upper).event_id,
        COLLECTION_ID.parse::<Uuid>().unwrap()
    );
}

#[test]
fn one_to_the_maximum_members_pass_whatever_they_are() {
    let rules = Rules::load(COLLECTION_EVENT);
    for members in [1, 2, MAX_COLLECTION_MEMBERS] {
        let envelope = envelope(&rules, &collection(members));
        assert_eq!(
            envelope.payload["events"].as_array().unwrap().len(),
            members
        );
    }
    // Members are the unpacker's to check: a bad one does not hold back the collection.
    let mixed =
        json!({"events": [telemetry(0), 7, null, "x", [1], {"event": "NO_SUCH_EVENT"}, {}]});
    assert_eq!(
        envelope(&rules, &mixed).payload,
        json!({"events": mixed["events"]})
    );
}

#[test]
fn unreadable_collections_are_rejected_naming_the_part() {
    let rules = Rules::load(COLLECTION_EVENT);
    let cases = [
        (collection(0), vec!["events"]),
        (collection(MAX_COLLECTION_MEMBERS + 1), vec!["events"]),
        (json!({"collection_id": COLLECTION_ID}), vec!["events"]),
        (
            json!({"collection_id": COLLECTION_ID, "events": null}),
            vec!["events"],
        ),
        (
            json!({"collection_id": COLLECTION_ID, "events": "[{}]"}),
            vec!["events"],
        ),
        (
            json!({"collection_id": COLLECTION_ID, "events": {"0": telemetry(0)}}),
            vec!["events"],
        ),
        (
            json!({"collection_id": COLLECTION_ID, "events": 3}),
            vec!["events"],
        ),
        (
            json!({"collection_id": "not-a-uuid", "events": [telemetry(0)]}),
            vec!["collection_id"],
        ),
        (
            json!({"collection_id": 7, "events": [telemetry(0)]}),
            vec!["collection_id"],
        ),
        (
            json!({"collection_id": format!("{{{COLLECTION_ID}}}"), "events": []}),
            vec!["collection_id", "events"],
        ),
        // A device message on the collection topic is no collection.
        (
            json!({"event_id": COLLECTION_ID, "payload": {}}),
            vec!["events"],
        ),
        (json!([telemetry(0)]), vec!["events"]),
    ];
    for (message, unreadable) in cases {
        assert_eq!(
            rules.rejected(TOPIC, message.to_string().as_bytes()),
            unreadable,
            "{message}"
        );
    }
    assert_eq!(rules.rejected(TOPIC, b"\x00not json"), ["events"]);
    let one = collection(1).to_string();
    for topic in [
        "EVENT_COLLECTION/h-1/oven:1",
        "EVENT_COLLECTION/h.1/oven-1",
        "EVENT_COLLECTION//oven-1",
    ] {
        assert_eq!(rules.rejected(topic, one.as_bytes()), ["topic"], "{topic}");
    }
}

fn member() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0..1000_usize).prop_map(telemetry),
        1 => Just(Value::Null),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => "[ -~]{0,12}".prop_map(Value::String),
        1 => Just(json!({"event": "FIRMWARE_UPDATE_OFFERED", "payload": {}})),
    ]
}

fn collection_message() -> impl Strategy<Value = Value> {
    let collection_id = prop_oneof![
        3 => Just(Some(json!(COLLECTION_ID))),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => "[0-9a-f-]{30,38}".prop_map(|t| Some(json!(t))),
        1 => any::<i64>().prop_map(|n| Some(json!(n))),
    ];
    let events = prop_oneof![
        6 => proptest::collection::vec(member(), 0..=MAX_COLLECTION_MEMBERS + 2).prop_map(|m| Some(json!(m))),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!({"event": "DEVICE_TELEMETRY_REPORTED"}))),
        1 => "[ -~]{0,12}".prop_map(|t| Some(json!(t))),
    ];
    (collection_id, events).prop_map(|(collection_id, events)| {
        let mut message = serde_json::Map::new();
        if let Some(id) = collection_id {
            message.insert("collection_id".to_owned(), id);
        }
        if let Some(events) = events {
            message.insert("events".to_owned(), events);
        }
        Value::Object(message)
    })
}

/// What the contract accepts, from the library's side: an optional UUID (hyphenated or 32 hex
/// digits) and a list of 1 to MAX_COLLECTION_MEMBERS members.
fn contract_accepts(message: &Value) -> bool {
    let id_ok = match message.get("collection_id") {
        None | Some(Value::Null) => true,
        Some(Value::String(id)) => {
            (id.len() == 32 || id.len() == 36) && Uuid::parse_str(id).is_ok()
        }
        Some(_) => false,
    };
    let events_ok = message
        .get("events")
        .and_then(Value::as_array)
        .is_some_and(|events| (1..=MAX_COLLECTION_MEMBERS).contains(&events.len()));
    id_ok && events_ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn exactly_one_rule_takes_a_collection_and_the_rule_takes_what_the_contract_accepts(
        message in collection_message(),
    ) {
        let rules = Rules::load(COLLECTION_EVENT);
        let payload = message.to_string();
        match rules.route(TOPIC, payload.as_bytes()) {
            Route::Accepted(selected) => {
                prop_assert!(contract_accepts(&message), "the rule accepted {}", message);
                let envelope = Envelope::from_json(selected.to_string().as_bytes());
                prop_assert!(envelope.is_ok(), "the rule built {} of {}: {:?}", selected, message, envelope);
                let envelope = envelope.unwrap();
                prop_assert!(Catalog::embedded().validate_payload(COLLECTION_EVENT, &envelope.payload).is_ok());
                prop_assert_eq!(&envelope.payload["events"], &message["events"]);
            }
            Route::Rejected(rejection) => {
                prop_assert!(!contract_accepts(&message), "the rule rejected {}, which the contract accepts", message);
                prop_assert_eq!(&rejection["base64OriginalPayload"], &json!(BASE64.encode(&payload)));
            }
        }
    }
}
