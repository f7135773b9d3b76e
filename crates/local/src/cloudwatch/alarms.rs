//! The CloudWatch alarms Terraform applied, evaluated locally (`postoffice-alarms`) over the
//! metrics the local services emit, the SQS queue depths sampled from the control plane, and
//! the Lambda host's counters. A change of state is recorded, written back to the control
//! plane (`SetAlarmState`, so `DescribeAlarms` shows it), and its actions run: CloudWatch
//! publishes to each SNS topic as `cloudwatch.amazonaws.com`, which the topic policy and the
//! topic's key policy must allow, exactly as in AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postoffice_alarms::{
    Alarm, AlarmEvaluator, AlarmState, DimensionSpec, MetricAlarmSpec, MetricId, MetricStore,
    NotificationContext, Transition,
};
use postoffice_lambda_host::{FunctionMetrics, LambdaHost};
use postoffice_policy::Principal;

use super::metrics::Metrics;
use crate::activity::{Activity, ActivityLog};
use crate::applied::Applied;
use crate::sns::Sns;
use crate::sns::query::PublishRequest;

/// How often alarms are evaluated and queue depths sampled, before time scaling.
const TICK: Duration = Duration::from_secs(60);

pub struct Alarms {
    evaluator: Mutex<AlarmEvaluator>,
    /// Queue name → URL, of the queues some alarm watches.
    watched_queues: Mutex<BTreeMap<String, String>>,
    lambda_seen: Mutex<BTreeMap<String, FunctionMetrics>>,
    pub metrics: Arc<Metrics>,
    pub sns: Arc<Sns>,
    pub host: LambdaHost,
    pub sqs: aws_sdk_sqs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub activity: ActivityLog,
    pub account: String,
    pub region: String,
    pub time_scale: f64,
    pub problems: Mutex<Vec<String>>,
}

/// The alarm's `DescribeAlarms` fields, as `postoffice-alarms` reads them.
pub fn spec(alarm: &aws_sdk_cloudwatch::types::MetricAlarm) -> MetricAlarmSpec {
    MetricAlarmSpec {
        alarm_name: alarm.alarm_name.clone().unwrap_or_default(),
        alarm_arn: alarm.alarm_arn.clone(),
        alarm_description: alarm.alarm_description.clone(),
        actions_enabled: alarm.actions_enabled,
        ok_actions: alarm.ok_actions.clone().unwrap_or_default(),
        alarm_actions: alarm.alarm_actions.clone().unwrap_or_default(),
        insufficient_data_actions: alarm.insufficient_data_actions.clone().unwrap_or_default(),
        metric_name: alarm.metric_name.clone(),
        namespace: alarm.namespace.clone(),
        statistic: alarm.statistic.as_ref().map(|s| s.as_str().to_owned()),
        extended_statistic: alarm.extended_statistic.clone(),
        dimensions: alarm
            .dimensions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|dimension| DimensionSpec {
                name: dimension.name.unwrap_or_default(),
                value: dimension.value.unwrap_or_default(),
            })
            .collect(),
        period: alarm.period.map(|period| period.max(0) as u32),
        unit: alarm.unit.as_ref().map(|unit| unit.as_str().to_owned()),
        evaluation_periods: alarm.evaluation_periods.unwrap_or(1).max(1) as u32,
        datapoints_to_alarm: alarm.datapoints_to_alarm.map(|n| n.max(1) as u32),
        threshold: alarm.threshold,
        comparison_operator: alarm
            .comparison_operator
            .as_ref()
            .map(|operator| operator.as_str().to_owned())
            .unwrap_or_default(),
        treat_missing_data: alarm.treat_missing_data.clone(),
        evaluate_low_sample_count_percentile: alarm.evaluate_low_sample_count_percentile.clone(),
        metrics: alarm
            .metrics
            .iter()
            .flatten()
            .map(metric_data_query)
            .collect(),
        threshold_metric_id: alarm.threshold_metric_id.clone(),
    }
}

/// A `MetricDataQuery` as `DescribeAlarms` writes it in JSON.
fn metric_data_query(query: &aws_sdk_cloudwatch::types::MetricDataQuery) -> serde_json::Value {
    let mut value = serde_json::json!({ "Id": query.id });
    if let Some(stat) = &query.metric_stat {
        let metric = stat.metric.as_ref();
        value["MetricStat"] = serde_json::json!({
            "Metric": {
                "Namespace": metric.and_then(|m| m.namespace.clone()),
                "MetricName": metric.and_then(|m| m.metric_name.clone()),
                "Dimensions": metric
                    .and_then(|m| m.dimensions.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| serde_json::json!({"Name": d.name, "Value": d.value}))
                    .collect::<Vec<_>>(),
            },
            "Period": stat.period,
            "Stat": stat.stat,
        });
        if let Some(unit) = &stat.unit {
            value["MetricStat"]["Unit"] = serde_json::json!(unit.as_str());
        }
    }
    for (field, text) in [
        ("Expression", &query.expression),
        ("Label", &query.label),
        ("AccountId", &query.account_id),
    ] {
        if let Some(text) = text {
            value[field] = serde_json::json!(text);
        }
    }
    if let Some(return_data) = query.return_data {
        value["ReturnData"] = serde_json::json!(return_data);
    }
    if let Some(period) = query.period {
        value["Period"] = serde_json::json!(period);
    }
    value
}

/// The runbook link in an alarm's description (`Runbook: docs/runbook.md#anchor`).
pub fn runbook(description: Option<&str>) -> Option<String> {
    let description = description?;
    let at = description.find("Runbook:")?;
    description[at + "Runbook:".len()..]
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

impl Alarms {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        metrics: Arc<Metrics>,
        sns: Arc<Sns>,
        host: LambdaHost,
        sqs: aws_sdk_sqs::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        activity: ActivityLog,
        account: &str,
        region: &str,
        time_scale: f64,
    ) -> anyhow::Result<Self> {
        let scale = time_scale.max(0.0001);
        let evaluator = AlarmEvaluator::new(MetricStore::new(24 * 3600 * 1000, 1_000_000), scale)?;
        Ok(Self {
            evaluator: Mutex::new(evaluator),
            watched_queues: Mutex::default(),
            lambda_seen: Mutex::default(),
            metrics,
            sns,
            host,
            sqs,
            cloudwatch,
            activity,
            account: account.to_owned(),
            region: region.to_owned(),
            time_scale: scale,
            problems: Mutex::default(),
        })
    }

    /// Takes the applied alarms: new ones start in INSUFFICIENT_DATA, changed ones keep their
    /// state, removed ones go.
    pub fn apply(&self, applied: &Applied) {
        let now = chrono::Utc::now().timestamp_millis();
        let mut evaluator = self.evaluator.lock().unwrap_or_else(|p| p.into_inner());
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        let mut queues = BTreeMap::new();
        for described in &applied.cloudwatch.alarms {
            let alarm = match Alarm::new(spec(described)) {
                Ok(alarm) => alarm,
                Err(error) => {
                    problems.push(error.to_string());
                    continue;
                }
            };
            if let Some(stat) = alarm.metric_stat()
                && stat.metric.namespace == "AWS/SQS"
                && let Some(queue) = stat.metric.dimensions.get("QueueName")
                && let Some(found) = applied.sqs.queues.values().find(|q| &q.name == queue)
            {
                queues.insert(queue.clone(), found.url.clone());
            }
            names.insert(alarm.name.clone());
            if let Err(error) = evaluator.put_alarm(alarm, now) {
                problems.push(error.to_string());
            }
        }
        let gone: Vec<String> = evaluator
            .alarms()
            .map(|alarm| alarm.name.clone())
            .filter(|name| !names.contains(name))
            .collect();
        for name in gone {
            evaluator.remove_alarm(&name);
        }
        *self
            .watched_queues
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = queues;
        *self.problems.lock().unwrap_or_else(|p| p.into_inner()) = problems;
    }

    /// Evaluates until the task is aborted. Queue depths are sampled once a (scaled) minute, as
    /// SQS publishes them; alarms are evaluated more often, as CloudWatch does for short periods.
    pub async fn run(self: Arc<Self>) {
        let minute = TICK
            .mul_f64(self.time_scale)
            .max(Duration::from_millis(500));
        let tick = (minute / 6).max(Duration::from_millis(100));
        let mut last_sample = tokio::time::Instant::now() - minute;
        loop {
            tokio::time::sleep(tick).await;
            let queues = last_sample.elapsed() >= minute;
            if queues {
                last_sample = tokio::time::Instant::now();
            }
            self.sample(queues).await;
            let transitions = {
                let mut evaluator = self.evaluator.lock().unwrap_or_else(|p| p.into_inner());
                evaluator.evaluate(chrono::Utc::now().timestamp_millis())
            };
            for transition in transitions {
                self.act(transition).await;
            }
        }
    }

    /// Gathers what was emitted, the watched queues' depths and the Lambda counters.
    async fn sample(&self, queues: bool) {
        let now = chrono::Utc::now().timestamp_millis();
        let mut datapoints: Vec<(MetricId, f64)> = self
            .metrics
            .take()
            .into_iter()
            .map(|datapoint| {
                let dimensions: Vec<(&str, &str)> = datapoint
                    .dimensions
                    .iter()
                    .map(|(name, value)| (*name, value.as_str()))
                    .collect();
                (
                    MetricId::new(datapoint.namespace, datapoint.metric, &dimensions),
                    datapoint.value,
                )
            })
            .collect();
        let watched = if queues {
            self.watched_queues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        } else {
            BTreeMap::new()
        };
        for (name, url) in watched {
            use aws_sdk_sqs::types::QueueAttributeName as Attribute;
            let Ok(answer) = self
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(Attribute::ApproximateNumberOfMessages)
                .send()
                .await
            else {
                continue;
            };
            let visible = answer
                .attributes
                .and_then(|attributes| {
                    attributes
                        .get(&Attribute::ApproximateNumberOfMessages)
                        .cloned()
                })
                .and_then(|value| value.parse::<f64>().ok())
                .unwrap_or(0.0);
            datapoints.push((
                MetricId::new(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    &[("QueueName", name.as_str())],
                ),
                visible,
            ));
        }
        let current = self.host.all_metrics();
        {
            let mut seen = self.lambda_seen.lock().unwrap_or_else(|p| p.into_inner());
            for (function, metrics) in &current {
                let before = seen.get(function);
                let delta =
                    |now: u64, then: Option<u64>| now.saturating_sub(then.unwrap_or(0)) as f64;
                let dimensions = [("FunctionName", function.as_str())];
                datapoints.push((
                    MetricId::new("AWS/Lambda", "Errors", &dimensions),
                    delta(metrics.errors, before.map(|m| m.errors)),
                ));
                datapoints.push((
                    MetricId::new("AWS/Lambda", "Throttles", &dimensions),
                    delta(metrics.throttles, before.map(|m| m.throttles)),
                ));
                datapoints.push((
                    MetricId::new("AWS/Lambda", "Invocations", &dimensions),
                    delta(metrics.invocations, before.map(|m| m.invocations)),
                ));
            }
            *seen = current;
        }
        let mut evaluator = self.evaluator.lock().unwrap_or_else(|p| p.into_inner());
        for (metric, value) in datapoints {
            let _ = evaluator.put_datapoint(&metric, now, value);
        }
    }

    async fn act(&self, transition: Transition) {
        let name = transition.alarm.name.clone();
        let runbook = runbook(transition.alarm.description.as_deref());
        tracing::warn!(
            alarm = name,
            from = transition.from.as_str(),
            to = transition.to.as_str(),
            runbook = runbook.as_deref().unwrap_or("-"),
            "{}",
            transition.reason
        );
        self.activity.record(Activity::AlarmChanged {
            alarm: name.clone(),
            from: transition.from.as_str().to_owned(),
            to: transition.to.as_str().to_owned(),
            reason: transition.reason.clone(),
            runbook,
        });
        let state = match transition.to {
            AlarmState::Ok => aws_sdk_cloudwatch::types::StateValue::Ok,
            AlarmState::Alarm => aws_sdk_cloudwatch::types::StateValue::Alarm,
            AlarmState::InsufficientData => aws_sdk_cloudwatch::types::StateValue::InsufficientData,
        };
        let _ = self
            .cloudwatch
            .set_alarm_state()
            .alarm_name(&name)
            .state_value(state)
            .state_reason(transition.reason.chars().take(1023).collect::<String>())
            .send()
            .await;
        let context = NotificationContext {
            account_id: &self.account,
            region: &self.region,
            region_name: &self.region,
        };
        let message = transition.notification_message(&context);
        let subject = transition.notification_subject(&context);
        let alarm_arn = transition.alarm.arn.clone().unwrap_or_else(|| {
            format!(
                "arn:aws:cloudwatch:{}:{}:alarm:{name}",
                self.region, self.account
            )
        });
        let Ok(cloudwatch) = Principal::service("cloudwatch.amazonaws.com") else {
            return;
        };
        for action in &transition.actions {
            if !action.starts_with("arn:aws:sns:") {
                continue;
            }
            let published = self
                .sns
                .authorize_publish(
                    &cloudwatch,
                    action,
                    &[
                        ("aws:SourceArn", &alarm_arn),
                        ("aws:SourceAccount", &self.account),
                    ],
                )
                .map_err(|denied| denied.to_string())
                .and_then(|()| {
                    self.sns
                        .publish(PublishRequest {
                            topic_arn: action.clone(),
                            message: message.clone(),
                            subject: Some(subject.chars().take(99).collect()),
                            message_attributes: Default::default(),
                            trace_header: None,
                        })
                        .map_err(|error| format!("{}: {}", error.code, error.message))
                });
            if let Err(error) = published {
                tracing::error!(
                    alarm = name,
                    action,
                    error,
                    "the alarm could not notify its action"
                );
            }
        }
    }

    /// Every alarm's state and reason, for `postoffice local alarms`.
    pub fn states(&self) -> Vec<(String, AlarmState, String, Option<String>)> {
        let evaluator = self.evaluator.lock().unwrap_or_else(|p| p.into_inner());
        evaluator
            .alarms()
            .map(|alarm| {
                let (state, reason, _) = evaluator
                    .state(&alarm.name)
                    .map(|(state, reason, at)| (state, reason.to_owned(), at))
                    .unwrap_or((AlarmState::InsufficientData, String::new(), 0));
                (
                    alarm.name.clone(),
                    state,
                    reason,
                    runbook(alarm.description.as_deref()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbook_link_is_read_from_the_description() {
        assert_eq!(
            runbook(Some(
                "Deliveries are dead-lettered in q. Runbook: docs/runbook.md#dlq-depth"
            ))
            .as_deref(),
            Some("docs/runbook.md#dlq-depth")
        );
        assert_eq!(runbook(Some("no link")), None);
    }
}
