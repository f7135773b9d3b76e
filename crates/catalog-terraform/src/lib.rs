//! Does the Terraform root module agree with the event catalog?
//!
//! The catalog is the source of truth for event names and for which actors may publish what.
//! This crate reads a root module (such as `terraform/examples/complete`) with hcl-rs, without
//! running Terraform, and reports, naming the event:
//! - a catalog event without an `event` module block, and an `event` block whose event is not in
//!   the catalog (problems);
//! - a consumer that subscribes to, or a handler that publishes, an event not in the catalog
//!   (problems);
//! - a device (or mobile) policy that allows an event the catalog does not give to that actor
//!   (problem), or leaves out one it does (warning);
//! - subscriptions and IoT rules that differ from the catalog's consumers and directions
//!   (warnings: Terraform may lag the catalog by a deployment, but it must never exceed it).
//!
//! Modules are recognised by the last directory of their `source` (`…/event`, `…/consumer`,
//! `…/platform`), whatever the block is called; other blocks are ignored.

mod root_module;
mod static_value;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use postoffice::catalog::{Catalog, CatalogProblem, Direction};

pub use root_module::{ModuleInstance, ModuleKind, RootModule};
pub use static_value::StaticValue;

/// The root module Post Office checks by default, relative to the repository.
pub const DEFAULT_ROOT_MODULE: &str = "terraform/examples/complete";

/// What the check found: problems fail `postoffice catalog check`, warnings are printed.
#[derive(Debug, Default)]
pub struct Agreement {
    pub problems: Vec<CatalogProblem>,
    pub warnings: Vec<CatalogProblem>,
}

impl Agreement {
    fn problem(&mut self, file: &str, field: Option<&str>, message: String) {
        self.problems
            .push(CatalogProblem::new(file, field, message));
    }

    fn warning(&mut self, file: &str, field: Option<&str>, message: String) {
        self.warnings
            .push(CatalogProblem::new(file, field, message));
    }
}

/// Checks the root module in `dir` against `catalog`.
pub fn check(catalog: &Catalog, dir: &Path) -> Agreement {
    let mut agreement = Agreement::default();
    let root = match RootModule::read(dir) {
        Ok(root) => root,
        Err(error) => {
            agreement.problem(&error.file, None, error.message);
            return agreement;
        }
    };
    for (file, address, message) in &root.unreadable {
        agreement.problem(file, Some(address), message.clone());
    }
    check_events(catalog, dir, &root, &mut agreement);
    check_consumers(catalog, &root, &mut agreement);
    check_platform(catalog, &root, &mut agreement);
    agreement
}

fn check_events(catalog: &Catalog, dir: &Path, root: &RootModule, agreement: &mut Agreement) {
    let mut blocks: BTreeMap<String, Vec<&ModuleInstance>> = BTreeMap::new();
    for module in root.of_kind(ModuleKind::Event) {
        let field = format!("{}.event_name", module.address);
        let Some(event) = module.attribute("event_name").and_then(StaticValue::as_str) else {
            agreement.problem(&module.file, Some(&field), "event_name is not a name known before Terraform runs; write the event name literally".to_owned());
            continue;
        };
        blocks.entry(event.to_owned()).or_default().push(module);

        let Some(definition) = catalog.event(event) else {
            agreement.problem(
                &module.file,
                Some(&field),
                format!("event {event} is not in the catalog"),
            );
            continue;
        };
        let actor_published = definition.direction == Direction::ActorToBackend;
        match module.attribute("actor_published").unwrap_or(&StaticValue::Bool(false)) {
            StaticValue::Bool(true) if !actor_published => agreement.warning(
                &module.file,
                Some(&format!("{}.actor_published", module.address)),
                format!("event {event} is {}, but the block creates an IoT rule for actors to publish it", definition.direction),
            ),
            StaticValue::Bool(false) if actor_published => agreement.warning(
                &module.file,
                Some(&format!("{}.actor_published", module.address)),
                format!("event {event} is actor-to-backend, but the block creates no IoT rule: actors' messages would go nowhere"),
            ),
            _ => {}
        }
    }

    for (event, modules) in &blocks {
        if modules.len() > 1 {
            let addresses: Vec<&str> = modules.iter().map(|m| m.address.as_str()).collect();
            agreement.problem(
                &modules[0].file,
                None,
                format!(
                    "event {event} has {} event module blocks ({}); a topic exists once",
                    modules.len(),
                    addresses.join(", ")
                ),
            );
        }
    }

    let dir = dir.display().to_string();
    for definition in catalog.events() {
        if !blocks.contains_key(&definition.name) {
            agreement.problem(
                &dir,
                None,
                format!(
                    "event {} is in the catalog but no event module block carries it",
                    definition.name
                ),
            );
        }
    }
}

fn check_consumers(catalog: &Catalog, root: &RootModule, agreement: &mut Agreement) {
    let mut subscribed_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in root.of_kind(ModuleKind::Consumer) {
        let consumer = match module.attribute("name").and_then(StaticValue::as_str) {
            Some(name) => name.to_owned(),
            None => module.address.clone(),
        };
        let field = format!("{}.events", module.address);
        let Some(events) = module.attribute("events").and_then(StaticValue::keys) else {
            agreement.problem(
                &module.file,
                Some(&field),
                format!("consumer {consumer}: events is not a map keyed by literal event names"),
            );
            continue;
        };
        for event in &events {
            match catalog.event(event) {
                None => agreement.problem(&module.file, Some(&field), format!("consumer {consumer} subscribes to event {event}, which is not in the catalog")),
                Some(definition) if !definition.consumers.contains(&consumer) => agreement.warning(
                    &module.file,
                    Some(&field),
                    format!("consumer {consumer} subscribes to event {event}, but the catalog does not list {consumer} among its consumers"),
                ),
                Some(_) => {}
            }
        }
        subscribed_by
            .entry(consumer.clone())
            .or_default()
            .extend(events);

        if let Some(StaticValue::Map(handler)) = module.attribute("handler") {
            for list in ["publishes", "forwards_to_actors"] {
                let Some(value) = handler.get(list) else {
                    continue;
                };
                let field = format!("{}.handler.{list}", module.address);
                match value.as_strings() {
                    Some(events) => {
                        for event in events.iter().filter(|e| catalog.event(e).is_none()) {
                            agreement.problem(&module.file, Some(&field), format!("consumer {consumer}'s handler may publish event {event}, which is not in the catalog"));
                        }
                    }
                    None => agreement.problem(
                        &module.file,
                        Some(&field),
                        format!("consumer {consumer}: {list} is not a list of literal event names"),
                    ),
                }
            }
        }
    }

    for (consumer, subscribed) in &subscribed_by {
        for definition in catalog.events_consumed_by(consumer) {
            if !subscribed.contains(&definition.name) {
                agreement.warning(
                    root.of_kind(ModuleKind::Consumer).next().map(|m| m.file.as_str()).unwrap_or_default(),
                    None,
                    format!("the catalog lists {consumer} as a consumer of event {}, but its consumer module does not subscribe to it", definition.name),
                );
            }
        }
    }
}

fn check_platform(catalog: &Catalog, root: &RootModule, agreement: &mut Agreement) {
    let platforms: Vec<&ModuleInstance> = root.of_kind(ModuleKind::Platform).collect();
    if platforms.is_empty() {
        agreement.warning(
            "",
            None,
            "no platform module block: the device policy was not checked".to_owned(),
        );
    }
    for module in platforms {
        for (attribute, actor) in [("device_events", "device"), ("mobile_events", "mobile")] {
            let field = format!("{}.{attribute}", module.address);
            let allowed = match module.attribute(attribute) {
                None if actor == "mobile" => Vec::new(),
                None => {
                    agreement.problem(
                        &module.file,
                        Some(&field),
                        "the device policy's events are not set".to_owned(),
                    );
                    continue;
                }
                Some(value) => {
                    match value.as_strings() {
                        Some(events) => events,
                        None => {
                            agreement.problem(&module.file, Some(&field), format!("the {actor} policy's events are not a list of literal event names"));
                            continue;
                        }
                    }
                }
            };
            let given: BTreeSet<&str> = catalog
                .events_produced_by_actor(actor)
                .map(|e| e.name.as_str())
                .collect();
            for event in &allowed {
                if !given.contains(event.as_str()) {
                    agreement.problem(&module.file, Some(&field), format!("the {actor} policy allows event {event}, which the catalog does not let {actor}s produce"));
                }
            }
            for event in given.iter().filter(|e| !allowed.iter().any(|a| a == *e)) {
                agreement.warning(&module.file, Some(&field), format!("the catalog lets {actor}s produce event {event}, but the {actor} policy does not allow it"));
            }
        }
    }
}
