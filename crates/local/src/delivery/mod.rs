//! SNS HTTP/S delivery to the consumers' bridges, done the AWS way.
//!
//! The data plane (`crate::sns`) hands each subscription's messages to its deliverer, which for
//! each message:
//! - signs it with the local signing authority (SignatureVersion 2, the local certificate URL)
//!   and POSTs the HTTP/S JSON document with SNS's headers
//!   (<https://docs.aws.amazon.com/sns/latest/dg/http-header.html>);
//! - retries 5xx, timeouts and refused connections per the subscription's delivery policy;
//! - moves it to the consumer's dead-letter queue after a 4xx or when the policy is exhausted,
//!   in the format SNS writes (contracts.md, "Dead-letter message formats"), retrying the DLQ
//!   until it has the message: a message is settled only once the bridge or the DLQ has it.
//!
//! Before the first notification, the subscription is confirmed with the handshake of
//! "Confirm your subscription" (<https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html>):
//! a signed `SubscriptionConfirmation` carrying a token, which the bridge must confirm through
//! the SNS `ConfirmSubscription` API; an answer alone does not confirm.

pub mod policy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageAttributeValue;
use postoffice::envelope::{format_time, now_millis};
use postoffice::sns::{LocalSigningAuthority, MessageType, SnsMessage};
use tokio::sync::Semaphore;

use crate::activity::{Activity, ActivityLog};
use crate::provision::ConsumerSubscription;
use crate::sns::{Inbox, Pending, SnsDataPlane};
use policy::{AttemptOutcome, HealthyRetryPolicy, TimeScale};

/// SNS waits this long for an HTTP/S endpoint to answer before counting the attempt as failed.
const SNS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries in flight per subscription.
const MAX_IN_FLIGHT: usize = 64;
/// Between attempts to hand a message to a dead-letter queue that did not take it.
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(1);

pub struct Deliverer {
    pub subscription: ConsumerSubscription,
    /// The bridge's function URL.
    pub endpoint: String,
    /// The local SNS endpoint, for SubscribeURL and UnsubscribeURL.
    pub sns_endpoint: String,
    pub plane: Arc<SnsDataPlane>,
    /// One permit per instance of the bridge, shared by the consumer's subscriptions: in AWS,
    /// Lambda adds instances as requests arrive; here the instances are fixed, and a request
    /// beyond them would wait inside `cargo lambda watch` until SNS's 15 s timeout failed it.
    pub bridge_instances: Arc<Semaphore>,
    pub policy: HealthyRetryPolicy,
    pub time_scale: TimeScale,
    pub authority: Arc<LocalSigningAuthority>,
    pub http: reqwest::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub activity: ActivityLog,
}

enum AttemptResult {
    Answered { status: u16, body: String },
    NoAnswer(String),
}

impl Deliverer {
    /// Confirms the subscription, then delivers what arrives in `inbox` until the task is
    /// aborted.
    pub async fn run(self, mut inbox: Inbox, confirmation_timeout: Duration) {
        let deliverer = Arc::new(self);
        if let Err(error) = deliverer.confirm(confirmation_timeout).await {
            tracing::error!(
                consumer = deliverer.subscription.consumer,
                event = deliverer.subscription.event,
                %error,
                "subscription never confirmed; publishing to its topic now fails"
            );
            return;
        }
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        while let Some(pending) = inbox.recv().await {
            let permit = in_flight
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let deliverer = deliverer.clone();
            tokio::spawn(async move {
                deliverer.deliver(pending).await;
                drop(permit);
            });
        }
    }

    fn subscription_arn(&self) -> &str {
        &self.subscription.subscription_arn
    }

    fn unsubscribe_url(&self) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={}",
            self.sns_endpoint,
            self.subscription_arn()
        )
    }

    async fn confirm(&self, timeout: Duration) -> anyhow::Result<()> {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let topic_arn = &self.subscription.topic_arn;
        let mut confirmed =
            self.plane
                .expect_confirmation(&token, topic_arn, self.subscription_arn());
        let mut message = SnsMessage {
            message_type: MessageType::SubscriptionConfirmation,
            message_id: uuid::Uuid::new_v4().to_string(),
            topic_arn: topic_arn.clone(),
            subject: None,
            message: format!(
                "You have chosen to subscribe to the topic {topic_arn}.\n\
                 To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            timestamp: format_time(&now_millis()),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: Some(format!(
                "{}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}",
                self.sns_endpoint
            )),
            unsubscribe_url: None,
            token: Some(token),
            message_attributes: Default::default(),
        };
        self.authority.sign(&mut message)?;
        let body = message.to_http_json();
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        // The bridge may still be starting.
        while Instant::now() < deadline {
            match self.post(&message, &body).await {
                AttemptResult::Answered { status, body } if (200..300).contains(&status) => {
                    if confirmed.try_recv().is_ok() {
                        self.activity.record(Activity::SubscriptionConfirmed {
                            consumer: self.subscription.consumer.clone(),
                            event: self.subscription.event.clone(),
                        });
                        return Ok(());
                    }
                    last = format!("{status} without calling ConfirmSubscription: {body}");
                }
                AttemptResult::Answered { status, body } => last = format!("{status}: {body}"),
                AttemptResult::NoAnswer(error) => last = error,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!(
            "the bridge at {} did not confirm within {} s (last answer: {last})",
            self.endpoint,
            timeout.as_secs()
        )
    }

    async fn post(&self, message: &SnsMessage, body: &str) -> AttemptResult {
        let mut request = self
            .http
            .post(&self.endpoint)
            .timeout(SNS_RESPONSE_TIMEOUT)
            .header("content-type", "text/plain; charset=UTF-8")
            .header("user-agent", "Amazon Simple Notification Service Agent")
            .header("x-amz-sns-message-type", message.message_type.as_str())
            .header("x-amz-sns-message-id", &message.message_id)
            .header("x-amz-sns-topic-arn", &message.topic_arn);
        if message.message_type == MessageType::Notification {
            request = request.header("x-amz-sns-subscription-arn", self.subscription_arn());
        }
        match request.body(body.to_owned()).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                AttemptResult::Answered { status, body }
            }
            Err(error) => {
                let mut reason = error.to_string();
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    reason.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                AttemptResult::NoAnswer(reason)
            }
        }
    }

    /// Delivers one message; `pending` is settled (dropped) only once the bridge or the DLQ
    /// has it.
    async fn deliver(&self, pending: Pending) {
        let mut message = pending.message.clone();
        message.unsubscribe_url = Some(self.unsubscribe_url());
        let signed = match self.authority.sign(&mut message) {
            Ok(()) => message.to_http_json(),
            Err(error) => {
                // Unsigned, no bridge would accept it: park it as it is.
                tracing::error!(%error, "signing failed; dead-lettering the message");
                let body = pending.message.to_http_json();
                let reason = error.to_string();
                self.dead_letter(&body, &message.message_id, 0, "SigningFailed", &reason)
                    .await;
                return;
            }
        };
        let retry_delays = self.policy.retry_delays();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let instance = self
                .bridge_instances
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let result = self.post(&message, &signed).await;
            drop(instance);
            let (outcome, status, error_code, error_message) = match &result {
                AttemptResult::Answered { status, body } => (
                    AttemptOutcome::from_status(*status),
                    Some(*status),
                    status.to_string(),
                    truncate(body, 1024),
                ),
                AttemptResult::NoAnswer(error) => (
                    AttemptOutcome::Failed,
                    None,
                    "EndpointUnreachable".to_owned(),
                    truncate(error, 1024),
                ),
            };
            let retry_in = match outcome {
                AttemptOutcome::Failed => retry_delays
                    .get(attempt as usize - 1)
                    .map(|delay| self.time_scale.apply(*delay)),
                _ => None,
            };
            self.activity.record(Activity::DeliveryAttempt {
                consumer: self.subscription.consumer.clone(),
                event: self.subscription.event.clone(),
                sns_message_id: message.message_id.clone(),
                attempt,
                status,
                retry_in_ms: retry_in.map(|delay| delay.as_millis() as u64),
            });
            match (outcome, retry_in) {
                (AttemptOutcome::Delivered, _) => {
                    self.activity.record(Activity::Delivered {
                        consumer: self.subscription.consumer.clone(),
                        event: self.subscription.event.clone(),
                        sns_message_id: message.message_id.clone(),
                        attempts: attempt,
                    });
                    return;
                }
                (AttemptOutcome::Failed, Some(delay)) => tokio::time::sleep(delay).await,
                (_, _) => {
                    self.dead_letter(
                        &signed,
                        &message.message_id,
                        attempt,
                        &error_code,
                        &error_message,
                    )
                    .await;
                    return;
                }
            }
        }
    }

    /// Sends the message to the consumer's DLQ, retrying until the queue has it.
    async fn dead_letter(
        &self,
        body: &str,
        message_id: &str,
        attempts: u32,
        error_code: &str,
        error_message: &str,
    ) {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if value.is_empty() { "-" } else { value })
                .build()
                .expect("data type is set")
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        loop {
            let sent = self
                .sqs
                .send_message()
                .queue_url(&self.subscription.dead_letter_queue.url)
                .message_body(body)
                .message_attributes("RequestID", attribute(&request_id))
                .message_attributes("ErrorCode", attribute(error_code))
                .message_attributes("ErrorMessage", attribute(error_message))
                .send()
                .await;
            match sent {
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                        queue = self.subscription.dead_letter_queue.name,
                        "dead-lettering failed; retrying");
                    tokio::time::sleep(DEAD_LETTER_RETRY).await;
                }
            }
        }
        self.activity.record(Activity::DeadLettered {
            consumer: self.subscription.consumer.clone(),
            event: self.subscription.event.clone(),
            sns_message_id: message_id.to_owned(),
            attempts,
            reason: format!("{error_code}: {error_message}"),
        });
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}
