//! What a filter policy looks at: the message body and its message attributes
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html>).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A message attribute's data type. SNS compares policies with `String`, `String.Array` and
/// `Number` attributes and ignores `Binary` ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    String,
    #[serde(rename = "String.Array")]
    StringArray,
    Number,
    Binary,
}

/// One message attribute, in the shape SNS writes it into notifications
/// (`{"Type": "String", "Value": "..."}`); a `Binary` value is its base64 text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    #[serde(rename = "Type")]
    pub data_type: DataType,
    #[serde(rename = "Value")]
    pub value: String,
}

impl MessageAttribute {
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            data_type: DataType::String,
            value: value.into(),
        }
    }

    /// `value` is the array's JSON text, as published: `["rugby", "tennis"]`.
    pub fn string_array(value: impl Into<String>) -> Self {
        Self {
            data_type: DataType::StringArray,
            value: value.into(),
        }
    }

    pub fn number(value: impl Into<String>) -> Self {
        Self {
            data_type: DataType::Number,
            value: value.into(),
        }
    }

    pub fn binary(base64: impl Into<String>) -> Self {
        Self {
            data_type: DataType::Binary,
            value: base64.into(),
        }
    }
}

/// Message attributes by name.
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

static NO_ATTRIBUTES: MessageAttributes = BTreeMap::new();

/// A published message as a subscription's filter policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The `Message` of `Publish`: read as JSON for `MessageBody` policies.
    pub body: &'a str,
    pub attributes: &'a MessageAttributes,
}

impl<'a> Message<'a> {
    pub fn new(body: &'a str, attributes: &'a MessageAttributes) -> Self {
        Self { body, attributes }
    }

    /// A message without message attributes, such as every event an IoT rule publishes.
    pub fn body(body: &'a str) -> Self {
        Self {
            body,
            attributes: &NO_ATTRIBUTES,
        }
    }
}
