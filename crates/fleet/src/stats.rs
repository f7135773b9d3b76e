//! Statistics of a run: latency percentiles, counters over an interval.

use std::time::Duration;

use postoffice_device::Counters;

/// Latency samples and their percentiles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    samples: Vec<Duration>,
    sorted: bool,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The nearest-rank percentile `p` (0 to 100); `None` without samples.
    pub fn percentile(&mut self, p: f64) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        if !self.sorted {
            self.samples.sort();
            self.sorted = true;
        }
        let rank = (p.clamp(0.0, 100.0) / 100.0 * self.samples.len() as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, self.samples.len()) - 1])
    }
}

/// What the fleet did between two snapshots of its counters; the outbox depth is the later one.
pub fn counters_since(later: &Counters, earlier: &Counters) -> Counters {
    Counters {
        connects: later.connects.saturating_sub(earlier.connects),
        connect_failures: later
            .connect_failures
            .saturating_sub(earlier.connect_failures),
        idle_disconnects: later
            .idle_disconnects
            .saturating_sub(earlier.idle_disconnects),
        error_disconnects: later
            .error_disconnects
            .saturating_sub(earlier.error_disconnects),
        connected: later.connected.saturating_sub(earlier.connected),
        messages_sent: later.messages_sent.saturating_sub(earlier.messages_sent),
        bytes_sent: later.bytes_sent.saturating_sub(earlier.bytes_sent),
        metered_messages_sent: later
            .metered_messages_sent
            .saturating_sub(earlier.metered_messages_sent),
        events_sent: later.events_sent.saturating_sub(earlier.events_sent),
        collections_sent: later
            .collections_sent
            .saturating_sub(earlier.collections_sent),
        events_refused: later.events_refused.saturating_sub(earlier.events_refused),
        messages_received: later
            .messages_received
            .saturating_sub(earlier.messages_received),
        replies_received: later
            .replies_received
            .saturating_sub(earlier.replies_received),
        malformed_received: later
            .malformed_received
            .saturating_sub(earlier.malformed_received),
        outbox_depth: later.outbox_depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Latencies {
        let mut latencies = Latencies::default();
        for value in values {
            latencies.record(Duration::from_millis(value));
        }
        latencies
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut latencies = millis((1..=100).rev());
        assert_eq!(latencies.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(latencies.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            latencies.percentile(100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(latencies.percentile(0.0), Some(Duration::from_millis(1)));
        let mut one = millis([7]);
        assert_eq!(one.percentile(99.0), Some(Duration::from_millis(7)));
        assert_eq!(Latencies::default().percentile(50.0), None);
    }

    #[test]
    fn a_sample_recorded_after_a_percentile_counts() {
        let mut latencies = millis([10, 20]);
        assert_eq!(latencies.percentile(100.0), Some(Duration::from_millis(20)));
        latencies.record(Duration::from_millis(5));
        assert_eq!(latencies.percentile(0.0), Some(Duration::from_millis(5)));
        assert_eq!(latencies.len(), 3);
    }

    #[test]
    fn counters_over_an_interval_subtract_all_but_the_outbox_depth() {
        let earlier = Counters {
            connects: 10,
            connected: Duration::from_secs(60),
            events_sent: 5,
            outbox_depth: 4,
            ..Counters::default()
        };
        let later = Counters {
            connects: 12,
            connected: Duration::from_secs(100),
            events_sent: 50,
            outbox_depth: 1,
            ..Counters::default()
        };
        let since = counters_since(&later, &earlier);
        assert_eq!(since.connects, 2);
        assert_eq!(since.connected, Duration::from_secs(40));
        assert_eq!(since.events_sent, 45);
        assert_eq!(since.outbox_depth, 1);
    }
}
