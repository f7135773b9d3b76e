//! The two IoT topic rules of an actor-published event (terraform/modules/event/rule-sql.tf), run
//! with the local post office's rule engine on device messages: exactly one of them takes each
//! message; every envelope the rule builds is one the handler library reads and is what
//! `Envelope::from_device_message` makes of the message; every message the contract accepts is
//! accepted; the rejection rule keeps the others in the format of docs/contracts.md,
//! "Rejected device messages".
//!
//! The SQL is the module's own: its `terraform test` compares what it builds for
//! COOKING_REQUESTED with the files read here.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeZone, Utc};
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::topic::Topic;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{CLIENT_ID, RECEIVED_MS, Route, Rules, TRACE_ID};

const TOPIC: &str = "COOKING_REQUESTED/h-1/oven-1";
const RULE: &str = "postoffice_COOKING_REQUESTED";

fn envelope(rules: &Rules, message: &Value) -> Envelope {
    match rules.route(TOPIC, message.to_string().as_bytes()) {
        Route::Accepted(envelope) => Envelope::from_json(envelope.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("the rule built {envelope} for {message}: {e}")),
        Route::Rejected(_) => panic!("{message} was rejected"),
    }
}

/// Rejected, with the parts the rejection names unreadable.
fn assert_rejected(rules: &Rules, topic: &str, payload: &[u8]) -> Vec<String> {
    let unreadable = rules.rejected(topic, payload);
    assert!(
        !unreadable.is_empty(),
        "a rejection names what is unreadable"
    );
    unreadable
}

fn received_at() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(RECEIVED_MS).unwrap()
}

/// What the handler library makes of the message: the rule must build the same envelope.
fn library_envelope(topic: &str, message: &Value) -> Envelope {
    let device_message: DeviceMessage = serde_json::from_value(message.clone()).unwrap();
    let mut envelope = Envelope::from_device_message(
        &Topic::parse(topic).unwrap(),
        CLIENT_ID,
        received_at(),
        device_message,
    );
    // The rule's new event id is the MQTT message's trace id (the library draws a UUID).
    if message.get("event_id").is_none_or(Value::is_null) {
        let trace_id = TRACE_ID.parse().unwrap();
        if envelope.correlation_id == envelope.event_id {
            envelope.correlation_id = trace_id;
        }
        envelope.event_id = trace_id;
    }
    envelope
}

#[test]
fn the_rules_read_their_events_topics() {
    let rules = Rules::load("COOKING_REQUESTED");
    for rule in [&rules.accept, &rules.reject] {
        assert_eq!(rule.topic_filter(), "COOKING_REQUESTED/+/+");
    }
}

#[test]
fn the_rule_selects_every_envelope_field_and_nothing_else() {
    let message = json!({"causation_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "payload": {}});
    let Route::Accepted(selected) =
        Rules::load("COOKING_REQUESTED").route(TOPIC, message.to_string().as_bytes())
    else {
        panic!("rejected");
    };
    let fields = |value: &Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let envelope = serde_json::to_value(library_envelope(TOPIC, &message)).unwrap();
    assert_eq!(fields(&selected), fields(&envelope));
}

#[test]
fn readable_device_messages_become_the_librarys_envelope() {
    let rules = Rules::load("COOKING_REQUESTED");
    let uuid = "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11";
    for message in [
        json!({"payload": {}}),
        json!({"payload": {"recipe_id": "bread", "temperature_c": 230}}),
        json!({
            "event_id": uuid,
            "occurred_at": "2026-11-23T19:59:58.000Z",
            "correlation_id": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
            "causation_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "schema_version": 2,
            "payload": {"recipe_id": "bread"}
        }),
        // Null is absent, as DeviceMessage reads it.
        json!({"event_id": null, "occurred_at": null, "correlation_id": null,
               "causation_id": null, "schema_version": null, "payload": {}}),
        // The UUID forms the contract accepts: hyphenated or 32 digits, either case.
        json!({"event_id": "6A0C1D52-8A4E-4F0E-9A57-1F6F0F3C2B11", "payload": {}}),
        json!({"event_id": "6a0c1d528a4e4f0e9a571f6f0f3c2b11", "payload": {}}),
        json!({"correlation_id": uuid, "payload": {}}),
        // RFC 3339 times: offsets, fractions of any length, a leap day, a leap second.
        json!({"occurred_at": "2026-11-23T19:59:58Z", "payload": {}}),
        json!({"occurred_at": "2026-11-23T21:59:58.5+02:00", "payload": {}}),
        json!({"occurred_at": "2026-11-23T10:59:58.123456789123-09:30", "payload": {}}),
        json!({"occurred_at": "2024-02-29T00:00:00Z", "payload": {}}),
        json!({"occurred_at": "2000-02-29T00:00:00Z", "payload": {}}),
        json!({"occurred_at": "2016-12-31T23:59:60Z", "payload": {}}),
        json!({"occurred_at": "0000-01-01T00:00:00+23:59", "payload": {}}),
        json!({"schema_version": 4294967295_u64, "payload": {}}),
        // Identity in the message is not the envelope's (the explicit SELECT list drops it).
        json!({"household_id": "h-2", "device_id": "other", "event": "X", "payload": {}}),
    ] {
        assert_eq!(
            envelope(&rules, &message),
            library_envelope(TOPIC, &message),
            "{message}"
        );
    }
}

#[test]
fn the_issues_message_is_rejected_not_dead_lettered_by_every_consumer() {
    // postoffice::handler could not read the envelope the rule used to build of it: a 400 in every
    // consumer's DLQ, which redrive cannot fix.
    let message = br#"{"event_id":"x","payload":{}}"#;
    assert!(serde_json::from_slice::<DeviceMessage>(message).is_err());
    assert_rejected(&Rules::load("COOKING_REQUESTED"), TOPIC, message);
}

#[test]
fn unreadable_device_messages_are_rejected() {
    let rules = Rules::load("COOKING_REQUESTED");
    let uuid = "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11";
    let with = |field: &str, value: Value| {
        let mut message = json!({"payload": {}});
        message[field] = value;
        message
    };
    let mut messages = vec![
        json!({}),
        json!({"payload": null}),
        json!({"payload": [1]}),
        json!({"payload": "{}"}),
        json!({"payload": 1}),
        json!([{"payload": {}}]),
        json!("{\"payload\": {}}"),
    ];
    for event_id in [
        json!("x"),
        json!(""),
        json!(7),
        json!(true),
        json!([uuid]),
        json!({"id": uuid}),
        json!("6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b1"),
        json!("6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b111"),
        json!("6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b1g"),
        json!("6a0c1d52-8a4e-4f0e-9a571f6f0f3c2b11-"),
        json!("6a0c1d528-a4e-4f0e-9a57-1f6f0f3c2b11"),
        json!("6a0c1d528a4e4f0e9a571f6f0f3c2b1-"),
        json!("6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b1\u{0441}"),
    ]
    .into_iter()
    .chain([8, 13, 18, 23].map(|hyphen| {
        // Four hyphens, one of them a place off.
        let mut moved: Vec<char> = uuid.chars().collect();
        moved.swap(hyphen, hyphen + 1);
        json!(moved.into_iter().collect::<String>())
    })) {
        messages.push(with("event_id", event_id.clone()));
        messages.push(with("correlation_id", event_id.clone()));
        messages.push(with("causation_id", event_id));
    }
    for occurred_at in [
        json!(1_795_464_000_012_i64),
        json!("2026-11-23"),
        json!("2026-11-23T19:59:58"),
        json!("2026-11-23T19:59:58.Z"),
        json!("2026-11-23T19:59:58+0200"),
        json!("2026-11-23T19:59:58+02"),
        json!("2026-11-23T19:59:58 Z"),
        json!("2026-11-23T19:59:58Z "),
        json!("2026-11-23T19:59:58.000ZZ"),
        json!("2026-11-23T19:59:58.000Z+02:00"),
        json!("2026-13-01T00:00:00Z"),
        json!("2026-00-01T00:00:00Z"),
        json!("2026-04-31T00:00:00Z"),
        json!("2026-11-00T00:00:00Z"),
        json!("2027-02-29T00:00:00Z"),
        json!("1900-02-29T00:00:00Z"),
        json!("2026-11-23T24:00:00Z"),
        json!("2026-11-23T23:60:00Z"),
        json!("2026-11-23T23:59:61Z"),
        json!("2026-11-23T23:59:59+24:00"),
        json!("2026-11-23T23:59:59+23:60"),
        json!("2026-11-23T23:59:59-2:000"),
        json!("+2026-11-23T19:59:58Z"),
        json!("2026/11/23T19:59:58Z"),
        json!("2026-11-23T19-59-58Z"),
        json!("2026-1a-23T19:59:58Z"),
        json!("２026-11-23T19:59:58Z"),
    ] {
        messages.push(with("occurred_at", occurred_at));
    }
    for schema_version in [
        json!(-1),
        json!(1.5),
        json!("1"),
        json!(4294967296_u64),
        json!(true),
        json!([1]),
        json!({"v": 1}),
    ] {
        messages.push(with("schema_version", schema_version));
    }
    for message in &messages {
        assert_rejected(&rules, TOPIC, message.to_string().as_bytes());
        let envelope = serde_json::from_value::<DeviceMessage>(message.clone()).map(|m| {
            Envelope::from_device_message(
                &Topic::parse(TOPIC).unwrap(),
                CLIENT_ID,
                received_at(),
                m,
            )
        });
        assert!(
            envelope.is_err() || !message["payload"].is_object(),
            "the library reads {message}: the contract must accept it"
        );
    }
    // A number with 32 digits reads as 32 hex digits in AWS IoT, whose Ints have up to 34
    // digits (the local engine reads it as a Decimal, whose text is not digits only).
    assert_rejected(
        &rules,
        TOPIC,
        br#"{"event_id": 12345678901234567890123456789012, "payload": {}}"#,
    );
    // Not JSON at all: the rule engine sees no fields, only the bytes.
    assert_rejected(&rules, TOPIC, b"\x00\x01not json");
    assert_rejected(&rules, TOPIC, b"");
    // Identity the topic gives that is not a Post Office id.
    for topic in [
        "COOKING_REQUESTED/h-1/oven:1",
        "COOKING_REQUESTED/h.1/oven-1",
        "COOKING_REQUESTED//oven-1",
        "COOKING_REQUESTED/h-1/",
        "COOKING_REQUESTED/h-1/oven-\u{212a}",
        "COOKING_REQUESTED/h-1/oven-\u{00e9}",
        &format!("COOKING_REQUESTED/h-1/{}", "d".repeat(65)),
    ] {
        assert!(Topic::parse(topic).is_err(), "{topic}");
        assert_rejected(&rules, topic, br#"{"payload": {}}"#);
    }
    let longest = format!("COOKING_REQUESTED/{}/{}", "h".repeat(64), "d".repeat(64));
    assert!(matches!(
        rules.route(&longest, br#"{"payload": {}}"#),
        Route::Accepted(_)
    ));
}

#[test]
fn the_contract_leaves_out_forms_the_library_would_read() {
    // docs/contracts.md, "Rejected device messages": braced and urn: UUIDs, lower-case or space
    // separators, schema version 0. Kept out so that the rule's SQL stays small; devices that
    // use the library never send them.
    let rules = Rules::load("COOKING_REQUESTED");
    for message in [
        json!({"event_id": "{6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11}", "payload": {}}),
        json!({"event_id": "urn:uuid:6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11", "payload": {}}),
        json!({"occurred_at": "2026-11-23t19:59:58z", "payload": {}}),
        json!({"occurred_at": "2026-11-23 19:59:58Z", "payload": {}}),
        json!({"schema_version": 0, "payload": {}}),
    ] {
        serde_json::from_value::<DeviceMessage>(message.clone()).expect("the library reads it");
        assert_rejected(&rules, TOPIC, message.to_string().as_bytes());
    }
}

/// What the contract accepts, written from the library's side: a DeviceMessage the library reads,
/// within the forms `the_contract_leaves_out_forms_the_library_would_read` names.
fn contract_accepts(topic: &str, message: &Value) -> bool {
    let Ok(device_message) = serde_json::from_value::<DeviceMessage>(message.clone()) else {
        return false;
    };
    let text = |field: &str| message.get(field).and_then(Value::as_str);
    let uuid_form = |field: &str| text(field).is_none_or(|id| id.len() == 32 || id.len() == 36);
    // The library has read the time: it is at least 20 characters, with an offset at the end.
    let time_form = text("occurred_at").is_none_or(|time| {
        time.as_bytes()[10] == b'T'
            && (time.ends_with('Z')
                || time
                    .get(time.len() - 6..)
                    .is_some_and(|zone| zone.starts_with(['+', '-'])))
    });
    Topic::parse(topic).is_ok()
        && device_message.payload.is_object()
        && ["event_id", "correlation_id", "causation_id"]
            .into_iter()
            .all(uuid_form)
        && time_form
        && device_message.schema_version != Some(0)
}

fn uuid_text() -> impl Strategy<Value = String> {
    any::<u128>().prop_flat_map(|bits| {
        let uuid = uuid::Uuid::from_u128(bits);
        prop_oneof![
            4 => Just(uuid.hyphenated().to_string()),
            1 => Just(uuid.hyphenated().to_string().to_uppercase()),
            1 => Just(uuid.simple().to_string()),
            1 => Just(uuid.braced().to_string()),
            // One character replaced, removed, or swapped with the next.
            1 => (0..36_usize, "[-0-9a-fA-Fg-z{}:. \u{212a}\u{0430}]").prop_map(move |(at, c)| {
                let mut text: Vec<char> = uuid.hyphenated().to_string().chars().collect();
                text[at] = c.chars().next().unwrap();
                text.into_iter().collect()
            }),
            1 => (0..36_usize).prop_map(move |at| {
                let mut text = uuid.hyphenated().to_string();
                text.remove(at);
                text
            }),
            1 => (0..35_usize).prop_map(move |at| {
                let mut text: Vec<char> = uuid.hyphenated().to_string().chars().collect();
                text.swap(at, at + 1);
                text.into_iter().collect()
            }),
        ]
    })
}

fn time_text() -> impl Strategy<Value = String> {
    let fraction = prop_oneof![Just(String::new()), "\\.[0-9]{0,12}"];
    let zone = prop_oneof![
        4 => Just("Z".to_owned()),
        1 => Just("z".to_owned()),
        1 => Just(String::new()),
        3 => "[+-][0-2][0-9]:[0-6][0-9]",
        1 => "[+-][0-9]{4}",
    ];
    let separator = prop_oneof![8 => Just('T'), 1 => Just('t'), 1 => Just(' '), 1 => Just('_')];
    (
        0..3000_u32,
        0..14_u32,
        0..33_u32,
        0..25_u32,
        0..61_u32,
        0..62_u32,
        separator,
        fraction,
        zone,
    )
        .prop_map(|(y, mo, d, h, mi, s, t, fraction, zone)| {
            format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{fraction}{zone}")
        })
}

fn field_value(
    text: impl Strategy<Value = String> + 'static,
) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some(Value::Null)),
        10 => text.prop_map(|t| Some(Value::String(t))),
        1 => any::<i64>().prop_map(|n| Some(json!(n))),
        1 => any::<bool>().prop_map(|b| Some(json!(b))),
        1 => "[ -~]{0,40}".prop_map(|t| Some(Value::String(t))),
        1 => Just(Some(json!({"a": "b"}))),
        1 => Just(Some(json!(["a"]))),
    ]
}

fn device_message() -> impl Strategy<Value = Value> {
    let payload = prop_oneof![
        6 => Just(Some(json!({"recipe_id": "bread"}))),
        1 => Just(Some(json!({}))),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!("{}"))),
        1 => Just(Some(json!([{}]))),
        1 => any::<f64>().prop_map(|n| Some(json!(n))),
    ];
    let schema_version = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Value::Null)),
        4 => (0..5_u64).prop_map(|n| Some(json!(n))),
        1 => any::<i64>().prop_map(|n| Some(json!(n))),
        1 => any::<f64>().prop_map(|n| Some(json!(n))),
        1 => "[0-9]{1,3}".prop_map(|t| Some(json!(t))),
    ];
    (
        payload,
        field_value(uuid_text()),
        field_value(time_text()),
        field_value(uuid_text()),
        field_value(uuid_text()),
        schema_version,
    )
        .prop_map(
            |(payload, event_id, occurred_at, correlation_id, causation_id, schema_version)| {
                let mut message = serde_json::Map::new();
                for (field, value) in [
                    ("payload", payload),
                    ("event_id", event_id),
                    ("occurred_at", occurred_at),
                    ("correlation_id", correlation_id),
                    ("causation_id", causation_id),
                    ("schema_version", schema_version),
                ] {
                    if let Some(value) = value {
                        message.insert(field.to_owned(), value);
                    }
                }
                Value::Object(message)
            },
        )
}

fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just(TOPIC.to_owned()),
        1 => "[a-zA-Z0-9_-]{0,65}".prop_map(|id| format!("COOKING_REQUESTED/h-1/{id}")),
        1 => "[a-z0-9:.@\u{212a}-]{1,8}".prop_map(|id| format!("COOKING_REQUESTED/{id}/oven-1")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn exactly_one_rule_takes_a_message_and_the_rule_takes_what_the_handlers_read(
        topic in topic(),
        message in device_message(),
    ) {
        let rules = Rules::load("COOKING_REQUESTED");
        let payload = message.to_string();
        match rules.route(&topic, payload.as_bytes()) {
            Route::Accepted(selected) => {
                let envelope = Envelope::from_json(selected.to_string().as_bytes());
                prop_assert!(envelope.is_ok(), "the rule accepted {} on {} as {}: {:?}", message, topic, selected, envelope);
                // The rule also takes what only IoT SQL reads as the library does (2.0 is the Int
                // 2); what the library reads, it must read the same.
                if serde_json::from_value::<DeviceMessage>(message.clone()).is_ok() {
                    prop_assert_eq!(envelope.unwrap(), library_envelope(&topic, &message));
                }
            }
            Route::Rejected(rejection) => {
                prop_assert!(!contract_accepts(&topic, &message), "the rule rejected {} on {}, which the contract accepts", message, topic);
                prop_assert_eq!(&rejection["base64OriginalPayload"], &json!(BASE64.encode(&payload)));
                prop_assert_eq!(&rejection["ruleName"], &json!(format!("{RULE}_rejected")));
            }
        }
    }
}
