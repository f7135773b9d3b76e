//! What a device did, for fleet simulators and cost estimates: connection minutes and messages
//! are what IoT Core bills (<https://aws.amazon.com/iot-core/pricing/>).

use std::ops::AddAssign;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// IoT Core meters messages in 5 KB increments of payload and topic
/// (<https://aws.amazon.com/iot-core/pricing/additional-details/>).
pub const METERING_INCREMENT_BYTES: u64 = 5 * 1024;

/// A snapshot of a device's counters; add snapshots of many devices for a fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub connects: u64,
    pub connect_failures: u64,
    pub idle_disconnects: u64,
    /// Connections lost or closed by the broker.
    pub error_disconnects: u64,
    /// Time spent connected, the current connection included.
    pub connected: Duration,
    /// PUBLISH packets sent, retries included (each is metered).
    pub messages_sent: u64,
    /// Payload and topic bytes of those packets.
    pub bytes_sent: u64,
    /// Those packets in IoT Core's 5 KB metering increments.
    pub metered_messages_sent: u64,
    /// Events acknowledged by the broker, alone or in collections.
    pub events_sent: u64,
    pub collections_sent: u64,
    /// Events the broker refused, kept apart in the outbox.
    pub events_refused: u64,
    /// Messages received on the device's topics.
    pub messages_received: u64,
    /// Of those, replies matched to a waiting request.
    pub replies_received: u64,
    /// Of those, not envelopes: acknowledged and dropped.
    pub malformed_received: u64,
    /// Events in the outbox waiting for their PUBACK.
    pub outbox_depth: u64,
}

impl AddAssign for Counters {
    fn add_assign(&mut self, other: Self) {
        self.connects += other.connects;
        self.connect_failures += other.connect_failures;
        self.idle_disconnects += other.idle_disconnects;
        self.error_disconnects += other.error_disconnects;
        self.connected += other.connected;
        self.messages_sent += other.messages_sent;
        self.bytes_sent += other.bytes_sent;
        self.metered_messages_sent += other.metered_messages_sent;
        self.events_sent += other.events_sent;
        self.collections_sent += other.collections_sent;
        self.events_refused += other.events_refused;
        self.messages_received += other.messages_received;
        self.replies_received += other.replies_received;
        self.malformed_received += other.malformed_received;
        self.outbox_depth += other.outbox_depth;
    }
}

#[derive(Debug, Default)]
pub(crate) struct Cells {
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub idle_disconnects: AtomicU64,
    pub error_disconnects: AtomicU64,
    connected_nanos: AtomicU64,
    connected_since: Mutex<Option<Instant>>,
    pub messages_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub metered_messages_sent: AtomicU64,
    pub events_sent: AtomicU64,
    pub collections_sent: AtomicU64,
    pub events_refused: AtomicU64,
    pub messages_received: AtomicU64,
    pub replies_received: AtomicU64,
    pub malformed_received: AtomicU64,
}

pub(crate) fn add(cell: &AtomicU64, n: u64) {
    cell.fetch_add(n, Ordering::Relaxed);
}

impl Cells {
    pub fn connected(&self, at: Instant) {
        *self.connected_since.lock().expect("counters lock") = Some(at);
        add(&self.connects, 1);
    }

    pub fn disconnected(&self, at: Instant) {
        if let Some(since) = self.connected_since.lock().expect("counters lock").take() {
            let nanos = u64::try_from(at.saturating_duration_since(since).as_nanos());
            add(&self.connected_nanos, nanos.unwrap_or(u64::MAX));
        }
    }

    pub fn message_sent(&self, topic_bytes: usize, payload_bytes: usize) {
        let bytes = (topic_bytes + payload_bytes) as u64;
        add(&self.messages_sent, 1);
        add(&self.bytes_sent, bytes);
        add(
            &self.metered_messages_sent,
            bytes.div_ceil(METERING_INCREMENT_BYTES).max(1),
        );
    }

    pub fn snapshot(&self, outbox_depth: usize, now: Instant) -> Counters {
        let load = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        let current = self
            .connected_since
            .lock()
            .expect("counters lock")
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        Counters {
            connects: load(&self.connects),
            connect_failures: load(&self.connect_failures),
            idle_disconnects: load(&self.idle_disconnects),
            error_disconnects: load(&self.error_disconnects),
            connected: Duration::from_nanos(load(&self.connected_nanos)) + current,
            messages_sent: load(&self.messages_sent),
            bytes_sent: load(&self.bytes_sent),
            metered_messages_sent: load(&self.metered_messages_sent),
            events_sent: load(&self.events_sent),
            collections_sent: load(&self.collections_sent),
            events_refused: load(&self.events_refused),
            messages_received: load(&self.messages_received),
            replies_received: load(&self.replies_received),
            malformed_received: load(&self.malformed_received),
            outbox_depth: outbox_depth as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_metered_in_5_kb_increments_of_payload_and_topic() {
        let cells = Cells::default();
        cells.message_sent(30, 100);
        cells.message_sent(0, 5 * 1024);
        cells.message_sent(24, 5 * 1024);
        cells.message_sent(30, 8 * 1024);
        let counters = cells.snapshot(0, Instant::now());
        assert_eq!(counters.messages_sent, 4);
        assert_eq!(counters.metered_messages_sent, 1 + 1 + 2 + 2);
        assert_eq!(counters.bytes_sent, 130 + 5120 + 5144 + 8222);
    }

    #[test]
    fn connected_time_includes_the_current_connection() {
        let cells = Cells::default();
        let start = Instant::now();
        cells.connected(start);
        cells.disconnected(start + Duration::from_secs(60));
        cells.connected(start + Duration::from_secs(100));
        let counters = cells.snapshot(3, start + Duration::from_secs(130));
        assert_eq!(counters.connects, 2);
        assert_eq!(counters.connected, Duration::from_secs(90));
        assert_eq!(counters.outbox_depth, 3);

        let mut fleet = counters;
        fleet += counters;
        assert_eq!(fleet.connected, Duration::from_secs(180));
        assert_eq!(fleet.connects, 4);
    }
}
