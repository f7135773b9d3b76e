//! What SNS refuses, and with which message.
//!
//! Limits: "Filter policy constraints in Amazon SNS",
//! <https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html>. The
//! sentences are the ones AWS answered to `Subscribe` and `SetSubscriptionAttributes`, as
//! recorded against AWS in LocalStack's `tests/aws/services/sns/test_sns_filter_policy.snapshot.json`
//! (AWS's JSON position suffix replaced by the key).

mod support;

use postoffice_sns_filter::{FilterPolicy, FilterPolicyError, MAX_POLICY_BYTES, Scope};
use support::*;

fn refused(json: &str) -> String {
    refusal(json, Scope::MessageAttributes)
}

#[test]
fn combinations_of_the_guides_flat_policy() {
    // 3 x 1 x 2 = 6
    let policy = attribute_policy(
        r#"{"key_a": ["value_one", "value_two", "value_three"], "key_b": ["value_one"], "key_c": ["value_one", "value_two"]}"#,
    );
    assert_eq!(policy.combinations(), 6);
}

#[test]
fn combinations_of_the_guides_nested_policy() {
    // 4 (match operators of key_c) x 3 (nested level of key_c)
    // x 3 (match operators of key_e) x 2 (nested level of key_e) = 72
    let policy = body_policy(
        r#"{"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]}}"#,
    );
    assert_eq!(policy.combinations(), 72);
    assert_eq!(policy.keys(), ["key_a.key_b.key_c", "key_d.key_e"]);
}

#[test]
fn at_most_150_combinations() {
    let values = |count: usize| {
        (0..count)
            .map(|index| format!("\"value{index}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(
        attribute_policy(&format!(r#"{{"key": [{}]}}"#, values(150))).combinations(),
        150
    );
    assert_eq!(
        refused(&format!(r#"{{"key": [{}]}}"#, values(151))),
        "Invalid parameter: FilterPolicy: Filter policy is too complex \
         (key 151 = 151 combinations, at most 150)"
    );
    assert_eq!(
        refused(&format!(
            r#"{{"key1": [{}], "key2": [{}]}}"#,
            values(100),
            values(51)
        )),
        "Invalid parameter: FilterPolicy: Filter policy is too complex \
         (key1 100 × key2 51 = 5100 combinations, at most 150)"
    );
}

#[test]
fn nesting_multiplies_the_combinations() {
    // 3 x 4 x 2 x 3 x 1 x 3 = 216 with a third key of three values.
    assert_eq!(
        refusal(
            r#"{"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
                "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
                "key_f": ["value_one", "value_two", "value_three"]}"#,
            Scope::MessageBody
        ),
        "Invalid parameter: FilterPolicy: Filter policy is too complex \
         (key_a.key_b.key_c 4×3 × key_d.key_e 3×2 × key_f 3 = 216 combinations, at most 150)"
    );
}

#[test]
fn or_alternatives_add_up() {
    // Observed against AWS: (4 * 6) + (4 * 4 * 4) + (4 * 4 * 4) = 152 is refused, and
    // (3 * 6) + (3 * 4 * 4) + (3 * 4 * 7) = 150 accepted.
    let too_complex = r#"{
        "source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
            {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
             "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}]}
        ]}"#;
    assert_eq!(
        refused(too_complex),
        "Invalid parameter: FilterPolicy: Filter policy is too complex \
         (source 4 × (metricName 6 + metricType 4 × (metricId 4 + spaceId 4)) = 152 combinations, at most 150)"
    );
    let at_the_limit = r#"{
        "source": ["aws.cloudwatch", "aws.events", "aws.test"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "TestVal", "TestVal2", "TestVal3", "TestVal4"]},
            {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
             "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}
        ]}"#;
    assert_eq!(attribute_policy(at_the_limit).combinations(), 150);
    // Nested: (3 * 4 * 2) + (3 * 4 * 6) + (2 * 4 * 2) + (2 * 4 * 6) = 160.
    let nested = r#"{
        "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
        "detail": {"scope": ["Service", "Test"],
                   "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]}]}}"#;
    assert!(
        refusal(nested, Scope::MessageBody).contains("= 160 combinations"),
        "{}",
        refusal(nested, Scope::MessageBody)
    );
}

#[test]
fn a_policy_of_many_ors_is_refused_before_it_is_multiplied_out() {
    // The same "$or" key 60 times (JSON allows it, SNS reads each): 2^60 branches if
    // multiplied out, with three keys only.
    let mut policy = String::from(r#"{"k": ["v"]"#);
    for _ in 0..60 {
        policy.push_str(r#", "$or": [{"a": ["1"]}, {"b": ["2"]}]"#);
    }
    policy.push('}');
    match FilterPolicy::parse(&policy, Scope::MessageBody).unwrap_err() {
        FilterPolicyError::TooComplex {
            combinations,
            computation,
        } => {
            assert_eq!(combinations, 1 << 60);
            assert!(computation.starts_with("k 1 × (a 1 + b 1) × (a 1 + b 1)"));
            assert!(computation.ends_with('…'));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn at_most_five_keys() {
    assert_eq!(
        refused(
            r#"{"key_a": ["value_one"], "key_b": ["value_two"], "key_c": ["value_three"],
                "key_d": ["value_four"], "key_e": ["value_five"], "key_f": ["value_six"]}"#
        ),
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys \
         (6 keys: key_a, key_b, key_c, key_d, key_e, key_f)"
    );
    // "For a nested policy, only leaf keys are counted towards the five key limit."
    let nested = body_policy(
        r#"{"a": {"b": {"c": ["1"], "d": ["2"]}, "e": ["3"]}, "f": {"g": ["4"], "h": ["5"]}}"#,
    );
    assert_eq!(nested.keys().len(), 5);
    assert!(
        FilterPolicy::parse(
            r#"{"a": {"b": {"c": ["1"], "d": ["2"]}, "e": ["3"]}, "f": {"g": ["4"], "h": ["5"], "i": ["6"]}}"#,
            Scope::MessageBody
        )
        .is_err()
    );
}

#[test]
fn nested_policies_only_for_the_body() {
    // "Amazon SNS doesn't accept a nested filter policy for attribute-based filtering."
    let nested = r#"{"object": {"key": [{"prefix": "auto-"}]}}"#;
    assert_eq!(
        refused(nested),
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested \
         filter policy (at key \"object\")"
    );
    body_policy(nested);
}

#[test]
fn at_most_256_kb() {
    let padding = " ".repeat(MAX_POLICY_BYTES);
    let too_large = format!(r#"{{"key": ["value"]}}{padding}"#);
    assert_eq!(
        FilterPolicy::parse(&too_large, Scope::MessageBody).unwrap_err(),
        FilterPolicyError::TooLarge {
            bytes: MAX_POLICY_BYTES + 18
        }
    );
    let at_the_limit = format!(r#"{{"key": ["value"]}}{}"#, &padding[18..]);
    assert_eq!(at_the_limit.len(), MAX_POLICY_BYTES);
    body_policy(&at_the_limit);
}

#[test]
fn wildcard_complexity() {
    // The guide's example field: (1 + 1) × 2 = 4 points.
    body_policy(r#"{"greeting": [{"anything-but": {"prefix": "Hello"}}, {"wildcard": "H*"}]}"#);
    // "Maximum 3 wildcards per pattern"
    assert_eq!(
        refused(r#"{"file": [{"wildcard": "*a*b*c*"}]}"#),
        "Invalid parameter: FilterPolicy: Too many wildcards in \"*a*b*c*\": 4, at most 3 a \
         pattern (at key \"file\")"
    );
    // Six multi-wildcard patterns: (6 × 3) × 6 = 108 points.
    let six = (0..6)
        .map(|index| format!(r#"{{"wildcard": "*{index}*"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        refused(&format!(r#"{{"file": [{six}]}}"#)),
        "Invalid parameter: FilterPolicy: Filter policy is too complex (wildcard complexity 108, \
         at most 100: file 18×6)"
    );
    // Five of them: 15 × 5 = 75 points.
    let five = (0..5)
        .map(|index| format!(r#"{{"wildcard": "*{index}*"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    attribute_policy(&format!(r#"{{"file": [{five}]}}"#));
}

#[test]
fn keys_and_values_sns_refuses() {
    let cases = [
        (
            r#"{"key": [["value"]]}"#,
            "Match value must be String, number, true, false, or null (at key \"key\")",
        ),
        (
            r#"{"key": [{"wrong-operator": true}]}"#,
            "Unrecognized match type wrong-operator (at key \"key\")",
        ),
        (
            r#"{"key": [{"suffix": "value", "prefix": "value2"}]}"#,
            "Only one key allowed in match expression (at key \"key\")",
        ),
        (
            r#"{"key": []}"#,
            "Empty arrays are not allowed (at key \"key\")",
        ),
        (
            r#"{"key": [{"suffix": 100}]}"#,
            "suffix match pattern must be a string (at key \"key\")",
        ),
        (
            r#"{"key": [{"suffix": null}]}"#,
            "suffix match pattern must be a string (at key \"key\")",
        ),
        (
            r#"{"key": [{"suffix": []}]}"#,
            "suffix match pattern must be a string (at key \"key\")",
        ),
        (
            r#"{"key": [{"suffix": ["test", "test2"]}]}"#,
            "suffix match pattern must be a string (at key \"key\")",
        ),
        (
            r#"{"key": {"suffix": "value"}}"#,
            "\"suffix\" must be an object or an array (at key \"key.suffix\")",
        ),
        (
            r#"{"key": {"not-an-operator": "value"}}"#,
            "\"not-an-operator\" must be an object or an array (at key \"key.not-an-operator\")",
        ),
        (
            r#"{"key_a": "value_one"}"#,
            "\"key_a\" must be an object or an array (at key \"key_a\")",
        ),
        (
            r#"{"key": [{"cidr": ["bad-filter"]}]}"#,
            "prefix match pattern must be a string (at key \"key\")",
        ),
        (
            r#"{"key": [{"cidr": "bad-filter"}]}"#,
            "Malformed CIDR, one '/' required (at key \"key\")",
        ),
        (
            r#"{"key": [{"cidr": "bad-filter/64"}]}"#,
            "Nonstandard IP address: bad-filter (at key \"key\")",
        ),
        (
            r#"{"key": [{"cidr": "bad-/64filter"}]}"#,
            "Malformed CIDR, mask bits must be an integer (at key \"key\")",
        ),
        (
            r#"{"key": [{"cidr": "xx.11.xx/8"}]}"#,
            "Nonstandard IP address: xx.11.xx (at key \"key\")",
        ),
        (
            r#"{"key": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}"#,
            "Nonstandard IP address: xxxx:db8:1234:1a00:: (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": []}]}"#,
            "Invalid member in numeric match: ] (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": ["operator"]}]}"#,
            "Unrecognized numeric range operator: operator (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [1, "<="]}]}"#,
            "Invalid member in numeric match: 1 (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": ["=", "000"]}]}"#,
            "Value of equals must be numeric (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">="]}]}"#,
            "Value of >= must be numeric (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": ["<", 100, ">", 10]}]}"#,
            "Too many elements in numeric expression (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">=", 1, ">", 2]}]}"#,
            "Bad numeric range operator: > (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", 3, "<", 1]}]}"#,
            "Bottom must be less than top (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", 20, "<="]}]}"#,
            "Value of <= must be numeric (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", 20, 30]}]}"#,
            "Bad value in numeric range: 30 (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", 20, "test"]}]}"#,
            "Bad numeric range operator: test (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", "20", "<", "30"]}]}"#,
            "Value of > must be numeric (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", 20, "<", "30"]}]}"#,
            "Value of < must be numeric (at key \"key\")",
        ),
        (
            r#"{"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]}"#,
            "Too many terms in numeric range expression (at key \"key\")",
        ),
        (
            r#"{"key": [{"exists": null}]}"#,
            "exists match pattern must be either true or false. (at key \"key\")",
        ),
        (
            r#"{"key": [{"exists": "no"}]}"#,
            "exists match pattern must be either true or false. (at key \"key\")",
        ),
        (
            r#"{"key": [{"anything-but": {"wrong-operator": null}}]}"#,
            "Unsupported anything-but pattern: wrong-operator (at key \"key\")",
        ),
        (
            r#"{"key": [{"anything-but": {"exists": false}}]}"#,
            "Unsupported anything-but pattern: exists (at key \"key\")",
        ),
    ];
    for (policy, reason) in cases {
        assert_eq!(
            refused(policy),
            format!("Invalid parameter: FilterPolicy: {reason}"),
            "{policy}"
        );
    }
}

#[test]
fn more_values_sns_refuses() {
    let cases = [
        (
            r#"{"key": [{"numeric": [">", 5, "<=", 5]}]}"#,
            "Bottom must be less than top",
        ),
        (
            r#"{"key": [{"numeric": 5}]}"#,
            "Value of numeric must be an array.",
        ),
        (
            r#"{"key": [{"numeric": ["=", 5], "x": 1}]}"#,
            "Too many elements in numeric expression",
        ),
        (r#"{"key": [{}]}"#, "Match expression name not found"),
        (
            r#"{"key": [{"anything-but": ["a", 1]}]}"#,
            "Inside anything but list, either all values are number or string, mixed type is not supported",
        ),
        (
            r#"{"key": [{"anything-but": []}]}"#,
            "Inside anything but list, either all values are number or string, mixed type is not supported",
        ),
        (
            r#"{"key": [{"anything-but": [null]}]}"#,
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            r#"{"key": [{"anything-but": true}]}"#,
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            r#"{"key": [{"anything-but": {"prefix": ""}}]}"#,
            "Null prefix/suffix not allowed",
        ),
        (
            r#"{"key": [{"anything-but": {"prefix": false}}]}"#,
            "prefix/suffix match pattern must be a string",
        ),
        (
            r#"{"key": [{"anything-but": {}}]}"#,
            "Anything-But expression name not found",
        ),
        (
            r#"{"key": [{"equals-ignore-case": 1}]}"#,
            "equals-ignore-case match pattern must be a string",
        ),
        (
            r#"{"key": [{"wildcard": "a**"}]}"#,
            "Consecutive wildcard characters at pos 2",
        ),
        (
            r#"{"key": [{"cidr": "10.0.0.0/32"}]}"#,
            "IPv4 mask bits must be < 32",
        ),
        (
            r#"{"key": [{"cidr": "10.0.0.300/8"}]}"#,
            "Invalid IP address: 10.0.0.300",
        ),
    ];
    for (policy, reason) in cases {
        assert_eq!(
            refused(policy),
            format!("Invalid parameter: FilterPolicy: {reason} (at key \"key\")"),
            "{policy}"
        );
    }
}

#[test]
fn operators_the_guide_does_not_document_are_refused() {
    // event-ruler knows these; the SNS guide does not, so a policy using them might be refused
    // by AWS after working locally.
    let cases = [
        (
            r#"{"key": [{"prefix": {"equals-ignore-case": "x"}}]}"#,
            "prefix match pattern must be a string",
        ),
        (
            r#"{"key": [{"suffix": {"equals-ignore-case": "x"}}]}"#,
            "suffix match pattern must be a string",
        ),
        (
            r#"{"key": [{"anything-but": {"equals-ignore-case": "x"}}]}"#,
            "Unsupported anything-but pattern: equals-ignore-case",
        ),
        (
            r#"{"key": [{"anything-but": {"prefix": ["a", "b"]}}]}"#,
            "prefix/suffix match pattern must be a string",
        ),
        (
            r#"{"key": [{"anything-but": {"wildcard": ["*a"]}}]}"#,
            "wildcard match pattern must be a string",
        ),
        (
            r#"{"key": [{"exactly": "x"}]}"#,
            "Unrecognized match type exactly",
        ),
    ];
    for (policy, reason) in cases {
        assert_eq!(
            refused(policy),
            format!("Invalid parameter: FilterPolicy: {reason} (at key \"key\")"),
            "{policy}"
        );
    }
}

#[test]
fn policies_that_are_not_json_objects() {
    assert!(
        refused("{invalid").starts_with("Invalid parameter: FilterPolicy: failed to parse JSON. ")
    );
    assert!(refused("").starts_with("Invalid parameter: FilterPolicy: failed to parse JSON. "));
    assert_eq!(
        refused("[]"),
        "Invalid parameter: FilterPolicy: Filter is not an object"
    );
    assert_eq!(
        refused("{}"),
        "Invalid parameter: FilterPolicy: Empty objects are not allowed"
    );
    assert_eq!(
        refusal(r#"{"a": {}}"#, Scope::MessageBody),
        "Invalid parameter: FilterPolicy: Empty objects are not allowed (at key \"a\")"
    );
}

#[test]
fn subscribe_words_the_same_refusal_differently() {
    let error = FilterPolicy::parse(r#"{"key": []}"#, Scope::MessageAttributes).unwrap_err();
    assert_eq!(
        error.subscribe_message(),
        "Invalid parameter: Attributes Reason: FilterPolicy: Empty arrays are not allowed (at key \"key\")"
    );
}

#[test]
fn filter_policy_scope_values() {
    assert_eq!(Scope::parse("MessageBody").unwrap(), Scope::MessageBody);
    assert_eq!(
        "MessageAttributes".parse::<Scope>().unwrap(),
        Scope::MessageAttributes
    );
    assert_eq!(Scope::default(), Scope::MessageAttributes);
    assert_eq!(
        Scope::parse("RandomValue").unwrap_err().to_string(),
        "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. Please use either \
         MessageBody or MessageAttributes"
    );
}

#[test]
fn the_first_mistake_in_the_text_is_the_one_reported() {
    assert_eq!(
        refused(r#"{"a": [{"prefix": 1}], "b": [], "c": {"d": ["x"]}}"#),
        "Invalid parameter: FilterPolicy: prefix match pattern must be a string (at key \"a\")"
    );
    // Mistakes in keys and values come before nesting under MessageAttributes.
    assert_eq!(
        refused(r#"{"c": {"d": ["x"]}, "b": []}"#),
        "Invalid parameter: FilterPolicy: Empty arrays are not allowed (at key \"b\")"
    );
}
