//! The SNS message as delivered to HTTP(S) endpoints and, with slightly different key names, inside
//! Lambda SNS events.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
        // One pass into the known fields, skipping everything else without building it: memory
        // stays about the size of the fields kept, whatever shape an attacker gives the body.
        let mut fields: Fields = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                SnsError::NotAnObject
            } else {
                SnsError::NotJson(error.to_string())
            }
        })?;

        let f = &mut fields;
        let type_field =
            Fields::string(&mut f.message_type, "Type")?.ok_or(SnsError::MissingType)?;
        let message_type = MessageType::from_type_field(&type_field)
            .ok_or_else(|| SnsError::UnknownType(type_field.clone()))?;
        let required = |key: &'static str, value: Option<String>| {
            value.ok_or(SnsError::MissingField {
                message_type,
                field: key,
            })
        };

        let subscribe_url = Fields::either(
            &mut f.subscribe_url,
            &mut f.subscribe_url_lambda,
            "SubscribeURL",
            "SubscribeUrl",
        )?;
        let token = Fields::string(&mut f.token, "Token")?;
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
            message_id: required("MessageId", Fields::string(&mut f.message_id, "MessageId")?)?,
            topic_arn: required("TopicArn", Fields::string(&mut f.topic_arn, "TopicArn")?)?,
            subject: Fields::string(&mut f.subject, "Subject")?,
            message: required("Message", Fields::string(&mut f.message, "Message")?)?,
            timestamp: required("Timestamp", Fields::string(&mut f.timestamp, "Timestamp")?)?,
            signature_version: required(
                "SignatureVersion",
                Fields::string(&mut f.signature_version, "SignatureVersion")?,
            )?,
            signature: required("Signature", Fields::string(&mut f.signature, "Signature")?)?,
            signing_cert_url: required(
                "SigningCertURL",
                Fields::either(
                    &mut f.signing_cert_url,
                    &mut f.signing_cert_url_lambda,
                    "SigningCertURL",
                    "SigningCertUrl",
                )?,
            )?,
            subscribe_url,
            unsubscribe_url: Fields::either(
                &mut f.unsubscribe_url,
                &mut f.unsubscribe_url_lambda,
                "UnsubscribeURL",
                "UnsubscribeUrl",
            )?,
            token,
            message_attributes: f.attributes()?,
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

/// A field as the body has it.
#[derive(Debug, Default)]
enum Found {
    #[default]
    Absent,
    Null,
    Text(String),
    /// A number, boolean, array or object (skipped, not kept).
    Other,
}

/// `MessageAttributes` as the body has it.
#[derive(Debug, Default)]
enum FoundAttributes {
    #[default]
    Absent,
    Null,
    Map(BTreeMap<String, FoundAttribute>),
    Other,
}

#[derive(Debug)]
enum FoundAttribute {
    Attribute(MessageAttribute),
    NotAnObject,
    NotStrings,
}

/// The fields of an SNS message body that parsing reads, as found; the last of duplicate keys
/// wins, as in any JSON object reader.
#[derive(Debug, Default)]
struct Fields {
    message_type: Found,
    message_id: Found,
    topic_arn: Found,
    subject: Found,
    message: Found,
    timestamp: Found,
    signature_version: Found,
    signature: Found,
    signing_cert_url: Found,
    signing_cert_url_lambda: Found,
    subscribe_url: Found,
    subscribe_url_lambda: Found,
    unsubscribe_url: Found,
    unsubscribe_url_lambda: Found,
    token: Found,
    attributes: FoundAttributes,
}

impl Fields {
    fn slot(&mut self, key: &str) -> Option<&mut Found> {
        Some(match key {
            "Type" => &mut self.message_type,
            "MessageId" => &mut self.message_id,
            "TopicArn" => &mut self.topic_arn,
            "Subject" => &mut self.subject,
            "Message" => &mut self.message,
            "Timestamp" => &mut self.timestamp,
            "SignatureVersion" => &mut self.signature_version,
            "Signature" => &mut self.signature,
            "SigningCertURL" => &mut self.signing_cert_url,
            "SigningCertUrl" => &mut self.signing_cert_url_lambda,
            "SubscribeURL" => &mut self.subscribe_url,
            "SubscribeUrl" => &mut self.subscribe_url_lambda,
            "UnsubscribeURL" => &mut self.unsubscribe_url,
            "UnsubscribeUrl" => &mut self.unsubscribe_url_lambda,
            "Token" => &mut self.token,
            _ => return None,
        })
    }

    /// A string field; absent and `null` both mean "not there".
    fn string(found: &mut Found, key: &'static str) -> Result<Option<String>, SnsError> {
        match std::mem::take(found) {
            Found::Absent | Found::Null => Ok(None),
            Found::Text(value) => Ok(Some(value)),
            Found::Other => Err(SnsError::NotAString { field: key }),
        }
    }

    /// A field spelled `...URL` in HTTP bodies and `...Url` in Lambda events.
    fn either(
        http: &mut Found,
        lambda: &mut Found,
        http_key: &'static str,
        lambda_key: &'static str,
    ) -> Result<Option<String>, SnsError> {
        match (
            Self::string(http, http_key)?,
            Self::string(lambda, lambda_key)?,
        ) {
            (Some(http), Some(lambda)) if http != lambda => Err(SnsError::ConflictingField {
                http_key,
                lambda_key,
            }),
            (Some(value), _) | (None, Some(value)) => Ok(Some(value)),
            (None, None) => Ok(None),
        }
    }

    fn attributes(&mut self) -> Result<BTreeMap<String, MessageAttribute>, SnsError> {
        let attributes = match std::mem::take(&mut self.attributes) {
            FoundAttributes::Absent | FoundAttributes::Null => return Ok(BTreeMap::new()),
            FoundAttributes::Map(attributes) => attributes,
            FoundAttributes::Other => {
                return Err(SnsError::MalformedAttribute {
                    name: "MessageAttributes".to_owned(),
                    reason: "must be an object",
                });
            }
        };
        attributes
            .into_iter()
            .map(|(name, attribute)| match attribute {
                FoundAttribute::Attribute(attribute) => Ok((name, attribute)),
                FoundAttribute::NotAnObject => Err(SnsError::MalformedAttribute {
                    name,
                    reason: "must be an object with Type and Value",
                }),
                FoundAttribute::NotStrings => Err(SnsError::MalformedAttribute {
                    name,
                    reason: "Type and Value must be strings",
                }),
            })
            .collect()
    }
}

/// Drains a sequence or map it does not keep.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an SNS message object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    if key.0 == "MessageAttributes" {
                        fields.attributes = map.next_value()?;
                    } else if let Some(slot) = fields.slot(&key.0) {
                        *slot = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(fields)
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// An object key: borrowed from the body when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(key.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Found {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FoundVisitor;

        impl<'de> Visitor<'de> for FoundVisitor {
            type Value = Found;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Found, E> {
                Ok(Found::Text(value.to_owned()))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Found, E> {
                Ok(Found::Text(value))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
                Ok(Found::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Found, E> {
                Ok(Found::Null)
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
                Ok(Found::Other)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found, E> {
                Ok(Found::Other)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found, E> {
                Ok(Found::Other)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
                Ok(Found::Other)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Found, A::Error> {
                skip_seq(seq).map(|()| Found::Other)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Found, A::Error> {
                skip_map(map).map(|()| Found::Other)
            }
        }

        deserializer.deserialize_any(FoundVisitor)
    }
}

impl<'de> Deserialize<'de> for FoundAttributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttributesVisitor;

        impl<'de> Visitor<'de> for AttributesVisitor {
            type Value = FoundAttributes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FoundAttributes, A::Error> {
                let mut attributes = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    attributes.insert(name, map.next_value()?);
                }
                Ok(FoundAttributes::Map(attributes))
            }

            fn visit_unit<E: de::Error>(self) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Null)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Other)
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Other)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Other)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Other)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<FoundAttributes, E> {
                Ok(FoundAttributes::Other)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FoundAttributes, A::Error> {
                skip_seq(seq).map(|()| FoundAttributes::Other)
            }
        }

        deserializer.deserialize_any(AttributesVisitor)
    }
}

impl<'de> Deserialize<'de> for FoundAttribute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttributeVisitor;

        impl<'de> Visitor<'de> for AttributeVisitor {
            type Value = FoundAttribute;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FoundAttribute, A::Error> {
                let (mut data_type, mut value) = (Found::Absent, Found::Absent);
                while let Some(key) = map.next_key::<Key>()? {
                    match key.0.as_ref() {
                        "Type" => data_type = map.next_value()?,
                        "Value" => value = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(match (data_type, value) {
                    (Found::Text(data_type), Found::Text(value)) => {
                        FoundAttribute::Attribute(MessageAttribute { data_type, value })
                    }
                    _ => FoundAttribute::NotStrings,
                })
            }

            fn visit_unit<E: de::Error>(self) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_none<E: de::Error>(self) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<FoundAttribute, E> {
                Ok(FoundAttribute::NotAnObject)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FoundAttribute, A::Error> {
                skip_seq(seq).map(|()| FoundAttribute::NotAnObject)
            }
        }

        deserializer.deserialize_any(AttributeVisitor)
    }
}
