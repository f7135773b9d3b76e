//! Metrics Insights queries as an alarm's expression, following "Metrics Insights query
//! components and syntax"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html>):
//!
//! ```text
//! SELECT AVG | COUNT | MAX | MIN | SUM (metric)
//! FROM namespace | SCHEMA(namespace [, label key ...])
//! [ WHERE key = | != 'value' [ AND ... ] ]
//! [ ORDER BY AVG | COUNT | MAX | MIN | SUM () [ ASC | DESC ] ]
//! [ LIMIT n ]
//! ```
//!
//! - The function aggregates every observation of every matching metric in the period.
//! - `FROM namespace` matches the metric whatever its dimensions; `SCHEMA(namespace)` only
//!   without dimensions; `SCHEMA(namespace, keys...)` only with exactly those dimension keys.
//! - Keywords are not case sensitive; namespaces, metric names and keys are. Those with other
//!   characters than letters, digits and `_`, or that are one of this grammar's keywords, are
//!   double-quoted; values are single-quoted; `\` escapes a quote.
//! - A metric without the key of a `!=` condition does not match it (the docs do not say).
//! - `GROUP BY` is refused: the query then returns a time series per group, and an alarm on it
//!   watches each as a contributor
//!   (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/multi-time-series-alarm.html>),
//!   which the local post office does not evaluate. Without it the query returns one time series,
//!   which `ORDER BY` and `LIMIT` leave as it is.

use std::collections::BTreeSet;

use super::math::{ExpressionError, Series};
use crate::metrics::{MetricId, MetricStore, Periods};

/// The aggregation of a `SELECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Avg,
    Count,
    Max,
    Min,
    Sum,
}

impl Aggregation {
    fn named(word: &str) -> Option<Aggregation> {
        Some(match word.to_ascii_uppercase().as_str() {
            "AVG" => Aggregation::Avg,
            "COUNT" => Aggregation::Count,
            "MAX" => Aggregation::Max,
            "MIN" => Aggregation::Min,
            "SUM" => Aggregation::Sum,
            _ => return None,
        })
    }
}

/// One `WHERE` condition: `key = 'value'` or `key != 'value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub key: String,
    pub equal: bool,
    pub value: String,
}

/// A parsed Metrics Insights query that returns a single time series.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightsQuery {
    source: String,
    pub aggregation: Aggregation,
    pub metric_name: String,
    pub namespace: String,
    /// `SCHEMA`'s dimension keys: only metrics with exactly these match. `None` without SCHEMA.
    pub schema: Option<BTreeSet<String>>,
    pub conditions: Vec<Condition>,
}

/// Whether an expression is a Metrics Insights query rather than metric math.
pub(crate) fn is_insights_query(expression: &str) -> bool {
    let trimmed = expression.trim_start();
    trimmed
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("SELECT"))
        && trimmed[6..].starts_with(char::is_whitespace)
}

impl InsightsQuery {
    pub(crate) fn parse(source: &str) -> Result<Self, ExpressionError> {
        let tokens = tokenize(source)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end: source.chars().count() + 1,
        };
        parser.query(source)
    }

    /// The query as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the query reads this metric.
    pub fn matches(&self, metric: &MetricId) -> bool {
        metric.namespace == self.namespace
            && metric.metric_name == self.metric_name
            && self
                .schema
                .as_ref()
                .is_none_or(|keys| keys.iter().eq(metric.dimensions.keys()))
            && self.conditions.iter().all(|condition| {
                metric
                    .dimensions
                    .get(&condition.key)
                    .is_some_and(|value| (*value == condition.value) == condition.equal)
            })
    }

    /// The aggregation of every matching metric's samples in each period.
    pub(crate) fn series(&self, store: &MetricStore, periods: &Periods) -> Series {
        let matching: Vec<&MetricId> = store.metric_ids().filter(|m| self.matches(m)).collect();
        (0..periods.count)
            .map(|age| {
                let (from, to) = periods.bounds(age);
                let (mut count, mut sum) = (0usize, 0.0);
                let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
                for metric in &matching {
                    for (_, value) in store.samples(metric, from, to) {
                        count += 1;
                        sum += value;
                        min = min.min(value);
                        max = max.max(value);
                    }
                }
                (count > 0).then(|| match self.aggregation {
                    Aggregation::Avg => sum / count as f64,
                    Aggregation::Count => count as f64,
                    Aggregation::Max => max,
                    Aggregation::Min => min,
                    Aggregation::Sum => sum,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Unquoted: a keyword, an identifier or a number.
    Word(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A single-quoted value.
    Value(String),
    Open,
    Close,
    Comma,
    Equal,
    NotEqual,
}

impl Token {
    fn described(&self) -> String {
        match self {
            Token::Word(word) => format!("{word:?}"),
            Token::Quoted(text) => format!("the identifier \"{text}\""),
            Token::Value(text) => format!("the value '{text}'"),
            Token::Open => "\"(\"".to_owned(),
            Token::Close => "\")\"".to_owned(),
            Token::Comma => "\",\"".to_owned(),
            Token::Equal => "\"=\"".to_owned(),
            Token::NotEqual => "\"!=\"".to_owned(),
        }
    }
}

const KEYWORDS: [&str; 16] = [
    "SELECT", "FROM", "SCHEMA", "WHERE", "AND", "GROUP", "BY", "ORDER", "ASC", "DESC", "LIMIT",
    "AVG", "COUNT", "MAX", "MIN", "SUM",
];

fn invalid<T>(at: usize, message: impl Into<String>) -> Result<T, ExpressionError> {
    Err(ExpressionError::Invalid {
        at,
        message: message.into(),
    })
}

fn tokenize(source: &str) -> Result<Vec<(Token, usize)>, ExpressionError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let at = i + 1;
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((Token::Word(chars[start..i].iter().collect()), at));
            continue;
        }
        if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return invalid(at, format!("the quotation mark {c} is not closed"));
                    }
                    Some(&q) if q == c => break,
                    Some('\\') if chars.get(i + 1).is_some() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            i += 1;
            tokens.push((
                if c == '"' {
                    Token::Quoted(text)
                } else {
                    Token::Value(text)
                },
                at,
            ));
            continue;
        }
        let (token, width) = match (c, chars.get(i + 1)) {
            ('!', Some('=')) => (Token::NotEqual, 2),
            ('=', _) => (Token::Equal, 1),
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            (',', _) => (Token::Comma, 1),
            (other, _) => {
                return invalid(
                    at,
                    format!(
                        "{other:?} cannot appear here; double-quote names with characters other than letters, digits and _"
                    ),
                );
            }
        };
        tokens.push((token, at));
        i += width;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(token, _)| token)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(_, at)| *at)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the query".to_owned(), Token::described)
    }

    fn expected<T>(&self, what: &str) -> Result<T, ExpressionError> {
        invalid(
            self.at(),
            format!("expected {what}, found {}", self.found()),
        )
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), ExpressionError> {
        if self.is_keyword(keyword) {
            self.next += 1;
            Ok(())
        } else {
            self.expected(keyword)
        }
    }

    fn token(&mut self, token: &Token) -> Result<(), ExpressionError> {
        if self.peek() == Some(token) {
            self.next += 1;
            Ok(())
        } else {
            self.expected(&token.described())
        }
    }

    /// A namespace, metric name or label key.
    fn identifier(&mut self, what: &str) -> Result<String, ExpressionError> {
        match self.peek().cloned() {
            Some(Token::Quoted(text)) => {
                self.next += 1;
                Ok(text)
            }
            Some(Token::Word(word)) => {
                if KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k)) {
                    return invalid(
                        self.at(),
                        format!(
                            "{word:?} is a reserved keyword; double-quote it to use it as {what}"
                        ),
                    );
                }
                self.next += 1;
                Ok(word)
            }
            _ => self.expected(what),
        }
    }

    fn aggregation(&mut self) -> Result<Aggregation, ExpressionError> {
        match self.peek() {
            Some(Token::Word(word)) => match Aggregation::named(word) {
                Some(aggregation) => {
                    self.next += 1;
                    Ok(aggregation)
                }
                None => self.expected("AVG, COUNT, MAX, MIN or SUM"),
            },
            _ => self.expected("AVG, COUNT, MAX, MIN or SUM"),
        }
    }

    fn query(&mut self, source: &str) -> Result<InsightsQuery, ExpressionError> {
        self.keyword("SELECT")?;
        let aggregation = self.aggregation()?;
        self.token(&Token::Open)?;
        let metric_name = self.identifier("a metric name")?;
        self.token(&Token::Close)?;
        self.keyword("FROM")?;
        let (namespace, schema) = if self.is_keyword("SCHEMA") {
            self.next += 1;
            self.token(&Token::Open)?;
            let namespace = self.identifier("a namespace")?;
            let mut keys = BTreeSet::new();
            while self.peek() == Some(&Token::Comma) {
                self.next += 1;
                keys.insert(self.identifier("a dimension key")?);
            }
            self.token(&Token::Close)?;
            (namespace, Some(keys))
        } else {
            (self.identifier("a namespace or SCHEMA(...)")?, None)
        };
        let mut conditions = Vec::new();
        if self.is_keyword("WHERE") {
            self.next += 1;
            loop {
                let key = self.identifier("a dimension key")?;
                let equal = match self.peek() {
                    Some(Token::Equal) => true,
                    Some(Token::NotEqual) => false,
                    _ => return self.expected("= or !="),
                };
                self.next += 1;
                let Some(Token::Value(value)) = self.peek().cloned() else {
                    return self.expected("a value in single quotation marks");
                };
                self.next += 1;
                conditions.push(Condition { key, equal, value });
                if !self.is_keyword("AND") {
                    break;
                }
                self.next += 1;
            }
        }
        if self.is_keyword("GROUP") {
            return Err(ExpressionError::Unsupported {
                at: self.at(),
                what: "GROUP BY in a Metrics Insights alarm (one time series per group: a multi time series alarm)"
                    .to_owned(),
            });
        }
        if self.is_keyword("ORDER") {
            self.next += 1;
            self.keyword("BY")?;
            self.aggregation()?;
            self.token(&Token::Open)?;
            self.token(&Token::Close)?;
            if self.is_keyword("ASC") || self.is_keyword("DESC") {
                self.next += 1;
            }
        }
        if self.is_keyword("LIMIT") {
            self.next += 1;
            let at = self.at();
            let limit = match self.peek() {
                Some(Token::Word(word)) => word.parse::<u32>().ok(),
                _ => None,
            };
            // "The maximum value that you can specify is 500."
            match limit {
                Some(1..=500) => self.next += 1,
                _ => {
                    return invalid(
                        at,
                        format!("LIMIT takes a number from 1 to 500, found {}", self.found()),
                    );
                }
            }
        }
        if self.next < self.tokens.len() {
            let what = if conditions.is_empty() {
                "WHERE, GROUP BY, ORDER BY, LIMIT or the end of the query"
            } else {
                "AND, GROUP BY, ORDER BY, LIMIT or the end of the query"
            };
            return self.expected(what);
        }
        Ok(InsightsQuery {
            source: source.to_owned(),
            aggregation,
            metric_name,
            namespace,
            schema,
            conditions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> InsightsQuery {
        InsightsQuery::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"))
    }

    fn error(source: &str) -> String {
        match InsightsQuery::parse(source) {
            Err(ExpressionError::Invalid { at, message }) => format!("{message} at {at}"),
            Err(ExpressionError::Unsupported { at, what }) => {
                format!("unsupported: {what} at {at}")
            }
            Ok(query) => panic!("{source}: {query:?}"),
        }
    }

    fn metric(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> MetricId {
        MetricId::new(namespace, name, dimensions)
    }

    /// The four SCHEMA examples of the FROM clause.
    #[test]
    fn schema_matches_exact_dimension_sets() {
        let bare = metric("AWS/EC2", "CPUUtilization", &[]);
        let instance = metric("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-1")]);
        let instance_type = metric(
            "AWS/EC2",
            "CPUUtilization",
            &[("InstanceId", "i-1"), ("InstanceType", "c3.4xlarge")],
        );
        let all = [&bare, &instance, &instance_type];
        let matched = |source: &str| -> Vec<bool> {
            let query = parse(source);
            all.iter().map(|m| query.matches(m)).collect()
        };
        assert_eq!(
            matched("SELECT AVG(CPUUtilization) FROM \"AWS/EC2\""),
            [true, true, true]
        );
        assert_eq!(
            matched("SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\")"),
            [true, false, false]
        );
        assert_eq!(
            matched("SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\", InstanceId)"),
            [false, true, false]
        );
        // The order of the keys does not matter.
        assert_eq!(
            matched(
                "SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\", InstanceType, InstanceId)"
            ),
            [false, false, true]
        );
        let elb = parse(
            "SELECT SUM(RequestCount) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer, AvailabilityZone)",
        );
        assert!(elb.matches(&metric(
            "AWS/ApplicationELB",
            "RequestCount",
            &[
                ("LoadBalancer", "app/load-balancer-1"),
                ("AvailabilityZone", "eu-west-1a")
            ]
        )));
        assert!(!elb.matches(&metric(
            "AWS/ApplicationELB",
            "RequestCount",
            &[("LoadBalancer", "app/load-balancer-1")]
        )));
        // Other metric names and namespaces never match.
        assert!(
            !parse("SELECT AVG(CPUUtilization) FROM \"AWS/EC2\"").matches(&metric(
                "AWS/EC2",
                "NetworkIn",
                &[]
            ))
        );
        assert!(
            !parse("SELECT AVG(CPUUtilization) FROM \"AWS/EC2\"").matches(&metric(
                "AWS/RDS",
                "CPUUtilization",
                &[]
            ))
        );
    }

    #[test]
    fn where_filters_on_label_values() {
        let c3 = metric(
            "AWS/EC2",
            "CPUUtilization",
            &[("InstanceType", "c3.4xlarge")],
        );
        let m5 = metric("AWS/EC2", "CPUUtilization", &[("InstanceType", "m5.large")]);
        let none = metric("AWS/EC2", "CPUUtilization", &[]);
        let equal =
            parse("SELECT MAX(CPUUtilization) FROM \"AWS/EC2\" WHERE InstanceType = 'c3.4xlarge'");
        let not_equal =
            parse("SELECT MAX(CPUUtilization) FROM \"AWS/EC2\" WHERE InstanceType != 'c3.4xlarge'");
        assert_eq!(
            [&c3, &m5, &none].map(|m| (equal.matches(m), not_equal.matches(m))),
            [(true, false), (false, true), (false, false)]
        );
        let both = parse(
            "SELECT SUM(RequestCount) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer, AvailabilityZone) \
             WHERE LoadBalancer = 'app/load-balancer-1' AND AvailabilityZone != 'eu-west-1b'",
        );
        let zone = |zone: &str| {
            metric(
                "AWS/ApplicationELB",
                "RequestCount",
                &[
                    ("LoadBalancer", "app/load-balancer-1"),
                    ("AvailabilityZone", zone),
                ],
            )
        };
        assert!(both.matches(&zone("eu-west-1a")));
        assert!(!both.matches(&zone("eu-west-1b")));
    }

    #[test]
    fn the_platform_rule_queries() {
        let query = parse(
            "SELECT SUM(Failure) FROM SCHEMA(\"AWS/IoT\", ActionType, RuleName) WHERE RuleName = 'postoffice_COOKING_REQUESTED'",
        );
        assert_eq!(query.aggregation, Aggregation::Sum);
        assert_eq!(query.metric_name, "Failure");
        assert_eq!(query.namespace, "AWS/IoT");
        let rule = |name: &str, action: Option<&str>| {
            let mut dimensions = vec![("RuleName", name)];
            dimensions.extend(action.map(|action| ("ActionType", action)));
            metric("AWS/IoT", "Failure", &dimensions)
        };
        assert!(query.matches(&rule("postoffice_COOKING_REQUESTED", Some("SNS"))));
        assert!(query.matches(&rule("postoffice_COOKING_REQUESTED", Some("SQS"))));
        assert!(!query.matches(&rule("postoffice_COOKING_STARTED", Some("SNS"))));
        assert!(!query.matches(&rule("postoffice_COOKING_REQUESTED", None)));
    }

    #[test]
    fn keywords_are_case_insensitive_and_identifiers_may_be_quoted() {
        let query = parse(
            "select count(\"My.Metric\") from schema(\"Custom/App\", \"LIMIT\") where \"LIMIT\" = 'it\\'s' order by max() desc limit 5",
        );
        assert_eq!(query.aggregation, Aggregation::Count);
        assert_eq!(query.metric_name, "My.Metric");
        assert!(query.matches(&metric("Custom/App", "My.Metric", &[("LIMIT", "it's")])));
        // "SELECT AVG(\"Bytes\\\"Input\\\"\")" names the metric Bytes"Input".
        assert_eq!(
            parse("SELECT AVG(\"Bytes\\\"Input\\\"\") FROM ns").metric_name,
            "Bytes\"Input\""
        );
        // The partial data example: an unquoted namespace.
        let partial = parse("SELECT SUM(PartialDataTestMetric) FROM partial_data_test");
        assert_eq!(partial.namespace, "partial_data_test");
        assert!(is_insights_query("  select SUM(x) FROM y"));
        assert!(!is_insights_query("SELECTED + 1"));
        assert!(!is_insights_query("m1 * 100"));
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(
            error("SELECT SUM(Failure) FROM AWS/IoT"),
            "'/' cannot appear here; double-quote names with characters other than letters, digits and _ at 29"
        );
        assert_eq!(
            error("SELECT MEDIAN(Failure) FROM \"AWS/IoT\""),
            "expected AVG, COUNT, MAX, MIN or SUM, found \"MEDIAN\" at 8"
        );
        assert_eq!(
            error("SELECT SUM(Failure) FROM \"AWS/IoT\" WHERE RuleName = \"x\""),
            "expected a value in single quotation marks, found the identifier \"x\" at 53"
        );
        assert_eq!(
            error("SELECT SUM(Failure) FROM \"AWS/IoT\" WHERE RuleName = 'a' OR RuleName = 'b'"),
            "expected AND, GROUP BY, ORDER BY, LIMIT or the end of the query, found \"OR\" at 57"
        );
        assert_eq!(
            error("SELECT SUM(Count) FROM \"AWS/IoT\""),
            "\"Count\" is a reserved keyword; double-quote it to use it as a metric name at 12"
        );
        assert_eq!(
            error("SELECT SUM(Failure) FROM SCHEMA(\"AWS/IoT\", RuleName"),
            "expected \")\", found the end of the query at 52"
        );
        assert_eq!(
            error("SELECT SUM(Failure) FROM \"AWS/IoT"),
            "the quotation mark \" is not closed at 26"
        );
        assert_eq!(
            error("SELECT SUM(Failure) FROM \"AWS/IoT\" LIMIT 501"),
            "LIMIT takes a number from 1 to 500, found \"501\" at 42"
        );
        assert_eq!(
            error(
                "SELECT SUM(RequestCount) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer, AvailabilityZone) \
                 WHERE LoadBalancer = 'app/load-balancer-1' GROUP BY AvailabilityZone ORDER BY MAX() DESC LIMIT 5"
            ),
            "unsupported: GROUP BY in a Metrics Insights alarm (one time series per group: a multi time series alarm) at 135"
        );
    }
}
