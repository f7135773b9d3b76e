//! A metric alarm as `DescribeAlarms` returns it (`MetricAlarms[]`), checked into an [`Alarm`].
//! Fields: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html>.
//! An alarm watches one metric (`Namespace`, `MetricName`, ...) or the one query of its `Metrics`
//! that returns data: see [`crate::MetricQueries`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::error::AlarmError;
use crate::metrics::MetricId;
use crate::queries::MetricQueries;

/// The fields of one `MetricAlarms[]` entry of `DescribeAlarms` (as the AWS CLI prints them).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricAlarmSpec {
    pub alarm_name: String,
    pub alarm_arn: Option<String>,
    pub alarm_description: Option<String>,
    /// Absent means true, as in `PutMetricAlarm`.
    pub actions_enabled: Option<bool>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub dimensions: Vec<DimensionSpec>,
    pub period: Option<u32>,
    pub unit: Option<String>,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: Option<f64>,
    pub comparison_operator: String,
    pub treat_missing_data: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// The `Metrics` list (MetricDataQuery entries) of an alarm on metric math or a Metrics
    /// Insights query, as JSON: [`Alarm::new`] reads it strictly, naming the query and field of
    /// whatever is wrong.
    pub metrics: Vec<serde_json::Value>,
    /// Anomaly detection bands; refused when present.
    pub threshold_metric_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionSpec {
    pub name: String,
    pub value: String,
}

/// How each period's datapoint is computed from the samples in it
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html>).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    /// `pNN`: the largest sample of the lowest NN percent (nearest rank), NN in (0, 100].
    Percentile(f64),
}

impl Statistic {
    /// Computes the statistic; `samples` is not empty.
    pub(crate) fn of(self, samples: &mut [f64]) -> f64 {
        match self {
            Statistic::SampleCount => samples.len() as f64,
            Statistic::Sum => samples.iter().sum(),
            Statistic::Average => samples.iter().sum::<f64>() / samples.len() as f64,
            Statistic::Minimum => samples.iter().copied().fold(f64::INFINITY, f64::min),
            Statistic::Maximum => samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Statistic::Percentile(percent) => {
                samples.sort_by(f64::total_cmp);
                let rank = (percent / 100.0 * samples.len() as f64).ceil() as usize;
                samples[rank.clamp(1, samples.len()) - 1]
            }
        }
    }

    /// The API's name: `Sum`, `SampleCount`, ... or `p99`.
    pub fn api_name(self) -> String {
        match self {
            Statistic::SampleCount => "SampleCount".to_owned(),
            Statistic::Average => "Average".to_owned(),
            Statistic::Sum => "Sum".to_owned(),
            Statistic::Minimum => "Minimum".to_owned(),
            Statistic::Maximum => "Maximum".to_owned(),
            Statistic::Percentile(percent) => format!("p{percent}"),
        }
    }

    /// One of the five statistics by its API name.
    pub(crate) fn named(name: &str) -> Option<Statistic> {
        match name {
            "SampleCount" => Some(Statistic::SampleCount),
            "Average" => Some(Statistic::Average),
            "Sum" => Some(Statistic::Sum),
            "Minimum" => Some(Statistic::Minimum),
            "Maximum" => Some(Statistic::Maximum),
            _ => None,
        }
    }

    /// The name in a notification's Trigger: `SUM`, `SAMPLE_COUNT`, ... or `p99`.
    pub(crate) fn trigger_name(self) -> String {
        match self {
            Statistic::SampleCount => "SAMPLE_COUNT".to_owned(),
            Statistic::Average => "AVERAGE".to_owned(),
            Statistic::Sum => "SUM".to_owned(),
            Statistic::Minimum => "MINIMUM".to_owned(),
            Statistic::Maximum => "MAXIMUM".to_owned(),
            Statistic::Percentile(percent) => format!("p{percent}"),
        }
    }
}

/// The comparison of a datapoint with the threshold; the anomaly-detection operators are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl ComparisonOperator {
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => value >= threshold,
            ComparisonOperator::GreaterThanThreshold => value > threshold,
            ComparisonOperator::LessThanThreshold => value < threshold,
            ComparisonOperator::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// How a state reason says it: "greater than or equal to".
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => "greater than or equal to",
            ComparisonOperator::GreaterThanThreshold => "greater than",
            ComparisonOperator::LessThanThreshold => "less than",
            ComparisonOperator::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

impl fmt::Display for ComparisonOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What missing datapoints count as
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreatMissingData {
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

impl TreatMissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            TreatMissingData::Missing => "missing",
            TreatMissingData::NotBreaching => "notBreaching",
            TreatMissingData::Breaching => "breaching",
            TreatMissingData::Ignore => "ignore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric and the statistic taken of its samples in each period: an alarm's `Namespace`,
/// `MetricName`, `Dimensions`, `Statistic` or `ExtendedStatistic` and `Unit`, or a query's
/// `MetricStat`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStat {
    pub metric: MetricId,
    pub statistic: Statistic,
    pub period_seconds: u32,
    /// Carried into notifications; datapoints carry no unit, so it is not matched.
    pub unit: Option<String>,
}

/// What an alarm watches.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmMetric {
    /// A single metric.
    Metric(MetricStat),
    /// The query of `Metrics` that returns data: metric math over the other queries, a Metrics
    /// Insights query, or a metric.
    Queries(MetricQueries),
}

/// A checked metric alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: String,
    pub arn: Option<String>,
    pub description: Option<String>,
    pub metric: AlarmMetric,
    /// The length of each evaluated period: the metric's, or the common period of the queries.
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    pub treat_missing_data: TreatMissingData,
    /// A percentile alarm with too few samples keeps its state when this is set ("ignore").
    pub ignore_low_sample_count_percentile: bool,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

impl Alarm {
    /// Checks the fields as `PutMetricAlarm` would, refusing what the local post office does not
    /// evaluate (anomaly detection, trimmed means and other extended statistics, and the metric
    /// math functions and Metrics Insights clauses [`MetricQueries`] names).
    pub fn new(spec: MetricAlarmSpec) -> Result<Alarm, AlarmError> {
        let name = spec.alarm_name.clone();
        let invalid = |field: &'static str, message: String| AlarmError::InvalidAlarm {
            alarm: name.clone(),
            field,
            message,
        };
        let unsupported = |what: String| AlarmError::Unsupported {
            alarm: name.clone(),
            what,
        };
        if name.is_empty() || name.chars().count() > 255 {
            return Err(invalid(
                "AlarmName",
                "must be 1 to 255 characters".to_owned(),
            ));
        }
        if spec.threshold_metric_id.is_some() {
            return Err(unsupported(
                "an anomaly detection alarm (ThresholdMetricId)".to_owned(),
            ));
        }
        let comparison_operator = match spec.comparison_operator.as_str() {
            "GreaterThanOrEqualToThreshold" => ComparisonOperator::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => ComparisonOperator::GreaterThanThreshold,
            "LessThanThreshold" => ComparisonOperator::LessThanThreshold,
            "LessThanOrEqualToThreshold" => ComparisonOperator::LessThanOrEqualToThreshold,
            anomaly @ ("LessThanLowerOrGreaterThanUpperThreshold"
            | "LessThanLowerThreshold"
            | "GreaterThanUpperThreshold") => {
                return Err(unsupported(format!(
                    "the anomaly detection operator {anomaly}"
                )));
            }
            other => {
                return Err(invalid(
                    "ComparisonOperator",
                    format!(
                        "{other:?} is not one of GreaterThanOrEqualToThreshold, GreaterThanThreshold, \
                         LessThanThreshold, LessThanOrEqualToThreshold"
                    ),
                ));
            }
        };
        let (metric, period_seconds) = if spec.metrics.is_empty() {
            let stat = single_metric(&spec, &invalid, &unsupported)?;
            let period = stat.period_seconds;
            (AlarmMetric::Metric(stat), period)
        } else {
            // "If you use the Metrics parameter, you cannot include the Namespace, MetricName,
            // Dimensions, Period, Unit, Statistic, or ExtendedStatistic parameters"
            // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
            let given = [
                ("Namespace", spec.namespace.is_some()),
                ("MetricName", spec.metric_name.is_some()),
                ("Dimensions", !spec.dimensions.is_empty()),
                ("Period", spec.period.is_some()),
                ("Unit", spec.unit.is_some()),
                ("Statistic", spec.statistic.is_some()),
                ("ExtendedStatistic", spec.extended_statistic.is_some()),
            ];
            if let Some((field, _)) = given.iter().find(|(_, given)| *given) {
                return Err(invalid(
                    field,
                    "cannot be given with Metrics; the queries name their metrics".to_owned(),
                ));
            }
            let queries = MetricQueries::new(&name, &spec.metrics)?;
            let period = queries.period_seconds();
            (AlarmMetric::Queries(queries), period)
        };
        check_period(period_seconds).map_err(|message| invalid("Period", message))?;
        let evaluation_periods = spec.evaluation_periods;
        if evaluation_periods == 0 {
            return Err(invalid(
                "EvaluationPeriods",
                "must be at least 1".to_owned(),
            ));
        }
        let datapoints_to_alarm = spec.datapoints_to_alarm.unwrap_or(evaluation_periods);
        if datapoints_to_alarm == 0 || datapoints_to_alarm > evaluation_periods {
            return Err(invalid(
                "DatapointsToAlarm",
                format!(
                    "{datapoints_to_alarm} is not between 1 and EvaluationPeriods ({evaluation_periods})"
                ),
            ));
        }
        let threshold = spec
            .threshold
            .filter(|threshold| threshold.is_finite())
            .ok_or_else(|| invalid("Threshold", "a finite threshold is required".to_owned()))?;
        let treat_missing_data = match spec.treat_missing_data.as_deref() {
            None | Some("missing") => TreatMissingData::Missing,
            Some("notBreaching") => TreatMissingData::NotBreaching,
            Some("breaching") => TreatMissingData::Breaching,
            Some("ignore") => TreatMissingData::Ignore,
            Some(other) => {
                return Err(invalid(
                    "TreatMissingData",
                    format!("{other:?} is not one of missing, notBreaching, breaching, ignore"),
                ));
            }
        };
        let ignore_low_sample_count_percentile =
            match spec.evaluate_low_sample_count_percentile.as_deref() {
                None | Some("") | Some("evaluate") => false,
                Some("ignore") => true,
                Some(other) => {
                    return Err(invalid(
                        "EvaluateLowSampleCountPercentile",
                        format!("{other:?} is not evaluate or ignore"),
                    ));
                }
            };
        Ok(Alarm {
            name: spec.alarm_name,
            arn: spec.alarm_arn,
            description: spec.alarm_description,
            metric,
            period_seconds,
            evaluation_periods,
            datapoints_to_alarm,
            threshold,
            comparison_operator,
            treat_missing_data,
            ignore_low_sample_count_percentile,
            actions_enabled: spec.actions_enabled.unwrap_or(true),
            alarm_actions: spec.alarm_actions,
            ok_actions: spec.ok_actions,
            insufficient_data_actions: spec.insufficient_data_actions,
        })
    }

    /// The metric of an alarm on a single metric; `None` for an alarm on `Metrics`.
    pub fn metric_stat(&self) -> Option<&MetricStat> {
        match &self.metric {
            AlarmMetric::Metric(stat) => Some(stat),
            AlarmMetric::Queries(_) => None,
        }
    }

    /// The queries of an alarm on `Metrics`; `None` for an alarm on a single metric.
    pub fn queries(&self) -> Option<&MetricQueries> {
        match &self.metric {
            AlarmMetric::Metric(_) => None,
            AlarmMetric::Queries(queries) => Some(queries),
        }
    }

    /// The actions to run on entering `state`; none when actions are disabled.
    pub fn actions_for(&self, state: AlarmState) -> &[String] {
        if !self.actions_enabled {
            return &[];
        }
        match state {
            AlarmState::Ok => &self.ok_actions,
            AlarmState::Alarm => &self.alarm_actions,
            AlarmState::InsufficientData => &self.insufficient_data_actions,
        }
    }
}

/// The metric of an alarm without `Metrics`.
fn single_metric(
    spec: &MetricAlarmSpec,
    invalid: &dyn Fn(&'static str, String) -> AlarmError,
    unsupported: &dyn Fn(String) -> AlarmError,
) -> Result<MetricStat, AlarmError> {
    let namespace = spec
        .namespace
        .clone()
        .filter(|namespace| !namespace.is_empty())
        .ok_or_else(|| invalid("Namespace", "is required".to_owned()))?;
    let metric_name = spec
        .metric_name
        .clone()
        .filter(|metric| !metric.is_empty())
        .ok_or_else(|| invalid("MetricName", "is required".to_owned()))?;
    let statistic = match (
        spec.statistic.as_deref(),
        spec.extended_statistic.as_deref(),
    ) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "Statistic",
                "give Statistic or ExtendedStatistic, not both".to_owned(),
            ));
        }
        (None, None) => {
            return Err(invalid(
                "Statistic",
                "Statistic or ExtendedStatistic is required".to_owned(),
            ));
        }
        (Some(name), None) => Statistic::named(name).ok_or_else(|| {
            invalid(
                "Statistic",
                format!("{name:?} is not one of SampleCount, Average, Sum, Minimum, Maximum"),
            )
        })?,
        (None, Some(extended)) => match extended_statistic(extended) {
            Ok(statistic) => statistic,
            Err(StatisticError::Invalid(message)) => {
                return Err(invalid("ExtendedStatistic", message));
            }
            Err(StatisticError::Unsupported(what)) => return Err(unsupported(what)),
        },
    };
    let period_seconds = spec
        .period
        .ok_or_else(|| invalid("Period", "is required".to_owned()))?;
    let mut dimensions = BTreeMap::new();
    for dimension in &spec.dimensions {
        if dimensions
            .insert(dimension.name.clone(), dimension.value.clone())
            .is_some()
        {
            return Err(invalid(
                "Dimensions",
                format!("{:?} is given twice", dimension.name),
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
        unit: spec.unit.clone(),
    })
}

pub(crate) enum StatisticError {
    Invalid(String),
    Unsupported(String),
}

/// An extended statistic: percentiles `pNN` are evaluated, the others refused.
pub(crate) fn extended_statistic(extended: &str) -> Result<Statistic, StatisticError> {
    match parse_percentile(extended) {
        Some(percent) => Ok(Statistic::Percentile(percent)),
        None if extended.starts_with(['p', 'P']) => Err(StatisticError::Invalid(format!(
            "{extended:?} is not a percentile p0.0 to p100"
        ))),
        None => Err(StatisticError::Unsupported(format!(
            "the extended statistic {extended:?} (only percentiles pNN)"
        ))),
    }
}

/// High-resolution alarms take 10 or 30 seconds, others any multiple of 60
/// (AlarmThatSendsEmail.html#high-resolution-alarms).
pub(crate) fn check_period(period_seconds: u32) -> Result<(), String> {
    if period_seconds == 10
        || period_seconds == 30
        || (period_seconds > 0 && period_seconds.is_multiple_of(60))
    {
        Ok(())
    } else {
        Err(format!(
            "{period_seconds} s is not 10, 30 or a multiple of 60"
        ))
    }
}

/// `p99`, `p99.9`, `p50`: a percentile in (0, 100].
fn parse_percentile(text: &str) -> Option<f64> {
    let number = text.strip_prefix('p')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let percent: f64 = number.parse().ok()?;
    (percent > 0.0 && percent <= 100.0).then_some(percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_over_samples() {
        let samples = [4.0, 1.0, 3.0, 2.0, 10.0];
        let of = |statistic: Statistic| statistic.of(&mut samples.clone());
        assert_eq!(of(Statistic::SampleCount), 5.0);
        assert_eq!(of(Statistic::Sum), 20.0);
        assert_eq!(of(Statistic::Average), 4.0);
        assert_eq!(of(Statistic::Minimum), 1.0);
        assert_eq!(of(Statistic::Maximum), 10.0);
        // p80 of 5 samples: the 4th smallest; p90 and p100: the largest; p1: the smallest.
        assert_eq!(of(Statistic::Percentile(80.0)), 4.0);
        assert_eq!(of(Statistic::Percentile(90.0)), 10.0);
        assert_eq!(of(Statistic::Percentile(100.0)), 10.0);
        assert_eq!(of(Statistic::Percentile(1.0)), 1.0);
    }

    #[test]
    fn percentiles_parse_as_cloudwatch_writes_them() {
        assert_eq!(parse_percentile("p99"), Some(99.0));
        assert_eq!(parse_percentile("p99.9"), Some(99.9));
        assert_eq!(parse_percentile("p100"), Some(100.0));
        for bad in ["p0", "p101", "p", "99", "p-1", "tm99", "p9x"] {
            assert_eq!(parse_percentile(bad), None, "{bad}");
        }
    }
}
