//! The platform's own filter policy: telemetry's COOKING_FINISHED subscription in
//! terraform/examples/complete/consumers.tf, on the message body (docs/contracts.md, "SNS
//! message"), must behave locally as in AWS.

mod support;

use postoffice_sns_filter::{FilterPolicy, Message, MessageAttributes, Scope};

/// `jsonencode({ payload = { outcome = [{ "anything-but" = "completed" }] } })`.
const TELEMETRY_POLICY: &str = include_str!("fixtures/telemetry_cooking_finished_policy.json");
const CONSUMERS_TF: &str = include_str!("../../../terraform/examples/complete/consumers.tf");

fn policy() -> FilterPolicy {
    FilterPolicy::parse(TELEMETRY_POLICY, Scope::MessageBody).expect("the platform's policy parses")
}

fn envelope(payload: serde_json::Value) -> String {
    serde_json::json!({
        "event": "COOKING_FINISHED",
        "event_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "household_id": "h-1",
        "device_id": "oven-1",
        "occurred_at": "2026-11-23T18:21:44.000Z",
        "received_at": "2026-11-23T18:21:44.012Z",
        "source": "oven-1",
        "correlation_id": "6a0c1d52-8a4e-4f0e-9a57-1f6f0f3c2b11",
        "schema_version": 1,
        "payload": payload
    })
    .to_string()
}

#[test]
fn the_fixture_is_the_policy_terraform_applies() {
    assert!(
        CONSUMERS_TF.contains(
            r#"COOKING_FINISHED = jsonencode({ payload = { outcome = [{ "anything-but" = "completed" }] } })"#
        ),
        "telemetry's filter policy changed in consumers.tf: update {TELEMETRY_POLICY}"
    );
}

#[test]
fn failed_and_cancelled_cooks_reach_telemetry() {
    let failed = envelope(serde_json::json!({
        "outcome": "failed", "finished_at": "2026-11-23T18:21:44Z", "cooked_s": 1184, "error_code": "E21"
    }));
    let cancelled = envelope(serde_json::json!({
        "outcome": "cancelled", "finished_at": "2026-11-23T18:21:44Z", "cooked_s": 60
    }));
    assert!(policy().matches(&Message::body(&failed)));
    assert!(policy().matches(&Message::body(&cancelled)));
}

#[test]
fn completed_cooks_do_not() {
    let completed = envelope(serde_json::json!({
        "outcome": "completed", "finished_at": "2026-11-23T18:52:10Z", "cooked_s": 2700,
        "final_temperature_c": 229.5, "energy_wh": 1630
    }));
    assert!(!policy().matches(&Message::body(&completed)));
}

#[test]
fn an_envelope_without_an_outcome_does_not() {
    // anything-but needs a value.
    let no_outcome = envelope(serde_json::json!({"cooked_s": 10}));
    assert!(!policy().matches(&Message::body(&no_outcome)));
}

#[test]
fn handler_published_attributes_do_not_count_in_the_body_scope() {
    // Handler publishes carry String attributes; the body scope ignores them.
    let attributes = MessageAttributes::from([(
        "event".to_owned(),
        postoffice_sns_filter::MessageAttribute::string("COOKING_FINISHED"),
    )]);
    let completed = envelope(serde_json::json!({"outcome": "completed"}));
    let failed = envelope(serde_json::json!({"outcome": "failed"}));
    assert!(!policy().matches(&Message::new(&completed, &attributes)));
    assert!(policy().matches(&Message::new(&failed, &attributes)));
}

#[test]
fn the_same_policy_is_refused_for_attributes() {
    // Had the subscription kept the default scope, SNS would refuse the nested policy.
    assert!(FilterPolicy::parse(TELEMETRY_POLICY, Scope::MessageAttributes).is_err());
}
