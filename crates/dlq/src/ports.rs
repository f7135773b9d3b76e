//! The AWS operations dead-letter tools need, as small traits: [`crate::aws`] implements them
//! with the SDK, tests with fakes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use postoffice::sns::{MessageAttribute, SnsMessage};

use crate::message::ReceivedMessage;
use crate::queue::QueueDepth;

/// A failed AWS call, described for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// SQS, as the dead-letter tools use it.
#[async_trait]
pub trait Queues: Send + Sync {
    async fn list_queue_urls(&self, name_prefix: &str) -> Result<Vec<String>, PortError>;
    async fn tags(&self, url: &str) -> Result<HashMap<String, String>, PortError>;
    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError>;
    async fn arn(&self, url: &str) -> Result<String, PortError>;
    /// Receives up to `max` (≤ 10) messages, hiding them for `visibility_timeout`.
    async fn receive(
        &self,
        url: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError>;
    async fn delete(&self, url: &str, receipt_handle: &str) -> Result<(), PortError>;
    /// Makes a received message visible again at once.
    async fn release(&self, url: &str, receipt_handle: &str) -> Result<(), PortError>;
    async fn purge(&self, url: &str) -> Result<(), PortError>;
}

/// CloudWatch's `ApproximateAgeOfOldestMessage` of a queue; `None` when there are no data.
#[async_trait]
pub trait OldestMessageAge: Send + Sync {
    async fn oldest_message_age(&self, queue_name: &str) -> Result<Option<Duration>, PortError>;
}

/// SNS Publish, with message attributes as an SNS notification carries them (`Type`, and the
/// `Value` as text: base64 for `Binary`).
#[async_trait]
pub trait Publish: Send + Sync {
    async fn publish(
        &self,
        topic_arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttribute>,
    ) -> Result<(), PortError>;
}

/// What a signature check said about one SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticity {
    Genuine,
    /// Not genuine, or not acceptable (an untrusted certificate, a refused signature version).
    Refused(String),
    /// Could not be checked now (the signing certificate could not be fetched): try again later.
    Unverifiable(String),
}

/// Checks the signature of an SNS message from a consumer's dead-letter queue, as its bridge did
/// before it was dead-lettered: [`crate::signature`] implements it with the bridge's verifier.
#[async_trait]
pub trait Authenticate: Send + Sync {
    async fn authenticate(&self, message: &SnsMessage) -> Authenticity;
}
