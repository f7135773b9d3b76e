//! The values a policy key accepts, and how one value of the message is tested against them.
//!
//! Value matching as the SNS developer guide describes it:
//! <https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html>,
//! <https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html>,
//! <https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html>. Where the guide is
//! silent, SNS behaves as event-ruler (the library whose error sentences SNS answers): a string
//! operator never matches a number, `true`, `false` or `null`, and numbers compare as numbers
//! (`1e2` is `100`) but never equal a string (`"100"`).

use crate::error::FilterPolicyError;
use crate::policy_json::Json;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One value of the message at a policy key: a JSON scalar of the body, an attribute's value or
/// an element of a `String.Array` attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    String(Cow<'a, str>),
    Number(f64),
    Bool(bool),
    Null,
}

impl Scalar<'_> {
    /// What `"exists": true` requires: "The key must have a non-null and non-empty value."
    pub(crate) fn is_present(&self) -> bool {
        match self {
            Scalar::Null => false,
            Scalar::String(text) => !text.is_empty(),
            Scalar::Number(_) | Scalar::Bool(_) => true,
        }
    }
}

/// One element of a policy key's array of values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    /// A plain string; one that is an IP address also matches the same address written
    /// differently (`2001:db8::1` and `2001:0db8:0:0:0:0:0:1`), as SNS compares addresses.
    ExactString {
        text: String,
        ip: Option<IpAddr>,
    },
    /// A plain number: equal numbers match however written (`100`, `1e2`, `100.0`).
    ExactNumber(f64),
    ExactBool(bool),
    ExactNull,
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(NumericRange),
    Cidr(Cidr),
    AnythingBut(AnythingBut),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    /// Any value but these strings (numbers, booleans and null match).
    Strings(Vec<String>),
    /// Any value but these numbers (strings, booleans and null match).
    Numbers(Vec<f64>),
    Prefix(String),
    Suffix(String),
    Wildcard(Wildcard),
}

impl Pattern {
    /// Whether `value` satisfies this pattern. `"exists": false` is about the key, not a
    /// value: it never matches a value (see `FilterPolicy::matches`).
    pub(crate) fn matches(&self, value: &Scalar<'_>) -> bool {
        match (self, value) {
            (Pattern::ExactString { text, ip }, Scalar::String(value)) => {
                text == value.as_ref()
                    || ip.is_some_and(|ip| parse_ip(value) == IpParse::Address(ip))
            }
            (Pattern::ExactNumber(number), Scalar::Number(value)) => number == value,
            (Pattern::ExactBool(expected), Scalar::Bool(value)) => expected == value,
            (Pattern::ExactNull, Scalar::Null) => true,
            (Pattern::Prefix(prefix), Scalar::String(value)) => value.starts_with(prefix.as_str()),
            (Pattern::Suffix(suffix), Scalar::String(value)) => value.ends_with(suffix.as_str()),
            (Pattern::EqualsIgnoreCase(expected), Scalar::String(value)) => {
                equals_ignore_case(expected, value)
            }
            (Pattern::Wildcard(wildcard), Scalar::String(value)) => wildcard.matches(value),
            (Pattern::Numeric(range), Scalar::Number(value)) => range.contains(*value),
            (Pattern::Cidr(cidr), Scalar::String(value)) => match parse_ip(value) {
                IpParse::Address(ip) => cidr.contains(ip),
                IpParse::NotAnAddress | IpParse::Invalid => false,
            },
            (Pattern::AnythingBut(but), value) => !but.excludes(value),
            (Pattern::Exists(must_exist), value) => *must_exist && value.is_present(),
            _ => false,
        }
    }

    /// Points towards the wildcard complexity limit ("Wildcard pattern usage guidelines"):
    /// a wildcard with one `*` 1, with more 3, any anything-but 1, the rest 0.
    pub(crate) fn wildcard_points(&self) -> u64 {
        match self {
            Pattern::Wildcard(wildcard) => match wildcard.wildcards() {
                0 => 0,
                1 => 1,
                _ => 3,
            },
            Pattern::AnythingBut(_) => 1,
            _ => 0,
        }
    }

    pub(crate) fn is_wildcard(&self) -> bool {
        matches!(
            self,
            Pattern::Wildcard(_) | Pattern::AnythingBut(AnythingBut::Wildcard(_))
        )
    }
}

impl AnythingBut {
    fn excludes(&self, value: &Scalar<'_>) -> bool {
        match (self, value) {
            (AnythingBut::Strings(strings), Scalar::String(value)) => {
                strings.iter().any(|string| string == value.as_ref())
            }
            (AnythingBut::Numbers(numbers), Scalar::Number(value)) => {
                numbers.iter().any(|number| number == value)
            }
            (AnythingBut::Prefix(prefix), Scalar::String(value)) => {
                value.starts_with(prefix.as_str())
            }
            (AnythingBut::Suffix(suffix), Scalar::String(value)) => {
                value.ends_with(suffix.as_str())
            }
            (AnythingBut::Wildcard(wildcard), Scalar::String(value)) => wildcard.matches(value),
            _ => false,
        }
    }
}

fn equals_ignore_case(expected: &str, value: &str) -> bool {
    expected
        .chars()
        .flat_map(char::to_lowercase)
        .eq(value.chars().flat_map(char::to_lowercase))
}

/// A numeric condition: `=`, or a bottom and/or a top, each open or closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumericRange {
    bottom: Option<Bound>,
    top: Option<Bound>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    inclusive: bool,
}

impl NumericRange {
    fn contains(&self, value: f64) -> bool {
        let above = self.bottom.is_none_or(|bottom| {
            value > bottom.value || (bottom.inclusive && value == bottom.value)
        });
        let below = self
            .top
            .is_none_or(|top| value < top.value || (top.inclusive && value == top.value));
        above && below
    }
}

/// A string with `*` wildcards (`\*` is a star, `\\` a backslash), kept as the literal pieces
/// between the stars.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wildcard {
    pieces: Vec<String>,
}

impl Wildcard {
    /// Parses event-ruler's wildcard syntax. Positions in errors are SNS's: byte offsets in the
    /// quoted value (`"a**"`), one more than in the text.
    fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        let mut pieces = vec![Vec::new()];
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'*' => {
                    if bytes.get(index + 1) == Some(&b'*') {
                        return Err(format!(
                            "Consecutive wildcard characters at pos {}",
                            index + 1
                        ));
                    }
                    pieces.push(Vec::new());
                }
                b'\\' => match bytes.get(index + 1) {
                    Some(&escaped @ (b'*' | b'\\')) => {
                        pieces.last_mut().expect("never empty").push(escaped);
                        index += 1;
                    }
                    _ => return Err(format!("Invalid escape character at pos {}", index + 1)),
                },
                byte => pieces.last_mut().expect("never empty").push(byte),
            }
            index += 1;
        }
        // The pieces are cut at ASCII stars and backslashes only, so each stays UTF-8.
        let pieces = pieces
            .into_iter()
            .map(|piece| String::from_utf8(piece).expect("cut at ASCII bytes"))
            .collect();
        Ok(Self { pieces })
    }

    fn wildcards(&self) -> usize {
        self.pieces.len() - 1
    }

    fn matches(&self, value: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("never empty");
        let Some((last, middle)) = rest.split_last() else {
            return value == first;
        };
        let Some(after_first) = value.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(mut between) = after_first.strip_suffix(last.as_str()) else {
            return false;
        };
        // Leftmost matches of the middle pieces leave the most room for the next ones.
        for piece in middle {
            match between.find(piece.as_str()) {
                Some(at) => between = &between[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// An IPv4 or IPv6 network, written `address/bits`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cidr {
    network: IpAddr,
    bits: u32,
}

impl Cidr {
    /// Parses a `cidr` value with SNS's checks and sentences, in SNS's order.
    fn parse(text: &str) -> Result<Self, String> {
        // Split as Java's String.split does: trailing empty parts are dropped.
        let mut parts: Vec<&str> = text.split('/').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        let [address, bits] = parts[..] else {
            return Err("Malformed CIDR, one '/' required".to_owned());
        };
        let bits: i32 = bits
            .parse()
            .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_owned())?;
        let bits = u32::try_from(bits)
            .map_err(|_| "Malformed CIDR, mask bits must not be negative".to_owned())?;
        let network = match parse_ip(address) {
            IpParse::Address(ip) => ip,
            IpParse::NotAnAddress => return Err(format!("Nonstandard IP address: {address}")),
            IpParse::Invalid => return Err(format!("Invalid IP address: {address}")),
        };
        match network {
            IpAddr::V4(_) if bits > 31 => Err("IPv4 mask bits must be < 32".to_owned()),
            IpAddr::V6(_) if bits > 127 => Err("IPv6 mask bits must be < 128".to_owned()),
            _ => Ok(Self { network, bits }),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.bits).unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.bits).unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IpParse {
    Address(IpAddr),
    /// Does not even look like an address (SNS: "Nonstandard IP address").
    NotAnAddress,
    /// Looks like one but is not (SNS: "Invalid IP address"), such as `10.0.0.256`.
    Invalid,
}

/// Reads an IP address literal as SNS does: dotted decimal with four parts, or hexadecimal
/// groups and colons (no embedded IPv4, no zone).
pub(crate) fn parse_ip(text: &str) -> IpParse {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() == 4
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
    {
        let mut octets = [0u8; 4];
        for (octet, part) in octets.iter_mut().zip(&parts) {
            // Leading zeros are decimal, not octal: "010" is 10.
            match part.trim_start_matches('0').parse::<u8>() {
                Ok(value) => *octet = value,
                Err(_) if part.bytes().all(|byte| byte == b'0') => *octet = 0,
                Err(_) => return IpParse::Invalid,
            }
        }
        return IpParse::Address(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if text.contains(':')
        && text
            .bytes()
            .all(|byte| byte == b':' || byte.is_ascii_hexdigit())
    {
        return match text.parse::<Ipv6Addr>() {
            Ok(ip) => IpParse::Address(IpAddr::V6(ip)),
            Err(_) => IpParse::Invalid,
        };
    }
    IpParse::NotAnAddress
}

/// Compiles one element of a policy key's array of values (`key` is its dotted path, for
/// errors).
pub(crate) fn compile(value: &Json, key: &str) -> Result<Pattern, FilterPolicyError> {
    let invalid = |reason: String| FilterPolicyError::invalid(key, reason);
    match value {
        Json::String(text) => Ok(Pattern::ExactString {
            text: text.clone(),
            ip: match parse_ip(text) {
                IpParse::Address(ip) => Some(ip),
                IpParse::NotAnAddress | IpParse::Invalid => None,
            },
        }),
        Json::Number(number) => Ok(Pattern::ExactNumber(*number)),
        Json::Bool(value) => Ok(Pattern::ExactBool(*value)),
        Json::Null => Ok(Pattern::ExactNull),
        Json::Array(_) => Err(invalid(
            "Match value must be String, number, true, false, or null".to_owned(),
        )),
        Json::Object(entries) => compile_match_expression(entries).map_err(invalid),
    }
}

const ONLY_ONE_KEY: &str = "Only one key allowed in match expression";
const TOO_MANY_ELEMENTS: &str = "Too many elements in numeric expression";

/// `{"operator": value}`. Checks run in SNS's order, so the same mistake gets the same sentence
/// (a second key is reported only once the first key's value is right).
fn compile_match_expression(entries: &[(String, Json)]) -> Result<Pattern, String> {
    let Some(((operator, value), others)) = entries.split_first() else {
        return Err("Match expression name not found".to_owned());
    };
    let one_key = |pattern: Pattern, extra_key_reason: &str| {
        if others.is_empty() {
            Ok(pattern)
        } else {
            Err(extra_key_reason.to_owned())
        }
    };
    let string = |what: &str| match value {
        Json::String(text) => Ok(text.clone()),
        _ => Err(format!("{what} match pattern must be a string")),
    };
    match operator.as_str() {
        "prefix" => one_key(Pattern::Prefix(string("prefix")?), ONLY_ONE_KEY),
        "suffix" => one_key(Pattern::Suffix(string("suffix")?), ONLY_ONE_KEY),
        "equals-ignore-case" => one_key(
            Pattern::EqualsIgnoreCase(string("equals-ignore-case")?),
            ONLY_ONE_KEY,
        ),
        "wildcard" => one_key(
            Pattern::Wildcard(compile_wildcard(&string("wildcard")?)?),
            ONLY_ONE_KEY,
        ),
        "cidr" => {
            // SNS words a cidr that is not a string as a prefix.
            let cidr = Cidr::parse(&string("prefix")?)?;
            one_key(Pattern::Cidr(cidr), ONLY_ONE_KEY)
        }
        "exists" => match value {
            Json::Bool(must_exist) => one_key(Pattern::Exists(*must_exist), ONLY_ONE_KEY),
            _ => Err("exists match pattern must be either true or false.".to_owned()),
        },
        "numeric" => match value {
            Json::Array(items) => {
                one_key(Pattern::Numeric(compile_numeric(items)?), TOO_MANY_ELEMENTS)
            }
            _ => Err("Value of numeric must be an array.".to_owned()),
        },
        "anything-but" => one_key(
            Pattern::AnythingBut(compile_anything_but(value)?),
            TOO_MANY_ELEMENTS,
        ),
        other => Err(format!("Unrecognized match type {other}")),
    }
}

/// The SNS guide limits a wildcard pattern to three wildcards.
const MAX_WILDCARDS_PER_PATTERN: usize = 3;

fn compile_wildcard(text: &str) -> Result<Wildcard, String> {
    let wildcard = Wildcard::parse(text)?;
    if wildcard.wildcards() > MAX_WILDCARDS_PER_PATTERN {
        return Err(format!(
            "Too many wildcards in \"{text}\": {}, at most {MAX_WILDCARDS_PER_PATTERN} a pattern",
            wildcard.wildcards()
        ));
    }
    Ok(wildcard)
}

fn compile_anything_but(value: &Json) -> Result<AnythingBut, String> {
    match value {
        Json::String(text) => Ok(AnythingBut::Strings(vec![text.clone()])),
        Json::Number(number) => Ok(AnythingBut::Numbers(vec![*number])),
        Json::Array(items) => {
            let mut strings = Vec::new();
            let mut numbers = Vec::new();
            for item in items {
                match item {
                    Json::String(text) => strings.push(text.clone()),
                    Json::Number(number) => numbers.push(*number),
                    _ => {
                        return Err(
                            "Inside anything but list, start|null|boolean is not supported."
                                .to_owned(),
                        );
                    }
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, true) => Ok(AnythingBut::Strings(strings)),
                (true, false) => Ok(AnythingBut::Numbers(numbers)),
                _ => Err(
                    "Inside anything but list, either all values are number or string, \
                          mixed type is not supported"
                        .to_owned(),
                ),
            }
        }
        // The SNS guide documents anything-but with a prefix, a suffix or a wildcard, each
        // one string.
        Json::Object(entries) => {
            let Some(((operator, operand), others)) = entries.split_first() else {
                return Err("Anything-But expression name not found".to_owned());
            };
            let text = |what: &str| match operand {
                Json::String(text) => Ok(text.clone()),
                _ => Err(format!("{what} match pattern must be a string")),
            };
            let non_empty = |text: String| {
                if text.is_empty() {
                    Err("Null prefix/suffix not allowed".to_owned())
                } else {
                    Ok(text)
                }
            };
            let but = match operator.as_str() {
                "prefix" => AnythingBut::Prefix(non_empty(text("prefix/suffix")?)?),
                "suffix" => AnythingBut::Suffix(non_empty(text("prefix/suffix")?)?),
                "wildcard" => AnythingBut::Wildcard(compile_wildcard(&text("wildcard")?)?),
                other => return Err(format!("Unsupported anything-but pattern: {other}")),
            };
            if others.is_empty() {
                Ok(but)
            } else {
                Err(TOO_MANY_ELEMENTS.to_owned())
            }
        }
        Json::Null | Json::Bool(_) => {
            Err("Value of anything-but must be an array or single string/number value.".to_owned())
        }
    }
}

/// `["=", n]`, `[">" or ">=", n]`, `["<" or "<=", n]` or `[">" or ">=", n, "<" or "<=", m]`.
fn compile_numeric(items: &[Json]) -> Result<NumericRange, String> {
    let mut items = items.iter();
    let operator = match items.next() {
        Some(Json::String(operator)) => operator.as_str(),
        Some(other) => {
            return Err(format!(
                "Invalid member in numeric match: {}",
                other.token_text()
            ));
        }
        None => return Err("Invalid member in numeric match: ]".to_owned()),
    };
    let spelled = if operator == "=" { "equals" } else { operator };
    if !matches!(operator, "=" | ">=" | ">" | "<=" | "<") {
        return Err(format!("Unrecognized numeric range operator: {operator}"));
    }
    let Some(Json::Number(value)) = items.next() else {
        return Err(format!("Value of {spelled} must be numeric"));
    };
    let bound = |inclusive| {
        Some(Bound {
            value: *value,
            inclusive,
        })
    };
    let range = match operator {
        "=" => NumericRange {
            bottom: bound(true),
            top: bound(true),
        },
        "<" | "<=" => NumericRange {
            bottom: None,
            top: bound(operator == "<="),
        },
        _ => NumericRange {
            bottom: bound(operator == ">="),
            top: None,
        },
    };
    let Some(next) = items.next() else {
        return Ok(range);
    };
    if range.top.is_some() {
        return Err(TOO_MANY_ELEMENTS.to_owned());
    }
    let top_operator = match next {
        Json::String(operator) => operator.as_str(),
        other => {
            return Err(format!(
                "Bad value in numeric range: {}",
                other.token_text()
            ));
        }
    };
    if !matches!(top_operator, "<" | "<=") {
        return Err(format!("Bad numeric range operator: {top_operator}"));
    }
    let Some(Json::Number(top)) = items.next() else {
        return Err(format!("Value of {top_operator} must be numeric"));
    };
    if items.next().is_some() {
        return Err("Too many terms in numeric range expression".to_owned());
    }
    if *top <= *value {
        return Err("Bottom must be less than top".to_owned());
    }
    Ok(NumericRange {
        top: Some(Bound {
            value: *top,
            inclusive: top_operator == "<=",
        }),
        ..range
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Scalar<'_> {
        Scalar::String(Cow::Borrowed(text))
    }

    #[test]
    fn wildcards_match_any_run_of_characters() {
        let wildcard = Wildcard::parse("*ball").unwrap();
        assert!(wildcard.matches("baseball"));
        assert!(wildcard.matches("ball"));
        assert!(!wildcard.matches("balls"));
        let wildcard = Wildcard::parse("a*b*a").unwrap();
        assert!(wildcard.matches("aba"));
        assert!(wildcard.matches("axxbyyba"));
        assert!(!wildcard.matches("ab"));
        assert!(!wildcard.matches("a"));
        let escaped = Wildcard::parse(r"5\*\\*").unwrap();
        assert_eq!(escaped.wildcards(), 1);
        assert!(escaped.matches(r"5*\ and more"));
        assert!(!escaped.matches("5x"));
    }

    #[test]
    fn wildcard_syntax_errors_count_positions_from_one() {
        assert_eq!(
            compile_wildcard("ab**c").unwrap_err(),
            "Consecutive wildcard characters at pos 3"
        );
        assert_eq!(
            compile_wildcard(r"a\b").unwrap_err(),
            "Invalid escape character at pos 2"
        );
        assert_eq!(
            compile_wildcard("*a*b*c*").unwrap_err(),
            "Too many wildcards in \"*a*b*c*\": 4, at most 3 a pattern"
        );
    }

    #[test]
    fn ip_addresses_are_read_as_sns_reads_them() {
        assert_eq!(
            parse_ip("10.0.0.255"),
            IpParse::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 255)))
        );
        assert_eq!(
            parse_ip("010.0.0.1"),
            IpParse::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(parse_ip("10.0.0.256"), IpParse::Invalid);
        assert_eq!(parse_ip("xx.11.xx"), IpParse::NotAnAddress);
        assert_eq!(parse_ip("::ffff:10.0.0.1"), IpParse::NotAnAddress);
        assert_eq!(parse_ip("2001:db8:::1"), IpParse::Invalid);
        assert_eq!(
            parse_ip("2001:0db8:1234:1a00:0000:0000:0000:0000"),
            parse_ip("2001:db8:1234:1a00::")
        );
    }

    #[test]
    fn cidr_edges() {
        let cidr = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(cidr.contains("10.0.0.0".parse().unwrap()));
        assert!(cidr.contains("10.0.0.255".parse().unwrap()));
        assert!(!cidr.contains("10.0.1.0".parse().unwrap()));
        assert!(!cidr.contains("::a00:0".parse().unwrap()));
        let everything = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains("255.255.255.255".parse().unwrap()));
        // Java's split drops the trailing empty part: "10.0.0.0/8/" has one '/'.
        assert!(Cidr::parse("10.0.0.0/8/").is_ok());
        assert_eq!(
            Cidr::parse("10.0.0.0/32").unwrap_err(),
            "IPv4 mask bits must be < 32"
        );
        assert_eq!(
            Cidr::parse("::/128").unwrap_err(),
            "IPv6 mask bits must be < 128"
        );
        assert_eq!(
            Cidr::parse("10.0.0.0/-1").unwrap_err(),
            "Malformed CIDR, mask bits must not be negative"
        );
        assert_eq!(
            Cidr::parse("300.0.0.0/8").unwrap_err(),
            "Invalid IP address: 300.0.0.0"
        );
    }

    #[test]
    fn string_operators_never_match_other_types() {
        let prefix = Pattern::Prefix("1".to_owned());
        assert!(prefix.matches(&string("123")));
        assert!(!prefix.matches(&Scalar::Number(123.0)));
        let exact = Pattern::ExactString {
            text: "true".to_owned(),
            ip: None,
        };
        assert!(!exact.matches(&Scalar::Bool(true)));
        assert!(!Pattern::ExactNumber(100.0).matches(&string("100")));
    }

    #[test]
    fn anything_but_matches_values_of_another_type() {
        let but = Pattern::AnythingBut(AnythingBut::Strings(vec!["completed".to_owned()]));
        assert!(!but.matches(&string("completed")));
        assert!(but.matches(&string("failed")));
        assert!(but.matches(&Scalar::Number(1.0)));
        assert!(but.matches(&Scalar::Null));
        let numbers = Pattern::AnythingBut(AnythingBut::Numbers(vec![100.0]));
        assert!(!numbers.matches(&Scalar::Number(1e2)));
        assert!(numbers.matches(&string("100")));
    }

    #[test]
    fn equals_ignore_case_folds_unicode() {
        assert!(equals_ignore_case("tennis", "TeNnIs"));
        assert!(equals_ignore_case("ÉTÉ", "été"));
        assert!(!equals_ignore_case("tennis", "tennis "));
    }
}
