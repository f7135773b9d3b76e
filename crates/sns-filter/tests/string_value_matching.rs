//! Every example of "String value matching" in the SNS developer guide, in both scopes where the
//! guide gives both: <https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html>.

mod support;

use support::*;

#[test]
fn exact_matching() {
    let policy = r#"{"customer_interests": ["rugby", "tennis"]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("rugby"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("tennis"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", strings(r#"["rugby", "tennis"]"#))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", string("baseball"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", strings(r#"["baseball"]"#))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"customer_interests": "rugby"}"#));
    assert!(body_matches(&body, r#"{"customer_interests": "tennis"}"#));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": "baseball"}"#
    ));
}

#[test]
fn exact_matching_is_case_sensitive() {
    // "For string matching in the filter policy, the comparison is case-sensitive."
    // (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html)
    let body = body_policy(r#"{"customer_interests": ["rugby"]}"#);
    assert!(!body_matches(&body, r#"{"customer_interests": "Rugby"}"#));
}

#[test]
fn anything_but_matching() {
    let policy = r#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("baseball"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("football"))]
    ));
    // "because it contains a value that isn't rugby or tennis"
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", strings(r#"["rugby", "baseball"]"#))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", string("rugby"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", strings(r#"["rugby"]"#))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"customer_interests": "baseball"}"#));
    assert!(body_matches(&body, r#"{"customer_interests": "football"}"#));
    assert!(body_matches(
        &body,
        r#"{"customer_interests": ["rugby", "baseball"]}"#
    ));
    assert!(!body_matches(&body, r#"{"customer_interests": ["rugby"]}"#));
}

#[test]
fn anything_but_needs_a_value_unless_combined_with_exists_false() {
    // "anything-but can be combined with "exists": false"
    let alone = body_policy(r#"{"customer_interests": [{"anything-but": ["rugby"]}]}"#);
    assert!(!body_matches(&alone, r#"{"store": "example_corp"}"#));
    let combined =
        body_policy(r#"{"customer_interests": [{"anything-but": ["rugby"]}, {"exists": false}]}"#);
    assert!(body_matches(&combined, r#"{"store": "example_corp"}"#));
    assert!(body_matches(
        &combined,
        r#"{"customer_interests": "tennis"}"#
    ));
    assert!(!body_matches(
        &combined,
        r#"{"customer_interests": "rugby"}"#
    ));
}

#[test]
fn anything_but_prefix() {
    let policy = r#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("event", string("data-entry"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("event", string("order_number"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("event", string("order-cancelled"))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"event": "data-entry"}"#));
    assert!(body_matches(&body, r#"{"event": "order_number"}"#));
    assert!(!body_matches(&body, r#"{"event": "order-cancelled"}"#));
}

#[test]
fn anything_but_wildcard() {
    let body = body_policy(r#"{"customer_interests": [{"anything-but": {"wildcard": "*ball"}}]}"#);
    assert!(body_matches(
        &body,
        r#"{"customer_interests": ["hockey", "rugby", "soccer"]}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": ["baseball", "basketball"]}"#
    ));
}

#[test]
fn anything_but_suffix() {
    let body = body_policy(r#"{"customer_interests": [{"anything-but": {"suffix": "ball"}}]}"#);
    assert!(body_matches(
        &body,
        r#"{"customer_interests": ["hockey", "rugby", "soccer"]}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": ["baseball", "basketball"]}"#
    ));
}

#[test]
fn equals_ignore_case_matching() {
    let policy = r#"{"customer_interests": [{"equals-ignore-case": "tennis"}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("TENNIS"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("Tennis"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", string("tennis!"))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"customer_interests": "TENNIS"}"#));
    assert!(body_matches(&body, r#"{"customer_interests": "teNnis"}"#));
    assert!(!body_matches(&body, r#"{"customer_interests": "rugby"}"#));
}

#[test]
fn ip_address_matching() {
    let policy = r#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("source_ip", string("10.0.0.0"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("source_ip", string("10.0.0.255"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("source_ip", string("10.1.1.0"))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"source_ip": "10.0.0.0"}"#));
    assert!(body_matches(&body, r#"{"source_ip": "10.0.0.255"}"#));
    assert!(!body_matches(&body, r#"{"source_ip": "10.1.1.0"}"#));
}

#[test]
fn ip_address_matching_at_the_edges_and_in_ipv6() {
    let body = body_policy(
        r#"{"$or": [{"v4": [{"cidr": "10.0.0.0/24"}]}, {"v6": [{"cidr": "2001:db8:1234:1a00::/64"}]}]}"#,
    );
    assert!(!body_matches(&body, r#"{"v4": "9.255.255.255"}"#));
    assert!(!body_matches(&body, r#"{"v4": "10.0.1.0"}"#));
    assert!(
        !body_matches(&body, r#"{"v4": "10.0.0.256"}"#),
        "not an address"
    );
    assert!(
        !body_matches(&body, r#"{"v4": "10.0.0"}"#),
        "not an address"
    );
    assert!(!body_matches(&body, r#"{"v4": 10}"#), "not a string");
    assert!(body_matches(
        &body,
        r#"{"v6": "2001:0db8:1234:1a00:0000:0000:0000:0000"}"#
    ));
    assert!(body_matches(
        &body,
        r#"{"v6": "2001:db8:1234:1a00:ffff:ffff:ffff:ffff"}"#
    ));
    assert!(!body_matches(&body, r#"{"v6": "2001:0db8:123f:1a01::"}"#));
    assert!(
        !body_matches(&body, r#"{"v4": "2001:db8:1234:1a00::1"}"#),
        "other family"
    );
}

#[test]
fn prefix_matching() {
    let policy = r#"{"customer_interests": [{"prefix": "bas"}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("baseball"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("basketball"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", string("rugby"))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"customer_interests": "baseball"}"#));
    assert!(body_matches(
        &body,
        r#"{"customer_interests": "basketball"}"#
    ));
    assert!(!body_matches(&body, r#"{"customer_interests": "rugby"}"#));
}

#[test]
fn suffix_matching() {
    let policy = r#"{"customer_interests": [{"suffix": "ball"}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("baseball"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("customer_interests", string("basketball"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("customer_interests", string("rugby"))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"customer_interests": "baseball"}"#));
    assert!(body_matches(
        &body,
        r#"{"customer_interests": "basketball"}"#
    ));
    assert!(!body_matches(&body, r#"{"customer_interests": "rugby"}"#));
}

#[test]
fn wildcard() {
    let body = body_policy(r#"{"customer_interests": [{"wildcard": "*ball"}]}"#);
    assert!(body_matches(
        &body,
        r#"{"customer_interests": ["baseball", "basketball"]}"#
    ));
    assert!(!body_matches(
        &body,
        r#"{"customer_interests": ["hockey", "rugby"]}"#
    ));
    let inside = body_policy(r#"{"file": [{"wildcard": "log-*-2026*.txt"}]}"#);
    assert!(body_matches(
        &inside,
        r#"{"file": "log-oven-1-2026-11-23.txt"}"#
    ));
    assert!(!body_matches(
        &inside,
        r#"{"file": "log-oven-1-2025-11-23.txt"}"#
    ));
}

#[test]
fn string_operators_do_not_match_numbers() {
    // "Prefixes are supported for string matching only."
    // (https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html)
    let body = body_policy(r#"{"price": [{"prefix": "1"}]}"#);
    assert!(!body_matches(&body, r#"{"price": 100}"#));
    assert!(body_matches(&body, r#"{"price": "100"}"#));
}
