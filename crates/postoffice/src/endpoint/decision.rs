//! The decision table: every way a request can end, with the HTTP status SNS sees.
//!
//! SNS treats 2xx as delivered, 5xx as "retry with backoff" (server-side errors,
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html>), and other 4xx
//! as permanent: it moves the message to the subscription's dead-letter queue at once
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html>). So every outcome
//! here is either done, retried, or parked; none drops a message. The endpoint never answers 429,
//! whose treatment is the one 4xx in doubt: a retryable outcome is a 5xx, a permanent one a 4xx
//! other than 429.
//!
//! The names say "invoke" for the call of the handler port, whether it is a Lambda invoke (the
//! bridge) or a call in the same process (an embedded endpoint): one table, one set of metrics.

use serde::Serialize;

use super::ports::HandlerAnswer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    MethodNotAllowed,
    BodyTooLarge,
    MalformedMessage,
    /// An `x-amz-sns-*` header contradicts the body.
    HeaderMismatch,
    TopicNotAllowed,
    SignatureRejected,
    /// The signing certificate could not be fetched or read: not the message's fault.
    CertificateUnavailable,
    /// The envelope's event is not the event of the topic it came on.
    EventTopicMismatch,
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
    /// The handler could not be reached (a failed Lambda invoke).
    InvokeFailed,
    InvokeTimedOut,
    /// The request could not be decided within the endpoint's response deadline.
    DeadlineExceeded,
    Throttled,
}

impl Decision {
    pub fn status(self) -> u16 {
        match self {
            Self::SubscriptionConfirmed | Self::UnsubscribeConfirmed | Self::Handled => 200,
            Self::MalformedMessage
            | Self::HeaderMismatch
            | Self::MessageTooOld
            | Self::NotAnEnvelope
            | Self::EventTopicMismatch
            | Self::HandlerRejected => 400,
            Self::TopicNotAllowed | Self::SignatureRejected => 403,
            Self::MethodNotAllowed => 405,
            Self::BodyTooLarge => 413,
            Self::ConfirmationFailed
            | Self::HandlerFailed
            | Self::InvokeFailed
            | Self::InvokeTimedOut => 500,
            Self::CertificateUnavailable => 502,
            Self::Throttled => 503,
            Self::DeadlineExceeded => 504,
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
            | Self::NotAnEnvelope
            | Self::EventTopicMismatch => "rejected",
            Self::SubscriptionConfirmed => "confirmed",
            Self::UnsubscribeConfirmed => "unsubscribed",
            Self::Handled => "handled",
            Self::HandlerRejected => "permanent",
            Self::ConfirmationFailed
            | Self::CertificateUnavailable
            | Self::HandlerFailed
            | Self::InvokeFailed
            | Self::InvokeTimedOut
            | Self::DeadlineExceeded => "retryable",
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
            Self::CertificateUnavailable => "certificate_unavailable",
            Self::EventTopicMismatch => "event_topic_mismatch",
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
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Throttled => "handler_throttled",
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

/// Decides on the handler port's answer. The detail is for logs only.
pub fn decide_answer(answer: HandlerAnswer) -> (Decision, Option<String>) {
    match answer {
        HandlerAnswer::Handled => (Decision::Handled, None),
        HandlerAnswer::Permanent { message } => (Decision::HandlerRejected, Some(message)),
        HandlerAnswer::Retryable { message } => (Decision::HandlerFailed, Some(message)),
        HandlerAnswer::Throttled { message } => (Decision::Throttled, Some(message)),
        HandlerAnswer::Unreachable { message } => (Decision::InvokeFailed, Some(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_answers_map_to_the_issue_table() {
        let message = || "why".to_owned();
        let cases = [
            (HandlerAnswer::Handled, Decision::Handled, 200),
            (
                HandlerAnswer::Permanent { message: message() },
                Decision::HandlerRejected,
                400,
            ),
            (
                HandlerAnswer::Retryable { message: message() },
                Decision::HandlerFailed,
                500,
            ),
            (
                HandlerAnswer::Throttled { message: message() },
                Decision::Throttled,
                503,
            ),
            (
                HandlerAnswer::Unreachable { message: message() },
                Decision::InvokeFailed,
                500,
            ),
        ];
        for (answer, decision, status) in cases {
            let (decided, detail) = decide_answer(answer.clone());
            assert_eq!(decided, decision, "{answer:?}");
            assert_eq!(decided.status(), status, "{answer:?}");
            assert_eq!(detail.is_some(), answer != HandlerAnswer::Handled);
        }
    }

    const ALL: [Decision; 20] = [
        Decision::MethodNotAllowed,
        Decision::BodyTooLarge,
        Decision::MalformedMessage,
        Decision::HeaderMismatch,
        Decision::TopicNotAllowed,
        Decision::SignatureRejected,
        Decision::CertificateUnavailable,
        Decision::EventTopicMismatch,
        Decision::MessageTooOld,
        Decision::NotAnEnvelope,
        Decision::SubscriptionConfirmed,
        Decision::ConfirmationFailed,
        Decision::UnsubscribeConfirmed,
        Decision::Handled,
        Decision::HandlerRejected,
        Decision::HandlerFailed,
        Decision::InvokeFailed,
        Decision::InvokeTimedOut,
        Decision::DeadlineExceeded,
        Decision::Throttled,
    ];

    /// SNS retries 5xx and dead-letters other statuses at once: whatever may succeed later must
    /// be a 5xx, and nothing answers 429, whose treatment by SNS the documentation leaves open.
    #[test]
    fn retryable_outcomes_are_5xx_and_nothing_is_429() {
        for decision in ALL {
            let status = decision.status();
            assert_ne!(status, 429, "{decision:?}");
            match decision.outcome() {
                "retryable" | "throttled" => assert!((500..600).contains(&status), "{decision:?}"),
                "rejected" | "permanent" => assert!((400..500).contains(&status), "{decision:?}"),
                _ => assert!((200..300).contains(&status), "{decision:?}"),
            }
        }
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
