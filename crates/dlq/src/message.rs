//! Decoding what lies in a Post Office dead-letter queue (formats in `docs/contracts.md`).
//!
//! A consumer DLQ holds SNS notifications that could not be delivered to the consumer's bridge;
//! the rule-errors queue holds IoT rule error action messages; the rejected-device-messages queue
//! holds what the events' rejection rules select of the device messages the handlers cannot read.
//! Anything else is undecodable: it is reported with the reason and left in its queue.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::sns::{SnsError, SnsMessage};
use postoffice::topic::Topic;
use serde::{Deserialize, Serialize};

/// SQS message attributes SNS adds to a message it dead-letters.
pub const ATTRIBUTE_REQUEST_ID: &str = "RequestID";
pub const ATTRIBUTE_ERROR_CODE: &str = "ErrorCode";
pub const ATTRIBUTE_ERROR_MESSAGE: &str = "ErrorMessage";

/// One message as received from SQS, independent of the SDK.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReceivedMessage {
    /// SQS message id: stable for as long as the message stays in the queue.
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// SQS message attributes with a string value, name → value.
    pub attributes: BTreeMap<String, String>,
    /// When the message entered this queue (SQS `SentTimestamp`): the time it was dead-lettered.
    pub sent_at: Option<DateTime<Utc>>,
    /// SQS `ApproximateReceiveCount`, this receive included.
    pub receive_count: u32,
}

/// Why a message could not be decoded. It stays in its queue.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "body is neither an SNS notification nor an IoT rule error message nor a rejected device message: {0}"
    )]
    UnknownFormat(String),
    #[error("SNS notification is of type {0:?}, expected \"Notification\"")]
    NotANotification(String),
    #[error("SNS notification's Message is not a valid envelope: {0}")]
    Envelope(String),
    #[error("rule error message's base64OriginalPayload is not valid base64: {0}")]
    Base64(String),
    #[error(
        "rule error message's topic {topic:?} is not an EVENT/HOUSEHOLD/DEVICE topic: {reason}"
    )]
    Topic { topic: String, reason: String },
    #[error("rule error message's original payload is not a device message: {0}")]
    DeviceMessage(String),
    /// A body with the rejection rules' `unreadable` list that is not what they write.
    #[error("malformed rejected device message: {0}")]
    Rejection(String),
}

/// A decoded dead-letter message.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadLetter {
    /// From a consumer DLQ: an SNS notification SNS could not deliver.
    Notification(Box<DeadNotification>),
    /// From the rule-errors queue: a device message the IoT rule could not publish.
    RuleError(Box<RuleError>),
    /// From the rejected-device-messages queue: a device message the handlers cannot read.
    Rejected(Box<RejectedMessage>),
}

impl DeadLetter {
    /// Decodes a received message of either queue kind.
    pub fn decode(message: &ReceivedMessage) -> Result<Self, DecodeError> {
        let body = decoded_body(&message.body)?;
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| DecodeError::UnknownFormat(e.to_string()))?;
        // Only the rejection rules write `unreadable`; the other formats never have it.
        if json.get("unreadable").is_some() {
            return Ok(DeadLetter::Rejected(Box::new(RejectedMessage::from_json(
                json,
            )?)));
        }
        let kind: BodyKind =
            serde_json::from_value(json).map_err(|e| DecodeError::UnknownFormat(e.to_string()))?;
        match kind {
            BodyKind::Notification(notification) => Ok(DeadLetter::Notification(Box::new(
                DeadNotification::from_sns(notification, &body, &message.attributes)?,
            ))),
            BodyKind::RuleError(rule_error) => Ok(DeadLetter::RuleError(Box::new(
                RuleError::from_action_message(rule_error)?,
            ))),
        }
    }

    /// The event; of a rejected message, the first level of its topic.
    pub fn event(&self) -> &str {
        match self {
            DeadLetter::Notification(n) => &n.envelope.event,
            DeadLetter::RuleError(r) => r.topic.event(),
            DeadLetter::Rejected(r) => r.topic_level(0),
        }
    }

    /// The household id; of a rejected message, the second level of its topic, whatever it is.
    pub fn household_id(&self) -> &str {
        match self {
            DeadLetter::Notification(n) => &n.envelope.household_id,
            DeadLetter::RuleError(r) => r.topic.household_id(),
            DeadLetter::Rejected(r) => r.topic_level(1),
        }
    }

    /// The device id; of a rejected message, the third level of its topic, whatever it is.
    pub fn device_id(&self) -> &str {
        match self {
            DeadLetter::Notification(n) => &n.envelope.device_id,
            DeadLetter::RuleError(r) => r.topic.device_id(),
            DeadLetter::Rejected(r) => r.topic_level(2),
        }
    }
}

/// The IoT SQS action can base64-encode the whole body (`useBase64`); SNS never does.
fn decoded_body(body: &str) -> Result<String, DecodeError> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        return Ok(body.to_owned());
    }
    let bytes = BASE64
        .decode(body.trim())
        .map_err(|_| DecodeError::UnknownFormat("not JSON, nor base64-encoded JSON".into()))?;
    String::from_utf8(bytes)
        .map_err(|_| DecodeError::UnknownFormat("base64 body is not UTF-8 text".into()))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BodyKind {
    Notification(SnsNotification),
    RuleError(RuleErrorActionMessage),
}

/// The SNS HTTP/S notification JSON (the fields redrive needs).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    topic_arn: String,
    message: String,
    timestamp: String,
    #[serde(default)]
    message_attributes: BTreeMap<String, SnsMessageAttribute>,
}

#[derive(Debug, Deserialize)]
struct SnsMessageAttribute {
    #[serde(rename = "Value")]
    value: String,
}

/// An SNS notification found in a consumer DLQ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadNotification {
    pub sns_message_id: String,
    pub topic_arn: String,
    /// SNS publish time, as SNS wrote it.
    pub timestamp: String,
    pub message_attributes: BTreeMap<String, String>,
    pub envelope: Envelope,
    /// What SNS said about the last failed delivery.
    pub delivery_error: DeliveryError,
    /// The body as the SNS message whose signature redrive verifies, or why it is not one.
    #[serde(skip)]
    pub signed: Result<SnsMessage, SnsError>,
}

/// The attributes SNS adds when it dead-letters a message; any may be absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DeliveryError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl DeadNotification {
    fn from_sns(
        notification: SnsNotification,
        body: &str,
        sqs_attributes: &BTreeMap<String, String>,
    ) -> Result<Self, DecodeError> {
        if notification.kind != "Notification" {
            return Err(DecodeError::NotANotification(notification.kind));
        }
        let envelope = Envelope::from_json(notification.message.as_bytes())
            .map_err(|e| DecodeError::Envelope(e.to_string()))?;
        Ok(Self {
            sns_message_id: notification.message_id,
            topic_arn: notification.topic_arn,
            timestamp: notification.timestamp,
            message_attributes: notification
                .message_attributes
                .into_iter()
                .map(|(name, attribute)| (name, attribute.value))
                .collect(),
            envelope,
            delivery_error: DeliveryError {
                request_id: sqs_attributes.get(ATTRIBUTE_REQUEST_ID).cloned(),
                error_code: sqs_attributes.get(ATTRIBUTE_ERROR_CODE).cloned(),
                error_message: sqs_attributes.get(ATTRIBUTE_ERROR_MESSAGE).cloned(),
            },
            signed: SnsMessage::parse(body.as_bytes()),
        })
    }
}

/// The IoT rule error action message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleErrorActionMessage {
    rule_name: String,
    topic: String,
    #[serde(default)]
    cloudwatch_trace_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    base64_original_payload: String,
    #[serde(default)]
    failures: Vec<RuleFailure>,
}

/// One failed rule action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleFailure {
    #[serde(default)]
    pub failed_action: String,
    #[serde(default)]
    pub failed_resource: String,
    #[serde(default)]
    pub error_message: String,
}

/// A device message the IoT rule failed to publish to SNS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleError {
    pub rule_name: String,
    #[serde(serialize_with = "serialize_topic")]
    pub topic: Topic,
    /// The MQTT client id that published it; becomes the envelope's `source`.
    pub client_id: Option<String>,
    pub cloudwatch_trace_id: Option<String>,
    pub failures: Vec<RuleFailure>,
    pub device_message: DeviceMessage,
}

fn serialize_topic<S: serde::Serializer>(topic: &Topic, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(topic)
}

impl RuleError {
    fn from_action_message(message: RuleErrorActionMessage) -> Result<Self, DecodeError> {
        let topic = Topic::parse(&message.topic).map_err(|e| DecodeError::Topic {
            topic: message.topic.clone(),
            reason: e.to_string(),
        })?;
        let payload = BASE64
            .decode(message.base64_original_payload.trim())
            .map_err(|e| DecodeError::Base64(e.to_string()))?;
        let device_message: DeviceMessage = serde_json::from_slice(&payload)
            .map_err(|e| DecodeError::DeviceMessage(e.to_string()))?;
        Ok(Self {
            rule_name: message.rule_name,
            topic,
            client_id: message.client_id.filter(|id| !id.is_empty()),
            cloudwatch_trace_id: message.cloudwatch_trace_id,
            failures: message.failures,
            device_message,
        })
    }

    /// The envelope the rule would have published. `received_at` is the redrive time: the
    /// original arrival time is not in the error message. Without a client id (never the case
    /// for MQTT publishes) the device id stands in as the source.
    pub fn envelope(&self, received_at: DateTime<Utc>) -> Envelope {
        let client_id = self.client_id.as_deref().unwrap_or(self.topic.device_id());
        Envelope::from_device_message(
            &self.topic,
            client_id,
            received_at,
            self.device_message.clone(),
        )
    }
}

/// What an event's rejection rule selects (`terraform/modules/event/rule-sql.tf`, `docs/contracts.md`,
/// "Rejected device messages"), every field as the contract says it is always there but
/// `traceId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RejectionBody {
    rule_name: String,
    topic: String,
    client_id: String,
    #[serde(default)]
    trace_id: Option<String>,
    received_at: String,
    unreadable: Vec<String>,
    base64_original_payload: String,
    #[serde(default)]
    collection_id: Option<String>,
    #[serde(default)]
    member: Option<u64>,
    #[serde(default)]
    detail: Option<String>,
}

/// A device message an event's rejection rule kept because the handlers cannot read it. Nothing
/// in it is trusted to be readable: the topic need not be a Post Office topic, the message need
/// not be JSON or even text.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedMessage {
    /// `{prefix}_{EVENT}_rejected`.
    pub rule_name: String,
    /// The MQTT topic it was published on, as it was.
    pub topic: String,
    /// The MQTT client id; `n/a` for a message not sent over MQTT.
    pub client_id: String,
    /// The MQTT message's trace id; absent for a message not sent over MQTT.
    pub trace_id: Option<String>,
    /// When the rule ran.
    pub received_at: DateTime<Utc>,
    /// The parts of the message that are not readable, in the contract's order (`topic`,
    /// `payload`, `event_id`, `occurred_at`, `correlation_id`, `causation_id`, `schema_version`).
    pub unreadable: Vec<String>,
    /// The message as published on the topic; of a collection member, the member's JSON.
    pub original_payload: Vec<u8>,
    /// Of a collection member the collection-unpacker rejected (`ruleName`
    /// `collection-unpacker`): the collection's event id and the member's index in it.
    pub collection_id: Option<String>,
    pub member: Option<u64>,
    /// What is wrong with each unreadable part, when the rejecter says (the unpacker does).
    pub detail: Option<String>,
}

impl RejectedMessage {
    fn from_json(json: serde_json::Value) -> Result<Self, DecodeError> {
        let body: RejectionBody =
            serde_json::from_value(json).map_err(|e| DecodeError::Rejection(e.to_string()))?;
        if body.unreadable.is_empty() {
            return Err(DecodeError::Rejection(
                "`unreadable` names no part: a rejection always names at least one".into(),
            ));
        }
        let received_at = DateTime::parse_from_rfc3339(&body.received_at)
            .map_err(|e| {
                DecodeError::Rejection(format!(
                    "`receivedAt` {:?} is not an RFC 3339 time: {e}",
                    bounded(&body.received_at)
                ))
            })?
            .with_timezone(&Utc);
        let original_payload = BASE64
            .decode(body.base64_original_payload.trim())
            .map_err(|e| {
                DecodeError::Rejection(format!("`base64OriginalPayload` is not valid base64: {e}"))
            })?;
        Ok(Self {
            rule_name: body.rule_name,
            topic: body.topic,
            client_id: body.client_id,
            trace_id: body.trace_id,
            received_at,
            unreadable: body.unreadable,
            original_payload,
            collection_id: body.collection_id,
            member: body.member,
            detail: body.detail,
        })
    }

    /// Level `index` (from 0) of the topic, empty when the topic has fewer.
    pub fn topic_level(&self, index: usize) -> &str {
        self.topic.split('/').nth(index).unwrap_or("")
    }

    /// The message as published, when it is UTF-8 text.
    pub fn payload_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.original_payload).ok()
    }

    /// The message as published, in base64 (as the rule wrote it, whatever the bytes).
    pub fn payload_base64(&self) -> String {
        BASE64.encode(&self.original_payload)
    }
}

/// Text from a message, cut to a length fit for an error.
fn bounded(text: &str) -> &str {
    const MAX_CHARS: usize = 100;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope_json() -> String {
        json!({
            "event": "COOKING_REQUESTED",
            "event_id": "6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11",
            "household_id": "h-1",
            "device_id": "oven-1",
            "occurred_at": "2026-11-23T20:00:00.000Z",
            "source": "oven-1",
            "correlation_id": "6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11",
            "schema_version": 1,
            "payload": {"recipe": "bread"}
        })
        .to_string()
    }

    fn notification_body(message: &str) -> String {
        json!({
            "Type": "Notification",
            "MessageId": "sns-1",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
            "Message": message,
            "Timestamp": "2026-11-23T20:00:00.100Z",
            "SignatureVersion": "2",
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/cert.pem",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {
                "event": {"Type": "String", "Value": "COOKING_REQUESTED"},
                "household_id": {"Type": "String", "Value": "h-1"}
            }
        })
        .to_string()
    }

    fn received(body: String) -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body,
            ..ReceivedMessage::default()
        }
    }

    #[test]
    fn decodes_an_sns_notification_with_its_delivery_error() {
        let mut message = received(notification_body(&envelope_json()));
        message
            .attributes
            .insert(ATTRIBUTE_ERROR_CODE.into(), "400".into());
        let DeadLetter::Notification(notification) = DeadLetter::decode(&message).unwrap() else {
            panic!("expected a notification");
        };
        assert_eq!(
            notification.delivery_error.error_code.as_deref(),
            Some("400")
        );
        assert_eq!(notification.delivery_error.request_id, None);
        assert_eq!(notification.sns_message_id, "sns-1");
        assert_eq!(notification.timestamp, "2026-11-23T20:00:00.100Z");
        assert_eq!(notification.message_attributes["household_id"], "h-1");
        assert_eq!(notification.envelope.payload, json!({"recipe": "bread"}));
    }

    #[test]
    fn decodes_a_rule_error_message() {
        let device_message = json!({"payload": {"recipe": "soup"}, "household_id": "forged"});
        let body = json!({
            "ruleName": "postoffice_COOKING_REQUESTED",
            "topic": "COOKING_REQUESTED/h-1/oven-1",
            "cloudwatchTraceId": "trace-1",
            "clientId": "oven-1",
            "base64OriginalPayload": BASE64.encode(device_message.to_string()),
            "failures": [{"failedAction": "SnsAction", "failedResource": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED", "errorMessage": "throttled"}]
        });
        let dead = DeadLetter::decode(&received(body.to_string())).unwrap();
        assert_eq!(dead.event(), "COOKING_REQUESTED");
        assert_eq!(dead.household_id(), "h-1");
        let DeadLetter::RuleError(rule_error) = dead else {
            panic!("expected a rule error");
        };
        assert_eq!(rule_error.failures[0].error_message, "throttled");
        let now = Utc::now();
        let envelope = rule_error.envelope(now);
        assert_eq!(envelope.household_id, "h-1");
        assert_eq!(envelope.source, "oven-1");
        assert_eq!(envelope.received_at, Some(now));
        assert_eq!(envelope.payload, json!({"recipe": "soup"}));
    }

    #[test]
    fn decodes_a_base64_encoded_body() {
        let body = BASE64.encode(notification_body(&envelope_json()));
        let dead = DeadLetter::decode(&received(body)).unwrap();
        assert_eq!(dead.device_id(), "oven-1");
    }

    #[test]
    fn says_why_a_message_cannot_be_decoded() {
        let cases = [
            ("hello".to_owned(), "neither an SNS notification"),
            ("{\"a\":1}".to_owned(), "neither an SNS notification"),
            (notification_body("{\"not\":\"an envelope\"}"), "not a valid envelope"),
            (
                notification_body(&envelope_json()).replace("\"Notification\"", "\"SubscriptionConfirmation\""),
                "expected \"Notification\"",
            ),
            (
                json!({"ruleName": "r", "topic": "a/b", "base64OriginalPayload": "e30="}).to_string(),
                "not an EVENT/HOUSEHOLD/DEVICE topic",
            ),
            (
                json!({"ruleName": "r", "topic": "E/h/d", "base64OriginalPayload": "%%%"}).to_string(),
                "not valid base64",
            ),
            (
                json!({"ruleName": "r", "topic": "E/h/d", "base64OriginalPayload": BASE64.encode("[1]")}).to_string(),
                "not a device message",
            ),
        ];
        for (body, expected) in cases {
            let error = DeadLetter::decode(&received(body.clone())).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{body}: {error} should contain {expected:?}"
            );
        }
    }

    /// What the rejection rule of COOKING_REQUESTED writes for `payload`.
    fn rejection(payload: &[u8], unreadable: &[&str]) -> serde_json::Value {
        json!({
            "ruleName": "postoffice_COOKING_REQUESTED_rejected",
            "topic": "COOKING_REQUESTED/h-1/oven-1",
            "clientId": "oven-1",
            "traceId": "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4",
            "receivedAt": "2026-11-23T20:00:00.012Z",
            "unreadable": unreadable,
            "base64OriginalPayload": BASE64.encode(payload),
        })
    }

    fn decode_rejected(body: &serde_json::Value) -> RejectedMessage {
        match DeadLetter::decode(&received(body.to_string())) {
            Ok(DeadLetter::Rejected(rejected)) => *rejected,
            other => panic!("{body} should decode as a rejected message: {other:?}"),
        }
    }

    #[test]
    fn decodes_a_rejected_device_message() {
        let payload = br#"{"event_id":"x","payload":{}}"#;
        let body = rejection(payload, &["event_id"]);
        let dead = DeadLetter::decode(&received(body.to_string())).unwrap();
        assert_eq!(
            (dead.event(), dead.household_id(), dead.device_id()),
            ("COOKING_REQUESTED", "h-1", "oven-1")
        );
        let rejected = decode_rejected(&body);
        assert_eq!(rejected.rule_name, "postoffice_COOKING_REQUESTED_rejected");
        assert_eq!(rejected.topic, "COOKING_REQUESTED/h-1/oven-1");
        assert_eq!(rejected.client_id, "oven-1");
        assert_eq!(
            rejected.trace_id.as_deref(),
            Some("4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4")
        );
        assert_eq!(
            postoffice::envelope::format_time(&rejected.received_at),
            "2026-11-23T20:00:00.012Z"
        );
        assert_eq!(rejected.unreadable, ["event_id"]);
        assert_eq!(rejected.original_payload, payload);
        assert_eq!(
            rejected.payload_text(),
            Some(r#"{"event_id":"x","payload":{}}"#)
        );
    }

    #[test]
    fn decodes_a_collection_member_the_unpacker_rejected() {
        let member = br#"{"event":"COOKING_REQUESTED","payload":{}}"#;
        let mut body = rejection(member, &["event"]);
        body["ruleName"] = json!("collection-unpacker");
        body["topic"] = json!("EVENT_COLLECTION/h-1/oven-1");
        body.as_object_mut().unwrap().remove("traceId");
        body["collectionId"] = json!("2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d");
        body["member"] = json!(3);
        body["detail"] = json!("event: devices may not send COOKING_REQUESTED in a collection");
        let rejected = decode_rejected(&body);
        assert_eq!(rejected.rule_name, "collection-unpacker");
        assert_eq!(rejected.topic_level(0), "EVENT_COLLECTION");
        assert_eq!(rejected.original_payload, member);
        assert_eq!(
            rejected.collection_id.as_deref(),
            Some("2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d")
        );
        assert_eq!(rejected.member, Some(3));
        assert!(rejected.detail.unwrap().contains("COOKING_REQUESTED"));
        // A rule's rejection has none of them.
        let rule = decode_rejected(&rejection(b"{}", &["payload"]));
        assert_eq!(
            (rule.collection_id, rule.member, rule.detail),
            (None, None, None)
        );
        body["member"] = json!("three");
        assert!(matches!(
            DeadLetter::decode(&received(body.to_string())),
            Err(DecodeError::Rejection(_))
        ));
    }

    #[test]
    fn a_rejected_message_need_not_be_text_nor_on_a_post_office_topic() {
        let binary = b"\x00\x01\xfe\xff not utf-8";
        let mut body = rejection(binary, &["topic", "payload"]);
        body["topic"] = json!("COOKING_REQUESTED/h.1/");
        // Not sent over MQTT: no trace id, and no client id.
        body.as_object_mut().unwrap().remove("traceId");
        body["clientId"] = json!("n/a");
        let rejected = decode_rejected(&body);
        assert_eq!(rejected.original_payload, binary);
        assert_eq!(rejected.payload_text(), None);
        assert_eq!(rejected.payload_base64(), BASE64.encode(binary));
        assert_eq!(rejected.trace_id, None);
        assert_eq!(rejected.client_id, "n/a");
        assert_eq!(rejected.unreadable, ["topic", "payload"]);
        assert_eq!(rejected.topic_level(1), "h.1");
        assert_eq!(rejected.topic_level(2), "");
        assert_eq!(rejected.topic_level(3), "");
        assert_eq!(
            decode_rejected(&rejection(b"", &["payload"])).payload_text(),
            Some("")
        );
    }

    #[test]
    fn says_why_a_rejected_message_is_malformed() {
        let valid = rejection(b"{}", &["payload"]);
        let with = |field: &str, value: serde_json::Value| {
            let mut body = valid.clone();
            body[field] = value;
            body
        };
        let without = |field: &str| {
            let mut body = valid.clone();
            body.as_object_mut().unwrap().remove(field);
            body
        };
        let cases = [
            (with("unreadable", json!([])), "names no part"),
            (with("unreadable", json!("payload")), "invalid type"),
            (with("unreadable", json!(null)), "invalid type"),
            (with("unreadable", json!([1])), "invalid type"),
            (
                with("base64OriginalPayload", json!("%%%")),
                "not valid base64",
            ),
            (
                with("receivedAt", json!("yesterday")),
                "not an RFC 3339 time",
            ),
            (with("topic", json!(["a"])), "invalid type"),
            (without("topic"), "missing field `topic`"),
            (without("clientId"), "missing field `clientId`"),
            (without("receivedAt"), "missing field `receivedAt`"),
            (
                without("base64OriginalPayload"),
                "missing field `base64OriginalPayload`",
            ),
            (without("ruleName"), "missing field `ruleName`"),
        ];
        for (body, expected) in cases {
            let error = DeadLetter::decode(&received(body.to_string())).unwrap_err();
            assert!(
                matches!(error, DecodeError::Rejection(_)),
                "{body}: {error:?}"
            );
            let text = error.to_string();
            assert!(
                text.starts_with("malformed rejected device message: ") && text.contains(expected),
                "{body}: {text} should contain {expected:?}"
            );
        }
    }
}
