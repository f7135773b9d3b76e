//! The event store, laid out like the S3 bucket Firehose writes (contracts.md, "Event store
//! layout"): `events/event=<EVENT>/date=<YYYY-MM-DD>/<object>`, one envelope JSON per line,
//! partitioned by the envelope's event and the arrival date. Each topic feeds its envelopes
//! here with raw message delivery, as SNS feeds Firehose.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::activity::{Activity, ActivityLog};

/// Envelopes written per append, at most.
const MAX_BATCH: usize = 500;

pub struct EventStoreWriter {
    pub event: String,
    /// The topic's raw-delivery feed (the bare envelopes).
    pub feed: mpsc::UnboundedReceiver<String>,
    /// The store's root; objects go under `events/`.
    pub root: PathBuf,
    /// Distinguishes this run's objects, as Firehose names each object uniquely.
    pub object_name: String,
    pub activity: ActivityLog,
}

/// The file an envelope arriving on `date` belongs in.
pub fn object_path(root: &Path, event: &str, date: chrono::NaiveDate, object: &str) -> PathBuf {
    root.join("events")
        .join(format!("event={event}"))
        .join(format!("date={}", date.format("%Y-%m-%d")))
        .join(object)
}

impl EventStoreWriter {
    /// Writes until every publisher is gone; a batch that cannot be written is retried, never
    /// dropped.
    pub async fn run(mut self) {
        let mut batch = Vec::new();
        while self.feed.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let lines: String = batch
                .iter()
                .map(|envelope| format!("{}\n", envelope.replace('\n', " ")))
                .collect();
            loop {
                let path = object_path(
                    &self.root,
                    &self.event,
                    chrono::Utc::now().date_naive(),
                    &self.object_name,
                );
                match append(&path, &lines) {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::error!(%error, path = %path.display(), "writing the event store failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            self.activity.record(Activity::Stored {
                event: self.event.clone(),
                count: batch.len(),
            });
            batch.clear();
        }
    }
}

fn append(path: &Path, lines: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(lines.as_bytes())?;
    file.flush()
}

/// Every envelope in the store, as (relative path, line), for listings and tests.
pub fn read_all(root: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut found = Vec::new();
    let events = root.join("events");
    if !events.exists() {
        return Ok(found);
    }
    let mut stack = vec![events];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
                for line in std::fs::read_to_string(&path)?.lines() {
                    found.push((relative.clone(), line.to_owned()));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_partitioned_by_event_and_date() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(
            object_path(Path::new("/store"), "COOKING_REQUESTED", date, "obj"),
            PathBuf::from("/store/events/event=COOKING_REQUESTED/date=2026-11-23/obj")
        );
    }

    #[test]
    fn appended_lines_are_read_back_with_their_partition() {
        let dir = tempfile::tempdir().unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let path = object_path(dir.path(), "E", date, "o");
        append(&path, "{\"a\":1}\n").unwrap();
        append(&path, "{\"a\":2}\n").unwrap();
        let all = read_all(dir.path()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, PathBuf::from("events/event=E/date=2026-11-23/o"));
        assert_eq!(all[1].1, "{\"a\":2}");
    }
}
