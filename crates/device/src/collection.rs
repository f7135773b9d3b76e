//! Event collections: several events of one device travelling in one MQTT message, when the
//! caller's [`CollectionPolicy`] allows their events to wait. The contract is in the crate docs.
//!
//! Pure logic: which members travel together, and their encoding within IoT Core's message size.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use postoffice::catalog::{Catalog, MAX_COLLECTION_MEMBERS};
use postoffice::topic;
use uuid::Uuid;

use crate::error::DeviceError;
use crate::event::MAX_MESSAGE_BYTES;
use crate::outbox::Entry;

/// The event name of collection messages: `EVENT_COLLECTION/{household}/{device}`.
pub use postoffice::catalog::COLLECTION_EVENT;

const PREFIX: &str = "{\"collection_id\":\"";
const AFTER_ID: &str = "\",\"events\":[";
const SUFFIX: &str = "]}";
/// Bytes of a collection around its members: the envelope object and a hyphenated UUID.
const OVERHEAD: usize = PREFIX.len() + 36 + AFTER_ID.len() + SUFFIX.len();

/// Which events may wait to travel together, and for how long; an event without a maximum wait
/// is sent alone at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionPolicy {
    max_waits: HashMap<String, Duration>,
    max_events: usize,
    max_bytes: usize,
    each_alone: bool,
}

impl Default for CollectionPolicy {
    fn default() -> Self {
        Self {
            max_waits: HashMap::new(),
            max_events: MAX_COLLECTION_MEMBERS,
            max_bytes: MAX_MESSAGE_BYTES,
            each_alone: false,
        }
    }
}

impl CollectionPolicy {
    /// No event collected.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the event catalog allows: every event with a `collection` may wait its
    /// `max_wait_s`, and no other is collected (the platform rejects members of other events).
    pub fn from_catalog(catalog: &Catalog) -> Self {
        let mut policy = Self::new();
        for event in catalog.collectable_events() {
            if let Some(collection) = event.collection {
                policy
                    .max_waits
                    .insert(event.name.clone(), collection.max_wait());
            }
        }
        policy
    }

    /// `event` may wait up to `max_wait` for others to travel with.
    pub fn collect(mut self, event: &str, max_wait: Duration) -> Result<Self, DeviceError> {
        topic::validate_event_name(event).map_err(DeviceError::EventName)?;
        self.max_waits.insert(event.to_owned(), max_wait);
        Ok(self)
    }

    /// At most `max_events` events per collection (at least one; by default and at most the
    /// platform's [`MAX_COLLECTION_MEMBERS`]: a larger collection is rejected whole).
    pub fn max_events(mut self, max_events: usize) -> Self {
        self.max_events = max_events.clamp(1, MAX_COLLECTION_MEMBERS);
        self
    }

    /// At most `max_bytes` per collection message, never more than IoT Core's 128 KB; a smaller
    /// bound, such as 5 KB, keeps each collection one metered message.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes.clamp(OVERHEAD + 2, MAX_MESSAGE_BYTES);
        self
    }

    /// The events still wait (up to their maximum wait, or until a connection the device has
    /// anyway), but each leaves in its own message on its own topic: an idle-disconnecting
    /// device then connects for what may not wait and its polls, not for every reading, without
    /// the platform having to unpack collections.
    pub fn each_alone(mut self) -> Self {
        self.each_alone = true;
        self
    }

    /// Whether waiting events leave one per message rather than collected.
    pub fn is_each_alone(&self) -> bool {
        self.each_alone
    }

    /// How long `event` may wait, when it may be collected at all.
    pub fn max_wait(&self, event: &str) -> Option<Duration> {
        self.max_waits.get(event).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.max_waits.is_empty()
    }

    /// Whether `entry` fits in a collection at all; one that does not travels alone.
    pub(crate) fn fits(&self, entry: &Entry) -> bool {
        OVERHEAD + member_len(entry) <= self.max_bytes
    }
}

/// A collection ready to be published: its payload and the outbox entries it carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Collection {
    pub id: Uuid,
    pub payload: Vec<u8>,
    pub members: Vec<Entry>,
}

struct Member {
    entry: Entry,
    due: Instant,
}

/// The events waiting to be collected, in outbox order.
#[derive(Default)]
pub(crate) struct Collector {
    members: BTreeMap<u64, Member>,
    member_bytes: usize,
}

impl Collector {
    pub fn add(&mut self, entry: Entry, due: Instant) {
        self.member_bytes += member_len(&entry);
        self.members.insert(entry.seq, Member { entry, due });
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// When the oldest member has waited its maximum wait.
    pub fn next_due(&self) -> Option<Instant> {
        self.members.values().map(|member| member.due).min()
    }

    /// Whether a collection should leave now: a member has waited enough, or a full collection
    /// can be formed.
    pub fn ready(&self, policy: &CollectionPolicy, now: Instant) -> bool {
        let due = self.next_due().is_some_and(|due| due <= now);
        if policy.each_alone {
            return due;
        }
        let one_collection = OVERHEAD + self.member_bytes + self.members.len().saturating_sub(1);
        due || self.members.len() >= policy.max_events || one_collection > policy.max_bytes
    }

    /// Every waiting member, in outbox order (they leave each alone).
    pub fn drain(&mut self) -> Vec<Entry> {
        self.member_bytes = 0;
        std::mem::take(&mut self.members)
            .into_values()
            .map(|member| member.entry)
            .collect()
    }

    /// The collections to send now. `flush` (the device is about to disconnect, or disconnects
    /// when idle) sends every member; otherwise every member goes once one is due, and only full
    /// collections go before.
    pub fn take(
        &mut self,
        policy: &CollectionPolicy,
        now: Instant,
        flush: bool,
    ) -> Vec<Collection> {
        if self.members.is_empty() {
            return Vec::new();
        }
        let everything = flush || self.next_due().is_some_and(|due| due <= now);
        let mut batches: Vec<Vec<u64>> = vec![Vec::new()];
        let mut size = OVERHEAD;
        for (seq, member) in &self.members {
            let len = member_len(&member.entry);
            let batch = batches.last_mut().expect("one batch at least");
            let grown = size + len + usize::from(!batch.is_empty());
            if !batch.is_empty() && (grown > policy.max_bytes || batch.len() >= policy.max_events) {
                batches.push(vec![*seq]);
                size = OVERHEAD + len;
            } else {
                batch.push(*seq);
                size = grown;
            }
        }
        if !everything {
            let last_full = batches
                .last()
                .is_some_and(|batch| batch.len() >= policy.max_events);
            if !last_full {
                batches.pop();
            }
        }
        batches
            .into_iter()
            .filter(|batch| !batch.is_empty())
            .map(|batch| {
                let members: Vec<Entry> = batch
                    .iter()
                    .map(|seq| {
                        let member = self.members.remove(seq).expect("a batched member");
                        self.member_bytes -= member_len(&member.entry);
                        member.entry
                    })
                    .collect();
                encode(Uuid::new_v4(), members)
            })
            .collect()
    }
}

/// A member: `{"event": NAME, ...the device message's fields}`.
fn member_len(entry: &Entry) -> usize {
    // `{"event":"` + NAME + `",` replaces the message's opening brace.
    entry.message.len() - 1 + "{\"event\":\"".len() + entry.event.len() + "\",".len()
}

fn encode(id: Uuid, members: Vec<Entry>) -> Collection {
    let size =
        OVERHEAD + members.iter().map(member_len).sum::<usize>() + members.len().saturating_sub(1);
    let mut payload = Vec::with_capacity(size);
    payload.extend_from_slice(PREFIX.as_bytes());
    payload.extend_from_slice(id.hyphenated().to_string().as_bytes());
    payload.extend_from_slice(AFTER_ID.as_bytes());
    for (index, member) in members.iter().enumerate() {
        if index > 0 {
            payload.push(b',');
        }
        // Event names are upper snake case: nothing to escape.
        payload.extend_from_slice(b"{\"event\":\"");
        payload.extend_from_slice(member.event.as_bytes());
        payload.extend_from_slice(b"\",");
        payload.extend_from_slice(&member.message[1..]);
    }
    payload.extend_from_slice(SUFFIX.as_bytes());
    debug_assert_eq!(payload.len(), size);
    Collection {
        id,
        payload,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use chrono::Utc;
    use postoffice::envelope::DeviceMessage;
    use serde_json::{Value, json};

    fn entry(seq: u64, event: &str, payload: Value) -> Entry {
        let event_id = Uuid::new_v4();
        let message = DeviceMessage {
            event_id: Some(event_id),
            occurred_at: Some(Utc::now()),
            correlation_id: None,
            causation_id: Some(Uuid::new_v4()),
            schema_version: Some(2),
            payload,
        };
        Entry {
            seq,
            event: event.to_owned(),
            event_id,
            alone: false,
            enqueued_at: Utc::now(),
            message: Bytes::from(serde_json::to_vec(&message).unwrap()),
        }
    }

    fn telemetry(seq: u64) -> Entry {
        entry(
            seq,
            "DEVICE_TELEMETRY_REPORTED",
            json!({"temperature_c": seq}),
        )
    }

    #[test]
    fn a_collection_is_the_contract_json_with_each_member_a_device_message() {
        let mut collector = Collector::default();
        let now = Instant::now();
        let members = [
            telemetry(1),
            entry(2, "COOKING_FINISHED", json!({"ok": "ü\"\\"})),
        ];
        for member in &members {
            collector.add(member.clone(), now);
        }
        let policy = CollectionPolicy::new();
        let collections = collector.take(&policy, now, false);
        assert_eq!(collections.len(), 1);
        let collection = &collections[0];
        let json: Value = serde_json::from_slice(&collection.payload).unwrap();
        assert_eq!(json["collection_id"], json!(collection.id.to_string()));
        let events = json["events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        for (member, original) in events.iter().zip(&members) {
            assert_eq!(member["event"], json!(original.event));
            let mut message = member.clone();
            message.as_object_mut().unwrap().remove("event");
            let message: DeviceMessage = serde_json::from_value(message).unwrap();
            let expected: DeviceMessage = serde_json::from_slice(&original.message).unwrap();
            assert_eq!(message, expected);
            assert_eq!(message.event_id, Some(original.event_id));
        }
        assert_eq!(collection.members, members.to_vec());
        assert!(collector.is_empty());
    }

    #[test]
    fn members_wait_until_the_oldest_has_waited_its_max() {
        let policy = CollectionPolicy::new();
        let start = Instant::now();
        let mut collector = Collector::default();
        collector.add(telemetry(1), start + Duration::from_secs(10));
        collector.add(telemetry(2), start + Duration::from_secs(3));
        assert_eq!(collector.next_due(), Some(start + Duration::from_secs(3)));
        assert!(!collector.ready(&policy, start + Duration::from_secs(2)));
        assert!(
            collector
                .take(&policy, start + Duration::from_secs(2), false)
                .is_empty()
        );
        assert!(collector.ready(&policy, start + Duration::from_secs(3)));
        let collections = collector.take(&policy, start + Duration::from_secs(3), false);
        assert_eq!(collections.len(), 1);
        assert_eq!(
            collections[0].members.len(),
            2,
            "every member travels once one is due"
        );
    }

    #[test]
    fn full_collections_leave_at_once_and_the_rest_keeps_waiting() {
        let policy = CollectionPolicy::new().max_events(2);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut collector = Collector::default();
        for seq in 1..=5 {
            collector.add(telemetry(seq), later);
        }
        assert!(collector.ready(&policy, now));
        let collections = collector.take(&policy, now, false);
        let sizes: Vec<usize> = collections.iter().map(|c| c.members.len()).collect();
        assert_eq!(sizes, vec![2, 2]);
        assert_eq!(collector.len(), 1);
        assert!(!collector.ready(&policy, now));
        let flushed = collector.take(&policy, now, true);
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].members[0].seq, 5);
    }

    #[test]
    fn collections_split_to_stay_within_the_message_limit() {
        let policy = CollectionPolicy::new();
        let now = Instant::now();
        let mut collector = Collector::default();
        let blob = "x".repeat(30_000);
        let entries: Vec<Entry> = (1..=9)
            .map(|seq| entry(seq, "DEVICE_TELEMETRY_REPORTED", json!({ "blob": blob })))
            .collect();
        for entry in &entries {
            collector.add(entry.clone(), now);
        }
        let collections = collector.take(&policy, now, true);
        assert_eq!(
            collections.len(),
            3,
            "four 30 KB members fit in 128 KB, five do not"
        );
        let mut carried = Vec::new();
        for collection in &collections {
            assert!(collection.payload.len() <= MAX_MESSAGE_BYTES);
            let json: Value = serde_json::from_slice(&collection.payload).unwrap();
            for member in json["events"].as_array().unwrap() {
                carried.push(member["event_id"].as_str().unwrap().to_owned());
            }
        }
        let expected: Vec<String> = entries.iter().map(|e| e.event_id.to_string()).collect();
        assert_eq!(carried, expected);
    }

    #[test]
    fn the_size_bound_is_exact() {
        let now = Instant::now();
        let (first, second) = (telemetry(1), telemetry(2));
        let both = OVERHEAD + member_len(&first) + member_len(&second) + 1;
        for (max_bytes, expected) in [(both, 1), (both - 1, 2)] {
            let policy = CollectionPolicy::new().max_bytes(max_bytes);
            let mut collector = Collector::default();
            collector.add(first.clone(), now);
            collector.add(second.clone(), now);
            let collections = collector.take(&policy, now, true);
            assert_eq!(collections.len(), expected, "max {max_bytes}");
            for collection in collections {
                assert!(collection.payload.len() <= max_bytes);
            }
        }
    }

    #[test]
    fn a_member_too_large_for_any_collection_travels_alone() {
        let policy = CollectionPolicy::new();
        let base = entry(1, "DEVICE_TELEMETRY_REPORTED", json!({ "blob": "" }));
        let blob = "x".repeat(MAX_MESSAGE_BYTES - 50 - base.message.len());
        let huge = entry(1, "DEVICE_TELEMETRY_REPORTED", json!({ "blob": blob }));
        assert_eq!(huge.message.len(), MAX_MESSAGE_BYTES - 50);
        assert!(!policy.fits(&huge));
        assert!(policy.fits(&telemetry(2)));
    }

    #[test]
    fn the_catalog_says_which_events_wait_and_how_long() {
        let policy = CollectionPolicy::from_catalog(Catalog::embedded());
        assert_eq!(
            policy.max_wait("DEVICE_TELEMETRY_REPORTED"),
            Some(Duration::from_secs(3600))
        );
        for event in ["COOKING_FINISHED", "COOKING_REQUESTED", COLLECTION_EVENT] {
            assert_eq!(policy.max_wait(event), None, "{event}");
        }
        assert_eq!(policy.max_events, MAX_COLLECTION_MEMBERS);
    }

    #[test]
    fn collections_stay_within_the_platforms_member_limit() {
        let policy = CollectionPolicy::new().max_events(MAX_COLLECTION_MEMBERS + 50);
        assert_eq!(policy.max_events, MAX_COLLECTION_MEMBERS);
        let now = Instant::now();
        let mut collector = Collector::default();
        for seq in 0..(MAX_COLLECTION_MEMBERS as u64 + 1) {
            collector.add(telemetry(seq), now);
        }
        let sizes: Vec<usize> = collector
            .take(&policy, now, true)
            .iter()
            .map(|c| c.members.len())
            .collect();
        assert_eq!(sizes, [MAX_COLLECTION_MEMBERS, 1]);
    }

    #[test]
    fn a_policy_names_events() {
        let policy = CollectionPolicy::new()
            .collect("DEVICE_TELEMETRY_REPORTED", Duration::from_secs(30))
            .unwrap();
        assert_eq!(
            policy.max_wait("DEVICE_TELEMETRY_REPORTED"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(policy.max_wait("COOKING_FINISHED"), None);
        assert!(
            CollectionPolicy::new()
                .collect("telemetry", Duration::ZERO)
                .is_err()
        );
    }
}
