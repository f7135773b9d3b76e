//! One event of the catalog: its YAML file, read field by field so every problem is reported.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::CatalogProblem;
use crate::topic;

/// The actors: clients that publish and receive events through IoT Core, never through SNS.
pub const ACTORS: &[&str] = &["device", "mobile", "voice-assistant"];

/// The consumer that publishes every backend-to-actor event to the household/device topic.
pub const IOT_FORWARDER: &str = "iot-forwarder";

/// The event devices publish event collections as: `EVENT_COLLECTION/{household}/{device}`,
/// several of the device's events in one MQTT message (docs/contracts.md, "Event collections").
pub const COLLECTION_EVENT: &str = "EVENT_COLLECTION";

/// The consumer that unpacks collections into their events: the only consumer of
/// [`COLLECTION_EVENT`], and the publisher of the collectable events it unpacks.
pub const COLLECTION_UNPACKER: &str = "collection-unpacker";

/// The most events one collection may carry: the collection rule rejects larger ones.
pub const MAX_COLLECTION_MEMBERS: usize = 100;

/// The longest an event may wait on a device for others to travel with (`collection.max_wait_s`).
pub const MAX_COLLECTION_WAIT_S: u32 = 3600;

/// Longest service (producer or consumer) name: it becomes part of queue and Lambda names
/// (`{prefix}-{consumer}-bridge`, 64 characters at most).
pub const MAX_SERVICE_NAME_LEN: usize = 32;

/// Which way an event travels through the post office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Published by an actor on its IoT topic, consumed by backend services.
    ActorToBackend,
    /// Published by a backend service, delivered to actors by the IoT forwarder.
    BackendToActor,
    /// Published and consumed by backend services only.
    BackendToBackend,
}

impl Direction {
    pub const ALL: [Direction; 3] = [
        Direction::ActorToBackend,
        Direction::BackendToActor,
        Direction::BackendToBackend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ActorToBackend => "actor-to-backend",
            Direction::BackendToActor => "backend-to-actor",
            Direction::BackendToBackend => "backend-to-backend",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown direction {0:?}; expected actor-to-backend, backend-to-actor or backend-to-backend"
)]
pub struct UnknownDirection(pub String);

impl FromStr for Direction {
    type Err = UnknownDirection;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Direction::ALL
            .into_iter()
            .find(|direction| direction.as_str() == s)
            .ok_or_else(|| UnknownDirection(s.to_owned()))
    }
}

/// True for `device`, `mobile` and `voice-assistant`.
pub fn is_actor(name: &str) -> bool {
    ACTORS.contains(&name)
}

/// How an event may travel in event collections: the `collection` field of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CollectionSettings {
    /// How long a device may keep the event waiting for others to travel with, in seconds
    /// (1 to [`MAX_COLLECTION_WAIT_S`]).
    pub max_wait_s: u32,
}

impl CollectionSettings {
    pub fn max_wait(&self) -> Duration {
        Duration::from_secs(u64::from(self.max_wait_s))
    }
}

/// One event as its catalog file describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventDefinition {
    pub name: String,
    pub description: String,
    pub direction: Direction,
    /// Actors (for actor-to-backend events) or service names.
    pub producers: Vec<String>,
    /// Service names; each becomes an SNS subscription through that consumer's bridge.
    pub consumers: Vec<String>,
    pub schema_version: u32,
    /// JSON Schema (2020-12) of the envelope's `payload`.
    pub schema: Value,
    /// Payload examples; each validates against `schema`.
    pub examples: Vec<Value>,
    /// Set when devices may send the event in an event collection (device-produced
    /// actor-to-backend events only); the optional `collection` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<CollectionSettings>,
}

/// The keys every file has; `collection` may be added.
const FIELDS: &[&str] = &[
    "name",
    "description",
    "direction",
    "producers",
    "consumers",
    "schema_version",
    "schema",
    "examples",
];
const OPTIONAL_FIELDS: &[&str] = &["collection"];

/// Reads one catalog file. `file` is its name (`COOKING_REQUESTED.yaml`); every problem found is
/// appended to `problems`, and a definition is returned only when there were none.
///
/// The schema is checked for shape here; compiling it and validating the examples is the
/// caller's job, since that needs the compiled validator it keeps.
pub(super) fn read_event_file(
    file: &str,
    text: &str,
    problems: &mut Vec<CatalogProblem>,
) -> Option<EventDefinition> {
    let before = problems.len();
    let mut problem = |field: Option<&str>, message: String| {
        problems.push(CatalogProblem::new(file, field, message));
    };

    let document: Value = match serde_yaml::from_str(text) {
        Ok(document) => document,
        Err(error) => {
            problem(None, format!("is not valid YAML: {error}"));
            return None;
        }
    };
    let Value::Object(mut fields) = document else {
        problem(
            None,
            format!("must be a YAML mapping with the keys {}", FIELDS.join(", ")),
        );
        return None;
    };
    for key in fields.keys() {
        if !FIELDS.contains(&key.as_str()) && !OPTIONAL_FIELDS.contains(&key.as_str()) {
            problem(
                Some(key),
                format!(
                    "unknown key; the keys are {} and optionally {}",
                    FIELDS.join(", "),
                    OPTIONAL_FIELDS.join(", ")
                ),
            );
        }
    }

    let stem = file.strip_suffix(".yaml").unwrap_or(file);
    let name = take_string(&mut fields, "name", &mut problem);
    if let Some(name) = &name {
        if let Err(error) = topic::validate_event_name(name) {
            problem(Some("name"), error.to_string());
        } else if name != stem {
            problem(
                Some("name"),
                format!("{name:?} must equal the file name ({stem:?})"),
            );
        }
    }

    let description = take_string(&mut fields, "description", &mut problem);
    if description.as_deref().is_some_and(|d| d.trim().is_empty()) {
        problem(Some("description"), "must not be empty".to_owned());
    }

    let direction = take_string(&mut fields, "direction", &mut problem).and_then(|direction| {
        direction
            .parse::<Direction>()
            .map_err(|error| problem(Some("direction"), error.to_string()))
            .ok()
    });
    let producers = take_names(&mut fields, "producers", &mut problem);
    let consumers = take_names(&mut fields, "consumers", &mut problem);
    if let (Some(direction), Some(producers), Some(consumers)) = (direction, &producers, &consumers)
    {
        check_direction(direction, producers, consumers, &mut problem);
    }
    let collection = take_collection(&mut fields, &mut problem);
    if let (Some(name), Some(direction), Some(producers), Some(consumers)) =
        (&name, direction, &producers, &consumers)
    {
        check_collections(
            name,
            direction,
            producers,
            consumers,
            collection.as_ref(),
            &mut problem,
        );
    }

    let schema_version = match fields.remove("schema_version") {
        None => {
            problem(Some("schema_version"), "is missing".to_owned());
            None
        }
        Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(version) if version >= 1 => Some(version),
            _ => {
                problem(
                    Some("schema_version"),
                    format!("must be a positive integer, found {value}"),
                );
                None
            }
        },
    };

    let schema = match fields.remove("schema") {
        None => {
            problem(Some("schema"), "is missing".to_owned());
            None
        }
        Some(schema) => {
            if schema.get("type").and_then(Value::as_str) == Some("object") {
                Some(schema)
            } else {
                problem(
                    Some("schema"),
                    "must be a JSON Schema with `type: object`: a payload is a JSON object"
                        .to_owned(),
                );
                None
            }
        }
    };

    let examples = match fields.remove("examples") {
        None => {
            problem(
                Some("examples"),
                "is missing; give at least one payload example".to_owned(),
            );
            None
        }
        Some(Value::Array(examples)) if !examples.is_empty() => Some(examples),
        Some(_) => {
            problem(
                Some("examples"),
                "must be a non-empty list of payload examples".to_owned(),
            );
            None
        }
    };

    if problems.len() > before {
        return None;
    }
    Some(EventDefinition {
        name: name?,
        description: description?,
        direction: direction?,
        producers: producers?,
        consumers: consumers?,
        schema_version: schema_version?,
        schema: schema?,
        examples: examples?,
        collection: collection.flatten(),
    })
}

/// The optional `collection: { max_wait_s: N }`: `Some(None)` when absent, `None` when broken.
fn take_collection(
    fields: &mut Map<String, Value>,
    problem: &mut impl FnMut(Option<&str>, String),
) -> Option<Option<CollectionSettings>> {
    let Some(value) = fields.remove("collection") else {
        return Some(None);
    };
    let Value::Object(mut settings) = value else {
        problem(
            Some("collection"),
            format!("must be a mapping with the key max_wait_s, found {value}"),
        );
        return None;
    };
    let mut valid = true;
    for key in settings.keys().filter(|key| *key != "max_wait_s") {
        problem(
            Some(&format!("collection.{key}")),
            "unknown key; the key is max_wait_s".to_owned(),
        );
        valid = false;
    }
    let max_wait_s = match settings.remove("max_wait_s") {
        None => {
            problem(Some("collection.max_wait_s"), "is missing".to_owned());
            None
        }
        Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(seconds) if (1..=MAX_COLLECTION_WAIT_S).contains(&seconds) => Some(seconds),
            _ => {
                problem(
                    Some("collection.max_wait_s"),
                    format!(
                        "must be a whole number of seconds from 1 to {MAX_COLLECTION_WAIT_S}, found {value}"
                    ),
                );
                None
            }
        },
    };
    match (valid, max_wait_s) {
        (true, Some(max_wait_s)) => Some(Some(CollectionSettings { max_wait_s })),
        _ => None,
    }
}

fn take_string(
    fields: &mut Map<String, Value>,
    field: &str,
    problem: &mut impl FnMut(Option<&str>, String),
) -> Option<String> {
    match fields.remove(field) {
        None => {
            problem(Some(field), "is missing".to_owned());
            None
        }
        Some(Value::String(value)) => Some(value),
        Some(other) => {
            problem(Some(field), format!("must be a string, found {other}"));
            None
        }
    }
}

/// A non-empty list of distinct actor or service names.
fn take_names(
    fields: &mut Map<String, Value>,
    field: &str,
    problem: &mut impl FnMut(Option<&str>, String),
) -> Option<Vec<String>> {
    let items = match fields.remove(field) {
        None => {
            problem(Some(field), "is missing".to_owned());
            return None;
        }
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => {
            problem(Some(field), "must be a non-empty list of names".to_owned());
            return None;
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    let mut valid = true;
    for (index, item) in items.into_iter().enumerate() {
        let at = format!("{field}[{index}]");
        match item {
            Value::String(name) => {
                if let Err(reason) = check_service_name(&name) {
                    problem(Some(&at), format!("{name:?} {reason}"));
                    valid = false;
                } else if names.contains(&name) {
                    problem(Some(&at), format!("{name:?} is listed twice"));
                    valid = false;
                } else {
                    names.push(name);
                }
            }
            other => {
                problem(Some(&at), format!("must be a name, found {other}"));
                valid = false;
            }
        }
    }
    valid.then_some(names)
}

/// Actor and service names: lower kebab case (`voice-assistant`, `kitchen`), because consumer
/// names end up in AWS resource names.
pub fn check_service_name(name: &str) -> Result<(), String> {
    let words_ok = !name.is_empty()
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !words_ok {
        return Err(
            "is not a valid name: lower kebab case like `kitchen` or `voice-assistant`".to_owned(),
        );
    }
    if name.len() > MAX_SERVICE_NAME_LEN {
        return Err(format!(
            "is {} characters long; the maximum is {MAX_SERVICE_NAME_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// Who takes part in event collections: devices publish [`COLLECTION_EVENT`], only the
/// [`COLLECTION_UNPACKER`] consumes it, and only events devices produce may be collected.
fn check_collections(
    name: &str,
    direction: Direction,
    producers: &[String],
    consumers: &[String],
    collection: Option<&Option<CollectionSettings>>,
    problem: &mut impl FnMut(Option<&str>, String),
) {
    let collectable = matches!(collection, Some(Some(_)));
    if name == COLLECTION_EVENT {
        if direction != Direction::ActorToBackend || producers != ["device"] {
            problem(
                Some("producers"),
                format!(
                    "{COLLECTION_EVENT} is actor-to-backend and produced by device only: devices publish collections"
                ),
            );
        }
        if consumers != [COLLECTION_UNPACKER] {
            problem(
                Some("consumers"),
                format!(
                    "{COLLECTION_EVENT} is consumed by {COLLECTION_UNPACKER} only, which publishes its events to their own topics; other consumers subscribe to those events"
                ),
            );
        }
        if collectable {
            problem(
                Some("collection"),
                format!("{COLLECTION_EVENT} itself cannot travel in a collection"),
            );
        }
        return;
    }
    if let Some(index) = consumers.iter().position(|c| c == COLLECTION_UNPACKER) {
        problem(
            Some(&format!("consumers[{index}]")),
            format!("{COLLECTION_UNPACKER} consumes only {COLLECTION_EVENT}"),
        );
    }
    if let Some(index) = producers.iter().position(|p| p == COLLECTION_UNPACKER) {
        problem(
            Some(&format!("producers[{index}]")),
            format!(
                "{COLLECTION_UNPACKER} produces no event of its own: it publishes the collectable events devices send, as the devices' events"
            ),
        );
    }
    let device_produced =
        direction == Direction::ActorToBackend && producers.iter().any(|p| p == "device");
    if collectable && !device_produced {
        problem(
            Some("collection"),
            "only events devices produce (actor-to-backend, device among the producers) may travel in a collection".to_owned(),
        );
    }
}

fn check_direction(
    direction: Direction,
    producers: &[String],
    consumers: &[String],
    problem: &mut impl FnMut(Option<&str>, String),
) {
    for (index, consumer) in consumers.iter().enumerate() {
        let at = format!("consumers[{index}]");
        if is_actor(consumer) {
            problem(
                Some(&at),
                format!(
                    "{consumer:?} is an actor; consumers are backend services \
                     (actors receive backend-to-actor events through {IOT_FORWARDER})"
                ),
            );
        } else if consumer == IOT_FORWARDER && direction != Direction::BackendToActor {
            problem(
                Some(&at),
                format!(
                    "{IOT_FORWARDER} consumes only backend-to-actor events, this one is {direction}"
                ),
            );
        }
    }
    for (index, producer) in producers.iter().enumerate() {
        let at = format!("producers[{index}]");
        let actor = is_actor(producer);
        if direction == Direction::ActorToBackend && !actor {
            problem(
                Some(&at),
                format!(
                    "{producer:?} is not an actor; actor-to-backend events are produced by {}",
                    ACTORS.join(", ")
                ),
            );
        } else if direction != Direction::ActorToBackend && actor {
            problem(
                Some(&at),
                format!(
                    "{producer:?} is an actor; {direction} events are produced by backend services"
                ),
            );
        } else if producer == IOT_FORWARDER {
            problem(
                Some(&at),
                format!("{IOT_FORWARDER} only forwards events to actors; it produces none"),
            );
        }
    }
    if direction == Direction::BackendToActor && !consumers.iter().any(|c| c == IOT_FORWARDER) {
        problem(
            Some("consumers"),
            format!(
                "backend-to-actor events must be consumed by {IOT_FORWARDER}, which delivers them to actors"
            ),
        );
    }
}
