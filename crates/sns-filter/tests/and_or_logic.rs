//! "AND/OR logic" in the SNS developer guide, `$or` included, with its combination counting:
//! <https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html>.

mod support;

use postoffice_sns_filter::{FilterPolicy, Scope};
use support::*;

#[test]
fn and_logic() {
    let policy = r#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#;
    let body = body_policy(policy);
    assert!(body_matches(
        &body,
        r#"{"customer_interests": "rugby", "price_usd": 100.5}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": "rugby", "price_usd": 100}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": "tennis", "price_usd": 101}"#
    ));
    assert!(!body_matches(&body, r#"{"customer_interests": "rugby"}"#));
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[
            ("customer_interests", string("rugby")),
            ("price_usd", number("101"))
        ]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("price_usd", number("101"))]
    ));
}

#[test]
fn or_logic() {
    let body = body_policy(r#"{"customer_interests": ["rugby", "football", "baseball"]}"#);
    for interest in ["rugby", "football", "baseball"] {
        assert!(body_matches(
            &body,
            &format!(r#"{{"customer_interests": "{interest}"}}"#)
        ));
    }
    assert!(!body_matches(&body, r#"{"customer_interests": "tennis"}"#));
}

const STANDARD_OR: &str = r#"{
  "source": [ "aws.cloudwatch" ],
  "$or": [
    { "metricName": [ "CPUUtilization" ] },
    { "namespace": [ "AWS/EC2" ] }
  ]
}"#;

#[test]
fn or_operator() {
    // "source" && ("metricName" || "namespace")
    let attributes = attribute_policy(STANDARD_OR);
    assert!(attributes_match(
        &attributes,
        &[
            ("source", string("aws.cloudwatch")),
            ("metricName", string("CPUUtilization"))
        ]
    ));
    assert!(attributes_match(
        &attributes,
        &[
            ("source", string("aws.cloudwatch")),
            ("namespace", string("AWS/EC2"))
        ]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("source", string("aws.cloudwatch"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("namespace", string("AWS/EC2"))]
    ));

    let body = body_policy(STANDARD_OR);
    assert!(body_matches(
        &body,
        r#"{"source": "aws.cloudwatch", "metricName": "CPUUtilization"}"#
    ));
    assert!(body_matches(
        &body,
        r#"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"source": "aws.events", "namespace": "AWS/EC2"}"#
    ));
    assert_eq!(body.combinations(), 2);
    assert_eq!(body.keys(), ["source", "metricName", "namespace"]);
}

const OR_IN_OR: &str = r#"{
    "source": [ "aws.cloudwatch" ],
    "$or": [
      { "metricName": [ "CPUUtilization", "ReadLatency" ] },
      {
        "metricType": [ "MetricType" ] ,
        "$or" : [
          { "metricId": [ 1234, 4321 ] },
          { "spaceId": [ 1000, 2000, 3000 ] }
        ]
      }
    ]
  }"#;

#[test]
fn combinations_of_or_in_or() {
    // (source * metricName) + (source * metricType * metricId) + (source * metricType * spaceId)
    // = (1 * 2) + (1 * 1 * 2) + (1 * 1 * 3) = 7
    assert_eq!(body_policy(OR_IN_OR).combinations(), 7);
    assert_eq!(attribute_policy(OR_IN_OR).combinations(), 7);
    let body = body_policy(OR_IN_OR);
    assert!(body_matches(
        &body,
        r#"{"source": "aws.cloudwatch", "metricName": "ReadLatency"}"#
    ));
    assert!(body_matches(
        &body,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "spaceId": 2000}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"source": "aws.cloudwatch", "spaceId": 2000}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "metricId": 1}"#
    ));
}

const NESTED_OR: &str = r#"{
    "$or": [
      { "metricName": [ "CPUUtilization", "ReadLatency" ] },
      { "namespace": [ "AWS/EC2", "AWS/ES" ] }
    ],
    "detail" : {
      "scope" : [ "Service" ],
      "$or": [
        { "source": [ "aws.cloudwatch" ] },
        { "type": [ "CloudWatch Alarm State Change"] }
      ]
    }
  }"#;

#[test]
fn combinations_of_a_nested_policy_with_or() {
    // (2 * 2 * 2) + (2 * 2 * 2) + (2 * 2 * 2) + (2 * 2 * 2) = 32
    let body = body_policy(NESTED_OR);
    assert_eq!(body.combinations(), 32);
    assert_eq!(
        body.keys(),
        [
            "metricName",
            "namespace",
            "detail.scope",
            "detail.source",
            "detail.type"
        ]
    );
}

#[test]
fn a_nested_policy_with_or() {
    let body = body_policy(NESTED_OR);
    let delivered = [
        r#"{"metricName": "CPUUtilization", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}"#,
        r#"{"metricName": "ReadLatency", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}"#,
        r#"{"namespace": "AWS/EC2", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}"#,
        r#"{"namespace": "AWS/ES", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}"#,
        r#"{"metricName": "CPUUtilization", "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}"#,
    ];
    let filtered_out = [
        // wrong detail.scope
        r#"{"metricName": "CPUUtilization", "detail": {"scope": "aws.cloudwatch", "type": "CloudWatch Alarm State Change"}}"#,
        // wrong detail.type
        r#"{"metricName": "CPUUtilization", "detail": {"scope": "Service", "type": "CPUUtilization"}}"#,
        // no detail.scope
        r#"{"metricName": "CPUUtilization", "detail": {"type": "CloudWatch Alarm State Change"}}"#,
        // neither detail.source nor detail.type
        r#"{"metricName": "CPUUtilization", "detail": {"scope": "Service"}}"#,
        // scope outside detail
        r#"{"metricName": "CPUUtilization", "scope": "Service"}"#,
        // wrong metricName, wrong namespace
        r#"{"metricName": "AWS/EC2", "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}"#,
        r#"{"namespace": "CPUUtilization", "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}"#,
    ];
    for message in delivered {
        assert!(body_matches(&body, message), "{message}");
    }
    for message in filtered_out {
        assert!(!body_matches(&body, message), "{message}");
    }
}

#[test]
fn or_with_reserved_field_names_is_a_plain_key() {
    // "The following policy isn't parsed as an OR relationship because numeric and prefix are
    // reserved keywords": "$or" is then a key, whose array holds match expressions, and
    // {"numeric": 123} is not one.
    assert_eq!(
        refusal(
            r#"{"$or": [ {"numeric" : 123}, {"prefix": "abc"} ]}"#,
            Scope::MessageAttributes
        ),
        "Invalid parameter: FilterPolicy: Value of numeric must be an array. (at key \"$or\")"
    );
}

#[test]
fn or_with_one_object_is_a_plain_key() {
    // "There are at least 2 objects in the "$or" array"
    assert_eq!(
        refusal(r#"{"$or": [{"a": ["x"]}]}"#, Scope::MessageBody),
        "Invalid parameter: FilterPolicy: Unrecognized match type a (at key \"$or\")"
    );
    // "$or" holding plain values is an ordinary key named "$or".
    let literal = body_policy(r#"{"$or": ["x", "y"]}"#);
    assert!(body_matches(&literal, r#"{"$or": "y"}"#));
    assert!(!body_matches(&literal, r#"{"x": "y"}"#));
}

#[test]
fn a_later_key_overrides_an_earlier_one_in_the_same_branch() {
    // SNS reads the policy front to back, each $or alternative copying the branches so far.
    let policy = FilterPolicy::parse(
        r#"{"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]}"#,
        Scope::MessageBody,
    )
    .unwrap();
    assert!(body_matches(&policy, r#"{"a": "y"}"#));
    assert!(body_matches(&policy, r#"{"a": "x", "b": "z"}"#));
    assert!(!body_matches(&policy, r#"{"a": "x"}"#));
}
