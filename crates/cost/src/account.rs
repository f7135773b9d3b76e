//! What a fleet's month costs beyond its customers' sum: X-Ray's sampling (a reservoir a second,
//! then a share) and KMS's data keys (reused for minutes, per publishing principal) grow slower
//! than the traffic, so they are worked out on the fleet's usage, not per customer.

use serde::Serialize;

use crate::profile::{Encryption, Profile, Tracing};
use crate::usage::MonthlyUsage;

/// A fleet's traces and KMS use over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AccountUsage {
    /// X-Ray traces recorded: one per sampled entry-point invocation.
    pub xray_traces: f64,
    /// KMS requests SNS and SQS make for the platform key.
    pub kms_requests: f64,
    /// KMS keys held over the period (key-months).
    pub kms_key_months: f64,
}

/// The fleet's traces and KMS requests for `usage` spread evenly over `seconds`.
pub fn account_usage(usage: &MonthlyUsage, profile: &Profile, seconds: f64) -> AccountUsage {
    AccountUsage {
        xray_traces: profile
            .tracing
            .map_or(0.0, |tracing| traces_recorded(usage, &tracing, seconds)),
        kms_requests: profile
            .encryption
            .map_or(0.0, |encryption| kms_requests(usage, &encryption, seconds)),
        kms_key_months: profile.encryption.map_or(0.0, |encryption| {
            encryption.keys * seconds / (crate::usage::DAYS_PER_MONTH * 86_400.0)
        }),
    }
}

/// Traces recorded over `seconds`. Every function traces actively (`tracing_config { mode =
/// "Active" }` in terraform/modules/consumer/lambdas.tf) and SNS starts no trace: it passes the
/// publisher's trace header on to the subscriptions
/// (https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html). So a delivery of
/// what a platform function published continues that function's trace (sampled or not), and
/// each other delivery starts one at its entry point (the bridge, or the handler with an
/// embedded bridge) when sampled; a bridge's handler joins its trace. Lambda samples with X-Ray's default rule, which cannot
/// be changed for Lambda: the first request each second and 5 % of the others
/// (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html). With deliveries arriving
/// at random at rate r a second, a second holds a first request with probability 1 − e^−r and
/// r − (1 − e^−r) others on average.
pub fn traces_recorded(usage: &MonthlyUsage, tracing: &Tracing, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return 0.0;
    }
    usage
        .consumers
        .values()
        .map(|flow| {
            let rate = flow.untraced_deliveries / seconds;
            let reservoir = tracing.reservoir_per_second;
            // The reservoir takes up to `reservoir` requests a second (1 by default).
            let first = expected_min(rate, reservoir);
            let sampled = first + tracing.fixed_rate * (rate - first);
            sampled * seconds
        })
        .sum()
}

/// E[min(N, k)] for N Poisson with mean `rate`, k a whole number of requests (0, 1, 2, ...).
fn expected_min(rate: f64, k: f64) -> f64 {
    let k = k.floor() as u32;
    if k == 0 || rate <= 0.0 {
        return 0.0;
    }
    // E[min(N, k)] = Σ_{j=1..k} P(N ≥ j).
    let mut below = 0.0; // P(N < j)
    let mut term = (-rate).exp(); // P(N = j - 1)
    let mut expected = 0.0;
    for j in 1..=k {
        below += term;
        expected += 1.0 - below;
        term *= rate / f64::from(j);
    }
    expected
}

/// KMS requests over `seconds`. SNS calls KMS per topic, publishing principal and data key
/// period: R = B / D × 2 × P (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html);
/// SQS per queue: R = B / D × (2 × P + C)
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html),
/// here one producer (SNS or the IoT rule) and one consumer (on-call). A principal only needs a
/// data key in the periods it sends in: with its messages at random at rate λ, a share
/// 1 − e^−λD of the periods, so a quiet topic costs less than the formula's bound.
pub fn kms_requests(usage: &MonthlyUsage, encryption: &Encryption, seconds: f64) -> f64 {
    let period = encryption.data_key_reuse_seconds;
    let periods = seconds / period;
    let busy = |messages: f64| {
        if seconds <= 0.0 {
            0.0
        } else {
            periods * (1.0 - (-messages / seconds * period).exp())
        }
    };
    let topics: f64 = usage
        .topic_publishers
        .values()
        .flat_map(|principals| principals.values())
        .map(|&publishes| 2.0 * busy(publishes))
        .sum();
    let queues: f64 = usage
        .queue_messages
        .values()
        .map(|&messages| 3.0 * busy(messages))
        .sum();
    topics + queues
}
