//! The ports implemented with the AWS SDK. Endpoints come from the standard configuration
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), so local runs need no other code path.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_cloudwatch::primitives::DateTime as CloudWatchTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::primitives::Blob;
use aws_sdk_sns::types::MessageAttributeValue as SnsAttribute;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine;
use chrono::{DateTime, Utc};
use postoffice::sns::MessageAttribute;

use crate::message::ReceivedMessage;
use crate::ports::{OldestMessageAge, PortError, Publish, Queues};
use crate::queue::QueueDepth;

/// The shared AWS configuration, loaded once. Requests go through the platform's HTTP client,
/// which also trusts `AWS_CA_BUNDLE` (how the local post office's endpoint is trusted).
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await
}

fn port_error(operation: &str, error: impl std::error::Error) -> PortError {
    PortError(format!("{operation}: {}", DisplayErrorContext(error)))
}

pub struct SqsQueues {
    client: aws_sdk_sqs::Client,
}

impl SqsQueues {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
        }
    }

    async fn attributes(
        &self,
        url: &str,
        names: &[QueueAttributeName],
    ) -> Result<HashMap<QueueAttributeName, String>, PortError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| port_error("SQS GetQueueAttributes", e))?;
        Ok(output.attributes.unwrap_or_default())
    }
}

fn count(attributes: &HashMap<QueueAttributeName, String>, name: &QueueAttributeName) -> u64 {
    attributes
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl Queues for SqsQueues {
    async fn list_queue_urls(&self, name_prefix: &str) -> Result<Vec<String>, PortError> {
        let mut urls = Vec::new();
        let mut pages = self
            .client
            .list_queues()
            .queue_name_prefix(name_prefix)
            .into_paginator()
            .items()
            .send();
        while let Some(url) = pages.next().await {
            urls.push(url.map_err(|e| port_error("SQS ListQueues", e))?);
        }
        Ok(urls)
    }

    async fn tags(&self, url: &str) -> Result<HashMap<String, String>, PortError> {
        let output = self
            .client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| port_error("SQS ListQueueTags", e))?;
        Ok(output.tags.unwrap_or_default())
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError> {
        let visible = QueueAttributeName::ApproximateNumberOfMessages;
        let in_flight = QueueAttributeName::ApproximateNumberOfMessagesNotVisible;
        let attributes = self
            .attributes(url, &[visible.clone(), in_flight.clone()])
            .await?;
        Ok(QueueDepth {
            visible: count(&attributes, &visible),
            in_flight: count(&attributes, &in_flight),
        })
    }

    async fn arn(&self, url: &str) -> Result<String, PortError> {
        let attributes = self
            .attributes(url, &[QueueAttributeName::QueueArn])
            .await?;
        attributes
            .get(&QueueAttributeName::QueueArn)
            .cloned()
            .ok_or_else(|| PortError(format!("SQS GetQueueAttributes: no QueueArn for {url}")))
    }

    async fn receive(
        &self,
        url: &str,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let output = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(visibility_timeout_seconds(visibility_timeout))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| port_error("SQS ReceiveMessage", e))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let system = message.attributes.unwrap_or_default();
                ReceivedMessage {
                    message_id: message.message_id.unwrap_or_default(),
                    receipt_handle: message.receipt_handle.unwrap_or_default(),
                    body: message.body.unwrap_or_default(),
                    attributes: message
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(name, value)| Some((name, value.string_value?)))
                        .collect(),
                    sent_at: system
                        .get(&MessageSystemAttributeName::SentTimestamp)
                        .and_then(|millis| millis.parse().ok())
                        .and_then(DateTime::<Utc>::from_timestamp_millis),
                    receive_count: system
                        .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|count| count.parse().ok())
                        .unwrap_or(0),
                }
            })
            .collect())
    }

    async fn delete(&self, url: &str, receipt_handle: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| port_error("SQS DeleteMessage", e))?;
        Ok(())
    }

    async fn release(&self, url: &str, receipt_handle: &str) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| port_error("SQS ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn purge(&self, url: &str) -> Result<(), PortError> {
        self.client
            .purge_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| port_error("SQS PurgeQueue", e))?;
        Ok(())
    }
}

/// The age of the oldest message from the `AWS/SQS` metric the `dlq-age` alarm watches.
pub struct CloudWatchAges {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchAges {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_cloudwatch::Client::new(config),
        }
    }
}

#[async_trait]
impl OldestMessageAge for CloudWatchAges {
    async fn oldest_message_age(&self, queue_name: &str) -> Result<Option<Duration>, PortError> {
        let end = Utc::now();
        let start = end - chrono::Duration::minutes(15);
        let output = self
            .client
            .get_metric_statistics()
            .namespace("AWS/SQS")
            .metric_name("ApproximateAgeOfOldestMessage")
            .dimensions(
                Dimension::builder()
                    .name("QueueName")
                    .value(queue_name)
                    .build(),
            )
            .start_time(CloudWatchTime::from_secs(start.timestamp()))
            .end_time(CloudWatchTime::from_secs(end.timestamp()))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .map_err(|e| port_error("CloudWatch GetMetricStatistics", e))?;
        let latest = output
            .datapoints
            .unwrap_or_default()
            .into_iter()
            .filter_map(|point| Some((point.timestamp?.secs(), point.maximum?)))
            .max_by_key(|(at, _)| *at);
        Ok(latest.map(|(_, seconds)| Duration::from_secs_f64(seconds.max(0.0))))
    }
}

pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
}

impl SnsPublisher {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
        }
    }
}

#[async_trait]
impl Publish for SnsPublisher {
    async fn publish(
        &self,
        topic_arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttribute>,
    ) -> Result<(), PortError> {
        let mut request = self.client.publish().topic_arn(topic_arn).message(message);
        for (name, MessageAttribute { data_type, value }) in attributes {
            // Binary values travel base64-encoded, in a notification's JSON as in the API
            // (https://docs.aws.amazon.com/sns/latest/api/API_MessageAttributeValue.html); the
            // SDK takes the bytes.
            let builder = SnsAttribute::builder().data_type(&data_type);
            let builder = if data_type.starts_with("Binary") {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&value)
                    .map_err(|e| {
                        PortError(format!("SNS message attribute {name}: not base64: {e}"))
                    })?;
                builder.binary_value(Blob::new(bytes))
            } else {
                builder.string_value(value)
            };
            let attribute = builder
                .build()
                .map_err(|e| port_error("SNS message attribute", e))?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map_err(|e| port_error("SNS Publish", e))?;
        Ok(())
    }
}

/// SQS takes 0 to 43 200 s (12 hours,
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>);
/// a run holds what it receives for at least a second. Never a wrapping cast: 2^32 s must not
/// become 0.
fn visibility_timeout_seconds(timeout: Duration) -> i32 {
    let seconds = timeout
        .as_secs()
        .clamp(1, crate::redrive::MAX_VISIBILITY_TIMEOUT.as_secs());
    i32::try_from(seconds).unwrap_or(i32::MAX)
}
