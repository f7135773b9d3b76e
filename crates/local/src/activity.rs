//! What the local post office does, as it happens: the demo's live progress, the tests' view of
//! delivery attempts, and `activity.jsonl` in the run directory.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    /// The IoT rule of `event` published a device message to SNS.
    RulePublished {
        event: String,
        topic: String,
        event_id: String,
        sns_message_id: String,
    },
    /// The IoT rule failed; the error action wrote to the rule-errors queue.
    RuleFailed {
        rule: String,
        topic: String,
        error: String,
    },
    SubscriptionConfirmed {
        consumer: String,
        event: String,
    },
    /// One HTTP/S POST to a bridge. `status` is absent when no answer came.
    DeliveryAttempt {
        consumer: String,
        event: String,
        sns_message_id: String,
        attempt: u32,
        status: Option<u16>,
        /// When the delivery policy retries, after how long (scaled), in milliseconds.
        retry_in_ms: Option<u64>,
    },
    Delivered {
        consumer: String,
        event: String,
        sns_message_id: String,
        attempts: u32,
    },
    DeadLettered {
        consumer: String,
        event: String,
        sns_message_id: String,
        attempts: u32,
        reason: String,
    },
    /// The iot-data endpoint published to the MQTT gateway (return path).
    IotDataPublished {
        topic: String,
    },
    Stored {
        event: String,
        count: usize,
    },
}

/// Fans activities out to subscribers and appends them to the run's `activity.jsonl`.
#[derive(Debug, Clone)]
pub struct ActivityLog {
    sender: broadcast::Sender<Activity>,
    file: Arc<Mutex<std::fs::File>>,
}

impl ActivityLog {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(path)?;
        let (sender, _) = broadcast::channel(65_536);
        Ok(Self {
            sender,
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn record(&self, activity: Activity) {
        if let Ok(line) = serde_json::to_string(&activity) {
            let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(file, "{line}");
        }
        let _ = self.sender.send(activity);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Activity> {
        self.sender.subscribe()
    }
}
