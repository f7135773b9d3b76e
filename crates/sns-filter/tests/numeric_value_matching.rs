//! Every example of "Numeric value matching" in the SNS developer guide, with the edges of its
//! ranges: <https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html>.

mod support;

use support::*;

#[test]
fn exact_matching_however_the_number_is_written() {
    let policy = r#"{"price_usd": [{"numeric": ["=", 301.5]}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("price_usd", number("301.5"))]
    ));
    assert!(attributes_match(
        &attributes,
        &[("price_usd", number("3.015e2"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("price_usd", number("301.50001"))]
    ));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"price_usd": 301.5}"#));
    assert!(body_matches(&body, r#"{"price_usd": 3.015e2}"#));
    assert!(!body_matches(&body, r#"{"price_usd": 301.4}"#));
}

#[test]
fn plain_numbers_compare_as_numbers_never_as_strings() {
    let body = body_policy(r#"{"price": [100]}"#);
    assert!(body_matches(&body, r#"{"price": 100}"#));
    assert!(body_matches(&body, r#"{"price": 1e2}"#));
    assert!(body_matches(&body, r#"{"price": 100.0}"#));
    assert!(!body_matches(&body, r#"{"price": "100"}"#));
    let attributes = attribute_policy(r#"{"price": [{"numeric": [">=", 100]}]}"#);
    assert!(attributes_match(&attributes, &[("price", number("1e2"))]));
    // A String attribute holds a string, even when it reads as a number.
    assert!(!attributes_match(&attributes, &[("price", string("100"))]));
}

#[test]
fn anything_but_matching() {
    let policy = r#"{"price": [{"anything-but": [100, 500]}]}"#;
    let attributes = attribute_policy(policy);
    assert!(attributes_match(&attributes, &[("price", number("101"))]));
    assert!(attributes_match(&attributes, &[("price", number("100.1"))]));
    // The guide's "Number.Array" attribute: SNS's array type is String.Array, whose elements can
    // be numbers (https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html).
    assert!(attributes_match(
        &attributes,
        &[("price", strings("[100, 50]"))]
    ));
    assert!(!attributes_match(&attributes, &[("price", number("100"))]));
    assert!(!attributes_match(&attributes, &[("price", number("1e2"))]));

    let body = body_policy(policy);
    assert!(body_matches(&body, r#"{"price": 101}"#));
    assert!(body_matches(&body, r#"{"price": 100.1}"#));
    assert!(body_matches(&body, r#"{"price": [100, 50]}"#));
    assert!(!body_matches(&body, r#"{"price": 100}"#));
    assert!(!body_matches(&body, r#"{"price": [100, 500]}"#));
}

#[test]
fn negative_values() {
    let body = body_policy(r#"{"price_usd": [{"numeric": ["<", 0]}]}"#);
    assert!(body_matches(&body, r#"{"price_usd": -0.00001}"#));
    assert!(body_matches(&body, r#"{"price_usd": -1e9}"#));
    assert!(!body_matches(&body, r#"{"price_usd": 0}"#));
    assert!(!body_matches(&body, r#"{"price_usd": -0.0}"#));
    assert!(!body_matches(&body, r#"{"price_usd": "-1"}"#));
}

#[test]
fn positive_numbers_up_to_and_including_150() {
    let policy = r#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#;
    let body = body_policy(policy);
    assert!(!body_matches(&body, r#"{"price_usd": 0}"#));
    assert!(body_matches(&body, r#"{"price_usd": 0.00001}"#));
    assert!(body_matches(&body, r#"{"price_usd": 150}"#));
    assert!(body_matches(&body, r#"{"price_usd": 1.5e2}"#));
    assert!(!body_matches(&body, r#"{"price_usd": 150.00001}"#));
    let attributes = attribute_policy(policy);
    assert!(attributes_match(
        &attributes,
        &[("price_usd", number("150"))]
    ));
    assert!(!attributes_match(
        &attributes,
        &[("price_usd", number("150.00001"))]
    ));
}

#[test]
fn closed_bottom_and_open_top() {
    let body = body_policy(r#"{"n": [{"numeric": [">=", 10, "<", 20]}]}"#);
    assert!(body_matches(&body, r#"{"n": 10}"#));
    assert!(body_matches(&body, r#"{"n": 19.99999}"#));
    assert!(!body_matches(&body, r#"{"n": 20}"#));
    assert!(!body_matches(&body, r#"{"n": 9.99999}"#));
}

#[test]
fn the_documented_range_and_accuracy() {
    // "the value can range from -10^9 to 10^9 (-1 billion to 1 billion), with five digits of
    // accuracy after the decimal point"
    // (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html)
    let body = body_policy(r#"{"n": [{"numeric": [">", -1000000000, "<=", 1000000000]}]}"#);
    assert!(body_matches(&body, r#"{"n": 1000000000}"#));
    assert!(body_matches(&body, r#"{"n": -999999999.99999}"#));
    assert!(!body_matches(&body, r#"{"n": -1000000000}"#));
    let exact = body_policy(r#"{"n": [{"numeric": ["=", 999999999.99999]}]}"#);
    assert!(body_matches(&exact, r#"{"n": 999999999.99999}"#));
    assert!(!body_matches(&exact, r#"{"n": 999999999.99998}"#));
}
