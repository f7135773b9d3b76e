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
//! Out of scope, and refused when an alarm uses them: metric math, anomaly detection, extended
//! statistics other than percentiles. Units are carried into notifications but not matched.

mod alarm;
mod error;
mod evaluation;
mod evaluator;
mod metrics;
mod notification;

pub use alarm::{
    Alarm, AlarmState, ComparisonOperator, DimensionSpec, MetricAlarmSpec, Statistic,
    TreatMissingData,
};
pub use error::AlarmError;
pub use evaluator::{AlarmEvaluator, Transition};
pub use metrics::{MetricId, MetricStore};
pub use notification::NotificationContext;
