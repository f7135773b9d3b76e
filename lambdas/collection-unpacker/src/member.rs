//! One member of a collection: `{"event": NAME, ...the event's device message}`, read with the
//! contract of a device message published alone (docs/contracts.md, "Rejected device messages",
//! the parts the event rules' `@readable` checks), plus what the collection adds: the event must
//! be one devices may collect, and its payload must match the event's schema.

use std::fmt;

use chrono::{DateTime, Utc};
use postoffice::catalog::{Catalog, Direction};
use postoffice::envelope::DeviceMessage;
use postoffice::topic;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A part of a member that can make it unpublishable, named as the rejected-device-messages
/// queue's `unreadable` names it. The first seven are the device message's parts in the event
/// rules' order (`topic` aside: the collection's topic was checked by its rule); the last two are
/// checked only of members whose other parts are readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Missing, not a string, not an event name, or not an event devices may collect.
    Event,
    Payload,
    EventId,
    OccurredAt,
    CorrelationId,
    CausationId,
    SchemaVersion,
    /// The payload does not match the event's schema in the catalog.
    PayloadSchema,
    /// An earlier member of the collection was published with the same event id.
    DuplicateEventId,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Event => "event",
            Part::Payload => "payload",
            Part::EventId => "event_id",
            Part::OccurredAt => "occurred_at",
            Part::CorrelationId => "correlation_id",
            Part::CausationId => "causation_id",
            Part::SchemaVersion => "schema_version",
            Part::PayloadSchema => "payload_schema",
            Part::DuplicateEventId => "duplicate_event_id",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a member cannot be published: its parts, in [`Part`] order, and what is wrong with each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub parts: Vec<Part>,
    pub detail: String,
}

impl Unreadable {
    fn new() -> Self {
        Self {
            parts: Vec::new(),
            detail: String::new(),
        }
    }

    fn add(&mut self, part: Part, reason: impl fmt::Display) {
        self.parts.push(part);
        if !self.detail.is_empty() {
            self.detail.push_str("; ");
        }
        self.detail.push_str(&format!("{part}: {reason}"));
    }
}

/// A member that can be published: its event and device message.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub event: String,
    pub message: DeviceMessage,
}

/// Reads a member. Every unreadable part is named at once; the schema is checked only when
/// the event and the device message are readable.
pub fn read(member: &Value, catalog: &Catalog) -> Result<Member, Unreadable> {
    let mut unreadable = Unreadable::new();
    let Value::Object(fields) = member else {
        unreadable.add(
            Part::Event,
            format!("a member is a JSON object, found {}", kind(member)),
        );
        unreadable.add(Part::Payload, "is missing: the member is not an object");
        return Err(unreadable);
    };

    let event = collectable_event(fields.get("event"), catalog)
        .map_err(|reason| unreadable.add(Part::Event, reason))
        .ok();
    let payload = match present(fields, "payload") {
        Some(payload @ Value::Object(_)) => Some(payload.clone()),
        Some(other) => {
            unreadable.add(
                Part::Payload,
                format!("must be a JSON object, found {}", kind(other)),
            );
            None
        }
        None => {
            unreadable.add(Part::Payload, "is missing");
            None
        }
    };
    let optional_parts: [(Part, Check); 5] = [
        (Part::EventId, |v| v.as_str().and_then(uuid_text).is_some()),
        (Part::OccurredAt, |v| {
            v.as_str().and_then(rfc3339_time).is_some()
        }),
        (Part::CorrelationId, |v| {
            v.as_str().and_then(uuid_text).is_some()
        }),
        (Part::CausationId, |v| {
            v.as_str().and_then(uuid_text).is_some()
        }),
        (Part::SchemaVersion, |v| schema_version(v).is_some()),
    ];
    for (part, readable) in optional_parts {
        if let Some(value) = present(fields, part.as_str()).filter(|value| !readable(value)) {
            unreadable.add(part, format!("{} is not {}", shown(value), expected(part)));
        }
    }

    let (Some(event), Some(payload), true) = (event, payload, unreadable.parts.is_empty()) else {
        return Err(unreadable);
    };
    let uuid = |field: &str| {
        present(fields, field)
            .and_then(Value::as_str)
            .and_then(uuid_text)
    };
    let message = DeviceMessage {
        event_id: uuid("event_id"),
        occurred_at: present(fields, "occurred_at")
            .and_then(Value::as_str)
            .and_then(rfc3339_time),
        correlation_id: uuid("correlation_id"),
        causation_id: uuid("causation_id"),
        schema_version: present(fields, "schema_version").and_then(schema_version),
        payload,
    };
    if let Err(error) = catalog.validate_payload(&event, &message.payload) {
        unreadable.add(Part::PayloadSchema, error);
        return Err(unreadable);
    }
    Ok(Member { event, message })
}

/// The member's event, when devices may send it in a collection.
fn collectable_event(event: Option<&Value>, catalog: &Catalog) -> Result<String, String> {
    let name = match event {
        None | Some(Value::Null) => return Err("is missing".to_owned()),
        Some(Value::String(name)) => name,
        Some(other) => return Err(format!("must be an event name, found {}", kind(other))),
    };
    topic::validate_event_name(name).map_err(|error| format!("{}: {error}", shown_text(name)))?;
    let Some(definition) = catalog.event(name) else {
        return Err(format!("{name} is not in the event catalog"));
    };
    let device_produced = definition.direction == Direction::ActorToBackend
        && definition.producers.iter().any(|p| p == "device");
    if definition.collection.is_none() || !device_produced {
        return Err(format!(
            "devices may not send {name} in a collection (its catalog file has no `collection`)"
        ));
    }
    Ok(name.clone())
}

/// Whether a present optional field is readable.
type Check = fn(&Value) -> bool;

/// A field that is there and not null: null is absent, as `DeviceMessage` reads it.
fn present<'a>(fields: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    fields.get(field).filter(|value| !value.is_null())
}

fn expected(part: Part) -> &'static str {
    match part {
        Part::OccurredAt => {
            "an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.fraction] then Z or +HH:MM/-HH:MM)"
        }
        Part::SchemaVersion => "a whole number from 1 to 4294967295",
        _ => "a UUID (8-4-4-4-12 hyphenated or 32 hex digits)",
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a message, cut to a length fit for one.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => shown_text(text),
        other => kind(other).to_owned(),
    }
}

fn shown_text(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{:?}…", &text[..end]),
        None => format!("{text:?}"),
    }
}

/// A UUID in the forms the contract accepts: 8-4-4-4-12 hyphenated or 32 hex digits, either case.
pub fn uuid_text(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    let form = match bytes.len() {
        32 => bytes.iter().all(u8::is_ascii_hexdigit),
        36 => bytes.iter().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        }),
        _ => false,
    };
    form.then(|| Uuid::parse_str(text).ok()).flatten()
}

/// An RFC 3339 time in the form the contract accepts: `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction of at least one digit, then `Z` or `+HH:MM`/`-HH:MM`; upper-case `T` and `Z`; a
/// date that exists, hours 00-23, minutes 00-59, seconds 00-60 (a leap second), offsets up to
/// 23:59.
pub fn rfc3339_time(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    if !text.is_ascii() || bytes.len() < 20 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|(at, byte)| bytes[*at] == *byte)
        || ![0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(digits)
    {
        return None;
    }
    let (fraction_end, offset_ok) = if bytes.ends_with(b"Z") {
        (bytes.len() - 1, true)
    } else {
        let start = bytes.len() - 6;
        let offset_ok = start >= 19
            && matches!(bytes[start], b'+' | b'-')
            && bytes[start + 3] == b':'
            && digits(start + 1..start + 3)
            && digits(start + 4..start + 6)
            && number(start + 1..start + 3)? <= 23
            && number(start + 4..start + 6)? <= 59;
        (start, offset_ok)
    };
    let fraction = &bytes[19..fraction_end.max(19)];
    let fraction_ok = fraction.is_empty()
        || (fraction.len() >= 2 && fraction[0] == b'.' && digits_of(&fraction[1..]));
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let date_ok = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
    let time_ok = number(11..13)? <= 23 && number(14..16)? <= 59 && number(17..19)? <= 60;
    if !(offset_ok && fraction_ok && date_ok && time_ok) {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

fn digits_of(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_digit)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A whole number from 1 to 4294967295, not a string. IoT SQL reads a whole decimal such as
/// `2.0` as the Int 2, and so does this.
pub fn schema_version(value: &Value) -> Option<u32> {
    let number = value.as_number()?;
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(whole), _) => whole,
        (None, Some(float))
            if float.fract() == 0.0 && float >= 1.0 && float <= f64::from(u32::MAX) =>
        {
            float as u64
        }
        _ => return None,
    };
    u32::try_from(whole).ok().filter(|version| *version >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> &'static Catalog {
        Catalog::embedded()
    }

    fn telemetry() -> Value {
        json!({
            "event": "DEVICE_TELEMETRY_REPORTED",
            "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
            "occurred_at": "2026-11-23T18:10:00.000Z",
            "payload": {"sampled_at": "2026-11-23T18:10:00Z", "cavity_temperature_c": 228.4,
                        "power_w": 2150, "door_open": false}
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut member = telemetry();
        member[field] = value;
        member
    }

    fn parts(member: &Value) -> Vec<Part> {
        read(member, catalog()).unwrap_err().parts
    }

    #[test]
    fn a_readable_member_is_its_event_and_device_message() {
        let member = read(&telemetry(), catalog()).unwrap();
        assert_eq!(member.event, "DEVICE_TELEMETRY_REPORTED");
        assert_eq!(
            member.message,
            serde_json::from_value::<DeviceMessage>(telemetry()).unwrap()
        );
        // Null is absent; fields the contract does not name are ignored.
        let mut sparse = with("correlation_id", Value::Null);
        sparse["household_id"] = json!("h-2");
        sparse["event_id"] = Value::Null;
        let member = read(&sparse, catalog()).unwrap();
        assert_eq!(member.message.event_id, None);
        assert_eq!(member.message.correlation_id, None);
    }

    #[test]
    fn the_event_must_be_one_devices_may_collect() {
        for (event, needle) in [
            (Value::Null, "is missing"),
            (json!(7), "found a number"),
            (json!("telemetry"), "\"telemetry\""),
            (json!("NO_SUCH_EVENT"), "not in the event catalog"),
            // Devices publish it, but alone: it has no `collection`.
            (json!("COOKING_FINISHED"), "may not send COOKING_FINISHED"),
            // Not a device's event at all.
            (json!("FIRMWARE_UPDATE_OFFERED"), "may not send"),
            (json!("EVENT_COLLECTION"), "may not send"),
        ] {
            let error = read(&with("event", event.clone()), catalog()).unwrap_err();
            assert_eq!(error.parts, [Part::Event], "{event}");
            assert!(error.detail.contains(needle), "{event}: {}", error.detail);
        }
        let mut without = telemetry();
        without.as_object_mut().unwrap().remove("event");
        assert_eq!(parts(&without), [Part::Event]);
    }

    #[test]
    fn every_unreadable_part_is_named_in_contract_order() {
        let member = json!({
            "event": 1, "payload": [1], "event_id": "x", "occurred_at": "yesterday",
            "correlation_id": 7, "causation_id": "{6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11}",
            "schema_version": "1"
        });
        assert_eq!(
            parts(&member),
            [
                Part::Event,
                Part::Payload,
                Part::EventId,
                Part::OccurredAt,
                Part::CorrelationId,
                Part::CausationId,
                Part::SchemaVersion
            ]
        );
        for not_an_object in [json!(null), json!(3), json!("member"), json!([telemetry()])] {
            assert_eq!(parts(&not_an_object), [Part::Event, Part::Payload]);
        }
    }

    #[test]
    fn the_payload_must_match_its_events_schema() {
        let error = read(&with("payload", json!({"power_w": -1})), catalog()).unwrap_err();
        assert_eq!(error.parts, [Part::PayloadSchema]);
        assert!(
            error.detail.starts_with(
                "payload_schema: payload of DEVICE_TELEMETRY_REPORTED does not match its schema"
            ),
            "{}",
            error.detail
        );
        // Not checked while other parts are unreadable: the reason would only repeat them.
        let both = with("event_id", json!("x"));
        let mut both = both;
        both["payload"] = json!({"power_w": -1});
        assert_eq!(parts(&both), [Part::EventId]);
    }

    #[test]
    fn uuids_in_the_contracts_forms_only() {
        let id = "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11";
        for text in [id.to_owned(), id.to_uppercase(), id.replace('-', "")] {
            assert_eq!(uuid_text(&text), Some(id.parse().unwrap()), "{text}");
        }
        for text in [
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            id[1..].to_owned(),
            format!("{id}0"),
            id.replacen('-', "", 1),
            id.replace('a', "g"),
            "6a0c1d528-a4e-4f0e-9a57-1f6f0f3c2b11".to_owned(),
        ] {
            assert_eq!(uuid_text(&text), None, "{text}");
        }
    }

    #[test]
    fn times_in_the_contracts_form_only() {
        for text in [
            "2026-11-23T19:59:58Z",
            "2026-11-23T19:59:58.5+02:00",
            "2026-11-23T10:59:58.123456789123-09:30",
            "2024-02-29T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "0000-01-01T00:00:00+23:59",
        ] {
            assert!(rfc3339_time(text).is_some(), "{text}");
        }
        assert_eq!(
            rfc3339_time("2026-11-23T21:59:58+02:00"),
            Some("2026-11-23T19:59:58Z".parse().unwrap())
        );
        for text in [
            "2026-11-23",
            "2026-11-23T19:59:58",
            "2026-11-23T19:59:58.Z",
            "2026-11-23T19:59:58+0200",
            "2026-11-23t19:59:58z",
            "2026-11-23 19:59:58Z",
            "2026-11-23T19:59:58Z ",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T23:59:61Z",
            "2026-11-23T23:59:59+24:00",
            "2026-11-23T23:59:59+23:60",
            "２026-11-23T19:59:58Z",
        ] {
            assert_eq!(rfc3339_time(text), None, "{text}");
        }
    }

    #[test]
    fn schema_versions_are_whole_numbers_as_iot_sql_reads_them() {
        for (value, expected) in [
            (json!(1), Some(1)),
            (json!(4294967295_u64), Some(u32::MAX)),
            (json!(2.0), Some(2)),
            (json!(0), None),
            (json!(-1), None),
            (json!(1.5), None),
            (json!(4294967296_u64), None),
            (json!("1"), None),
            (json!(true), None),
        ] {
            assert_eq!(schema_version(&value), expected, "{value}");
        }
    }
}
