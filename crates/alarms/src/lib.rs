//! CloudWatch metric alarms evaluated locally: statistics over periods, evaluation periods,
//! M out of N datapoints, missing data, state transitions and the actions they run, following
//! "Using Amazon CloudWatch alarms"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>).
//!
//! ```
//! use postoffice_alarms::{Alarm, AlarmEvaluator, AlarmState, MetricAlarmSpec, MetricId, MetricStore};
//!
//! let spec: MetricAlarmSpec = serde_json::from_str(r#"{
//!     "AlarmName": "postoffice-kitchen-dlq-depth", "Namespace": "AWS/SQS",
//!     "MetricName": "ApproximateNumberOfMessagesVisible",
//!     "Dimensions": [{"Name": "QueueName", "Value": "postoffice-kitchen-dlq"}],
//!     "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1,
//!     "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0,
//!     "TreatMissingData": "notBreaching", "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"]
//! }"#)?;
//! // A 300 s period lasts 3 s.
//! let mut evaluator = AlarmEvaluator::new(MetricStore::new(60_000, 10_000), 0.01)?;
//! evaluator.put_alarm(Alarm::new(spec)?, 0)?;
//! let dlq = MetricId::new("AWS/SQS", "ApproximateNumberOfMessagesVisible", &[("QueueName", "postoffice-kitchen-dlq")]);
//! evaluator.put_datapoint(&dlq, 1_000, 3.0)?;
//! let transitions = evaluator.evaluate(3_000);
//! assert_eq!(transitions[0].to, AlarmState::Alarm);
//! assert_eq!(transitions[0].actions, ["arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Alarms on `Metrics` are evaluated too: metric math over the other queries, and Metrics
//! Insights queries that return one time series ([`MetricQueries`]). Out of scope, and refused
//! by name when an alarm uses them: anomaly detection, extended statistics other than
//! percentiles, the metric math functions [`MetricQueries`] does not list, `GROUP BY` in a
//! Metrics Insights alarm. Units are carried into notifications but not matched.

mod alarm;
mod error;
mod evaluation;
mod evaluator;
mod metrics;
mod notification;
mod queries;

pub use alarm::{
    Alarm, AlarmMetric, AlarmState, ComparisonOperator, DimensionSpec, MetricAlarmSpec, MetricStat,
    Statistic, TreatMissingData,
};
pub use error::AlarmError;
pub use evaluator::{AlarmEvaluator, Transition};
pub use metrics::{MetricId, MetricStore};
pub use notification::NotificationContext;
pub use queries::{
    Aggregation, Condition, InsightsQuery, MathExpression, MetricQueries, MetricQuery, QuerySource,
};
