//! The IoT topic rules, executed locally: one rule per actor-published event, selecting
//! `EVENT/+/+`, turning the device message into an envelope with `Envelope::from_device_message`
//! (identity from the topic; the client id is the topic's device level, which the gateway's ACL
//! enforces) and publishing it to the event's SNS topic. Like the rule's SNS action, it sets no
//! message attributes (the action cannot); filter policies match the envelope in the body.
//!
//! A failure runs the rule's error action: an SQS message to the rule-errors queue in the format
//! of "Error action message format"
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html>).
//! The MQTT message is acknowledged only after SNS or the rule-errors queue has it, and the
//! session is persistent, so a message is never lost between broker and SNS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice::Envelope;
use postoffice::envelope::{DeviceMessage, now_millis};
use postoffice::topic::Topic;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde_json::json;

use crate::activity::{Activity, ActivityLog};
use crate::mqtt::Credentials;
use crate::sns::SnsDataPlane;
use crate::sns::query::PublishRequest;

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub event: String,
    pub topic_arn: String,
}

pub struct RuleEngine {
    pub rules: BTreeMap<String, Rule>,
    /// The rule's SNS action publishes straight into the local SNS data plane.
    pub sns: Arc<SnsDataPlane>,
    pub sqs: aws_sdk_sqs::Client,
    pub rule_errors_queue_url: String,
    pub activity: ActivityLog,
}

/// Why a rule could not publish; becomes the error action's `errorMessage`.
#[derive(Debug)]
struct RuleFailure {
    rule: String,
    topic_arn: String,
    message: String,
}

impl RuleEngine {
    /// Runs the rules against the broker until the task is aborted.
    pub async fn run(self, port: u16, credentials: Credentials) {
        let engine = Arc::new(self);
        let mut options = MqttOptions::new("postoffice-iot-rules", "127.0.0.1", port);
        options
            .set_credentials(&credentials.username, &credentials.password)
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_inflight(100)
            .set_request_channel_capacity(4096)
            .set_max_packet_size(256 * 1024, 256 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 4096);
        eventloop.set_network_options(crate::mqtt::no_delay());
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for event in engine.rules.keys() {
                        if let Err(error) = client
                            .subscribe(format!("{event}/+/+"), QoS::AtLeastOnce)
                            .await
                        {
                            tracing::error!(%error, event, "subscribing the IoT rule failed");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let engine = engine.clone();
                    let client = client.clone();
                    tokio::spawn(async move {
                        if engine.execute(&publish).await {
                            let _ = client.ack(&publish).await;
                        }
                    });
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "IoT rule engine lost the broker; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Runs the rule matching the message; true when SNS or the error action took it.
    async fn execute(&self, publish: &Publish) -> bool {
        let event = publish.topic.split('/').next().unwrap_or_default();
        let Some(rule) = self.rules.get(event) else {
            return true;
        };
        let client_id = publish.topic.rsplit('/').next().unwrap_or_default();
        match self.publish_to_sns(rule, publish).await {
            Ok(()) => true,
            Err(failure) => {
                self.activity.record(Activity::RuleFailed {
                    rule: failure.rule.clone(),
                    topic: publish.topic.clone(),
                    error: failure.message.clone(),
                });
                let body = json!({
                    "ruleName": failure.rule,
                    "topic": publish.topic,
                    "cloudwatchTraceId": uuid::Uuid::new_v4().to_string(),
                    "clientId": client_id,
                    "base64OriginalPayload": BASE64.encode(&publish.payload),
                    "failures": [{
                        "failedAction": "SnsAction",
                        "failedResource": failure.topic_arn,
                        "errorMessage": failure.message,
                    }],
                });
                match self
                    .sqs
                    .send_message()
                    .queue_url(&self.rule_errors_queue_url)
                    .message_body(body.to_string())
                    .send()
                    .await
                {
                    Ok(_) => true,
                    Err(error) => {
                        // Unacknowledged, the broker redelivers it to the persistent session.
                        tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                            topic = publish.topic, "the rule's error action failed");
                        false
                    }
                }
            }
        }
    }

    async fn publish_to_sns(&self, rule: &Rule, publish: &Publish) -> Result<(), RuleFailure> {
        let failure = |message: String| RuleFailure {
            rule: rule.name.clone(),
            topic_arn: rule.topic_arn.clone(),
            message,
        };
        let topic = Topic::parse(&publish.topic)
            .map_err(|error| failure(format!("topic {}: {error}", publish.topic)))?;
        let message: DeviceMessage = serde_json::from_slice(&publish.payload)
            .map_err(|error| failure(format!("the payload is not a device message: {error}")))?;
        let envelope =
            Envelope::from_device_message(&topic, topic.device_id(), now_millis(), message);
        let message_id = self
            .sns
            .publish(PublishRequest {
                topic_arn: rule.topic_arn.clone(),
                message: envelope.to_json(),
                subject: None,
                message_attributes: Default::default(),
            })
            .map_err(|error| failure(format!("SNS Publish failed: {}", error.message)))?;
        self.activity.record(Activity::RulePublished {
            event: envelope.event.clone(),
            topic: publish.topic.clone(),
            event_id: envelope.event_id.to_string(),
            sns_message_id: message_id,
        });
        Ok(())
    }
}
