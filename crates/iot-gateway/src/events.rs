//! What the broker tells its embedder: accepted messages for the rule engine, and lifecycle
//! events for logs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use uuid::Uuid;

use crate::QoS;
use crate::codec::ProtocolVersion;

/// A message the broker accepted, as IoT's rules engine sees it: every accepted publish goes to
/// the tap before the publisher's PUBACK, through an unbounded channel, so nothing accepted is
/// lost between broker and rules and the broker never waits for rules
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-rules.html>).
#[derive(Debug, Clone)]
pub struct AcceptedMessage {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub origin: Origin,
    /// Like IoT SQL's `traceid()`.
    pub trace_id: Uuid,
    /// When the broker accepted it (IoT SQL's `timestamp()`).
    pub received_at: SystemTime,
}

/// Who published an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A client's PUBLISH (IoT SQL's `clientid()` and `principal()`).
    Client {
        client_id: Arc<str>,
        principal: Arc<str>,
    },
    /// A client's last will, published when it went away.
    Will {
        client_id: Arc<str>,
        principal: Arc<str>,
    },
    /// The embedder's [`crate::Gateway::publish`] (the iot-data Publish API).
    Api,
}

/// Why a client was disconnected: IoT's lifecycle `disconnectReason` values
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// Authorisation failed mid-connection (an MQTT 3.1.1 publish the authority denied).
    AuthError,
    /// The client sent DISCONNECT.
    ClientInitiatedDisconnect,
    /// The client broke a rule: malformed or oversize packet, payload over the limit, invalid
    /// topic, a second CONNECT.
    ClientError,
    /// The network connection ended without DISCONNECT.
    ConnectionLost,
    /// Another connection with the same client id took over.
    DuplicateClientid,
    /// No packet from the client for 1.5 times its keep-alive.
    MqttKeepAliveTimeout,
    /// The broker is shutting down.
    ServerInitiatedDisconnect,
    /// The client could not keep up with its messages (its outbound queue filled).
    Throttled,
    /// The embedder disconnected it ([`crate::Gateway::disconnect`], IoT's DeleteConnection).
    ApiInitiatedDisconnect,
}

impl DisconnectReason {
    /// IoT's name for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthError => "AUTH_ERROR",
            Self::ClientInitiatedDisconnect => "CLIENT_INITIATED_DISCONNECT",
            Self::ClientError => "CLIENT_ERROR",
            Self::ConnectionLost => "CONNECTION_LOST",
            Self::DuplicateClientid => "DUPLICATE_CLIENTID",
            Self::MqttKeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            Self::ServerInitiatedDisconnect => "SERVER_INITIATED_DISCONNECT",
            Self::Throttled => "THROTTLED",
            Self::ApiInitiatedDisconnect => "API_INITIATED_DISCONNECT",
        }
    }

    /// Whether the client's will is published: for every reason but a DISCONNECT from the
    /// client (IoT's lifecycle events table; MQTT 5 clients may ask for it with 0x04).
    pub fn publishes_will(self) -> bool {
        self != Self::ClientInitiatedDisconnect
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Why a client's PUBLISH was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublishRefusal {
    /// The authority denied `iot:Publish` (or `iot:RetainPublish`).
    NotAuthorized,
    /// The payload is over the limit.
    PayloadTooLarge,
    /// The packet is over the packet size limit (refused from its fixed header).
    PacketTooLarge,
    /// The packet could not be read.
    MalformedPacket,
    /// The topic breaks IoT's topic rules (wildcard, reserved, size, levels, bad alias).
    InvalidTopic,
    /// QoS 2, which IoT does not support.
    QoS2Unsupported,
}

impl PublishRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAuthorized => "not-authorized",
            Self::PayloadTooLarge => "payload-too-large",
            Self::PacketTooLarge => "packet-too-large",
            Self::MalformedPacket => "malformed-packet",
            Self::InvalidTopic => "invalid-topic",
            Self::QoS2Unsupported => "qos2-unsupported",
        }
    }
}

/// Something that happened to a connection, for logs.
#[derive(Debug, Clone)]
pub enum LifecycleEvent {
    Connected {
        client_id: Arc<str>,
        principal: Arc<str>,
        protocol: ProtocolVersion,
        session_present: bool,
        at: SystemTime,
    },
    ConnectRefused {
        /// Empty when the CONNECT never arrived or could not be read.
        client_id: String,
        reason: String,
        at: SystemTime,
    },
    Disconnected {
        client_id: Arc<str>,
        principal: Arc<str>,
        reason: DisconnectReason,
        client_initiated: bool,
        connected_for: Duration,
        at: SystemTime,
    },
    PublishRefused {
        client_id: Arc<str>,
        principal: Arc<str>,
        /// Empty when the topic could not be read.
        topic: String,
        refusal: PublishRefusal,
        detail: String,
        at: SystemTime,
    },
    SubscribeRefused {
        client_id: Arc<str>,
        principal: Arc<str>,
        filter: String,
        detail: String,
        at: SystemTime,
    },
    /// A message not delivered to a client: QoS 0 beyond a full outbound queue, a QoS 1
    /// message beyond a full offline queue, or one larger than the client's Maximum Packet Size.
    MessageDropped {
        client_id: Arc<str>,
        topic: Arc<str>,
        qos: QoS,
        detail: &'static str,
        at: SystemTime,
    },
}
