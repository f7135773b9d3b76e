use bytes::{Buf, Bytes, BytesMut};

use super::{
    Connect, Disconnect, Packet, ProtocolVersion, Publish, Subscribe, SubscriptionRequest,
    Unsubscribe, Will, WireQoS, packet_type,
};

/// Why bytes from a client are not a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "packet of type {packet_type} announces {remaining_length} bytes, over the {maximum} byte maximum"
    )]
    TooLarge {
        packet_type: u8,
        remaining_length: usize,
        maximum: usize,
    },
    #[error("malformed packet of type {packet_type}: {what}")]
    Malformed { packet_type: u8, what: &'static str },
}

fn malformed<T>(what: &'static str) -> Result<T, DecodeError> {
    Err(DecodeError::Malformed {
        packet_type: 0,
        what,
    })
}

/// Decodes one packet from the front of `buffer`.
///
/// `Ok(None)`: the packet is not complete yet; the buffer has been reserved for exactly the rest
/// of it, never beyond `max_remaining_length` plus the fixed header. `version` is `None` until
/// CONNECT has been read, and decides how MQTT 5 properties are read.
pub fn decode(
    buffer: &mut BytesMut,
    version: Option<ProtocolVersion>,
    max_remaining_length: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(&first) = buffer.first() else {
        return Ok(None);
    };
    let mut remaining_length: usize = 0;
    let mut header_length = 1;
    loop {
        let Some(&byte) = buffer.get(header_length) else {
            return Ok(None);
        };
        remaining_length |= usize::from(byte & 0x7F) << (7 * (header_length - 1));
        header_length += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if header_length == 5 {
            return Err(DecodeError::Malformed {
                packet_type: first >> 4,
                what: "remaining length longer than four bytes",
            });
        }
    }
    let kind = first >> 4;
    if remaining_length > max_remaining_length {
        return Err(DecodeError::TooLarge {
            packet_type: kind,
            remaining_length,
            maximum: max_remaining_length,
        });
    }
    let total = header_length + remaining_length;
    if buffer.len() < total {
        buffer.reserve(total - buffer.len());
        return Ok(None);
    }
    let mut frame = buffer.split_to(total).freeze();
    frame.advance(header_length);
    let flags = first & 0x0F;
    let body = Reader(frame);
    let v5 = version == Some(ProtocolVersion::V5);
    packet(kind, flags, body, v5)
        .map(Some)
        .map_err(|error| match error {
            DecodeError::Malformed { what, .. } => DecodeError::Malformed {
                packet_type: kind,
                what,
            },
            other => other,
        })
}

fn packet(kind: u8, flags: u8, mut body: Reader, v5: bool) -> Result<Packet, DecodeError> {
    let packet = match kind {
        packet_type::CONNECT => {
            require_flags(flags, 0)?;
            Packet::Connect(Box::new(connect(&mut body)?))
        }
        packet_type::PUBLISH => Packet::Publish(publish(&mut body, flags, v5)?),
        packet_type::PUBACK => {
            require_flags(flags, 0)?;
            // MQTT 5 adds a reason code and properties the broker has no use for.
            Packet::PubAck {
                packet_id: body.u16()?,
            }
        }
        packet_type::PUBREC | packet_type::PUBREL | packet_type::PUBCOMP => {
            Packet::QoS2Flow { packet_type: kind }
        }
        packet_type::SUBSCRIBE => {
            require_flags(flags, 0b0010)?;
            Packet::Subscribe(subscribe(&mut body, v5)?)
        }
        packet_type::UNSUBSCRIBE => {
            require_flags(flags, 0b0010)?;
            Packet::Unsubscribe(unsubscribe(&mut body, v5)?)
        }
        packet_type::PINGREQ => {
            require_flags(flags, 0)?;
            Packet::PingReq
        }
        packet_type::DISCONNECT => {
            require_flags(flags, 0)?;
            Packet::Disconnect(disconnect(&mut body, v5)?)
        }
        packet_type::AUTH => Packet::Auth,
        0 => return malformed("packet type 0 is reserved"),
        other => Packet::ServerOnly { packet_type: other },
    };
    Ok(packet)
}

fn require_flags(flags: u8, expected: u8) -> Result<(), DecodeError> {
    if flags == expected {
        Ok(())
    } else {
        malformed("reserved fixed header flags")
    }
}

fn connect(body: &mut Reader) -> Result<Connect, DecodeError> {
    if body.binary()?.as_ref() != b"MQTT" {
        return malformed("protocol name is not MQTT");
    }
    let protocol_level = body.u8()?;
    let protocol = match protocol_level {
        4 => Some(ProtocolVersion::V311),
        5 => Some(ProtocolVersion::V5),
        _ => None,
    };
    let flags = body.u8()?;
    let keep_alive_seconds = body.u16()?;
    let mut connect = Connect {
        protocol,
        protocol_level,
        client_id: String::new(),
        clean_start: flags & 0b0000_0010 != 0,
        keep_alive_seconds,
        will: None,
        username: None,
        password: None,
        session_expiry_seconds: 0,
        receive_maximum: u16::MAX,
        maximum_packet_size: None,
        authentication_method: None,
    };
    // An unknown level is answered with a CONNACK refusal; its body may be of any shape.
    let Some(protocol) = protocol else {
        return Ok(connect);
    };
    if flags & 0b0000_0001 != 0 {
        return malformed("reserved CONNECT flag set");
    }
    let v5 = protocol == ProtocolVersion::V5;
    if v5 {
        for property in body.properties()? {
            match property {
                Property::U32(0x11, value) => connect.session_expiry_seconds = value,
                Property::U16(0x21, 0) => return malformed("receive maximum of 0"),
                Property::U16(0x21, value) => connect.receive_maximum = value,
                Property::U32(0x27, 0) => return malformed("maximum packet size of 0"),
                Property::U32(0x27, value) => connect.maximum_packet_size = Some(value),
                Property::Str(0x15, method) => connect.authentication_method = Some(method),
                Property::U16(0x22, _)
                | Property::Byte(0x17 | 0x19, _)
                | Property::Bin(0x16)
                | Property::Pair(0x26) => {}
                _ => return malformed("property not allowed in CONNECT"),
            }
        }
    }
    connect.client_id = body.string()?;
    let will_flag = flags & 0b0000_0100 != 0;
    let will_qos = (flags >> 3) & 0b11;
    let will_retain = flags & 0b0010_0000 != 0;
    if will_flag {
        let forwarded_properties = if v5 {
            body.forwarded_properties(&[0x18])?
        } else {
            Bytes::new()
        };
        let topic = body.string()?;
        let payload = body.binary()?;
        let Some(qos) = WireQoS::from_bits(will_qos) else {
            return malformed("will QoS 3");
        };
        connect.will = Some(Will {
            topic,
            payload,
            qos,
            retain: will_retain,
            forwarded_properties,
        });
    } else if will_qos != 0 || will_retain {
        return malformed("will QoS or retain without a will");
    }
    if flags & 0b1000_0000 != 0 {
        connect.username = Some(body.string()?);
    }
    if flags & 0b0100_0000 != 0 {
        connect.password = Some(body.binary()?);
    }
    if body.0.has_remaining() {
        return malformed("bytes after the CONNECT payload");
    }
    Ok(connect)
}

fn publish(body: &mut Reader, flags: u8, v5: bool) -> Result<Publish, DecodeError> {
    let Some(qos) = WireQoS::from_bits((flags >> 1) & 0b11) else {
        return malformed("PUBLISH with QoS 3");
    };
    let dup = flags & 0b1000 != 0;
    let retain = flags & 0b0001 != 0;
    let topic = body.string()?;
    let packet_id = if qos == WireQoS::AtMostOnce {
        0
    } else {
        match body.u16()? {
            0 => return malformed("packet identifier 0"),
            id => id,
        }
    };
    let mut topic_alias = None;
    let forwarded_properties = if v5 {
        let (forwarded, alias) = body.publish_properties()?;
        topic_alias = alias;
        forwarded
    } else {
        Bytes::new()
    };
    Ok(Publish {
        dup,
        qos,
        retain,
        topic,
        packet_id,
        payload: body.0.split_off(0),
        topic_alias,
        forwarded_properties,
    })
}

fn subscribe(body: &mut Reader, v5: bool) -> Result<Subscribe, DecodeError> {
    let packet_id = body.u16()?;
    if v5 {
        for property in body.properties()? {
            match property {
                Property::Varint(0x0B) | Property::Pair(0x26) => {}
                _ => return malformed("property not allowed in SUBSCRIBE"),
            }
        }
    }
    let mut requests = Vec::new();
    while body.0.has_remaining() {
        let filter = body.string()?;
        let options = body.u8()?;
        let reserved = if v5 { 0b1100_0000 } else { 0b1111_1100 };
        if options & reserved != 0 {
            return malformed("reserved subscription option bits");
        }
        let Some(qos) = WireQoS::from_bits(options & 0b11) else {
            return malformed("subscription QoS 3");
        };
        let retain_handling = (options >> 4) & 0b11;
        if retain_handling == 3 {
            return malformed("retain handling 3");
        }
        requests.push(SubscriptionRequest {
            filter,
            qos,
            no_local: options & 0b0100 != 0,
            retain_as_published: options & 0b1000 != 0,
            retain_handling,
        });
    }
    if requests.is_empty() {
        return malformed("SUBSCRIBE without a topic filter");
    }
    Ok(Subscribe {
        packet_id,
        requests,
    })
}

fn unsubscribe(body: &mut Reader, v5: bool) -> Result<Unsubscribe, DecodeError> {
    let packet_id = body.u16()?;
    if v5 {
        for property in body.properties()? {
            if !matches!(property, Property::Pair(0x26)) {
                return malformed("property not allowed in UNSUBSCRIBE");
            }
        }
    }
    let mut filters = Vec::new();
    while body.0.has_remaining() {
        filters.push(body.string()?);
    }
    if filters.is_empty() {
        return malformed("UNSUBSCRIBE without a topic filter");
    }
    Ok(Unsubscribe { packet_id, filters })
}

fn disconnect(body: &mut Reader, v5: bool) -> Result<Disconnect, DecodeError> {
    let mut disconnect = Disconnect {
        reason_code: 0,
        session_expiry_seconds: None,
    };
    if v5 && body.0.has_remaining() {
        disconnect.reason_code = body.u8()?;
        if body.0.has_remaining() {
            for property in body.properties()? {
                match property {
                    Property::U32(0x11, value) => disconnect.session_expiry_seconds = Some(value),
                    Property::Str(0x1F | 0x1C, _) | Property::Pair(0x26) => {}
                    _ => return malformed("property not allowed in DISCONNECT"),
                }
            }
        }
    }
    Ok(disconnect)
}

/// An MQTT 5 property, by identifier and value type (MQTT 5 section 2.2.2.2).
enum Property {
    Byte(u8, u8),
    U16(u8, u16),
    U32(u8, u32),
    Varint(u8),
    Str(u8, String),
    Bin(u8),
    Pair(u8),
}

/// Identifiers of properties the broker forwards from a PUBLISH (or will) to its receivers.
const FORWARDED: [u8; 6] = [0x01, 0x02, 0x03, 0x08, 0x09, 0x26];

struct Reader(Bytes);

impl Reader {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        if self.0.remaining() < 1 {
            return malformed("packet ends early");
        }
        Ok(self.0.get_u8())
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        if self.0.remaining() < 2 {
            return malformed("packet ends early");
        }
        Ok(self.0.get_u16())
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        if self.0.remaining() < 4 {
            return malformed("packet ends early");
        }
        Ok(self.0.get_u32())
    }

    fn varint(&mut self) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for index in 0..4 {
            let byte = self.u8()?;
            value |= u32::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        malformed("variable byte integer longer than four bytes")
    }

    fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let length = usize::from(self.u16()?);
        if self.0.remaining() < length {
            return malformed("length prefix beyond the packet");
        }
        Ok(self.0.split_to(length))
    }

    /// A UTF-8 string as MQTT defines it: well formed, without U+0000.
    fn string(&mut self) -> Result<String, DecodeError> {
        let bytes = self.binary()?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if !text.contains('\0') => Ok(text.to_owned()),
            Ok(_) => malformed("string contains U+0000"),
            Err(_) => malformed("string is not UTF-8"),
        }
    }

    /// The property section: its length, then that many bytes of properties.
    fn property_section(&mut self) -> Result<Reader, DecodeError> {
        let length = self.varint()? as usize;
        if self.0.remaining() < length {
            return malformed("property length beyond the packet");
        }
        Ok(Reader(self.0.split_to(length)))
    }

    fn properties(&mut self) -> Result<Vec<Property>, DecodeError> {
        let mut section = self.property_section()?;
        let mut properties = Vec::new();
        while section.0.has_remaining() {
            properties.push(section.property()?);
        }
        Ok(properties)
    }

    fn property(&mut self) -> Result<Property, DecodeError> {
        let id = self.varint()?;
        let Ok(id) = u8::try_from(id) else {
            return malformed("unknown property identifier");
        };
        Ok(match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Property::Byte(id, self.u8()?),
            0x13 | 0x21 | 0x22 | 0x23 => Property::U16(id, self.u16()?),
            0x02 | 0x11 | 0x18 | 0x27 => Property::U32(id, self.u32()?),
            0x0B => {
                self.varint()?;
                Property::Varint(id)
            }
            0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => Property::Str(id, self.string()?),
            0x09 | 0x16 => {
                self.binary()?;
                Property::Bin(id)
            }
            0x26 => {
                self.string()?;
                self.string()?;
                Property::Pair(id)
            }
            _ => return malformed("unknown property identifier"),
        })
    }

    /// Reads a PUBLISH property section: the forwarded properties' bytes and the topic alias.
    fn publish_properties(&mut self) -> Result<(Bytes, Option<u16>), DecodeError> {
        let section = self.property_section()?;
        let mut alias = None;
        let forwarded = section.collect_forwarded(&[], |property| match property {
            Property::U16(0x23, value) => {
                alias = Some(value);
                Ok(())
            }
            // A client may not send subscription identifiers; the others are forwarded.
            Property::Varint(0x0B) => malformed("subscription identifier in PUBLISH"),
            Property::Byte(0x01, 0 | 1)
            | Property::U32(0x02, _)
            | Property::Str(0x03 | 0x08, _)
            | Property::Bin(0x09)
            | Property::Pair(0x26) => Ok(()),
            _ => malformed("property not allowed in PUBLISH"),
        })?;
        Ok((forwarded, alias))
    }

    /// Reads a will property section, keeping the forwarded properties' bytes; `also_allowed`
    /// lists further identifiers accepted and dropped (the will delay interval).
    fn forwarded_properties(&mut self, also_allowed: &[u8]) -> Result<Bytes, DecodeError> {
        let section = self.property_section()?;
        section.collect_forwarded(also_allowed, |property| match property {
            Property::Byte(0x01, 0 | 1)
            | Property::U32(0x02 | 0x18, _)
            | Property::Str(0x03 | 0x08, _)
            | Property::Bin(0x09)
            | Property::Pair(0x26) => Ok(()),
            _ => malformed("property not allowed in a will"),
        })
    }

    fn collect_forwarded(
        mut self,
        dropped: &[u8],
        mut check: impl FnMut(Property) -> Result<(), DecodeError>,
    ) -> Result<Bytes, DecodeError> {
        let whole = self.0.clone();
        let mut forwarded = BytesMut::new();
        while self.0.has_remaining() {
            let start = whole.len() - self.0.remaining();
            let property = self.property()?;
            let end = whole.len() - self.0.remaining();
            let id = whole[start];
            check(property)?;
            if FORWARDED.contains(&id) && !dropped.contains(&id) {
                forwarded.extend_from_slice(&whole[start..end]);
            }
        }
        Ok(forwarded.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1024;

    fn connect_v311(client_id: &str) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b0000_0010, 0, 60];
        body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
        body.extend_from_slice(client_id.as_bytes());
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend_from_slice(&body);
        packet
    }

    #[test]
    fn a_connect_decodes_in_pieces() {
        let bytes = connect_v311("oven-1");
        let mut buffer = BytesMut::new();
        for (index, byte) in bytes.iter().enumerate() {
            buffer.extend_from_slice(&[*byte]);
            let decoded = decode(&mut buffer, None, MAX).unwrap();
            if index + 1 < bytes.len() {
                assert_eq!(decoded, None);
            } else {
                let Some(Packet::Connect(connect)) = decoded else {
                    panic!("expected CONNECT, got {decoded:?}");
                };
                assert_eq!(connect.client_id, "oven-1");
                assert_eq!(connect.protocol, Some(ProtocolVersion::V311));
                assert!(connect.clean_start);
                assert_eq!(connect.keep_alive_seconds, 60);
            }
        }
        assert!(buffer.is_empty());
    }

    #[test]
    fn an_oversize_packet_is_refused_from_its_fixed_header_alone() {
        // PUBLISH announcing 1,000,000 bytes; nothing of the body has arrived.
        let mut buffer = BytesMut::from(&[0x30, 0xC0, 0x84, 0x3D][..]);
        let error = decode(&mut buffer, Some(ProtocolVersion::V311), MAX).unwrap_err();
        assert_eq!(
            error,
            DecodeError::TooLarge {
                packet_type: packet_type::PUBLISH,
                remaining_length: 1_000_000,
                maximum: MAX,
            }
        );
        assert!(buffer.capacity() < 64, "no room was reserved for the body");
    }

    #[test]
    fn a_partial_packet_reserves_only_what_it_announced() {
        let mut buffer = BytesMut::from(&[0x30, 0xE8, 0x07][..]); // 1000 bytes announced
        assert_eq!(
            decode(&mut buffer, Some(ProtocolVersion::V311), MAX),
            Ok(None)
        );
        assert!(buffer.capacity() >= 1003);
        assert!(buffer.capacity() < 1003 + 64);
    }

    #[test]
    fn a_five_byte_remaining_length_is_malformed() {
        let mut buffer = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..]);
        assert_eq!(
            decode(&mut buffer, Some(ProtocolVersion::V311), usize::MAX),
            Err(DecodeError::Malformed {
                packet_type: packet_type::PUBLISH,
                what: "remaining length longer than four bytes"
            })
        );
    }

    #[test]
    fn publish_with_invalid_utf8_topic_is_malformed() {
        let mut buffer = BytesMut::from(&[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28][..]);
        assert_eq!(
            decode(&mut buffer, Some(ProtocolVersion::V311), MAX),
            Err(DecodeError::Malformed {
                packet_type: packet_type::PUBLISH,
                what: "string is not UTF-8"
            })
        );
    }

    #[test]
    fn mqtt5_publish_keeps_forwarded_properties_and_reads_the_alias() {
        // topic "a/b", packet id 7, properties: topic alias 3, content type "x", user property (k, v)
        let properties = [
            0x23, 0x00, 0x03, 0x03, 0x00, 0x01, b'x', 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v',
        ];
        let mut body = vec![
            0x00,
            0x03,
            b'a',
            b'/',
            b'b',
            0x00,
            0x07,
            properties.len() as u8,
        ];
        body.extend_from_slice(&properties);
        body.extend_from_slice(b"hello");
        let mut packet = vec![0x32, body.len() as u8];
        packet.extend_from_slice(&body);
        let mut buffer = BytesMut::from(&packet[..]);
        let Some(Packet::Publish(publish)) =
            decode(&mut buffer, Some(ProtocolVersion::V5), MAX).unwrap()
        else {
            panic!("expected PUBLISH");
        };
        assert_eq!(publish.topic, "a/b");
        assert_eq!(publish.qos, WireQoS::AtLeastOnce);
        assert_eq!(publish.packet_id, 7);
        assert_eq!(publish.topic_alias, Some(3));
        assert_eq!(&publish.payload[..], b"hello");
        assert_eq!(&publish.forwarded_properties[..], &properties[3..]);
    }

    #[test]
    fn subscribe_reads_every_filter_and_its_options() {
        let body = [
            0x00, 0x05, 0x00, 0x03, b'a', b'/', b'#', 0x01, 0x00, 0x01, b'b', 0x02,
        ];
        let mut packet = vec![0x82, body.len() as u8];
        packet.extend_from_slice(&body);
        let mut buffer = BytesMut::from(&packet[..]);
        let Some(Packet::Subscribe(subscribe)) =
            decode(&mut buffer, Some(ProtocolVersion::V311), MAX).unwrap()
        else {
            panic!("expected SUBSCRIBE");
        };
        assert_eq!(subscribe.packet_id, 5);
        let filters: Vec<_> = subscribe
            .requests
            .iter()
            .map(|request| (request.filter.as_str(), request.qos))
            .collect();
        assert_eq!(
            filters,
            [("a/#", WireQoS::AtLeastOnce), ("b", WireQoS::ExactlyOnce)]
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix of a pseudo-random stream either decodes,
        // waits for more, or is refused.
        let mut seed: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let mut bytes = Vec::new();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                bytes.push(seed as u8);
            }
            for version in [None, Some(ProtocolVersion::V311), Some(ProtocolVersion::V5)] {
                let mut buffer = BytesMut::from(&bytes[..]);
                while let Ok(Some(_)) = decode(&mut buffer, version, MAX) {}
            }
        }
    }
}
