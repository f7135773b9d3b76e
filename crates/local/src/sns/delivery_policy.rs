//! The SNS HTTP/S delivery policy (`healthyRetryPolicy`) and the retry schedule it implies.
//!
//! Four phases follow the first attempt, as in "Amazon SNS message delivery retries"
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html>): immediate
//! retries without delay, pre-backoff retries `minDelayTarget` apart, backoff retries whose delay
//! grows from `minDelayTarget` to `maxDelayTarget`, and post-backoff retries `maxDelayTarget`
//! apart; `numRetries` counts all four. AWS does not publish the exact backoff curves, so the
//! exponential one here doubles towards the maximum; SNS's jitter is left out so runs repeat.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffFunction {
    Linear,
    Exponential,
}

/// Field names and units (whole seconds) as in the subscription's `DeliveryPolicy` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthyRetryPolicy {
    pub min_delay_target: u64,
    pub max_delay_target: u64,
    pub num_retries: u32,
    #[serde(default)]
    pub num_no_delay_retries: u32,
    #[serde(default)]
    pub num_min_delay_retries: u32,
    #[serde(default)]
    pub num_max_delay_retries: u32,
    pub backoff_function: BackoffFunction,
}

/// The HTTP/S limit SNS enforces on a policy's total retry time.
const MAX_TOTAL_RETRY_SECONDS: u64 = 3600;

impl HealthyRetryPolicy {
    /// Checks the limits SNS enforces when the policy is set on a subscription.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_delay_target < 1 || self.min_delay_target > self.max_delay_target {
            return Err(format!(
                "minDelayTarget {} must be at least 1 and at most maxDelayTarget {}",
                self.min_delay_target, self.max_delay_target
            ));
        }
        let phases =
            self.num_no_delay_retries + self.num_min_delay_retries + self.num_max_delay_retries;
        if phases > self.num_retries {
            return Err(format!(
                "numRetries {} is smaller than the immediate, pre- and post-backoff retries ({phases})",
                self.num_retries
            ));
        }
        let total: Duration = self.retry_delays().iter().sum();
        if total > Duration::from_secs(MAX_TOTAL_RETRY_SECONDS) {
            return Err(format!(
                "the retries take {} s, more than SNS's {MAX_TOTAL_RETRY_SECONDS} s limit",
                total.as_secs()
            ));
        }
        Ok(())
    }

    /// The delay before each retry, in order; its length is `numRetries`.
    pub fn retry_delays(&self) -> Vec<Duration> {
        let min = self.min_delay_target as f64;
        let max = self.max_delay_target as f64;
        let backoff = self.num_retries.saturating_sub(
            self.num_no_delay_retries + self.num_min_delay_retries + self.num_max_delay_retries,
        );
        let mut delays = Vec::with_capacity(self.num_retries as usize);
        delays.extend((0..self.num_no_delay_retries).map(|_| 0.0));
        delays.extend((0..self.num_min_delay_retries).map(|_| min));
        delays.extend((0..backoff).map(|retry| {
            if backoff == 1 {
                return min;
            }
            let progress = f64::from(retry) / f64::from(backoff - 1);
            match self.backoff_function {
                BackoffFunction::Linear => min + (max - min) * progress,
                BackoffFunction::Exponential if retry + 1 == backoff => max,
                BackoffFunction::Exponential => (min * 2f64.powi(retry as i32)).min(max),
            }
        }));
        delays.extend((0..self.num_max_delay_retries).map(|_| max));
        delays.into_iter().map(Duration::from_secs_f64).collect()
    }
}

impl Default for HealthyRetryPolicy {
    /// SNS's default HTTP/S policy: three retries 20 s apart
    /// (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html>).
    fn default() -> Self {
        Self {
            min_delay_target: 20,
            max_delay_target: 20,
            num_retries: 3,
            num_no_delay_retries: 0,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            backoff_function: BackoffFunction::Linear,
        }
    }
}

/// How one HTTP/S delivery attempt ended, in SNS's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// A 4xx other than 429: SNS does not retry client errors and moves the message to the
    /// DLQ at once (<https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html>).
    Rejected,
    /// 5xx, 429, no answer within SNS's 15 s, or no connection: retried by the delivery policy
    /// (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html>).
    Failed,
}

impl AttemptOutcome {
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => AttemptOutcome::Delivered,
            429 => AttemptOutcome::Failed,
            400..=499 => AttemptOutcome::Rejected,
            _ => AttemptOutcome::Failed,
        }
    }
}

/// Scales every delay, so tests and the demo run a realistic policy in little time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale(pub f64);

impl TimeScale {
    pub fn apply(self, delay: Duration) -> Duration {
        delay.mul_f64(self.0.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(delays: &[Duration]) -> Vec<f64> {
        delays.iter().map(Duration::as_secs_f64).collect()
    }

    #[test]
    fn phases_come_in_order_and_count_to_num_retries() {
        let policy = HealthyRetryPolicy {
            min_delay_target: 2,
            max_delay_target: 20,
            num_retries: 9,
            num_no_delay_retries: 1,
            num_min_delay_retries: 2,
            num_max_delay_retries: 2,
            backoff_function: BackoffFunction::Linear,
        };
        assert_eq!(
            seconds(&policy.retry_delays()),
            vec![0.0, 2.0, 2.0, 2.0, 8.0, 14.0, 20.0, 20.0, 20.0]
        );
        policy.validate().unwrap();
    }

    #[test]
    fn exponential_backoff_doubles_and_ends_at_the_maximum() {
        let policy = HealthyRetryPolicy {
            min_delay_target: 1,
            max_delay_target: 20,
            num_retries: 6,
            backoff_function: BackoffFunction::Exponential,
            ..HealthyRetryPolicy::default()
        };
        assert_eq!(
            seconds(&policy.retry_delays()),
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 20.0]
        );
    }

    #[test]
    fn the_default_is_sns_three_retries_twenty_seconds_apart() {
        let policy = HealthyRetryPolicy::default();
        policy.validate().unwrap();
        assert_eq!(seconds(&policy.retry_delays()), vec![20.0, 20.0, 20.0]);
    }

    #[test]
    fn sns_limits_are_enforced() {
        let too_long = HealthyRetryPolicy {
            min_delay_target: 600,
            max_delay_target: 600,
            num_retries: 7,
            ..HealthyRetryPolicy::default()
        };
        assert!(too_long.validate().unwrap_err().contains("3600"));
        let inverted = HealthyRetryPolicy {
            min_delay_target: 5,
            max_delay_target: 4,
            ..HealthyRetryPolicy::default()
        };
        assert!(inverted.validate().is_err());
        let phases = HealthyRetryPolicy {
            num_retries: 1,
            num_no_delay_retries: 2,
            ..HealthyRetryPolicy::default()
        };
        assert!(phases.validate().is_err());
    }

    #[test]
    fn policy_json_uses_the_sns_field_names() {
        let policy: HealthyRetryPolicy = serde_json::from_str(
            r#"{"minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "backoffFunction": "linear"}"#,
        )
        .unwrap();
        assert_eq!(policy, HealthyRetryPolicy::default());
    }

    #[test]
    fn status_codes_map_to_sns_outcomes() {
        assert_eq!(AttemptOutcome::from_status(200), AttemptOutcome::Delivered);
        assert_eq!(AttemptOutcome::from_status(204), AttemptOutcome::Delivered);
        assert_eq!(AttemptOutcome::from_status(400), AttemptOutcome::Rejected);
        assert_eq!(AttemptOutcome::from_status(404), AttemptOutcome::Rejected);
        assert_eq!(AttemptOutcome::from_status(429), AttemptOutcome::Failed);
        assert_eq!(AttemptOutcome::from_status(500), AttemptOutcome::Failed);
        assert_eq!(AttemptOutcome::from_status(503), AttemptOutcome::Failed);
        assert_eq!(AttemptOutcome::from_status(301), AttemptOutcome::Failed);
    }

    #[test]
    fn time_scale_shrinks_delays() {
        assert_eq!(
            TimeScale(0.01).apply(Duration::from_secs(2)),
            Duration::from_millis(20)
        );
    }
}
