//! Payload validation against an event's JSON Schema.

use std::fmt;

use serde::Serialize;

/// One way a payload breaks its event's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// JSON pointer into the payload (`/temperature_c`); empty for the payload itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "payload: {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("unknown event {event:?}: it is not in the event catalog")]
    UnknownEvent { event: String },
    #[error("payload of {event} does not match its schema: {}", list(violations))]
    Invalid {
        event: String,
        violations: Vec<SchemaViolation>,
    },
}

fn list(violations: &[SchemaViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn violations(
    validator: &jsonschema::Validator,
    payload: &serde_json::Value,
) -> Vec<SchemaViolation> {
    validator
        .iter_errors(payload)
        .map(|error| SchemaViolation {
            path: error.instance_path().as_str().to_owned(),
            message: error.to_string(),
        })
        .collect()
}
