//! The agreement check against the repository's catalog and Terraform, and against modified
//! copies of them: each disagreement the check must catch is introduced on a copy.

use std::fs;
use std::path::{Path, PathBuf};

use postoffice::catalog::Catalog;
use postoffice_catalog_terraform::{Agreement, StaticValue, catalog_outputs, check};
use tempfile::TempDir;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the repository's catalog and complete example, laid out as in the repository so that
/// the example's catalog module finds the copied catalog.
struct Copy {
    _dir: TempDir,
    catalog: PathBuf,
    terraform: PathBuf,
}

impl Copy {
    fn new() -> Copy {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("event-catalog");
        let terraform = dir.path().join("terraform/examples/complete");
        copy_files(&repository().join("event-catalog"), &catalog, "yaml");
        copy_files(
            &repository().join("terraform/examples/complete"),
            &terraform,
            "tf",
        );
        Copy {
            _dir: dir,
            catalog,
            terraform,
        }
    }

    fn edit(&self, file: &str, edit: impl FnOnce(String) -> String) {
        let path = self.terraform.join(file);
        let text = fs::read_to_string(&path).unwrap();
        let edited = edit(text.clone());
        assert_ne!(edited, text, "the edit of {file} changed nothing");
        fs::write(path, edited).unwrap();
    }

    fn create(&self, file: &str, text: &str) {
        fs::write(self.terraform.join(file), text).unwrap();
    }

    fn append(&self, file: &str, text: &str) {
        self.edit(file, |old| format!("{old}\n{text}\n"));
    }

    /// Adds an event to the catalog, a copy of COOKING_STARTED (backend-to-actor, produced by
    /// kitchen) renamed, with `consumers` as its consumers.
    fn add_catalog_event(&self, name: &str, consumers: &str) {
        let started = fs::read_to_string(self.catalog.join("COOKING_STARTED.yaml")).unwrap();
        let added = started.replace("COOKING_STARTED", name).replace(
            "consumers: [iot-forwarder]",
            &format!("consumers: [{consumers}]"),
        );
        assert!(added.contains(consumers));
        fs::write(self.catalog.join(format!("{name}.yaml")), added).unwrap();
    }

    fn check(&self) -> Agreement {
        let catalog = Catalog::load(&self.catalog).expect("the copied catalog loads");
        check(&catalog, &self.catalog, &self.terraform)
    }
}

fn copy_files(from: &Path, to: &Path, extension: &str) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == extension) {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn messages(problems: &[postoffice::catalog::CatalogProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// Exactly one problem, which names `subject` and says `what`.
fn assert_one_problem(agreement: &Agreement, subject: &str, what: &str) {
    let problems = messages(&agreement.problems);
    assert_eq!(
        problems.len(),
        1,
        "expected one problem about {subject}, got {problems:#?}"
    );
    assert!(
        problems[0].contains(subject) && problems[0].contains(what),
        "{problems:#?}"
    );
}

fn assert_agrees(agreement: &Agreement) {
    assert!(
        agreement.problems.is_empty(),
        "{:#?}",
        messages(&agreement.problems)
    );
    assert!(
        agreement.warnings.is_empty(),
        "{:#?}",
        messages(&agreement.warnings)
    );
}

/// Removes the block that starts with `start` (up to its closing brace at the line start).
fn without_block(text: &str, start: &str) -> String {
    let begin = text.find(start).unwrap();
    let end = begin + text[begin..].find("\n}\n").unwrap() + 3;
    format!("{}{}", &text[..begin], &text[end..])
}

#[test]
fn the_repository_terraform_agrees_with_the_catalog() {
    let catalog = Catalog::load(&repository().join("event-catalog")).unwrap();
    let agreement = check(
        &catalog,
        &repository().join("event-catalog"),
        &repository().join("terraform/examples/complete"),
    );
    assert_agrees(&agreement);
}

#[test]
fn the_catalog_outputs_give_the_unpacker_the_events_devices_may_collect() {
    let catalog = Catalog::load(&repository().join("event-catalog")).unwrap();
    let StaticValue::Map(outputs) = catalog_outputs(&catalog) else {
        panic!("the outputs are a map");
    };
    let StaticValue::Map(consumers) = &outputs["consumers"] else {
        panic!("consumers is a map");
    };
    let unpacks = |consumer: &str| {
        let StaticValue::Map(fields) = &consumers[consumer] else {
            panic!("{consumer} is a map");
        };
        fields["unpacks"].as_strings().unwrap()
    };
    assert_eq!(
        unpacks("collection-unpacker"),
        ["DEVICE_TELEMETRY_REPORTED"]
    );
    for consumer in ["kitchen", "telemetry", "iot-forwarder"] {
        assert!(unpacks(consumer).is_empty(), "{consumer}");
    }
}

#[test]
fn the_collection_unpacker_needs_its_consumer_block() {
    let copy = Copy::new();
    copy.edit("consumers.tf", |text| {
        without_block(&text, "module \"collection_unpacker\"")
    });
    assert_one_problem(
        &copy.check(),
        "collection-unpacker",
        "event EVENT_COLLECTION",
    );
}

#[test]
fn a_new_event_for_existing_consumers_needs_only_its_catalog_file() {
    let copy = Copy::new();
    copy.add_catalog_event("COOKING_PAUSED", "iot-forwarder");
    assert_agrees(&copy.check());
}

#[test]
fn a_catalog_consumer_without_a_consumer_block_fails_naming_its_events() {
    let copy = Copy::new();
    copy.add_catalog_event("COOKING_PAUSED", "iot-forwarder, billing");
    assert_one_problem(
        &copy.check(),
        "COOKING_PAUSED",
        "no consumer module block is named billing",
    );
}

#[test]
fn removing_a_consumer_block_fails_naming_its_events() {
    let copy = Copy::new();
    copy.edit("consumers.tf", |text| {
        without_block(&text, "module \"telemetry\"")
    });
    let agreement = copy.check();
    assert_one_problem(
        &agreement,
        "event COOKING_FINISHED, event DEVICE_TELEMETRY_REPORTED",
        "no consumer module block is named telemetry",
    );
}

#[test]
fn a_consumer_block_the_catalog_does_not_name_fails() {
    let copy = Copy::new();
    copy.append(
        "consumers.tf",
        r#"module "billing" {
  source   = "../../modules/consumer"
  name     = "billing"
  platform = module.platform.for_consumers
  catalog  = module.catalog
  events   = module.event
  bridge   = local.bridge
  handler  = { zip = "${var.lambda_zips}/billing/bootstrap.zip" }
}"#,
    );
    let agreement = copy.check();
    assert_one_problem(&agreement, "consumer billing", "consumes no catalog event");
    assert_eq!(
        agreement.problems[0].field.as_deref(),
        Some("module.billing.name")
    );
}

#[test]
fn a_consumer_whose_subscriptions_do_not_come_from_the_catalog_fails() {
    let copy = Copy::new();
    copy.edit("consumers.tf", |text| {
        text.replacen(
            "catalog  = module.catalog",
            r#"catalog  = { consumers = { kitchen = { subscribes = ["COOKING_REQUESTED"], publishes = [], forwards_to_actors = [] } } }"#,
            1,
        )
    });
    assert_one_problem(
        &copy.check(),
        "consumer kitchen",
        "catalog is not the catalog module",
    );
}

#[test]
fn a_filter_policy_for_an_event_the_consumer_does_not_consume_fails() {
    let copy = Copy::new();
    copy.edit("consumers.tf", |text| {
        text.replace(
            "  filter_policies = {\n",
            "  filter_policies = {\n    COOKING_REPLIED = jsonencode({ household_id = [\"h-1\"] })\n",
        )
    });
    let agreement = copy.check();
    assert_one_problem(
        &agreement,
        "COOKING_REPLIED",
        "consumer telemetry has a filter policy",
    );
    assert_eq!(
        agreement.problems[0].field.as_deref(),
        Some("module.telemetry.filter_policies")
    );
}

#[test]
fn a_catalog_module_reading_another_directory_fails() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#""${path.module}/../../../event-catalog""#,
            r#""${path.module}/../../../another-catalog""#,
        )
    });
    assert_one_problem(
        &copy.check(),
        "another-catalog",
        "not the catalog being checked",
    );
}

#[test]
fn an_event_block_for_an_event_not_in_the_catalog_fails() {
    let copy = Copy::new();
    copy.append(
        "main.tf",
        r#"module "paused" {
  source     = "../../modules/event"
  event_name = "COOKING_PAUSED"
  platform   = module.platform.for_events
}"#,
    );
    let agreement = copy.check();
    assert_one_problem(&agreement, "COOKING_PAUSED", "not in the catalog");
    assert_eq!(
        agreement.problems[0].field.as_deref(),
        Some("module.paused.event_name")
    );
}

#[test]
fn an_event_block_next_to_the_catalog_driven_ones_fails_as_a_duplicate() {
    let copy = Copy::new();
    copy.append(
        "main.tf",
        r#"module "cooking_replied" {
  source     = "../../modules/event"
  event_name = "COOKING_REPLIED"
  platform   = module.platform.for_events
}"#,
    );
    assert_one_problem(&copy.check(), "COOKING_REPLIED", "2 event module blocks");
}

#[test]
fn event_blocks_listed_by_hand_are_still_checked() {
    let copy = Copy::new();
    // The catalog-driven block becomes a for_each over a hand-kept local that misses an event.
    copy.edit("main.tf", |text| {
        text.replace(
            "  for_each = module.catalog.events\n",
            "  for_each = local.events\n",
        )
        .replace(
            "actor_published = each.value.actor_published",
            "actor_published = each.value",
        )
    });
    copy.create(
        "events.tf",
        r#"locals {
  events = {
    COOKING_FINISHED           = true
    COOKING_REPLIED            = false
    COOKING_REQUESTED          = true
    DEVICE_PAIRING_REPLIED     = false
    DEVICE_PAIRING_REQUESTED   = true
    DEVICE_TELEMETRY_REPORTED  = true
    DEVICE_UNPAIRING_REQUESTED = true
    EVENT_COLLECTION           = true
    FIRMWARE_UPDATE_OFFERED    = false
  }
}"#,
    );
    assert_one_problem(&copy.check(), "COOKING_STARTED", "no event module block");
}

#[test]
fn an_iot_rule_for_an_event_actors_do_not_publish_warns() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            "actor_published = each.value.actor_published",
            "actor_published = true",
        )
    });
    let agreement = copy.check();
    assert!(
        agreement.problems.is_empty(),
        "{:#?}",
        messages(&agreement.problems)
    );
    let warnings = messages(&agreement.warnings);
    assert!(
        warnings.len() == 4
            && [
                "COOKING_REPLIED",
                "COOKING_STARTED",
                "DEVICE_PAIRING_REPLIED",
                "FIRMWARE_UPDATE_OFFERED"
            ]
            .iter()
            .all(|event| warnings.iter().any(|w| w.contains(event))),
        "{warnings:#?}"
    );
}

#[test]
fn a_device_policy_allowing_an_event_devices_do_not_produce_fails() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#"device_events          = module.catalog.actor_events["device"]"#,
            r#"device_events          = concat(module.catalog.actor_events["device"], ["FIRMWARE_UPDATE_OFFERED"])"#,
        )
    });
    let agreement = copy.check();
    assert_one_problem(
        &agreement,
        "FIRMWARE_UPDATE_OFFERED",
        "device policy allows",
    );
    assert_eq!(
        agreement.problems[0].field.as_deref(),
        Some("module.platform.device_events")
    );
}

#[test]
fn a_hand_kept_device_policy_is_checked_both_ways() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#"device_events          = module.catalog.actor_events["device"]"#,
            r#"device_events          = ["COOKING_FINISHED", "COOKING_REQUESTED", "DOOR_OPENED", "EVENT_COLLECTION"]"#,
        )
    });
    let agreement = copy.check();
    assert_one_problem(&agreement, "DOOR_OPENED", "device policy allows");
    let warnings = messages(&agreement.warnings);
    assert!(
        warnings.len() == 1 && warnings[0].contains("DEVICE_TELEMETRY_REPORTED"),
        "{warnings:#?}"
    );
}

#[test]
fn a_catalog_directory_not_known_before_terraform_runs_fails() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#"coalesce(var.event_catalog, "${path.module}/../../../event-catalog")"#,
            "abspath(var.event_catalog)",
        )
    });
    assert_one_problem(
        &copy.check(),
        "module.catalog.directory",
        "not known before Terraform runs",
    );
}

#[test]
fn a_catalog_directory_given_as_a_variable_default_is_read() {
    let copy = Copy::new();
    let catalog = copy.catalog.display().to_string();
    copy.edit("variables.tf", |text| {
        let begin = text.find("variable \"event_catalog\"").unwrap();
        let default = begin + text[begin..].find("default     = null").unwrap();
        format!(
            "{}default     = \"{catalog}\"{}",
            &text[..default],
            &text[default + "default     = null".len()..]
        )
    });
    assert_agrees(&copy.check());
}

#[test]
fn invalid_hcl_is_a_problem_not_a_panic() {
    let copy = Copy::new();
    copy.append("main.tf", "module \"broken\" {");
    let problems = messages(&copy.check().problems);
    assert!(
        problems.len() == 1 && problems[0].contains("not valid HCL"),
        "{problems:#?}"
    );
}
