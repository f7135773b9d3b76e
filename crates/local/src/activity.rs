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
    /// A topic rule's action published a device message to SNS.
    RulePublished {
        rule: String,
        /// The MQTT topic the message arrived on.
        topic: String,
        /// The envelope's event id, when the rule's output has one.
        event_id: Option<String>,
        sns_message_id: String,
    },
    /// A topic rule's action failed; its error action ran (or, with none, the message is gone).
    RuleFailed {
        rule: String,
        topic: String,
        error: String,
        /// Whether the error action took the message.
        kept: bool,
        /// Why the error action failed, when it did (the message is lost).
        #[serde(skip_serializing_if = "Option::is_none")]
        error_action_failure: Option<String>,
    },
    SubscriptionConfirmed {
        subscription: String,
        endpoint: String,
    },
    /// One delivery attempt. `status` is the HTTP status, absent when no answer came.
    DeliveryAttempt {
        subscription: String,
        /// The function behind a function URL, or the endpoint.
        endpoint: String,
        topic: String,
        sns_message_id: String,
        attempt: u32,
        status: Option<u16>,
        /// When the retry policy retries, after how long (scaled), in milliseconds.
        retry_in_ms: Option<u64>,
    },
    Delivered {
        subscription: String,
        endpoint: String,
        topic: String,
        sns_message_id: String,
        attempts: u32,
    },
    DeadLettered {
        subscription: String,
        endpoint: String,
        topic: String,
        sns_message_id: String,
        attempts: u32,
        reason: String,
        queue: String,
    },
    /// SNS gave up on a message and could not park it: AWS discards it and counts it
    /// (`NumberOfNotificationsFailed`, `NumberOfNotificationsFailedToRedriveToDlq`).
    DeliveryLost {
        subscription: String,
        endpoint: String,
        topic: String,
        sns_message_id: String,
        reason: String,
    },
    /// The iot-data Publish API published to the gateway (return path).
    IotDataPublished { topic: String },
    /// The iot-data DeleteConnection API closed a client's connection.
    IotConnectionDeleted { client_id: String },
    /// The gateway refused something a client did.
    GatewayRefused {
        client_id: String,
        what: String,
        reason: String,
    },
    /// Records written to the event store.
    Stored {
        stream: String,
        key: String,
        count: usize,
    },
    /// A call inside the chain was refused by the applied policies.
    Denied {
        principal: String,
        action: String,
        resource: String,
        explanation: String,
    },
    /// A CloudWatch alarm changed state.
    AlarmChanged {
        alarm: String,
        from: String,
        to: String,
        reason: String,
        runbook: Option<String>,
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
