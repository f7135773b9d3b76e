//! The IoT rules engine, locally: every message the gateway accepted is offered to each enabled
//! rule whose FROM filter matches; the rule's SQL (`postoffice-iot-sql`, version 2016-03-23)
//! makes the outgoing payload, and its actions run as the rule's role: IoT assumes the role
//! (its trust policy must allow `iot.amazonaws.com` for this rule) and acts with that role's
//! permissions, KMS key policies included. An action that fails runs the rule's error action
//! with IoT's error message; if that fails too, the message is gone, as in AWS, and counted
//! (`ErrorActionFailure`).
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html>)

use std::sync::{Arc, RwLock};
use std::time::UNIX_EPOCH;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice_iot_gateway::{AcceptedMessage, Gateway, Origin, QoS};
use postoffice_iot_sql::{Message, Outgoing};
use serde_json::json;

use crate::activity::{Activity, ActivityLog};
use crate::applied::iot::RuleAction;
use crate::cloudwatch::metrics::Metrics;
use crate::iam::{Authorizer, Check, DataKey, Target, base_context};
use crate::metering::{IotPublisher, Meter, queue_name};
use crate::plan::{Plan, RulePlan};
use crate::sns::Sns;
use crate::sns::query::PublishRequest;

pub struct RuleEngine {
    rules: RwLock<Arc<Vec<RulePlan>>>,
    pub sns: Arc<Sns>,
    pub authorizer: Arc<Authorizer>,
    pub sqs: aws_sdk_sqs::Client,
    pub gateway: Arc<Gateway>,
    pub metrics: Arc<Metrics>,
    pub activity: ActivityLog,
    pub meter: Arc<Meter>,
}

/// One action's failure, as the error action message reports it.
struct ActionFailure {
    action: &'static str,
    resource: String,
    message: String,
}

impl RuleEngine {
    pub fn new(
        sns: Arc<Sns>,
        authorizer: Arc<Authorizer>,
        sqs: aws_sdk_sqs::Client,
        gateway: Arc<Gateway>,
        metrics: Arc<Metrics>,
        activity: ActivityLog,
        meter: Arc<Meter>,
    ) -> Self {
        Self {
            rules: RwLock::new(Arc::new(Vec::new())),
            sns,
            authorizer,
            sqs,
            gateway,
            metrics,
            activity,
            meter,
        }
    }

    pub fn apply_plan(&self, plan: &Plan) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(plan.rules.clone());
    }

    /// Runs the rules on the gateway's accepted messages until the stream ends.
    pub async fn run(
        self: Arc<Self>,
        mut accepted: tokio::sync::mpsc::UnboundedReceiver<AcceptedMessage>,
    ) {
        while let Some(message) = accepted.recv().await {
            // Every message the broker accepted is an inbound message, whether a rule takes it
            // or not.
            let publisher = match message.origin {
                Origin::Client { .. } => IotPublisher::Device,
                Origin::Will { .. } => IotPublisher::Will,
                Origin::Api => IotPublisher::Api,
            };
            self.meter.iot_published(
                publisher,
                message.topic.len() as u64,
                message.payload.len() as u64,
            );
            let rules = self.rules.read().unwrap_or_else(|p| p.into_inner()).clone();
            let matching: Vec<RulePlan> = rules
                .iter()
                .filter(|rule| rule.enabled && rule.statement.matches_topic(&message.topic))
                .cloned()
                .collect();
            if matching.is_empty() {
                continue;
            }
            let engine = self.clone();
            tokio::spawn(async move {
                for rule in &matching {
                    engine.execute(rule, &message).await;
                }
            });
        }
    }

    async fn execute(&self, rule: &RulePlan, accepted: &AcceptedMessage) {
        let dimensions = [("RuleName", rule.name.as_str())];
        self.metrics
            .record("AWS/IoT", "TopicMatch", &dimensions, 1.0);
        let (client_id, principal) = match &accepted.origin {
            Origin::Client {
                client_id,
                principal,
            }
            | Origin::Will {
                client_id,
                principal,
            } => (Some(client_id.to_string()), Some(principal.to_string())),
            Origin::Api => (None, None),
        };
        let trace_id = accepted.trace_id.to_string();
        let timestamp_ms = accepted
            .received_at
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as i64)
            .unwrap_or_default();
        if serde_json::from_slice::<serde_json::Value>(&accepted.payload).is_err() {
            // "ParseError: JSON parse errors in messages published on a topic a rule listens on."
            self.metrics
                .record("AWS/IoT", "ParseError", &dimensions, 1.0);
        }
        let message = Message {
            topic: &accepted.topic,
            payload: &accepted.payload,
            client_id: client_id.as_deref(),
            timestamp_ms,
            trace_id: Some(&trace_id),
            principal: principal.as_deref(),
        };
        let Some(outgoing) = rule.statement.execute(&message) else {
            // A rule whose topic filter took the message is triggered, whether or not its
            // WHERE clause selects it.
            self.meter
                .iot_rule_triggered(&rule.name, accepted.payload.len() as u64, 0);
            return;
        };
        let error_action = if rule.error_action.is_some() { 1 } else { 0 };
        let mut failures = Vec::new();
        for action in &rule.actions {
            let kind = action_type(action);
            match self
                .run_action(rule, action, outgoing.clone(), accepted)
                .await
            {
                Ok(()) => self.metrics.record(
                    "AWS/IoT",
                    "Success",
                    &[("RuleName", rule.name.as_str()), ("ActionType", kind)],
                    1.0,
                ),
                Err(failure) => {
                    self.metrics.record(
                        "AWS/IoT",
                        "Failure",
                        &[("RuleName", rule.name.as_str()), ("ActionType", kind)],
                        1.0,
                    );
                    failures.push(failure);
                }
            }
        }
        let processed = accepted.payload.len() as u64;
        if failures.is_empty() {
            self.meter
                .iot_rule_triggered(&rule.name, processed, rule.actions.len() as u64);
            return;
        }
        self.meter.iot_rule_triggered(
            &rule.name,
            processed,
            rule.actions.len() as u64 + error_action,
        );
        let error = failures
            .iter()
            .map(|failure| format!("{}: {}", failure.action, failure.message))
            .collect::<Vec<_>>()
            .join("; ");
        tracing::warn!(rule = rule.name, topic = %accepted.topic, error, "a rule action failed");
        let mut error_action_failure = None;
        let kept = match &rule.error_action {
            Some(error_action) => {
                let document = json!({
                    "ruleName": rule.name,
                    "topic": accepted.topic.as_ref(),
                    "cloudwatchTraceId": trace_id,
                    "clientId": client_id.clone().unwrap_or_else(|| "n/a".to_owned()),
                    "base64OriginalPayload": BASE64.encode(&accepted.payload),
                    "failures": failures.iter().map(|failure| json!({
                        "failedAction": failure.action,
                        "failedResource": failure.resource,
                        "errorMessage": failure.message,
                    })).collect::<Vec<_>>(),
                });
                let payload = Outgoing::Raw(document.to_string().into_bytes());
                match self.run_action(rule, error_action, payload, accepted).await {
                    Ok(()) => {
                        self.metrics
                            .record("AWS/IoT", "ErrorActionSuccess", &dimensions, 1.0);
                        true
                    }
                    Err(failure) => {
                        self.metrics
                            .record("AWS/IoT", "ErrorActionFailure", &dimensions, 1.0);
                        tracing::error!(
                            rule = rule.name,
                            error = failure.message,
                            "the rule's error action failed: the message is lost"
                        );
                        error_action_failure =
                            Some(format!("{}: {}", failure.action, failure.message));
                        false
                    }
                }
            }
            None => false,
        };
        self.activity.record(Activity::RuleFailed {
            rule: rule.name.clone(),
            topic: accepted.topic.to_string(),
            error,
            kept,
            error_action_failure,
        });
    }

    async fn run_action(
        &self,
        rule: &RulePlan,
        action: &RuleAction,
        outgoing: Outgoing,
        accepted: &AcceptedMessage,
    ) -> Result<(), ActionFailure> {
        let snapshot = self.authorizer.snapshot();
        let failure = |action: &'static str, resource: &str, message: String| ActionFailure {
            action,
            resource: resource.to_owned(),
            message,
        };
        match action {
            RuleAction::Sns {
                target_arn,
                role_arn,
                message_format,
            } => {
                let role = self
                    .authorizer
                    .assume_role(&snapshot, "iot.amazonaws.com", role_arn, &rule.arn)
                    .map_err(|denial| failure("SnsAction", target_arn, denial.message()))?;
                self.sns
                    .authorize_publish(&role, target_arn, &[])
                    .map_err(|denied| failure("SnsAction", target_arn, denied.to_string()))?;
                let event_id = match &outgoing {
                    Outgoing::Json(json) => json["event_id"].as_str().map(str::to_owned),
                    Outgoing::Raw(_) => None,
                };
                let bytes = outgoing.into_bytes();
                let message = String::from_utf8(bytes).map_err(|_| {
                    failure(
                        "SnsAction",
                        target_arn,
                        "the message is not UTF-8".to_owned(),
                    )
                })?;
                if message_format == "JSON"
                    && serde_json::from_str::<serde_json::Value>(&message).is_err()
                {
                    return Err(failure(
                        "SnsAction",
                        target_arn,
                        "the JSON message format needs a JSON message".to_owned(),
                    ));
                }
                let sns_message_id = self
                    .sns
                    .publish(PublishRequest {
                        topic_arn: target_arn.clone(),
                        message,
                        subject: None,
                        message_attributes: Default::default(),
                        trace_header: None,
                    })
                    .map_err(|error| {
                        failure(
                            "SnsAction",
                            target_arn,
                            format!("{}: {}", error.code, error.message),
                        )
                    })?;
                self.activity.record(Activity::RulePublished {
                    rule: rule.name.clone(),
                    topic: accepted.topic.to_string(),
                    event_id,
                    sns_message_id,
                });
                Ok(())
            }
            RuleAction::Sqs {
                queue_url,
                role_arn,
                use_base64,
            } => {
                let role = self
                    .authorizer
                    .assume_role(&snapshot, "iot.amazonaws.com", role_arn, &rule.arn)
                    .map_err(|denial| failure("SqsAction", queue_url, denial.message()))?;
                let queue = snapshot.applied.sqs.by_url(queue_url).cloned();
                let queue_arn = queue
                    .as_ref()
                    .map(|queue| queue.arn().to_owned())
                    .ok_or_else(|| {
                        failure(
                            "SqsAction",
                            queue_url,
                            format!("queue {queue_url} does not exist"),
                        )
                    })?;
                let context = base_context(true, &self.authorizer.region);
                self.authorizer
                    .check(
                        &snapshot,
                        Check {
                            principal: role.clone(),
                            action: "sqs:SendMessage",
                            resource: &queue_arn,
                            target: Target::Queue(&queue_arn),
                            context: context.clone(),
                        },
                    )
                    .map_err(|denial| failure("SqsAction", queue_url, denial.message()))?;
                let key = snapshot.applied.queue_key(&queue_arn);
                if let Some(key) = key {
                    let context = context
                        .with(
                            "kms:ViaService",
                            format!("sqs.{}.amazonaws.com", self.authorizer.region),
                        )
                        .with("kms:CallerAccount", self.authorizer.account.as_str());
                    for kms_action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                        self.authorizer
                            .check(
                                &snapshot,
                                Check {
                                    principal: role.clone(),
                                    action: kms_action,
                                    resource: &key,
                                    target: Target::Key(
                                        &key,
                                        DataKey {
                                            scope: &queue_arn,
                                            reuse: Some(
                                                snapshot.applied.queue_data_key_reuse(&queue_arn),
                                            ),
                                        },
                                    ),
                                    context: context.clone(),
                                },
                            )
                            .map_err(|denial| failure("SqsAction", queue_url, denial.message()))?;
                    }
                }
                let bytes = outgoing.into_bytes();
                let body = if *use_base64 {
                    BASE64.encode(&bytes)
                } else {
                    String::from_utf8(bytes).map_err(|_| {
                        failure(
                            "SqsAction",
                            queue_url,
                            "the message is not UTF-8 and useBase64 is false".to_owned(),
                        )
                    })?
                };
                let size = body.len() as u64;
                let sent = self
                    .sqs
                    .send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .send()
                    .await;
                if sent.is_ok() {
                    self.meter.sqs_sent(queue_name(queue_url), "iot-rule", size);
                }
                sent.map(drop).map_err(|error| {
                    failure(
                        "SqsAction",
                        queue_url,
                        aws_sdk_sqs::error::DisplayErrorContext(&error).to_string(),
                    )
                })
            }
            RuleAction::Republish {
                topic,
                role_arn,
                qos,
            } => {
                let role = self
                    .authorizer
                    .assume_role(&snapshot, "iot.amazonaws.com", role_arn, &rule.arn)
                    .map_err(|denial| failure("RepublishAction", topic, denial.message()))?;
                let resource = postoffice_policy::iot::topic_arn(
                    &self.authorizer.region,
                    &self.authorizer.account,
                    topic,
                );
                self.authorizer
                    .check(
                        &snapshot,
                        Check {
                            principal: role,
                            action: "iot:Publish",
                            resource: &resource,
                            target: Target::Nothing,
                            context: base_context(true, &self.authorizer.region),
                        },
                    )
                    .map_err(|denial| failure("RepublishAction", topic, denial.message()))?;
                let qos = if *qos == 1 {
                    QoS::AtLeastOnce
                } else {
                    QoS::AtMostOnce
                };
                self.gateway
                    .publish(topic, outgoing.into_bytes(), qos, false)
                    .map(drop)
                    .map_err(|error| failure("RepublishAction", topic, error.to_string()))
            }
            RuleAction::Other(kind) => Err(failure(
                "UnsupportedAction",
                kind,
                format!("the {kind} action is not run locally"),
            )),
        }
    }
}

fn action_type(action: &RuleAction) -> &'static str {
    match action {
        RuleAction::Sns { .. } => "SNS",
        RuleAction::Sqs { .. } => "SQS",
        RuleAction::Republish { .. } => "Republish",
        RuleAction::Other(_) => "Other",
    }
}
