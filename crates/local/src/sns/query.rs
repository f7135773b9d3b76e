//! The SNS Query API on the wire, for the actions the local data plane serves: form-encoded
//! parameters in (<https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>,
//! <https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html>), XML out, and the
//! common error shape (<https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html>).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice::sns::MessageAttribute;

const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// "The maximum message size is 256 KB": the message plus its attributes' names, types and values.
pub const MAX_PUBLISH_BYTES: usize = 262_144;
/// "Amazon SNS supports up to 10 message attributes" per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
const MAX_SUBJECT_CHARS: usize = 99;

/// The parameters of one Query request: the form body and the URL's query string together.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct QueryRequest {
    params: BTreeMap<String, String>,
}

impl QueryRequest {
    pub fn parse(query_string: Option<&str>, body: &[u8]) -> Self {
        let mut params = BTreeMap::new();
        let query = query_string.unwrap_or_default().as_bytes();
        for source in [query, body] {
            for (key, value) in url::form_urlencoded::parse(source) {
                params.insert(key.into_owned(), value.into_owned());
            }
        }
        Self { params }
    }

    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// The parameters under `prefix`, with the prefix taken off their names.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.params
            .iter()
            .filter_map(|(name, value)| {
                name.strip_prefix(prefix)
                    .map(|rest| (rest.to_owned(), value.clone()))
            })
            .collect()
    }

    fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "{key} Reason: no value for required parameter"
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    pub topic_arn: String,
    pub message: String,
    pub subject: Option<String>,
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    /// The publisher's `X-Amzn-Trace-Id`: SNS passes the trace on to the subscriptions.
    pub trace_header: Option<String>,
}

impl PublishRequest {
    pub fn from_query(query: &QueryRequest) -> Result<Self, ApiError> {
        if query.get("PhoneNumber").is_some() {
            return Err(ApiError::invalid_parameter(
                "PhoneNumber Reason: the local post office publishes to topics only",
            ));
        }
        if query.get("MessageStructure").is_some() {
            return Err(ApiError::invalid_parameter(
                "MessageStructure Reason: per-protocol messages are not used by Post Office",
            ));
        }
        let topic_arn = query
            .get("TopicArn")
            .or_else(|| query.get("TargetArn"))
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| {
                ApiError::invalid_parameter(
                    "TopicArn or TargetArn Reason: no value for required parameter",
                )
            })?
            .to_owned();
        let message = query
            .get("Message")
            .filter(|message| !message.is_empty())
            .ok_or_else(|| ApiError::invalid_parameter("Empty message"))?
            .to_owned();
        let subject = query.get("Subject").map(str::to_owned);
        if let Some(subject) = &subject
            && (subject.is_empty()
                || subject.chars().count() > MAX_SUBJECT_CHARS
                || subject.chars().any(char::is_control))
        {
            return Err(ApiError::invalid_parameter(
                "Subject Reason: must be 1-99 characters without line breaks or control characters",
            ));
        }
        let message_attributes = message_attributes(query)?;
        let size = message.len()
            + message_attributes
                .iter()
                .map(|(name, value)| name.len() + value.data_type.len() + value.value.len())
                .sum::<usize>();
        if size > MAX_PUBLISH_BYTES {
            return Err(ApiError::invalid_parameter(format!(
                "Message too long: {size} bytes with attributes, the limit is {MAX_PUBLISH_BYTES}"
            )));
        }
        Ok(Self {
            topic_arn,
            message,
            subject,
            message_attributes,
            trace_header: None,
        })
    }
}

/// `MessageAttributes.entry.N.Name`, `.Value.DataType`, `.Value.StringValue|BinaryValue`.
fn message_attributes(
    query: &QueryRequest,
) -> Result<BTreeMap<String, MessageAttribute>, ApiError> {
    let mut attributes = BTreeMap::new();
    for index in 1.. {
        let key = |field: &str| format!("MessageAttributes.entry.{index}.{field}");
        let Some(name) = query.get(&key("Name")) else {
            break;
        };
        let invalid = |reason: &str| {
            ApiError::invalid_parameter(format!(
                "MessageAttributes Reason: attribute {name:?} {reason}"
            ))
        };
        if name.is_empty() || name.len() > 256 {
            return Err(invalid("must have a name of 1-256 characters"));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("aws.") || lower.starts_with("amazon.") {
            return Err(invalid("uses a reserved prefix (AWS. or Amazon.)"));
        }
        let data_type = query
            .get(&key("Value.DataType"))
            .filter(|data_type| !data_type.is_empty())
            .ok_or_else(|| invalid("has no DataType"))?;
        let value = match data_type.split('.').next() {
            Some("String") | Some("Number") => query
                .get(&key("Value.StringValue"))
                .ok_or_else(|| invalid("has no StringValue"))?
                .to_owned(),
            Some("Binary") => {
                let encoded = query
                    .get(&key("Value.BinaryValue"))
                    .ok_or_else(|| invalid("has no BinaryValue"))?;
                BASE64
                    .decode(encoded)
                    .map_err(|_| invalid("has a BinaryValue that is not base64"))?;
                encoded.to_owned()
            }
            _ => {
                return Err(invalid(
                    "has a DataType other than String, Number or Binary",
                ));
            }
        };
        if value.is_empty() {
            return Err(invalid("has an empty value"));
        }
        let attribute = MessageAttribute {
            data_type: data_type.to_owned(),
            value,
        };
        if attributes.insert(name.to_owned(), attribute).is_some() {
            return Err(invalid("is given twice"));
        }
        if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
            return Err(ApiError::invalid_parameter(format!(
                "MessageAttributes Reason: more than {MAX_MESSAGE_ATTRIBUTES} attributes"
            )));
        }
    }
    Ok(attributes)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmSubscriptionRequest {
    pub topic_arn: String,
    pub token: String,
}

impl ConfirmSubscriptionRequest {
    pub fn from_query(query: &QueryRequest) -> Result<Self, ApiError> {
        Ok(Self {
            topic_arn: query.required("TopicArn")?.to_owned(),
            token: query.required("Token")?.to_owned(),
        })
    }
}

/// An error in SNS's shape; the SDKs read `Code` into their typed errors.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn invalid_parameter(reason: impl std::fmt::Display) -> Self {
        Self {
            status: 400,
            code: "InvalidParameter",
            message: format!("Invalid parameter: {reason}"),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            code: "NotFound",
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            code: "InternalError",
            message: message.into(),
        }
    }

    pub fn to_xml(&self, request_id: &str) -> String {
        let kind = if self.status < 500 {
            "Sender"
        } else {
            "Receiver"
        };
        format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.code,
            escape(&self.message)
        )
    }
}

pub fn publish_response(message_id: &str, request_id: &str) -> String {
    response(
        "Publish",
        &format!("<MessageId>{}</MessageId>", escape(message_id)),
        request_id,
    )
}

pub fn confirm_subscription_response(subscription_arn: &str, request_id: &str) -> String {
    response(
        "ConfirmSubscription",
        &format!(
            "<SubscriptionArn>{}</SubscriptionArn>",
            escape(subscription_arn)
        ),
        request_id,
    )
}

fn response(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
         </{action}Response>"
    )
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(body: &str) -> QueryRequest {
        QueryRequest::parse(None, body.as_bytes())
    }

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";

    #[test]
    fn a_publish_with_attributes_is_read_as_the_sdk_writes_it() {
        let body = format!(
            "Action=Publish&Version=2010-03-31&TopicArn={}&Message=%7B%22a%22%3A1%7D\
             &MessageAttributes.entry.1.Name=event&MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=COOKING_REQUESTED\
             &MessageAttributes.entry.2.Name=blob&MessageAttributes.entry.2.Value.DataType=Binary\
             &MessageAttributes.entry.2.Value.BinaryValue=AAE%3D",
            TOPIC.replace(':', "%3A")
        );
        let query = query(&body);
        assert_eq!(query.action(), Some("Publish"));
        let publish = PublishRequest::from_query(&query).unwrap();
        assert_eq!(publish.topic_arn, TOPIC);
        assert_eq!(publish.message, r#"{"a":1}"#);
        assert_eq!(publish.subject, None);
        assert_eq!(publish.message_attributes.len(), 2);
        assert_eq!(
            publish.message_attributes["event"].value,
            "COOKING_REQUESTED"
        );
        assert_eq!(publish.message_attributes["blob"].data_type, "Binary");
        assert_eq!(publish.message_attributes["blob"].value, "AAE=");
    }

    #[test]
    fn parameters_come_from_the_query_string_as_well() {
        let query = QueryRequest::parse(
            Some("Action=ConfirmSubscription&TopicArn=arn%3Ax&Token=abc"),
            b"",
        );
        let confirm = ConfirmSubscriptionRequest::from_query(&query).unwrap();
        assert_eq!(confirm.topic_arn, "arn:x");
        assert_eq!(confirm.token, "abc");
    }

    #[test]
    fn bad_publishes_are_refused_naming_the_parameter() {
        let cases = [
            ("Action=Publish&Message=x", "TopicArn or TargetArn"),
            ("Action=Publish&TopicArn=t", "Empty message"),
            ("Action=Publish&TopicArn=t&Message=", "Empty message"),
            (
                "Action=Publish&TopicArn=t&Message=x&Subject=a%0Ab",
                "Subject",
            ),
            (
                "Action=Publish&PhoneNumber=%2B1555&Message=x",
                "PhoneNumber",
            ),
            (
                "Action=Publish&TopicArn=t&Message=x&MessageStructure=json",
                "MessageStructure",
            ),
            (
                "Action=Publish&TopicArn=t&Message=x&MessageAttributes.entry.1.Name=a",
                "\"a\" has no DataType",
            ),
            (
                "Action=Publish&TopicArn=t&Message=x&MessageAttributes.entry.1.Name=a\
                 &MessageAttributes.entry.1.Value.DataType=String",
                "\"a\" has no StringValue",
            ),
            (
                "Action=Publish&TopicArn=t&Message=x&MessageAttributes.entry.1.Name=AWS.x\
                 &MessageAttributes.entry.1.Value.DataType=String\
                 &MessageAttributes.entry.1.Value.StringValue=v",
                "reserved prefix",
            ),
            (
                "Action=Publish&TopicArn=t&Message=x&MessageAttributes.entry.1.Name=a\
                 &MessageAttributes.entry.1.Value.DataType=Date\
                 &MessageAttributes.entry.1.Value.StringValue=v",
                "other than String, Number or Binary",
            ),
            (
                "Action=Publish&TopicArn=t&Message=x&MessageAttributes.entry.1.Name=a\
                 &MessageAttributes.entry.1.Value.DataType=Binary\
                 &MessageAttributes.entry.1.Value.BinaryValue=%25%25",
                "not base64",
            ),
        ];
        for (body, expected) in cases {
            let error = PublishRequest::from_query(&query(body)).unwrap_err();
            assert_eq!(error.code, "InvalidParameter", "{body}");
            assert_eq!(error.status, 400, "{body}");
            assert!(
                error.message.contains(expected),
                "{body}: {} does not mention {expected}",
                error.message
            );
        }
    }

    #[test]
    fn the_size_limit_counts_attributes_too() {
        let exactly = "x".repeat(MAX_PUBLISH_BYTES);
        let body = format!("Action=Publish&TopicArn=t&Message={exactly}");
        assert!(PublishRequest::from_query(&query(&body)).is_ok());

        let message = "x".repeat(MAX_PUBLISH_BYTES - 10);
        let body = format!(
            "Action=Publish&TopicArn=t&Message={message}&MessageAttributes.entry.1.Name=name\
             &MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=value"
        );
        let error = PublishRequest::from_query(&query(&body)).unwrap_err();
        assert!(
            error.message.contains("Message too long"),
            "{}",
            error.message
        );
    }

    #[test]
    fn more_than_ten_attributes_are_refused() {
        let mut body = String::from("Action=Publish&TopicArn=t&Message=x");
        for index in 1..=11 {
            body.push_str(&format!(
                "&MessageAttributes.entry.{index}.Name=a{index}\
                 &MessageAttributes.entry.{index}.Value.DataType=Number\
                 &MessageAttributes.entry.{index}.Value.StringValue={index}"
            ));
        }
        let error = PublishRequest::from_query(&query(&body)).unwrap_err();
        assert!(error.message.contains("more than 10"), "{}", error.message);
    }

    #[test]
    fn responses_and_errors_are_escaped_xml() {
        let error = ApiError::not_found("Topic <x> & y does not exist");
        let xml = error.to_xml("req-1");
        assert!(xml.contains("<Code>NotFound</Code>"));
        assert!(xml.contains("<Type>Sender</Type>"));
        assert!(xml.contains("Topic &lt;x&gt; &amp; y does not exist"));
        assert!(xml.contains("<RequestId>req-1</RequestId>"));
        assert!(
            ApiError::internal("x")
                .to_xml("r")
                .contains("<Type>Receiver</Type>")
        );
        let ok = publish_response("m-1", "req-2");
        assert!(ok.starts_with("<PublishResponse"));
        assert!(ok.contains("<PublishResult><MessageId>m-1</MessageId></PublishResult>"));
    }
}
