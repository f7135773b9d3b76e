//! Property tests of the dead-letter decoder, the rule-errors message above all (whoever can
//! write to the queue chooses every byte of it): it never panics, and a decoded message's
//! identity always comes from its MQTT topic, never from what the device wrote. A rejected
//! device message (any bytes, on any topic) is shown as it was published.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use postoffice_dlq::message::{DeadLetter, ReceivedMessage};
use proptest::prelude::*;
use serde_json::{Value, json};

const CASES: u32 = 1024;

fn received(body: String) -> ReceivedMessage {
    ReceivedMessage {
        message_id: "m-1".into(),
        receipt_handle: "r-1".into(),
        body,
        ..ReceivedMessage::default()
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        "[A-Z_]{1,10}/[a-z0-9-]{1,6}/[a-z0-9-]{1,6}".prop_map(Value::from),
        "[A-Za-z0-9+/=]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "ruleName",
                    "topic",
                    "clientId",
                    "base64OriginalPayload",
                    "failures",
                    "failedAction",
                    "payload",
                    "event_id",
                    "household_id",
                    "Type",
                    "Message",
                    "unreadable",
                    "receivedAt",
                    "traceId",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..7,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

fn event() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{0,10}(_[A-Z0-9]{1,8}){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = DeadLetter::decode(&received(String::from_utf8_lossy(&body).into_owned()));
        let _ = DeadLetter::decode(&received(BASE64.encode(&body)));
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value(), payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = DeadLetter::decode(&received(value.to_string()));
        let mut rule_error = json!({"ruleName": "postoffice_X", "topic": "X/h/d", "base64OriginalPayload": BASE64.encode(&payload)});
        if let (Value::Object(extra), Value::Object(base)) = (value, &mut rule_error) {
            base.extend(extra);
        }
        let _ = DeadLetter::decode(&received(rule_error.to_string()));
    }

    #[test]
    fn arbitrary_rejections_never_panic(value in json_value(), payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut rejection = json!({
            "ruleName": "postoffice_X_rejected", "topic": "X/h/d", "clientId": "d",
            "receivedAt": "2026-11-23T20:00:00.012Z", "unreadable": ["payload"],
            "base64OriginalPayload": BASE64.encode(&payload),
        });
        if let (Value::Object(extra), Value::Object(base)) = (value, &mut rejection) {
            base.extend(extra);
        }
        let _ = DeadLetter::decode(&received(rejection.to_string()));
    }

    /// Whatever a device published, on whatever topic, the rejected message gives it back byte for
    /// byte, as text exactly when it is UTF-8; its identity is the topic's levels as they are.
    #[test]
    fn a_rejected_message_is_given_back_as_published(
        payload in prop::collection::vec(any::<u8>(), 0..300),
        text in ".{0,40}",
        as_text in any::<bool>(),
        topic in "[^/]{0,8}(/[^/]{0,8}){0,3}",
        trace_id in prop::option::of("[0-9a-f-]{36}"),
    ) {
        let payload = if as_text { text.into_bytes() } else { payload };
        let mut body = json!({
            "ruleName": "postoffice_X_rejected",
            "topic": topic,
            "clientId": "n/a",
            "receivedAt": "2026-11-23T20:00:00.012Z",
            "unreadable": ["topic", "payload"],
            "base64OriginalPayload": BASE64.encode(&payload),
        });
        if let Some(trace_id) = &trace_id {
            body["traceId"] = json!(trace_id);
        }
        let decoded = DeadLetter::decode(&received(body.to_string()));
        let Ok(DeadLetter::Rejected(rejected)) = &decoded else {
            return Err(TestCaseError::fail(format!("{decoded:?}")));
        };
        prop_assert_eq!(&rejected.original_payload, &payload);
        prop_assert_eq!(rejected.payload_text(), std::str::from_utf8(&payload).ok());
        prop_assert_eq!(&rejected.trace_id, &trace_id);
        let dead_letter = decoded.as_ref().unwrap();
        let levels: Vec<&str> = topic.split('/').chain(["", "", ""]).collect();
        prop_assert_eq!(
            [dead_letter.event(), dead_letter.household_id(), dead_letter.device_id()],
            [levels[0], levels[1], levels[2]]
        );
    }

    /// Whatever identity the device writes into its message, the envelope's comes from the topic
    /// the IoT policy authorised; the payload travels unchanged.
    #[test]
    fn identity_always_comes_from_the_topic(
        event in event(),
        household in id(),
        device in id(),
        client_id in prop::option::of(id()),
        forged in prop::collection::btree_map(
            prop::sample::select(vec!["event", "household_id", "device_id", "source", "received_at"]),
            ".{0,20}",
            0..5,
        ),
        payload in json_value(),
    ) {
        let mut device_message = json!({"payload": payload});
        for (field, value) in &forged {
            device_message[*field] = json!(value);
        }
        let topic = format!("{event}/{household}/{device}");
        let body = json!({
            "ruleName": format!("postoffice_{event}"),
            "topic": topic,
            "clientId": client_id,
            "base64OriginalPayload": BASE64.encode(device_message.to_string()),
            "failures": [],
        });
        let decoded = DeadLetter::decode(&received(body.to_string()));
        let Ok(DeadLetter::RuleError(rule_error)) = decoded else {
            return Err(TestCaseError::fail(format!("{decoded:?}")));
        };
        let envelope = rule_error.envelope(Utc::now());
        prop_assert_eq!(&envelope.event, &event);
        prop_assert_eq!(&envelope.household_id, &household);
        prop_assert_eq!(&envelope.device_id, &device);
        prop_assert_eq!(&envelope.source, client_id.as_ref().unwrap_or(&device));
        prop_assert_eq!(&envelope.payload, &device_message["payload"]);
    }

    /// A topic that is not EVENT/HOUSEHOLD/DEVICE never decodes, whatever else is right.
    #[test]
    fn only_valid_topics_decode(topic in ".{0,40}") {
        let body = json!({
            "ruleName": "postoffice_X",
            "topic": topic,
            "base64OriginalPayload": BASE64.encode(r#"{"payload":{}}"#),
        });
        let decoded = DeadLetter::decode(&received(body.to_string()));
        prop_assert_eq!(decoded.is_ok(), postoffice::Topic::parse(&topic).is_ok());
    }
}
