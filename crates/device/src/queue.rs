//! What the device sends next: outbox entries waiting to travel, alone or collected. Pure logic;
//! the connection takes messages from here and gives back what it could not deliver.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::collection::{COLLECTION_EVENT, Collection, CollectionPolicy, Collector};
use crate::outbox::Entry;

/// One MQTT message to publish.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outgoing {
    Single(Entry),
    Collection(Collection),
}

impl Outgoing {
    /// The event level of its topic.
    pub fn event(&self) -> &str {
        match self {
            Outgoing::Single(entry) => &entry.event,
            Outgoing::Collection(_) => COLLECTION_EVENT,
        }
    }

    pub fn payload(&self) -> bytes::Bytes {
        match self {
            Outgoing::Single(entry) => entry.message.clone(),
            Outgoing::Collection(collection) => bytes::Bytes::from(collection.payload.clone()),
        }
    }

    #[cfg(test)]
    pub fn entries(&self) -> &[Entry] {
        match self {
            Outgoing::Single(entry) => std::slice::from_ref(entry),
            Outgoing::Collection(collection) => &collection.members,
        }
    }

    pub fn into_entries(self) -> Vec<Entry> {
        match self {
            Outgoing::Single(entry) => vec![entry],
            Outgoing::Collection(collection) => collection.members,
        }
    }
}

/// Entries not yet handed to the connection.
pub(crate) struct Queue {
    policy: CollectionPolicy,
    singles: BTreeMap<u64, Entry>,
    collector: Collector,
}

impl Queue {
    pub fn new(policy: CollectionPolicy) -> Self {
        Self {
            policy,
            singles: BTreeMap::new(),
            collector: Collector::default(),
        }
    }

    /// A newly accepted (or reloaded) entry. A collected entry is due its event's maximum wait
    /// after it was accepted, measured on the wall clock so a restart does not extend it.
    pub fn push(&mut self, entry: Entry, now: Instant, wall_now: DateTime<Utc>) {
        match self.policy.max_wait(&entry.event) {
            Some(max_wait) if !entry.alone && self.policy.fits(&entry) => {
                let waited = (wall_now - entry.enqueued_at)
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                let due = now + max_wait.saturating_sub(waited);
                self.collector.add(entry, due);
            }
            _ => {
                self.singles.insert(entry.seq, entry);
            }
        }
    }

    /// Entries whose message was not acknowledged (the connection was lost): they have waited
    /// already, so they leave as soon as there is a connection.
    pub fn retry(&mut self, entries: Vec<Entry>, now: Instant) {
        for entry in entries {
            if self.policy.max_wait(&entry.event).is_some()
                && !entry.alone
                && self.policy.fits(&entry)
            {
                self.collector.add(entry, now);
            } else {
                self.singles.insert(entry.seq, entry);
            }
        }
    }

    /// Members of a collection the broker refused: each travels alone and gets its own verdict.
    pub fn send_alone(&mut self, entries: Vec<Entry>) {
        for mut entry in entries {
            entry.alone = true;
            self.singles.insert(entry.seq, entry);
        }
    }

    /// Whether something should be sent now (and so a connection is worth opening).
    pub fn has_work(&self, now: Instant) -> bool {
        !self.singles.is_empty() || self.collector.ready(&self.policy, now)
    }

    /// When collected entries fall due, if any wait.
    pub fn next_due(&self) -> Option<Instant> {
        self.collector.next_due()
    }

    pub fn is_empty(&self) -> bool {
        self.singles.is_empty() && self.collector.is_empty()
    }

    /// Entries waiting in a collection, and nothing else.
    pub fn only_collecting(&self) -> bool {
        self.singles.is_empty() && !self.collector.is_empty()
    }

    /// Up to `limit` messages to send now, single events in outbox order, then collections.
    /// `flush` sends every waiting collection member (the device is about to disconnect, or
    /// disconnects when idle).
    pub fn take(&mut self, now: Instant, limit: usize, flush: bool) -> Vec<Outgoing> {
        let mut messages = Vec::new();
        while messages.len() < limit {
            let Some((_, entry)) = self.singles.pop_first() else {
                break;
            };
            messages.push(Outgoing::Single(entry));
        }
        if messages.len() < limit
            && self.policy.is_each_alone()
            && (flush || self.collector.ready(&self.policy, now))
        {
            let mut waited = self.collector.drain();
            let room = limit - messages.len();
            let unsent = waited.split_off(room.min(waited.len()));
            self.retry(unsent, now);
            messages.extend(waited.into_iter().map(Outgoing::Single));
        } else if messages.len() < limit && (flush || self.collector.ready(&self.policy, now)) {
            let mut collections = self.collector.take(&self.policy, now, flush);
            let room = limit - messages.len();
            for unsent in collections.split_off(room.min(collections.len())) {
                self.retry(unsent.members, now);
            }
            messages.extend(collections.into_iter().map(Outgoing::Collection));
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use postoffice::envelope::DeviceMessage;
    use serde_json::json;
    use uuid::Uuid;

    fn entry(seq: u64, event: &str, enqueued_at: DateTime<Utc>) -> Entry {
        let event_id = Uuid::new_v4();
        let message = DeviceMessage {
            event_id: Some(event_id),
            occurred_at: None,
            correlation_id: None,
            causation_id: None,
            schema_version: None,
            payload: json!({"seq": seq}),
        };
        Entry {
            seq,
            event: event.to_owned(),
            event_id,
            alone: false,
            enqueued_at,
            message: Bytes::from(serde_json::to_vec(&message).unwrap()),
        }
    }

    fn policy() -> CollectionPolicy {
        CollectionPolicy::new()
            .collect("DEVICE_TELEMETRY_REPORTED", Duration::from_secs(60))
            .unwrap()
    }

    #[test]
    fn events_without_a_policy_leave_at_once_collected_ones_wait() {
        let mut queue = Queue::new(policy());
        let (now, wall) = (Instant::now(), Utc::now());
        queue.push(entry(1, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        assert!(!queue.has_work(now));
        assert!(queue.only_collecting());
        queue.push(entry(2, "COOKING_FINISHED", wall), now, wall);
        assert!(queue.has_work(now));
        let sent = queue.take(now, 10, false);
        assert_eq!(sent.len(), 1);
        assert!(matches!(&sent[0], Outgoing::Single(e) if e.event == "COOKING_FINISHED"));
        assert_eq!(queue.next_due(), Some(now + Duration::from_secs(60)));

        let due = now + Duration::from_secs(60);
        assert!(queue.has_work(due));
        let sent = queue.take(due, 10, false);
        assert!(matches!(&sent[..], [Outgoing::Collection(c)] if c.members.len() == 1));
        assert_eq!(sent[0].event(), COLLECTION_EVENT);
        assert!(queue.is_empty());
    }

    #[test]
    fn waiting_events_leave_each_alone_when_the_policy_says_so() {
        let mut queue = Queue::new(policy().each_alone());
        let (now, wall) = (Instant::now(), Utc::now());
        for seq in 1..=150 {
            queue.push(entry(seq, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        }
        // More than a collection holds, and still no reason to connect before one is due.
        assert!(!queue.has_work(now));
        assert!(queue.only_collecting());

        let due = now + Duration::from_secs(60);
        assert!(queue.has_work(due));
        let sent = queue.take(due, 100, false);
        assert_eq!(sent.len(), 100);
        assert!(
            sent.iter()
                .all(|message| matches!(message, Outgoing::Single(e)
            if e.event == "DEVICE_TELEMETRY_REPORTED"))
        );
        let seqs: Vec<u64> = sent.iter().map(|m| m.entries()[0].seq).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
        // What did not fit goes at the next chance, in order.
        let rest = queue.take(due, 100, false);
        assert_eq!(rest.len(), 50);
        assert_eq!(rest[0].entries()[0].seq, 101);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_device_about_to_disconnect_sends_its_waiting_events_each_alone() {
        let mut queue = Queue::new(policy().each_alone());
        let (now, wall) = (Instant::now(), Utc::now());
        queue.push(entry(1, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        queue.push(entry(2, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        assert!(queue.take(now, 10, false).is_empty());
        let sent = queue.take(now, 10, true);
        assert!(
            matches!(&sent[..], [Outgoing::Single(a), Outgoing::Single(b)]
            if a.seq == 1 && b.seq == 2)
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn a_request_travels_alone_whatever_the_policy() {
        let mut queue = Queue::new(policy());
        let (now, wall) = (Instant::now(), Utc::now());
        let mut request = entry(1, "DEVICE_TELEMETRY_REPORTED", wall);
        request.alone = true;
        queue.push(request, now, wall);
        assert!(matches!(
            &queue.take(now, 10, false)[..],
            [Outgoing::Single(_)]
        ));
    }

    #[test]
    fn time_waited_before_a_restart_counts() {
        let mut queue = Queue::new(policy());
        let (now, wall) = (Instant::now(), Utc::now());
        let accepted_earlier = wall - chrono::Duration::seconds(45);
        queue.push(
            entry(1, "DEVICE_TELEMETRY_REPORTED", accepted_earlier),
            now,
            wall,
        );
        assert_eq!(queue.next_due(), Some(now + Duration::from_secs(15)));
        let long_ago = wall - chrono::Duration::hours(2);
        queue.push(entry(2, "DEVICE_TELEMETRY_REPORTED", long_ago), now, wall);
        assert!(queue.has_work(now));
    }

    #[test]
    fn the_limit_holds_back_the_rest_in_order() {
        let mut queue = Queue::new(policy());
        let (now, wall) = (Instant::now(), Utc::now());
        for seq in [3, 1, 2] {
            queue.push(entry(seq, "COOKING_FINISHED", wall), now, wall);
        }
        let first: Vec<u64> = queue
            .take(now, 2, false)
            .iter()
            .map(|m| m.entries()[0].seq)
            .collect();
        assert_eq!(first, vec![1, 2]);
        let rest: Vec<u64> = queue
            .take(now, 2, false)
            .iter()
            .map(|m| m.entries()[0].seq)
            .collect();
        assert_eq!(rest, vec![3]);
    }

    #[test]
    fn unacknowledged_entries_go_again_at_once_and_keep_their_ids() {
        let mut queue = Queue::new(policy());
        let (now, wall) = (Instant::now(), Utc::now());
        queue.push(entry(1, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        queue.push(entry(2, "COOKING_FINISHED", wall), now, wall);
        let sent = queue.take(now, 10, true);
        let ids: Vec<Uuid> = sent
            .iter()
            .flat_map(|m| m.entries().iter().map(|e| e.event_id))
            .collect();
        assert_eq!(sent.len(), 2);
        assert!(queue.is_empty());

        let entries: Vec<Entry> = sent.into_iter().flat_map(Outgoing::into_entries).collect();
        queue.retry(entries, now);
        assert!(queue.has_work(now));
        let again: Vec<Uuid> = queue
            .take(now, 10, false)
            .iter()
            .flat_map(|m| m.entries().iter().map(|e| e.event_id))
            .collect();
        let (mut ids, mut again) = (ids, again);
        ids.sort();
        again.sort();
        assert_eq!(ids, again);
    }

    #[test]
    fn members_of_a_refused_collection_travel_alone() {
        let mut queue = Queue::new(policy());
        let (now, wall) = (Instant::now(), Utc::now());
        queue.push(entry(1, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        queue.push(entry(2, "DEVICE_TELEMETRY_REPORTED", wall), now, wall);
        let sent = queue.take(now, 10, true);
        let members = sent.into_iter().flat_map(Outgoing::into_entries).collect();
        queue.send_alone(members);
        let alone = queue.take(now, 10, false);
        assert_eq!(alone.len(), 2);
        assert!(
            alone
                .iter()
                .all(|m| matches!(m, Outgoing::Single(e) if e.alone))
        );
    }
}
