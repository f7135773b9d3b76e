//! The decision table: every way a request can end, with the HTTP status SNS sees.
//!
//! SNS treats 2xx as delivered, 5xx (and 429/503) as "retry with backoff", and other 4xx as
//! permanent: it moves the message to the subscription's dead-letter queue at once. So every
//! outcome here is either done, retried, or parked; none drops a message.

use postoffice::invocation::{self, InvocationOutcome};
use serde::Serialize;

use crate::ports::InvokeAnswer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    MethodNotAllowed,
    BodyTooLarge,
    MalformedMessage,
    /// An `x-amz-sns-*` header contradicts the body.
    HeaderMismatch,
    TopicNotAllowed,
    SignatureRejected,
    /// Older than the configured maximum age: a replay, or a retry the platform gave up on.
    MessageTooOld,
    /// A verified Notification whose `Message` is not a Post Office envelope.
    NotAnEnvelope,
    SubscriptionConfirmed,
    ConfirmationFailed,
    UnsubscribeConfirmed,
    Handled,
    /// The handler answered `NonRetryable`.
    HandlerRejected,
    /// Any other function error.
    HandlerFailed,
    InvokeFailed,
    InvokeTimedOut,
    Throttled,
    /// Building the invocation failed; cannot happen with well-formed types, retried if it does.
    Internal,
}

impl Decision {
    pub fn status(self) -> u16 {
        match self {
            Self::SubscriptionConfirmed | Self::UnsubscribeConfirmed | Self::Handled => 200,
            Self::MalformedMessage
            | Self::HeaderMismatch
            | Self::MessageTooOld
            | Self::NotAnEnvelope
            | Self::HandlerRejected => 400,
            Self::TopicNotAllowed | Self::SignatureRejected => 403,
            Self::MethodNotAllowed => 405,
            Self::BodyTooLarge => 413,
            Self::ConfirmationFailed
            | Self::HandlerFailed
            | Self::InvokeFailed
            | Self::InvokeTimedOut
            | Self::Internal => 500,
            Self::Throttled => 503,
        }
    }

    /// Coarse outcome: the metric dimension and the body's `outcome`.
    pub fn outcome(self) -> &'static str {
        match self {
            Self::MethodNotAllowed
            | Self::BodyTooLarge
            | Self::MalformedMessage
            | Self::HeaderMismatch
            | Self::TopicNotAllowed
            | Self::SignatureRejected
            | Self::MessageTooOld
            | Self::NotAnEnvelope => "rejected",
            Self::SubscriptionConfirmed => "confirmed",
            Self::UnsubscribeConfirmed => "unsubscribed",
            Self::Handled => "handled",
            Self::HandlerRejected => "permanent",
            Self::ConfirmationFailed
            | Self::HandlerFailed
            | Self::InvokeFailed
            | Self::InvokeTimedOut
            | Self::Internal => "retryable",
            Self::Throttled => "throttled",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BodyTooLarge => "body_too_large",
            Self::MalformedMessage => "malformed_message",
            Self::HeaderMismatch => "header_mismatch",
            Self::TopicNotAllowed => "topic_not_allowed",
            Self::SignatureRejected => "signature_rejected",
            Self::MessageTooOld => "message_too_old",
            Self::NotAnEnvelope => "message_not_envelope",
            Self::SubscriptionConfirmed => "subscription_confirmed",
            Self::ConfirmationFailed => "confirmation_failed",
            Self::UnsubscribeConfirmed => "unsubscribe_confirmed",
            Self::Handled => "handled",
            Self::HandlerRejected => "handler_non_retryable",
            Self::HandlerFailed => "handler_failed",
            Self::InvokeFailed => "invoke_failed",
            Self::InvokeTimedOut => "invoke_timed_out",
            Self::Throttled => "handler_throttled",
            Self::Internal => "internal_error",
        }
    }

    /// The short JSON body of every response.
    pub fn body(self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body {
            outcome: &'static str,
            reason: &'static str,
        }
        serde_json::to_vec(&Body {
            outcome: self.outcome(),
            reason: self.reason(),
        })
        .unwrap_or_default()
    }
}

/// Decides on a handler invoke's answer through the library's [`invocation::classify`], the
/// same rule `postoffice dlq redrive` uses. The detail is for logs only.
pub fn decide_invocation(answer: InvokeAnswer) -> (Decision, Option<String>) {
    match answer {
        InvokeAnswer::Completed {
            function_error,
            payload,
        } => match invocation::classify(function_error.as_deref(), &payload) {
            InvocationOutcome::Handled => (Decision::Handled, None),
            InvocationOutcome::Permanent { message } => (Decision::HandlerRejected, Some(message)),
            InvocationOutcome::Retryable { message } => (Decision::HandlerFailed, Some(message)),
            InvocationOutcome::Throttled { message } => (Decision::Throttled, Some(message)),
        },
        InvokeAnswer::Throttled { detail } => (Decision::Throttled, Some(detail)),
        InvokeAnswer::Failed { detail } => (Decision::InvokeFailed, Some(detail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(function_error: Option<&str>, payload: &str) -> InvokeAnswer {
        InvokeAnswer::Completed {
            function_error: function_error.map(str::to_owned),
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn invoke_answers_map_to_the_issue_table() {
        let cases = [
            (completed(None, r#"{"ok":true}"#), Decision::Handled, 200),
            (
                completed(
                    Some("Unhandled"),
                    r#"{"errorType":"NonRetryable","errorMessage":"unknown recipe"}"#,
                ),
                Decision::HandlerRejected,
                400,
            ),
            (
                completed(
                    Some("Unhandled"),
                    r#"{"errorType":"Retryable","errorMessage":"db down"}"#,
                ),
                Decision::HandlerFailed,
                500,
            ),
            (
                completed(Some("Unhandled"), "Task timed out"),
                Decision::HandlerFailed,
                500,
            ),
            (
                InvokeAnswer::Throttled {
                    detail: "Rate exceeded".into(),
                },
                Decision::Throttled,
                503,
            ),
            (
                InvokeAnswer::Failed {
                    detail: "connection refused".into(),
                },
                Decision::InvokeFailed,
                500,
            ),
        ];
        for (answer, decision, status) in cases {
            let (decided, _) = decide_invocation(answer.clone());
            assert_eq!(decided, decision, "{answer:?}");
            assert_eq!(decided.status(), status, "{answer:?}");
        }
        let (_, detail) = decide_invocation(completed(
            Some("Unhandled"),
            r#"{"errorType":"NonRetryable","errorMessage":"unknown recipe"}"#,
        ));
        assert_eq!(detail.as_deref(), Some("unknown recipe"));
    }

    #[test]
    fn bodies_are_short_machine_readable_json() {
        let body: serde_json::Value =
            serde_json::from_slice(&Decision::TopicNotAllowed.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"outcome": "rejected", "reason": "topic_not_allowed"})
        );
        assert!(Decision::HandlerRejected.body().len() < 64);
    }
}
