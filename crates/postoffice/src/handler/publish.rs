//! The publish port: how a handler's follow-up events leave for their SNS topics.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::envelope::Envelope;

/// Environment variable with the SNS topic ARN prefix; the event name is appended.
pub const TOPIC_ARN_PREFIX_ENV: &str = "POSTOFFICE_TOPIC_ARN_PREFIX";

/// Message attribute names every publish carries, for subscription filter policies.
pub const ATTRIBUTE_EVENT: &str = "event";
pub const ATTRIBUTE_HOUSEHOLD_ID: &str = "household_id";
pub const ATTRIBUTE_DEVICE_ID: &str = "device_id";

/// One SNS Publish: the envelope JSON to the topic of its event, with its identity as string
/// message attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub topic_arn: String,
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

impl Publication {
    /// `topic_arn_prefix` is e.g. `arn:aws:sns:eu-west-1:123456789012:postoffice-`.
    pub fn of(envelope: &Envelope, topic_arn_prefix: &str) -> Self {
        let attributes = [
            (ATTRIBUTE_EVENT, &envelope.event),
            (ATTRIBUTE_HOUSEHOLD_ID, &envelope.household_id),
            (ATTRIBUTE_DEVICE_ID, &envelope.device_id),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect();
        Self {
            topic_arn: format!("{topic_arn_prefix}{}", envelope.event),
            message: envelope.to_json(),
            attributes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("publishing to {topic_arn} failed: {message}")]
pub struct PublishError {
    pub topic_arn: String,
    pub message: String,
}

/// Sends publications to SNS. The SNS adapter is [`super::SnsPublisher`] (feature `lambda`);
/// tests pass a fake that records what would have been sent.
#[async_trait]
pub trait Publish: Send + Sync {
    async fn publish(&self, publication: &Publication) -> Result<(), PublishError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topic;
    use serde_json::json;

    #[test]
    fn a_publication_goes_to_the_topic_of_its_event_with_identity_attributes() {
        let topic = Topic::parse("COOKING_REPLIED/h-1/oven-1").unwrap();
        let envelope = Envelope::new(&topic, "kitchen", json!({"accepted": true}));
        let publication = Publication::of(&envelope, "arn:aws:sns:eu-west-1:123456789012:po-");
        assert_eq!(
            publication.topic_arn,
            "arn:aws:sns:eu-west-1:123456789012:po-COOKING_REPLIED"
        );
        assert_eq!(
            Envelope::from_json(publication.message.as_bytes()).unwrap(),
            envelope
        );
        let attributes: Vec<(&str, &str)> = publication
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            attributes,
            [
                ("device_id", "oven-1"),
                ("event", "COOKING_REPLIED"),
                ("household_id", "h-1")
            ]
        );
    }
}
