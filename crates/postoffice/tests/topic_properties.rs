//! Properties of the topic contract over generated topics.

use postoffice::topic::{Level, MAX_ID_LEN, Topic, TopicError};
use proptest::prelude::*;

fn event_name() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{0,9}(_[A-Z0-9]{1,10}){0,4}"
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

fn topic_levels() -> impl Strategy<Value = (String, String, String)> {
    (event_name(), id(), id())
}

fn reserved_character() -> impl Strategy<Value = char> {
    prop::sample::select(vec!['+', '#', '$'])
}

proptest! {
    #[test]
    fn format_then_parse_gives_the_same_topic((event, household, device) in topic_levels()) {
        let topic = Topic::new(&event, &household, &device).unwrap();
        let text = topic.to_string();
        prop_assert_eq!(&text, &format!("{event}/{household}/{device}"));
        let parsed = Topic::parse(&text).unwrap();
        prop_assert_eq!(parsed.event(), event.as_str());
        prop_assert_eq!(parsed.household_id(), household.as_str());
        prop_assert_eq!(parsed.device_id(), device.as_str());
        let json = serde_json::to_string(&parsed).unwrap();
        prop_assert_eq!(serde_json::from_str::<Topic>(&json).unwrap(), topic);
    }

    #[test]
    fn a_wildcard_anywhere_in_a_valid_topic_is_rejected_at_its_level(
        (event, household, device) in topic_levels(),
        character in reserved_character(),
        position in any::<prop::sample::Index>(),
    ) {
        let text = format!("{event}/{household}/{device}");
        let at = position.index(text.len() + 1);
        let mut broken = text.clone();
        broken.insert(at, character);
        let expected_level = if at <= event.len() {
            Level::Event
        } else if at <= event.len() + 1 + household.len() {
            Level::Household
        } else {
            Level::Device
        };
        match Topic::parse(&broken) {
            Err(TopicError::Wildcard { level, character: found, .. }) => {
                prop_assert_eq!(level, expected_level, "{}", broken);
                prop_assert_eq!(found, character);
            }
            other => prop_assert!(false, "{broken} parsed as {other:?}"),
        }
    }

    #[test]
    fn nothing_containing_a_wildcard_ever_parses(
        prefix in ".{0,40}",
        character in reserved_character(),
        suffix in ".{0,40}",
    ) {
        let text = format!("{prefix}{character}{suffix}");
        prop_assert!(Topic::parse(&text).is_err(), "{} parsed", text);
    }

    #[test]
    fn arbitrary_strings_never_panic_and_parse_only_to_themselves(text in any::<String>()) {
        if let Ok(topic) = Topic::parse(&text) {
            prop_assert_eq!(topic.to_string(), text);
        }
    }

    #[test]
    fn topic_like_strings_parse_only_to_themselves(text in "[A-Za-z0-9_/+#$. -]{0,80}") {
        match Topic::parse(&text) {
            Ok(topic) => prop_assert_eq!(topic.to_string(), text),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn an_invalid_id_is_blamed_on_its_level(
        (event, household, device) in topic_levels(),
        bad in "[A-Za-z0-9]{0,5}[.:@ !*%]{1,3}[A-Za-z0-9]{0,5}",
        device_is_bad in any::<bool>(),
    ) {
        let (text, level) = if device_is_bad {
            (format!("{event}/{household}/{bad}"), Level::Device)
        } else {
            (format!("{event}/{bad}/{device}"), Level::Household)
        };
        let error = Topic::parse(&text).unwrap_err();
        prop_assert_eq!(error.level(), Some(level), "{}: {}", text, error);
    }

    #[test]
    fn ids_longer_than_the_maximum_are_rejected(
        (event, household, _) in topic_levels(),
        long in "[a-z0-9]{65,100}",
    ) {
        let error = Topic::parse(&format!("{event}/{household}/{long}")).unwrap_err();
        prop_assert!(
            matches!(error, TopicError::TooLong { level: Level::Device, max: MAX_ID_LEN, .. }),
            "{}", error
        );
    }
}
