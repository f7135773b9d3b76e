//! Delivery of one subscription's messages, done the AWS way, per the subscription's plan.
//!
//! HTTP/S (a local function URL or any other endpoint): each message is signed by the local
//! signing authority (SignatureVersion 2) and POSTed with SNS's headers
//! (<https://docs.aws.amazon.com/sns/latest/dg/http-header.html>); 5xx, 429, timeouts and
//! refused connections are retried per the applied retry policy; a 4xx or exhausted retries move
//! it to the subscription's dead-letter queue in the format SNS writes (contracts.md).
//! Firehose and SQS endpoints are written as SNS writes them, under the subscription role or
//! as `sns.amazonaws.com`, each write authorised; a refusal there is a client-side error,
//! which SNS does not retry.
//!
//! Dead-lettering is itself a call SNS makes as `sns.amazonaws.com` on behalf of the topic
//! (`aws:SourceArn`): the queue policy and the queue's KMS key policy must allow it. A message
//! SNS can neither deliver nor park is gone, in AWS as here: it is counted
//! (`NumberOfNotificationsFailedToRedriveToDlq`) and recorded, never silently dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageAttributeValue;
use axum::body::Bytes;
use postoffice::envelope::{format_time, now_millis};
use postoffice::sns::{MessageType, SnsMessage};
use postoffice_policy::Principal;
use tokio::sync::{Semaphore, mpsc};

use super::delivery_policy::AttemptOutcome;
use super::{Ports, Sns, topic_name};
use crate::activity::Activity;
use crate::iam::{Check, DataKey, Target, base_context};
use crate::metering::queue_name;
use crate::plan::{Endpoint, SubscriptionPlan};

/// SNS waits this long for an HTTP/S endpoint to answer before counting the attempt as failed.
pub const SNS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries in flight per subscription.
const MAX_IN_FLIGHT: usize = 64;

/// One message on its way to one subscription; dropping it counts it as settled.
#[derive(Debug)]
pub struct Pending {
    pub message: SnsMessage,
    /// The publisher's trace header, passed on to HTTP/S endpoints.
    pub trace_header: Option<String>,
    counter: Arc<AtomicUsize>,
}

impl Pending {
    pub(super) fn new(
        message: SnsMessage,
        trace_header: Option<String>,
        counter: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            message,
            trace_header,
            counter,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Deliverer {
    pub plan: Arc<RwLock<SubscriptionPlan>>,
    pub ports: Arc<Ports>,
    pub sns: Weak<Sns>,
}

enum AttemptResult {
    Answered { status: u16, body: String },
    NoAnswer(String),
}

impl Deliverer {
    fn plan(&self) -> SubscriptionPlan {
        self.plan.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Delivers what arrives until every sender is gone.
    pub async fn run(self, mut inbox: mpsc::UnboundedReceiver<Pending>) {
        let deliverer = Arc::new(self);
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

    fn endpoint_label(plan: &SubscriptionPlan) -> String {
        match &plan.endpoint {
            Endpoint::FunctionUrl {
                function,
                qualifier,
                ..
            } => crate::lambda::qualified_name(function, qualifier.as_deref()),
            Endpoint::Service { service } => service.clone(),
            _ => plan.endpoint_url.clone(),
        }
    }

    async fn post(
        &self,
        plan: &SubscriptionPlan,
        message: &SnsMessage,
        body: &str,
        trace_header: Option<&str>,
    ) -> AttemptResult {
        let mut request = http::Request::builder()
            .method("POST")
            .header("content-type", "text/plain; charset=UTF-8")
            .header("user-agent", "Amazon Simple Notification Service Agent")
            .header("x-amz-sns-message-type", message.message_type.as_str())
            .header("x-amz-sns-message-id", &message.message_id)
            .header("x-amz-sns-topic-arn", &message.topic_arn);
        if message.message_type == MessageType::Notification {
            request = request.header("x-amz-sns-subscription-arn", &plan.arn);
        }
        if let Some(trace_header) = trace_header {
            request = request.header("x-amzn-trace-id", trace_header);
        }
        match &plan.endpoint {
            Endpoint::FunctionUrl { url_id, .. } => {
                let request = match request
                    .uri(plan.endpoint_url.as_str())
                    .header(
                        "host",
                        plan.endpoint_url
                            .trim_start_matches("https://")
                            .trim_end_matches('/'),
                    )
                    .body(Bytes::from(body.to_owned()))
                {
                    Ok(request) => request,
                    Err(error) => return AttemptResult::NoAnswer(error.to_string()),
                };
                let lambda = self.ports.lambda.clone();
                let url_id = url_id.clone();
                let _in_flight = self
                    .ports
                    .function_url_requests
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                match tokio::time::timeout(
                    SNS_RESPONSE_TIMEOUT,
                    lambda.invoke_url(&url_id, request),
                )
                .await
                {
                    Ok(response) => AttemptResult::Answered {
                        status: response.status().as_u16(),
                        body: String::from_utf8_lossy(response.body()).into_owned(),
                    },
                    Err(_) => AttemptResult::NoAnswer("no answer within SNS's 15 s".to_owned()),
                }
            }
            Endpoint::Service { service } => {
                // The load balancer's HTTPS listener, standing in for the host SNS resolves.
                let request = match request
                    .uri(plan.endpoint_url.as_str())
                    .body(Bytes::from(body.to_owned()))
                {
                    Ok(request) => request,
                    Err(error) => return AttemptResult::NoAnswer(error.to_string()),
                };
                match tokio::time::timeout(
                    SNS_RESPONSE_TIMEOUT,
                    self.ports.services.forward(service, request),
                )
                .await
                {
                    Ok(response) => AttemptResult::Answered {
                        status: response.status().as_u16(),
                        body: String::from_utf8_lossy(response.body()).into_owned(),
                    },
                    Err(_) => AttemptResult::NoAnswer("no answer within SNS's 15 s".to_owned()),
                }
            }
            _ => {
                let mut outgoing = self
                    .ports
                    .http
                    .post(&plan.endpoint_url)
                    .timeout(SNS_RESPONSE_TIMEOUT);
                for (name, value) in request.headers_ref().into_iter().flatten() {
                    outgoing = outgoing.header(name.as_str(), value.as_bytes());
                }
                match outgoing.body(body.to_owned()).send().await {
                    Ok(response) => AttemptResult::Answered {
                        status: response.status().as_u16(),
                        body: response.text().await.unwrap_or_default(),
                    },
                    Err(error) => AttemptResult::NoAnswer(error_chain(&error)),
                }
            }
        }
    }

    /// Delivers one message; `pending` is settled (dropped) only once it is delivered, parked
    /// or given up (counted).
    async fn deliver(&self, pending: Pending) {
        let plan = self.plan();
        let mut message = pending.message.clone();
        match &plan.endpoint {
            Endpoint::FunctionUrl { .. } | Endpoint::Service { .. } | Endpoint::Http(_) => {
                self.deliver_http(&plan, &mut message, pending.trace_header.as_deref())
                    .await
            }
            Endpoint::Firehose { .. } | Endpoint::Sqs { .. } => {
                self.deliver_to_aws(&plan, &message).await
            }
            Endpoint::Unsupported { .. } => {}
        }
    }

    async fn deliver_http(
        &self,
        plan: &SubscriptionPlan,
        message: &mut SnsMessage,
        trace_header: Option<&str>,
    ) {
        message.unsubscribe_url = Some(format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={}",
            self.ports.endpoint, plan.arn
        ));
        let body = if plan.raw_message_delivery {
            message.message.clone()
        } else {
            match self.ports.signing.sign(message) {
                Ok(()) => message.to_http_json(),
                Err(error) => {
                    let body = message.to_http_json();
                    self.dead_letter(
                        plan,
                        &body,
                        &message.message_id,
                        0,
                        "SigningFailed",
                        &error.to_string(),
                    )
                    .await;
                    return;
                }
            }
        };
        let retry_delays = plan.retry_policy.retry_delays();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.ports.meter.sns_attempted(protocol(plan));
            let result = self.post(plan, message, &body, trace_header).await;
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
                    .map(|delay| self.ports.time_scale.apply(*delay)),
                _ => None,
            };
            self.ports.activity.record(Activity::DeliveryAttempt {
                subscription: plan.arn.clone(),
                endpoint: Self::endpoint_label(plan),
                topic: plan.topic_arn.clone(),
                sns_message_id: message.message_id.clone(),
                attempt,
                status,
                retry_in_ms: retry_in.map(|delay| delay.as_millis() as u64),
            });
            match (outcome, retry_in) {
                (AttemptOutcome::Delivered, _) => {
                    self.delivered(plan, &message.message_id, attempt, body.len());
                    return;
                }
                (AttemptOutcome::Failed, Some(delay)) => tokio::time::sleep(delay).await,
                (_, _) => {
                    self.ports.metrics.record(
                        "AWS/SNS",
                        "NumberOfNotificationsFailed",
                        &[("TopicName", topic_name(&plan.topic_arn))],
                        1.0,
                    );
                    self.dead_letter(
                        plan,
                        &body,
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

    fn delivered(&self, plan: &SubscriptionPlan, message_id: &str, attempts: u32, bytes: usize) {
        self.ports.meter.sns_delivered(protocol(plan), bytes as u64);
        self.ports.metrics.record(
            "AWS/SNS",
            "NumberOfNotificationsDelivered",
            &[("TopicName", topic_name(&plan.topic_arn))],
            1.0,
        );
        self.ports.activity.record(Activity::Delivered {
            subscription: plan.arn.clone(),
            endpoint: Self::endpoint_label(plan),
            topic: plan.topic_arn.clone(),
            sns_message_id: message_id.to_owned(),
            attempts,
        });
    }

    /// Firehose and SQS subscriptions: SNS writes the message itself, as an AWS caller.
    async fn deliver_to_aws(&self, plan: &SubscriptionPlan, message: &SnsMessage) {
        let record = if plan.raw_message_delivery {
            message.message.clone()
        } else {
            message.to_http_json()
        };
        self.ports.meter.sns_attempted(protocol(plan));
        let result = match &plan.endpoint {
            Endpoint::Firehose {
                stream_arn,
                role_arn,
            } => {
                // SNS separates the messages it writes to Firehose with line breaks
                // (<https://docs.aws.amazon.com/sns/latest/dg/firehose-archived-message-format-S3.html>).
                let line = format!("{record}\n");
                self.put_into_firehose(plan, stream_arn, role_arn, &line)
                    .await
            }
            Endpoint::Sqs { queue_arn } => self.send_to_queue(plan, queue_arn, &record).await,
            _ => Ok(()),
        };
        match result {
            Ok(()) => self.delivered(plan, &message.message_id, 1, record.len()),
            Err(error) => {
                self.ports.metrics.record(
                    "AWS/SNS",
                    "NumberOfNotificationsFailed",
                    &[("TopicName", topic_name(&plan.topic_arn))],
                    1.0,
                );
                self.ports.activity.record(Activity::DeliveryAttempt {
                    subscription: plan.arn.clone(),
                    endpoint: Self::endpoint_label(plan),
                    topic: plan.topic_arn.clone(),
                    sns_message_id: message.message_id.clone(),
                    attempt: 1,
                    status: None,
                    retry_in_ms: None,
                });
                self.dead_letter(plan, &record, &message.message_id, 1, "ClientError", &error)
                    .await;
            }
        }
    }

    async fn put_into_firehose(
        &self,
        plan: &SubscriptionPlan,
        stream_arn: &str,
        role_arn: &str,
        record: &str,
    ) -> Result<(), String> {
        let authorizer = &self.ports.authorizer;
        let snapshot = authorizer.snapshot();
        let role = authorizer
            .assume_role(&snapshot, "sns.amazonaws.com", role_arn, &plan.topic_arn)
            .map_err(|denial| denial.message())?;
        authorizer
            .check(
                &snapshot,
                Check {
                    principal: role,
                    action: "firehose:PutRecord",
                    resource: stream_arn,
                    target: Target::Nothing,
                    context: base_context(true, &authorizer.region),
                },
            )
            .map_err(|denial| denial.message())?;
        self.ports.event_store.put(stream_arn, record).await
    }

    async fn send_to_queue(
        &self,
        plan: &SubscriptionPlan,
        queue_arn: &str,
        body: &str,
    ) -> Result<(), String> {
        let url = self
            .queue_url(queue_arn)
            .ok_or_else(|| format!("queue {queue_arn} does not exist"))?;
        self.authorize_as_sns(plan, queue_arn)?;
        let sent = self
            .ports
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await;
        if sent.is_ok() {
            self.ports
                .meter
                .sqs_sent(queue_name(queue_arn), "sns-subscription", body.len() as u64);
        }
        sent.map(drop)
            .map_err(|error| aws_sdk_sqs::error::DisplayErrorContext(&error).to_string())
    }

    fn queue_url(&self, queue_arn: &str) -> Option<String> {
        self.ports
            .authorizer
            .snapshot()
            .applied
            .sqs
            .queues
            .get(queue_arn)
            .map(|queue| queue.url.clone())
    }

    /// SNS sending to a queue on behalf of the topic: `sqs:SendMessage` as `sns.amazonaws.com`
    /// with the topic as `aws:SourceArn`, and for an encrypted queue the key policy's consent.
    fn authorize_as_sns(&self, plan: &SubscriptionPlan, queue_arn: &str) -> Result<(), String> {
        let authorizer = &self.ports.authorizer;
        let snapshot = authorizer.snapshot();
        let sns = Principal::service("sns.amazonaws.com").map_err(|error| error.to_string())?;
        let context = base_context(true, &authorizer.region)
            .with("aws:SourceArn", plan.topic_arn.as_str())
            .with("aws:SourceAccount", authorizer.account.as_str());
        authorizer
            .check(
                &snapshot,
                Check {
                    principal: sns.clone(),
                    action: "sqs:SendMessage",
                    resource: queue_arn,
                    target: Target::Queue(queue_arn),
                    context: context.clone(),
                },
            )
            .map_err(|denial| denial.message())?;
        let key = snapshot.applied.queue_key(queue_arn);
        if let Some(key) = key {
            for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                authorizer
                    .check(
                        &snapshot,
                        Check {
                            principal: sns.clone(),
                            action,
                            resource: &key,
                            target: Target::Key(
                                &key,
                                DataKey {
                                    scope: queue_arn,
                                    reuse: Some(snapshot.applied.queue_data_key_reuse(queue_arn)),
                                },
                            ),
                            context: context.clone(),
                        },
                    )
                    .map_err(|denial| denial.message())?;
            }
        }
        Ok(())
    }

    /// Parks the message in the subscription's dead-letter queue, as SNS does; with none, or
    /// when SNS may not send to it, the message is lost, as in AWS — counted and recorded.
    async fn dead_letter(
        &self,
        plan: &SubscriptionPlan,
        body: &str,
        message_id: &str,
        attempts: u32,
        error_code: &str,
        error_message: &str,
    ) {
        let topic = topic_name(&plan.topic_arn);
        let lost = |reason: String| {
            self.ports.metrics.record(
                "AWS/SNS",
                "NumberOfNotificationsFailedToRedriveToDlq",
                &[("TopicName", topic)],
                1.0,
            );
            tracing::error!(
                subscription = plan.arn,
                message_id,
                reason,
                "SNS gave up on a message it could not park"
            );
            self.ports.activity.record(Activity::DeliveryLost {
                subscription: plan.arn.clone(),
                endpoint: Self::endpoint_label(plan),
                topic: plan.topic_arn.clone(),
                sns_message_id: message_id.to_owned(),
                reason,
            });
        };
        let Some(queue_arn) = &plan.dead_letter_queue else {
            lost(format!(
                "{error_code}: {error_message}; the subscription has no dead-letter queue"
            ));
            return;
        };
        let Some(url) = self.queue_url(queue_arn) else {
            lost(format!(
                "{error_code}: {error_message}; the dead-letter queue {queue_arn} does not exist"
            ));
            return;
        };
        if let Err(denied) = self.authorize_as_sns(plan, queue_arn) {
            lost(format!(
                "{error_code}: {error_message}; SNS may not send to {queue_arn}: {denied}"
            ));
            return;
        }
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if value.is_empty() { "-" } else { value })
                .build()
                .expect("data type is set")
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut tries = 0;
        loop {
            tries += 1;
            let sent = self
                .ports
                .sqs
                .send_message()
                .queue_url(&url)
                .message_body(body)
                .message_attributes("RequestID", attribute(&request_id))
                .message_attributes("ErrorCode", attribute(error_code))
                .message_attributes("ErrorMessage", attribute(error_message))
                .send()
                .await;
            match sent {
                Ok(_) => {
                    let attributes = [
                        ("RequestID", request_id.as_str()),
                        ("ErrorCode", error_code),
                        ("ErrorMessage", error_message),
                    ];
                    let bytes = body.len()
                        + attributes
                            .iter()
                            .map(|(name, value)| name.len() + "String".len() + value.len().max(1))
                            .sum::<usize>();
                    self.ports.meter.sqs_sent(
                        queue_name(queue_arn),
                        "sns-dead-letter",
                        bytes as u64,
                    );
                    break;
                }
                Err(error) if tries < 5 => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), queue = queue_arn, "dead-lettering failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(error) => {
                    lost(format!(
                        "{error_code}: {error_message}; the dead-letter queue did not take it: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&error)
                    ));
                    return;
                }
            }
        }
        self.ports.metrics.record(
            "AWS/SNS",
            "NumberOfNotificationsRedrivenToDlq",
            &[("TopicName", topic)],
            1.0,
        );
        self.ports.activity.record(Activity::DeadLettered {
            subscription: plan.arn.clone(),
            endpoint: Self::endpoint_label(plan),
            topic: plan.topic_arn.clone(),
            sns_message_id: message_id.to_owned(),
            attempts,
            reason: format!("{error_code}: {error_message}"),
            queue: queue_arn.clone(),
        });
    }
}

/// Sends the subscription's `SubscriptionConfirmation` (signed, with a token) and retries per
/// the subscription's retry policy until the endpoint answers; the subscription is confirmed
/// only when the endpoint calls `ConfirmSubscription` with the token
/// (<https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html>).
pub async fn confirm(sns: Weak<Sns>, ports: Arc<Ports>, plan: Arc<RwLock<SubscriptionPlan>>) {
    let plan_now = plan.read().unwrap_or_else(|p| p.into_inner()).clone();
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let topic_arn = plan_now.topic_arn.clone();
    match sns.upgrade() {
        Some(sns) => sns.expect_confirmation(&token, &topic_arn, &plan_now.arn),
        None => return,
    }
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
            ports.endpoint
        )),
        unsubscribe_url: None,
        token: Some(token),
        message_attributes: Default::default(),
    };
    if let Err(error) = ports.signing.sign(&mut message) {
        tracing::error!(%error, "signing a subscription confirmation failed");
        return;
    }
    let body = message.to_http_json();
    let deliverer = Deliverer {
        plan,
        ports: ports.clone(),
        sns: sns.clone(),
    };
    let delays = plan_now.retry_policy.retry_delays();
    let started = Instant::now();
    for attempt in 0..=delays.len() {
        let current = deliverer.plan();
        let result = deliverer.post(&current, &message, &body, None).await;
        let confirmed = sns
            .upgrade()
            .and_then(|sns| sns.is_confirmed(&current.arn))
            .unwrap_or(true);
        match result {
            AttemptResult::Answered { status, .. } if (200..300).contains(&status) || confirmed => {
                return;
            }
            AttemptResult::Answered { status, body } => {
                tracing::warn!(
                    subscription = current.arn,
                    status,
                    body = truncate(&body, 300),
                    "the endpoint did not accept the subscription confirmation"
                );
            }
            AttemptResult::NoAnswer(error) => {
                tracing::warn!(
                    subscription = current.arn,
                    error,
                    "the subscription confirmation got no answer"
                );
            }
        }
        match delays.get(attempt) {
            Some(delay) => tokio::time::sleep(ports.time_scale.apply(*delay)).await,
            None => break,
        }
    }
    tracing::error!(
        subscription = plan_now.arn,
        seconds = started.elapsed().as_secs(),
        "the subscription stays pending: its endpoint never confirmed it"
    );
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    reason
}

pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

/// The subscription's protocol, as SNS prices deliveries: a function URL is an HTTPS endpoint.
fn protocol(plan: &SubscriptionPlan) -> &'static str {
    match plan.endpoint {
        Endpoint::FunctionUrl { .. } | Endpoint::Service { .. } => "https",
        Endpoint::Http(ref url) if url.starts_with("http://") => "http",
        Endpoint::Http(_) => "https",
        Endpoint::Firehose { .. } => "firehose",
        Endpoint::Sqs { .. } => "sqs",
        Endpoint::Unsupported { .. } => "other",
    }
}
