//! The contract between a bridge and a handler Lambda.
//!
//! The bridge invokes the handler synchronously with a [`HandlerInvocation`] as the payload. The
//! handler answers with any JSON on success, or with a Lambda function error whose `errorType`
//! is [`ERROR_TYPE_RETRYABLE`] or [`ERROR_TYPE_NON_RETRYABLE`]. [`classify`] turns the Lambda
//! Invoke answer into an [`InvocationOutcome`], which decides the HTTP status SNS sees.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;

/// `errorType` of a handler failure worth retrying (the bridge answers 5xx: SNS retries).
pub const ERROR_TYPE_RETRYABLE: &str = "Retryable";
/// `errorType` of a permanent handler failure (the bridge answers 4xx: SNS dead-letters it).
pub const ERROR_TYPE_NON_RETRYABLE: &str = "NonRetryable";

/// The payload a handler Lambda is invoked with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerInvocation {
    pub envelope: Envelope,
    pub delivery: Delivery,
}

/// How the envelope reached the handler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delivery {
    /// SNS MessageId. Stable across SNS retries of one message.
    pub sns_message_id: String,
    pub topic_arn: String,
    /// SNS publish time (RFC 3339, as SNS sent it).
    pub timestamp: String,
    /// SNS message attributes, name → string value.
    #[serde(default)]
    pub message_attributes: BTreeMap<String, String>,
    /// True when it came on the consumer's redrive topic: `postoffice dlq redrive` republished it
    /// from the consumer's dead-letter queue.
    #[serde(default)]
    pub redriven: bool,
}

/// The error body Lambda returns for a function error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionError {
    #[serde(rename = "errorType", default)]
    pub error_type: String,
    #[serde(rename = "errorMessage", default)]
    pub error_message: String,
}

/// What became of one handler invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationOutcome {
    /// The handler succeeded (HTTP 200 to SNS).
    Handled,
    /// The handler said the message can never succeed (HTTP 400: straight to the DLQ).
    Permanent { message: String },
    /// Any other failure: function error, invoke error, timeout (HTTP 500: SNS retries).
    Retryable { message: String },
    /// Lambda throttled the invoke (HTTP 503: SNS retries).
    Throttled { message: String },
}

impl InvocationOutcome {
    /// The HTTP status a bridge answers SNS with.
    pub fn http_status(&self) -> u16 {
        match self {
            InvocationOutcome::Handled => 200,
            InvocationOutcome::Permanent { .. } => 400,
            InvocationOutcome::Retryable { .. } => 500,
            InvocationOutcome::Throttled { .. } => 503,
        }
    }

    /// A short stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            InvocationOutcome::Handled => "handled",
            InvocationOutcome::Permanent { .. } => "permanent",
            InvocationOutcome::Retryable { .. } => "retryable",
            InvocationOutcome::Throttled { .. } => "throttled",
        }
    }
}

/// Classifies a completed Lambda Invoke: `function_error` is the `X-Amz-Function-Error` header
/// (Lambda answers 200 with it set on a function error) and `payload` the response payload.
pub fn classify(function_error: Option<&str>, payload: &[u8]) -> InvocationOutcome {
    let Some(header) = function_error else {
        return InvocationOutcome::Handled;
    };
    match serde_json::from_slice::<FunctionError>(payload) {
        Ok(error) if error.error_type == ERROR_TYPE_NON_RETRYABLE => InvocationOutcome::Permanent {
            message: error.error_message,
        },
        Ok(error) => InvocationOutcome::Retryable {
            message: format!("{} ({header}): {}", error.error_type, error.error_message),
        },
        Err(_) => InvocationOutcome::Retryable {
            message: format!("function error {header} with an unreadable payload"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_invoke_answers() {
        assert_eq!(classify(None, b"{}"), InvocationOutcome::Handled);
        let permanent = classify(
            Some("Unhandled"),
            br#"{"errorType":"NonRetryable","errorMessage":"bad payload"}"#,
        );
        assert_eq!(
            permanent,
            InvocationOutcome::Permanent {
                message: "bad payload".into()
            }
        );
        assert_eq!(permanent.http_status(), 400);
        let retryable = classify(
            Some("Unhandled"),
            br#"{"errorType":"Retryable","errorMessage":"db down"}"#,
        );
        assert_eq!(retryable.http_status(), 500);
        assert_eq!(classify(Some("Unhandled"), b"not json").http_status(), 500);
        let timeout = classify(
            Some("Unhandled"),
            br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}"#,
        );
        assert_eq!(timeout.name(), "retryable");
    }
}
