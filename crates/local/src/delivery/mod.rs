//! SNS HTTP/S delivery to the consumers' bridges, done the AWS way.
//!
//! moto fans each publish out to one SQS delivery queue per consumer subscription; a deliverer
//! per subscription long-polls its queue and, for each message:
//! - re-signs it with the local signing authority (SignatureVersion 2, the local certificate
//!   URL) and POSTs the HTTP/S JSON document with SNS's headers
//!   (<https://docs.aws.amazon.com/sns/latest/dg/http-header.html>);
//! - retries 5xx, timeouts and refused connections per the subscription's delivery policy;
//! - moves it to the consumer's dead-letter queue after a 4xx or when the policy is exhausted,
//!   in the format SNS writes (contracts.md, "Dead-letter message formats");
//! - deletes it from the delivery queue only once the bridge or the DLQ has it, so a crash at
//!   any point redelivers instead of losing it.
//!
//! Before the first notification, the subscription is confirmed with the handshake of
//! "Confirm your subscription" (<https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html>):
//! a signed `SubscriptionConfirmation` carrying a token, which the bridge confirms through the
//! SNS `ConfirmSubscription` API.

pub mod policy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use postoffice::envelope::{format_time, now_millis};
use postoffice::sns::{LocalSigningAuthority, MessageType, SnsMessage};
use tokio::sync::Semaphore;

use crate::activity::{Activity, ActivityLog};
use crate::provision::ConsumerSubscription;
use policy::{AttemptOutcome, HealthyRetryPolicy, TimeScale};

/// SNS waits this long for an HTTP/S endpoint to answer before counting the attempt as failed.
const SNS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries in flight per subscription.
const MAX_IN_FLIGHT: usize = 64;
/// Seconds an in-flight message stays invisible beyond the next planned attempt.
const VISIBILITY_MARGIN: i32 = 60;

pub struct Deliverer {
    pub subscription: ConsumerSubscription,
    /// The bridge's function URL.
    pub endpoint: String,
    /// The emulator's SNS endpoint, for SubscribeURL and UnsubscribeURL.
    pub sns_endpoint: String,
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
    /// Confirms the subscription, then delivers until the task is aborted.
    pub async fn run(self, confirmation_timeout: Duration) {
        let deliverer = Arc::new(self);
        if let Err(error) = deliverer.confirm(confirmation_timeout).await {
            tracing::error!(
                consumer = deliverer.subscription.consumer,
                event = deliverer.subscription.event,
                %error,
                "subscription never confirmed; its messages stay in the delivery queue"
            );
            return;
        }
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let free = in_flight.available_permits().clamp(1, 10) as i32;
            let received = deliverer
                .sqs
                .receive_message()
                .queue_url(&deliverer.subscription.delivery_queue.url)
                .max_number_of_messages(free)
                .wait_time_seconds(5)
                .visibility_timeout(VISIBILITY_MARGIN)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await;
            let messages = match received {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(error) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                        "receiving from a delivery queue failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            for message in messages {
                let permit = in_flight
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let deliverer = deliverer.clone();
                tokio::spawn(async move {
                    deliverer.deliver(message).await;
                    drop(permit);
                });
            }
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
        // The bridge may still be compiling or starting under cargo lambda watch.
        while Instant::now() < deadline {
            match self.post(&message, &body).await {
                AttemptResult::Answered { status, .. } if (200..300).contains(&status) => {
                    self.activity.record(Activity::SubscriptionConfirmed {
                        consumer: self.subscription.consumer.clone(),
                        event: self.subscription.event.clone(),
                    });
                    return Ok(());
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
            Err(error) => AttemptResult::NoAnswer(error.to_string()),
        }
    }

    async fn deliver(&self, sqs_message: Message) {
        let Some(receipt) = sqs_message.receipt_handle.clone() else {
            return;
        };
        let body = sqs_message.body.clone().unwrap_or_default();
        let mut message = match SnsMessage::parse(body.as_bytes()) {
            Ok(message) => message,
            Err(error) => {
                // Not something SNS wrote: park it as it is rather than lose it.
                self.dead_letter(
                    &body,
                    "",
                    0,
                    "InvalidNotification",
                    &error.to_string(),
                    &receipt,
                )
                .await;
                return;
            }
        };
        message.unsubscribe_url = Some(self.unsubscribe_url());
        if let Err(error) = self.authority.sign(&mut message) {
            tracing::error!(%error, "signing failed; the message stays queued");
            return;
        }
        let signed = message.to_http_json();
        let retry_delays = self.policy.retry_delays();
        let receive_count = sqs_message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|count| count.parse::<u32>().ok())
            .unwrap_or(1);
        if receive_count > 1 {
            tracing::info!(
                message_id = message.message_id,
                receive_count,
                "redelivering a message whose earlier delivery was interrupted"
            );
        }

        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self.post(&message, &signed).await;
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
                    self.delete(&receipt).await;
                    self.activity.record(Activity::Delivered {
                        consumer: self.subscription.consumer.clone(),
                        event: self.subscription.event.clone(),
                        sns_message_id: message.message_id.clone(),
                        attempts: attempt,
                    });
                    return;
                }
                (AttemptOutcome::Failed, Some(delay)) => {
                    let invisible = delay.as_secs() as i32 + VISIBILITY_MARGIN;
                    let _ = self
                        .sqs
                        .change_message_visibility()
                        .queue_url(&self.subscription.delivery_queue.url)
                        .receipt_handle(&receipt)
                        .visibility_timeout(invisible)
                        .send()
                        .await;
                    tokio::time::sleep(delay).await;
                }
                (_, _) => {
                    self.dead_letter(
                        &signed,
                        &message.message_id,
                        attempt,
                        &error_code,
                        &error_message,
                        &receipt,
                    )
                    .await;
                    return;
                }
            }
        }
    }

    async fn dead_letter(
        &self,
        body: &str,
        message_id: &str,
        attempts: u32,
        error_code: &str,
        error_message: &str,
        receipt: &str,
    ) {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if value.is_empty() { "-" } else { value })
                .build()
                .expect("data type is set")
        };
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.subscription.dead_letter_queue.url)
            .message_body(body)
            .message_attributes("RequestID", attribute(&uuid::Uuid::new_v4().to_string()))
            .message_attributes("ErrorCode", attribute(error_code))
            .message_attributes("ErrorMessage", attribute(error_message))
            .send()
            .await;
        match sent {
            Ok(_) => {
                self.delete(receipt).await;
                self.activity.record(Activity::DeadLettered {
                    consumer: self.subscription.consumer.clone(),
                    event: self.subscription.event.clone(),
                    sns_message_id: message_id.to_owned(),
                    attempts,
                    reason: format!("{error_code}: {error_message}"),
                });
            }
            Err(error) => {
                // Left in the delivery queue: it becomes visible again and is retried.
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                    "dead-lettering failed; the message stays queued");
            }
        }
    }

    async fn delete(&self, receipt: &str) {
        if let Err(error) = self
            .sqs
            .delete_message()
            .queue_url(&self.subscription.delivery_queue.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            // Redelivered later: at least once.
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                "deleting a delivered message failed");
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}
