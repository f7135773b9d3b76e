//! An event the device publishes: its name and the device message that carries it.

use postoffice::envelope::{DeviceMessage, Envelope, now_millis};
use postoffice::topic;
use uuid::Uuid;

use crate::error::DeviceError;

/// IoT Core's limit on the payload of one PUBLISH: 128 KB
/// (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits>).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// An event of this device, with its event id chosen when it is created: every retry, reconnect
/// and restart sends the same id, which is how the platform recognises a duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    name: String,
    message: DeviceMessage,
}

impl Event {
    /// A new event happening now, with a fresh event id.
    pub fn new(name: impl Into<String>, payload: serde_json::Value) -> Result<Self, DeviceError> {
        let name = name.into();
        topic::validate_event_name(&name).map_err(DeviceError::EventName)?;
        Ok(Self {
            name,
            message: DeviceMessage {
                event_id: Some(Uuid::new_v4()),
                occurred_at: Some(now_millis()),
                correlation_id: None,
                causation_id: None,
                schema_version: None,
                payload,
            },
        })
    }

    /// This event answers or follows `cause` (a command or reply the device received): it joins
    /// the cause's conversation and names it as its cause.
    pub fn caused_by(mut self, cause: &Envelope) -> Self {
        self.message.correlation_id = Some(cause.correlation_id);
        self.message.causation_id = Some(cause.event_id);
        self
    }

    /// The payload's schema version, when not the catalog's first.
    pub fn schema_version(mut self, version: u32) -> Self {
        self.message.schema_version = Some(version);
        self
    }

    /// Starts a conversation of its own: replies carry this event's id as their correlation id.
    pub(crate) fn starting_conversation(mut self) -> Self {
        self.message.correlation_id = Some(self.event_id());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn event_id(&self) -> Uuid {
        self.message
            .event_id
            .expect("an event always has its event id")
    }

    pub fn message(&self) -> &DeviceMessage {
        &self.message
    }

    pub(crate) fn into_parts(self) -> (String, DeviceMessage) {
        (self.name, self.message)
    }

    /// The device message as published: JSON, checked against IoT Core's message size.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, DeviceError> {
        let json = serde_json::to_vec(&self.message).expect("a device message always serialises");
        if json.len() > MAX_MESSAGE_BYTES {
            return Err(DeviceError::MessageTooLarge {
                event: self.name.clone(),
                bytes: json.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postoffice::topic::Topic;
    use serde_json::json;

    #[test]
    fn an_event_gets_its_id_when_created() {
        let event = Event::new("COOKING_FINISHED", json!({"recipe": "bread"})).unwrap();
        let again = event.clone();
        assert_eq!(event.event_id(), again.event_id());
        let other = Event::new("COOKING_FINISHED", json!({})).unwrap();
        assert_ne!(event.event_id(), other.event_id());
        assert!(event.message().occurred_at.is_some());
        assert_eq!(event.message().correlation_id, None);
    }

    #[test]
    fn rejects_names_that_are_not_event_names() {
        let error = Event::new("cooking finished", json!({})).unwrap_err();
        assert!(matches!(error, DeviceError::EventName(_)), "{error}");
    }

    #[test]
    fn a_follow_up_joins_the_conversation_of_its_cause() {
        let topic = Topic::parse("COOKING_REPLIED/h-1/oven-1").unwrap();
        let reply = Envelope::new(&topic, "kitchen", json!({"accepted": true}));
        let finished = Event::new("COOKING_FINISHED", json!({}))
            .unwrap()
            .caused_by(&reply);
        assert_eq!(
            finished.message().correlation_id,
            Some(reply.correlation_id)
        );
        assert_eq!(finished.message().causation_id, Some(reply.event_id));
    }

    #[test]
    fn refuses_messages_over_the_iot_limit() {
        let fits = "x".repeat(MAX_MESSAGE_BYTES - 200);
        assert!(
            Event::new("DEVICE_TELEMETRY_REPORTED", json!({ "blob": fits }))
                .unwrap()
                .encode()
                .is_ok()
        );
        let too_large = "x".repeat(MAX_MESSAGE_BYTES);
        let error = Event::new("DEVICE_TELEMETRY_REPORTED", json!({ "blob": too_large }))
            .unwrap()
            .encode()
            .unwrap_err();
        assert!(
            matches!(error, DeviceError::MessageTooLarge { .. }),
            "{error}"
        );
    }
}
