//! AWS IoT Core's message broker limits, as defaults an embedder (or a test) may tighten.
//!
//! Sources: <https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits>
//! and <https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html>.

use std::time::Duration;

/// Limits the broker enforces. `Default` is IoT Core's default quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Payload of one PUBLISH: 128 KB. A larger one disconnects its sender
    /// (lifecycle reason CLIENT_ERROR, "publish ... exceeds the payload limit").
    pub max_payload_bytes: usize,
    /// Remaining length of any packet a client sends (IoT's "Maximum MQTT5 packet size":
    /// 146 KB). Refused from the fixed header, before the body is read.
    pub max_packet_bytes: usize,
    /// Topic names and filters: 256 bytes of UTF-8.
    pub max_topic_bytes: usize,
    /// Topic names and filters: at most 7 forward slashes.
    pub max_topic_slashes: usize,
    /// Client id: 128 bytes of UTF-8.
    pub max_client_id_bytes: usize,
    /// Topic filters in one SUBSCRIBE: 8.
    pub max_filters_per_subscribe: usize,
    /// Subscriptions of one session: 50.
    pub max_subscriptions_per_session: usize,
    /// Unacknowledged QoS 1 messages in flight to one client: 100.
    pub max_inflight_outbound: u16,
    /// Unacknowledged QoS 1 messages a client may have in flight to the broker: 100
    /// (announced as MQTT 5 Receive Maximum; the broker acknowledges each after routing it).
    pub receive_maximum: u16,
    /// Topic aliases an MQTT 5 client may set up.
    pub topic_alias_maximum: u16,
    /// Keep-alive range: a requested keep-alive below the minimum is raised to it; zero or
    /// above the maximum gets the maximum.
    pub min_keep_alive: Duration,
    pub max_keep_alive: Duration,
    /// Session expiry of a persistent session: IoT's default is one hour; an MQTT 5 client may
    /// ask for less, and more is cut to this (and announced in CONNACK).
    pub max_session_expiry: Duration,
    /// Messages waiting in one client's outbound queue (connected: not yet written; the broker
    /// does not block publishers on a slow reader). QoS 0 beyond it is dropped for that client,
    /// QoS 1 beyond it disconnects the client (THROTTLED) and, for a persistent session, is kept
    /// in the session. Not an IoT quota: IoT's own buffering is not documented.
    pub max_outbound_queue: usize,
    /// QoS 1 messages stored for one offline persistent session; more are dropped and counted.
    /// IoT bounds stored messages by account quotas rather than per session.
    pub max_queued_messages_per_session: usize,
    /// Time from TCP accept to a complete TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Time from the TLS handshake to CONNECT.
    pub connect_timeout: Duration,
    /// How often expired persistent sessions are discarded.
    pub session_sweep_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 128 * 1024,
            max_packet_bytes: 146 * 1024,
            max_topic_bytes: 256,
            max_topic_slashes: 7,
            max_client_id_bytes: 128,
            max_filters_per_subscribe: 8,
            max_subscriptions_per_session: 50,
            max_inflight_outbound: 100,
            receive_maximum: 100,
            topic_alias_maximum: 8,
            min_keep_alive: Duration::from_secs(30),
            max_keep_alive: Duration::from_secs(1200),
            max_session_expiry: Duration::from_secs(3600),
            max_outbound_queue: 1000,
            max_queued_messages_per_session: 1000,
            tls_handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            session_sweep_interval: Duration::from_secs(1),
        }
    }
}

impl Limits {
    /// The keep-alive the broker applies for a requested one (IoT: "zero or > 1200 seconds"
    /// gets the default of 1200, less than 30 is treated as 30).
    pub fn keep_alive_for(&self, requested_seconds: u16) -> Duration {
        let requested = Duration::from_secs(u64::from(requested_seconds));
        if requested.is_zero() || requested > self.max_keep_alive {
            self.max_keep_alive
        } else {
            requested.max(self.min_keep_alive)
        }
    }

    /// How long a client may stay silent before the broker disconnects it: 1.5 keep-alives.
    pub fn silence_allowed(&self, keep_alive: Duration) -> Duration {
        keep_alive + keep_alive / 2
    }

    /// The session expiry the broker applies for a requested one, in seconds.
    pub fn session_expiry_for(&self, requested_seconds: u32) -> u32 {
        let max = u32::try_from(self.max_session_expiry.as_secs()).unwrap_or(u32::MAX);
        requested_seconds.min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_is_held_within_iot_range() {
        let limits = Limits::default();
        assert_eq!(limits.keep_alive_for(0), Duration::from_secs(1200));
        assert_eq!(limits.keep_alive_for(5), Duration::from_secs(30));
        assert_eq!(limits.keep_alive_for(60), Duration::from_secs(60));
        assert_eq!(limits.keep_alive_for(1201), Duration::from_secs(1200));
        assert_eq!(
            limits.silence_allowed(Duration::from_secs(60)),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn session_expiry_is_cut_to_the_quota() {
        let limits = Limits::default();
        assert_eq!(limits.session_expiry_for(60), 60);
        assert_eq!(limits.session_expiry_for(u32::MAX), 3600);
    }
}
