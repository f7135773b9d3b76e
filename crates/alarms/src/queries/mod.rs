//! An alarm's `Metrics`: the MetricDataQuery entries `DescribeAlarms` returns
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html>),
//! read strictly and evaluated per period.
//!
//! - Each entry has an `Id` (a lowercase letter, then letters, digits and `_`) and either a
//!   `MetricStat` (a metric and its statistic) or an `Expression`: metric math over the other
//!   entries ([`MathExpression`]) or a Metrics Insights query ([`InsightsQuery`]).
//! - Exactly one entry returns data (`ReturnData`, true when absent, as in `GetMetricData`); its
//!   value is the alarm's. It must be a single time series ("Any expression used in a
//!   PutMetricAlarm operation must return a single time series").
//! - At most 20 entries, 10 of them `MetricStat` and 10 `Expression`.
//! - Every metric uses the same period ("Each metric must be using the same period",
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-on-metric-math-expressions>);
//!   a `Period` given on an expression must agree with it.
//! - A period where the returned expression has no value is missing data ("the data point is
//!   considered missing if the math expression doesn't return a value for that data point",
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-data-queries.html>).
//!
//! `AccountId` is kept but not matched: the local post office's datapoints carry no account.

mod insights;
mod math;

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

pub use insights::{Aggregation, Condition, InsightsQuery};
pub use math::MathExpression;

use crate::alarm::{MetricStat, Statistic, StatisticError, extended_statistic};
use crate::error::AlarmError;
use crate::metrics::{MetricId, MetricStore, Periods};
use math::{ExpressionError, Inputs, Kind, QueryKind, QueryValue, Series, Value};

const MAX_QUERIES: usize = 20;
const MAX_METRIC_STATS: usize = 10;
const MAX_EXPRESSIONS: usize = 10;

/// One MetricDataQuery of an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub id: String,
    pub label: Option<String>,
    /// `ReturnData`, true when absent.
    pub return_data: bool,
    /// The entry's own `Period`, when given.
    pub period_seconds: Option<u32>,
    pub account_id: Option<String>,
    pub source: QuerySource,
}

/// What a query computes.
#[derive(Debug, Clone, PartialEq)]
pub enum QuerySource {
    MetricStat(MetricStat),
    Math(MathExpression),
    Insights(InsightsQuery),
}

/// The checked `Metrics` of an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQueries {
    queries: Vec<MetricQuery>,
    /// The index of the query that returns data.
    returned: usize,
    period_seconds: u32,
    /// The math queries, each after the queries it reads.
    math_order: Vec<usize>,
}

impl MetricQueries {
    /// Reads the `Metrics` list of the alarm `alarm`.
    pub fn new(alarm: &str, metrics: &[Json]) -> Result<Self, AlarmError> {
        let invalid = |message: String| AlarmError::InvalidAlarm {
            alarm: alarm.to_owned(),
            field: "Metrics",
            message,
        };
        if metrics.len() > MAX_QUERIES {
            return Err(invalid(format!(
                "{} queries; an alarm takes at most {MAX_QUERIES}",
                metrics.len()
            )));
        }
        let mut queries: Vec<MetricQuery> = Vec::with_capacity(metrics.len());
        for (index, entry) in metrics.iter().enumerate() {
            let query = read_query(index, entry).map_err(|error| match error {
                QueryError::Invalid(message) => invalid(message),
                QueryError::Unsupported(what) => AlarmError::Unsupported {
                    alarm: alarm.to_owned(),
                    what,
                },
            })?;
            if queries.iter().any(|other| other.id == query.id) {
                return Err(invalid(format!(
                    "query {:?}: Id: is given to two queries",
                    query.id
                )));
            }
            queries.push(query);
        }
        let stats = queries
            .iter()
            .filter(|q| matches!(q.source, QuerySource::MetricStat(_)))
            .count();
        if stats > MAX_METRIC_STATS {
            return Err(invalid(format!(
                "{stats} queries with MetricStat; an alarm takes at most {MAX_METRIC_STATS}"
            )));
        }
        if queries.len() - stats > MAX_EXPRESSIONS {
            return Err(invalid(format!(
                "{} queries with Expression; an alarm takes at most {MAX_EXPRESSIONS}",
                queries.len() - stats
            )));
        }
        let returning: Vec<&str> = queries
            .iter()
            .filter(|q| q.return_data)
            .map(|q| q.id.as_str())
            .collect();
        let returned = match returning.as_slice() {
            [one] => queries.iter().position(|q| q.id == *one).unwrap_or(0),
            [] => {
                return Err(invalid(
                    "no query has ReturnData true; exactly one must, the alarm's value".to_owned(),
                ));
            }
            many => {
                return Err(invalid(format!(
                    "{} have ReturnData true (it is true when absent); exactly one must, the others false",
                    many.iter()
                        .map(|id| format!("{id:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let period_seconds = common_period(&queries).map_err(invalid)?;
        let math_order = math_order(&queries).map_err(invalid)?;
        let checked = MetricQueries {
            queries,
            returned,
            period_seconds,
            math_order,
        };
        checked.check_kinds(alarm)?;
        Ok(checked)
    }

    /// The queries, in the order given.
    pub fn queries(&self) -> &[MetricQuery] {
        &self.queries
    }

    /// The query whose value the alarm watches.
    pub fn returned(&self) -> &MetricQuery {
        &self.queries[self.returned]
    }

    /// The period every query shares.
    pub fn period_seconds(&self) -> u32 {
        self.period_seconds
    }

    /// Checks what each math query evaluates to, in evaluation order.
    fn check_kinds(&self, alarm: &str) -> Result<(), AlarmError> {
        let mut kinds: Vec<QueryKind> = self
            .queries
            .iter()
            .map(|query| QueryKind {
                id: &query.id,
                kind: match query.source {
                    QuerySource::Math(_) => None,
                    _ => Some(Kind::Series),
                },
                is_metric: matches!(query.source, QuerySource::MetricStat(_)),
            })
            .collect();
        for &index in &self.math_order {
            let QuerySource::Math(expression) = &self.queries[index].source else {
                continue;
            };
            let kind = expression
                .kind(&kinds)
                .map_err(|error| expression_error(alarm, &self.queries[index].id, error))?;
            kinds[index].kind = Some(kind);
        }
        let returned = &self.queries[self.returned];
        match kinds[self.returned].kind {
            Some(Kind::Series) | None => Ok(()),
            Some(kind) => Err(AlarmError::InvalidAlarm {
                alarm: alarm.to_owned(),
                field: "Metrics",
                message: format!(
                    "query {:?}: Expression: returns {}; the expression an alarm watches must return a single time series",
                    returned.id,
                    kind.described()
                ),
            }),
        }
    }

    /// The returned query's value in each period, most recent first.
    pub(crate) fn values(&self, store: &MetricStore, periods: &Periods) -> Series {
        let mut values: Vec<Option<Value>> = self
            .queries
            .iter()
            .map(|query| match &query.source {
                QuerySource::MetricStat(stat) => Some(Value::Series(
                    store
                        .datapoints(stat, periods)
                        .into_iter()
                        .map(|point| point.map(|point| point.value))
                        .collect(),
                )),
                QuerySource::Insights(insights) => {
                    Some(Value::Series(insights.series(store, periods)))
                }
                QuerySource::Math(_) => None,
            })
            .collect();
        for &index in &self.math_order {
            let QuerySource::Math(expression) = &self.queries[index].source else {
                continue;
            };
            let value = {
                let inputs: Vec<QueryValue> = self
                    .queries
                    .iter()
                    .zip(&values)
                    .map(|(query, value)| QueryValue {
                        id: &query.id,
                        value: value.as_ref(),
                        is_metric: matches!(query.source, QuerySource::MetricStat(_)),
                    })
                    .collect();
                expression.evaluate(&Inputs {
                    len: periods.count,
                    period_seconds: self.period_seconds,
                    queries: &inputs,
                })
            };
            values[index] = Some(value);
        }
        match values.swap_remove(self.returned) {
            Some(Value::Series(series)) => series,
            _ => vec![None; periods.count],
        }
    }
}

fn expression_error(alarm: &str, id: &str, error: ExpressionError) -> AlarmError {
    match error {
        ExpressionError::Invalid { at, message } => AlarmError::InvalidAlarm {
            alarm: alarm.to_owned(),
            field: "Metrics",
            message: format!("query {id:?}: Expression: {message} (at character {at})"),
        },
        ExpressionError::Unsupported { at, what } => AlarmError::Unsupported {
            alarm: alarm.to_owned(),
            what: format!("{what} (query {id:?}, at character {at})"),
        },
    }
}

enum QueryError {
    Invalid(String),
    Unsupported(String),
}

/// Reads one entry; errors name it by its Id, or by its place when the Id is unusable.
fn read_query(index: usize, entry: &Json) -> Result<MetricQuery, QueryError> {
    let place = format!("Metrics[{index}]");
    let Some(fields) = entry.as_object() else {
        return Err(QueryError::Invalid(format!(
            "{place}: a MetricDataQuery is an object, not {entry}"
        )));
    };
    let id = match fields.get("Id") {
        Some(Json::String(id)) => id.clone(),
        Some(other) => {
            return Err(QueryError::Invalid(format!(
                "{place}: Id: must be a string, not {other}"
            )));
        }
        None => return Err(QueryError::Invalid(format!("{place}: Id: is required"))),
    };
    let valid_id = id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 255;
    if !valid_id {
        return Err(QueryError::Invalid(format!(
            "{place}: Id: {id:?} must start with a lowercase letter and hold only letters, digits and _, at most 255"
        )));
    }
    let named = |field: &str, message: String| {
        QueryError::Invalid(format!("query {id:?}: {field}: {message}"))
    };
    let fields = Fields {
        map: fields,
        named: &named,
    };
    fields.only(&[
        "Id",
        "MetricStat",
        "Expression",
        "Label",
        "ReturnData",
        "Period",
        "AccountId",
    ])?;
    let label = fields.string("Label")?;
    let return_data = fields.boolean("ReturnData")?.unwrap_or(true);
    let period_seconds = fields.period("Period")?;
    let account_id = fields.string("AccountId")?;
    let source = match (fields.map.get("MetricStat"), fields.string("Expression")?) {
        (Some(_), Some(_)) => {
            return Err(named(
                "MetricStat",
                "give MetricStat or Expression, not both".to_owned(),
            ));
        }
        (None, None) => {
            return Err(named(
                "MetricStat",
                "MetricStat or Expression is required".to_owned(),
            ));
        }
        (Some(stat), None) => QuerySource::MetricStat(read_metric_stat(stat, &named)?),
        (None, Some(expression)) => {
            if expression.trim().is_empty() {
                return Err(named("Expression", "is empty".to_owned()));
            }
            let parsed = if insights::is_insights_query(&expression) {
                InsightsQuery::parse(&expression).map(QuerySource::Insights)
            } else {
                MathExpression::parse(&expression).map(QuerySource::Math)
            };
            parsed.map_err(|error| match error {
                ExpressionError::Invalid { at, message } => {
                    named("Expression", format!("{message} (at character {at})"))
                }
                ExpressionError::Unsupported { at, what } => {
                    QueryError::Unsupported(format!("{what} (query {id:?}, at character {at})"))
                }
            })?
        }
    };
    if let (QuerySource::MetricStat(stat), Some(period)) = (&source, period_seconds)
        && period != stat.period_seconds
    {
        return Err(named(
            "Period",
            format!(
                "{period} s differs from the MetricStat's {} s",
                stat.period_seconds
            ),
        ));
    }
    Ok(MetricQuery {
        id,
        label,
        return_data,
        period_seconds,
        account_id,
        source,
    })
}

/// Typed access to one JSON object's fields, with errors naming the field.
struct Fields<'a> {
    map: &'a Map<String, Json>,
    named: &'a dyn Fn(&str, String) -> QueryError,
}

impl Fields<'_> {
    fn only(&self, allowed: &[&str]) -> Result<(), QueryError> {
        match self.map.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(key) => Err((self.named)(
                key,
                format!("is not a field here; the fields are {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn string(&self, field: &str) -> Result<Option<String>, QueryError> {
        match self.map.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err((self.named)(
                field,
                format!("must be a string, not {other}"),
            )),
        }
    }

    fn boolean(&self, field: &str) -> Result<Option<bool>, QueryError> {
        match self.map.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Bool(value)) => Ok(Some(*value)),
            Some(other) => Err((self.named)(
                field,
                format!("must be true or false, not {other}"),
            )),
        }
    }

    /// A positive whole number of seconds.
    fn period(&self, field: &str) -> Result<Option<u32>, QueryError> {
        match self.map.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
                Some(seconds) if seconds > 0 => Ok(Some(seconds)),
                _ => Err((self.named)(
                    field,
                    format!("must be a positive number of seconds, not {value}"),
                )),
            },
        }
    }

    fn object(&self, field: &str) -> Result<&Map<String, Json>, QueryError> {
        match self.map.get(field) {
            Some(Json::Object(map)) => Ok(map),
            None | Some(Json::Null) => Err((self.named)(field, "is required".to_owned())),
            Some(other) => Err((self.named)(
                field,
                format!("must be an object, not {other}"),
            )),
        }
    }
}

fn read_metric_stat(
    stat: &Json,
    named: &dyn Fn(&str, String) -> QueryError,
) -> Result<MetricStat, QueryError> {
    let Some(stat) = stat.as_object() else {
        return Err(named(
            "MetricStat",
            format!("must be an object, not {stat}"),
        ));
    };
    let in_stat = |field: &str, message: String| named(&format!("MetricStat.{field}"), message);
    let fields = Fields {
        map: stat,
        named: &in_stat,
    };
    fields.only(&["Metric", "Period", "Stat", "Unit"])?;
    let metric = fields.object("Metric")?;
    let period_seconds = fields
        .period("Period")?
        .ok_or_else(|| in_stat("Period", "is required".to_owned()))?;
    let stat_name = fields
        .string("Stat")?
        .ok_or_else(|| in_stat("Stat", "is required".to_owned()))?;
    let statistic = match Statistic::named(&stat_name) {
        Some(statistic) => statistic,
        None => extended_statistic(&stat_name).map_err(|error| match error {
            StatisticError::Invalid(message) => in_stat("Stat", message),
            StatisticError::Unsupported(what) => QueryError::Unsupported(what),
        })?,
    };
    let unit = fields.string("Unit")?;
    let in_metric =
        |field: &str, message: String| named(&format!("MetricStat.Metric.{field}"), message);
    let metric_fields = Fields {
        map: metric,
        named: &in_metric,
    };
    metric_fields.only(&["Namespace", "MetricName", "Dimensions"])?;
    let namespace = metric_fields
        .string("Namespace")?
        .filter(|namespace| !namespace.is_empty())
        .ok_or_else(|| in_metric("Namespace", "is required".to_owned()))?;
    let metric_name = metric_fields
        .string("MetricName")?
        .filter(|name| !name.is_empty())
        .ok_or_else(|| in_metric("MetricName", "is required".to_owned()))?;
    let mut dimensions = BTreeMap::new();
    match metric.get("Dimensions") {
        None | Some(Json::Null) => {}
        Some(Json::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let field = format!("Dimensions[{index}]");
                let Some(item) = item.as_object() else {
                    return Err(in_metric(&field, format!("must be an object, not {item}")));
                };
                let in_dimension =
                    |name: &str, message: String| in_metric(&format!("{field}.{name}"), message);
                let dimension = Fields {
                    map: item,
                    named: &in_dimension,
                };
                dimension.only(&["Name", "Value"])?;
                let name = dimension
                    .string("Name")?
                    .ok_or_else(|| in_dimension("Name", "is required".to_owned()))?;
                let value = dimension
                    .string("Value")?
                    .ok_or_else(|| in_dimension("Value", "is required".to_owned()))?;
                if dimensions.insert(name.clone(), value).is_some() {
                    return Err(in_metric("Dimensions", format!("{name:?} is given twice")));
                }
            }
        }
        Some(other) => {
            return Err(in_metric(
                "Dimensions",
                format!("must be a list, not {other}"),
            ));
        }
    }
    Ok(MetricStat {
        metric: MetricId {
            namespace,
            metric_name,
            dimensions,
        },
        statistic,
        period_seconds,
        unit,
    })
}

/// The one period of every metric and expression that gives one.
fn common_period(queries: &[MetricQuery]) -> Result<u32, String> {
    let mut first: Option<(&str, u32)> = None;
    for query in queries {
        let period = match &query.source {
            QuerySource::MetricStat(stat) => Some(stat.period_seconds),
            _ => query.period_seconds,
        };
        let Some(period) = period else { continue };
        if let QuerySource::Insights(_) = query.source {
            // "Metrics Insights does not support high-resolution data"
            // (cloudwatch-metrics-insights-limits.html).
            if period % 60 != 0 {
                return Err(format!(
                    "query {:?}: Period: {period} s; a Metrics Insights query aggregates whole minutes",
                    query.id
                ));
            }
        }
        match first {
            None => first = Some((&query.id, period)),
            Some((id, seconds)) if seconds != period => {
                return Err(format!(
                    "query {:?}: Period: {period} s differs from query {id:?}'s {seconds} s; every metric of an alarm uses the same period",
                    query.id
                ));
            }
            Some(_) => {}
        }
    }
    first.map(|(_, period)| period).ok_or_else(|| {
        "no query gives a Period: give the MetricStat's, or the expression's Period".to_owned()
    })
}

/// The math queries ordered so that each comes after the expressions it reads; refuses cycles.
fn math_order(queries: &[MetricQuery]) -> Result<Vec<usize>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        index: usize,
        queries: &[MetricQuery],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), String> {
        match marks[index] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let start = path.iter().position(|i| *i == index).unwrap_or(0);
                let cycle: Vec<&str> = path[start..]
                    .iter()
                    .chain([&index])
                    .map(|i| queries[*i].id.as_str())
                    .collect();
                return Err(format!(
                    "query {:?}: Expression: reads itself through {}",
                    queries[index].id,
                    cycle.join(" -> ")
                ));
            }
            Mark::New => {}
        }
        let QuerySource::Math(expression) = &queries[index].source else {
            marks[index] = Mark::Done;
            return Ok(());
        };
        marks[index] = Mark::Visiting;
        path.push(index);
        for (id, _) in expression.references() {
            if let Some(read) = queries.iter().position(|query| query.id == id) {
                visit(read, queries, marks, path, order)?;
            }
        }
        path.pop();
        marks[index] = Mark::Done;
        order.push(index);
        Ok(())
    }
    let mut marks = vec![Mark::New; queries.len()];
    let mut order = Vec::new();
    for index in 0..queries.len() {
        visit(index, queries, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}
