//! `--filter event=X`: which dead-letter messages a redrive touches.

use std::fmt;
use std::str::FromStr;

use crate::message::DeadLetter;

/// A field of a dead-letter message's identity and the value it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    field: FilterField,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterField {
    Event,
    Household,
    Device,
}

impl Filter {
    pub fn matches(&self, dead_letter: &DeadLetter) -> bool {
        let actual = match self.field {
            FilterField::Event => dead_letter.event(),
            FilterField::Household => dead_letter.household_id(),
            FilterField::Device => dead_letter.device_id(),
        };
        actual == self.value
    }
}

/// True when every filter matches (no filters: everything matches).
pub fn matches_all(filters: &[Filter], dead_letter: &DeadLetter) -> bool {
    filters.iter().all(|filter| filter.matches(dead_letter))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("filter {0:?} is not FIELD=VALUE (e.g. event=COOKING_REQUESTED)")]
    Shape(String),
    #[error("filter field {0:?} is unknown: use event, household_id or device_id")]
    UnknownField(String),
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((field, value)) = text.split_once('=') else {
            return Err(FilterError::Shape(text.to_owned()));
        };
        let (field, value) = (field.trim(), value.trim());
        if value.is_empty() {
            return Err(FilterError::Shape(text.to_owned()));
        }
        let field = match field {
            "event" => FilterField::Event,
            "household_id" | "household" => FilterField::Household,
            "device_id" | "device" => FilterField::Device,
            other => return Err(FilterError::UnknownField(other.to_owned())),
        };
        Ok(Self {
            field,
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = match self.field {
            FilterField::Event => "event",
            FilterField::Household => "household_id",
            FilterField::Device => "device_id",
        };
        write!(f, "{field}={}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DeadLetter, ReceivedMessage};
    use base64::Engine;
    use serde_json::json;

    fn rule_error(topic: &str) -> DeadLetter {
        let payload = base64::engine::general_purpose::STANDARD.encode(r#"{"payload":{}}"#);
        let body = json!({"ruleName": "r", "topic": topic, "base64OriginalPayload": payload});
        DeadLetter::decode(&ReceivedMessage {
            body: body.to_string(),
            ..ReceivedMessage::default()
        })
        .unwrap()
    }

    #[test]
    fn matches_on_event_household_and_device() {
        let message = rule_error("COOKING_REQUESTED/h-1/oven-1");
        let filter = |text: &str| text.parse::<Filter>().unwrap();
        assert!(filter("event=COOKING_REQUESTED").matches(&message));
        assert!(!filter("event=COOKING_FINISHED").matches(&message));
        assert!(filter("household_id=h-1").matches(&message));
        assert!(filter("device=oven-1").matches(&message));
        assert!(matches_all(&[], &message));
        assert!(!matches_all(
            &[
                filter("event=COOKING_REQUESTED"),
                filter("device_id=oven-2")
            ],
            &message
        ));
        assert_eq!(filter("household=h-1").to_string(), "household_id=h-1");
    }

    #[test]
    fn rejects_malformed_filters() {
        assert_eq!(
            "COOKING_REQUESTED".parse::<Filter>(),
            Err(FilterError::Shape("COOKING_REQUESTED".into()))
        );
        assert_eq!(
            "event=".parse::<Filter>(),
            Err(FilterError::Shape("event=".into()))
        );
        let error = "colour=red".parse::<Filter>().unwrap_err().to_string();
        assert!(error.contains("\"colour\"") && error.contains("event, household_id"));
    }
}
