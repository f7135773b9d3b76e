//! Parsing and evaluating never panic, whatever the policy text and request.

use postoffice_policy::{
    Context, IotPolicies, Policies, Policy, Principal, Request, ResourcePolicyKind, evaluate,
    evaluate_iot,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const WORDS: &[&str] = &[
    "*",
    "?",
    "",
    "$",
    "${",
    "}",
    "${*}",
    "${aws:username}",
    "${aws:PrincipalTag/team, 'x'}",
    "${iot:ClientId}",
    "${unterminated",
    "arn:aws:s3:::bucket/*",
    "arn:aws:sqs:eu-west-1:123456789012:q",
    "arn:aws:iot:eu-west-1:123456789012:topic/${iot:ClientId}/*",
    "arn:*:*:*:*:*",
    "arn:aws:sns:${aws:x}:1:t",
    "arn::::",
    "123456789012",
    "arn:aws:iam::123456789012:root",
    "arn:aws:iam::123456789012:role/r",
    "sns.amazonaws.com",
    "Allow",
    "Deny",
    "sns:Publish",
    "sqs:*",
    "true",
    "false",
    "10",
    "-1.5e300",
    "2026-11-23T20:00:00Z",
    "10.0.0.0/8",
    "::1/128",
    "QUJD",
    "é?*ü",
    "2012-10-17",
    "2008-10-17",
];

const KEYS: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ForAllValues:StringNotLike",
    "ForAnyValue:StringEquals",
    "StringLikeIfExists",
    "NumericLessThan",
    "DateGreaterThan",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "ArnNotEquals",
    "Null",
    "aws:SourceArn",
    "aws:username",
    "aws:TagKeys",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_owned),
        ".{0,12}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_owned), ".{0,8}",]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        word().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|number| json!(number)),
        Just(Value::Null),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn one_or_many(element: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => element.clone().prop_map(Value::String),
        8 => prop::collection::vec(element.clone().prop_map(Value::String), 1..3).prop_map(Value::Array),
        1 => prop::collection::vec(element.prop_map(Value::String), 0..1).prop_map(Value::Array),
    ]
}

/// Condition values mostly of the operator's type.
fn condition() -> impl Strategy<Value = (String, String, Value)> {
    prop::sample::select(&KEYS[16..31]).prop_flat_map(|operator| {
        let valid: &'static [&'static str] = match operator {
            "NumericLessThan" => &["10", "-1.5", "0"],
            "DateGreaterThan" => &["2026-11-23T20:00:00Z", "1700000000", "2026"],
            "Bool" => &["true", "false", "${aws:x}"],
            "BinaryEquals" => &["QUJD", ""],
            "IpAddress" | "NotIpAddress" => &["10.0.0.0/8", "::1/128", "203.0.113.7"],
            "Null" => &["true", "false"],
            _ => WORDS,
        };
        (Just(operator.to_owned()), key(), one_or_many(mostly(valid)))
    })
}

/// Mostly well-formed values of an element, sometimes anything.
fn mostly(valid: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        12 => prop::sample::select(valid).prop_map(str::to_owned),
        1 => word(),
    ]
    .boxed()
}

const ACTIONS: &[&str] = &[
    "*",
    "sns:Publish",
    "sqs:*",
    "s3:Get*",
    "iot:?ublish",
    "SQS:sendmessage",
    "iot:*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:sqs:eu-west-1:123456789012:q",
    "arn:aws:sqs:*:123456789012:*",
    "arn:aws:s3:::bucket/${aws:username}/*",
    "arn:aws:iot:eu-west-1:123456789012:topic/${iot:ClientId}/*",
    "arn:aws:iot:eu-west-1:123456789012:topic/${iot:Connection.Thing.Attributes[h]}/?",
    "arn:aws:sns:eu-west-1:123456789012:${aws:PrincipalTag/t, 'd'}",
];
const PRINCIPALS: &[&str] = &[
    "*",
    "123456789012",
    "210987654321",
    "arn:aws:iam::123456789012:root",
    "arn:aws:iam::210987654321:role/r",
    "arn:aws:sts::210987654321:assumed-role/r/s",
    "arn:aws:iam::123456789012:user/u",
];

/// Policies close to valid ones, so evaluation is reached often.
fn statement() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["Allow", "Deny"][..]),
        prop::option::of(prop_oneof![
            Just(json!("*")),
            one_or_many(mostly(PRINCIPALS)).prop_map(|value| json!({"AWS": value})),
            one_or_many(mostly(&["sns.amazonaws.com", "iot.amazonaws.com"]))
                .prop_map(|value| json!({"Service": value})),
        ]),
        any::<bool>(),
        one_or_many(mostly(ACTIONS)),
        prop::option::of((any::<bool>(), one_or_many(mostly(RESOURCES)))),
        prop::collection::vec(condition(), 0..3),
    )
        .prop_map(
            |(effect, principal, not_action, actions, resources, conditions)| {
                let mut statement = Map::new();
                statement.insert("Effect".into(), json!(effect));
                if let Some(principal) = principal {
                    statement.insert("Principal".into(), principal);
                }
                statement.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    actions,
                );
                if let Some((not_resource, resources)) = resources {
                    statement.insert(
                        if not_resource {
                            "NotResource"
                        } else {
                            "Resource"
                        }
                        .into(),
                        resources,
                    );
                }
                if !conditions.is_empty() {
                    let mut block = Map::new();
                    for (operator, key, values) in conditions {
                        block.insert(operator, json!({ key: values }));
                    }
                    statement.insert("Condition".into(), Value::Object(block));
                }
                Value::Object(statement)
            },
        )
}

fn policy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => ".{0,64}",
        1 => json_value().prop_map(|value| value.to_string()),
        3 => prop::collection::vec(statement(), 1..4)
            .prop_map(|statements| json!({"Version": "2012-10-17", "Statement": statements}).to_string()),
    ]
}

fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        Just(Principal::anonymous()),
        Just(Principal::account_root("123456789012").unwrap()),
        Just(Principal::service("sns.amazonaws.com").unwrap()),
        Just(Principal::user("arn:aws:iam::123456789012:user/u").unwrap()),
        Just(Principal::role_session("arn:aws:iam::210987654321:role/r", "s").unwrap()),
        Just(Principal::iot_certificate("c").unwrap()),
    ]
}

fn context() -> impl Strategy<Value = Context> {
    prop::collection::vec((key(), prop::collection::vec(word(), 0..3)), 0..4).prop_map(|entries| {
        entries
            .into_iter()
            .fold(Context::new(), |context, (key, values)| {
                if values.len() == 1 {
                    context.with(&key, values[0].as_str())
                } else {
                    context.with_values(&key, values)
                }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_and_evaluating_never_panic(
        text in policy_text(),
        principal in principal(),
        action in prop_oneof![
            4 => prop::sample::select(&["sns:Publish", "sqs:SendMessage", "iot:Publish", "s3:GetObject"][..]).prop_map(str::to_owned),
            1 => "[a-z]{1,4}:[A-Za-z*?]{1,6}",
        ],
        resource in prop_oneof![
            mostly(&["*", "arn:aws:sqs:eu-west-1:123456789012:q", "arn:aws:s3:::bucket/David/x", "arn:aws:iot:eu-west-1:123456789012:topic/c/x"]),
            Just("*".to_owned()),
            (word(), word()).prop_map(|(region, name)| format!("arn:aws:sqs:{region}:123456789012:{name}")),
            word().prop_map(|topic| format!("arn:aws:iot:eu-west-1:123456789012:topic/{topic}")),
        ],
        context in context(),
    ) {
        let Ok(policy) = Policy::parse(&text) else { return Ok(()) };
        let Ok(request) = Request::new(principal, &action, &resource) else { return Ok(()) };
        let request = request.with_context(context);
        if let Ok(policies) = Policies::new().identity_policy(&policy) {
            let _ = evaluate(&request, &policies).explain(&request);
        }
        if let Ok(iot) = IotPolicies::new().policy(&policy) {
            let _ = evaluate_iot(&request, &iot).explain(&request);
        }
        for kind in [ResourcePolicyKind::Resource, ResourcePolicyKind::KeyPolicy, ResourcePolicyKind::TrustPolicy] {
            if let Ok(policies) = Policies::new().resource_policy(kind, &policy) {
                let _ = evaluate(&request, &policies).explain(&request);
            }
        }
    }
}
