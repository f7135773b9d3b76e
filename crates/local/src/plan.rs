//! The plan: what runs, with which environment, wired to what — built purely from what was
//! applied ([`Applied`]) and the facts of the local platform ([`Platform`]). The services
//! execute it; nothing in it comes from the catalog or a local configuration. What cannot run
//! locally is listed as a problem, never silently dropped.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::applied::Applied;
use crate::applied::iot::RuleAction;
use crate::applied::lambda::Function;
use crate::sns::delivery_policy::HealthyRetryPolicy;

/// What the local platform adds to AWS's picture.
#[derive(Debug, Clone)]
pub struct Platform {
    pub account: String,
    pub region: String,
    /// The local AWS endpoint (`AWS_ENDPOINT_URL` of every function).
    pub aws_endpoint: String,
    /// The local CA (`AWS_CA_BUNDLE` of every function).
    pub ca_bundle: PathBuf,
    /// The local SNS signing certificate, which the bridges must be told to trust.
    pub signing_certificate: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub functions: BTreeMap<String, FunctionPlan>,
    /// Topic ARN → topic.
    pub topics: BTreeMap<String, TopicPlan>,
    pub rules: Vec<RulePlan>,
    /// Stream ARN → stream.
    pub streams: BTreeMap<String, StreamPlan>,
    /// ECS service name → the local process that stands for its tasks.
    pub services: BTreeMap<String, ServicePlan>,
    pub problems: Vec<String>,
}

/// An ECS service (`compute = "container"`), run as one local process of the workspace binary
/// its image names, behind the local stand-in of its load balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    pub name: String,
    pub arn: String,
    /// The binary: the last path segment of the image's repository
    /// (`…/example-kitchen-service:1.4.0` → `example-kitchen-service`).
    pub binary: String,
    /// The task role, whose credentials the process gets.
    pub role_arn: Option<String>,
    /// The task definition's environment plus the local platform's endpoint variables.
    pub environment: BTreeMap<String, String>,
    /// The container port the target group sends to (the process listens on a free one).
    pub port: u16,
    pub target_group_arn: String,
    pub health_check_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionPlan {
    pub name: String,
    pub arn: String,
    pub role_arn: String,
    /// The applied environment plus the local platform's endpoint variables.
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub code_sha256: String,
    pub reserved_concurrency: Option<u32>,
    /// The function URL id and its auth type.
    pub url: Option<(String, String)>,
    /// The alias invocations may name ([`served_alias`]).
    pub alias: Option<String>,
    /// The format of its system log records.
    pub log_format: postoffice_lambda_host::LogFormat,
    /// `TracingConfig.Mode`; Lambda's default, `PassThrough`, when none is set.
    pub tracing: postoffice_lambda_host::TracingMode,
    /// Where Lambda sends its logs: `LoggingConfig.LogGroup`, by default `/aws/lambda/NAME`.
    pub log_group: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicPlan {
    pub arn: String,
    /// The resolved key ARN of an encrypted topic.
    pub kms_key_arn: Option<String>,
    pub subscriptions: Vec<SubscriptionPlan>,
}

/// Where SNS delivers a subscription's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An HTTP/S endpoint that is the function URL of a local function, or of one of its
    /// aliases (`qualifier`).
    FunctionUrl {
        function: String,
        qualifier: Option<String>,
        url_id: String,
    },
    /// An HTTPS endpoint a local load balancer's listener forwards to an ECS service.
    Service {
        service: String,
    },
    /// Any other HTTP/S endpoint.
    Http(String),
    Firehose {
        stream_arn: String,
        role_arn: String,
    },
    Sqs {
        queue_arn: String,
    },
    /// A protocol the local post office does not deliver (email, sms, application...).
    Unsupported {
        protocol: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionPlan {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint_url: String,
    pub endpoint: Endpoint,
    pub raw_message_delivery: bool,
    pub filter_policy: Option<String>,
    /// `MessageAttributes` (the default) or `MessageBody`; set with or without a policy.
    pub filter_policy_scope: String,
    /// The dead-letter queue's ARN.
    pub dead_letter_queue: Option<String>,
    /// The effective HTTP/S retry policy.
    pub retry_policy: HealthyRetryPolicy,
}

#[derive(Debug, Clone)]
pub struct RulePlan {
    pub name: String,
    pub arn: String,
    pub statement: postoffice_iot_sql::Statement,
    pub enabled: bool,
    pub actions: Vec<RuleAction>,
    pub error_action: Option<RuleAction>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    pub name: String,
    pub arn: String,
    pub role_arn: String,
    pub bucket: String,
    pub prefix: String,
    pub error_output_prefix: String,
    pub kms_key_arn: Option<String>,
    /// Partition key → the JSON path of the record it is taken from (`event` → `.event`).
    pub partition_keys: BTreeMap<String, String>,
    /// Whether a newline is appended to every record (`AppendDelimiterToRecord`).
    pub append_delimiter: bool,
    /// How each partition is buffered before it becomes an object (what S3 PUTs are metered by).
    pub buffering: crate::metering::Buffering,
}

impl Plan {
    pub fn from_applied(applied: &Applied, platform: &Platform) -> Plan {
        let mut plan = Plan::default();
        plan.functions = functions(applied, platform, &mut plan.problems);
        plan.topics = topics(applied, &mut plan.problems);
        plan.rules = rules(applied, platform, &mut plan.problems);
        plan.streams = streams(applied, &mut plan.problems);
        plan.services = services(applied, platform, &mut plan.problems);
        plan
    }

    /// The function behind a function URL id.
    pub fn function_by_url_id(&self, url_id: &str) -> Option<&FunctionPlan> {
        self.functions
            .values()
            .find(|function| function.url.as_ref().is_some_and(|(id, _)| id == url_id))
    }
}

/// The alias of `function` that runs locally. The Lambda host runs each function's `$LATEST`
/// and resolves a qualifier to it only when the qualifier is the configuration's version, so an
/// alias is run by naming it as the version ([`crate::lambda::registry`]): one alias per
/// function, following `$LATEST` (what Terraform's `aws_lambda_alias` does without publishing).
/// Any other alias is a problem.
pub fn served_alias(function: &Function, problems: &mut Vec<String>) -> Option<String> {
    let mut served = None;
    for alias in function.aliases.values() {
        if alias.function_version != "$LATEST" {
            problems.push(format!(
                "function {}: alias {} points to version {}; only $LATEST runs locally",
                function.name, alias.name, alias.function_version
            ));
        } else if let Some(first) = &served {
            problems.push(format!(
                "function {}: alias {} is not run locally (one alias per function runs: {first})",
                function.name, alias.name
            ));
        } else {
            served = Some(alias.name.clone());
        }
    }
    served
}

fn functions(
    applied: &Applied,
    platform: &Platform,
    problems: &mut Vec<String>,
) -> BTreeMap<String, FunctionPlan> {
    applied
        .lambda
        .functions
        .values()
        .map(|function| {
            let mut environment = function.environment.clone();
            // Only endpoints differ locally: every SDK client reaches the local endpoint and
            // trusts its CA; the bridges trust the local SNS signing certificate.
            environment
                .entry("AWS_ENDPOINT_URL".to_owned())
                .or_insert_with(|| platform.aws_endpoint.clone());
            environment.insert(
                "AWS_CA_BUNDLE".to_owned(),
                platform.ca_bundle.display().to_string(),
            );
            environment.insert(
                "POSTOFFICE_LOCAL_TRUSTED_CERT".to_owned(),
                platform.signing_certificate.display().to_string(),
            );
            (
                function.name.clone(),
                FunctionPlan {
                    name: function.name.clone(),
                    arn: function.arn.clone(),
                    role_arn: function.role.clone(),
                    environment,
                    timeout: Duration::from_secs(u64::from(function.timeout_seconds)),
                    memory_mb: function.memory_mb,
                    code_sha256: function.code_sha256.clone(),
                    reserved_concurrency: function.reserved_concurrency,
                    url: function
                        .url
                        .as_ref()
                        .map(|url| (url.id().to_owned(), url.auth_type.clone())),
                    alias: served_alias(function, problems),
                    log_format: log_format(function, problems),
                    tracing: tracing_mode(function, problems),
                    log_group: function
                        .log_group
                        .clone()
                        .unwrap_or_else(|| format!("/aws/lambda/{}", function.name)),
                },
            )
        })
        .collect()
}

/// The function's log format; Lambda's default, text, when none is set.
fn log_format(
    function: &crate::applied::lambda::Function,
    problems: &mut Vec<String>,
) -> postoffice_lambda_host::LogFormat {
    let Some(format) = &function.log_format else {
        return postoffice_lambda_host::LogFormat::Text;
    };
    postoffice_lambda_host::LogFormat::parse(format).unwrap_or_else(|| {
        problems.push(format!(
            "function {}: log format {format:?} is neither Text nor JSON; its system logs are written as text",
            function.name
        ));
        postoffice_lambda_host::LogFormat::Text
    })
}

/// The function's tracing mode; Lambda's default, `PassThrough`, when none is set.
fn tracing_mode(
    function: &crate::applied::lambda::Function,
    problems: &mut Vec<String>,
) -> postoffice_lambda_host::TracingMode {
    let Some(mode) = &function.tracing_mode else {
        return postoffice_lambda_host::TracingMode::PassThrough;
    };
    postoffice_lambda_host::TracingMode::parse(mode).unwrap_or_else(|| {
        problems.push(format!(
            "function {}: tracing mode {mode:?} is neither Active nor PassThrough; it is not traced",
            function.name
        ));
        postoffice_lambda_host::TracingMode::PassThrough
    })
}

fn services(
    applied: &Applied,
    platform: &Platform,
    problems: &mut Vec<String>,
) -> BTreeMap<String, ServicePlan> {
    let mut services = BTreeMap::new();
    for service in applied.ecs.services.values() {
        let Some(balancer) = service.load_balancers.first() else {
            problems.push(format!(
                "ECS service {}: no load balancer; only services behind one run locally",
                service.name
            ));
            continue;
        };
        let Some(container) = service
            .containers
            .iter()
            .find(|container| container.name == balancer.container_name)
        else {
            problems.push(format!(
                "ECS service {}: its task definition has no container {}",
                service.name, balancer.container_name
            ));
            continue;
        };
        if service.containers.len() > 1 {
            problems.push(format!(
                "ECS service {}: only container {} runs locally",
                service.name, container.name
            ));
        }
        let Some(binary) = image_binary(&container.image) else {
            problems.push(format!(
                "ECS service {}: image {:?} names no binary",
                service.name, container.image
            ));
            continue;
        };
        let mut environment = container.environment.clone();
        environment
            .entry("AWS_ENDPOINT_URL".to_owned())
            .or_insert_with(|| platform.aws_endpoint.clone());
        environment.insert("AWS_REGION".to_owned(), platform.region.clone());
        environment.insert(
            "AWS_CA_BUNDLE".to_owned(),
            platform.ca_bundle.display().to_string(),
        );
        environment.insert(
            "POSTOFFICE_LOCAL_TRUSTED_CERT".to_owned(),
            platform.signing_certificate.display().to_string(),
        );
        services.insert(
            service.name.clone(),
            ServicePlan {
                name: service.name.clone(),
                arn: service.arn.clone(),
                binary: binary.to_owned(),
                role_arn: service.task_role_arn.clone(),
                environment,
                port: balancer.container_port,
                target_group_arn: balancer.target_group_arn.clone(),
                health_check_path: applied
                    .elbv2
                    .health_check_paths
                    .get(&balancer.target_group_arn)
                    .cloned()
                    .unwrap_or_else(|| "/".to_owned()),
            },
        );
    }
    services
}

/// The binary an image stands for locally: its repository's last path segment, without tag or
/// digest.
pub fn image_binary(image: &str) -> Option<&str> {
    let repository = image.split('@').next()?;
    let last = repository.rsplit('/').next()?;
    let name = last.split(':').next()?;
    (!name.is_empty()).then_some(name)
}

/// The ECS service an HTTPS URL reaches through a local load balancer: the first rule of an
/// HTTPS listener (by priority, the default action last) that takes the URL's host and path and
/// forwards to a target group a service registers with. Locally there is no DNS: a listener
/// whose load balancer's DNS name is the host is asked alone, else every HTTPS listener (the
/// host being a name that would point at one); two of them reaching different services is an
/// error.
pub fn service_behind(applied: &Applied, endpoint_url: &str) -> Result<Option<String>, String> {
    let Ok(url) = url::Url::parse(endpoint_url) else {
        return Ok(None);
    };
    if url.scheme() != "https" {
        return Ok(None);
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(443);
    let listeners: Vec<_> = applied
        .elbv2
        .listeners
        .iter()
        .filter(|listener| listener.protocol == "HTTPS" && listener.port == port)
        .collect();
    let named: Vec<_> = listeners
        .iter()
        .filter(|listener| listener.dns_name.eq_ignore_ascii_case(&host))
        .copied()
        .collect();
    let asked = if named.is_empty() { listeners } else { named };
    let mut reached: Vec<String> = asked
        .iter()
        .filter_map(|listener| {
            let rule = listener.rules.iter().find(|rule| {
                (rule.path_patterns.is_empty()
                    || rule
                        .path_patterns
                        .iter()
                        .any(|pattern| wildcard_match(pattern, url.path())))
                    && (rule.host_headers.is_empty()
                        || rule
                            .host_headers
                            .iter()
                            .any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), &host)))
            })?;
            let group = rule.forward_to.as_ref()?;
            applied
                .ecs
                .services
                .values()
                .find(|service| {
                    service
                        .load_balancers
                        .iter()
                        .any(|balancer| &balancer.target_group_arn == group)
                })
                .map(|service| service.name.clone())
        })
        .collect();
    reached.sort();
    reached.dedup();
    match reached.len() {
        0 => Ok(None),
        1 => Ok(reached.pop()),
        _ => Err(format!(
            "{endpoint_url} reaches ECS services {} through different load balancers; locally there is no DNS to tell them apart (use the load balancer's DNS name as the host)",
            reached.join(", ")
        )),
    }
}

/// ALB condition values: `*` any run of characters, `?` exactly one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// A topic's `DeliveryPolicy` attribute.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TopicDeliveryPolicy {
    #[serde(default)]
    http: Option<HttpDeliveryPolicy>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HttpDeliveryPolicy {
    default_healthy_retry_policy: Option<HealthyRetryPolicy>,
    #[serde(default)]
    disable_subscription_overrides: bool,
}

/// A subscription's `DeliveryPolicy` attribute.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SubscriptionDeliveryPolicy {
    healthy_retry_policy: Option<HealthyRetryPolicy>,
}

/// The retry policy SNS applies to an HTTP/S subscription: its own unless the topic disables
/// subscription overrides, else the topic's default, else SNS's
/// (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html>).
pub fn effective_retry_policy(
    topic_policy: Option<&str>,
    subscription_policy: Option<&str>,
) -> Result<HealthyRetryPolicy, String> {
    let topic: TopicDeliveryPolicy = match topic_policy.filter(|text| !text.trim().is_empty()) {
        Some(text) => {
            serde_json::from_str(text).map_err(|error| format!("topic DeliveryPolicy: {error}"))?
        }
        None => TopicDeliveryPolicy::default(),
    };
    let http = topic.http.unwrap_or_default();
    let subscription: SubscriptionDeliveryPolicy =
        match subscription_policy.filter(|text| !text.trim().is_empty()) {
            Some(text) => serde_json::from_str(text)
                .map_err(|error| format!("subscription DeliveryPolicy: {error}"))?,
            None => SubscriptionDeliveryPolicy::default(),
        };
    let policy = match (
        http.disable_subscription_overrides,
        subscription.healthy_retry_policy,
    ) {
        (false, Some(own)) => own,
        _ => http.default_healthy_retry_policy.unwrap_or_default(),
    };
    policy.validate()?;
    Ok(policy)
}

fn topics(applied: &Applied, problems: &mut Vec<String>) -> BTreeMap<String, TopicPlan> {
    let mut topics: BTreeMap<String, TopicPlan> = applied
        .sns
        .topics
        .iter()
        .map(|(arn, attributes)| {
            let kms_key_arn = attributes
                .get("KmsMasterKeyId")
                .filter(|key| !key.is_empty())
                .map(|key| match applied.kms.resolve(key) {
                    Some(resolved) => resolved.arn.clone(),
                    None => {
                        problems.push(format!("topic {arn}: KMS key {key} does not exist"));
                        key.clone()
                    }
                });
            if attributes.get("SignatureVersion").map(String::as_str) == Some("1") {
                problems.push(format!(
                    "topic {arn}: SignatureVersion 1 (SHA1) is not signed locally; its deliveries are signed with version 2"
                ));
            }
            (
                arn.clone(),
                TopicPlan {
                    arn: arn.clone(),
                    kms_key_arn,
                    subscriptions: Vec::new(),
                },
            )
        })
        .collect();
    for (arn, attributes) in &applied.sns.subscriptions {
        let get = |name: &str| attributes.get(name).map(String::as_str);
        let Some(topic_arn) = get("TopicArn") else {
            continue;
        };
        let Some(topic) = topics.get_mut(topic_arn) else {
            problems.push(format!(
                "subscription {arn}: its topic {topic_arn} does not exist"
            ));
            continue;
        };
        let protocol = get("Protocol").unwrap_or_default().to_owned();
        let endpoint_url = get("Endpoint").unwrap_or_default().to_owned();
        let endpoint = match protocol.as_str() {
            "https" | "http" => match function_url_id(&endpoint_url)
                .and_then(|id| applied.lambda.by_url_id(id).map(|target| (id, target)))
            {
                Some((id, target)) => Endpoint::FunctionUrl {
                    function: target.function.name.clone(),
                    qualifier: target.alias.map(|alias| alias.name.clone()),
                    url_id: id.to_owned(),
                },
                None => match service_behind(applied, &endpoint_url) {
                    Ok(Some(service)) => Endpoint::Service { service },
                    Ok(None) => Endpoint::Http(endpoint_url.clone()),
                    Err(problem) => {
                        problems.push(format!("subscription {arn}: {problem}"));
                        Endpoint::Http(endpoint_url.clone())
                    }
                },
            },
            "firehose" => Endpoint::Firehose {
                stream_arn: endpoint_url.clone(),
                role_arn: get("SubscriptionRoleArn").unwrap_or_default().to_owned(),
            },
            "sqs" => Endpoint::Sqs {
                queue_arn: endpoint_url.clone(),
            },
            other => Endpoint::Unsupported {
                protocol: other.to_owned(),
            },
        };
        let retry_policy = match effective_retry_policy(
            applied
                .sns
                .topics
                .get(topic_arn)
                .and_then(|topic| topic.get("DeliveryPolicy"))
                .map(String::as_str),
            get("DeliveryPolicy"),
        ) {
            Ok(policy) => policy,
            Err(error) => {
                problems.push(format!(
                    "subscription {arn}: {error}; SNS's default applies"
                ));
                HealthyRetryPolicy::default()
            }
        };
        let dead_letter_queue = get("RedrivePolicy")
            .filter(|text| !text.trim().is_empty())
            .and_then(
                |text| match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(policy) => policy["deadLetterTargetArn"].as_str().map(str::to_owned),
                    Err(error) => {
                        problems.push(format!("subscription {arn}: RedrivePolicy: {error}"));
                        None
                    }
                },
            );
        let filter_policy = get("FilterPolicy")
            .filter(|text| !crate::sns::filter::removes_the_policy(text))
            .map(str::to_owned);
        let filter_policy_scope = get("FilterPolicyScope")
            .filter(|scope| !scope.is_empty())
            .unwrap_or("MessageAttributes")
            .to_owned();
        topic.subscriptions.push(SubscriptionPlan {
            arn: arn.clone(),
            topic_arn: topic_arn.to_owned(),
            protocol,
            endpoint_url,
            endpoint,
            raw_message_delivery: get("RawMessageDelivery") == Some("true"),
            filter_policy,
            filter_policy_scope,
            dead_letter_queue,
            retry_policy,
        });
    }
    topics
}

/// The URL id of a Lambda function URL (`https://<id>.lambda-url.<region>.on.aws/`).
pub fn function_url_id(url: &str) -> Option<&str> {
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?
        .split(['/', ':'])
        .next()?;
    let (id, rest) = host.split_once('.')?;
    rest.starts_with("lambda-url.").then_some(id)
}

fn rules(applied: &Applied, platform: &Platform, problems: &mut Vec<String>) -> Vec<RulePlan> {
    let mut rules = Vec::new();
    for rule in applied.iot.rules.values() {
        if rule.sql_version != "2016-03-23" {
            problems.push(format!(
                "rule {}: SQL version {} is not run locally (only 2016-03-23)",
                rule.name, rule.sql_version
            ));
            continue;
        }
        let statement = match postoffice_iot_sql::Statement::parse(&rule.sql) {
            Ok(statement) => statement,
            Err(error) => {
                problems.push(format!("rule {}: {error}", rule.name));
                continue;
            }
        };
        for action in rule.actions.iter().chain(rule.error_action.iter()) {
            if let RuleAction::Other(kind) = action {
                problems.push(format!(
                    "rule {}: the {kind} action is not run locally",
                    rule.name
                ));
            }
        }
        rules.push(RulePlan {
            name: rule.name.clone(),
            arn: format!(
                "arn:aws:iot:{}:{}:rule/{}",
                platform.region, platform.account, rule.name
            ),
            statement,
            enabled: rule.enabled,
            actions: rule.actions.clone(),
            error_action: rule.error_action.clone(),
        });
    }
    rules
}

/// `MetadataExtractionQuery` of the form `{key: .path, ...}` (the jq object the platform's
/// stream uses) → key → path.
pub fn partition_keys(query: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = query
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| format!("MetadataExtractionQuery {query} is not a jq object"))?;
    let mut keys = BTreeMap::new();
    for member in inner.split(',').filter(|member| !member.trim().is_empty()) {
        let (key, path) = member
            .split_once(':')
            .ok_or_else(|| format!("MetadataExtractionQuery member {member} is not key: .path"))?;
        let path = path.trim();
        if !path.starts_with('.') || path.contains(['|', '(', '[', ' ']) {
            return Err(format!(
                "MetadataExtractionQuery path {path} is not a plain .field path (the local post office runs no other jq)"
            ));
        }
        keys.insert(key.trim().to_owned(), path.to_owned());
    }
    Ok(keys)
}

fn streams(applied: &Applied, problems: &mut Vec<String>) -> BTreeMap<String, StreamPlan> {
    let mut streams = BTreeMap::new();
    for stream in applied.firehose.streams.values() {
        let mut partition = BTreeMap::new();
        let mut append_delimiter = false;
        for (kind, parameters) in &stream.processors {
            match kind.as_str() {
                "MetadataExtraction" => {
                    if let Some(query) = parameters.get("MetadataExtractionQuery") {
                        match partition_keys(query) {
                            Ok(keys) => partition = keys,
                            Err(error) => problems.push(format!("stream {}: {error}", stream.name)),
                        }
                    }
                }
                "AppendDelimiterToRecord" => append_delimiter = true,
                other => problems.push(format!(
                    "stream {}: the {other} processor is not run locally",
                    stream.name
                )),
            }
        }
        streams.insert(
            stream.arn.clone(),
            StreamPlan {
                name: stream.name.clone(),
                arn: stream.arn.clone(),
                role_arn: stream.role_arn.clone(),
                bucket: stream
                    .bucket_arn
                    .trim_start_matches("arn:aws:s3:::")
                    .to_owned(),
                prefix: stream.prefix.clone(),
                error_output_prefix: stream.error_output_prefix.clone(),
                kms_key_arn: stream.kms_key_arn.clone(),
                partition_keys: partition,
                append_delimiter,
                buffering: match stream.buffering {
                    Some((interval, size_mb)) => crate::metering::Buffering {
                        interval: std::time::Duration::from_secs(interval.max(0) as u64),
                        size_bytes: size_mb.max(0) as u64 * 1024 * 1024,
                    },
                    None => crate::metering::Buffering::default(),
                },
            },
        );
    }
    streams
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applied::ecs::{Service, ServiceLoadBalancer};
    use crate::applied::elbv2::{Listener, Rule};
    use crate::sns::delivery_policy::BackoffFunction;

    /// Two ECS services behind one shared HTTPS listener (a path rule each, the default action
    /// to a third target group nobody registers with), and a second load balancer whose default
    /// action reaches the first service too.
    fn behind_load_balancers() -> Applied {
        let mut applied = Applied::default();
        for (name, group) in [
            ("kitchen-service", "tg/kitchen"),
            ("telemetry-service", "tg/telemetry"),
        ] {
            applied.ecs.services.insert(
                format!("arn:{name}"),
                Service {
                    name: name.to_owned(),
                    load_balancers: vec![ServiceLoadBalancer {
                        target_group_arn: group.to_owned(),
                        container_name: "handler".to_owned(),
                        container_port: 8080,
                    }],
                    ..Service::default()
                },
            );
        }
        let forward = |group: &str| Some(group.to_owned());
        applied.elbv2.listeners = vec![
            Listener {
                dns_name: "shared-123.eu-west-1.elb.amazonaws.com".to_owned(),
                port: 443,
                protocol: "HTTPS".to_owned(),
                rules: vec![
                    Rule {
                        path_patterns: vec!["/kitchen/*".to_owned()],
                        forward_to: forward("tg/kitchen"),
                        ..Rule::default()
                    },
                    Rule {
                        path_patterns: vec!["/telemetry/sns".to_owned()],
                        host_headers: vec!["*.example.com".to_owned()],
                        forward_to: forward("tg/telemetry"),
                    },
                    Rule {
                        forward_to: forward("tg/nobody"),
                        ..Rule::default()
                    },
                ],
                ..Listener::default()
            },
            Listener {
                dns_name: "own-456.eu-west-1.elb.amazonaws.com".to_owned(),
                port: 443,
                protocol: "HTTPS".to_owned(),
                rules: vec![Rule {
                    host_headers: vec!["kitchen.example.org".to_owned()],
                    forward_to: forward("tg/kitchen"),
                    ..Rule::default()
                }],
                ..Listener::default()
            },
        ];
        applied
    }

    #[test]
    fn an_https_url_reaches_the_service_its_listener_rules_forward_to() {
        let applied = behind_load_balancers();
        let reach = |url: &str| service_behind(&applied, url);
        assert_eq!(
            reach("https://events.example.com/kitchen/sns"),
            Ok(Some("kitchen-service".to_owned()))
        );
        assert_eq!(
            reach("https://events.example.com/telemetry/sns"),
            Ok(Some("telemetry-service".to_owned()))
        );
        // The shared listener's host condition fails and its default action reaches no
        // service; the other load balancer's rule takes the host.
        assert_eq!(
            reach("https://kitchen.example.org/telemetry/sns"),
            Ok(Some("kitchen-service".to_owned()))
        );
        assert_eq!(reach("https://events.example.org/telemetry/sns"), Ok(None));
        // Named by its DNS name, a load balancer is asked alone.
        assert_eq!(
            reach("https://shared-123.eu-west-1.elb.amazonaws.com/other"),
            Ok(None)
        );
        // Plain HTTP and other ports are not the HTTPS listeners'.
        assert_eq!(reach("http://events.example.com/kitchen/sns"), Ok(None));
        assert_eq!(
            reach("https://events.example.com:8443/kitchen/sns"),
            Ok(None)
        );
    }

    #[test]
    fn a_url_two_load_balancers_send_to_different_services_is_a_problem() {
        let mut applied = behind_load_balancers();
        applied.elbv2.listeners[1].rules[0] = Rule {
            forward_to: Some("tg/telemetry".to_owned()),
            ..Rule::default()
        };
        let error = service_behind(&applied, "https://events.example.com/kitchen/sns").unwrap_err();
        assert!(
            error.contains("kitchen-service, telemetry-service"),
            "{error}"
        );
    }

    #[test]
    fn alb_wildcards_and_image_binaries() {
        assert!(wildcard_match("/kitchen/*", "/kitchen/sns"));
        assert!(wildcard_match("/k?tchen", "/kitchen"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("/kitchen", "/kitchen/sns"));
        assert!(!wildcard_match("/k?tchen", "/ktchen"));
        assert_eq!(
            image_binary(
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/postoffice/example-kitchen-service:1.4.0"
            ),
            Some("example-kitchen-service")
        );
        assert_eq!(
            image_binary("example-kitchen-service"),
            Some("example-kitchen-service")
        );
        assert_eq!(
            image_binary("ghcr.io/x/kitchen@sha256:0123abcd"),
            Some("kitchen")
        );
        assert_eq!(image_binary("registry:5000/"), None);
    }

    #[test]
    fn a_subscription_policy_overrides_the_topic_unless_the_topic_disables_it() {
        let topic = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":60,"numRetries":60,"numNoDelayRetries":3,"numMinDelayRetries":2,"numMaxDelayRetries":45,"backoffFunction":"exponential"},"disableSubscriptionOverrides":false}}"#;
        let own = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":2,"backoffFunction":"linear"}}"#;
        assert_eq!(
            effective_retry_policy(Some(topic), None)
                .unwrap()
                .num_retries,
            60
        );
        let overridden = effective_retry_policy(Some(topic), Some(own)).unwrap();
        assert_eq!(overridden.num_retries, 2);
        assert_eq!(overridden.backoff_function, BackoffFunction::Linear);
        let locked = topic.replace(
            "\"disableSubscriptionOverrides\":false",
            "\"disableSubscriptionOverrides\":true",
        );
        assert_eq!(
            effective_retry_policy(Some(&locked), Some(own))
                .unwrap()
                .num_retries,
            60
        );
        assert_eq!(
            effective_retry_policy(None, None).unwrap(),
            HealthyRetryPolicy::default()
        );
        assert!(effective_retry_policy(Some("{"), None).is_err());
    }

    #[test]
    fn one_alias_following_latest_runs_and_the_others_are_problems() {
        use crate::applied::lambda::Alias;
        let alias = |name: &str, version: &str| {
            (
                name.to_owned(),
                Alias {
                    name: name.to_owned(),
                    function_version: version.to_owned(),
                    ..Alias::default()
                },
            )
        };
        let mut problems = Vec::new();
        let plain = Function {
            name: "f".to_owned(),
            ..Function::default()
        };
        assert_eq!(served_alias(&plain, &mut problems), None);
        let embedded = Function {
            aliases: BTreeMap::from([alias("sns-endpoint", "$LATEST")]),
            ..plain.clone()
        };
        assert_eq!(
            served_alias(&embedded, &mut problems).as_deref(),
            Some("sns-endpoint")
        );
        assert!(problems.is_empty(), "{problems:?}");
        let crowded = Function {
            aliases: BTreeMap::from([
                alias("a", "$LATEST"),
                alias("b", "$LATEST"),
                alias("old", "3"),
            ]),
            ..plain
        };
        assert_eq!(served_alias(&crowded, &mut problems).as_deref(), Some("a"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("alias b is not run")));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("alias old points to version 3"))
        );
    }

    #[test]
    fn function_urls_are_recognised_by_host() {
        assert_eq!(
            function_url_id("https://abc123xyz.lambda-url.eu-west-1.on.aws/"),
            Some("abc123xyz")
        );
        assert_eq!(function_url_id("https://paging.example.com/hook"), None);
        assert_eq!(function_url_id("email@example.com"), None);
    }

    #[test]
    fn the_platform_partition_query_is_read_and_others_refused() {
        assert_eq!(
            partition_keys("{event: .event}").unwrap(),
            BTreeMap::from([("event".to_owned(), ".event".to_owned())])
        );
        assert!(partition_keys("{event: .event | ascii_downcase}").is_err());
        assert!(partition_keys(".event").is_err());
    }
}
