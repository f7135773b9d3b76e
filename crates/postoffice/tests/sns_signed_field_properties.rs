//! Property tests over the genuine SNS vectors (../shared/sns-vectors): whatever is done to a
//! signed field (Message, MessageId, Subject, Timestamp, TopicArn, Type), through the HTTP body
//! and the parser, the verifier never accepts the result; and whatever is done to the unsigned
//! ones it still verifies exactly when the signed content is unchanged.

use std::path::PathBuf;
use std::sync::LazyLock;

use postoffice::sns::{FixedClock, SnsMessage, StaticCertificateFetcher, Verifier};
use proptest::prelude::*;
use serde_json::Value;

const VECTORS: [&str; 5] = [
    "php-2022-lambda-subjectnull-sha256",
    "php-2022-notification-sha1",
    "php-2022-notification-sha256",
    "php-2022-notification-subject-sha1",
    "php-2022-notification-subject-sha256",
];
const SIGNED: [&str; 6] = [
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
];
const CASES: u32 = 512;

struct Vectors {
    bodies: Vec<Value>,
    verifier: Verifier<StaticCertificateFetcher, FixedClock>,
    runtime: tokio::runtime::Runtime,
}

static VECTOR_SET: LazyLock<Vectors> = LazyLock::new(|| {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors");
    let mut fetcher = StaticCertificateFetcher::new();
    let mut bodies = Vec::new();
    for name in VECTORS {
        let body = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        let pem = std::fs::read(dir.join(format!("{name}.pem"))).unwrap();
        let message = SnsMessage::parse(&body).unwrap();
        fetcher = fetcher.with_certificate(&message.signing_cert_url, pem);
        bodies.push(serde_json::from_slice(&body).unwrap());
    }
    Vectors {
        bodies,
        verifier: Verifier::new(fetcher, FixedClock("2022-07-28T21:30:00Z".parse().unwrap())),
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap(),
    }
});

/// Whether `body` parses and verifies.
fn accepted(body: &Value) -> bool {
    let vectors = &*VECTOR_SET;
    match SnsMessage::parse(body.to_string().as_bytes()) {
        Ok(message) => vectors
            .runtime
            .block_on(vectors.verifier.verify(&message))
            .is_ok(),
        Err(_) => false,
    }
}

/// The signed field as the Lambda shape may spell it too (`Subject` may be `null` there).
fn signed_text(body: &Value, field: &str) -> Option<String> {
    body.get(field).and_then(Value::as_str).map(str::to_owned)
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(String),
    Insert(prop::sample::Index, char),
    Remove(prop::sample::Index),
    Drop,
    NotAString(i64),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        ".{0,40}".prop_map(Edit::Replace),
        (any::<prop::sample::Index>(), any::<char>()).prop_map(|(at, c)| Edit::Insert(at, c)),
        any::<prop::sample::Index>().prop_map(Edit::Remove),
        Just(Edit::Drop),
        any::<i64>().prop_map(Edit::NotAString),
    ]
}

fn apply(body: &mut Value, field: &str, edit: &Edit) {
    let object = body.as_object_mut().unwrap();
    let current = object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let edited = match edit {
        Edit::Replace(text) => Value::from(text.clone()),
        Edit::Insert(at, c) => {
            let mut chars: Vec<char> = current.chars().collect();
            chars.insert(at.index(chars.len() + 1), *c);
            Value::from(chars.into_iter().collect::<String>())
        }
        Edit::Remove(at) => {
            let mut chars: Vec<char> = current.chars().collect();
            if !chars.is_empty() {
                chars.remove(at.index(chars.len()));
            }
            Value::from(chars.into_iter().collect::<String>())
        }
        Edit::Drop => {
            object.remove(field);
            return;
        }
        Edit::NotAString(number) => Value::from(*number),
    };
    object.insert(field.to_owned(), edited);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any change to a signed field is refused, however it reads after parsing.
    #[test]
    fn a_changed_signed_field_never_verifies(
        vector in 0..VECTORS.len(),
        field in prop::sample::select(SIGNED.to_vec()),
        edit in edit(),
    ) {
        let original = &VECTOR_SET.bodies[vector];
        let mut body = original.clone();
        apply(&mut body, field, &edit);
        let unchanged = signed_text(&body, field) == signed_text(original, field)
            && body.get(field).is_some_and(Value::is_string) == original.get(field).is_some_and(Value::is_string);
        prop_assume!(!unchanged);
        prop_assert!(!accepted(&body), "{field} {edit:?} was accepted");
    }

    /// `UnsubscribeURL` and `MessageAttributes` are not signed: changing them keeps a genuine
    /// message genuine (which is why handlers must not trust attributes).
    #[test]
    fn unsigned_fields_do_not_change_the_verdict(
        vector in 0..VECTORS.len(),
        unsubscribe in "https://[a-z.]{1,20}/.{0,20}",
        attribute in "[A-Za-z0-9_-]{1,16}",
        value in ".{0,24}",
    ) {
        let mut body = VECTOR_SET.bodies[vector].clone();
        let object = body.as_object_mut().unwrap();
        let key = if object.contains_key("UnsubscribeUrl") { "UnsubscribeUrl" } else { "UnsubscribeURL" };
        object.insert(key.to_owned(), Value::from(unsubscribe));
        object.insert(
            "MessageAttributes".to_owned(),
            serde_json::json!({ attribute: {"Type": "String", "Value": value} }),
        );
        prop_assert!(accepted(&body));
    }
}

#[test]
fn every_vector_is_accepted_as_it_is() {
    for body in &VECTOR_SET.bodies {
        assert!(accepted(body), "{body}");
    }
}
