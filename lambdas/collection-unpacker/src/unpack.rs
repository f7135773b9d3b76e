//! A collection in, the envelopes to publish and the members to reject out. Pure: no I/O, the
//! same answer for the same collection every time, which is what makes a retry publish the same
//! envelopes.

use postoffice::catalog::Catalog;
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::topic::Topic;
use serde_json::Value;
use uuid::Uuid;

use crate::member::{self, Part};

/// What a collection comes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Unpacked {
    /// One per publishable member, in the collection's order.
    pub envelopes: Vec<Envelope>,
    /// One per other member, in the collection's order.
    pub rejected: Vec<RejectedMember>,
}

/// A member that is not published, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedMember {
    /// Its place in the collection, from 0.
    pub index: usize,
    pub unreadable: Vec<Part>,
    pub detail: String,
    /// The member as it was in the collection.
    pub member: Value,
}

/// Unpacks `members` of the collection `collection` (an EVENT_COLLECTION envelope). Each
/// publishable member becomes the envelope the event rule would have built had the device
/// published it alone on `{EVENT}/{household}/{device}` (`Envelope::from_device_message`):
/// household, device and source are the collection's (from its topic and MQTT client id, never
/// from the member), `received_at` is the collection's, and the member gives the rest. A member
/// without an event id gets one derived from the collection's event id and its place, so that
/// unpacking the same collection again gives the same ids.
pub fn unpack(collection: &Envelope, members: &[Value], catalog: &Catalog) -> Unpacked {
    let received_at = collection.received_at.unwrap_or(collection.occurred_at);
    let mut unpacked = Unpacked {
        envelopes: Vec::with_capacity(members.len()),
        rejected: Vec::new(),
    };
    for (index, value) in members.iter().enumerate() {
        let reject = |unreadable: Vec<Part>, detail: String| RejectedMember {
            index,
            unreadable,
            detail,
            member: value.clone(),
        };
        let member = match member::read(value, catalog) {
            Ok(member) => member,
            Err(error) => {
                unpacked.rejected.push(reject(error.parts, error.detail));
                continue;
            }
        };
        let topic = match Topic::new(
            &member.event,
            &collection.household_id,
            &collection.device_id,
        ) {
            Ok(topic) => topic,
            // The collection's envelope was checked; only a mistaken caller gets here.
            Err(error) => {
                unpacked
                    .rejected
                    .push(reject(vec![Part::Event], format!("event: {error}")));
                continue;
            }
        };
        let message = DeviceMessage {
            event_id: Some(
                member
                    .message
                    .event_id
                    .unwrap_or_else(|| member_event_id(collection.event_id, index)),
            ),
            ..member.message
        };
        let envelope =
            Envelope::from_device_message(&topic, &collection.source, received_at, message);
        if let Some(first) = unpacked
            .envelopes
            .iter()
            .position(|published| published.event_id == envelope.event_id)
        {
            // Consumers remember handled events by id: a second event with the same id would be
            // skipped as a duplicate by every consumer of both.
            unpacked.rejected.push(reject(
                vec![Part::DuplicateEventId],
                format!(
                    "duplicate_event_id: {} is the event id of an earlier member ({} published)",
                    envelope.event_id, unpacked.envelopes[first].event
                ),
            ));
            continue;
        }
        unpacked.envelopes.push(envelope);
    }
    unpacked
}

/// The event id of the member at `index` that brought none: a name-based (v5) UUID in the
/// collection's event id.
pub fn member_event_id(collection_event_id: Uuid, index: usize) -> Uuid {
    Uuid::new_v5(&collection_event_id, format!("member/{index}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn collection(events: Value) -> Envelope {
        let received_at = Utc.timestamp_millis_opt(1_795_464_000_012).unwrap();
        let topic = Topic::parse("EVENT_COLLECTION/h-1/oven-1").unwrap();
        let message = DeviceMessage {
            event_id: Some("2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d".parse().unwrap()),
            occurred_at: None,
            correlation_id: None,
            causation_id: None,
            schema_version: None,
            payload: json!({ "events": events }),
        };
        Envelope::from_device_message(&topic, "oven-1", received_at, message)
    }

    fn members(collection: &Envelope) -> Vec<Value> {
        collection.payload["events"].as_array().unwrap().clone()
    }

    fn telemetry(id: &str, power_w: u32) -> Value {
        json!({
            "event": "DEVICE_TELEMETRY_REPORTED",
            "event_id": id,
            "payload": {"sampled_at": "2026-11-23T18:10:00Z", "cavity_temperature_c": 228.4,
                        "power_w": power_w, "door_open": false}
        })
    }

    const ID_1: &str = "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11";
    const ID_2: &str = "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn each_member_becomes_the_envelope_of_its_event_as_if_published_alone() {
        let mut second = telemetry(ID_2, 2080);
        second["occurred_at"] = json!("2026-11-23T18:15:00.250Z");
        second["correlation_id"] = json!(ID_1);
        second["causation_id"] = json!("9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d");
        second["schema_version"] = json!(1);
        // Identity in a member is ignored, as in a device message.
        second["household_id"] = json!("h-2");
        second["device_id"] = json!("someone-else");
        let collection = collection(json!([telemetry(ID_1, 2150), second.clone()]));
        let unpacked = unpack(&collection, &members(&collection), Catalog::embedded());
        assert!(unpacked.rejected.is_empty(), "{:?}", unpacked.rejected);
        let topic = Topic::parse("DEVICE_TELEMETRY_REPORTED/h-1/oven-1").unwrap();
        let expected: Vec<Envelope> = [telemetry(ID_1, 2150), second]
            .into_iter()
            .map(|member| {
                Envelope::from_device_message(
                    &topic,
                    "oven-1",
                    collection.received_at.unwrap(),
                    serde_json::from_value(member).unwrap(),
                )
            })
            .collect();
        assert_eq!(unpacked.envelopes, expected);
        let first = &unpacked.envelopes[0];
        assert_eq!(first.event_id, ID_1.parse::<Uuid>().unwrap());
        assert_eq!(first.correlation_id, first.event_id);
        assert_eq!(first.occurred_at, collection.received_at.unwrap());
        assert_eq!(unpacked.envelopes[1].household_id, "h-1");
    }

    #[test]
    fn bad_members_are_rejected_and_the_others_published() {
        let bad_schema = telemetry(ID_2, 9_000_000);
        let collection = collection(json!([
            "not a member",
            telemetry(ID_1, 2150),
            bad_schema,
            {"event": "COOKING_FINISHED", "payload": {"outcome": "completed",
             "finished_at": "2026-11-23T18:52:10Z", "cooked_s": 2700}},
            telemetry(ID_2, 2000),
        ]));
        let unpacked = unpack(&collection, &members(&collection), Catalog::embedded());
        let published: Vec<String> = unpacked
            .envelopes
            .iter()
            .map(|e| e.event_id.to_string())
            .collect();
        assert_eq!(published, [ID_1, ID_2]);
        let rejected: Vec<(usize, Vec<Part>)> = unpacked
            .rejected
            .iter()
            .map(|r| (r.index, r.unreadable.clone()))
            .collect();
        assert_eq!(
            rejected,
            [
                (0, vec![Part::Event, Part::Payload]),
                (2, vec![Part::PayloadSchema]),
                (3, vec![Part::Event]),
            ]
        );
        assert_eq!(unpacked.rejected[0].member, json!("not a member"));
    }

    #[test]
    fn a_second_member_with_a_published_event_id_is_a_duplicate() {
        let first = collection(json!([
            telemetry(ID_1, 1),
            telemetry(ID_1, 2),
            telemetry(&ID_1.to_uppercase(), 3),
        ]));
        let unpacked = unpack(&first, &members(&first), Catalog::embedded());
        assert_eq!(unpacked.envelopes.len(), 1);
        assert_eq!(unpacked.envelopes[0].payload["power_w"], json!(1));
        assert_eq!(unpacked.rejected.len(), 2);
        for rejected in &unpacked.rejected {
            assert_eq!(rejected.unreadable, [Part::DuplicateEventId]);
            assert!(rejected.detail.contains(ID_1), "{}", rejected.detail);
        }
        // A rejected member's id does not make a later good one a duplicate.
        let later = collection(json!([telemetry(ID_1, 9_000_000), telemetry(ID_1, 2)]));
        let unpacked = unpack(&later, &members(&later), Catalog::embedded());
        assert_eq!(unpacked.envelopes.len(), 1);
        assert_eq!(unpacked.rejected[0].unreadable, [Part::PayloadSchema]);
    }

    #[test]
    fn members_without_an_event_id_get_the_same_one_each_time() {
        let mut member = telemetry(ID_1, 1);
        member.as_object_mut().unwrap().remove("event_id");
        let collection = collection(json!([member.clone(), member]));
        let first = unpack(&collection, &members(&collection), Catalog::embedded());
        let again = unpack(&collection, &members(&collection), Catalog::embedded());
        assert_eq!(first, again);
        let ids: Vec<Uuid> = first.envelopes.iter().map(|e| e.event_id).collect();
        assert_eq!(
            ids,
            [
                member_event_id(collection.event_id, 0),
                member_event_id(collection.event_id, 1)
            ]
        );
        assert_ne!(ids[0], ids[1]);
        assert_eq!(first.envelopes[0].correlation_id, ids[0]);
    }
}
