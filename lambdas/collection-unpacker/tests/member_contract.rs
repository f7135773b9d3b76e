//! A member is read as the device message would be read had the device published it alone: the
//! unpacker and the event rules (terraform/modules/event/tests/rule-sql, run with the local post
//! office's rule engine) accept the same device messages, name the same unreadable parts, and
//! build the same envelope.

use std::path::Path;

use chrono::{TimeZone, Utc};
use collection_unpacker::{Part, unpack};
use postoffice::catalog::Catalog;
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::topic::Topic;
use postoffice_iot_sql::{Message, Statement};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The rules of any device event are the same but for the event's name.
const RULE_TOPIC: &str = "COOKING_REQUESTED/h-1/oven-1";
const CLIENT_ID: &str = "oven-1";
const TRACE_ID: &str = "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4";
const RECEIVED_MS: i64 = 1_795_464_000_012;

struct Rules {
    accept: Statement,
    reject: Statement,
}

impl Rules {
    fn load() -> Rules {
        let parse = |file: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../terraform/modules/event/tests/rule-sql")
                .join(file);
            let sql = std::fs::read_to_string(&path).unwrap();
            Statement::parse(sql.trim_end()).unwrap()
        };
        Rules {
            accept: parse("COOKING_REQUESTED.sql"),
            reject: parse("COOKING_REQUESTED_rejected.sql"),
        }
    }

    /// The envelope the rule builds, or the parts the rejection rule names.
    fn verdict(&self, message: &Value) -> Result<Envelope, Vec<String>> {
        let payload = message.to_string();
        let message = Message {
            topic: RULE_TOPIC,
            payload: payload.as_bytes(),
            client_id: Some(CLIENT_ID),
            timestamp_ms: RECEIVED_MS,
            trace_id: Some(TRACE_ID),
            principal: None,
        };
        match (
            self.accept.evaluate(&message).unwrap(),
            self.reject.evaluate(&message).unwrap(),
        ) {
            (Some(envelope), None) => Ok(Envelope::from_json(envelope.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("the rule built {envelope}: {e}"))),
            (None, Some(rejection)) => {
                Err(serde_json::from_value(rejection["unreadable"].clone()).unwrap())
            }
            other => panic!("exactly one rule must take {payload}: {other:?}"),
        }
    }
}

/// The unpacker's envelope of `message` sent as DEVICE_TELEMETRY_REPORTED in a collection from
/// the same device, or the parts it names.
fn unpacked(message: &Value) -> Result<Envelope, Vec<Part>> {
    let mut member = message.clone();
    member["event"] = json!("DEVICE_TELEMETRY_REPORTED");
    let topic = Topic::parse("EVENT_COLLECTION/h-1/oven-1").unwrap();
    let collection = Envelope::from_device_message(
        &topic,
        CLIENT_ID,
        Utc.timestamp_millis_opt(RECEIVED_MS).unwrap(),
        DeviceMessage {
            event_id: None,
            occurred_at: None,
            correlation_id: None,
            causation_id: None,
            schema_version: None,
            payload: json!({ "events": [member] }),
        },
    );
    let mut unpacked = unpack(&collection, &[member], Catalog::embedded());
    match unpacked.rejected.pop() {
        Some(rejected) => Err(rejected.unreadable),
        None => Ok(unpacked.envelopes.remove(0)),
    }
}

const VALID_PAYLOAD: &str = r#"{"sampled_at": "2026-11-23T18:10:00Z", "cavity_temperature_c": 21, "power_w": 1.5, "door_open": false}"#;

fn uuid_text() -> impl Strategy<Value = String> {
    (
        any::<u128>(),
        0..8_u8,
        0..36_usize,
        "[-0-9a-fA-Fg{}:. \u{212a}]",
    )
        .prop_map(|(bits, form, at, c)| {
            let uuid = uuid::Uuid::from_u128(bits);
            let hyphenated = uuid.hyphenated().to_string();
            match form {
                0 | 1 => hyphenated,
                2 => hyphenated.to_uppercase(),
                3 => uuid.simple().to_string(),
                4 => uuid.braced().to_string(),
                5 => hyphenated.replacen(&hyphenated[at..=at], &c, 1),
                6 => {
                    let mut text = hyphenated;
                    text.remove(at);
                    text
                }
                _ => format!("{hyphenated}{c}"),
            }
        })
}

fn time_text() -> impl Strategy<Value = String> {
    (
        (0..3000_u32, 0..14_u32, 0..33_u32),
        (0..25_u32, 0..61_u32, 0..62_u32),
        prop_oneof![8 => Just('T'), 1 => Just('t'), 1 => Just(' ')],
        prop_oneof![Just(String::new()), "\\.[0-9]{0,10}"],
        prop_oneof![
            4 => Just("Z".to_owned()),
            1 => Just("z".to_owned()),
            1 => Just(String::new()),
            3 => "[+-][0-2][0-9]:[0-6][0-9]",
            1 => "[+-][0-9]{4}",
        ],
    )
        .prop_map(|((y, mo, d), (h, mi, s), t, fraction, zone)| {
            format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{fraction}{zone}")
        })
}

fn optional(text: impl Strategy<Value = String> + 'static) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(Value::Null)),
        8 => text.prop_map(|t| Some(Value::String(t))),
        1 => any::<i64>().prop_map(|n| Some(json!(n))),
        1 => Just(Some(json!(["a"]))),
    ]
}

fn device_message() -> impl Strategy<Value = Value> {
    let payload = prop_oneof![
        6 => Just(Some(serde_json::from_str::<Value>(VALID_PAYLOAD).unwrap())),
        1 => Just(Some(json!({}))),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!("{}"))),
        1 => Just(Some(json!([{}]))),
    ];
    let schema_version = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Value::Null)),
        3 => (0..5_u64).prop_map(|n| Some(json!(n))),
        1 => any::<i64>().prop_map(|n| Some(json!(n))),
        1 => prop_oneof![Just(2.0), Just(1.5), Just(-0.0), Just(4294967295.0), Just(4294967296.0)]
            .prop_map(|n: f64| Some(json!(n))),
        1 => "[0-9]{1,3}".prop_map(|t| Some(json!(t))),
    ];
    (
        payload,
        optional(uuid_text()),
        optional(time_text()),
        optional(uuid_text()),
        optional(uuid_text()),
        schema_version,
    )
        .prop_map(
            |(payload, event_id, occurred_at, correlation_id, causation_id, version)| {
                let mut message = Map::new();
                for (field, value) in [
                    ("payload", payload),
                    ("event_id", event_id),
                    ("occurred_at", occurred_at),
                    ("correlation_id", correlation_id),
                    ("causation_id", causation_id),
                    ("schema_version", version),
                ] {
                    if let Some(value) = value {
                        message.insert(field.to_owned(), value);
                    }
                }
                Value::Object(message)
            },
        )
}

fn assert_agree(rules: &Rules, message: &Value) {
    match (rules.verdict(message), unpacked(message)) {
        (Ok(alone), Ok(member)) => {
            // The same envelope but for the event, and for the event id a missing one is given
            // (the rule's is the MQTT trace id, the unpacker's derived from the collection).
            let generated = message.get("event_id").is_none_or(Value::is_null);
            let comparable = |mut envelope: Envelope| {
                envelope.event = String::new();
                if generated {
                    if envelope.correlation_id == envelope.event_id {
                        envelope.correlation_id = uuid::Uuid::nil();
                    }
                    envelope.event_id = uuid::Uuid::nil();
                }
                envelope
            };
            assert_eq!(comparable(member), comparable(alone), "{message}");
        }
        // Readable but for the telemetry schema: the rule does not check schemas.
        (Ok(_), Err(parts)) => assert_eq!(parts, [Part::PayloadSchema], "{message}"),
        (Err(alone), Err(parts)) => {
            let parts: Vec<&str> = parts.iter().map(|part| part.as_str()).collect();
            assert_eq!(parts, alone, "{message}");
        }
        (Err(alone), Ok(_)) => {
            panic!("the rule rejects {message} ({alone:?}); the unpacker published it")
        }
    }
}

#[test]
fn the_contracts_examples_are_read_alike() {
    let rules = Rules::load();
    let payload: Value = serde_json::from_str(VALID_PAYLOAD).unwrap();
    let with = |field: &str, value: Value| {
        let mut message = json!({ "payload": payload });
        message[field] = value;
        message
    };
    for message in [
        json!({ "payload": payload }),
        with("event_id", json!("6A0C1D52-8A4E-4F0E-9A57-1F6F0F3C2B11")),
        with("event_id", json!("6a0c1d528a4e4f0e9a571f6f0f3c2b11")),
        with("event_id", json!("{6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11}")),
        with("occurred_at", json!("2016-12-31T23:59:60Z")),
        with("occurred_at", json!("2026-11-23T21:59:58.5+02:00")),
        with("occurred_at", json!("2026-11-23 19:59:58Z")),
        with("occurred_at", json!("2027-02-29T00:00:00Z")),
        with("schema_version", json!(2.0)),
        with("schema_version", json!(0)),
        with("schema_version", json!("1")),
        with("causation_id", json!(12345)),
        json!({}),
        json!({"payload": null}),
        json!({"payload": "{}"}),
    ] {
        assert_agree(&rules, &message);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_member_is_read_as_the_rules_read_it_alone(message in device_message()) {
        assert_agree(&Rules::load(), &message);
    }
}
