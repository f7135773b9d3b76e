//! The IoT rule SQL in terraform/modules/event builds exactly the envelope that
//! `Envelope::from_device_message` builds: one output column per envelope field, no others.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use chrono::Utc;
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::topic::Topic;
use uuid::Uuid;

/// The output columns of the rule's SELECT list, from the strings of `rule_sql = join(" ", [...])`.
fn rule_columns() -> Vec<String> {
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../terraform/modules/event/main.tf");
    let text = fs::read_to_string(main).unwrap();
    let start = text
        .find("rule_sql = join(\" \", [")
        .expect("rule_sql in the event module");
    let end = start + text[start..].find("])").unwrap();
    let items: Vec<&str> = text[start..end]
        .lines()
        .skip(1)
        .map(|line| line.trim().trim_end_matches(',').trim_matches('"'))
        .filter(|item| !item.is_empty())
        .collect();
    assert_eq!(items.first(), Some(&"SELECT"));
    assert!(items.last().unwrap().starts_with("FROM '"), "{items:?}");
    items[1..items.len() - 1]
        .iter()
        .map(|item| {
            let item = item.trim_end_matches(',');
            let column = item.rsplit(" AS ").next().unwrap();
            assert!(
                column.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "the rule selects {item:?}: every column must be a plain name or `expr AS name`"
            );
            column.to_owned()
        })
        .collect()
}

#[test]
fn the_rule_selects_every_envelope_field_and_nothing_else() {
    let topic = Topic::parse("COOKING_REQUESTED/h-1/oven-1").unwrap();
    let message = DeviceMessage {
        event_id: None,
        occurred_at: None,
        correlation_id: None,
        causation_id: Some(Uuid::new_v4()),
        schema_version: None,
        payload: serde_json::json!({}),
    };
    let envelope = Envelope::from_device_message(&topic, "oven-1", Utc::now(), message);
    let fields: BTreeSet<String> = serde_json::to_value(envelope)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();

    let columns = rule_columns();
    let unique: BTreeSet<String> = columns.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        columns.len(),
        "a column is selected twice: {columns:?}"
    );
    assert_eq!(unique, fields);
}
