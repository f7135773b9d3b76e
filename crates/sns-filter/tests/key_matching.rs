//! "Key matching" (`exists`) in the SNS developer guide:
//! <https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html>.

mod support;

use support::*;

#[test]
fn exists_true() {
    let policy = r#"{"store": [{"exists": true}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[
            ("store", string("fans")),
            (
                "customer_interests",
                strings(r#"["baseball", "basketball"]"#)
            ),
        ]
    ));
    assert!(!attributes_match(
        &attributes,
        &[(
            "customer_interests",
            strings(r#"["baseball", "basketball"]"#)
        )]
    ));

    let body = body_policy(policy);
    assert!(body_matches(
        &body,
        r#"{"store": "fans", "customer_interests": ["baseball", "basketball"]}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": ["baseball", "basketball"]}"#
    ));
}

#[test]
fn exists_true_needs_a_non_null_non_empty_value() {
    // "The key must have a non-null and non-empty value."
    let body = body_policy(r#"{"store": [{"exists": true}]}"#);
    assert!(!body_matches(&body, r#"{"store": null}"#));
    assert!(!body_matches(&body, r#"{"store": ""}"#));
    assert!(!body_matches(&body, r#"{"store": []}"#));
    assert!(body_matches(&body, r#"{"store": 0}"#));
    assert!(body_matches(&body, r#"{"store": false}"#));
    assert!(body_matches(&body, r#"{"store": [null, "fans"]}"#));
}

#[test]
fn exists_false() {
    let policy = r#"{"store": [{"exists": false}]}"#;
    let attributes = attribute_policy(policy);
    assert!(!attributes_match(
        &attributes,
        &[
            ("store", string("fans")),
            (
                "customer_interests",
                strings(r#"["baseball", "basketball"]"#)
            ),
        ]
    ));
    assert!(attributes_match(
        &attributes,
        &[(
            "customer_interests",
            strings(r#"["baseball", "basketball"]"#)
        )]
    ));

    let body = body_policy(policy);
    assert!(!body_matches(
        &body,
        r#"{"store": "fans", "customer_interests": ["baseball", "basketball"]}"#
    ));
    assert!(body_matches(
        &body,
        r#"{"customer_interests": ["baseball", "basketball"]}"#
    ));
}

#[test]
fn exists_false_needs_at_least_one_attribute() {
    // ""exists": false only matches if at least one attribute is present. An empty set of
    // attributes results in the filter not matching." SNS ignores Binary attributes.
    let attributes = attribute_policy(r#"{"store": [{"exists": false}]}"#);
    assert!(!attributes_match(&attributes, &[]));
    assert!(!attributes_match(
        &attributes,
        &[(
            "image",
            postoffice_sns_filter::MessageAttribute::binary("AAEC")
        )]
    ));
    assert!(attributes_match(&attributes, &[("other", number("1"))]));
}

#[test]
fn exists_false_versus_a_missing_key_and_a_null_value() {
    let body = body_policy(r#"{"payload": {"error_code": [{"exists": false}]}}"#);
    assert!(body_matches(
        &body,
        r#"{"payload": {"outcome": "completed"}}"#
    ));
    assert!(
        body_matches(&body, r#"{"event": "COOKING_FINISHED"}"#),
        "no payload at all"
    );
    assert!(
        body_matches(&body, r#"{"payload": {"error_code": null}}"#),
        "null is no value"
    );
    assert!(!body_matches(
        &body,
        r#"{"payload": {"error_code": "E21"}}"#
    ));
    // A body that is not a JSON object matches nothing, exists false included.
    assert!(!body_matches(&body, "not json"));
}

#[test]
fn exists_only_looks_at_leaf_values() {
    // "exists works only on leaf nodes (final attributes in the structure). It does not apply
    // to intermediate nodes within a nested JSON structure."
    let present = body_policy(r#"{"detail": {"c-count": [{"exists": true}]}}"#);
    let absent = body_policy(r#"{"detail": {"c-count": [{"exists": false}]}}"#);
    let intermediate = r#"{"detail": {"c-count": {"c1": 100}}}"#;
    assert!(!body_matches(&present, intermediate));
    assert!(body_matches(&absent, intermediate));
    assert!(body_matches(&present, r#"{"detail": {"c-count": 5}}"#));
}

#[test]
fn exists_false_alongside_other_keys() {
    // Payload-based filtering in the SNS blog and guide: nested keys with exists false.
    let body = body_policy(
        r#"{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]},
            "test": [{"exists": false}]}"#,
    );
    assert!(body_matches(&body, r#"{"object": {"key": "auto-test"}}"#));
    assert!(body_matches(
        &body,
        r#"{"object": {"key": "hardcodedvalue"}}"#
    ));
    assert!(!body_matches(&body, r#"{"object": {"key": "test-auto"}}"#));
    assert!(!body_matches(
        &body,
        r#"{"object": {"key": "auto-test"}, "test": "just-exists"}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"object": {"key": "auto-test", "nested_key": "just-exists"}}"#
    ));
    assert!(!body_matches(&body, r#"{"object": {"test": "auto-test"}}"#));
    assert!(!body_matches(&body, r#"{"test": "auto-test"}"#));
}
