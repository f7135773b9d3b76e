//! The endpoint's HTTP handling: one SNS push request in, one response out.
//!
//! Pure apart from the ports: the verifier's certificate fetcher and clock, the handler and the
//! subscription confirmer. The tower service, the function URL adapter and tests call
//! [`SnsEndpoint::handle`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Request, Response, header};
use tokio::time::Instant;

use super::config::{AllowedTopics, EndpointConfig, RESPONSE_DEADLINE};
use super::decision::{Decision, decide_answer};
use super::ports::{HandlerPort, SubscriptionConfirmer};
use super::telemetry;
use crate::Envelope;
use crate::invocation::{Delivery, HandlerInvocation};
use crate::sns::{CertificateFetcher, Clock, MessageType, SnsMessage, Verifier};

/// SNS caps a message (body plus attributes) at 256 KiB. The HTTP body wraps it in JSON, where
/// escaping can double the message's size (every `"` of an envelope becomes `\"`), plus the
/// signature, URLs and other fields. Anything larger cannot come from SNS.
pub const MAX_BODY_BYTES: usize = 2 * 256 * 1024 + 16 * 1024;

/// What the endpoint knows about a request once decided: enough to answer, log and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub decision: Decision,
    pub sns_message_id: Option<String>,
    pub topic_arn: Option<String>,
    pub event: Option<String>,
    pub household_id: Option<String>,
    pub device_id: Option<String>,
    /// Time spent in the handler, when it was called.
    pub handler_latency: Option<Duration>,
    /// Why, for the log only: never echoed to the caller.
    pub detail: Option<String>,
}

impl Report {
    pub(crate) fn new(decision: Decision) -> Self {
        Self {
            decision,
            sns_message_id: None,
            topic_arn: None,
            event: None,
            household_id: None,
            device_id: None,
            handler_latency: None,
            detail: None,
        }
    }
}

/// SNS's HTTPS endpoint in front of a handler: verifies, confirms subscriptions, calls the
/// handler and answers with the status that tells SNS "done", "retry" or "dead-letter"
/// (the table in [`Decision`]).
pub struct SnsEndpoint<F, C, H, S> {
    allowed_topics: AllowedTopics,
    handler_timeout: Duration,
    max_message_age: Duration,
    verifier: Arc<Verifier<F, C>>,
    clock: C,
    handler: H,
    confirmer: S,
}

impl<F, C, H, S> SnsEndpoint<F, C, H, S>
where
    F: CertificateFetcher,
    C: Clock + Clone,
    H: HandlerPort,
    S: SubscriptionConfirmer,
{
    /// `verifier` must use the same clock as `clock` (message age and certificate validity
    /// are judged at the same time). The configuration's minimum signature version applies to it.
    pub fn new(
        config: &EndpointConfig,
        verifier: Verifier<F, C>,
        clock: C,
        handler: H,
        confirmer: S,
    ) -> Self {
        let verifier = verifier.with_minimum_signature_version(config.min_signature_version);
        Self::sharing_verifier(config, Arc::new(verifier), clock, handler, confirmer)
    }

    /// Several endpoints (one per handler of a tower layer) share one verifier and its
    /// certificate cache; it must already have the configuration's minimum signature version.
    pub(crate) fn sharing_verifier(
        config: &EndpointConfig,
        verifier: Arc<Verifier<F, C>>,
        clock: C,
        handler: H,
        confirmer: S,
    ) -> Self {
        Self {
            allowed_topics: config.allowed_topics.clone(),
            handler_timeout: config.handler_timeout,
            max_message_age: config.max_message_age,
            verifier,
            clock,
            handler,
            confirmer,
        }
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Handles one request: decides, logs, writes the metric line, answers.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        self.handle_from(request, Instant::now()).await
    }

    pub(crate) async fn handle_from(
        &self,
        request: Request<Bytes>,
        arrived: Instant,
    ) -> Response<Bytes> {
        let report = self.decide_from(request, arrived).await;
        self.answer(&report, arrived)
    }

    /// Logs and counts a decided request and answers it.
    pub(crate) fn answer(&self, report: &Report, arrived: Instant) -> Response<Bytes> {
        telemetry::record(self.handler.name(), report, arrived.elapsed());
        respond(report.decision)
    }

    /// Decides what to answer, calling the ports on the way, without logging.
    pub async fn decide(&self, request: Request<Bytes>) -> Report {
        self.decide_from(request, Instant::now()).await
    }

    /// Everything from certificate fetching to the handler's answer runs against one deadline,
    /// [`RESPONSE_DEADLINE`] after the request `arrived`: SNS gives up after 15 s and counts the
    /// delivery as failed even if the endpoint later succeeds, so an answer past it is worthless,
    /// while a 5xx in time keeps SNS's retries going.
    async fn decide_from(&self, request: Request<Bytes>, arrived: Instant) -> Report {
        let deadline = arrived + RESPONSE_DEADLINE;
        let mut report = Report::new(Decision::Handled);
        let Some(message) = self.admit(&request, &mut report) else {
            return report;
        };
        let mut timed_out = report.clone();
        match tokio::time::timeout_at(deadline, self.verify_and_act(message, report, deadline))
            .await
        {
            Ok(report) => report,
            Err(_) => {
                timed_out.decision = Decision::DeadlineExceeded;
                timed_out.detail = Some(format!(
                    "no decision within {} ms of arrival",
                    RESPONSE_DEADLINE.as_millis()
                ));
                timed_out
            }
        }
    }

    /// The checks that need nothing but the request: method, size, shape, headers, topic. The
    /// message when it passes them; otherwise `report` holds the decision.
    fn admit(&self, request: &Request<Bytes>, report: &mut Report) -> Option<SnsMessage> {
        let mut decide = |decision: Decision, detail: Option<String>| {
            report.decision = decision;
            report.detail = detail;
            None
        };
        if request.method() != Method::POST {
            return decide(Decision::MethodNotAllowed, None);
        }
        let body = request.body();
        if body.len() > MAX_BODY_BYTES {
            return decide(
                Decision::BodyTooLarge,
                Some(format!("{} bytes", body.len())),
            );
        }
        let message = match SnsMessage::parse(body) {
            Ok(message) => message,
            Err(error) => return decide(Decision::MalformedMessage, Some(error.to_string())),
        };
        report.sns_message_id = Some(message.message_id.clone());
        report.topic_arn = Some(message.topic_arn.clone());

        if let Some(mismatch) = header_mismatch(request, &message) {
            report.decision = Decision::HeaderMismatch;
            report.detail = Some(mismatch);
            return None;
        }
        // Before verifying: a stranger's topic must not even cost a certificate fetch.
        if !self.allowed_topics.allows(&message.topic_arn) {
            report.decision = Decision::TopicNotAllowed;
            report.detail = Some("not in the allowed topics".into());
            return None;
        }
        Some(message)
    }

    async fn verify_and_act(
        &self,
        message: SnsMessage,
        mut report: Report,
        deadline: Instant,
    ) -> Report {
        if let Err(error) = self.verifier.verify(&message).await {
            let decision = if error.is_transient() {
                Decision::CertificateUnavailable
            } else {
                Decision::SignatureRejected
            };
            return reject(report, decision, error.reason().to_owned());
        }

        match message.message_type {
            MessageType::SubscriptionConfirmation => {
                let token = message.token.as_deref().unwrap_or_default();
                match self
                    .confirmer
                    .confirm_subscription(&message.topic_arn, token)
                    .await
                {
                    Ok(subscription_arn) => {
                        report.decision = Decision::SubscriptionConfirmed;
                        report.detail = Some(subscription_arn);
                        report
                    }
                    Err(error) => reject(report, Decision::ConfirmationFailed, error.to_string()),
                }
            }
            MessageType::UnsubscribeConfirmation => {
                report.decision = Decision::UnsubscribeConfirmed;
                report
            }
            MessageType::Notification => self.deliver(message, report, deadline).await,
        }
    }

    async fn deliver(&self, message: SnsMessage, mut report: Report, deadline: Instant) -> Report {
        let published = match DateTime::parse_from_rfc3339(&message.timestamp) {
            Ok(published) => published.with_timezone(&Utc),
            Err(_) => {
                report.decision = Decision::MalformedMessage;
                report.detail = Some("Timestamp is not RFC 3339".into());
                return report;
            }
        };
        let age = self.clock.now().signed_duration_since(published);
        if age.to_std().is_ok_and(|age| age > self.max_message_age) {
            report.decision = Decision::MessageTooOld;
            report.detail = Some(format!("published {} s ago", age.num_seconds()));
            return report;
        }

        let envelope = match Envelope::from_json(message.message.as_bytes()) {
            Ok(envelope) => envelope,
            Err(error) => {
                report.decision = Decision::NotAnEnvelope;
                report.detail = Some(error.to_string());
                return report;
            }
        };
        report.event = Some(envelope.event.clone());
        report.household_id = Some(envelope.household_id.clone());
        report.device_id = Some(envelope.device_id.clone());
        // The topic is what the publisher was allowed to publish to; the envelope is what it
        // wrote. Only their agreement makes the event the topic's.
        // On the consumer's redrive topic, any of its own events.
        if let Err(mismatch) = self
            .allowed_topics
            .carries(&message.topic_arn, &envelope.event)
        {
            report.decision = Decision::EventTopicMismatch;
            report.detail = Some(mismatch);
            return report;
        }
        let redriven = self.allowed_topics.is_redrive(&message.topic_arn);

        let invocation = HandlerInvocation {
            envelope,
            delivery: Delivery {
                sns_message_id: message.message_id,
                topic_arn: message.topic_arn,
                timestamp: message.timestamp,
                message_attributes: message
                    .message_attributes
                    .into_iter()
                    .map(|(name, attribute)| (name, attribute.value))
                    .collect::<BTreeMap<_, _>>(),
                redriven,
            },
        };

        let called = Instant::now();
        let left = deadline.saturating_duration_since(called);
        let (timeout, cut_by_deadline) = if left < self.handler_timeout {
            (left, true)
        } else {
            (self.handler_timeout, false)
        };
        let answer = tokio::time::timeout(timeout, self.handler.call(invocation)).await;
        report.handler_latency = Some(called.elapsed());
        let (decision, detail) = match answer {
            Ok(answer) => decide_answer(answer),
            // A Lambda handler may still finish; SNS redelivers with the same MessageId and
            // event_id, which is what handlers deduplicate on. A handler in this process is
            // cancelled: its idempotency claim, if any, lapses and a later retry runs it.
            Err(_) if cut_by_deadline => (
                Decision::DeadlineExceeded,
                Some(format!(
                    "no answer within the {} ms left of the response deadline",
                    timeout.as_millis()
                )),
            ),
            Err(_) => (
                Decision::InvokeTimedOut,
                Some(format!("no answer within {} ms", timeout.as_millis())),
            ),
        };
        report.decision = decision;
        report.detail = detail;
        report
    }
}

fn reject(mut report: Report, decision: Decision, detail: String) -> Report {
    report.decision = decision;
    report.detail = Some(detail);
    report
}

/// `x-amz-sns-message-type` and `x-amz-sns-topic-arn` are not signed, but SNS always sends them,
/// once, equal to the body
/// (<https://docs.aws.amazon.com/sns/latest/dg/http-header.html>); a request where the message
/// type is missing or either differs was not built by SNS.
fn header_mismatch(request: &Request<Bytes>, message: &SnsMessage) -> Option<String> {
    const MESSAGE_TYPE: &str = "x-amz-sns-message-type";
    if request.headers().get(MESSAGE_TYPE).is_none() {
        return Some(format!("{MESSAGE_TYPE} is missing"));
    }
    let checks = [
        (MESSAGE_TYPE, message.message_type.as_str()),
        ("x-amz-sns-topic-arn", message.topic_arn.as_str()),
    ];
    checks.into_iter().find_map(|(name, expected)| {
        let mut values = request.headers().get_all(name).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return Some(format!("{name} is sent more than once"));
        }
        (value.as_bytes() != expected.as_bytes()).then(|| format!("{name} differs from the body"))
    })
}

pub fn respond(decision: Decision) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(decision.body()));
    *response.status_mut() = http::StatusCode::from_u16(decision.status())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
