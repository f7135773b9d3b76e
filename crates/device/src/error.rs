use std::path::PathBuf;
use std::time::Duration;

use postoffice::topic::TopicError;
use uuid::Uuid;

/// Everything that can go wrong on the device side.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("invalid device identity: {0}")]
    Identity(#[source] TopicError),
    #[error("invalid event name: {0}")]
    EventName(#[source] TopicError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("device credentials: {0}")]
    Credentials(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error(
        "event {event} is {bytes} bytes as a device message; IoT Core accepts at most {max} bytes per message"
    )]
    MessageTooLarge {
        event: String,
        bytes: usize,
        max: usize,
    },
    #[error(
        "the outbox is full ({events} events, {bytes} bytes; limits {max_events} events, {max_bytes} bytes): the event was not accepted"
    )]
    OutboxFull {
        events: usize,
        bytes: u64,
        max_events: usize,
        max_bytes: u64,
    },
    #[error("outbox {path}: {source}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("outbox entry {path} is unreadable: {reason}")]
    OutboxEntry { path: PathBuf, reason: String },
    #[error("the broker refused event {event_id} ({event}): {reason}")]
    Refused {
        event_id: Uuid,
        event: String,
        reason: String,
    },
    #[error("no {reply_event} answered request {event_id} within {waited:?}")]
    DeadlineExceeded {
        event_id: Uuid,
        reply_event: String,
        waited: Duration,
    },
    #[error("could not connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    #[error("the broker refused the subscription to {filter}: {reason}")]
    SubscriptionRefused { filter: String, reason: String },
    #[error("the device has been closed")]
    Closed,
}
