//! Amazon SNS, locally. moto holds topics and subscriptions (the control plane); this runs their
//! data plane from the plan: `Publish` fans a message out to the topic's confirmed
//! subscriptions whose filter policy matches, each drained by its own deliverer ([`delivery`])
//! with its applied retry policy and dead-letter queue; HTTP/S subscriptions stay pending until
//! their endpoint confirms with the token SNS sent, exactly as in AWS — which is what makes a
//! Terraform apply wait for the bridges to confirm.
//!
//! Like moto, it keeps messages in memory: they live and die with the local post office.

pub mod delivery;
pub mod delivery_policy;
pub mod filter;
pub mod query;
pub mod topic_attributes;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use postoffice::envelope::{format_time, now_millis};
use postoffice::sns::{LocalSigningAuthority, MessageType, SnsMessage};
use postoffice_policy::Principal;
use tokio::sync::mpsc;

use crate::activity::ActivityLog;
use crate::aws::errors::AwsError;
use crate::aws::{Call, ControlPlaneAnswer, LocalService};
use crate::cloudwatch::metrics::Metrics;
use crate::iam::{Authorizer, Check, DataKey, Target, base_context};
use crate::lambda::Lambda;
use crate::plan::{Endpoint, Plan, SubscriptionPlan};
use delivery::{Deliverer, Pending};
use delivery_policy::TimeScale;
use query::{ApiError, ConfirmSubscriptionRequest, PublishRequest, QueryRequest};

/// Re-reads the applied resources of some services and executes the new plan, now.
#[async_trait]
pub trait Refresh: Send + Sync {
    async fn refresh(&self, services: &[&str]);
}

/// What SNS needs from the rest of the post office.
pub struct Ports {
    pub lambda: Arc<Lambda>,
    /// Function URL requests in flight at once, over every subscription: beyond it deliveries
    /// wait in SNS. Each request may hold two Lambda instances (a bridge and the handler it
    /// invokes), so this is half the local host's instances; the host's limit is this
    /// machine's, not the account's, and must never show as throttles AWS would not answer.
    pub function_url_requests: Arc<tokio::sync::Semaphore>,
    pub authorizer: Arc<Authorizer>,
    pub signing: Arc<LocalSigningAuthority>,
    /// The ECS services behind local load balancers, for their HTTPS endpoints.
    pub services: Arc<crate::ecs::Services>,
    /// For HTTP/S endpoints that are not local functions or services.
    pub http: reqwest::Client,
    /// moto's SQS, as the control plane (dead-letter queues, SQS subscriptions).
    pub sqs: aws_sdk_sqs::Client,
    pub event_store: Arc<crate::firehose::EventStore>,
    pub activity: ActivityLog,
    pub metrics: Arc<Metrics>,
    pub meter: Arc<crate::metering::Meter>,
    pub time_scale: TimeScale,
    /// The local AWS endpoint, for `SubscribeURL` and `UnsubscribeURL`.
    pub endpoint: String,
}

/// A subscription as it runs.
struct Running {
    plan: Arc<std::sync::RwLock<SubscriptionPlan>>,
    /// The compiled filter policy; a policy that does not compile lets nothing through.
    filter: Option<Result<Arc<postoffice_sns_filter::FilterPolicy>, String>>,
    confirmed: bool,
    sender: mpsc::UnboundedSender<Pending>,
    pending: Arc<AtomicUsize>,
}

#[derive(Default)]
struct State {
    /// Topic ARN → subscription ARNs, in plan order.
    topics: BTreeMap<String, Vec<String>>,
    subscriptions: BTreeMap<String, Running>,
    /// Confirmation token → (topic ARN, subscription ARN).
    tokens: HashMap<String, (String, String)>,
}

pub struct Sns {
    state: Mutex<State>,
    ports: Arc<Ports>,
    refresh: Mutex<Option<Weak<dyn Refresh>>>,
    me: Weak<Sns>,
}

/// Protocols whose subscriptions must be confirmed by their endpoint.
fn needs_confirmation(protocol: &str) -> bool {
    matches!(
        protocol,
        "http" | "https" | "email" | "email-json" | "sms" | "application"
    )
}

impl Sns {
    pub fn new(ports: Arc<Ports>) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            state: Mutex::default(),
            ports,
            refresh: Mutex::new(None),
            me: me.clone(),
        })
    }

    pub fn set_refresh(&self, refresh: Weak<dyn Refresh>) {
        *self.refresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(refresh);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the plan's topics and subscriptions: new subscriptions get a deliverer (and, for
    /// HTTP/S, a confirmation handshake), changed ones their new configuration, removed ones
    /// are stopped once their messages are delivered.
    pub fn apply_plan(&self, plan: &Plan) {
        let mut state = self.lock();
        let mut topics = BTreeMap::new();
        let mut keep = Vec::new();
        let mut to_confirm = Vec::new();
        for topic in plan.topics.values() {
            let mut arns = Vec::new();
            for subscription in &topic.subscriptions {
                arns.push(subscription.arn.clone());
                keep.push(subscription.arn.clone());
                let filter = subscription.filter_policy.as_ref().map(|policy| {
                    filter::compile(policy, &subscription.filter_policy_scope)
                        .map(Arc::new)
                        .map_err(|error| error.to_string())
                });
                match state.subscriptions.get_mut(&subscription.arn) {
                    Some(running) => {
                        *running.plan.write().unwrap_or_else(|p| p.into_inner()) =
                            subscription.clone();
                        running.filter = filter;
                    }
                    None => {
                        let (sender, inbox) = mpsc::unbounded_channel();
                        let plan = Arc::new(std::sync::RwLock::new(subscription.clone()));
                        let deliverer = Deliverer {
                            plan: plan.clone(),
                            ports: self.ports.clone(),
                            sns: self.me.clone(),
                        };
                        tokio::spawn(deliverer.run(inbox));
                        let confirmed = !needs_confirmation(&subscription.protocol);
                        if !confirmed
                            && matches!(
                                subscription.endpoint,
                                Endpoint::FunctionUrl { .. }
                                    | Endpoint::Service { .. }
                                    | Endpoint::Http(_)
                            )
                        {
                            to_confirm.push(plan.clone());
                        }
                        state.subscriptions.insert(
                            subscription.arn.clone(),
                            Running {
                                plan,
                                filter,
                                confirmed,
                                sender,
                                pending: Arc::default(),
                            },
                        );
                    }
                }
            }
            topics.insert(topic.arn.clone(), arns);
        }
        state.subscriptions.retain(|arn, _| keep.contains(arn));
        state.topics = topics;
        drop(state);
        for plan in to_confirm {
            let sns = self.me.clone();
            let ports = self.ports.clone();
            tokio::spawn(async move {
                delivery::confirm(sns, ports, plan).await;
            });
        }
    }

    /// Registers the token of a `SubscriptionConfirmation` about to be sent.
    pub(crate) fn expect_confirmation(&self, token: &str, topic_arn: &str, subscription_arn: &str) {
        self.lock().tokens.insert(
            token.to_owned(),
            (topic_arn.to_owned(), subscription_arn.to_owned()),
        );
    }

    /// The subscription's `FilterPolicyScope`, as last applied.
    pub fn filter_policy_scope(&self, subscription_arn: &str) -> Option<String> {
        self.lock()
            .subscriptions
            .get(subscription_arn)
            .map(|running| {
                running
                    .plan
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .filter_policy_scope
                    .clone()
            })
    }

    pub fn is_confirmed(&self, subscription_arn: &str) -> Option<bool> {
        self.lock()
            .subscriptions
            .get(subscription_arn)
            .map(|running| running.confirmed)
    }

    /// `ConfirmSubscription`: the token must be one SNS sent for this topic. Tokens stay valid
    /// (three days in AWS), so a repeated confirmation answers the same subscription.
    pub fn confirm_subscription(
        &self,
        request: &ConfirmSubscriptionRequest,
    ) -> Result<String, ApiError> {
        let mut state = self.lock();
        if !state.topics.contains_key(&request.topic_arn) {
            return Err(ApiError::not_found("Topic does not exist"));
        }
        let Some((topic, subscription)) = state.tokens.get(&request.token).cloned() else {
            return Err(ApiError::invalid_parameter("Token"));
        };
        if topic != request.topic_arn {
            return Err(ApiError::invalid_parameter("Token"));
        }
        if let Some(running) = state.subscriptions.get_mut(&subscription)
            && !running.confirmed
        {
            running.confirmed = true;
            self.ports
                .activity
                .record(crate::activity::Activity::SubscriptionConfirmed {
                    subscription: subscription.clone(),
                    endpoint: running
                        .plan
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .endpoint_url
                        .clone(),
                });
        }
        Ok(subscription)
    }

    /// Publishes to every confirmed subscription whose filter policy matches; answers the
    /// message id. The caller has been authorised.
    pub fn publish(&self, request: PublishRequest) -> Result<String, ApiError> {
        let state = self.lock();
        let Some(subscriptions) = state.topics.get(&request.topic_arn) else {
            return Err(ApiError::not_found("Topic does not exist"));
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        // The published data: message, subject and attributes (names, types, values).
        let published_bytes = request.message.len()
            + request.subject.as_ref().map_or(0, String::len)
            + request
                .message_attributes
                .iter()
                .map(|(name, attribute)| {
                    name.len() + attribute.data_type.len() + attribute.value.len()
                })
                .sum::<usize>();
        let notification = SnsMessage {
            message_type: MessageType::Notification,
            message_id: message_id.clone(),
            topic_arn: request.topic_arn.clone(),
            subject: request.subject,
            message: request.message,
            timestamp: format_time(&now_millis()),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: None,
            unsubscribe_url: None,
            token: None,
            message_attributes: request.message_attributes,
        };
        let topic_name = topic_name(&request.topic_arn);
        self.ports
            .meter
            .sns_published(topic_name, published_bytes as u64);
        self.ports.metrics.record(
            "AWS/SNS",
            "NumberOfMessagesPublished",
            &[("TopicName", topic_name)],
            1.0,
        );
        for arn in subscriptions {
            let Some(running) = state.subscriptions.get(arn) else {
                continue;
            };
            if !running.confirmed {
                continue;
            }
            let passes = match &running.filter {
                None => true,
                Some(Ok(policy)) => filter::matches(policy, &notification),
                Some(Err(_)) => false,
            };
            if !passes {
                self.ports.metrics.record(
                    "AWS/SNS",
                    "NumberOfNotificationsFilteredOut",
                    &[("TopicName", topic_name)],
                    1.0,
                );
                continue;
            }
            running.pending.fetch_add(1, Ordering::SeqCst);
            let pending = Pending::new(
                notification.clone(),
                request.trace_header.clone(),
                running.pending.clone(),
            );
            if running.sender.send(pending).is_err() {
                return Err(ApiError::internal(format!(
                    "subscription {arn} is no longer delivered"
                )));
            }
        }
        Ok(message_id)
    }

    /// Checks, for a publisher inside the post office (an IoT rule's role, CloudWatch), what the
    /// endpoint checks for callers from outside: `sns:Publish` on the topic and, for an
    /// encrypted topic, the KMS permissions SNS uses on the publisher's behalf.
    pub fn authorize_publish(
        &self,
        principal: &Principal,
        topic_arn: &str,
        extra_context: &[(&str, &str)],
    ) -> Result<(), PublishDenied> {
        let authorizer = &self.ports.authorizer;
        let snapshot = authorizer.snapshot();
        // The default topic policy admits the topic owner's account through AWS:SourceOwner,
        // which SNS sets to the account the request comes from (a same-account alarm here).
        let mut context = base_context(true, &authorizer.region)
            .with("AWS:SourceOwner", authorizer.account.as_str());
        for (key, value) in extra_context {
            context.insert(key, *value);
        }
        authorizer
            .check(
                &snapshot,
                Check {
                    principal: principal.clone(),
                    action: "sns:Publish",
                    resource: topic_arn,
                    target: Target::Topic(topic_arn),
                    context: context.clone(),
                },
            )
            .map_err(|denial| PublishDenied::Topic(denial.message()))?;
        let key = snapshot.applied.topic_key(topic_arn);
        if let Some(key) = key {
            let context = context
                .with(
                    "kms:ViaService",
                    format!("sns.{}.amazonaws.com", authorizer.region),
                )
                .with("kms:CallerAccount", authorizer.account.as_str());
            for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                authorizer
                    .check(
                        &snapshot,
                        Check {
                            principal: principal.clone(),
                            action,
                            resource: &key,
                            target: Target::Key(
                                &key,
                                DataKey {
                                    scope: topic_arn,
                                    reuse: Some(crate::applied::TOPIC_DATA_KEY_REUSE),
                                },
                            ),
                            context: context.clone(),
                        },
                    )
                    .map_err(|denial| PublishDenied::Key(denial.message()))?;
            }
        }
        Ok(())
    }

    /// Messages accepted but not yet delivered, dead-lettered or given up, over all
    /// subscriptions.
    pub fn pending_deliveries(&self) -> usize {
        self.lock()
            .subscriptions
            .values()
            .map(|running| running.pending.load(Ordering::SeqCst))
            .sum()
    }

    async fn refresh_now(&self) {
        let refresh = self
            .refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(refresh) = refresh.and_then(|weak| weak.upgrade()) {
            refresh.refresh(&["sns"]).await;
        }
    }
}

/// Why an in-process publisher may not publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishDenied {
    /// `sns:Publish` (SNS answers AuthorizationError).
    Topic(String),
    /// The topic's KMS key (SNS answers KMSAccessDenied).
    Key(String),
}

impl std::fmt::Display for PublishDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishDenied::Topic(message) => write!(f, "AuthorizationError: {message}"),
            PublishDenied::Key(message) => write!(f, "KMSAccessDenied: {message}"),
        }
    }
}

/// The name in a topic ARN.
pub fn topic_name(topic_arn: &str) -> &str {
    topic_arn.rsplit(':').next().unwrap_or(topic_arn)
}

/// The SNS API as the local post office serves it.
pub struct SnsService {
    pub sns: Arc<Sns>,
    pub topic_attributes: Arc<topic_attributes::TopicAttributes>,
    /// `FilterPolicyScope`s set without a policy yet, which `GetSubscriptionAttributes` does
    /// not return (subscription ARN → scope).
    pub filter_policy_scopes: std::sync::Mutex<HashMap<String, String>>,
}

/// The request with the caller's trace header, which SNS passes on to its subscriptions
/// (<https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html>).
fn traced(request: PublishRequest, call: &Call) -> PublishRequest {
    PublishRequest {
        trace_header: call.request.header("x-amzn-trace-id").map(str::to_owned),
        ..request
    }
}

fn xml(body: String) -> Response {
    ([("content-type", "text/xml")], body).into_response()
}

fn api_error(call: &Call, error: ApiError) -> Response {
    call.error(&AwsError::new(error.status, error.code, error.message))
}

#[async_trait]
impl LocalService for SnsService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let query = QueryRequest::parse(call.request.raw_query.as_deref(), &call.request.body);
        match query.action()? {
            action @ ("Subscribe" | "SetSubscriptionAttributes") => {
                let (policy, scope) = if action == "Subscribe" {
                    let attributes = subscribe_attributes(&query);
                    (
                        attributes.get("FilterPolicy").cloned(),
                        attributes.get("FilterPolicyScope").cloned(),
                    )
                } else if query.get("AttributeName") == Some("FilterPolicy") {
                    // Read against the subscription's scope as it stands (Terraform sets a new
                    // MessageBody scope before the policy).
                    let scope = query.get("SubscriptionArn").and_then(|arn| {
                        self.filter_policy_scopes
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get(arn)
                            .cloned()
                            .or_else(|| self.sns.filter_policy_scope(arn))
                    });
                    (query.get("AttributeValue").map(str::to_owned), scope)
                } else {
                    (None, None)
                };
                let refusal =
                    filter::refusal(policy.as_deref()?, scope.as_deref(), action == "Subscribe")?;
                Some(call.error(&AwsError::new(400, "InvalidParameter", refusal)))
            }
            "Publish" => Some(
                match PublishRequest::from_query(&query)
                    .and_then(|request| self.sns.publish(traced(request, call)))
                {
                    Ok(message_id) => xml(query::publish_response(&message_id, &call.request_id)),
                    Err(error) => api_error(call, error),
                },
            ),
            "PublishBatch" => Some(self.publish_batch(call, &query)),
            "ConfirmSubscription" => Some(
                match ConfirmSubscriptionRequest::from_query(&query)
                    .and_then(|request| self.sns.confirm_subscription(&request))
                {
                    Ok(arn) => xml(query::confirm_subscription_response(&arn, &call.request_id)),
                    Err(error) => api_error(call, error),
                },
            ),
            _ => None,
        }
    }

    async fn observe(&self, call: &Call, answer: ControlPlaneAnswer) -> ControlPlaneAnswer {
        let Some(action) = call.action() else {
            return answer;
        };
        if !answer.status.is_success() {
            return answer;
        }
        self.keep_topic_attributes(call, &action, &answer);
        match action.as_str() {
            "GetTopicAttributes" => {
                let parameters = call.request.parameters();
                let Some(topic) = parameters.get("TopicArn") else {
                    return answer;
                };
                let body = String::from_utf8_lossy(&answer.body);
                let completed = self.topic_attributes.complete_xml(topic, &body);
                ControlPlaneAnswer {
                    body: completed.into(),
                    ..answer
                }
            }
            "Subscribe"
            | "Unsubscribe"
            | "SetSubscriptionAttributes"
            | "CreateTopic"
            | "DeleteTopic"
            | "SetTopicAttributes" => {
                // The new subscription runs (and its confirmation is sent) before Subscribe
                // answers, as SNS sends the confirmation at once.
                self.sns.refresh_now().await;
                answer
            }
            "GetSubscriptionAttributes" => {
                let answer = self.overlay_confirmation(call, answer);
                // SNS deletes a policy set to `{}`; moto keeps it, and Terraform would then see
                // a policy it removed.
                let body = String::from_utf8_lossy(&answer.body);
                let body = without_removed_filter_policy(&body);
                ControlPlaneAnswer {
                    body: body.into(),
                    ..answer
                }
            }
            _ => answer,
        }
    }
}

impl SnsService {
    /// Remembers the topic attributes moto drops, once moto accepted the call.
    fn keep_topic_attributes(&self, call: &Call, action: &str, answer: &ControlPlaneAnswer) {
        let parameters = call.request.parameters();
        match action {
            "CreateTopic" => {
                let body = String::from_utf8_lossy(&answer.body);
                let Some(topic) = body
                    .split_once("<TopicArn>")
                    .and_then(|(_, rest)| rest.split_once("</TopicArn>"))
                    .map(|(arn, _)| arn.to_owned())
                else {
                    return;
                };
                for (name, value) in topic_attributes::create_topic_attributes(&parameters) {
                    self.topic_attributes.set(&topic, &name, &value);
                }
            }
            "SetSubscriptionAttributes"
                if parameters.get("AttributeName").map(String::as_str)
                    == Some("FilterPolicyScope") =>
            {
                if let (Some(subscription), Some(scope)) = (
                    parameters.get("SubscriptionArn"),
                    parameters.get("AttributeValue"),
                ) {
                    self.filter_policy_scopes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(subscription.clone(), scope.clone());
                }
            }
            "SetTopicAttributes" => {
                if let (Some(topic), Some(name)) =
                    (parameters.get("TopicArn"), parameters.get("AttributeName"))
                {
                    let value = parameters.get("AttributeValue").map_or("", String::as_str);
                    self.topic_attributes.set(topic, name, value);
                }
            }
            "DeleteTopic" => {
                if let Some(topic) = parameters.get("TopicArn") {
                    self.topic_attributes.forget(topic);
                }
            }
            _ => {}
        }
    }

    /// `PendingConfirmation` as SNS reports it: true until the endpoint confirmed.
    fn overlay_confirmation(&self, call: &Call, answer: ControlPlaneAnswer) -> ControlPlaneAnswer {
        let parameters = call.request.parameters();
        let Some(arn) = parameters.get("SubscriptionArn") else {
            return answer;
        };
        let Some(confirmed) = self.sns.is_confirmed(arn) else {
            return answer;
        };
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        let pending = if confirmed { "false" } else { "true" };
        let replaced = replace_attribute(&body, "PendingConfirmation", pending);
        let replaced = replace_attribute(
            &replaced,
            "ConfirmationWasAuthenticated",
            if confirmed { "true" } else { "false" },
        );
        ControlPlaneAnswer {
            body: replaced.into(),
            ..answer
        }
    }

    fn publish_batch(&self, call: &Call, query: &QueryRequest) -> Response {
        let Some(topic_arn) = query.get("TopicArn").filter(|arn| !arn.is_empty()) else {
            return api_error(
                call,
                ApiError::invalid_parameter("TopicArn Reason: no value for required parameter"),
            );
        };
        let mut successful = String::new();
        let mut failed = String::new();
        let mut count = 0;
        for index in 1.. {
            let prefix = format!("PublishBatchRequestEntries.member.{index}.");
            let Some(id) = query.get(&format!("{prefix}Id")) else {
                break;
            };
            count += 1;
            if count > 10 {
                return api_error(
                    call,
                    ApiError {
                        status: 400,
                        code: "TooManyEntriesInBatchRequest",
                        message: "The batch request contains more entries than permissible (10)"
                            .to_owned(),
                    },
                );
            }
            let mut entry = String::from("Action=Publish");
            entry.push_str(&format!("&TopicArn={}", urlencode(topic_arn)));
            for (name, value) in query.with_prefix(&prefix) {
                entry.push_str(&format!("&{}={}", urlencode(&name), urlencode(&value)));
            }
            let single = QueryRequest::parse(None, entry.as_bytes());
            match PublishRequest::from_query(&single)
                .and_then(|request| self.sns.publish(traced(request, call)))
            {
                Ok(message_id) => successful.push_str(&format!(
                    "<member><Id>{}</Id><MessageId>{message_id}</MessageId></member>",
                    crate::aws::errors::xml_escape(id)
                )),
                Err(error) => failed.push_str(&format!(
                    "<member><Id>{}</Id><Code>{}</Code><Message>{}</Message><SenderFault>true</SenderFault></member>",
                    crate::aws::errors::xml_escape(id),
                    error.code,
                    crate::aws::errors::xml_escape(&error.message)
                )),
            }
        }
        if count == 0 {
            return api_error(
                call,
                ApiError {
                    status: 400,
                    code: "EmptyBatchRequest",
                    message: "The batch request doesn't contain any entries".to_owned(),
                },
            );
        }
        xml(format!(
            "<PublishBatchResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishBatchResult><Successful>{successful}</Successful><Failed>{failed}</Failed></PublishBatchResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></PublishBatchResponse>",
            call.request_id
        ))
    }
}

/// `Attributes.entry.N.key` / `.value` of a `Subscribe` request.
fn subscribe_attributes(query: &QueryRequest) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    for index in 1.. {
        let Some(key) = query.get(&format!("Attributes.entry.{index}.key")) else {
            break;
        };
        let value = query
            .get(&format!("Attributes.entry.{index}.value"))
            .unwrap_or_default();
        attributes.insert(key.to_owned(), value.to_owned());
    }
    attributes
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Replaces an attribute's value in a `GetSubscriptionAttributes` XML answer.
/// Where the `<entry>` of attribute `name` lies in an `Attributes` XML: the whole entry, and
/// its value within it.
struct AttributeEntry {
    entry: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

fn attribute_entry(xml: &str, name: &str) -> Option<AttributeEntry> {
    let key = xml.find(&format!("<key>{name}</key>"))?;
    let start = xml[..key].rfind("<entry>")?;
    let open = key + xml[key..].find("<value>")? + "<value>".len();
    let close = open + xml[open..].find("</value>")?;
    let end = close + xml[close..].find("</entry>")? + "</entry>".len();
    Some(AttributeEntry {
        entry: start..end,
        value: open..close,
    })
}

fn replace_attribute(xml: &str, name: &str, value: &str) -> String {
    match attribute_entry(xml, name) {
        Some(found) => format!(
            "{}{value}{}",
            &xml[..found.value.start],
            &xml[found.value.end..]
        ),
        None => xml.to_owned(),
    }
}

/// The attributes without a `FilterPolicy` entry that stands for none (`{}`).
fn without_removed_filter_policy(xml: &str) -> String {
    match attribute_entry(xml, "FilterPolicy") {
        Some(found) if filter::removes_the_policy(&xml[found.value.clone()]) => {
            format!("{}{}", &xml[..found.entry.start], &xml[found.entry.end..])
        }
        _ => xml.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_filter_policy_is_not_reported() {
        let attributes = |policy: &str| {
            format!(
                "<Attributes><entry><key>Owner</key><value>1</value></entry>\n<entry><key>FilterPolicy</key><value>{policy}</value></entry><entry><key>RawMessageDelivery</key><value>false</value></entry></Attributes>"
            )
        };
        let removed = without_removed_filter_policy(&attributes("{}"));
        assert!(!removed.contains("FilterPolicy"), "{removed}");
        assert!(
            removed.contains("<key>Owner</key>")
                && removed.contains("<key>RawMessageDelivery</key>")
        );
        let kept = attributes(r#"{"program":["steam"]}"#);
        assert_eq!(without_removed_filter_policy(&kept), kept);
    }

    #[test]
    fn subscription_attributes_are_rewritten_in_place() {
        let xml = "<Attributes><entry><key>PendingConfirmation</key><value>false</value></entry><entry><key>Owner</key><value>1</value></entry></Attributes>";
        let replaced = replace_attribute(xml, "PendingConfirmation", "true");
        assert!(
            replaced.contains("<key>PendingConfirmation</key><value>true</value>"),
            "{replaced}"
        );
        assert!(replaced.contains("<key>Owner</key><value>1</value>"));
        assert_eq!(replace_attribute(xml, "Missing", "x"), xml);
    }
}
