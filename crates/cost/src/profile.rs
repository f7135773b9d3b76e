//! A usage profile (`cost-profiles/NAME.yaml`): what one customer's household does in a day.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CostError;
use crate::routes::{Direction, EventRoutes};

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
    pub event_collections: EventCollections,
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
    pub disconnect_when_idle: Connection,
}

/// Connected time and MQTT sessions per day.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
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
    /// Whether these events may travel in Event Collections (latency-tolerant events).
    #[serde(default)]
    pub collectable: bool,
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

/// The batched scenario: several events of one name in one MQTT message and one SNS publish.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventCollections {
    pub events_per_collection: f64,
}

impl Profile {
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
            for (scenario, connection) in [
                ("always_connected", &actor.connection.always_connected),
                (
                    "disconnect_when_idle",
                    &actor.connection.disconnect_when_idle,
                ),
            ] {
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
        }
        for (role, function) in [
            ("bridge", &self.lambda.bridge),
            ("handler", &self.lambda.handler),
            ("forwarder", &self.lambda.forwarder),
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
        let store = &self.event_store;
        at_least("event_store.retention_days", store.retention_days, 0.0)?;
        above(
            "event_store.buffer_interval_seconds",
            store.buffer_interval_seconds,
        )?;
        above("event_store.buffer_size_mb", store.buffer_size_mb)?;
        above("event_store.compression_ratio", store.compression_ratio)?;
        at_least(
            "event_collections.events_per_collection",
            self.event_collections.events_per_collection,
            1.0,
        )?;
        Ok(())
    }
}

fn at_least(field: &str, value: f64, minimum: f64) -> Result<(), String> {
    if value >= minimum && value.is_finite() {
        Ok(())
    } else {
        Err(format!("{field} is {value} but must be at least {minimum}"))
    }
}

fn above(field: &str, value: f64) -> Result<(), String> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(format!("{field} is {value} but must be greater than 0"))
    }
}
