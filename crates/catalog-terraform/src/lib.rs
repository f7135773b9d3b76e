//! Does the Terraform root module agree with the event catalog?
//!
//! The catalog is the source of truth for event names, who may publish them and who consumes
//! them. A root module such as `terraform/examples/complete` reads it with the catalog module
//! (`terraform/modules/catalog`) and derives its event blocks, the actors' policies and each
//! consumer's subscriptions from it. This crate reads the root module with hcl-rs, without
//! running Terraform, evaluates `module.<catalog>` as the catalog being checked would make
//! Terraform evaluate it, and reports, naming the event:
//! - a catalog module reading another directory than the catalog being checked (problem);
//! - a catalog event without an `event` module instance, an `event` instance whose event is not
//!   in the catalog, or one event with two instances (problems);
//! - a catalog consumer without a consumer module block: its events would reach no one (problem);
//!   a consumer block the catalog does not name, or whose subscriptions do not come from the
//!   catalog module, or a filter policy for an event it does not consume (problems);
//! - a device (or mobile) policy that allows an event the catalog does not give to that actor
//!   (problem), or leaves out one it does (warning);
//! - IoT rules that differ from the catalog's directions (warnings).
//!
//! Modules are recognised by the last directory of their `source` (`…/catalog`, `…/event`,
//! `…/consumer`, `…/platform`), whatever the block is called; other blocks are ignored. Blocks
//! may list events literally, through locals and variable defaults, or from the catalog module.

mod root_module;
mod static_value;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use postoffice::catalog::{
    ACTORS, COLLECTION_UNPACKER, Catalog, CatalogProblem, Direction, IOT_FORWARDER,
};

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

/// Checks the root module in `dir` against `catalog`, loaded from `catalog_dir`.
pub fn check(catalog: &Catalog, catalog_dir: &Path, dir: &Path) -> Agreement {
    let mut agreement = Agreement::default();
    let outputs = catalog_outputs(catalog);
    let root = match RootModule::read(dir, &outputs) {
        Ok(root) => root,
        Err(error) => {
            agreement.problem(&error.file, None, error.message);
            return agreement;
        }
    };
    for (file, address, message) in &root.unreadable {
        agreement.problem(file, Some(address), message.clone());
    }
    check_catalog_modules(catalog_dir, dir, &root, &mut agreement);
    check_events(catalog, dir, &root, &mut agreement);
    check_consumers(catalog, &outputs, dir, &root, &mut agreement);
    check_platform(catalog, &root, &mut agreement);
    agreement
}

/// The outputs of `terraform/modules/catalog` for `catalog`: `events`, `actor_events` and
/// `consumers` (with `subscribes`, `publishes`, `forwards_to_actors` and `unpacks`), as that
/// module derives them (its tests pin the derivation).
pub fn catalog_outputs(catalog: &Catalog) -> StaticValue {
    fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> StaticValue {
        let sorted: BTreeSet<&str> = items.into_iter().collect();
        StaticValue::List(
            sorted
                .into_iter()
                .map(|s| StaticValue::String(s.to_owned()))
                .collect(),
        )
    }

    let events = catalog
        .events()
        .map(|event| {
            let fields = BTreeMap::from([
                (
                    "direction".to_owned(),
                    StaticValue::String(event.direction.as_str().to_owned()),
                ),
                (
                    "producers".to_owned(),
                    strings(event.producers.iter().map(String::as_str)),
                ),
                (
                    "consumers".to_owned(),
                    strings(event.consumers.iter().map(String::as_str)),
                ),
                (
                    "actor_published".to_owned(),
                    StaticValue::Bool(event.direction == Direction::ActorToBackend),
                ),
            ]);
            (event.name.clone(), StaticValue::Map(fields))
        })
        .collect();

    let actor_events = ACTORS
        .iter()
        .map(|actor| {
            let events = catalog
                .events_produced_by_actor(actor)
                .map(|e| e.name.as_str());
            ((*actor).to_owned(), strings(events))
        })
        .collect();

    let consumers = catalog
        .consumers()
        .into_iter()
        .map(|consumer| {
            let subscribes: Vec<&str> = catalog
                .events_consumed_by(consumer)
                .map(|e| e.name.as_str())
                .collect();
            let forwards = catalog
                .events_consumed_by(consumer)
                .filter(|e| consumer == IOT_FORWARDER && e.direction == Direction::BackendToActor)
                .map(|e| e.name.as_str());
            let unpacks = catalog
                .collectable_events()
                .filter(|_| consumer == COLLECTION_UNPACKER)
                .map(|e| e.name.as_str());
            let fields = BTreeMap::from([
                ("subscribes".to_owned(), strings(subscribes)),
                (
                    "publishes".to_owned(),
                    strings(
                        catalog
                            .events_produced_by(consumer)
                            .map(|e| e.name.as_str()),
                    ),
                ),
                ("forwards_to_actors".to_owned(), strings(forwards)),
                ("unpacks".to_owned(), strings(unpacks)),
            ]);
            (consumer.to_owned(), StaticValue::Map(fields))
        })
        .collect();

    StaticValue::Map(BTreeMap::from([
        ("events".to_owned(), StaticValue::Map(events)),
        ("actor_events".to_owned(), StaticValue::Map(actor_events)),
        ("consumers".to_owned(), StaticValue::Map(consumers)),
    ]))
}

/// Every catalog module must read the catalog being checked, or the derived wiring describes
/// another catalog.
fn check_catalog_modules(
    catalog_dir: &Path,
    dir: &Path,
    root: &RootModule,
    agreement: &mut Agreement,
) {
    let expected = canonical(catalog_dir);
    for module in root.of_kind(ModuleKind::Catalog) {
        let field = format!("{}.directory", module.address);
        match module.attribute("directory").and_then(StaticValue::as_str) {
            None => agreement.problem(
                &module.file,
                Some(&field),
                "the catalog directory is not known before Terraform runs; write it literally, from path.module or a variable default".to_owned(),
            ),
            Some(directory) => {
                let read = canonical(&dir.join(directory));
                if read != expected {
                    agreement.problem(
                        &module.file,
                        Some(&field),
                        format!(
                            "the catalog module reads {}, not the catalog being checked ({})",
                            read.display(),
                            expected.display()
                        ),
                    );
                }
            }
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn check_events(catalog: &Catalog, dir: &Path, root: &RootModule, agreement: &mut Agreement) {
    let mut blocks: BTreeMap<String, Vec<&ModuleInstance>> = BTreeMap::new();
    for module in root.of_kind(ModuleKind::Event) {
        let field = format!("{}.event_name", module.address);
        let Some(event) = module.attribute("event_name").and_then(StaticValue::as_str) else {
            agreement.problem(&module.file, Some(&field), "event_name is not a name known before Terraform runs; write the event name literally or for_each over the catalog module's events".to_owned());
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

fn check_consumers(
    catalog: &Catalog,
    outputs: &StaticValue,
    dir: &Path,
    root: &RootModule,
    agreement: &mut Agreement,
) {
    let mut blocks: BTreeSet<String> = BTreeSet::new();
    for module in root.of_kind(ModuleKind::Consumer) {
        let Some(consumer) = module.attribute("name").and_then(StaticValue::as_str) else {
            agreement.problem(
                &module.file,
                Some(&format!("{}.name", module.address)),
                "the consumer name is not known before Terraform runs; write it literally"
                    .to_owned(),
            );
            continue;
        };
        blocks.insert(consumer.to_owned());

        if !catalog.consumers().contains(consumer) {
            agreement.problem(
                &module.file,
                Some(&format!("{}.name", module.address)),
                format!("consumer {consumer} consumes no catalog event: list it among the consumers of its events in the catalog, or fix the name"),
            );
            continue;
        }
        if module.attribute("catalog") != Some(outputs) {
            agreement.problem(
                &module.file,
                Some(&format!("{}.catalog", module.address)),
                format!("consumer {consumer}: catalog is not the catalog module, so its subscriptions and permissions do not follow the catalog"),
            );
        }

        let subscribed: BTreeSet<&str> = catalog
            .events_consumed_by(consumer)
            .map(|e| e.name.as_str())
            .collect();
        let field = format!("{}.filter_policies", module.address);
        match module.attribute("filter_policies").map(StaticValue::keys) {
            None => {}
            Some(None) => agreement.problem(
                &module.file,
                Some(&field),
                format!(
                    "consumer {consumer}: filter_policies is not a map keyed by literal event names"
                ),
            ),
            Some(Some(events)) => {
                for event in events.iter().filter(|e| !subscribed.contains(e.as_str())) {
                    agreement.problem(&module.file, Some(&field), format!("consumer {consumer} has a filter policy for event {event}, which the catalog does not let it consume"));
                }
            }
        }
    }

    let dir = dir.display().to_string();
    for consumer in catalog.consumers() {
        if blocks.contains(consumer) {
            continue;
        }
        let events: Vec<&str> = catalog
            .events_consumed_by(consumer)
            .map(|e| e.name.as_str())
            .collect();
        agreement.problem(
            &dir,
            None,
            format!(
                "the catalog lists {consumer} as a consumer of event {}, but no consumer module block is named {consumer}: {} no one there",
                events.join(", event "),
                if events.len() == 1 { "it reaches" } else { "they reach" },
            ),
        );
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
                Some(value) => match value.as_strings() {
                    Some(events) => events,
                    None => {
                        agreement.problem(&module.file, Some(&field), format!("the {actor} policy's events are not a list of literal event names or the catalog module's actor_events"));
                        continue;
                    }
                },
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
