//! The SNS message CloudWatch publishes for an alarm action. The shape follows AWS's sample
//! notifications in aws-lambda-go (`events/testdata/cloudwatch-alarm-sns-payload-single-metric.json`
//! and, for alarms on `Metrics`, `cloudwatch-alarm-sns-payload-multiple-metrics.json`, whose
//! queries list their fields in alphabetical order); the CloudWatch user guide shows state reasons
//! but not this message.

use chrono::DateTime;
use serde::Serialize;

use crate::alarm::{AlarmMetric, MetricStat, Statistic};
use crate::evaluator::Transition;
use crate::queries::{MetricQuery, QuerySource};

/// Where the alarm lives, for the parts of the message CloudWatch fills from its account.
#[derive(Debug, Clone, Copy)]
pub struct NotificationContext<'a> {
    pub account_id: &'a str,
    /// The region code, for the alarm ARN: `eu-west-1`.
    pub region: &'a str,
    /// The region as notifications name it: `EU (Ireland)`.
    pub region_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Message<'a> {
    alarm_name: &'a str,
    alarm_description: Option<&'a str>,
    #[serde(rename = "AWSAccountId")]
    aws_account_id: &'a str,
    new_state_value: &'a str,
    new_state_reason: &'a str,
    state_change_time: String,
    region: &'a str,
    alarm_arn: String,
    old_state_value: &'a str,
    trigger: Trigger<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Trigger<'a> {
    Metric(MetricTrigger<'a>),
    Queries(QueriesTrigger<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricTrigger<'a> {
    metric_name: &'a str,
    namespace: &'a str,
    statistic_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistic: Option<String>,
    unit: Option<&'a str>,
    dimensions: Vec<Dimension<'a>>,
    period: u32,
    evaluation_periods: u32,
    comparison_operator: String,
    threshold: f64,
    treat_missing_data: String,
    evaluate_low_sample_count_percentile: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueriesTrigger<'a> {
    period: u32,
    evaluation_periods: u32,
    comparison_operator: String,
    threshold: f64,
    treat_missing_data: String,
    evaluate_low_sample_count_percentile: &'a str,
    metrics: Vec<Query<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Query<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression: Option<&'a str>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric_stat: Option<QueryStat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<u32>,
    return_data: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryStat<'a> {
    metric: QueryMetric<'a>,
    period: u32,
    stat: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryMetric<'a> {
    dimensions: Vec<Dimension<'a>>,
    metric_name: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
struct Dimension<'a> {
    value: &'a str,
    name: &'a str,
}

fn dimensions(stat: &MetricStat) -> Vec<Dimension<'_>> {
    stat.metric
        .dimensions
        .iter()
        .map(|(name, value)| Dimension { value, name })
        .collect()
}

fn query(query: &MetricQuery) -> Query<'_> {
    let (expression, metric_stat) = match &query.source {
        QuerySource::MetricStat(stat) => (
            None,
            Some(QueryStat {
                metric: QueryMetric {
                    dimensions: dimensions(stat),
                    metric_name: &stat.metric.metric_name,
                    namespace: &stat.metric.namespace,
                },
                period: stat.period_seconds,
                stat: stat.statistic.api_name(),
                unit: stat.unit.as_deref(),
            }),
        ),
        QuerySource::Math(math) => (Some(math.source()), None),
        QuerySource::Insights(insights) => (Some(insights.source()), None),
    };
    Query {
        account_id: query.account_id.as_deref(),
        expression,
        id: &query.id,
        label: query.label.as_deref(),
        metric_stat,
        period: query.period_seconds,
        return_data: query.return_data,
    }
}

impl Transition {
    /// The SNS `Message` for this transition's actions: a JSON document as a string.
    pub fn notification_message(&self, context: &NotificationContext) -> String {
        let alarm = &self.alarm;
        // Written as in AWS's sample: a label padded to a column, then the value.
        let treat_missing_data = format!(
            "- TreatMissingData:                    {}",
            alarm.treat_missing_data.as_str()
        );
        let evaluate_low_sample_count_percentile = if alarm.ignore_low_sample_count_percentile {
            "ignore"
        } else {
            ""
        };
        let trigger = match &alarm.metric {
            AlarmMetric::Metric(stat) => {
                let (statistic_type, statistic, extended_statistic) = match stat.statistic {
                    Statistic::Percentile(_) => (
                        "ExtendedStatistic",
                        None,
                        Some(stat.statistic.trigger_name()),
                    ),
                    _ => ("Statistic", Some(stat.statistic.trigger_name()), None),
                };
                Trigger::Metric(MetricTrigger {
                    metric_name: &stat.metric.metric_name,
                    namespace: &stat.metric.namespace,
                    statistic_type,
                    statistic,
                    extended_statistic,
                    unit: stat.unit.as_deref(),
                    dimensions: dimensions(stat),
                    period: alarm.period_seconds,
                    evaluation_periods: alarm.evaluation_periods,
                    comparison_operator: alarm.comparison_operator.to_string(),
                    threshold: alarm.threshold,
                    treat_missing_data,
                    evaluate_low_sample_count_percentile,
                })
            }
            AlarmMetric::Queries(queries) => Trigger::Queries(QueriesTrigger {
                period: alarm.period_seconds,
                evaluation_periods: alarm.evaluation_periods,
                comparison_operator: alarm.comparison_operator.to_string(),
                threshold: alarm.threshold,
                treat_missing_data,
                evaluate_low_sample_count_percentile,
                metrics: queries.queries().iter().map(query).collect(),
            }),
        };
        let message = Message {
            alarm_name: &alarm.name,
            alarm_description: alarm.description.as_deref(),
            aws_account_id: context.account_id,
            new_state_value: self.to.as_str(),
            new_state_reason: &self.reason,
            state_change_time: state_change_time(self.timestamp_ms),
            region: context.region_name,
            alarm_arn: alarm.arn.clone().unwrap_or_else(|| {
                format!(
                    "arn:aws:cloudwatch:{}:{}:alarm:{}",
                    context.region, context.account_id, alarm.name
                )
            }),
            old_state_value: self.from.as_str(),
            trigger,
        };
        serde_json::to_string(&message).expect("the notification always serialises")
    }

    /// The SNS `Subject`: `ALARM: "name" in EU (Ireland)`, cut to SNS's 100 characters.
    pub fn notification_subject(&self, context: &NotificationContext) -> String {
        let subject = format!(
            "{}: \"{}\" in {}",
            self.to, self.alarm.name, context.region_name
        );
        subject.chars().take(100).collect()
    }
}

/// `2015-06-03T17:43:27.123+0000`
fn state_change_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
        .unwrap_or_else(|| ms.to_string())
}
