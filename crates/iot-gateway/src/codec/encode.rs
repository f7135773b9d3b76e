use bytes::{BufMut, BytesMut};

use super::{ConnAck, ProtocolVersion, packet_type};

fn varint_size(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

fn put_varint(out: &mut BytesMut, mut value: usize) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

fn put_string(out: &mut BytesMut, value: &str) {
    out.put_u16(value.len() as u16);
    out.put_slice(value.as_bytes());
}

fn put_header(out: &mut BytesMut, first: u8, remaining_length: usize) {
    out.reserve(1 + varint_size(remaining_length) + remaining_length);
    out.put_u8(first);
    put_varint(out, remaining_length);
}

pub fn encode_connack(out: &mut BytesMut, connack: &ConnAck, version: ProtocolVersion) {
    let mut properties = BytesMut::new();
    if version == ProtocolVersion::V5 {
        if let Some(value) = connack.session_expiry_seconds {
            properties.put_u8(0x11);
            properties.put_u32(value);
        }
        if let Some(value) = connack.receive_maximum {
            properties.put_u8(0x21);
            properties.put_u16(value);
        }
        if let Some(value) = connack.maximum_qos {
            properties.put_u8(0x24);
            properties.put_u8(value);
        }
        if let Some(value) = connack.retain_available {
            properties.put_u8(0x25);
            properties.put_u8(u8::from(value));
        }
        if let Some(value) = connack.maximum_packet_size {
            properties.put_u8(0x27);
            properties.put_u32(value);
        }
        if let Some(value) = &connack.assigned_client_id {
            properties.put_u8(0x12);
            put_string(&mut properties, value);
        }
        if let Some(value) = connack.topic_alias_maximum {
            properties.put_u8(0x22);
            properties.put_u16(value);
        }
        if let Some(value) = &connack.reason_string {
            properties.put_u8(0x1F);
            put_string(&mut properties, value);
        }
        for (id, value) in [
            (0x28, connack.wildcard_subscription_available),
            (0x29, connack.subscription_identifiers_available),
            (0x2A, connack.shared_subscription_available),
        ] {
            if let Some(value) = value {
                properties.put_u8(id);
                properties.put_u8(u8::from(value));
            }
        }
        if let Some(value) = connack.server_keep_alive {
            properties.put_u8(0x13);
            properties.put_u16(value);
        }
    }
    let property_part = match version {
        ProtocolVersion::V5 => varint_size(properties.len()) + properties.len(),
        ProtocolVersion::V311 => 0,
    };
    put_header(out, packet_type::CONNACK << 4, 2 + property_part);
    out.put_u8(u8::from(connack.session_present));
    out.put_u8(connack.code);
    if version == ProtocolVersion::V5 {
        put_varint(out, properties.len());
        out.put_slice(&properties);
    }
}

/// The size of a PUBLISH as [`encode_publish`] writes it, to honour a client's Maximum Packet
/// Size before writing.
pub fn publish_size(
    topic: &str,
    payload_length: usize,
    qos: u8,
    forwarded_properties_length: usize,
    version: ProtocolVersion,
) -> usize {
    let remaining = remaining_publish_length(
        topic,
        payload_length,
        qos,
        forwarded_properties_length,
        version,
    );
    1 + varint_size(remaining) + remaining
}

fn remaining_publish_length(
    topic: &str,
    payload_length: usize,
    qos: u8,
    forwarded_properties_length: usize,
    version: ProtocolVersion,
) -> usize {
    let packet_id = if qos > 0 { 2 } else { 0 };
    let properties = match version {
        ProtocolVersion::V5 => {
            varint_size(forwarded_properties_length) + forwarded_properties_length
        }
        ProtocolVersion::V311 => 0,
    };
    2 + topic.len() + packet_id + properties + payload_length
}

#[allow(clippy::too_many_arguments)]
pub fn encode_publish(
    out: &mut BytesMut,
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    packet_id: u16,
    forwarded_properties: &[u8],
    version: ProtocolVersion,
) {
    let remaining = remaining_publish_length(
        topic,
        payload.len(),
        qos,
        forwarded_properties.len(),
        version,
    );
    let first = (packet_type::PUBLISH << 4) | (u8::from(dup) << 3) | (qos << 1) | u8::from(retain);
    put_header(out, first, remaining);
    put_string(out, topic);
    if qos > 0 {
        out.put_u16(packet_id);
    }
    if version == ProtocolVersion::V5 {
        put_varint(out, forwarded_properties.len());
        out.put_slice(forwarded_properties);
    }
    out.put_slice(payload);
}

/// PUBACK; MQTT 5 carries `reason` unless it is success (MQTT 5 section 3.4.2.1).
pub fn encode_puback(out: &mut BytesMut, packet_id: u16, reason: u8, version: ProtocolVersion) {
    if version == ProtocolVersion::V5 && reason != 0 {
        put_header(out, packet_type::PUBACK << 4, 4);
        out.put_u16(packet_id);
        out.put_u8(reason);
        out.put_u8(0);
    } else {
        put_header(out, packet_type::PUBACK << 4, 2);
        out.put_u16(packet_id);
    }
}

/// SUBACK with one return (3.1.1) or reason (5) code per requested filter.
pub fn encode_suback(out: &mut BytesMut, packet_id: u16, codes: &[u8], version: ProtocolVersion) {
    ack_with_codes(out, packet_type::SUBACK, packet_id, codes, version);
}

/// UNSUBACK: MQTT 3.1.1 has no codes; MQTT 5 one reason code per filter.
pub fn encode_unsuback(out: &mut BytesMut, packet_id: u16, codes: &[u8], version: ProtocolVersion) {
    match version {
        ProtocolVersion::V311 => {
            put_header(out, packet_type::UNSUBACK << 4, 2);
            out.put_u16(packet_id);
        }
        ProtocolVersion::V5 => {
            ack_with_codes(out, packet_type::UNSUBACK, packet_id, codes, version)
        }
    }
}

fn ack_with_codes(
    out: &mut BytesMut,
    kind: u8,
    packet_id: u16,
    codes: &[u8],
    version: ProtocolVersion,
) {
    let properties = usize::from(version == ProtocolVersion::V5);
    put_header(out, kind << 4, 2 + properties + codes.len());
    out.put_u16(packet_id);
    if properties == 1 {
        out.put_u8(0);
    }
    out.put_slice(codes);
}

pub fn encode_pingresp(out: &mut BytesMut) {
    put_header(out, packet_type::PINGRESP << 4, 0);
}

/// A server DISCONNECT, which only MQTT 5 has.
pub fn encode_disconnect(out: &mut BytesMut, reason: u8, reason_string: &str) {
    let property_length = 3 + reason_string.len();
    let remaining = 1 + varint_size(property_length) + property_length;
    put_header(out, packet_type::DISCONNECT << 4, remaining);
    out.put_u8(reason);
    put_varint(out, property_length);
    out.put_u8(0x1F);
    put_string(out, reason_string);
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, decode};
    use super::*;

    #[test]
    fn publish_round_trips_through_the_decoder() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let payload = vec![7u8; 300];
            let properties: &[u8] = match version {
                ProtocolVersion::V5 => &[0x03, 0x00, 0x01, b'x'],
                ProtocolVersion::V311 => &[],
            };
            let mut out = BytesMut::new();
            encode_publish(
                &mut out, "a/b", &payload, 1, true, false, 9, properties, version,
            );
            assert_eq!(
                out.len(),
                publish_size("a/b", payload.len(), 1, properties.len(), version)
            );
            let Some(Packet::Publish(publish)) = decode(&mut out, Some(version), 1 << 20).unwrap()
            else {
                panic!("expected PUBLISH");
            };
            assert_eq!(publish.topic, "a/b");
            assert_eq!(publish.packet_id, 9);
            assert!(publish.retain);
            assert_eq!(publish.payload.len(), 300);
            assert_eq!(&publish.forwarded_properties[..], properties);
        }
    }

    #[test]
    fn varint_sizes_match_what_is_written() {
        for value in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
        ] {
            let mut out = BytesMut::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_size(value), "{value}");
        }
    }

    #[test]
    fn mqtt5_connack_carries_its_properties() {
        let mut out = BytesMut::new();
        let connack = ConnAck {
            code: 0,
            receive_maximum: Some(100),
            maximum_qos: Some(1),
            ..ConnAck::default()
        };
        encode_connack(&mut out, &connack, ProtocolVersion::V5);
        assert_eq!(
            &out[..],
            &[0x20, 0x08, 0x00, 0x00, 0x05, 0x21, 0x00, 0x64, 0x24, 0x01]
        );
        let mut out = BytesMut::new();
        encode_connack(&mut out, &connack, ProtocolVersion::V311);
        assert_eq!(&out[..], &[0x20, 0x02, 0x00, 0x00]);
    }
}
