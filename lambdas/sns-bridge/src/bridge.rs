//! The bridge's HTTP handling: one SNS push request in, one response out.
//!
//! Pure apart from the ports: the verifier's certificate fetcher and clock, the handler
//! invoker and the subscription confirmer. `main.rs` adapts `lambda_http` to [`Bridge::handle`];
//! tests call it directly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Request, Response, header};
use postoffice::Envelope;
use postoffice::invocation::{Delivery, HandlerInvocation};
use postoffice::sns::{CertificateFetcher, Clock, MessageType, SnsMessage, Verifier};

use crate::config::{AllowedTopics, BridgeConfig};
use crate::decision::{Decision, decide_invocation};
use crate::ports::{HandlerInvoker, SubscriptionConfirmer};
use crate::telemetry;

/// SNS caps a message (body plus attributes) at 256 KiB. The HTTP body wraps it in JSON, where
/// escaping can double the message's size (every `"` of an envelope becomes `\"`), plus the
/// signature, URLs and other fields. Anything larger cannot come from SNS.
pub const MAX_BODY_BYTES: usize = 2 * 256 * 1024 + 16 * 1024;

/// What the bridge knows about a request once decided: enough to answer, log and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub decision: Decision,
    pub sns_message_id: Option<String>,
    pub topic_arn: Option<String>,
    pub event: Option<String>,
    pub household_id: Option<String>,
    pub device_id: Option<String>,
    /// Time spent in the handler invoke, when there was one.
    pub handler_latency: Option<Duration>,
    /// Why, for the log only: never echoed to the caller.
    pub detail: Option<String>,
}

impl Report {
    fn new(decision: Decision) -> Self {
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

    fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

pub struct Bridge<F, C, I, S> {
    handler_function: String,
    allowed_topics: AllowedTopics,
    invoke_timeout: Duration,
    max_message_age: Duration,
    verifier: Verifier<F, C>,
    clock: C,
    invoker: I,
    confirmer: S,
}

impl<F, C, I, S> Bridge<F, C, I, S>
where
    F: CertificateFetcher,
    C: Clock + Clone,
    I: HandlerInvoker,
    S: SubscriptionConfirmer,
{
    /// `verifier` must use the same clock as `clock` (message age and certificate validity
    /// are judged at the same time).
    pub fn new(
        config: &BridgeConfig,
        verifier: Verifier<F, C>,
        clock: C,
        invoker: I,
        confirmer: S,
    ) -> Self {
        Self {
            handler_function: config.handler_function.clone(),
            allowed_topics: config.allowed_topics.clone(),
            invoke_timeout: config.invoke_timeout,
            max_message_age: config.max_message_age,
            verifier,
            clock,
            invoker,
            confirmer,
        }
    }

    pub fn handler_function(&self) -> &str {
        &self.handler_function
    }

    /// Handles one request: decides, logs, writes the metric line, answers.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let started = Instant::now();
        let report = self.decide(request).await;
        telemetry::record(&self.handler_function, &report, started.elapsed());
        respond(report.decision)
    }

    /// Decides what to answer, calling the ports on the way, without logging.
    pub async fn decide(&self, request: Request<Bytes>) -> Report {
        if request.method() != Method::POST {
            return Report::new(Decision::MethodNotAllowed);
        }
        let body = request.body();
        if body.len() > MAX_BODY_BYTES {
            return Report::new(Decision::BodyTooLarge)
                .with_detail(format!("{} bytes", body.len()));
        }
        let message = match SnsMessage::parse(body) {
            Ok(message) => message,
            Err(error) => {
                return Report::new(Decision::MalformedMessage).with_detail(error.to_string());
            }
        };

        let mut report = Report::new(Decision::Handled);
        report.sns_message_id = Some(message.message_id.clone());
        report.topic_arn = Some(message.topic_arn.clone());
        let reject = |mut report: Report, decision: Decision, detail: String| {
            report.decision = decision;
            report.detail = Some(detail);
            report
        };

        if let Some(mismatch) = header_mismatch(&request, &message) {
            return reject(report, Decision::HeaderMismatch, mismatch);
        }
        // Before verifying: a stranger's topic must not even cost a certificate fetch.
        if !self.allowed_topics.allows(&message.topic_arn) {
            return reject(
                report,
                Decision::TopicNotAllowed,
                "not in the allowed topics".into(),
            );
        }
        if let Err(error) = self.verifier.verify(&message).await {
            return reject(
                report,
                Decision::SignatureRejected,
                error.reason().to_owned(),
            );
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
            MessageType::Notification => self.deliver(message, report).await,
        }
    }

    async fn deliver(&self, message: SnsMessage, mut report: Report) -> Report {
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

        // The payload is the envelope plus a few hundred bytes of delivery metadata.
        let mut payload = Vec::with_capacity(message.message.len() + 512);
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
                redriven: false,
            },
        };
        if let Err(error) = serde_json::to_writer(&mut payload, &invocation) {
            report.decision = Decision::Internal;
            report.detail = Some(error.to_string());
            return report;
        }

        let invoked = Instant::now();
        let answer = tokio::time::timeout(
            self.invoke_timeout,
            self.invoker.invoke(&self.handler_function, payload),
        )
        .await;
        report.handler_latency = Some(invoked.elapsed());
        let (decision, detail) = match answer {
            Ok(answer) => decide_invocation(answer),
            // The handler may still finish; SNS redelivers with the same MessageId and event_id,
            // which is what handlers deduplicate on.
            Err(_) => (
                Decision::InvokeTimedOut,
                Some(format!(
                    "no answer within {} ms",
                    self.invoke_timeout.as_millis()
                )),
            ),
        };
        report.decision = decision;
        report.detail = detail;
        report
    }
}

/// `x-amz-sns-message-type` and `x-amz-sns-topic-arn` are not signed, but SNS always sends them
/// equal to the body; a request where they differ was not built by SNS.
fn header_mismatch(request: &Request<Bytes>, message: &SnsMessage) -> Option<String> {
    let checks = [
        ("x-amz-sns-message-type", message.message_type.as_str()),
        ("x-amz-sns-topic-arn", message.topic_arn.as_str()),
    ];
    checks.into_iter().find_map(|(name, expected)| {
        let value = request.headers().get(name)?;
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
