//! Per-function counters in the sense of Lambda's CloudWatch metrics
//! ([function metrics](https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)):
//! cumulative since the host started, so an embedder computes a period's values as the
//! difference of two snapshots.

use std::time::Duration;

/// A snapshot of one function's metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionMetrics {
    /// `Invocations`: the function's code ran (successes and function errors); throttled and
    /// refused requests are not invocations.
    pub invocations: u64,
    /// `Errors`: invocations that ended in a function error (reported, timeout, crash, init).
    pub errors: u64,
    /// Of `errors`, the timeouts.
    pub timeouts: u64,
    /// `Throttles`: requests refused with 429.
    pub throttles: u64,
    /// Invocations that started a new instance.
    pub cold_starts: u64,
    /// `Duration` statistics: event handed to the runtime until it answered, in ms.
    pub duration: DurationStats,
    /// Init durations of cold starts (process start to the runtime's first `next`), in ms.
    pub init_duration: DurationStats,
    /// Billed milliseconds: each invocation's duration rounded up to 1 ms, plus the init of
    /// cold starts (custom runtimes are billed for init).
    pub billed_duration_ms: u64,
    /// Memory (GB) × billed duration (s), the unit Lambda's compute is priced in.
    pub gb_seconds: f64,
    /// `ConcurrentExecutions` now, and its maximum so far.
    pub concurrent_executions: u32,
    pub max_concurrent_executions: u32,
    /// Asynchronous events given up on after their retries.
    pub async_events_dropped: u64,
    /// Invocations recorded in an X-Ray trace (sampled here or by the caller).
    pub traced_invocations: u64,
    /// Of those, the ones that started their trace: X-Ray's traces recorded.
    pub traces_started: u64,
}

/// Count, sum, minimum and maximum: what `SampleCount`, `Sum`, `Average`, `Minimum` and
/// `Maximum` statistics need.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DurationStats {
    pub count: u64,
    pub sum_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl DurationStats {
    pub fn record(&mut self, duration: Duration) {
        let ms = duration.as_secs_f64() * 1000.0;
        if self.count == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        if ms > self.max_ms {
            self.max_ms = ms;
        }
        self.count += 1;
        self.sum_ms += ms;
    }

    pub fn average_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ms / self.count as f64)
    }
}

/// What one finished invocation adds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InvocationRecord {
    pub duration: Duration,
    pub init_duration: Option<Duration>,
    pub function_error: bool,
    pub timed_out: bool,
    pub memory_mb: u32,
}

impl FunctionMetrics {
    pub(crate) fn record_invocation(&mut self, record: InvocationRecord) {
        self.invocations += 1;
        if record.function_error {
            self.errors += 1;
        }
        if record.timed_out {
            self.timeouts += 1;
        }
        self.duration.record(record.duration);
        let mut billed = billed_ms(record.duration);
        if let Some(init) = record.init_duration {
            self.cold_starts += 1;
            self.init_duration.record(init);
            billed += billed_ms(init);
        }
        self.billed_duration_ms += billed;
        self.gb_seconds += f64::from(record.memory_mb) / 1024.0 * billed as f64 / 1000.0;
    }

    pub(crate) fn started(&mut self) {
        self.concurrent_executions += 1;
        self.max_concurrent_executions = self
            .max_concurrent_executions
            .max(self.concurrent_executions);
    }

    pub(crate) fn finished(&mut self) {
        self.concurrent_executions = self.concurrent_executions.saturating_sub(1);
    }
}

/// Lambda bills duration rounded up to the nearest millisecond.
pub fn billed_ms(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_millisecond_and_counts_gb_seconds() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_micros(2000)), 2);
        assert_eq!(billed_ms(Duration::from_micros(2001)), 3);
        let mut metrics = FunctionMetrics::default();
        metrics.record_invocation(InvocationRecord {
            duration: Duration::from_micros(99_500),
            init_duration: Some(Duration::from_millis(20)),
            function_error: false,
            timed_out: false,
            memory_mb: 512,
        });
        metrics.record_invocation(InvocationRecord {
            duration: Duration::from_millis(3000),
            init_duration: None,
            function_error: true,
            timed_out: true,
            memory_mb: 512,
        });
        assert_eq!(metrics.invocations, 2);
        assert_eq!(
            (metrics.errors, metrics.timeouts, metrics.cold_starts),
            (1, 1, 1)
        );
        assert_eq!(metrics.billed_duration_ms, 100 + 20 + 3000);
        assert!((metrics.gb_seconds - 0.5 * 3.12).abs() < 1e-9);
        assert_eq!(metrics.duration.max_ms, 3000.0);
        assert_eq!(metrics.duration.min_ms, 99.5);
    }
}
