//! MQTT 3.1.1 and 5 framing, server side: decodes what clients send, encodes what the broker
//! sends. No I/O here; the connection feeds bytes in and writes bytes out.
//!
//! The decoder reads the fixed header first and refuses a packet whose remaining length exceeds
//! the configured maximum before any of its body is buffered, so one packet never costs more
//! than that maximum.

mod decode;
mod encode;

pub use decode::{DecodeError, decode};
pub use encode::{
    encode_connack, encode_disconnect, encode_pingresp, encode_puback, encode_publish,
    encode_suback, encode_unsuback, publish_size,
};

use bytes::Bytes;

/// The MQTT protocol version a connection speaks, from its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5 (protocol level 5).
    V5,
}

/// A quality of service level as it appears on the wire (QoS 2 included, so it can be refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WireQoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl WireQoS {
    fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

/// MQTT 5 reason codes the broker sends (MQTT 5 section 2.4).
pub mod reason {
    pub const SUCCESS: u8 = 0x00;
    pub const GRANTED_QOS_1: u8 = 0x01;
    pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
    pub const UNSPECIFIED_ERROR: u8 = 0x80;
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const UNSUPPORTED_PROTOCOL_VERSION: u8 = 0x84;
    pub const CLIENT_IDENTIFIER_NOT_VALID: u8 = 0x85;
    pub const NOT_AUTHORIZED: u8 = 0x87;
    pub const SERVER_UNAVAILABLE: u8 = 0x88;
    pub const BAD_AUTHENTICATION_METHOD: u8 = 0x8C;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
    pub const SESSION_TAKEN_OVER: u8 = 0x8E;
    pub const TOPIC_FILTER_INVALID: u8 = 0x8F;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const PACKET_TOO_LARGE: u8 = 0x95;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    pub const ADMINISTRATIVE_ACTION: u8 = 0x98;
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9B;
    pub const DISCONNECT_WITH_WILL_MESSAGE: u8 = 0x04;
}

/// MQTT 3.1.1 CONNACK return codes (MQTT 3.1.1 section 3.2.2.3).
pub mod return_code {
    pub const ACCEPTED: u8 = 0;
    pub const UNACCEPTABLE_PROTOCOL_VERSION: u8 = 1;
    pub const IDENTIFIER_REJECTED: u8 = 2;
    pub const SERVER_UNAVAILABLE: u8 = 3;
    pub const NOT_AUTHORIZED: u8 = 5;
}

/// The packet types, as the first nibble of the fixed header.
pub mod packet_type {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
    pub const AUTH: u8 = 15;
}

/// A packet a client sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    Connect(Box<Connect>),
    Publish(Publish),
    PubAck {
        packet_id: u16,
    },
    /// PUBREC, PUBREL, PUBCOMP: the QoS 2 flow, which the broker does not support.
    QoS2Flow {
        packet_type: u8,
    },
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    PingReq,
    Disconnect(Disconnect),
    /// MQTT 5 AUTH (enhanced authentication), which the broker does not support.
    Auth,
    /// A packet type only a server sends (CONNACK, SUBACK, ...).
    ServerOnly {
        packet_type: u8,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    /// `None` for a protocol level the broker does not speak (MQTT 3.1 is level 3).
    pub protocol: Option<ProtocolVersion>,
    pub protocol_level: u8,
    pub client_id: String,
    pub clean_start: bool,
    pub keep_alive_seconds: u16,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    /// MQTT 5 Session Expiry Interval; 0 when absent.
    pub session_expiry_seconds: u32,
    /// MQTT 5 Receive Maximum; 65,535 when absent.
    pub receive_maximum: u16,
    /// MQTT 5 Maximum Packet Size the client accepts.
    pub maximum_packet_size: Option<u32>,
    /// MQTT 5 Authentication Method (enhanced authentication).
    pub authentication_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: WireQoS,
    pub retain: bool,
    /// The MQTT 5 will properties forwarded to receivers, already encoded.
    pub forwarded_properties: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub dup: bool,
    pub qos: WireQoS,
    pub retain: bool,
    /// Empty when an MQTT 5 client sent only a topic alias.
    pub topic: String,
    pub packet_id: u16,
    pub payload: Bytes,
    pub topic_alias: Option<u16>,
    /// MQTT 5 properties the broker passes on to subscribers unchanged (payload format,
    /// message expiry, content type, response topic, correlation data, user properties),
    /// already encoded; empty for MQTT 3.1.1.
    pub forwarded_properties: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub requests: Vec<SubscriptionRequest>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRequest {
    pub filter: String,
    pub qos: WireQoS,
    /// MQTT 5 subscription options; false / 0 for MQTT 3.1.1.
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disconnect {
    /// MQTT 5 reason code; 0 (normal) for MQTT 3.1.1.
    pub reason_code: u8,
    pub session_expiry_seconds: Option<u32>,
}

/// CONNACK as the broker sends it; MQTT 5 properties are left out for MQTT 3.1.1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnAck {
    pub session_present: bool,
    /// An MQTT 5 reason code or an MQTT 3.1.1 return code, matching the connection's version.
    pub code: u8,
    pub session_expiry_seconds: Option<u32>,
    pub receive_maximum: Option<u16>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<bool>,
    pub maximum_packet_size: Option<u32>,
    pub assigned_client_id: Option<String>,
    pub topic_alias_maximum: Option<u16>,
    pub reason_string: Option<String>,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub server_keep_alive: Option<u16>,
}
