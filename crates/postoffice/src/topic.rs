//! The MQTT topic contract: `{EVENT}/{HOUSEHOLD_ID}/{DEVICE_ID}`.
//!
//! This is the one parser and formatter of topics; everything else calls it. The same names are
//! used for IoT rules, SNS topics and IoT policies, so the rules here are deliberately strict:
//! - EVENT is upper snake case (`COOKING_REQUESTED`), at most [`MAX_EVENT_LEN`] characters;
//! - ids are short URL-safe strings (`A-Z a-z 0-9 - _`), at most [`MAX_ID_LEN`] characters;
//! - exactly three levels, none empty, and never an MQTT wildcard (`+`, `#`) or `$`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest accepted event name. Leaves room for `<prefix>-` in the SNS topic name (256 max).
pub const MAX_EVENT_LEN: usize = 64;
/// Longest accepted household or device id (IoT thing names and client ids allow 128).
pub const MAX_ID_LEN: usize = 64;

/// One level of a topic, used to say where a topic is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Event,
    Household,
    Device,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Event => "event",
            Level::Household => "household id",
            Level::Device => "device id",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {topic:?} has {found} levels; expected exactly 3: EVENT/HOUSEHOLD_ID/DEVICE_ID")]
    WrongLevelCount { topic: String, found: usize },
    #[error("{level} is empty")]
    Empty { level: Level },
    #[error("{level} {value:?} is {len} characters long; the maximum is {max}")]
    TooLong {
        level: Level,
        value: String,
        len: usize,
        max: usize,
    },
    #[error("{level} {value:?} contains the MQTT wildcard or reserved character {character:?}")]
    Wildcard {
        level: Level,
        value: String,
        character: char,
    },
    #[error("{level} {value:?} contains {character:?}; {rule}")]
    InvalidCharacter {
        level: Level,
        value: String,
        character: char,
        rule: &'static str,
    },
    #[error("event {value:?} is not upper snake case (like COOKING_REQUESTED): {reason}")]
    NotUpperSnakeCase { value: String, reason: &'static str },
}

impl TopicError {
    /// The level the error is about, when it is about one level.
    pub fn level(&self) -> Option<Level> {
        match self {
            TopicError::WrongLevelCount { .. } => None,
            TopicError::NotUpperSnakeCase { .. } => Some(Level::Event),
            TopicError::Empty { level }
            | TopicError::TooLong { level, .. }
            | TopicError::Wildcard { level, .. }
            | TopicError::InvalidCharacter { level, .. } => Some(*level),
        }
    }
}

const ID_RULE: &str = "ids may only use A-Z, a-z, 0-9, '-' and '_'";
const EVENT_RULE: &str = "event names may only use A-Z, 0-9 and '_'";

fn check_common(level: Level, value: &str, max: usize) -> Result<(), TopicError> {
    if value.is_empty() {
        return Err(TopicError::Empty { level });
    }
    if let Some(character) = value.chars().find(|c| matches!(c, '+' | '#' | '$')) {
        return Err(TopicError::Wildcard {
            level,
            value: value.to_owned(),
            character,
        });
    }
    let len = value.chars().count();
    if len > max {
        return Err(TopicError::TooLong {
            level,
            value: value.to_owned(),
            len,
            max,
        });
    }
    Ok(())
}

/// Checks an event name: upper snake case, bounded length.
pub fn validate_event_name(value: &str) -> Result<(), TopicError> {
    check_common(Level::Event, value, MAX_EVENT_LEN)?;
    if let Some(character) = value
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(TopicError::InvalidCharacter {
            level: Level::Event,
            value: value.to_owned(),
            character,
            rule: EVENT_RULE,
        });
    }
    let reason = if !value.starts_with(|c: char| c.is_ascii_uppercase()) {
        Some("it must start with a letter")
    } else if value.ends_with('_') {
        Some("it must not end with '_'")
    } else if value.contains("__") {
        Some("words are separated by a single '_'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(TopicError::NotUpperSnakeCase {
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn validate_id(level: Level, value: &str) -> Result<(), TopicError> {
    check_common(level, value, MAX_ID_LEN)?;
    if let Some(character) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(TopicError::InvalidCharacter {
            level,
            value: value.to_owned(),
            character,
            rule: ID_RULE,
        });
    }
    Ok(())
}

/// Checks a household id.
pub fn validate_household_id(value: &str) -> Result<(), TopicError> {
    validate_id(Level::Household, value)
}

/// Checks a device id.
pub fn validate_device_id(value: &str) -> Result<(), TopicError> {
    validate_id(Level::Device, value)
}

/// A validated `{EVENT}/{HOUSEHOLD_ID}/{DEVICE_ID}` topic. Only constructible through validation;
/// serialises as its string form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic {
    event: String,
    household_id: String,
    device_id: String,
}

impl Topic {
    /// Builds a topic from its three levels, validating each.
    pub fn new(
        event: impl Into<String>,
        household_id: impl Into<String>,
        device_id: impl Into<String>,
    ) -> Result<Self, TopicError> {
        let (event, household_id, device_id) =
            (event.into(), household_id.into(), device_id.into());
        validate_event_name(&event)?;
        validate_household_id(&household_id)?;
        validate_device_id(&device_id)?;
        Ok(Self {
            event,
            household_id,
            device_id,
        })
    }

    /// Parses `EVENT/HOUSEHOLD_ID/DEVICE_ID`.
    pub fn parse(topic: &str) -> Result<Self, TopicError> {
        // No list of levels: a topic of a million `/` must cost no more than one of three levels.
        let mut levels = topic.split('/');
        match (levels.next(), levels.next(), levels.next(), levels.next()) {
            // Checked before copied: a refused level costs only its copy in the error.
            (Some(event), Some(household), Some(device), None) => {
                validate_event_name(event)?;
                validate_household_id(household)?;
                validate_device_id(device)?;
                Ok(Self {
                    event: event.to_owned(),
                    household_id: household.to_owned(),
                    device_id: device.to_owned(),
                })
            }
            _ => Err(TopicError::WrongLevelCount {
                topic: topic.to_owned(),
                found: topic.split('/').count(),
            }),
        }
    }

    pub fn event(&self) -> &str {
        &self.event
    }

    pub fn household_id(&self) -> &str {
        &self.household_id
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.event, self.household_id, self.device_id)
    }
}

impl TryFrom<String> for Topic {
    type Error = TopicError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> Self {
        topic.to_string()
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_a_valid_topic() {
        let topic = Topic::parse("COOKING_REQUESTED/h-42/oven_7").unwrap();
        assert_eq!(topic.event(), "COOKING_REQUESTED");
        assert_eq!(topic.household_id(), "h-42");
        assert_eq!(topic.device_id(), "oven_7");
        assert_eq!(topic.to_string(), "COOKING_REQUESTED/h-42/oven_7");
    }

    #[test]
    fn names_the_wrong_level() {
        let cases = [
            ("cooking_requested/h/d", Level::Event),
            ("COOKING__REQUESTED/h/d", Level::Event),
            ("_COOKING/h/d", Level::Event),
            ("COOKING_/h/d", Level::Event),
            ("COOKING/h.1/d", Level::Household),
            ("COOKING//d", Level::Household),
            ("COOKING/h/", Level::Device),
            ("COOKING/h/$aws", Level::Device),
            ("COOKING/+/d", Level::Household),
            ("#/h/d", Level::Event),
        ];
        for (input, level) in cases {
            let err = Topic::parse(input).unwrap_err();
            assert_eq!(err.level(), Some(level), "{input}: {err}");
        }
    }

    #[test]
    fn rejects_wrong_level_counts() {
        for input in [
            "",
            "COOKING",
            "COOKING/h",
            "COOKING/h/d/extra",
            "/COOKING/h/d",
        ] {
            assert!(
                matches!(Topic::parse(input), Err(TopicError::WrongLevelCount { .. })),
                "{input}"
            );
        }
    }

    #[test]
    fn bounds_lengths() {
        let long_id = "a".repeat(MAX_ID_LEN + 1);
        let err = Topic::parse(&format!("COOKING/{long_id}/d")).unwrap_err();
        assert!(matches!(
            err,
            TopicError::TooLong {
                level: Level::Household,
                ..
            }
        ));
        assert!(Topic::parse(&format!("COOKING/{}/d", "a".repeat(MAX_ID_LEN))).is_ok());
        let long_event = "A".repeat(MAX_EVENT_LEN + 1);
        assert!(matches!(
            Topic::parse(&format!("{long_event}/h/d")),
            Err(TopicError::TooLong {
                level: Level::Event,
                ..
            })
        ));
    }

    #[test]
    fn errors_read_well() {
        let err = Topic::parse("COOKING/h!/d").unwrap_err();
        assert_eq!(
            err.to_string(),
            "household id \"h!\" contains '!'; ids may only use A-Z, a-z, 0-9, '-' and '_'"
        );
    }
}
