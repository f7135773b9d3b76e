//! The event envelope: the JSON every handler receives and every publisher sends.
//!
//! Identity fields (`event`, `household_id`, `device_id`) of actor-published events come from the
//! MQTT topic that the IoT policy authorised ([`Envelope::from_device_message`]), never from the
//! device's payload. Event ids are set by the producer so that retries keep them.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::topic::{self, Topic, TopicError};

/// The schema version an envelope gets when its producer does not say.
pub const DEFAULT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Event name, upper snake case (`COOKING_REQUESTED`).
    pub event: String,
    /// Unique per event, set by the producer; retries and redrives keep it.
    pub event_id: Uuid,
    pub household_id: String,
    pub device_id: String,
    /// When the producer says the event happened.
    #[serde(with = "rfc3339")]
    pub occurred_at: DateTime<Utc>,
    /// When the gateway (IoT rule) received an actor-published event.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_option"
    )]
    pub received_at: Option<DateTime<Utc>>,
    /// The producing actor: the authenticated MQTT client id for actors, the service name for
    /// backend services.
    pub source: String,
    /// Shared by every event of one conversation (`X_REQUESTED` → `X_REPLIED`).
    pub correlation_id: Uuid,
    /// The event that directly caused this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    pub schema_version: u32,
    pub payload: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is not valid JSON of the expected shape: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("envelope identity is invalid: {0}")]
    Identity(#[from] TopicError),
    #[error("envelope source is empty")]
    EmptySource,
}

impl Envelope {
    /// A new event, first of its conversation, for the household and device of `topic`.
    pub fn new(topic: &Topic, source: impl Into<String>, payload: serde_json::Value) -> Self {
        let event_id = Uuid::new_v4();
        Self {
            event: topic.event().to_owned(),
            event_id,
            household_id: topic.household_id().to_owned(),
            device_id: topic.device_id().to_owned(),
            occurred_at: now_millis(),
            received_at: None,
            source: source.into(),
            correlation_id: event_id,
            causation_id: None,
            schema_version: DEFAULT_SCHEMA_VERSION,
            payload,
        }
    }

    /// An event caused by this one: same household, device and correlation id, causation id set
    /// to this event's id. This is how a reply (`X_REPLIED`) finds its way back to the requester.
    pub fn follow_up(
        &self,
        event: &str,
        source: impl Into<String>,
        payload: serde_json::Value,
    ) -> Result<Self, TopicError> {
        topic::validate_event_name(event)?;
        Ok(Self {
            event: event.to_owned(),
            event_id: Uuid::new_v4(),
            household_id: self.household_id.clone(),
            device_id: self.device_id.clone(),
            occurred_at: now_millis(),
            received_at: None,
            source: source.into(),
            correlation_id: self.correlation_id,
            causation_id: Some(self.event_id),
            schema_version: DEFAULT_SCHEMA_VERSION,
            payload,
        })
    }

    /// The IoT topic rule's transformation: the authorised topic gives the identity, the gateway
    /// gives `source` (MQTT client id) and `received_at`, the device gives the rest. The rule SQL
    /// in `terraform/modules/event` does the same.
    pub fn from_device_message(
        topic: &Topic,
        client_id: &str,
        received_at: DateTime<Utc>,
        message: DeviceMessage,
    ) -> Self {
        let event_id = message.event_id.unwrap_or_else(Uuid::new_v4);
        Self {
            event: topic.event().to_owned(),
            event_id,
            household_id: topic.household_id().to_owned(),
            device_id: topic.device_id().to_owned(),
            occurred_at: message.occurred_at.unwrap_or(received_at),
            received_at: Some(received_at),
            source: client_id.to_owned(),
            correlation_id: message.correlation_id.unwrap_or(event_id),
            causation_id: message.causation_id,
            schema_version: message.schema_version.unwrap_or(DEFAULT_SCHEMA_VERSION),
            payload: message.payload,
        }
    }

    /// Parses and validates an envelope from JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, EnvelopeError> {
        let envelope: Self = serde_json::from_slice(json)?;
        envelope.validate()?;
        Ok(envelope)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serialises")
    }

    /// Checks the identity fields and source.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        self.topic()?;
        if self.source.trim().is_empty() {
            return Err(EnvelopeError::EmptySource);
        }
        Ok(())
    }

    /// The MQTT topic of this event's household and device.
    pub fn topic(&self) -> Result<Topic, TopicError> {
        Topic::new(&self.event, &self.household_id, &self.device_id)
    }
}

/// What an actor publishes on `EVENT/HOUSEHOLD_ID/DEVICE_ID`: everything but identity. Identity
/// fields a device puts in its message are ignored (unknown fields are dropped, as the rule's
/// explicit SELECT list drops them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_option"
    )]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    pub payload: serde_json::Value,
}

/// The current time at the millisecond precision envelopes carry, so that they round-trip.
pub fn now_millis() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// RFC 3339 with millisecond precision and `Z`, the format every Post Office time uses.
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time: {e}")))
    }
}

mod rfc3339_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => super::rfc3339::serialize(time, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "super::rfc3339")] DateTime<Utc>);
        Ok(Option::<Wrapper>::deserialize(d)?.map(|Wrapper(t)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Envelope {
        let topic = Topic::parse("COOKING_REQUESTED/h1/oven1").unwrap();
        Envelope::new(&topic, "mobile-app", json!({"recipe": "bread"}))
    }

    #[test]
    fn round_trips_through_json() {
        let envelope = request();
        let parsed = Envelope::from_json(envelope.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, envelope);
    }

    #[test]
    fn a_new_event_starts_its_conversation() {
        let envelope = request();
        assert_eq!(envelope.correlation_id, envelope.event_id);
        assert_eq!(envelope.causation_id, None);
        assert_eq!(
            envelope.topic().unwrap().to_string(),
            "COOKING_REQUESTED/h1/oven1"
        );
    }

    #[test]
    fn a_follow_up_keeps_identity_and_correlation() {
        let request = request();
        let reply = request
            .follow_up("COOKING_REPLIED", "kitchen", json!({"accepted": true}))
            .unwrap();
        assert_eq!(reply.household_id, "h1");
        assert_eq!(reply.device_id, "oven1");
        assert_eq!(reply.correlation_id, request.correlation_id);
        assert_eq!(reply.causation_id, Some(request.event_id));
        assert_ne!(reply.event_id, request.event_id);
        assert!(
            request
                .follow_up("cooking replied", "kitchen", json!({}))
                .is_err()
        );
    }

    #[test]
    fn identity_comes_from_the_topic_not_the_device() {
        let topic = Topic::parse("COOKING_REQUESTED/h1/oven1").unwrap();
        let message: DeviceMessage = serde_json::from_value(json!({
            "household_id": "someone-else",
            "device_id": "not-me",
            "payload": {"recipe": "bread"}
        }))
        .unwrap();
        let now = Utc::now();
        let envelope = Envelope::from_device_message(&topic, "oven1", now, message);
        assert_eq!(envelope.household_id, "h1");
        assert_eq!(envelope.device_id, "oven1");
        assert_eq!(envelope.source, "oven1");
        assert_eq!(envelope.occurred_at, now);
        assert_eq!(envelope.correlation_id, envelope.event_id);
    }

    #[test]
    fn a_device_keeps_its_event_id_across_retries() {
        let topic = Topic::parse("COOKING_REQUESTED/h1/oven1").unwrap();
        let id = Uuid::new_v4();
        let message = DeviceMessage {
            event_id: Some(id),
            occurred_at: None,
            correlation_id: None,
            causation_id: None,
            schema_version: Some(2),
            payload: json!({}),
        };
        let first = Envelope::from_device_message(&topic, "oven1", Utc::now(), message.clone());
        let retry = Envelope::from_device_message(&topic, "oven1", Utc::now(), message);
        assert_eq!(first.event_id, id);
        assert_eq!(retry.event_id, id);
        assert_eq!(first.schema_version, 2);
    }

    #[test]
    fn rejects_bad_identity_and_times() {
        let mut envelope = request();
        envelope.household_id = "h/1".into();
        let err = Envelope::from_json(envelope.to_json().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("household id"), "{err}");

        let mut value = serde_json::to_value(request()).unwrap();
        value["occurred_at"] = json!("yesterday");
        let err = Envelope::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }
}
