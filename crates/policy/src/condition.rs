//! The `Condition` element: operators, their values, and their evaluation against the request
//! context, following "IAM JSON policy elements: Condition operators"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>)
//! and "Conditions with multiple context keys or values"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html>).

use std::borrow::Cow;

use base64::Engine as _;

use crate::PolicyError;
use crate::context::{ContextValue, lowercase, parse_bool};
use crate::json::Json;
use crate::pattern::{ArnPattern, Syntax, Template};
use crate::request::arn_segments;
use crate::value::{Cidr, Timestamp};

/// One operator applied to one key: `"StringEquals": {"aws:SourceAccount": "123456789012"}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// The operator as written, `ForAnyValue:StringLike` included.
    pub(crate) operator: Box<str>,
    /// The key as written.
    pub(crate) key: Box<str>,
    lowercase_key: Box<str>,
    set: SetOperator,
    if_exists: bool,
    /// `StringNotEquals`, `NotIpAddress`, ...: true when no policy value matches (logical NOR).
    negated: bool,
    test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    Single,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringMatch {
    Equals,
    EqualsIgnoreCase,
    Like,
}

/// The positive test of an operator with its policy values, compiled at parse time.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Strings(StringMatch, Vec<Template>),
    Numbers(Compare, Vec<f64>),
    Dates(Compare, Vec<Timestamp>),
    Bools(Vec<Template>),
    Binary(Vec<Vec<u8>>),
    Ips(Vec<Cidr>),
    Arns(Vec<ArnPattern>),
    /// `Null`: each value says whether the key must be absent.
    Null(Vec<bool>),
}

/// What `Test` an operator name stands for, and whether it is negated.
fn operator_test(name: &str) -> Option<(Kind, bool)> {
    use Compare::*;
    let (kind, negated) = match name {
        "StringEquals" => (Kind::String(StringMatch::Equals), false),
        "StringNotEquals" => (Kind::String(StringMatch::Equals), true),
        "StringEqualsIgnoreCase" => (Kind::String(StringMatch::EqualsIgnoreCase), false),
        "StringNotEqualsIgnoreCase" => (Kind::String(StringMatch::EqualsIgnoreCase), true),
        "StringLike" => (Kind::String(StringMatch::Like), false),
        "StringNotLike" => (Kind::String(StringMatch::Like), true),
        "NumericEquals" => (Kind::Numeric(Equal), false),
        "NumericNotEquals" => (Kind::Numeric(Equal), true),
        "NumericLessThan" => (Kind::Numeric(Less), false),
        "NumericLessThanEquals" => (Kind::Numeric(LessOrEqual), false),
        "NumericGreaterThan" => (Kind::Numeric(Greater), false),
        "NumericGreaterThanEquals" => (Kind::Numeric(GreaterOrEqual), false),
        "DateEquals" => (Kind::Date(Equal), false),
        "DateNotEquals" => (Kind::Date(Equal), true),
        "DateLessThan" => (Kind::Date(Less), false),
        "DateLessThanEquals" => (Kind::Date(LessOrEqual), false),
        "DateGreaterThan" => (Kind::Date(Greater), false),
        "DateGreaterThanEquals" => (Kind::Date(GreaterOrEqual), false),
        "Bool" => (Kind::Bool, false),
        "BinaryEquals" => (Kind::Binary, false),
        "IpAddress" => (Kind::Ip, false),
        "NotIpAddress" => (Kind::Ip, true),
        "ArnEquals" | "ArnLike" => (Kind::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Kind::Arn, true),
        "Null" => (Kind::Null, false),
        _ => return None,
    };
    Some((kind, negated))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    String(StringMatch),
    Numeric(Compare),
    Date(Compare),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl Condition {
    /// Parses the `Condition` element of a statement: every operator, every key.
    pub(crate) fn parse_block(
        json: &Json,
        path: &str,
        variables: bool,
    ) -> Result<Vec<Condition>, PolicyError> {
        let mut conditions = Vec::new();
        for (operator, keys) in json.members(path)? {
            let operator_path = format!("{path}.{operator}");
            let (set, if_exists, kind, negated) = parse_operator(operator, &operator_path)?;
            let members = keys.members(&operator_path)?;
            if members.is_empty() {
                return Err(PolicyError::invalid(
                    &operator_path,
                    "must name at least one condition key",
                ));
            }
            for (key, values) in members {
                let key_path = format!("{operator_path}.{key}");
                if key.trim().is_empty() {
                    return Err(PolicyError::invalid(
                        &key_path,
                        "the condition key is empty",
                    ));
                }
                let texts = value_texts(values, &key_path)?;
                let test = compile_test(kind, &texts, &key_path, variables)?;
                conditions.push(Condition {
                    operator: operator.as_str().into(),
                    key: key.as_str().into(),
                    lowercase_key: lowercase(key).into(),
                    set,
                    if_exists,
                    negated,
                    test,
                });
            }
        }
        Ok(conditions)
    }

    /// Whether the condition holds for the request whose context `lookup` reads.
    pub(crate) fn holds<'r>(
        &self,
        lookup: &dyn Fn(&str) -> Option<&'r [ContextValue]>,
        resolve: &dyn Fn(&str) -> Option<Cow<'r, str>>,
    ) -> bool {
        let values = lookup(&self.lowercase_key).filter(|values| !values.is_empty());
        if let Test::Null(expected_absent) = &self.test {
            let absent = values.is_none();
            return expected_absent.contains(&absent);
        }
        let Some(values) = values else {
            // "If the key that you specify in a policy condition is not present in the request
            // context, the values do not match and the condition is false. If the policy
            // condition requires that the key is not matched ... the condition is true."
            // ForAllValues is true over a missing key or an empty set, ForAnyValue false.
            // IfExists comes first: "If the key is not present, evaluate the condition element
            // as true", whatever the set operator (the documentation gives no exception).
            return match self.set {
                _ if self.if_exists => true,
                SetOperator::ForAllValues => true,
                SetOperator::ForAnyValue => false,
                SetOperator::Single => self.negated,
            };
        };
        let satisfied =
            |value: &ContextValue| self.negated != self.test.any_matches(value, resolve);
        match self.set {
            SetOperator::ForAllValues => values.iter().all(satisfied),
            SetOperator::ForAnyValue => values.iter().any(satisfied),
            // Without a set operator a multivalued key matches when any of its values does; a
            // negated operator when none does.
            SetOperator::Single => {
                let any = values
                    .iter()
                    .any(|value| self.test.any_matches(value, resolve));
                any != self.negated
            }
        }
    }
}

impl Test {
    /// Whether `value` matches at least one policy value (values of one key are ORed).
    fn any_matches<'r>(
        &self,
        value: &ContextValue,
        resolve: &dyn Fn(&str) -> Option<Cow<'r, str>>,
    ) -> bool {
        match self {
            Test::Strings(StringMatch::Equals, patterns) => {
                let text = value.as_text();
                patterns
                    .iter()
                    .any(|pattern| pattern.matches(&text, false, resolve))
            }
            Test::Strings(StringMatch::Like, patterns) => {
                let text = value.as_text();
                patterns
                    .iter()
                    .any(|pattern| pattern.matches(&text, false, resolve))
            }
            Test::Strings(StringMatch::EqualsIgnoreCase, patterns) => {
                let text = value.as_text().to_lowercase();
                patterns.iter().any(|pattern| {
                    pattern
                        .resolve(resolve)
                        .is_some_and(|expected| expected.to_lowercase() == text)
                })
            }
            Test::Numbers(compare, numbers) => value.as_number().is_some_and(|actual| {
                numbers
                    .iter()
                    .any(|expected| compare.holds(actual.partial_cmp(expected)))
            }),
            Test::Dates(compare, dates) => value.as_date().is_some_and(|actual| {
                dates
                    .iter()
                    .any(|expected| compare.holds(Some(actual.cmp(expected))))
            }),
            Test::Bools(patterns) => value.as_bool().is_some_and(|actual| {
                patterns.iter().any(|pattern| {
                    pattern.resolve(resolve).and_then(|text| parse_bool(&text)) == Some(actual)
                })
            }),
            Test::Binary(expected) => {
                let bytes = value.as_bytes();
                expected.iter().any(|expected| **expected == *bytes)
            }
            Test::Ips(ranges) => value
                .as_ip()
                .is_some_and(|address| ranges.iter().any(|range| range.contains(address))),
            Test::Arns(patterns) => {
                let text = value.as_text();
                let segments =
                    arn_segments(&text).map(|ranges| ranges.map(|(start, end)| &text[start..end]));
                patterns
                    .iter()
                    .any(|pattern| pattern.matches(&text, segments, resolve))
            }
            Test::Null(_) => false,
        }
    }
}

impl Compare {
    fn holds(self, ordering: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::*;
        matches!(
            (self, ordering),
            (Compare::Equal, Some(Equal))
                | (Compare::Less, Some(Less))
                | (Compare::LessOrEqual, Some(Less | Equal))
                | (Compare::Greater, Some(Greater))
                | (Compare::GreaterOrEqual, Some(Greater | Equal))
        )
    }
}

fn parse_operator(
    operator: &str,
    path: &str,
) -> Result<(SetOperator, bool, Kind, bool), PolicyError> {
    let unknown = || PolicyError::UnknownConditionOperator {
        path: path.to_owned(),
        operator: operator.to_owned(),
    };
    let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (SetOperator::ForAllValues, rest)
    } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (SetOperator::ForAnyValue, rest)
    } else {
        (SetOperator::Single, operator)
    };
    // "You can add IfExists to the end of any condition operator name except the Null condition".
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) if base != "Null" => (base, true),
        Some(_) => return Err(unknown()),
        None => (rest, false),
    };
    let (kind, negated) = operator_test(base).ok_or_else(unknown)?;
    if matches!(kind, Kind::Null) && set != SetOperator::Single {
        return Err(unknown());
    }
    Ok((set, if_exists, kind, negated))
}

/// Condition values: a string, number or boolean ("Quotation marks are optional for numeric and
/// Boolean values"), or a non-empty array of them.
fn value_texts(values: &Json, path: &str) -> Result<Vec<String>, PolicyError> {
    let scalar = |value: &Json| match value {
        Json::String(text) => Ok(text.clone()),
        Json::Number(number) => Ok(number.clone()),
        Json::Bool(value) => Ok(value.to_string()),
        other => Err(PolicyError::invalid(
            path,
            format!(
                "a condition value is a string, number or boolean, not {}",
                other.kind()
            ),
        )),
    };
    match values {
        Json::Array(items) if items.is_empty() => {
            Err(PolicyError::invalid(path, "must list at least one value"))
        }
        Json::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|text| vec![text]),
    }
}

fn compile_test(
    kind: Kind,
    texts: &[String],
    path: &str,
    variables: bool,
) -> Result<Test, PolicyError> {
    // Policy variables work with string and ARN operators (and Bool, per the Boolean section of
    // the condition operators page); numeric, date, binary, IP and Null values are literal.
    let syntax = |wildcards| Syntax {
        wildcards,
        variables,
    };
    let parse_each = |what: &str, parse: &dyn Fn(&str) -> bool| {
        texts
            .iter()
            .find(|text| !parse(text))
            .map_or(Ok(()), |bad| {
                Err(PolicyError::invalid(path, format!("{bad:?} is not {what}")))
            })
    };
    Ok(match kind {
        Kind::String(how) => Test::Strings(
            how,
            texts
                .iter()
                .map(|text| Template::compile(text, syntax(how == StringMatch::Like)))
                .collect(),
        ),
        Kind::Numeric(compare) => {
            parse_each("a number", &|text| text.trim().parse::<f64>().is_ok())?;
            Test::Numbers(
                compare,
                texts
                    .iter()
                    .filter_map(|text| text.trim().parse().ok())
                    .collect(),
            )
        }
        Kind::Date(compare) => {
            parse_each("a date (ISO 8601 or epoch seconds)", &|text| {
                Timestamp::parse(text).is_some()
            })?;
            Test::Dates(
                compare,
                texts
                    .iter()
                    .filter_map(|text| Timestamp::parse(text))
                    .collect(),
            )
        }
        Kind::Bool => {
            let templates: Vec<Template> = texts
                .iter()
                .map(|text| Template::compile(text, syntax(false)))
                .collect();
            let bad = templates.iter().zip(texts).find(|(template, _)| {
                template
                    .as_literal()
                    .is_some_and(|literal| parse_bool(literal).is_none())
            });
            if let Some((_, text)) = bad {
                return Err(PolicyError::invalid(
                    path,
                    format!("{text:?} is not true or false"),
                ));
            }
            Test::Bools(templates)
        }
        Kind::Binary => {
            let engine = base64::engine::general_purpose::STANDARD;
            parse_each("base64", &|text| engine.decode(text).is_ok())?;
            Test::Binary(
                texts
                    .iter()
                    .filter_map(|text| engine.decode(text).ok())
                    .collect(),
            )
        }
        Kind::Ip => {
            parse_each("an IP address or CIDR range", &|text| {
                Cidr::parse(text).is_some()
            })?;
            Test::Ips(texts.iter().filter_map(|text| Cidr::parse(text)).collect())
        }
        Kind::Arn => Test::Arns(
            texts
                .iter()
                .map(|text| ArnPattern::compile(text, syntax(true)))
                .collect(),
        ),
        Kind::Null => {
            parse_each("true or false", &|text| parse_bool(text).is_some())?;
            Test::Null(texts.iter().filter_map(|text| parse_bool(text)).collect())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;

    fn conditions(block: &str) -> Vec<Condition> {
        Condition::parse_block(&Json::parse(block).unwrap(), "Condition", true).unwrap()
    }

    fn holds(block: &str, context: &Context) -> bool {
        conditions(block).iter().all(|condition| {
            condition.holds(&|key| context.get_lowercase(key), &|key| {
                context
                    .get_lowercase(key)
                    .filter(|values| values.len() == 1)
                    .map(|values| values[0].as_text())
            })
        })
    }

    #[test]
    fn a_missing_key_fails_positive_operators_and_satisfies_negated_ones() {
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
        let empty = Context::new();
        assert!(!holds(
            r#"{"StringEquals": {"aws:SourceAccount": "1"}}"#,
            &empty
        ));
        assert!(holds(
            r#"{"StringNotEquals": {"aws:SourceAccount": "1"}}"#,
            &empty
        ));
        assert!(holds(
            r#"{"StringNotLike": {"aws:SourceArn": "arn:*"}}"#,
            &empty
        ));
        assert!(!holds(
            r#"{"NumericLessThan": {"s3:max-keys": "10"}}"#,
            &empty
        ));
    }

    #[test]
    fn if_exists_is_true_for_a_missing_key_and_tests_a_present_one() {
        // "If the key is not present, evaluate the condition element as true."
        let block = r#"{"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}"#;
        assert!(holds(block, &Context::new()));
        assert!(holds(
            block,
            &Context::new().with("ec2:InstanceType", "t2.micro")
        ));
        assert!(!holds(
            block,
            &Context::new().with("ec2:InstanceType", "c5.large")
        ));
    }

    #[test]
    fn null_tests_presence_of_the_key() {
        // "Null": {"aws:TokenIssueTime": "true"}: the user must not use temporary credentials.
        let block = r#"{"Null": {"aws:TokenIssueTime": "true"}}"#;
        assert!(holds(block, &Context::new()));
        assert!(!holds(
            block,
            &Context::new().with("aws:TokenIssueTime", "2026-01-01T00:00:00Z")
        ));
        let present = r#"{"Null": {"aws:TokenIssueTime": false}}"#;
        assert!(holds(
            present,
            &Context::new().with("aws:TokenIssueTime", "2026-01-01T00:00:00Z")
        ));
        assert!(!holds(present, &Context::new()));
    }

    #[test]
    fn several_keys_and_operators_are_anded_values_of_one_key_ored() {
        // The example of "Evaluation logic for conditions with multiple keys or values".
        let block = r#"{
            "StringEqualsIgnoreCase": {
                "aws:PrincipalTag/department": ["finance", "hr", "legal"],
                "aws:PrincipalTag/role": ["audit", "security"]
            },
            "StringEquals": {"aws:PrincipalAccount": "123456789012"}
        }"#;
        let context = Context::new()
            .with("aws:PrincipalTag/department", "HR")
            .with("aws:PrincipalTag/role", "audit")
            .with("aws:PrincipalAccount", "123456789012");
        assert!(holds(block, &context));
        assert!(!holds(
            block,
            &context.clone().with("aws:PrincipalTag/role", "developer")
        ));
        assert!(!holds(
            block,
            &context.with("aws:PrincipalAccount", "210987654321")
        ));
    }

    #[test]
    fn negated_operators_with_several_values_are_a_nor() {
        // "the string cannot match any of the aws:PrincipalAccount values listed"
        let block =
            r#"{"StringNotEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}"#;
        assert!(!holds(
            block,
            &Context::new().with("aws:PrincipalAccount", "111122223333")
        ));
        assert!(!holds(
            block,
            &Context::new().with("aws:PrincipalAccount", "444455556666")
        ));
        assert!(holds(
            block,
            &Context::new().with("aws:PrincipalAccount", "999999999999")
        ));
    }

    #[test]
    fn for_all_values_and_for_any_value_follow_the_dynamodb_examples() {
        let all = r#"{"ForAllValues:StringEquals": {"dynamodb:Attributes": ["PostDateTime", "Message", "Tags"]}}"#;
        let requested = |attributes: &[&str]| {
            Context::new().with_values("dynamodb:Attributes", attributes.iter().copied())
        };
        assert!(holds(all, &requested(&["Message", "Tags"])));
        assert!(!holds(all, &requested(&["PostDateTime", "UserName"])));
        // "It also returns true if there are no keys in the request, or if the key values
        // resolve to a null data set"
        assert!(holds(all, &Context::new()));
        assert!(holds(all, &requested(&[])));

        let any =
            r#"{"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}"#;
        assert!(holds(
            any,
            &requested(&["UserName", "Message", "PostDateTime"])
        ));
        assert!(!holds(any, &requested(&["UserName"])));
        assert!(!holds(any, &Context::new()));
        assert!(!holds(any, &requested(&[])));
    }

    #[test]
    fn for_all_values_with_a_negated_operator_requires_every_value_to_match_none() {
        // The aws:TagKeys table of "Multivalued context keys examples": ForAllValues:StringNotLike
        // "key1*" does not match [key1:legal] nor [key1:hr, key1:personnel], matches
        // [key2:audit] and a request without aws:TagKeys.
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
        let block = r#"{"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}"#;
        let tags = |keys: &[&str]| Context::new().with_values("aws:TagKeys", keys.iter().copied());
        assert!(!holds(block, &tags(&["key1:legal"])));
        assert!(!holds(block, &tags(&["key1:hr", "key1:personnel"])));
        assert!(holds(block, &tags(&["key2:audit"])));
        assert!(holds(block, &Context::new()));
    }

    #[test]
    fn key_names_are_case_insensitive_values_case_sensitive() {
        // "Users named JohnDoe are denied access" with StringEquals "johndoe";
        // StringEqualsIgnoreCase matches both.
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
        let exact = r#"{"StringEquals": {"AWS:USERNAME": "johndoe"}}"#;
        assert!(holds(
            exact,
            &Context::new().with("aws:username", "johndoe")
        ));
        assert!(!holds(
            exact,
            &Context::new().with("aws:username", "JohnDoe")
        ));
        let ignoring = r#"{"StringEqualsIgnoreCase": {"aws:username": "johndoe"}}"#;
        assert!(holds(
            ignoring,
            &Context::new().with("aws:username", "JohnDoe")
        ));
    }

    #[test]
    fn bool_compares_booleans_given_as_strings_or_json() {
        let block = r#"{"Bool": {"aws:SecureTransport": "false"}}"#;
        assert!(holds(
            block,
            &Context::new().with("aws:SecureTransport", false)
        ));
        assert!(!holds(
            block,
            &Context::new().with("aws:SecureTransport", true)
        ));
        assert!(holds(
            r#"{"Bool": {"aws:SecureTransport": false}}"#,
            &Context::new().with("aws:SecureTransport", "false")
        ));
    }

    #[test]
    fn arn_operators_match_segment_by_segment_unlike_string_like() {
        // The example of the ARN condition operators section: StringLike matches, ArnLike does
        // not, because "*" cannot span the colons between segments.
        let value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        let context = Context::new().with("aws:SourceArn", value);
        assert!(holds(
            r#"{"StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}"#,
            &context
        ));
        assert!(!holds(
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}"#,
            &context
        ));
        let topic = Context::new().with(
            "aws:SourceArn",
            "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
        );
        assert!(holds(
            r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"}}"#,
            &topic
        ));
        assert!(holds(
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:postoffice-*"}}"#,
            &topic
        ));
        assert!(!holds(
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:210987654321:*"}}"#,
            &topic
        ));
        assert!(holds(
            r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:210987654321:*"}}"#,
            &topic
        ));
        assert!(!holds(
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}"#,
            &Context::new().with("aws:SourceArn", "not-an-arn")
        ));
    }

    #[test]
    fn numeric_date_ip_and_binary_operators_compare_typed_values() {
        assert!(holds(
            r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#,
            &Context::new().with("s3:max-keys", 10i64)
        ));
        assert!(!holds(
            r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#,
            &Context::new().with("s3:max-keys", "11")
        ));
        assert!(!holds(
            r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#,
            &Context::new().with("s3:max-keys", "ten")
        ));
        assert!(holds(
            r#"{"NumericNotEquals": {"s3:max-keys": 10}}"#,
            &Context::new().with("s3:max-keys", 9.5)
        ));
        let issued = Context::new().with(
            "aws:TokenIssueTime",
            Timestamp::parse("2020-06-01T00:00:00Z").unwrap(),
        );
        assert!(holds(
            r#"{"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}"#,
            &issued
        ));
        assert!(!holds(
            r#"{"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}"#,
            &issued
        ));
        assert!(holds(
            r#"{"DateLessThan": {"aws:CurrentTime": "1600000000"}}"#,
            &Context::new().with("aws:CurrentTime", "2020-01-01T00:00:00Z")
        ));
        let source = Context::new().with(
            "aws:SourceIp",
            "203.0.113.9".parse::<std::net::IpAddr>().unwrap(),
        );
        assert!(holds(
            r#"{"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}"#,
            &source
        ));
        assert!(!holds(
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &source
        ));
        assert!(holds(
            r#"{"BinaryEquals": {"k": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
            &Context::new().with("k", "BinaryValueInBase64")
        ));
    }

    #[test]
    fn variables_in_string_values_resolve_and_missing_ones_match_nothing() {
        // "When you use a variable with no value in the condition element ... StringEquals or
        // StringLike do not match ... StringNotEquals or StringNotLike do match".
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
        let like = r#"{"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}"#;
        let context = Context::new()
            .with("aws:username", "David")
            .with("s3:prefix", "home/David/");
        assert!(holds(like, &context));
        assert!(!holds(
            like,
            &Context::new().with("s3:prefix", "home/David/")
        ));
        let not_equals =
            r#"{"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}"#;
        assert!(holds(
            not_equals,
            &Context::new().with("s3:ExistingObjectTag/Team", "red")
        ));
        assert!(!holds(
            not_equals,
            &Context::new()
                .with("s3:ExistingObjectTag/Team", "red")
                .with("aws:PrincipalTag/Team", "red")
        ));
    }

    #[test]
    fn malformed_conditions_are_refused_naming_the_operator_or_key() {
        let parse = |block: &str| {
            Condition::parse_block(&Json::parse(block).unwrap(), "Statement[0].Condition", true)
                .unwrap_err()
        };
        assert_eq!(
            parse(r#"{"StringEqualz": {"a": "b"}}"#),
            PolicyError::UnknownConditionOperator {
                path: "Statement[0].Condition.StringEqualz".into(),
                operator: "StringEqualz".into()
            }
        );
        assert!(matches!(
            parse(r#"{"NullIfExists": {"a": "true"}}"#),
            PolicyError::UnknownConditionOperator { .. }
        ));
        assert!(matches!(
            parse(r#"{"ForAnyValue:Null": {"a": "true"}}"#),
            PolicyError::UnknownConditionOperator { .. }
        ));
        assert!(
            matches!(parse(r#"{"NumericEquals": {"a": "ten"}}"#), PolicyError::InvalidValue { path, .. } if path == "Statement[0].Condition.NumericEquals.a")
        );
        assert!(matches!(
            parse(r#"{"Bool": {"a": "yes"}}"#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            parse(r#"{"IpAddress": {"a": "10.0.0.0/40"}}"#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            parse(r#"{"DateEquals": {"a": "tomorrow"}}"#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            parse(r#"{"StringEquals": {"a": []}}"#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            parse(r#"{"StringEquals": {"a": {"b": "c"}}}"#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            parse(r#"{"StringEquals": "a"}"#),
            PolicyError::InvalidValue { .. }
        ));
    }
}
