//! The event catalog (`event-catalog/EVENT.yaml`): the source of truth for event names,
//! directions, producers, consumers and payload schemas.
//!
//! [`Catalog::load`] reads a directory and reports every problem at once, each naming its file
//! and field; [`Catalog::embedded`] is the repository's catalog compiled into the library, so
//! handler Lambdas validate payloads without reading files. Schemas are compiled once, when the
//! catalog is built.

mod check;
mod definition;
mod payload;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

pub use check::{CheckReport, check};
pub use definition::{
    ACTORS, COLLECTION_EVENT, COLLECTION_UNPACKER, CollectionSettings, Direction, EventDefinition,
    IOT_FORWARDER, MAX_COLLECTION_MEMBERS, MAX_COLLECTION_WAIT_S, MAX_SERVICE_NAME_LEN,
    UnknownDirection, check_service_name, is_actor,
};
pub use payload::{PayloadError, SchemaViolation};

/// The extension of catalog files.
pub const FILE_EXTENSION: &str = "yaml";

/// One thing wrong with a catalog (or with something that must agree with it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CatalogProblem {
    /// The file at fault: a catalog file name, or any other path a check reads.
    pub file: String,
    /// The field within the file (`direction`, `examples[0]`), when the problem is about one.
    pub field: Option<String>,
    pub message: String,
}

impl CatalogProblem {
    pub fn new(file: impl Into<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for CatalogProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {field}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Everything wrong with a catalog, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogError {
    pub problems: Vec<CatalogProblem>,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the event catalog has {} problem(s):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

#[derive(Clone)]
struct CatalogEvent {
    definition: EventDefinition,
    validator: jsonschema::Validator,
}

/// A validated event catalog with each payload schema compiled.
#[derive(Clone)]
pub struct Catalog {
    events: BTreeMap<String, CatalogEvent>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("events", &self.events.keys().collect::<Vec<_>>())
            .finish()
    }
}

// (file name, YAML text) of every file of the repository's `event-catalog/`, from build.rs.
include!(concat!(env!("OUT_DIR"), "/embedded_catalog.rs"));

impl Catalog {
    /// Loads every `*.yaml` file of `dir`.
    pub fn load(dir: &Path) -> Result<Catalog, CatalogError> {
        let shown = dir.display().to_string();
        let unreadable = |error: std::io::Error| CatalogError {
            problems: vec![CatalogProblem::new(
                &shown,
                None,
                format!("cannot read the catalog directory: {error}"),
            )],
        };
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        let mut entries = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable)?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let path = entry.path();
            let file = entry.file_name().to_string_lossy().into_owned();
            match path.extension().and_then(|e| e.to_str()) {
                Some(FILE_EXTENSION) => match std::fs::read_to_string(&path) {
                    Ok(text) => sources.push((file, text)),
                    Err(error) => problems.push(CatalogProblem::new(
                        file,
                        None,
                        format!("cannot be read: {error}"),
                    )),
                },
                Some("yml") => problems.push(CatalogProblem::new(
                    file,
                    None,
                    "catalog files end in .yaml; this one would be ignored",
                )),
                _ => {}
            }
        }
        if sources.is_empty() && problems.is_empty() {
            problems.push(CatalogProblem::new(
                shown,
                None,
                "holds no event files (EVENT.yaml)",
            ));
        }
        match Self::from_sources(sources) {
            Ok(catalog) if problems.is_empty() => Ok(catalog),
            Ok(_) => Err(CatalogError { problems }),
            Err(error) => {
                problems.extend(error.problems);
                Err(CatalogError { problems })
            }
        }
    }

    /// Builds a catalog from `(file name, YAML text)` pairs, e.g. `("COOKING_REQUESTED.yaml", …)`.
    pub fn from_sources<I, N, T>(sources: I) -> Result<Catalog, CatalogError>
    where
        I: IntoIterator<Item = (N, T)>,
        N: AsRef<str>,
        T: AsRef<str>,
    {
        let mut problems = Vec::new();
        let mut events = BTreeMap::new();
        for (file, text) in sources {
            let file = file.as_ref();
            if !file.ends_with(".yaml") {
                problems.push(CatalogProblem::new(
                    file,
                    None,
                    "catalog files are named EVENT.yaml",
                ));
                continue;
            }
            let Some(definition) = definition::read_event_file(file, text.as_ref(), &mut problems)
            else {
                continue;
            };
            let Some(validator) = compile(file, &definition, &mut problems) else {
                continue;
            };
            if events.contains_key(&definition.name) {
                problems.push(CatalogProblem::new(
                    file,
                    Some("name"),
                    format!("{} is defined twice", definition.name),
                ));
                continue;
            }
            events.insert(
                definition.name.clone(),
                CatalogEvent {
                    definition,
                    validator,
                },
            );
        }
        if problems.is_empty() {
            check_collection_event(&events, &mut problems);
        }
        if problems.is_empty() {
            Ok(Catalog { events })
        } else {
            Err(CatalogError { problems })
        }
    }

    /// The repository's `event-catalog/`, compiled into the library (see `build.rs`).
    ///
    /// # Panics
    /// When the embedded catalog is invalid, which `postoffice catalog check` and this crate's
    /// tests rule out before anything ships.
    pub fn embedded() -> &'static Catalog {
        static EMBEDDED: OnceLock<Catalog> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            Catalog::from_sources(EMBEDDED_CATALOG.iter().copied())
                .unwrap_or_else(|error| panic!("the embedded event catalog is invalid: {error}"))
        })
    }

    pub fn event(&self, name: &str) -> Option<&EventDefinition> {
        self.events.get(name).map(|event| &event.definition)
    }

    /// Every event, by name.
    pub fn events(&self) -> impl Iterator<Item = &EventDefinition> {
        self.events.values().map(|event| &event.definition)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Checks `payload` against the schema of `event`, reporting every violation.
    pub fn validate_payload(
        &self,
        event: &str,
        payload: &serde_json::Value,
    ) -> Result<(), PayloadError> {
        let entry = self
            .events
            .get(event)
            .ok_or_else(|| PayloadError::UnknownEvent {
                event: event.to_owned(),
            })?;
        // The fast path: most payloads are valid, and `is_valid` stops at the first failure.
        if entry.validator.is_valid(payload) {
            return Ok(());
        }
        let violations = payload::violations(&entry.validator, payload);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::Invalid {
                event: event.to_owned(),
                violations,
            })
        }
    }

    /// The actor-to-backend events `actor` may publish (what its IoT policy allows).
    pub fn events_produced_by_actor<'a>(
        &'a self,
        actor: &'a str,
    ) -> impl Iterator<Item = &'a EventDefinition> + 'a {
        self.events().filter(move |event| {
            event.direction == Direction::ActorToBackend
                && event.producers.iter().any(|p| p == actor)
        })
    }

    /// The events `producer` (actor or service) publishes.
    pub fn events_produced_by<'a>(
        &'a self,
        producer: &'a str,
    ) -> impl Iterator<Item = &'a EventDefinition> + 'a {
        self.events()
            .filter(move |event| event.producers.iter().any(|p| p == producer))
    }

    /// The consumers subscribed to `event`; `None` when the event is not in the catalog.
    pub fn consumers_of(&self, event: &str) -> Option<&[String]> {
        self.event(event).map(|event| event.consumers.as_slice())
    }

    /// The events `consumer` is subscribed to.
    pub fn events_consumed_by<'a>(
        &'a self,
        consumer: &'a str,
    ) -> impl Iterator<Item = &'a EventDefinition> + 'a {
        self.events()
            .filter(move |event| event.consumers.iter().any(|c| c == consumer))
    }

    /// The events devices may send in an event collection (those with `collection`), by name.
    pub fn collectable_events(&self) -> impl Iterator<Item = &EventDefinition> {
        self.events().filter(|event| event.collection.is_some())
    }

    /// Every consumer named by some event, sorted.
    pub fn consumers(&self) -> BTreeSet<&str> {
        self.events()
            .flat_map(|event| event.consumers.iter().map(String::as_str))
            .collect()
    }
}

/// Collections need both ends: the event devices send them as, and events that may travel in
/// them.
fn check_collection_event(
    events: &BTreeMap<String, CatalogEvent>,
    problems: &mut Vec<CatalogProblem>,
) {
    let has_collection_event = events.contains_key(COLLECTION_EVENT);
    let collectable: Vec<&str> = events
        .values()
        .filter(|event| event.definition.collection.is_some())
        .map(|event| event.definition.name.as_str())
        .collect();
    if has_collection_event && collectable.is_empty() {
        problems.push(CatalogProblem::new(
            format!("{COLLECTION_EVENT}.{FILE_EXTENSION}"),
            None,
            "no event has `collection`, so nothing may travel in a collection; give the events devices may collect a `collection` or remove this event",
        ));
    }
    if !has_collection_event {
        for event in collectable {
            problems.push(CatalogProblem::new(
                format!("{event}.{FILE_EXTENSION}"),
                Some("collection"),
                format!("devices send collections as {COLLECTION_EVENT}, which the catalog does not define (add {COLLECTION_EVENT}.{FILE_EXTENSION})"),
            ));
        }
    }
}

/// Compiles the schema and validates every example against it.
fn compile(
    file: &str,
    definition: &EventDefinition,
    problems: &mut Vec<CatalogProblem>,
) -> Option<jsonschema::Validator> {
    let validator = match jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&definition.schema)
    {
        Ok(validator) => validator,
        Err(error) => {
            let at = error.instance_path().as_str();
            let location = if at.is_empty() {
                String::new()
            } else {
                format!(" at {at}")
            };
            problems.push(CatalogProblem::new(
                file,
                Some("schema"),
                format!("is not a valid JSON Schema (2020-12){location}: {error}"),
            ));
            return None;
        }
    };
    let before = problems.len();
    for (index, example) in definition.examples.iter().enumerate() {
        for violation in payload::violations(&validator, example) {
            problems.push(CatalogProblem::new(
                file,
                Some(&format!("examples[{index}]")),
                format!("does not match the schema: {violation}"),
            ));
        }
    }
    (problems.len() == before).then_some(validator)
}

#[cfg(test)]
mod tests;
