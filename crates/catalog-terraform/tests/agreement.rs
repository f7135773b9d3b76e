//! The agreement check against the repository's catalog and Terraform, and against modified
//! copies of them: each disagreement the check must catch is introduced on a copy.

use std::fs;
use std::path::{Path, PathBuf};

use postoffice::catalog::Catalog;
use postoffice_catalog_terraform::{Agreement, check};
use tempfile::TempDir;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the repository's catalog and complete example, to modify.
struct Copy {
    _dir: TempDir,
    catalog: PathBuf,
    terraform: PathBuf,
}

impl Copy {
    fn new() -> Copy {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("event-catalog");
        let terraform = dir.path().join("complete");
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

    /// Adds COOKING_PAUSED to the catalog (backend-to-actor, consumed by iot-forwarder).
    fn add_catalog_event(&self) {
        let started = fs::read_to_string(self.catalog.join("COOKING_STARTED.yaml")).unwrap();
        let paused = started.replace("COOKING_STARTED", "COOKING_PAUSED");
        fs::write(self.catalog.join("COOKING_PAUSED.yaml"), paused).unwrap();
    }

    fn check(&self) -> Agreement {
        let catalog = Catalog::load(&self.catalog).expect("the copied catalog loads");
        check(&catalog, &self.terraform)
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

/// Exactly one problem, which names `event` and says `what`.
fn assert_one_problem(agreement: &Agreement, event: &str, what: &str) {
    let problems = messages(&agreement.problems);
    assert_eq!(
        problems.len(),
        1,
        "expected one problem about {event}, got {problems:#?}"
    );
    assert!(
        problems[0].contains(event) && problems[0].contains(what),
        "{problems:#?}"
    );
}

#[test]
fn the_repository_terraform_agrees_with_the_catalog() {
    let catalog = Catalog::load(&repository().join("event-catalog")).unwrap();
    let agreement = check(&catalog, &repository().join("terraform/examples/complete"));
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

#[test]
fn a_catalog_event_without_an_event_block_fails() {
    let copy = Copy::new();
    copy.add_catalog_event();
    // The new event's consumer must exist for the catalog copy to be realistic; the forwarder does.
    let agreement = copy.check();
    assert_one_problem(&agreement, "COOKING_PAUSED", "no event module block");
}

#[test]
fn removing_an_event_block_fails_naming_the_event() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        let start = text.find("module \"firmware_update_offered\"").unwrap();
        let end = start + text[start..].find("\n}\n").unwrap() + 3;
        format!("{}{}", &text[..start], &text[end..])
    });
    let agreement = copy.check();
    assert_one_problem(
        &agreement,
        "FIRMWARE_UPDATE_OFFERED",
        "no event module block",
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
  platform   = module.platform
}"#,
    );
    let agreement = copy.check();
    assert_one_problem(&agreement, "COOKING_PAUSED", "not in the catalog");
    assert!(agreement.problems[0].field.as_deref() == Some("module.paused.event_name"));
}

#[test]
fn adding_the_event_to_both_passes() {
    let copy = Copy::new();
    copy.add_catalog_event();
    copy.append(
        "main.tf",
        r#"module "cooking_paused" {
  source     = "../../modules/event"
  event_name = "COOKING_PAUSED"
  platform   = module.platform
}"#,
    );
    copy.edit("consumers.tf", |text| {
        text.replace(
            "    COOKING_STARTED         = { topic_arn = module.cooking_started.topic_arn }\n",
            "    COOKING_STARTED         = { topic_arn = module.cooking_started.topic_arn }\n    COOKING_PAUSED          = { topic_arn = module.cooking_paused.topic_arn }\n",
        )
    });
    let agreement = copy.check();
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

#[test]
fn a_consumer_subscribing_to_an_unknown_event_fails() {
    let copy = Copy::new();
    copy.edit("consumers.tf", |text| {
        text.replace(
            "    COOKING_FINISHED  = { topic_arn = module.cooking_finished.topic_arn }\n",
            "    COOKING_FINISHED  = { topic_arn = module.cooking_finished.topic_arn }\n    \"OVEN_EXPLODED\" = { topic_arn = \"arn:aws:sns:eu-west-1:123456789012:postoffice-OVEN_EXPLODED\" }\n",
        )
    });
    let agreement = copy.check();
    assert_one_problem(&agreement, "OVEN_EXPLODED", "consumer kitchen subscribes");
}

#[test]
fn a_handler_publishing_an_unknown_event_fails() {
    let copy = Copy::new();
    copy.edit("consumers.tf", |text| {
        text.replace(
            r#"publishes = ["COOKING_REPLIED", "COOKING_STARTED"]"#,
            r#"publishes = ["COOKING_REPLIED", "COOKING_BURNT"]"#,
        )
    });
    let agreement = copy.check();
    assert_one_problem(&agreement, "COOKING_BURNT", "not in the catalog");
}

#[test]
fn a_device_policy_allowing_an_event_devices_do_not_produce_fails() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#"device_events            = ["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED"]"#,
            r#"device_events            = ["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED", "FIRMWARE_UPDATE_OFFERED"]"#,
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
fn a_device_policy_allowing_an_unknown_event_fails() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#""DEVICE_TELEMETRY_REPORTED"]"#,
            r#""DEVICE_TELEMETRY_REPORTED", "DOOR_OPENED"]"#,
        )
    });
    assert_one_problem(&copy.check(), "DOOR_OPENED", "device policy allows");
}

#[test]
fn a_device_policy_missing_a_device_event_warns() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(r#", "DEVICE_TELEMETRY_REPORTED"]"#, "]")
    });
    let agreement = copy.check();
    assert!(
        agreement.problems.is_empty(),
        "{:#?}",
        messages(&agreement.problems)
    );
    let warnings = messages(&agreement.warnings);
    assert!(
        warnings.len() == 1 && warnings[0].contains("DEVICE_TELEMETRY_REPORTED"),
        "{warnings:#?}"
    );
}

#[test]
fn other_block_names_locals_variables_for_each_and_extra_blocks_are_understood() {
    let copy = Copy::new();
    // The three backend-to-actor events become one for_each block over a local; the device
    // events move to a variable default; unrelated blocks appear.
    copy.edit("main.tf", |text| {
        let mut text = text;
        for label in ["cooking_replied", "cooking_started", "firmware_update_offered"] {
            let start = text.find(&format!("module \"{label}\"")).unwrap();
            let end = start + text[start..].find("\n}\n").unwrap() + 3;
            text = format!("{}{}", &text[..start], &text[end..]);
        }
        text.replace(
            r#"device_events            = ["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED"]"#,
            "device_events            = var.device_events",
        )
    });
    copy.create(
        "events.tf",
        r#"locals {
  replies = ["COOKING_REPLIED", "COOKING_STARTED"]
}

variable "device_events" {
  type    = list(string)
  default = ["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED"]
}

module "backend_to_actor" {
  for_each   = toset(concat(local.replies, ["FIRMWARE_UPDATE_OFFERED"]))
  source     = "git::https://example.com/postoffice.git//terraform/modules/event?ref=v1"
  event_name = each.key
  platform   = module.platform
}

module "unrelated" {
  source = "terraform-aws-modules/vpc/aws"
  name   = "COOKING_NOTHING"
}

resource "aws_sns_topic" "extra" {
  name = "not-an-event"
}"#,
    );
    copy.edit("consumers.tf", |text| {
        text.replace(
            "module.cooking_replied.topic_arn",
            r#"module.backend_to_actor["COOKING_REPLIED"].topic_arn"#,
        )
    });
    let agreement = copy.check();
    assert!(
        agreement.problems.is_empty(),
        "{:#?}",
        messages(&agreement.problems)
    );

    // The same layout still catches a missing event.
    copy.edit("events.tf", |text| {
        text.replace(
            r#"replies = ["COOKING_REPLIED", "COOKING_STARTED"]"#,
            r#"replies = ["COOKING_REPLIED"]"#,
        )
    });
    assert_one_problem(&copy.check(), "COOKING_STARTED", "no event module block");
}

#[test]
fn an_event_name_not_known_before_terraform_runs_fails() {
    let copy = Copy::new();
    copy.edit("main.tf", |text| {
        text.replace(
            r#"event_name = "COOKING_REPLIED""#,
            r#"event_name = upper("cooking_replied")"#,
        )
    });
    let problems = messages(&copy.check().problems);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("module.cooking_replied.event_name")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("COOKING_REPLIED") && p.contains("no event module block")),
        "{problems:#?}"
    );
}

#[test]
fn a_duplicate_event_block_fails() {
    let copy = Copy::new();
    copy.append(
        "main.tf",
        r#"module "cooking_replied_again" {
  source     = "../../modules/event"
  event_name = "COOKING_REPLIED"
  platform   = module.platform
}"#,
    );
    assert_one_problem(&copy.check(), "COOKING_REPLIED", "2 event module blocks");
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
