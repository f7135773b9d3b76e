//! Counters named after IoT Core's CloudWatch metrics
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html>).

use std::sync::atomic::{AtomicU64, Ordering};

/// IoT meters messages in 5 KB increments (<https://aws.amazon.com/iot-core/pricing/>).
pub const BILLING_UNIT_BYTES: u64 = 5 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub connect_success: AtomicU64,
    pub connect_auth_error: AtomicU64,
    pub connect_client_error: AtomicU64,
    pub connect_server_error: AtomicU64,
    pub publish_in_success: AtomicU64,
    pub publish_in_auth_error: AtomicU64,
    pub publish_in_client_error: AtomicU64,
    pub publish_out_success: AtomicU64,
    pub publish_out_dropped: AtomicU64,
    pub publish_out_receive_denied: AtomicU64,
    pub subscribe_success: AtomicU64,
    pub subscribe_auth_error: AtomicU64,
    pub subscribe_client_error: AtomicU64,
    pub unsubscribe_success: AtomicU64,
    pub inbound_messages: AtomicU64,
    pub inbound_bytes: AtomicU64,
    pub inbound_billing_units: AtomicU64,
    pub api_publish_success: AtomicU64,
    pub will_published: AtomicU64,
    pub will_refused: AtomicU64,
    pub queued_messages_dropped: AtomicU64,
    pub throttled_disconnects: AtomicU64,
    pub malformed_packets: AtomicU64,
    pub oversize_packets: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub closed_connection_micros: AtomicU64,
}

pub(crate) fn add(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Ordering::Relaxed);
}

pub(crate) fn increment(counter: &AtomicU64) {
    add(counter, 1);
}

impl Metrics {
    pub fn count_inbound(&self, payload_bytes: usize) {
        let bytes = payload_bytes as u64;
        increment(&self.inbound_messages);
        add(&self.inbound_bytes, bytes);
        add(
            &self.inbound_billing_units,
            bytes.div_ceil(BILLING_UNIT_BYTES).max(1),
        );
    }

    pub fn snapshot(&self, open_connection_micros: u64, connected_clients: u64) -> MetricsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            connect_success: read(&self.connect_success),
            connect_auth_error: read(&self.connect_auth_error),
            connect_client_error: read(&self.connect_client_error),
            connect_server_error: read(&self.connect_server_error),
            publish_in_success: read(&self.publish_in_success),
            publish_in_auth_error: read(&self.publish_in_auth_error),
            publish_in_client_error: read(&self.publish_in_client_error),
            publish_out_success: read(&self.publish_out_success),
            publish_out_dropped: read(&self.publish_out_dropped),
            publish_out_receive_denied: read(&self.publish_out_receive_denied),
            subscribe_success: read(&self.subscribe_success),
            subscribe_auth_error: read(&self.subscribe_auth_error),
            subscribe_client_error: read(&self.subscribe_client_error),
            unsubscribe_success: read(&self.unsubscribe_success),
            inbound_messages: read(&self.inbound_messages),
            inbound_bytes: read(&self.inbound_bytes),
            inbound_billing_units: read(&self.inbound_billing_units),
            api_publish_success: read(&self.api_publish_success),
            will_published: read(&self.will_published),
            will_refused: read(&self.will_refused),
            queued_messages_dropped: read(&self.queued_messages_dropped),
            throttled_disconnects: read(&self.throttled_disconnects),
            malformed_packets: read(&self.malformed_packets),
            oversize_packets: read(&self.oversize_packets),
            tls_handshake_failures: read(&self.tls_handshake_failures),
            connection_seconds: (read(&self.closed_connection_micros) + open_connection_micros)
                as f64
                / 1_000_000.0,
            connected_clients,
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// `Connect.Success`.
    pub connect_success: u64,
    /// `Connect.AuthError`: refused by the authority.
    pub connect_auth_error: u64,
    /// `Connect.ClientError`: a CONNECT breaking the rules (protocol version, client id,
    /// malformed), or none in time.
    pub connect_client_error: u64,
    /// `Connect.ServerError`: the authority could not decide.
    pub connect_server_error: u64,
    /// `PublishIn.Success`: client PUBLISHes accepted (tapped and routed).
    pub publish_in_success: u64,
    /// `PublishIn.AuthError`: client PUBLISHes the authority denied.
    pub publish_in_auth_error: u64,
    /// `PublishIn.ClientError`: client PUBLISHes refused for breaking a rule.
    pub publish_in_client_error: u64,
    /// `PublishOut.Success`: PUBLISHes written to clients.
    pub publish_out_success: u64,
    /// Deliveries dropped: QoS 0 beyond a full outbound queue, over a client's Maximum
    /// Packet Size, or QoS 0 for an offline session.
    pub publish_out_dropped: u64,
    /// Deliveries withheld because `iot:Receive` was denied.
    pub publish_out_receive_denied: u64,
    /// `Subscribe.Success`: topic filters granted.
    pub subscribe_success: u64,
    /// `Subscribe.AuthError`: topic filters the authority denied.
    pub subscribe_auth_error: u64,
    /// `Subscribe.ClientError`: topic filters refused as invalid or over a quota.
    pub subscribe_client_error: u64,
    /// `Unsubscribe.Success`.
    pub unsubscribe_success: u64,
    /// Accepted inbound messages (client, will and API publishes).
    pub inbound_messages: u64,
    /// Their payload bytes.
    pub inbound_bytes: u64,
    /// Their billable 5 KB units (each message at least one).
    pub inbound_billing_units: u64,
    /// Messages published through [`crate::Gateway::publish`].
    pub api_publish_success: u64,
    pub will_published: u64,
    pub will_refused: u64,
    /// QoS 1 messages an offline persistent session had no room for.
    pub queued_messages_dropped: u64,
    /// Clients disconnected because their outbound queue filled (THROTTLED).
    pub throttled_disconnects: u64,
    /// Connections closed for a malformed packet.
    pub malformed_packets: u64,
    /// Connections closed for a packet over the size limit.
    pub oversize_packets: u64,
    /// TLS handshakes that failed or timed out (no client certificate, no proof of its key).
    pub tls_handshake_failures: u64,
    /// Connection time of every connection so far, open ones included (IoT bills connectivity
    /// by the minute).
    pub connection_seconds: f64,
    pub connected_clients: u64,
}
