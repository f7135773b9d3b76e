//! The SNS message as delivered to HTTP(S) endpoints and, with slightly different key names, inside
//! Lambda SNS events.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// What an SNS message is for. Each type has its own string to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn from_type_field(value: &str) -> Option<Self> {
        match value {
            "Notification" => Some(Self::Notification),
            "SubscriptionConfirmation" => Some(Self::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Some(Self::UnsubscribeConfirmation),
            _ => None,
        }
    }

    fn is_confirmation(self) -> bool {
        !matches!(self, Self::Notification)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SNS message attribute (`{"Type": "String", "Value": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageAttribute {
    #[serde(rename = "Type")]
    pub data_type: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// A parsed SNS message. Field values are kept exactly as received: the signature covers them
/// byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    pub message_type: MessageType,
    pub message_id: String,
    pub topic_arn: String,
    /// `None` when absent or `null`; a null Subject is not part of the string to sign.
    pub subject: Option<String>,
    pub message: String,
    /// As SNS wrote it (RFC 3339, milliseconds); never reformatted, it is signed.
    pub timestamp: String,
    pub signature_version: String,
    /// Base64, as received.
    pub signature: String,
    pub signing_cert_url: String,
    /// Confirmations only.
    pub subscribe_url: Option<String>,
    pub unsubscribe_url: Option<String>,
    /// Confirmations only.
    pub token: Option<String>,
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    #[error("SNS message is not valid JSON: {0}")]
    NotJson(String),
    #[error("SNS message is not a JSON object")]
    NotAnObject,
    #[error("SNS message has no `Type` field")]
    MissingType,
    #[error(
        "SNS message `Type` is {0:?}; expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation"
    )]
    UnknownType(String),
    #[error("SNS {message_type} is missing the required field `{field}`")]
    MissingField {
        message_type: MessageType,
        field: &'static str,
    },
    #[error("SNS message field `{field}` must be a string")]
    NotAString { field: &'static str },
    #[error("SNS message has both `{http_key}` and `{lambda_key}` with different values")]
    ConflictingField {
        http_key: &'static str,
        lambda_key: &'static str,
    },
    #[error("SNS message attribute `{name}` is malformed: {reason}")]
    MalformedAttribute { name: String, reason: &'static str },
}

impl SnsMessage {
    /// Parses an SNS message from an HTTP(S) delivery body or from the `Sns` object of a Lambda
    /// SNS event record.
    pub fn parse(body: &[u8]) -> Result<Self, SnsError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|error| SnsError::NotJson(error.to_string()))?;
        let Value::Object(fields) = value else {
            return Err(SnsError::NotAnObject);
        };
        // Fields are moved out of the parsed object, not copied: the hot path of every delivery.
        let mut fields = Fields(fields);

        let type_field = fields.string("Type")?.ok_or(SnsError::MissingType)?;
        let message_type = MessageType::from_type_field(&type_field)
            .ok_or_else(|| SnsError::UnknownType(type_field.clone()))?;
        let required = |key: &'static str, value: Option<String>| {
            value.ok_or(SnsError::MissingField {
                message_type,
                field: key,
            })
        };

        let subscribe_url = fields.either("SubscribeURL", "SubscribeUrl")?;
        let token = fields.string("Token")?;
        let (subscribe_url, token) = if message_type.is_confirmation() {
            (
                Some(required("SubscribeURL", subscribe_url)?),
                Some(required("Token", token)?),
            )
        } else {
            (subscribe_url, token)
        };

        Ok(Self {
            message_type,
            message_id: required("MessageId", fields.string("MessageId")?)?,
            topic_arn: required("TopicArn", fields.string("TopicArn")?)?,
            subject: fields.string("Subject")?,
            message: required("Message", fields.string("Message")?)?,
            timestamp: required("Timestamp", fields.string("Timestamp")?)?,
            signature_version: required("SignatureVersion", fields.string("SignatureVersion")?)?,
            signature: required("Signature", fields.string("Signature")?)?,
            signing_cert_url: required(
                "SigningCertURL",
                fields.either("SigningCertURL", "SigningCertUrl")?,
            )?,
            subscribe_url,
            unsubscribe_url: fields.either("UnsubscribeURL", "UnsubscribeUrl")?,
            token,
            message_attributes: fields.attributes()?,
        })
    }

    /// The message as SNS POSTs it to an HTTP(S) subscriber, keys in SNS's order.
    pub fn to_http_json(&self) -> String {
        let body = HttpBody {
            message_type: self.message_type.as_str(),
            message_id: &self.message_id,
            token: self.token.as_deref(),
            topic_arn: &self.topic_arn,
            subject: self.subject.as_deref(),
            message: &self.message,
            subscribe_url: self.subscribe_url.as_deref(),
            timestamp: &self.timestamp,
            signature_version: &self.signature_version,
            signature: &self.signature,
            signing_cert_url: &self.signing_cert_url,
            unsubscribe_url: self.unsubscribe_url.as_deref(),
            message_attributes: &self.message_attributes,
        };
        serde_json::to_string(&body).expect("string fields always serialise")
    }

    /// The exact bytes SNS signs: `key\nvalue\n` for each signed field of the message's type, in
    /// the documented order.
    pub fn string_to_sign(&self) -> String {
        let mut signed = String::with_capacity(self.message.len() + 512);
        let mut push = |key: &str, value: &str| {
            signed.push_str(key);
            signed.push('\n');
            signed.push_str(value);
            signed.push('\n');
        };
        push("Message", &self.message);
        push("MessageId", &self.message_id);
        match self.message_type {
            MessageType::Notification => {
                if let Some(subject) = &self.subject {
                    push("Subject", subject);
                }
                push("Timestamp", &self.timestamp);
            }
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
                push("SubscribeURL", self.subscribe_url.as_deref().unwrap_or(""));
                push("Timestamp", &self.timestamp);
                push("Token", self.token.as_deref().unwrap_or(""));
            }
        }
        push("TopicArn", &self.topic_arn);
        push("Type", self.message_type.as_str());
        signed
    }
}

#[derive(Serialize)]
struct HttpBody<'a> {
    #[serde(rename = "Type")]
    message_type: &'a str,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "Token", skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(rename = "TopicArn")]
    topic_arn: &'a str,
    #[serde(rename = "Subject", skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(rename = "Message")]
    message: &'a str,
    #[serde(rename = "SubscribeURL", skip_serializing_if = "Option::is_none")]
    subscribe_url: Option<&'a str>,
    #[serde(rename = "Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: &'a str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: &'a str,
    #[serde(rename = "UnsubscribeURL", skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<&'a str>,
    #[serde(
        rename = "MessageAttributes",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    message_attributes: &'a BTreeMap<String, MessageAttribute>,
}

struct Fields(Map<String, Value>);

impl Fields {
    /// A string field; absent and `null` both mean "not there".
    fn string(&mut self, key: &'static str) -> Result<Option<String>, SnsError> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(SnsError::NotAString { field: key }),
        }
    }

    /// A field spelled `...URL` in HTTP bodies and `...Url` in Lambda events.
    fn either(
        &mut self,
        http_key: &'static str,
        lambda_key: &'static str,
    ) -> Result<Option<String>, SnsError> {
        match (self.string(http_key)?, self.string(lambda_key)?) {
            (Some(http), Some(lambda)) if http != lambda => Err(SnsError::ConflictingField {
                http_key,
                lambda_key,
            }),
            (Some(value), _) | (None, Some(value)) => Ok(Some(value)),
            (None, None) => Ok(None),
        }
    }

    fn attributes(&mut self) -> Result<BTreeMap<String, MessageAttribute>, SnsError> {
        let attributes = match self.0.remove("MessageAttributes") {
            None | Some(Value::Null) => return Ok(BTreeMap::new()),
            Some(Value::Object(attributes)) => attributes,
            Some(_) => {
                return Err(SnsError::MalformedAttribute {
                    name: "MessageAttributes".to_owned(),
                    reason: "must be an object",
                });
            }
        };
        attributes
            .into_iter()
            .map(|(name, attribute)| {
                let Value::Object(mut attribute) = attribute else {
                    return Err(SnsError::MalformedAttribute {
                        name,
                        reason: "must be an object with Type and Value",
                    });
                };
                match (attribute.remove("Type"), attribute.remove("Value")) {
                    (Some(Value::String(data_type)), Some(Value::String(value))) => {
                        Ok((name, MessageAttribute { data_type, value }))
                    }
                    _ => Err(SnsError::MalformedAttribute {
                        name,
                        reason: "Type and Value must be strings",
                    }),
                }
            })
            .collect()
    }
}
