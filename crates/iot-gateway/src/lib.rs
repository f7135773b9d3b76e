//! The local AWS IoT Core message broker: MQTT 3.1.1 and 5 over mutual TLS, IoT Core's limits,
//! and every action authorised by the embedder.
//!
//! The embedder (the local post office) starts a [`Gateway`] with an [`Authority`] that
//! authenticates each client certificate and evaluates the applied IoT policies; the gateway
//! asks it on every CONNECT (`iot:Connect`), PUBLISH (`iot:Publish`, `iot:RetainPublish`),
//! SUBSCRIBE filter (`iot:Subscribe`) and delivery (`iot:Receive`). Accepted messages go to a
//! tap ([`Gateway::accepted_messages`]) for the rule engine; [`Gateway::publish`] is the iot-data
//! Publish API.
//!
//! Layers: [`codec`] (MQTT framing, no I/O), `connection` (one client's protocol over any byte
//! stream), `broker` (sessions, subscriptions, retained messages, routing: no I/O), and two
//! transports that hand their stream to the same connection code: `tls` (mutual TLS, the client
//! certificate as [`ClientCredentials::Certificate`]) and `websocket` (MQTT over WSS on `/mqtt`
//! with the `mqtt` subprotocol, the upgrade's SigV4 presigned URL as
//! [`ClientCredentials::SignedUrl`], verified by the authority at CONNECT).
//!
//! # IoT Core behaviour implemented, and where it comes from
//!
//! From <https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html> (QoS, persistent
//! sessions, retained messages, "AWS IoT differences from MQTT specifications"):
//! - QoS 0 and 1 only. A QoS 2 PUBLISH or SUBSCRIBE gets no PUBACK or SUBACK ("When QoS level 2
//!   is requested, the message broker doesn't send a PUBACK or SUBACK"): an MQTT 3.1.1 QoS 2
//!   publish is dropped and counted (`PublishIn.ClientError`), a SUBSCRIBE asking QoS 2 for any
//!   filter subscribes none of them. MQTT 5 clients are told Maximum QoS 1 in CONNACK; a QoS 2
//!   PUBLISH from one is a protocol violation (DISCONNECT 0x9B) and a QoS 2 subscription is
//!   granted QoS 1, as the MQTT 5 specification has it.
//! - Persistent sessions (3.1.1 clean session 0; MQTT 5 clean start 0 with a session expiry)
//!   keep subscriptions and QoS 1 messages (sent and unacknowledged, or published while
//!   offline) and end when their expiry passes after the disconnect, or on a clean CONNECT.
//!   Expiry: one hour (IoT's default quota) for MQTT 3.1.1; an MQTT 5 request above it is cut and
//!   the applied value is returned in CONNACK. QoS 0 messages are not stored.
//! - CONNACK's session present flag says whether a session was resumed.
//! - Retained messages: one per topic; an empty retained payload deletes it (and is delivered,
//!   not kept); a retained message is sent on subscription only to a filter naming its topic
//!   exactly, with RETAIN set; messages routed to existing subscriptions have RETAIN cleared
//!   (MQTT 5 Retain As Published keeps it). Publishing with RETAIN asks the authority with
//!   `retain = true` (`iot:RetainPublish`).
//! - `sensor/#` matches `sensor/` and below but not `sensor`.
//! - Two connections never share a client id: a new CONNECT with a connected client id
//!   disconnects the earlier connection (`DUPLICATE_CLIENTID`; MQTT 5 DISCONNECT 0x8E).
//!
//! From <https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits> (see
//! [`Limits`]): payload 128 KB; topic 256 bytes and at most 7 forward slashes; client id 128
//! bytes, `$`-prefixed client ids reserved; 8 filters per SUBSCRIBE; 50 subscriptions per
//! session; 100 unacknowledged QoS 1 messages in flight each way; keep-alive between 30 and
//! 1200 seconds (0 and larger values get 1200), the client disconnected after 1.5 keep-alives
//! of silence, the timer starting at CONNACK.
//!
//! From <https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html>:
//! `iot:Connect` is checked on every CONNECT, `iot:Publish` on every publish, `iot:Subscribe`
//! per filter, `iot:Receive` per message delivered to a subscriber.
//!
//! From <https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html>: the
//! disconnect reasons ([`DisconnectReason`]) and when the will is published (every reason but
//! a client's DISCONNECT). A payload over the limit and a second CONNECT are `CLIENT_ERROR`.
//!
//! From <https://docs.aws.amazon.com/iot/latest/developerguide/topicdata.html>: a message over
//! the size limit is a `CLIENT_ERROR` (`PAYLOAD_LIMIT_EXCEEDED`).
//!
//! From <https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html>: the
//! certificate id is the SHA-256 of the DER certificate ([`ClientCertificate::id`]); the TLS
//! layer accepts any certificate whose key the client proves to hold, and the authority decides
//! whether it is registered and ACTIVE.
//!
//! Refusals, by protocol version:
//! - CONNECT refused by the authority: CONNACK "not authorized" (3.1.1 return code 5, MQTT 5
//!   reason 0x87), then the connection closes; an empty client id is refused under 3.1.1
//!   (identifier rejected) and assigned under MQTT 5.
//! - PUBLISH denied: MQTT 3.1.1 cannot refuse a publish, so the client is disconnected
//!   (`AUTH_ERROR`); MQTT 5 QoS 1 gets PUBACK 0x87 and the connection stays; MQTT 5 QoS 0 is
//!   dropped. Either way the message is counted (`PublishIn.AuthError`) and never routed.
//! - SUBSCRIBE: one code per filter: 3.1.1 0x80, MQTT 5 0x87 (denied), 0x8F (invalid filter),
//!   0x97 (over 50 subscriptions).
//!
//! # Where this broker deviates from IoT Core
//!
//! - No rate limits (connect, publish and throughput per connection or account): nothing is
//!   throttled except a client whose outbound queue fills ([`Limits::max_outbound_queue`]):
//!   QoS 0 beyond it is dropped for that client, QoS 1 beyond it disconnects the client
//!   (`THROTTLED`) and is kept for a persistent session. IoT's own buffering is not documented.
//! - Stored messages are sent at once on reconnect, not at IoT's 10 messages per second; an
//!   offline session keeps at most [`Limits::max_queued_messages_per_session`] messages (IoT
//!   bounds them by account quotas); MQTT 5 message expiry is forwarded but not enforced.
//! - An invalid topic (wildcard, reserved, too long, too deep) disconnects the publisher
//!   (`CLIENT_ERROR`; MQTT 5 DISCONNECT 0x90); IoT's exact answer is not documented.
//! - More than 8 filters in one SUBSCRIBE disconnect the client; IoT's answer is not documented.
//! - `iot:Receive` for stored messages is checked when they are stored, not when sent.
//! - No reserved-topic features: clients cannot publish to `$` topics; the embedder can
//!   ([`Gateway::publish`]) and clients may subscribe to them if the authority allows. No
//!   lifecycle event messages on `$aws/events/...` (the embedder gets [`LifecycleEvent`]s and
//!   may publish them). No will delay, shared subscriptions, subscription identifiers or
//!   enhanced authentication; MQTT 5 topic aliases from clients are supported (up to 8).
//! - No SNI requirement: IoT refuses connections without SNI; local clients connect by IP.
//! - A WebSocket upgrade with a bad or expired signature is upgraded and its CONNECT refused
//!   (CONNACK not authorized); IoT Core answers the upgrade itself with HTTP 403.

pub mod codec;

mod authority;
mod broker;
mod connection;
mod error;
mod events;
mod gateway;
mod limits;
mod metrics;
mod session;
mod tls;
mod topic;
mod websocket;

pub use authority::{
    Authority, ClientCertificate, ClientCredentials, ConnectRequest, ConnectionAuthority, Refusal,
    RefusalKind, SignedUrl, Verdict,
};
pub use broker::ConnectionInfo;
pub use codec::ProtocolVersion;
pub use error::GatewayError;
pub use events::{AcceptedMessage, DisconnectReason, LifecycleEvent, Origin, PublishRefusal};
pub use gateway::{Gateway, GatewayConfig, Published};
pub use limits::Limits;
pub use metrics::{BILLING_UNIT_BYTES, MetricsSnapshot};
pub use tls::TlsIdentity;
pub use topic::{
    TopicError, validate_topic_filter, validate_topic_name, validate_topic_name_allowing_reserved,
};
pub use websocket::{MQTT_PATH, MQTT_SUBPROTOCOL};

/// The quality of service levels IoT Core supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
}
