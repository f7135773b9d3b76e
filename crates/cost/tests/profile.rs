//! Bad profiles are rejected with the file and the field that is wrong.

mod fixtures;

use fixtures::{PROFILE, routes};
use postoffice_cost::Profile;

fn rejected(from: &str, to: &str) -> String {
    let text = PROFILE.replacen(from, to, 1);
    assert_ne!(text, PROFILE, "the edit changed nothing");
    Profile::from_yaml(&text, "household.yaml", &routes())
        .expect_err("the edited profile must be rejected")
        .to_string()
}

#[test]
fn an_event_missing_from_the_catalog_is_named() {
    let message = rejected("event: COOKING_FINISHED", "event: COOKING_FINISHD");
    assert!(
        message.starts_with("household.yaml: events[1].event"),
        "{message}"
    );
    assert!(
        message.contains("COOKING_FINISHD is not in the event catalog"),
        "{message}"
    );
    assert!(message.contains("COOKING_FINISHED"), "{message}");
}

#[test]
fn an_actor_event_needs_its_actor() {
    let message = rejected("COOKING_FINISHED, actor: device,", "COOKING_FINISHED,");
    assert!(message.contains("events[1].actor is missing"), "{message}");
}

#[test]
fn a_backend_to_backend_event_has_no_actor() {
    let message = rejected("RECIPE_AUDITED,", "RECIPE_AUDITED, actor: device,");
    assert!(message.contains("events[3].actor"), "{message}");
    assert!(message.contains("backend-to-backend"), "{message}");
}

#[test]
fn an_unknown_actor_kind_is_named() {
    let message = rejected(
        "COOKING_REPLIED, actor: mobile",
        "COOKING_REPLIED, actor: watch",
    );
    assert!(
        message.contains("events[2].actor: watch is not one of"),
        "{message}"
    );
}

#[test]
fn a_day_has_24_hours() {
    let message = rejected("hours_per_day: 24,", "hours_per_day: 25,");
    assert!(
        message.contains("actors.device.connection.always_connected.hours_per_day is 25"),
        "{message}"
    );
}

#[test]
fn lambda_memory_must_be_allowed_by_lambda() {
    let message = rejected("memory_mb: 256", "memory_mb: 64");
    assert!(
        message.contains("lambda.handler.memory_mb is 64"),
        "{message}"
    );
}

#[test]
fn only_events_the_catalog_lets_wait_are_collectable() {
    let message = rejected(
        "COOKING_FINISHED, actor: device, per_day: 12 }",
        "COOKING_FINISHED, actor: device, per_day: 12, collectable: true }",
    );
    assert!(
        message.contains("events[1].collectable: COOKING_FINISHED has no collection.max_wait_s"),
        "{message}"
    );
}

#[test]
fn an_idle_connection_is_given_or_derived_not_a_mix() {
    let message = rejected(
        "disconnect_when_idle: { hours_per_day: 0.5, sessions_per_day: 12 }",
        "disconnect_when_idle: { hours_per_day: 0.5, poll_interval_s: 3600 }",
    );
    assert!(
        message.contains("actors.device.connection.disconnect_when_idle needs either"),
        "{message}"
    );
    let message = rejected(
        "disconnect_when_idle: { hours_per_day: 0.5, sessions_per_day: 12 }",
        "disconnect_when_idle: { idle_after_s: 0, poll_interval_s: 3600 }",
    );
    assert!(
        message.contains("disconnect_when_idle.idle_after_s is 0 but must be greater than 0"),
        "{message}"
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let message = rejected("retention_days: 365", "retention_dayz: 365");
    assert!(message.starts_with("household.yaml: "), "{message}");
    assert!(message.contains("retention_dayz"), "{message}");
}

#[test]
fn only_backend_to_actor_events_are_received_by_other_actors() {
    let message = rejected(
        "COOKING_FINISHED, actor: device,",
        "COOKING_FINISHED, actor: device, also_received_by: { mobile: 1 },",
    );
    assert!(
        message.contains("events[1].also_received_by: COOKING_FINISHED is not backend-to-actor"),
        "{message}"
    );
}

#[test]
fn other_receivers_are_other_known_actors_with_a_share() {
    let edit = |receivers: &str| {
        rejected(
            "COOKING_REPLIED, actor: mobile,",
            &format!("COOKING_REPLIED, actor: mobile, also_received_by: {{ {receivers} }},"),
        )
    };
    let own = edit("mobile: 1");
    assert!(
        own.contains("events[2].also_received_by.mobile: mobile is the event's own actor"),
        "{own}"
    );
    let unknown = edit("watch: 1");
    assert!(
        unknown
            .contains("events[2].also_received_by.watch: watch is not one of the profile's actors"),
        "{unknown}"
    );
    let too_much = edit("device: 1.5");
    assert!(
        too_much
            .contains("events[2].also_received_by.device is 1.5 but must be a share from 0 to 1"),
        "{too_much}"
    );
}
