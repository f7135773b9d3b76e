//! The persistent outbox: every event the device has accepted and the broker has not yet
//! acknowledged, one file each, so nothing is lost across disconnects, reconnects or restarts.
//!
//! Layout under the outbox directory:
//! - `pending/NNNNNNNNNNNNNNNNNNNN.json`: an event waiting for its PUBACK (`N` = sequence number,
//!   the order the device accepted them);
//! - `refused/NNNNNNNNNNNNNNNNNNNN.json`: an event the broker refused, with the broker's reason,
//!   kept apart until the application takes it ([`crate::Device::take_refused`]).
//!
//! An event is written to a temporary file, fsynced, renamed into `pending/` and the directory
//! fsynced before the publish returns: a crash after that point keeps it. A removal is not fsynced:
//! a crash right after a PUBACK can only send the event once more, with the same event id.
//! One device (one process) owns an outbox directory at a time.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use postoffice::envelope::DeviceMessage;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DeviceError;
use crate::event::Event;

/// How much the outbox holds, pending and refused events together. A full outbox refuses new
/// events ([`DeviceError::OutboxFull`]) rather than dropping old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    pub max_events: usize,
    /// Sum of the events' device message sizes.
    pub max_bytes: u64,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        Self {
            max_events: 1000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// An event the broker refused (PUBACK reason other than success), as kept in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedEvent {
    pub event: String,
    pub event_id: Uuid,
    pub message: DeviceMessage,
    /// The broker's reason, e.g. `NotAuthorized`.
    pub reason: String,
}

/// An event in the outbox, in memory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub seq: u64,
    pub event: String,
    pub event_id: Uuid,
    /// Sent on its own even when the collection policy allows collecting its event (requests).
    pub alone: bool,
    pub enqueued_at: DateTime<Utc>,
    /// The device message JSON, as published.
    pub message: Bytes,
}

#[derive(Serialize, Deserialize)]
struct Record {
    seq: u64,
    event: String,
    alone: bool,
    enqueued_at: DateTime<Utc>,
    message: DeviceMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refusal: Option<String>,
}

#[derive(Debug, Default)]
struct Usage {
    next_seq: u64,
    pending: usize,
    refused: usize,
    bytes: u64,
}

#[derive(Debug)]
pub(crate) struct Outbox {
    pending_dir: PathBuf,
    refused_dir: PathBuf,
    limits: OutboxLimits,
    usage: Mutex<Usage>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DeviceError + '_ {
    move |source| DeviceError::Outbox {
        path: path.to_owned(),
        source,
    }
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.json")
}

impl Outbox {
    /// Opens (creating) the outbox in `dir`; returns it with its pending events, oldest first.
    pub fn open(dir: &Path, limits: OutboxLimits) -> Result<(Self, Vec<Entry>), DeviceError> {
        let pending_dir = dir.join("pending");
        let refused_dir = dir.join("refused");
        fs::create_dir_all(&pending_dir).map_err(io_error(&pending_dir))?;
        fs::create_dir_all(&refused_dir).map_err(io_error(&refused_dir))?;
        let mut usage = Usage::default();
        let mut entries = Vec::new();
        for (path, record) in read_records(&pending_dir)? {
            let message = Bytes::from(
                serde_json::to_vec(&record.message).expect("a device message always serialises"),
            );
            let event_id = record
                .message
                .event_id
                .ok_or_else(|| DeviceError::OutboxEntry {
                    path: path.clone(),
                    reason: "the device message has no event id".into(),
                })?;
            usage.next_seq = usage.next_seq.max(record.seq + 1);
            usage.pending += 1;
            usage.bytes += message.len() as u64;
            entries.push(Entry {
                seq: record.seq,
                event: record.event,
                event_id,
                alone: record.alone,
                enqueued_at: record.enqueued_at,
                message,
            });
        }
        for (_, record) in read_records(&refused_dir)? {
            usage.next_seq = usage.next_seq.max(record.seq + 1);
            usage.refused += 1;
            usage.bytes += serde_json::to_vec(&record.message).map_or(0, |m| m.len() as u64);
        }
        entries.sort_by_key(|entry| entry.seq);
        let outbox = Self {
            pending_dir,
            refused_dir,
            limits,
            usage: Mutex::new(usage),
        };
        Ok((outbox, entries))
    }

    /// Accepts an event: durable on disk when this returns. Blocking (file writes and fsyncs).
    pub fn add(&self, event: Event, alone: bool) -> Result<Entry, DeviceError> {
        let message = Bytes::from(event.encode()?);
        let seq = self.reserve(message.len() as u64)?;
        let (name, device_message) = event.into_parts();
        let event_id = device_message.event_id.expect("events carry their id");
        let record = Record {
            seq,
            event: name,
            alone,
            enqueued_at: Utc::now(),
            message: device_message,
            refusal: None,
        };
        if let Err(error) = write_durably(&self.pending_dir, &record) {
            self.release(1, message.len() as u64, false);
            return Err(error);
        }
        Ok(Entry {
            seq,
            event: record.event,
            event_id,
            alone,
            enqueued_at: record.enqueued_at,
            message,
        })
    }

    /// The broker acknowledged the event: it leaves the outbox.
    pub fn remove(&self, entry: &Entry) -> Result<(), DeviceError> {
        let path = self.pending_dir.join(file_name(entry.seq));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(&path)(error)),
        }
        self.release(1, entry.message.len() as u64, false);
        Ok(())
    }

    /// The broker refused the event: kept apart with the reason, still counted in the limits.
    pub fn refuse(&self, entry: &Entry, reason: &str) -> Result<(), DeviceError> {
        let message: DeviceMessage =
            serde_json::from_slice(&entry.message).expect("the outbox wrote this device message");
        let record = Record {
            seq: entry.seq,
            event: entry.event.clone(),
            alone: entry.alone,
            enqueued_at: entry.enqueued_at,
            message,
            refusal: Some(reason.to_owned()),
        };
        write_durably(&self.refused_dir, &record)?;
        let path = self.pending_dir.join(file_name(entry.seq));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(&path)(error)),
        }
        let mut usage = self.usage.lock().expect("outbox usage lock");
        usage.pending = usage.pending.saturating_sub(1);
        usage.refused += 1;
        Ok(())
    }

    /// Every refused event, oldest first, removed from the outbox.
    pub fn take_refused(&self) -> Result<Vec<RefusedEvent>, DeviceError> {
        let mut refused = Vec::new();
        for (path, record) in read_records(&self.refused_dir)? {
            let bytes = serde_json::to_vec(&record.message).map_or(0, |m| m.len() as u64);
            fs::remove_file(&path).map_err(io_error(&path))?;
            self.release(1, bytes, true);
            refused.push(RefusedEvent {
                event: record.event,
                event_id: record.message.event_id.unwrap_or_default(),
                message: record.message,
                reason: record.refusal.unwrap_or_default(),
            });
        }
        Ok(refused)
    }

    /// Events waiting for their PUBACK.
    pub fn pending(&self) -> usize {
        self.usage.lock().expect("outbox usage lock").pending
    }

    fn reserve(&self, bytes: u64) -> Result<u64, DeviceError> {
        let mut usage = self.usage.lock().expect("outbox usage lock");
        let events = usage.pending + usage.refused;
        if events + 1 > self.limits.max_events || usage.bytes + bytes > self.limits.max_bytes {
            return Err(DeviceError::OutboxFull {
                events,
                bytes: usage.bytes,
                max_events: self.limits.max_events,
                max_bytes: self.limits.max_bytes,
            });
        }
        usage.pending += 1;
        usage.bytes += bytes;
        let seq = usage.next_seq;
        usage.next_seq += 1;
        Ok(seq)
    }

    fn release(&self, events: usize, bytes: u64, refused: bool) {
        let mut usage = self.usage.lock().expect("outbox usage lock");
        if refused {
            usage.refused = usage.refused.saturating_sub(events);
        } else {
            usage.pending = usage.pending.saturating_sub(events);
        }
        usage.bytes = usage.bytes.saturating_sub(bytes);
    }
}

fn write_durably(dir: &Path, record: &Record) -> Result<(), DeviceError> {
    let path = dir.join(file_name(record.seq));
    let temporary = path.with_extension("json.tmp");
    let json = serde_json::to_vec(record).expect("an outbox record always serialises");
    let mut file = File::create(&temporary).map_err(io_error(&temporary))?;
    file.write_all(&json).map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    drop(file);
    fs::rename(&temporary, &path).map_err(io_error(&path))?;
    // The rename is durable only once the directory entry is.
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error(dir))
}

/// The records of a directory in sequence order; temporary files of interrupted writes (never
/// acknowledged to the application) are removed.
fn read_records(dir: &Path) -> Result<Vec<(PathBuf, Record)>, DeviceError> {
    let mut records = Vec::new();
    for item in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = item.map_err(io_error(dir))?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if name.ends_with(".json.tmp") {
            fs::remove_file(&path).map_err(io_error(&path))?;
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let record: Record =
            serde_json::from_slice(&bytes).map_err(|error| DeviceError::OutboxEntry {
                path: path.clone(),
                reason: error.to_string(),
            })?;
        records.push((path, record));
    }
    records.sort_by_key(|(_, record)| record.seq);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str) -> Event {
        Event::new(name, json!({"temperature_c": 180})).unwrap()
    }

    #[test]
    fn accepted_events_survive_reopening_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, entries) = Outbox::open(dir.path(), OutboxLimits::default()).unwrap();
        assert!(entries.is_empty());
        let first = outbox.add(event("COOKING_FINISHED"), false).unwrap();
        let second = outbox
            .add(event("DEVICE_TELEMETRY_REPORTED"), true)
            .unwrap();
        drop(outbox);

        let (outbox, entries) = Outbox::open(dir.path(), OutboxLimits::default()).unwrap();
        assert_eq!(entries, vec![first.clone(), second.clone()]);
        assert_eq!(outbox.pending(), 2);
        let third = outbox.add(event("COOKING_FINISHED"), false).unwrap();
        assert!(third.seq > second.seq);

        outbox.remove(&first).unwrap();
        let (_, entries) = Outbox::open(dir.path(), OutboxLimits::default()).unwrap();
        assert_eq!(entries, vec![second, third]);
    }

    #[test]
    fn a_full_outbox_refuses_instead_of_dropping() {
        let dir = tempfile::tempdir().unwrap();
        let limits = OutboxLimits {
            max_events: 2,
            max_bytes: 1 << 20,
        };
        let (outbox, _) = Outbox::open(dir.path(), limits).unwrap();
        let first = outbox.add(event("COOKING_FINISHED"), false).unwrap();
        outbox.add(event("COOKING_FINISHED"), false).unwrap();
        let error = outbox.add(event("COOKING_FINISHED"), false).unwrap_err();
        assert!(
            matches!(
                error,
                DeviceError::OutboxFull {
                    events: 2,
                    max_events: 2,
                    ..
                }
            ),
            "{error}"
        );
        outbox.remove(&first).unwrap();
        outbox.add(event("COOKING_FINISHED"), false).unwrap();

        let small = OutboxLimits {
            max_events: 100,
            max_bytes: 150,
        };
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = Outbox::open(dir.path(), small).unwrap();
        outbox.add(event("COOKING_FINISHED"), false).unwrap();
        let error = outbox.add(event("COOKING_FINISHED"), false).unwrap_err();
        assert!(matches!(error, DeviceError::OutboxFull { .. }), "{error}");
    }

    #[test]
    fn refused_events_are_kept_apart_until_taken() {
        let dir = tempfile::tempdir().unwrap();
        let limits = OutboxLimits {
            max_events: 1,
            max_bytes: 1 << 20,
        };
        let (outbox, _) = Outbox::open(dir.path(), limits).unwrap();
        let entry = outbox.add(event("COOKING_FINISHED"), false).unwrap();
        outbox.refuse(&entry, "NotAuthorized").unwrap();
        assert_eq!(outbox.pending(), 0);
        assert!(matches!(
            outbox.add(event("COOKING_FINISHED"), false),
            Err(DeviceError::OutboxFull { .. })
        ));

        let (outbox, pending) = Outbox::open(dir.path(), limits).unwrap();
        assert!(pending.is_empty());
        let refused = outbox.take_refused().unwrap();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].event_id, entry.event_id);
        assert_eq!(refused[0].event, "COOKING_FINISHED");
        assert_eq!(refused[0].reason, "NotAuthorized");
        assert!(outbox.take_refused().unwrap().is_empty());
        outbox.add(event("COOKING_FINISHED"), false).unwrap();
    }

    #[test]
    fn interrupted_writes_are_not_events() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = Outbox::open(dir.path(), OutboxLimits::default()).unwrap();
        let entry = outbox.add(event("COOKING_FINISHED"), false).unwrap();
        drop(outbox);
        let leftover = dir
            .path()
            .join("pending")
            .join(file_name(99))
            .with_extension("json.tmp");
        fs::write(&leftover, b"{\"seq\": 99, \"ev").unwrap();
        let (_, entries) = Outbox::open(dir.path(), OutboxLimits::default()).unwrap();
        assert_eq!(entries, vec![entry]);
        assert!(!leftover.exists());
    }

    #[test]
    fn a_corrupt_entry_is_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        drop(Outbox::open(dir.path(), OutboxLimits::default()).unwrap());
        fs::write(dir.path().join("pending").join(file_name(3)), b"not json").unwrap();
        let error = Outbox::open(dir.path(), OutboxLimits::default()).unwrap_err();
        assert!(matches!(error, DeviceError::OutboxEntry { .. }), "{error}");
    }
}
