//! Parsing and matching never panic, whatever the policy and the message.

use postoffice_sns_filter::{
    DataType, FilterPolicy, Message, MessageAttribute, MessageAttributes, Scope,
};
use proptest::prelude::*;
use serde_json::Value;

/// JSON built from the words policies use, so generated policies get past the first key.
fn json() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("a.b".to_owned()),
        Just("$or".to_owned()),
        Just("prefix".to_owned()),
        Just("suffix".to_owned()),
        Just("equals-ignore-case".to_owned()),
        Just("wildcard".to_owned()),
        Just("anything-but".to_owned()),
        Just("numeric".to_owned()),
        Just("exists".to_owned()),
        Just("cidr".to_owned()),
        Just("=".to_owned()),
        Just("<".to_owned()),
        Just(">=".to_owned()),
        Just("10.0.0.0/8".to_owned()),
        Just("::1/64".to_owned()),
        Just("*a\\*".to_owned()),
        ".{0,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::vec((word.clone(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn attributes() -> impl Strategy<Value = MessageAttributes> {
    let data_type = prop_oneof![
        Just(DataType::String),
        Just(DataType::StringArray),
        Just(DataType::Number),
        Just(DataType::Binary),
    ];
    let value = prop_oneof![json().prop_map(|json| json.to_string()), ".{0,12}"];
    prop::collection::btree_map(
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("a.b".to_owned())
        ],
        (data_type, value).prop_map(|(data_type, value)| MessageAttribute { data_type, value }),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = FilterPolicy::parse(&text, Scope::MessageBody);
        let _ = FilterPolicy::parse(&text, Scope::MessageAttributes);
    }

    #[test]
    fn parse_and_match_never_panic_on_arbitrary_json(
        policy in json(),
        body in json(),
        attributes in attributes(),
    ) {
        let body = body.to_string();
        for scope in [Scope::MessageBody, Scope::MessageAttributes] {
            if let Ok(policy) = FilterPolicy::parse(&policy.to_string(), scope) {
                prop_assert!(policy.combinations() <= 150);
                prop_assert!(policy.keys().len() <= 5);
                let _ = policy.matches(&Message::new(&body, &attributes));
            }
        }
    }

    #[test]
    fn match_never_panics_on_arbitrary_bodies(body in ".{0,200}") {
        let policy = FilterPolicy::parse(
            r#"{"a": [{"exists": false}], "$or": [{"b": [{"numeric": [">", 0]}]}, {"a.b": [{"wildcard": "*x*"}]}]}"#,
            Scope::MessageBody,
        ).unwrap();
        let _ = policy.matches(&Message::body(&body));
    }
}
