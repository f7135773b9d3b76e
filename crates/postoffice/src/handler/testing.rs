//! Fakes for testing handlers without AWS: a publisher that records, and invocations built from
//! an envelope the way the bridge builds them.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::publish::{Publication, Publish, PublishError};
use crate::envelope::Envelope;
use crate::invocation::{Delivery, HandlerInvocation};

/// Records every publication; can be told to fail the next ones.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    sent: Mutex<Vec<Publication>>,
    failures: Mutex<VecDeque<String>>,
}

impl RecordingPublisher {
    /// The next publish fails with `message` (queue several calls for several failures).
    pub fn fail_next(&self, message: impl Into<String>) {
        lock(&self.failures).push_back(message.into());
    }

    pub fn sent(&self) -> Vec<Publication> {
        lock(&self.sent).clone()
    }

    /// The envelopes sent, parsed back from the SNS message bodies.
    pub fn envelopes(&self) -> Vec<Envelope> {
        self.sent()
            .iter()
            .map(|p| Envelope::from_json(p.message.as_bytes()).expect("published envelope"))
            .collect()
    }
}

#[async_trait]
impl Publish for RecordingPublisher {
    async fn publish(&self, publication: &Publication) -> Result<(), PublishError> {
        if let Some(message) = lock(&self.failures).pop_front() {
            return Err(PublishError {
                topic_arn: publication.topic_arn.clone(),
                message,
            });
        }
        lock(&self.sent).push(publication.clone());
        Ok(())
    }
}

/// The invocation the bridge sends for `envelope`, as JSON.
pub fn invocation(envelope: &Envelope) -> serde_json::Value {
    let delivery = Delivery {
        sns_message_id: uuid::Uuid::new_v4().to_string(),
        topic_arn: format!(
            "arn:aws:sns:eu-west-1:123456789012:postoffice-{}",
            envelope.event
        ),
        timestamp: crate::envelope::format_time(&crate::envelope::now_millis()),
        message_attributes: [
            ("event", &envelope.event),
            ("household_id", &envelope.household_id),
            ("device_id", &envelope.device_id),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect(),
        redriven: false,
    };
    serde_json::to_value(HandlerInvocation {
        envelope: envelope.clone(),
        delivery,
    })
    .expect("an invocation always serialises")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
