//! The FROM clause's MQTT topic filter, matched the way IoT Core matches it:
//! <https://docs.aws.amazon.com/iot/latest/developerguide/topics.html#topicfilters>.

/// A topic filter: levels separated by `/`, `+` for one whole level, `#` for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFilter {
    text: String,
}

impl TopicFilter {
    /// Checks the wildcard rules: `#` must be the last level and alone in it, `+` alone in its
    /// level; the filter is not empty.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a topic filter cannot be empty".to_owned());
        }
        let levels: Vec<&str> = text.split('/').collect();
        for (index, level) in levels.iter().enumerate() {
            if level.contains('#') && (*level != "#" || index + 1 != levels.len()) {
                return Err("'#' must be the whole last level".to_owned());
            }
            if level.contains('+') && *level != "+" {
                return Err("'+' must be a whole level".to_owned());
            }
        }
        Ok(Self {
            text: text.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a message published on `topic` triggers the rule. IoT's `#` matches "all strings
    /// at and below its level": `sensor/#` matches `sensor/` and `sensor/a/b` but not `sensor`.
    /// As in MQTT, a filter starting with a wildcard does not match topics starting with `$`.
    pub fn matches(&self, topic: &str) -> bool {
        if topic.starts_with('$') && self.text.starts_with(['+', '#']) {
            return false;
        }
        let mut filter_levels = self.text.split('/');
        let mut topic_levels = topic.split('/');
        loop {
            match (filter_levels.next(), topic_levels.next()) {
                (Some("#"), Some(_)) => return true,
                (Some("+"), Some(_)) => {}
                (Some(expected), Some(level)) if expected == level => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

impl std::fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(filter: &str, topic: &str) -> bool {
        TopicFilter::parse(filter).unwrap().matches(topic)
    }

    #[test]
    fn the_references_wildcard_examples() {
        // iot-sql-from.html: 'topic/#' and 'topic/+'.
        assert!(matches("topic/#", "topic/subtopic"));
        assert!(matches("topic/#", "topic/subtopic-2"));
        assert!(matches("topic/#", "topic/subtopic-3/details"));
        assert!(!matches("topic/#", "topic-2/subtopic-x"));
        assert!(matches("topic/+", "topic/subtopic"));
        assert!(!matches("topic/+", "topic/subtopic-3/details"));
        assert!(!matches("topic/+", "topic-2/subtopic-x"));
        // topics.html: sensor/# receives sensor/ and below, but not sensor.
        assert!(matches("sensor/#", "sensor/"));
        assert!(matches("sensor/#", "sensor/temperature/room1"));
        assert!(!matches("sensor/#", "sensor"));
        assert!(matches("sensor/+/room1", "sensor/humidity/room1"));
        assert!(!matches("sensor/+/room1", "sensor/humidity/room2"));
    }

    #[test]
    fn platform_filters_match_exactly_three_levels() {
        assert!(matches(
            "COOKING_REQUESTED/+/+",
            "COOKING_REQUESTED/h-1/oven-1"
        ));
        assert!(!matches("COOKING_REQUESTED/+/+", "COOKING_REQUESTED/h-1"));
        assert!(!matches(
            "COOKING_REQUESTED/+/+",
            "COOKING_REQUESTED/h-1/oven-1/x"
        ));
        assert!(!matches(
            "COOKING_REQUESTED/+/+",
            "cooking_requested/h-1/oven-1"
        ));
        assert!(!matches("#", "$aws/things/x/shadow/update"));
        assert!(matches(
            "$aws/things/+/shadow/update",
            "$aws/things/x/shadow/update"
        ));
    }

    #[test]
    fn refuses_misplaced_wildcards() {
        for bad in ["", "a/#/b", "a#", "a/b+", "+a/b"] {
            assert!(TopicFilter::parse(bad).is_err(), "{bad:?}");
        }
    }
}
