//! A usage profile (`cost-profiles/NAME.yaml`): what one customer's household does in a day.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CostError;
use crate::routes::{COLLECTION_EVENT, COLLECTION_UNPACKER, Direction, EventRoutes, IOT_FORWARDER};

/// What one customer (household) does, on average, in a day.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Actor kinds (`device`, `mobile`, `voice-assistant`) and how they connect.
    pub actors: BTreeMap<String, Actor>,
    pub message_sizes: MessageSizes,
    pub events: Vec<EventRate>,
    pub lambda: LambdaFunctions,
    pub event_store: EventStore,
    /// Assumptions of the container deployment's sizing (the consumer module's container
    /// defaults: 2 tasks of 0.25 vCPU and 0.5 GB); the defaults when absent.
    #[serde(default)]
    pub container: ContainerService,
    /// What the functions and SNS write to CloudWatch Logs; no log lines when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Logs>,
    /// X-Ray sampling of the actively traced functions; no X-Ray line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    /// Consumers whose handler keeps a DynamoDB idempotency table; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Idempotency>,
    /// How often deliveries and rule actions fail; none fail when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Failures>,
    /// How the services use the platform's KMS key; no KMS lines when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// Log events of one kind: how many, and the bytes of their messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogLines {
    pub events: f64,
    pub bytes: f64,
}

impl LogLines {
    /// The bytes CloudWatch Logs counts for these events: each message plus `overhead` bytes.
    pub fn billed_bytes(&self, overhead: f64) -> f64 {
        self.bytes + self.events * overhead
    }
}

/// What one invocation of each Lambda role prints (the application's log lines).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationLogs {
    pub bridge: LogLines,
    pub handler: LogLines,
    pub forwarder: LogLines,
    pub unpacker: LogLines,
    /// What a handler that is its own SNS endpoint (embedded bridge) prints for that work.
    pub embedded_endpoint: LogLines,
}

impl ApplicationLogs {
    /// What the function a delivery to `consumer` runs prints: the forwarder's, the
    /// collection-unpacker's or a handler's lines.
    pub fn of_consumer(&self, consumer: &str) -> LogLines {
        if consumer == IOT_FORWARDER {
            self.forwarder
        } else if consumer == COLLECTION_UNPACKER {
            self.unpacker
        } else {
            self.handler
        }
    }
}

/// CloudWatch Logs: the Lambda functions' log groups and the topics' delivery-status groups.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// What Lambda itself writes per invocation in the configured log format.
    pub platform_per_invocation: LogLines,
    pub application_per_invocation: ApplicationLogs,
    /// Bytes counted per log event on top of its message.
    pub event_overhead_bytes: f64,
    /// What SNS logs per failed delivery (only failures are logged).
    pub delivery_status_per_failure: LogLines,
    /// How long the log groups keep their events.
    pub retention_days: f64,
    /// Stored bytes = ingested bytes / ratio (1 = stored as ingested, an upper bound).
    pub storage_compression_ratio: f64,
}

/// The X-Ray sampling rule the functions' active tracing applies at each entry point.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// Requests a second traced first.
    pub reservoir_per_second: f64,
    /// Share of the further requests traced.
    pub fixed_rate: f64,
}

/// The idempotency guard of handlers (`handler.idempotency_table_arn` of the consumer module).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Idempotency {
    /// Catalog consumers whose handler has an idempotency table.
    pub consumers: Vec<String>,
    /// Size of one item as DynamoDB counts it (attribute names and values).
    pub item_bytes: f64,
    /// How long a handled event's item is kept.
    pub remember_for_days: f64,
}

/// Shares of deliveries and rule actions that fail for good.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Failures {
    /// Share of SNS deliveries (HTTPS and Firehose) that end in a dead-letter queue.
    pub delivery_failure_rate: f64,
    /// Share of device publishes whose rule action fails into the rule-errors queue.
    pub rule_error_rate: f64,
}

/// The platform key's use by SNS and SQS.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// Customer managed keys the platform creates.
    pub keys: f64,
    /// How long SNS and SQS reuse a data key before calling KMS again.
    pub data_key_reuse_seconds: f64,
}

/// One kind of actor in a household.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// How many of this actor a customer has.
    pub per_customer: f64,
    pub connection: ConnectionScenarios,
}

/// How an actor connects in each connection scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionScenarios {
    pub always_connected: Connection,
    pub disconnect_when_idle: IdleConnection,
}

/// How an actor connects when it disconnects while idle: either its sessions as given
/// (`hours_per_day` and `sessions_per_day`: a phone app is connected while it is open), or the
/// device library's settings (`idle_after_s` and `poll_interval_s`), from which the model derives
/// the sessions its events need ([`crate::sessions`]).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdleConnection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_per_day: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_per_day: Option<f64>,
    /// The device disconnects after this long with nothing to send or wait for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_after_s: Option<f64>,
    /// While disconnected it connects about this often (a delay uniform over the interval's
    /// second half) to receive what its persistent session queued; at most the session expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_s: Option<f64>,
}

/// [`IdleConnection`], checked: one of its two forms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Idle {
    Given(Connection),
    Derived {
        idle_after_s: f64,
        poll_interval_s: f64,
    },
}

impl IdleConnection {
    /// Which form this is; `None` when it is neither (the profile check names the fields).
    pub fn form(&self) -> Option<Idle> {
        match (
            self.hours_per_day,
            self.sessions_per_day,
            self.idle_after_s,
            self.poll_interval_s,
        ) {
            (Some(hours_per_day), Some(sessions_per_day), None, None) => {
                Some(Idle::Given(Connection {
                    hours_per_day,
                    sessions_per_day,
                }))
            }
            (None, None, Some(idle_after_s), Some(poll_interval_s)) => Some(Idle::Derived {
                idle_after_s,
                poll_interval_s,
            }),
            _ => None,
        }
    }
}

/// Connected time and MQTT sessions per day.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub hours_per_day: f64,
    /// Sessions opened per day; each sends a CONNECT and a SUBSCRIBE, both metered messages.
    pub sessions_per_day: f64,
}

/// Average sizes of what travels, in bytes.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSizes {
    /// Average event payload, used where an event gives none.
    pub payload_bytes: f64,
    /// Topic plus device-message fields (event id, occurred-at, correlation id) around a payload.
    pub device_message_overhead_bytes: f64,
    /// Envelope fields and SNS message attributes around a payload.
    pub envelope_overhead_bytes: f64,
}

/// How often one event happens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventRate {
    /// A catalog event name.
    pub event: String,
    /// Actor-to-backend: the producing actor kind; backend-to-actor: the receiving actor kind;
    /// absent for backend-to-backend events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Per actor of that kind per day, or per customer per day for backend-to-backend events.
    pub per_day: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<f64>,
    /// Whether these events travel in Event Collections in the collections scenario
    /// (latency-tolerant events; the catalog must give the event a `collection.max_wait_s`).
    #[serde(default)]
    pub collectable: bool,
    /// Backend-to-actor events only: the household's other actor kinds that subscribe to this
    /// event on `actor`'s topics, each with the share of these messages one of them receives
    /// (those sent while it is connected). One iot-data Publish reaches them all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub also_received_by: BTreeMap<String, f64>,
}

impl EventRate {
    /// PUBLISHes IoT Core sends per message of this rate: one to `actor` and each other
    /// receiving actor's share of its instances in the household.
    pub fn receivers_per_message(&self, actors: &BTreeMap<String, Actor>) -> f64 {
        1.0 + self
            .also_received_by
            .iter()
            .map(|(kind, share)| share * actors.get(kind).map_or(0.0, |actor| actor.per_customer))
            .sum::<f64>()
    }
}

/// Memory and billed duration of each Lambda role.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFunctions {
    /// The SNS bridge; it waits for the handler synchronously, so the handler's duration is
    /// added to this one.
    pub bridge: LambdaFunction,
    pub handler: LambdaFunction,
    pub forwarder: LambdaFunction,
    /// The collection-unpacker: an SNS publish per member (`extra_event_ms`); the handler's
    /// figures when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacker: Option<LambdaFunction>,
    /// With an embedded bridge the handler (or forwarder) is its own SNS endpoint: what its
    /// duration grows by per delivery for that work (parsing, signature verification with a
    /// cached certificate, the checks). No bridge is billed then.
    pub embedded_endpoint_ms: f64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFunction {
    pub memory_mb: f64,
    /// Duration of an invocation carrying one event.
    pub duration_ms: f64,
    /// Further duration for each further event of an Event Collection.
    #[serde(default)]
    pub extra_event_ms: f64,
}

impl LambdaFunctions {
    /// The collection-unpacker's figures.
    pub fn unpacker(&self) -> LambdaFunction {
        self.unpacker.unwrap_or(self.handler)
    }
}

/// A consumer as an ECS service on Fargate behind an Application Load Balancer: the
/// assumptions of its estimate. Every consumer is one service; one load balancer serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerService {
    /// Tasks each service runs however quiet it is (2: one per Availability Zone).
    pub min_tasks: u32,
    /// Fargate task size; a combination Fargate offers.
    pub vcpu_per_task: f64,
    pub memory_gb_per_task: f64,
    /// Deliveries one task handles a second at the load it is sized for.
    pub deliveries_per_second_per_task: f64,
    /// The busiest hour's delivery rate over the month's average: tasks always run, sized for it.
    pub peak_to_average: f64,
    /// Bytes through the load balancer per delivery besides the SNS message: SNS's JSON fields
    /// (ids, signature, certificate and unsubscribe URLs), HTTP headers and the response.
    pub http_overhead_bytes: f64,
}

impl Default for ContainerService {
    fn default() -> Self {
        ContainerService {
            min_tasks: 2,
            vcpu_per_task: 0.25,
            memory_gb_per_task: 0.5,
            deliveries_per_second_per_task: 100.0,
            peak_to_average: 3.0,
            http_overhead_bytes: 1_500.0,
        }
    }
}

/// Fargate's task sizes: vCPU and the memory range (GB) it allows.
const FARGATE_SIZES: [(f64, f64, f64); 7] = [
    (0.25, 0.5, 2.0),
    (0.5, 1.0, 4.0),
    (1.0, 2.0, 8.0),
    (2.0, 4.0, 16.0),
    (4.0, 8.0, 30.0),
    (8.0, 16.0, 60.0),
    (16.0, 32.0, 120.0),
];

/// The Firehose → S3 event store.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventStore {
    pub retention_days: f64,
    /// Firehose buffering: an object per partition at least this often...
    pub buffer_interval_seconds: f64,
    /// ...or whenever a partition's buffer reaches this size.
    pub buffer_size_mb: f64,
    /// Stored bytes = delivered bytes / ratio (1 = uncompressed).
    pub compression_ratio: f64,
}

impl Profile {
    /// The part of the profile that `actors` make: other actors and the events they send or
    /// receive are left out (backend-to-backend events stay). For a measured run that simulated
    /// only some actors.
    pub fn for_actors(&self, actors: &[String]) -> Profile {
        let mut profile = self.clone();
        profile.actors.retain(|kind, _| actors.contains(kind));
        profile.events.retain(|rate| match &rate.actor {
            Some(kind) => actors.contains(kind),
            None => true,
        });
        for rate in &mut profile.events {
            rate.also_received_by
                .retain(|kind, _| actors.contains(kind));
        }
        profile
    }

    /// Parses a profile and checks it against the catalog; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str, routes: &EventRoutes) -> Result<Self, CostError> {
        let profile: Profile = serde_yaml::from_str(text).map_err(|error| CostError::Profile {
            origin: origin.to_string(),
            message: error.to_string(),
        })?;
        profile.check(origin, routes)?;
        Ok(profile)
    }

    /// Checks numbers, actor kinds and event names; `origin` names the file in errors.
    pub fn check(&self, origin: &str, routes: &EventRoutes) -> Result<(), CostError> {
        self.problems(routes).map_err(|message| CostError::Profile {
            origin: origin.to_string(),
            message,
        })
    }

    fn problems(&self, routes: &EventRoutes) -> Result<(), String> {
        for (kind, actor) in &self.actors {
            at_least(
                &format!("actors.{kind}.per_customer"),
                actor.per_customer,
                0.0,
            )?;
            let idle = &actor.connection.disconnect_when_idle;
            let idle_field = format!("actors.{kind}.connection.disconnect_when_idle");
            let idle_given = match idle.form() {
                None => {
                    return Err(format!(
                        "{idle_field} needs either hours_per_day and sessions_per_day (sessions \
                         as given) or idle_after_s and poll_interval_s (sessions derived from \
                         the device's settings), not a mix"
                    ));
                }
                Some(Idle::Given(connection)) => Some(connection),
                Some(Idle::Derived {
                    idle_after_s,
                    poll_interval_s,
                }) => {
                    above(&format!("{idle_field}.idle_after_s"), idle_after_s)?;
                    above(&format!("{idle_field}.poll_interval_s"), poll_interval_s)?;
                    None
                }
            };
            let connections =
                std::iter::once(("always_connected", &actor.connection.always_connected)).chain(
                    idle_given
                        .as_ref()
                        .map(|given| ("disconnect_when_idle", given)),
                );
            for (scenario, connection) in connections {
                let field = format!("actors.{kind}.connection.{scenario}");
                at_least(
                    &format!("{field}.hours_per_day"),
                    connection.hours_per_day,
                    0.0,
                )?;
                if connection.hours_per_day > 24.0 {
                    return Err(format!(
                        "{field}.hours_per_day is {} but a day has 24 hours",
                        connection.hours_per_day
                    ));
                }
                at_least(
                    &format!("{field}.sessions_per_day"),
                    connection.sessions_per_day,
                    0.0,
                )?;
            }
        }
        let sizes = &self.message_sizes;
        at_least("message_sizes.payload_bytes", sizes.payload_bytes, 0.0)?;
        at_least(
            "message_sizes.device_message_overhead_bytes",
            sizes.device_message_overhead_bytes,
            0.0,
        )?;
        at_least(
            "message_sizes.envelope_overhead_bytes",
            sizes.envelope_overhead_bytes,
            0.0,
        )?;
        for (index, rate) in self.events.iter().enumerate() {
            let field = format!("events[{index}]");
            let Some(route) = routes.get(&rate.event) else {
                return Err(format!(
                    "{field}.event: {} is not in the event catalog (known: {})",
                    rate.event,
                    routes.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            };
            at_least(&format!("{field}.per_day"), rate.per_day, 0.0)?;
            if let Some(bytes) = rate.payload_bytes {
                at_least(&format!("{field}.payload_bytes"), bytes, 0.0)?;
            }
            if rate.collectable {
                if route.collection_max_wait_s.is_none() {
                    return Err(format!(
                        "{field}.collectable: {} has no collection.max_wait_s in the event \
                         catalog, so devices may not collect it",
                        rate.event
                    ));
                }
                if !routes.contains_key(COLLECTION_EVENT) {
                    return Err(format!(
                        "{field}.collectable: the event catalog has no {COLLECTION_EVENT} to \
                         carry collections"
                    ));
                }
            }
            match (route.direction, &rate.actor) {
                (Direction::BackendToBackend, Some(actor)) => {
                    return Err(format!(
                        "{field}.actor: {} is backend-to-backend, so it has no actor (got {actor})",
                        rate.event
                    ));
                }
                (Direction::BackendToBackend, None) => {}
                (_, None) => {
                    return Err(format!(
                        "{field}.actor is missing: {} travels between an actor and the backend",
                        rate.event
                    ));
                }
                (_, Some(actor)) if !self.actors.contains_key(actor) => {
                    return Err(format!(
                        "{field}.actor: {actor} is not one of the profile's actors ({})",
                        self.actors.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                _ => {}
            }
            if !rate.also_received_by.is_empty() && route.direction != Direction::BackendToActor {
                return Err(format!(
                    "{field}.also_received_by: {} is not backend-to-actor, so nothing else \
                     receives it",
                    rate.event
                ));
            }
            for (kind, share) in &rate.also_received_by {
                let field = format!("{field}.also_received_by.{kind}");
                if rate.actor.as_deref() == Some(kind) {
                    return Err(format!(
                        "{field}: {kind} is the event's own actor, which receives every message"
                    ));
                }
                if !self.actors.contains_key(kind) {
                    return Err(format!(
                        "{field}: {kind} is not one of the profile's actors ({})",
                        self.actors.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                self::share(&field, *share)?;
            }
        }
        let unpacker = self.lambda.unpacker();
        for (role, function) in [
            ("bridge", &self.lambda.bridge),
            ("handler", &self.lambda.handler),
            ("forwarder", &self.lambda.forwarder),
            ("unpacker", &unpacker),
        ] {
            let field = format!("lambda.{role}");
            if !(128.0..=10240.0).contains(&function.memory_mb) {
                return Err(format!(
                    "{field}.memory_mb is {} but Lambda allows 128 to 10240",
                    function.memory_mb
                ));
            }
            at_least(&format!("{field}.duration_ms"), function.duration_ms, 0.0)?;
            at_least(
                &format!("{field}.extra_event_ms"),
                function.extra_event_ms,
                0.0,
            )?;
        }
        at_least(
            "lambda.embedded_endpoint_ms",
            self.lambda.embedded_endpoint_ms,
            0.0,
        )?;
        self.container_problems()?;
        self.operations_problems(routes)?;
        let store = &self.event_store;
        at_least("event_store.retention_days", store.retention_days, 0.0)?;
        above(
            "event_store.buffer_interval_seconds",
            store.buffer_interval_seconds,
        )?;
        above("event_store.buffer_size_mb", store.buffer_size_mb)?;
        above("event_store.compression_ratio", store.compression_ratio)?;
        Ok(())
    }
}

impl Profile {
    fn operations_problems(&self, routes: &EventRoutes) -> Result<(), String> {
        if let Some(logs) = &self.logs {
            let application = &logs.application_per_invocation;
            for (field, lines) in [
                (
                    "logs.platform_per_invocation",
                    &logs.platform_per_invocation,
                ),
                (
                    "logs.application_per_invocation.bridge",
                    &application.bridge,
                ),
                (
                    "logs.application_per_invocation.handler",
                    &application.handler,
                ),
                (
                    "logs.application_per_invocation.forwarder",
                    &application.forwarder,
                ),
                (
                    "logs.application_per_invocation.unpacker",
                    &application.unpacker,
                ),
                (
                    "logs.application_per_invocation.embedded_endpoint",
                    &application.embedded_endpoint,
                ),
                (
                    "logs.delivery_status_per_failure",
                    &logs.delivery_status_per_failure,
                ),
            ] {
                at_least(&format!("{field}.events"), lines.events, 0.0)?;
                at_least(&format!("{field}.bytes"), lines.bytes, 0.0)?;
            }
            at_least("logs.event_overhead_bytes", logs.event_overhead_bytes, 0.0)?;
            at_least("logs.retention_days", logs.retention_days, 0.0)?;
            above(
                "logs.storage_compression_ratio",
                logs.storage_compression_ratio,
            )?;
        }
        if let Some(tracing) = &self.tracing {
            at_least(
                "tracing.reservoir_per_second",
                tracing.reservoir_per_second,
                0.0,
            )?;
            share("tracing.fixed_rate", tracing.fixed_rate)?;
        }
        if let Some(idempotency) = &self.idempotency {
            let consumers: std::collections::BTreeSet<&String> = routes
                .values()
                .flat_map(|route| route.consumers.iter())
                .collect();
            for (index, consumer) in idempotency.consumers.iter().enumerate() {
                if !consumers.contains(consumer) {
                    return Err(format!(
                        "idempotency.consumers[{index}]: {consumer} is not a consumer in the \
                         event catalog (known: {})",
                        consumers
                            .iter()
                            .map(|name| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            at_least("idempotency.item_bytes", idempotency.item_bytes, 0.0)?;
            at_least(
                "idempotency.remember_for_days",
                idempotency.remember_for_days,
                0.0,
            )?;
        }
        if let Some(failures) = &self.failures {
            share(
                "failures.delivery_failure_rate",
                failures.delivery_failure_rate,
            )?;
            share("failures.rule_error_rate", failures.rule_error_rate)?;
        }
        if let Some(encryption) = &self.encryption {
            at_least("encryption.keys", encryption.keys, 0.0)?;
            above(
                "encryption.data_key_reuse_seconds",
                encryption.data_key_reuse_seconds,
            )?;
        }
        Ok(())
    }

    fn container_problems(&self) -> Result<(), String> {
        let container = &self.container;
        if container.min_tasks == 0 {
            return Err("container.min_tasks is 0 but a service needs at least 1 task".into());
        }
        let Some((_, low, high)) = FARGATE_SIZES
            .iter()
            .find(|(vcpu, _, _)| *vcpu == container.vcpu_per_task)
        else {
            return Err(format!(
                "container.vcpu_per_task is {} but Fargate offers {}",
                container.vcpu_per_task,
                FARGATE_SIZES
                    .iter()
                    .map(|(vcpu, _, _)| vcpu.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !(*low..=*high).contains(&container.memory_gb_per_task) {
            return Err(format!(
                "container.memory_gb_per_task is {} but Fargate allows {low} to {high} GB with {} vCPU",
                container.memory_gb_per_task, container.vcpu_per_task
            ));
        }
        above(
            "container.deliveries_per_second_per_task",
            container.deliveries_per_second_per_task,
        )?;
        at_least("container.peak_to_average", container.peak_to_average, 1.0)?;
        at_least(
            "container.http_overhead_bytes",
            container.http_overhead_bytes,
            0.0,
        )
    }
}

fn at_least(field: &str, value: f64, minimum: f64) -> Result<(), String> {
    if value >= minimum && value.is_finite() {
        Ok(())
    } else {
        Err(format!("{field} is {value} but must be at least {minimum}"))
    }
}

fn share(field: &str, value: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{field} is {value} but must be a share from 0 to 1"
        ))
    }
}

fn above(field: &str, value: f64) -> Result<(), String> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(format!("{field} is {value} but must be greater than 0"))
    }
}
