//! Scope, message bodies and attributes: the guide's example filter policies
//! (<https://docs.aws.amazon.com/sns/latest/dg/example-filter-policies.html>), filter policy
//! scope (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering-scope.html>), nested
//! keys and arrays in the body.

mod support;

use postoffice_sns_filter::{FilterPolicy, Message, MessageAttributes, Scope};
use support::*;

const EXAMPLE_BODY: &str = r#"{
    "customer_interests": ["soccer", "rugby", "hockey"],
    "store": "example_corp",
    "event":"order_placed",
    "price_usd":210.75
}"#;

fn example_attributes() -> MessageAttributes {
    MessageAttributes::from([
        (
            "customer_interests".to_owned(),
            strings(r#"["soccer", "rugby", "hockey"]"#),
        ),
        ("store".to_owned(), string("example_corp")),
        ("event".to_owned(), string("order_placed")),
        ("price_usd".to_owned(), number("210.75")),
    ])
}

const ACCEPTING: &str = r#"{
   "store": ["example_corp"],
   "event": [{"anything-but": "order_cancelled"}],
   "customer_interests": ["rugby", "football", "baseball"],
   "price_usd": [{"numeric": [">=", 100]}]
}"#;

const REJECTING: &str = r#"{
   "store": ["example_corp"],
   "event": ["order_cancelled"],
   "encrypted": [false],
   "customer_interests": ["basketball", "baseball"]
}"#;

#[test]
fn the_guides_example_policies_in_both_scopes() {
    // "the same filter policy works for a FilterPolicyScope whether it's set to
    // MessageAttributes or MessageBody"
    let attributes = example_attributes();
    let with_attributes = Message::new("message-body-with-transaction-details", &attributes);
    assert!(attribute_policy(ACCEPTING).matches(&with_attributes));
    assert!(!attribute_policy(REJECTING).matches(&with_attributes));

    assert!(body_matches(&body_policy(ACCEPTING), EXAMPLE_BODY));
    assert!(!body_matches(&body_policy(REJECTING), EXAMPLE_BODY));
}

#[test]
fn each_scope_looks_at_its_own_part_of_the_message() {
    let attributes = example_attributes();
    // Attributes only, and a body that is not JSON.
    let attributes_only = Message::new("message-body-with-transaction-details", &attributes);
    // The body only, without attributes.
    let body_only = Message::body(EXAMPLE_BODY);
    let for_attributes = attribute_policy(ACCEPTING);
    let for_body = body_policy(ACCEPTING);
    assert!(for_attributes.matches(&attributes_only));
    assert!(!for_attributes.matches(&body_only));
    assert!(for_body.matches(&body_only));
    assert!(!for_body.matches(&attributes_only));
    // Both: each scope still reads only its own part.
    let empty = MessageAttributes::new();
    let contradicting = MessageAttributes::from([("store".to_owned(), string("other_corp"))]);
    assert!(for_body.matches(&Message::new(EXAMPLE_BODY, &contradicting)));
    assert!(!for_attributes.matches(&Message::new(EXAMPLE_BODY, &contradicting)));
    assert!(!for_attributes.matches(&Message::new(EXAMPLE_BODY, &empty)));
}

#[test]
fn a_body_that_is_not_a_json_object_matches_nothing() {
    // "Filter policies for the message body assume that the message payload is a well-formed
    // JSON object." (https://docs.aws.amazon.com/sns/latest/dg/message-filtering.html)
    let policy = body_policy(r#"{"store": [{"exists": false}]}"#);
    for body in [
        "Regular string message",
        "\"Regular string message\"",
        "[]",
        "42",
        "null",
    ] {
        assert!(!body_matches(&policy, body), "{body}");
    }
    assert!(body_matches(&policy, "{}"));
}

#[test]
fn nested_keys_in_the_body() {
    let policy = body_policy(r#"{"headers": {"route-to": ["queue1"]}}"#);
    assert!(body_matches(
        &policy,
        r#"{"headers": {"route-to": "queue1"}}"#
    ));
    assert!(!body_matches(&policy, r#"{"route-to": "queue1"}"#));
    assert!(!body_matches(&policy, r#"{"headers": "queue1"}"#));
    assert!(!body_matches(
        &policy,
        r#"{"headers": {"other": {"route-to": "queue1"}}}"#
    ));
}

#[test]
fn keys_with_dots_reach_nested_keys() {
    // SNS flattens the body into dotted paths before matching.
    let policy = body_policy(r#"{"object.nested": ["string.value"]}"#);
    assert!(body_matches(
        &policy,
        r#"{"object": {"nested": "string.value"}}"#
    ));
    assert!(body_matches(
        &policy,
        r#"{"object.nested": "string.value"}"#
    ));
    assert!(!body_matches(
        &policy,
        r#"{"object": {"nested": "test-auto"}}"#
    ));
    let deeper = body_policy(r#"{"object.nested.test": ["string.value"]}"#);
    for body in [
        r#"{"object": {"nested": {"test": "string.value"}}}"#,
        r#"{"object.nested.test": "string.value"}"#,
        r#"{"object.nested": {"test": "string.value"}}"#,
        r#"{"object": {"nested.test": "string.value"}}"#,
    ] {
        assert!(body_matches(&deeper, body), "{body}");
    }
}

#[test]
fn arrays_in_the_body() {
    let policy = body_policy(r#"{"headers": {"route-to": ["queue1"]}}"#);
    assert!(body_matches(
        &policy,
        r#"{"headers": {"route-to": ["queue1"]}}"#
    ));
    assert!(body_matches(
        &policy,
        r#"{"headers": {"route-to": ["queue1", "queue2"]}}"#
    ));
    assert!(!body_matches(
        &policy,
        r#"{"headers": {"route-to": ["queue3"]}}"#
    ));
    assert!(!body_matches(&policy, r#"{"headers": {"route-to": []}}"#));
    // Arrays of objects, and arrays of arrays.
    assert!(body_matches(
        &policy,
        r#"{"headers": [{"route-to": "queue2"}, {"route-to": "queue1"}]}"#
    ));
    assert!(body_matches(
        &policy,
        r#"{"headers": [[{"route-to": [["queue1"]]}]]}"#
    ));
}

#[test]
fn arrays_in_the_policy_and_in_string_array_attributes() {
    let policy =
        attribute_policy(r#"{"customer_interests": ["rugby", "football", 7, true, null]}"#);
    assert!(attributes_match(
        &policy,
        &[("customer_interests", strings(r#"["tennis", "football"]"#))]
    ));
    assert!(attributes_match(
        &policy,
        &[("customer_interests", strings("[1, 7.0]"))]
    ));
    assert!(attributes_match(
        &policy,
        &[("customer_interests", strings("[false, true]"))]
    ));
    assert!(attributes_match(
        &policy,
        &[("customer_interests", strings("[null]"))]
    ));
    assert!(!attributes_match(
        &policy,
        &[("customer_interests", strings(r#"["7", "true", "null"]"#))]
    ));
    assert!(!attributes_match(
        &policy,
        &[("customer_interests", strings("not an array"))]
    ));
    // A String attribute is one string, even when it looks like an array.
    assert!(!attributes_match(
        &policy,
        &[("customer_interests", string(r#"["rugby"]"#))]
    ));
}

#[test]
fn values_in_the_same_array_element() {
    // S3 event notifications through SNS (payload-based filtering): each record is matched on
    // its own.
    let policy = body_policy(
        r#"{"Records": {"s3": {"object": {"key": [{"prefix": "auto-"}]}}, "eventName": [{"prefix": "ObjectCreated:"}]}}"#,
    );
    let record = |event: &str, key: &str| {
        format!(
            r#"{{"eventSource": "aws:s3", "eventName": "{event}", "s3": {{"object": {{"key": "{key}", "size": 17}}}}}}"#
        )
    };
    let records = |records: &[String]| format!(r#"{{"Records": [{}]}}"#, records.join(","));
    assert!(body_matches(
        &policy,
        &records(&[record("ObjectCreated:Put", "auto-insurance-2314.xml")])
    ));
    assert!(!body_matches(
        &policy,
        &records(&[record("ObjectRemoved:Delete", "auto-insurance-2314.xml")])
    ));
    assert!(!body_matches(
        &policy,
        &records(&[record("ObjectCreated:Put", "home-insurance-2314.xml")])
    ));
    // One record matching both keys is enough...
    assert!(body_matches(
        &policy,
        &records(&[
            record("ObjectRemoved:Delete", "home-insurance-2314.xml"),
            record("ObjectCreated:Put", "auto-insurance-2314.xml"),
        ])
    ));
    // ...but a created home file and a removed auto file are no created auto file.
    assert!(!body_matches(
        &policy,
        &records(&[
            record("ObjectCreated:Put", "home-insurance-2314.xml"),
            record("ObjectRemoved:Delete", "auto-insurance-2314.xml"),
        ])
    ));
    // Arrays that the keys do not share are independent.
    let independent = body_policy(r#"{"a": ["x"], "b": ["y"]}"#);
    assert!(body_matches(
        &independent,
        r#"{"a": ["w", "x"], "b": ["y", "z"]}"#
    ));
}

#[test]
fn attribute_values_with_quotes_and_backslashes_are_double_escaped() {
    // "When using attribute-based filtering in Amazon SNS, you must double-escape certain special
    // characters, specifically: Double quotes, Backslashes"
    // (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html)
    let attribute = string(r#"say "hi" \o/"#);
    let double_escaped = attribute_policy(r#"{"greeting": ["say \\\"hi\\\" \\\\o/"]}"#);
    let single_escaped = attribute_policy(r#"{"greeting": ["say \"hi\" \\o/"]}"#);
    assert!(attributes_match(
        &double_escaped,
        &[("greeting", attribute.clone())]
    ));
    assert!(!attributes_match(
        &single_escaped,
        &[("greeting", attribute)]
    ));
    // The body has no such rule: JSON escaping once is enough.
    let body = body_policy(r#"{"greeting": ["say \"hi\" \\o/"]}"#);
    assert!(body_matches(&body, r#"{"greeting": "say \"hi\" \\o/"}"#));
}

#[test]
fn booleans_and_null() {
    let policy = body_policy(r#"{"encrypted": [false], "note": [null]}"#);
    assert!(body_matches(
        &policy,
        r#"{"encrypted": false, "note": null}"#
    ));
    assert!(!body_matches(
        &policy,
        r#"{"encrypted": "false", "note": null}"#
    ));
    assert!(
        !body_matches(&policy, r#"{"encrypted": false}"#),
        "a missing key is not null"
    );
}

#[test]
fn the_empty_string() {
    let policy = body_policy(r#"{"detail": {"eventVersion": [""]}}"#);
    assert!(body_matches(
        &policy,
        r#"{"version": "0", "resources": [], "detail": {"eventVersion": "", "responseElements": null}}"#
    ));
    assert!(!body_matches(
        &policy,
        r#"{"detail": {"eventVersion": "1"}}"#
    ));
}

#[test]
fn unrelated_parts_of_a_large_body_do_not_matter() {
    let policy = FilterPolicy::parse(
        r#"{"detail": {"payload.nested.another-level.deep": {"inside-list": [{"prefix": "q-test"}]}}}"#,
        Scope::MessageBody,
    )
    .unwrap();
    let noise: Vec<String> = (0..2000)
        .map(|index| {
            format!(
                r#"{{"id": {index}, "tags": ["a", "b"], "nested": {{"x": [1, 2, {{"y": null}}]}}}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"items": [{}], "detail": {{"payload": {{"nested": {{"another-level": {{"deep": [{{"inside-list": ["x", "q-test-1"]}}]}}}}}}}}}}"#,
        noise.join(",")
    );
    assert!(body.len() > 100_000);
    assert!(body_matches(&policy, &body));
}
