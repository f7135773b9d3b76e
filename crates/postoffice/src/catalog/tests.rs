use serde_json::json;

use super::*;

const VALID: &str = "\
name: DOOR_OPENED
description: The oven door was opened.
direction: actor-to-backend
producers: [device]
consumers: [kitchen]
schema_version: 1
schema:
  type: object
  additionalProperties: false
  required: [opened_at]
  properties:
    opened_at: { type: string, format: date-time }
    angle_deg: { type: integer, minimum: 0, maximum: 110 }
examples:
  - opened_at: \"2026-11-23T18:00:00Z\"
";

fn problems_of(file: &str, text: &str) -> Vec<CatalogProblem> {
    Catalog::from_sources([(file, text)])
        .expect_err("the file has problems")
        .problems
}

fn assert_problem(problems: &[CatalogProblem], file: &str, field: &str, needle: &str) {
    assert!(
        problems.iter().any(|p| p.file == file
            && p.field.as_deref() == Some(field)
            && p.message.contains(needle)),
        "no problem on {file} {field} containing {needle:?} in {problems:#?}"
    );
}

#[test]
fn a_valid_file_loads() {
    let catalog = Catalog::from_sources([("DOOR_OPENED.yaml", VALID)]).unwrap();
    let event = catalog.event("DOOR_OPENED").unwrap();
    assert_eq!(event.direction, Direction::ActorToBackend);
    assert_eq!(event.producers, ["device"]);
    assert_eq!(event.consumers, ["kitchen"]);
    assert_eq!(event.schema_version, 1);
    assert_eq!(event.examples.len(), 1);
}

#[test]
fn name_must_equal_the_file_name() {
    let problems = problems_of("DOOR_CLOSED.yaml", VALID);
    assert_problem(
        &problems,
        "DOOR_CLOSED.yaml",
        "name",
        "must equal the file name",
    );
}

#[test]
fn name_must_be_an_event_name() {
    let text = VALID.replace("name: DOOR_OPENED", "name: door_opened");
    let problems = problems_of("door_opened.yaml", &text);
    assert_problem(&problems, "door_opened.yaml", "name", "contains 'd'");
}

#[test]
fn unknown_direction_is_named() {
    let text = VALID.replace("actor-to-backend", "sideways");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "direction", "\"sideways\"");
}

#[test]
fn unknown_keys_are_rejected() {
    let text = format!("{VALID}owner: kitchen-team\n");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "owner", "unknown key");
}

#[test]
fn missing_and_empty_fields_are_named() {
    let text = VALID
        .replace("description: The oven door was opened.\n", "")
        .replace("consumers: [kitchen]", "consumers: []");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "description", "is missing");
    assert_problem(&problems, "DOOR_OPENED.yaml", "consumers", "non-empty");
}

#[test]
fn every_problem_of_every_file_is_collected() {
    let broken = VALID
        .replace("name: DOOR_OPENED", "name: DOOR_SHUT")
        .replace("actor-to-backend", "upwards")
        .replace("schema_version: 1", "schema_version: 0");
    let other = VALID
        .replace("DOOR_OPENED", "DOOR_CLOSED")
        .replace("producers: [device]", "producers: [Device]");
    let error = Catalog::from_sources([("DOOR_OPENED.yaml", broken), ("DOOR_CLOSED.yaml", other)])
        .unwrap_err();
    assert_problem(&error.problems, "DOOR_OPENED.yaml", "name", "file name");
    assert_problem(&error.problems, "DOOR_OPENED.yaml", "direction", "upwards");
    assert_problem(
        &error.problems,
        "DOOR_OPENED.yaml",
        "schema_version",
        "positive",
    );
    assert_problem(&error.problems, "DOOR_CLOSED.yaml", "producers[0]", "kebab");
    assert_eq!(error.problems.len(), 4, "{error}");
    let shown = error.to_string();
    assert!(
        shown.starts_with("the event catalog has 4 problem(s):"),
        "{shown}"
    );
    assert!(
        shown.contains("DOOR_CLOSED.yaml: producers[0]: \"Device\""),
        "{shown}"
    );
}

#[test]
fn actor_to_backend_events_come_from_actors_and_go_to_services() {
    let text = VALID
        .replace("producers: [device]", "producers: [kitchen]")
        .replace("consumers: [kitchen]", "consumers: [mobile, iot-forwarder]");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "producers[0]",
        "not an actor",
    );
    assert_problem(&problems, "DOOR_OPENED.yaml", "consumers[0]", "is an actor");
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "consumers[1]",
        "only backend-to-actor",
    );
}

#[test]
fn backend_to_actor_events_need_the_forwarder() {
    let text = VALID
        .replace("actor-to-backend", "backend-to-actor")
        .replace("producers: [device]", "producers: [kitchen]")
        .replace("consumers: [kitchen]", "consumers: [telemetry]");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "consumers", "iot-forwarder");

    let from_actor = VALID
        .replace("actor-to-backend", "backend-to-actor")
        .replace("consumers: [kitchen]", "consumers: [iot-forwarder]");
    let problems = problems_of("DOOR_OPENED.yaml", &from_actor);
    assert_problem(&problems, "DOOR_OPENED.yaml", "producers[0]", "is an actor");
}

#[test]
fn backend_to_backend_events_have_no_actors() {
    let text = VALID
        .replace("actor-to-backend", "backend-to-backend")
        .replace("producers: [device]", "producers: [voice-assistant]");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "producers[0]", "is an actor");

    let fine = VALID
        .replace("actor-to-backend", "backend-to-backend")
        .replace("producers: [device]", "producers: [billing]");
    assert!(Catalog::from_sources([("DOOR_OPENED.yaml", fine)]).is_ok());
}

#[test]
fn duplicate_names_in_a_list_are_rejected() {
    let text = VALID.replace("consumers: [kitchen]", "consumers: [kitchen, kitchen]");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "consumers[1]",
        "listed twice",
    );
}

#[test]
fn a_schema_that_does_not_compile_is_reported() {
    let text = VALID.replace("type: integer,", "type: integr,");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "schema",
        "not a valid JSON Schema",
    );
}

#[test]
fn a_schema_must_describe_an_object() {
    let text = VALID.replace("  type: object\n", "  type: array\n");
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "schema", "type: object");
}

#[test]
fn examples_must_match_the_schema() {
    let text = VALID.replace(
        "  - opened_at: \"2026-11-23T18:00:00Z\"\n",
        "  - opened_at: \"2026-11-23T18:00:00Z\"\n  - opened_at: yesterday\n    angle_deg: 200\n",
    );
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(&problems, "DOOR_OPENED.yaml", "examples[1]", "/opened_at");
    assert_problem(&problems, "DOOR_OPENED.yaml", "examples[1]", "/angle_deg");
    assert!(
        !problems
            .iter()
            .any(|p| p.field.as_deref() == Some("examples[0]"))
    );
}

#[test]
fn yaml_that_is_not_a_mapping_is_reported() {
    let problems = problems_of("DOOR_OPENED.yaml", "- just\n- a list\n");
    assert_problem_without_field(&problems, "DOOR_OPENED.yaml", "mapping");
    let problems = problems_of("DOOR_OPENED.yaml", "name: [unclosed\n");
    assert_problem_without_field(&problems, "DOOR_OPENED.yaml", "not valid YAML");
}

fn assert_problem_without_field(problems: &[CatalogProblem], file: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.file == file && p.field.is_none() && p.message.contains(needle)),
        "{problems:#?}"
    );
}

#[test]
fn the_embedded_catalog_is_the_product_catalog() {
    let catalog = Catalog::embedded();
    let names: Vec<&str> = catalog.events().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "COOKING_FINISHED",
            "COOKING_REPLIED",
            "COOKING_REQUESTED",
            "COOKING_STARTED",
            "DEVICE_PAIRING_REPLIED",
            "DEVICE_PAIRING_REQUESTED",
            "DEVICE_TELEMETRY_REPORTED",
            "DEVICE_UNPAIRING_REQUESTED",
            "EVENT_COLLECTION",
            "FIRMWARE_UPDATE_OFFERED",
        ]
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../event-catalog");
    let loaded = Catalog::load(&dir).unwrap();
    assert!(loaded.events().eq(catalog.events()));
}

#[test]
fn lookups_follow_producers_and_consumers() {
    let catalog = Catalog::embedded();
    let names = |events: Vec<&EventDefinition>| -> Vec<String> {
        events.into_iter().map(|e| e.name.clone()).collect()
    };
    assert_eq!(
        names(catalog.events_produced_by_actor("device").collect()),
        [
            "COOKING_FINISHED",
            "COOKING_REQUESTED",
            "DEVICE_TELEMETRY_REPORTED",
            "EVENT_COLLECTION"
        ]
    );
    assert_eq!(
        names(catalog.collectable_events().collect()),
        ["DEVICE_TELEMETRY_REPORTED"]
    );
    assert_eq!(
        catalog.consumers_of(COLLECTION_EVENT).unwrap(),
        [COLLECTION_UNPACKER]
    );
    assert_eq!(
        names(catalog.events_produced_by_actor("mobile").collect()),
        [
            "COOKING_REQUESTED",
            "DEVICE_PAIRING_REQUESTED",
            "DEVICE_UNPAIRING_REQUESTED"
        ]
    );
    assert_eq!(
        names(catalog.events_consumed_by("onboarding").collect()),
        ["DEVICE_PAIRING_REQUESTED", "DEVICE_UNPAIRING_REQUESTED"]
    );
    assert_eq!(
        names(catalog.events_produced_by("onboarding").collect()),
        ["DEVICE_PAIRING_REPLIED"]
    );
    assert_eq!(
        names(catalog.events_produced_by("kitchen").collect()),
        ["COOKING_REPLIED", "COOKING_STARTED"]
    );
    assert_eq!(
        catalog.consumers_of("COOKING_FINISHED").unwrap(),
        ["kitchen", "telemetry"]
    );
    assert_eq!(catalog.consumers_of("NO_SUCH_EVENT"), None);
    assert_eq!(
        names(catalog.events_consumed_by("telemetry").collect()),
        ["COOKING_FINISHED", "DEVICE_TELEMETRY_REPORTED"]
    );
    assert_eq!(
        names(catalog.events_consumed_by(IOT_FORWARDER).collect()),
        [
            "COOKING_REPLIED",
            "COOKING_STARTED",
            "DEVICE_PAIRING_REPLIED",
            "FIRMWARE_UPDATE_OFFERED"
        ]
    );
    assert_eq!(
        catalog.consumers().into_iter().collect::<Vec<_>>(),
        [
            "collection-unpacker",
            "iot-forwarder",
            "kitchen",
            "onboarding",
            "telemetry"
        ]
    );
}

#[test]
fn valid_payloads_pass() {
    let catalog = Catalog::embedded();
    catalog
        .validate_payload(
            "COOKING_REQUESTED",
            &json!({"recipe_id": "pizza", "program": "grill", "temperature_c": 250, "duration_s": 600}),
        )
        .unwrap();
}

#[test]
fn invalid_payloads_name_each_path() {
    let catalog = Catalog::embedded();
    let error = catalog
        .validate_payload(
            "COOKING_REQUESTED",
            &json!({"program": "grill", "temperature_c": 400, "duration_s": "ten minutes", "colour": "red"}),
        )
        .unwrap_err();
    let PayloadError::Invalid { event, violations } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(event, "COOKING_REQUESTED");
    let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    assert!(paths.contains(&"/temperature_c"), "{violations:?}");
    assert!(paths.contains(&"/duration_s"), "{violations:?}");
    // Unexpected properties are reported on the object that holds them.
    assert!(
        violations
            .iter()
            .any(|v| v.path.is_empty() && v.message.contains("colour")),
        "{violations:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with("payload of COOKING_REQUESTED does not match its schema: "),
        "{shown}"
    );
    assert!(
        shown.contains("/temperature_c: 400 is greater than the maximum of 300"),
        "{shown}"
    );
    assert!(shown.contains("payload: "), "{shown}");
}

#[test]
fn replies_are_either_accepted_or_rejected() {
    let catalog = Catalog::embedded();
    let accepted_with_reason = json!({
        "status": "accepted",
        "estimated_start_at": "2026-11-23T18:00:00Z",
        "estimated_finish_at": "2026-11-23T18:30:00Z",
        "reason": "busy"
    });
    let PayloadError::Invalid { violations, .. } = catalog
        .validate_payload("COOKING_REPLIED", &accepted_with_reason)
        .unwrap_err()
    else {
        panic!("expected Invalid");
    };
    assert!(
        violations.iter().any(|v| v.path == "/reason"),
        "{violations:?}"
    );

    let rejected_without_reason = json!({"status": "rejected"});
    assert!(
        catalog
            .validate_payload("COOKING_REPLIED", &rejected_without_reason)
            .is_err()
    );
    let bad_time = json!({
        "status": "accepted",
        "estimated_start_at": "soon",
        "estimated_finish_at": "2026-11-23T18:30:00Z"
    });
    let PayloadError::Invalid { violations, .. } = catalog
        .validate_payload("COOKING_REPLIED", &bad_time)
        .unwrap_err()
    else {
        panic!("expected Invalid");
    };
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].path, "/estimated_start_at");
}

#[test]
fn unknown_events_are_not_invalid_payloads() {
    assert_eq!(
        Catalog::embedded().validate_payload("COOKING_EXPLODED", &json!({})),
        Err(PayloadError::UnknownEvent {
            event: "COOKING_EXPLODED".to_owned()
        })
    );
}

#[test]
fn directions_round_trip_through_their_names() {
    for direction in Direction::ALL {
        assert_eq!(direction.as_str().parse::<Direction>(), Ok(direction));
        assert_eq!(
            serde_json::to_value(direction).unwrap(),
            json!(direction.as_str())
        );
    }
    assert!("actor_to_backend".parse::<Direction>().is_err());
}

#[test]
fn schemas_must_be_self_contained() {
    let text = VALID.replace(
        "opened_at: { type: string, format: date-time }",
        "opened_at: { $ref: \"https://schemas.example.com/time.json\" }",
    );
    let problems = problems_of("DOOR_OPENED.yaml", &text);
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "schema",
        "not a valid JSON Schema",
    );
}

/// A directory of its own under the system temporary directory, removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("postoffice-catalog-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.0.join(file), text).unwrap();
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_reads_only_yaml_files_and_flags_yml() {
    let dir = ScratchDir::new("yml");
    dir.write("DOOR_OPENED.yaml", VALID);
    dir.write("README.md", "# not an event");
    let catalog = Catalog::load(&dir.0).unwrap();
    assert_eq!(catalog.len(), 1);

    dir.write(
        "DOOR_CLOSED.yml",
        &VALID.replace("DOOR_OPENED", "DOOR_CLOSED"),
    );
    let error = Catalog::load(&dir.0).unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    assert_eq!(error.problems[0].file, "DOOR_CLOSED.yml");
    assert!(error.problems[0].message.contains(".yaml"), "{error}");
}

#[test]
fn load_rejects_an_empty_or_missing_directory() {
    let dir = ScratchDir::new("empty");
    let error = Catalog::load(&dir.0).unwrap_err();
    assert!(
        error.problems[0].message.contains("no event files"),
        "{error}"
    );
    let missing = dir.0.join("missing");
    let error = Catalog::load(&missing).unwrap_err();
    assert_eq!(error.problems[0].file, missing.display().to_string());
    assert!(error.problems[0].message.contains("cannot read"), "{error}");
}

#[test]
fn a_check_report_takes_further_problems() {
    let dir = ScratchDir::new("report");
    dir.write("DOOR_OPENED.yaml", VALID);
    let mut report = check(&dir.0);
    assert!(report.is_ok());
    assert_eq!(
        report.lines(),
        ["ok DOOR_OPENED actor-to-backend producers=device consumers=kitchen"]
    );
    report.push(CatalogProblem::new(
        "terraform/examples/main.tf",
        Some("module.door_opened"),
        "consumers differ from the catalog",
    ));
    assert!(!report.is_ok());
    assert!(report.catalog.is_some());
    assert_eq!(
        report.lines(),
        ["error terraform/examples/main.tf: module.door_opened: consumers differ from the catalog"]
    );
}

#[test]
fn product_schemas_pin_each_violation_to_its_field() {
    let catalog = Catalog::embedded();
    let cases = [
        (
            "COOKING_FINISHED",
            json!({"outcome": "completed", "finished_at": "2026-11-23T18:52:10Z", "cooked_s": 60, "error_code": "E21"}),
            "/error_code",
        ),
        (
            "COOKING_FINISHED",
            json!({"outcome": "failed", "finished_at": "2026-11-23T18:52:10Z", "cooked_s": 60, "error_code": "21"}),
            "/error_code",
        ),
        (
            "DEVICE_TELEMETRY_REPORTED",
            json!({"sampled_at": "2026-11-23T18:10:00Z", "cavity_temperature_c": 20, "power_w": 12, "door_open": false, "humidity_percent": 140}),
            "/humidity_percent",
        ),
        (
            "FIRMWARE_UPDATE_OFFERED",
            json!({"version": "4.3.0", "url": "http://firmware.example.com/image.bin", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size_bytes": 1, "mandatory": true}),
            "/url",
        ),
        (
            "FIRMWARE_UPDATE_OFFERED",
            json!({"version": "4.3", "url": "https://firmware.example.com/image.bin", "sha256": "9F86", "size_bytes": 1, "mandatory": true}),
            "/sha256",
        ),
        (
            "COOKING_STARTED",
            json!({"program": "bake", "temperature_c": 180, "duration_s": 600, "started_at": "2026-11-23T18:00:00Z", "estimated_finish_at": "2026-11-23 18:10"}),
            "/estimated_finish_at",
        ),
    ];
    for (event, payload, path) in cases {
        match catalog.validate_payload(event, &payload) {
            Err(PayloadError::Invalid { violations, .. }) => assert!(
                violations.iter().any(|v| v.path == path),
                "{event}: expected a violation at {path}, got {violations:?}"
            ),
            other => panic!("{event}: expected Invalid at {path}, got {other:?}"),
        }
    }
}

/// A catalog where devices may collect DOOR_OPENED.
const COLLECTION: &str = "\
name: EVENT_COLLECTION
description: Several events of one device in one message.
direction: actor-to-backend
producers: [device]
consumers: [collection-unpacker]
schema_version: 1
schema:
  type: object
  required: [events]
  properties:
    events: { type: array, minItems: 1, maxItems: 100 }
examples:
  - events: [{event: DOOR_OPENED, payload: {opened_at: \"2026-11-23T18:00:00Z\"}}]
";

fn collectable(max_wait: &str) -> String {
    VALID.replace(
        "schema_version: 1\n",
        &format!("collection:\n  max_wait_s: {max_wait}\nschema_version: 1\n"),
    )
}

fn problems_of_files(files: &[(&str, &str)]) -> Vec<CatalogProblem> {
    Catalog::from_sources(files.iter().copied())
        .expect_err("the catalog has problems")
        .problems
}

#[test]
fn a_collectable_event_says_how_long_it_may_wait() {
    let door = collectable("30");
    let catalog = Catalog::from_sources([
        ("DOOR_OPENED.yaml", door.as_str()),
        ("EVENT_COLLECTION.yaml", COLLECTION),
    ])
    .unwrap();
    let event = catalog.event("DOOR_OPENED").unwrap();
    assert_eq!(
        event.collection,
        Some(CollectionSettings { max_wait_s: 30 })
    );
    assert_eq!(
        event.collection.unwrap().max_wait(),
        std::time::Duration::from_secs(30)
    );
    assert_eq!(catalog.event(COLLECTION_EVENT).unwrap().collection, None);
    let collectable: Vec<&str> = catalog
        .collectable_events()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(collectable, ["DOOR_OPENED"]);
    // Events without the key are not collected.
    let plain = Catalog::from_sources([("DOOR_OPENED.yaml", VALID)]).unwrap();
    assert_eq!(plain.event("DOOR_OPENED").unwrap().collection, None);
    assert_eq!(plain.collectable_events().count(), 0);
}

#[test]
fn the_maximum_wait_is_whole_seconds_up_to_an_hour() {
    for (max_wait, needle) in [
        ("0", "from 1 to 3600"),
        ("3601", "from 1 to 3600"),
        ("1.5", "from 1 to 3600"),
        ("-3", "from 1 to 3600"),
        ("\"60\"", "from 1 to 3600"),
    ] {
        let door = collectable(max_wait);
        let problems = problems_of_files(&[
            ("DOOR_OPENED.yaml", &door),
            ("EVENT_COLLECTION.yaml", COLLECTION),
        ]);
        assert_problem(
            &problems,
            "DOOR_OPENED.yaml",
            "collection.max_wait_s",
            needle,
        );
    }
    for max_wait in ["1", "3600"] {
        let door = collectable(max_wait);
        assert!(
            Catalog::from_sources([
                ("DOOR_OPENED.yaml", door.as_str()),
                ("EVENT_COLLECTION.yaml", COLLECTION),
            ])
            .is_ok(),
            "{max_wait}"
        );
    }
    let shapes = [
        ("collection: 30\n", "collection", "mapping"),
        (
            "collection: { max_wait_s: 30, max_events: 5 }\n",
            "collection.max_events",
            "unknown key",
        ),
        ("collection: {}\n", "collection.max_wait_s", "is missing"),
    ];
    for (line, field, needle) in shapes {
        let door = VALID.replace("schema_version: 1\n", &format!("{line}schema_version: 1\n"));
        let problems = problems_of_files(&[("DOOR_OPENED.yaml", &door)]);
        assert_problem(&problems, "DOOR_OPENED.yaml", field, needle);
    }
}

#[test]
fn only_events_devices_produce_may_be_collected() {
    let from_the_app = collectable("30").replace("producers: [device]", "producers: [mobile]");
    let from_a_service = collectable("30")
        .replace("actor-to-backend", "backend-to-backend")
        .replace("producers: [device]", "producers: [billing]");
    for door in [from_the_app, from_a_service] {
        let problems = problems_of_files(&[
            ("DOOR_OPENED.yaml", &door),
            ("EVENT_COLLECTION.yaml", COLLECTION),
        ]);
        assert_problem(
            &problems,
            "DOOR_OPENED.yaml",
            "collection",
            "only events devices produce",
        );
    }
    let both = collectable("30").replace("producers: [device]", "producers: [mobile, device]");
    assert!(
        Catalog::from_sources([
            ("DOOR_OPENED.yaml", both.as_str()),
            ("EVENT_COLLECTION.yaml", COLLECTION),
        ])
        .is_ok()
    );
}

#[test]
fn collections_need_the_collection_event_and_something_to_collect() {
    let door = collectable("30");
    let problems = problems_of_files(&[("DOOR_OPENED.yaml", &door)]);
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "collection",
        "which the catalog does not define",
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");

    let problems = problems_of_files(&[
        ("DOOR_OPENED.yaml", VALID),
        ("EVENT_COLLECTION.yaml", COLLECTION),
    ]);
    assert_problem_without_field(&problems, "EVENT_COLLECTION.yaml", "nothing may travel");
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn devices_publish_collections_and_only_the_unpacker_consumes_them() {
    let door = collectable("30");
    let cases = [
        (
            COLLECTION.replace("producers: [device]", "producers: [device, mobile]"),
            "producers",
            "produced by device only",
        ),
        (
            COLLECTION.replace(
                "consumers: [collection-unpacker]",
                "consumers: [collection-unpacker, telemetry]",
            ),
            "consumers",
            "consumed by collection-unpacker only",
        ),
        (
            COLLECTION.replace(
                "schema_version: 1\n",
                "collection: { max_wait_s: 5 }\nschema_version: 1\n",
            ),
            "collection",
            "cannot travel in a collection",
        ),
    ];
    for (collection, field, needle) in cases {
        let problems = problems_of_files(&[
            ("DOOR_OPENED.yaml", &door),
            ("EVENT_COLLECTION.yaml", &collection),
        ]);
        assert_problem(&problems, "EVENT_COLLECTION.yaml", field, needle);
    }

    let consumed = door.replace(
        "consumers: [kitchen]",
        "consumers: [kitchen, collection-unpacker]",
    );
    let problems = problems_of_files(&[
        ("DOOR_OPENED.yaml", &consumed),
        ("EVENT_COLLECTION.yaml", COLLECTION),
    ]);
    assert_problem(
        &problems,
        "DOOR_OPENED.yaml",
        "consumers[1]",
        "consumes only EVENT_COLLECTION",
    );
    let produced = VALID
        .replace("DOOR_OPENED", "DOOR_REPORTED")
        .replace("actor-to-backend", "backend-to-backend")
        .replace("producers: [device]", "producers: [collection-unpacker]");
    let problems = problems_of_files(&[
        ("DOOR_OPENED.yaml", &door),
        ("DOOR_REPORTED.yaml", &produced),
        ("EVENT_COLLECTION.yaml", COLLECTION),
    ]);
    assert_problem(
        &problems,
        "DOOR_REPORTED.yaml",
        "producers[0]",
        "produces no event of its own",
    );
}

#[test]
fn the_check_report_names_how_long_collectable_events_may_wait() {
    let dir = ScratchDir::new("collection-report");
    dir.write("DOOR_OPENED.yaml", &collectable("45"));
    dir.write("EVENT_COLLECTION.yaml", COLLECTION);
    assert_eq!(
        check(&dir.0).lines(),
        [
            "ok DOOR_OPENED actor-to-backend producers=device consumers=kitchen collection_max_wait_s=45",
            "ok EVENT_COLLECTION actor-to-backend producers=device consumers=collection-unpacker",
        ]
    );
}

#[test]
fn the_product_collection_schema_bounds_the_member_count() {
    let catalog = Catalog::embedded();
    let members =
        |n: usize| json!({"events": vec![json!({"event": "DEVICE_TELEMETRY_REPORTED"}); n]});
    assert!(
        catalog
            .validate_payload(COLLECTION_EVENT, &members(1))
            .is_ok()
    );
    assert!(
        catalog
            .validate_payload(COLLECTION_EVENT, &members(MAX_COLLECTION_MEMBERS))
            .is_ok()
    );
    for n in [0, MAX_COLLECTION_MEMBERS + 1] {
        assert!(
            catalog
                .validate_payload(COLLECTION_EVENT, &members(n))
                .is_err(),
            "{n} members"
        );
    }
    // Members are not checked by the schema: the unpacker rejects bad ones one by one.
    assert!(
        catalog
            .validate_payload(COLLECTION_EVENT, &json!({"events": [1, "two", null]}))
            .is_ok()
    );
}
