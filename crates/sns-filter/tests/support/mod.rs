//! Shorthands for the tests: policies in either scope, messages from JSON bodies or attributes.

#![allow(dead_code)]

use postoffice_sns_filter::{FilterPolicy, Message, MessageAttribute, MessageAttributes, Scope};

pub fn body_policy(json: &str) -> FilterPolicy {
    FilterPolicy::parse(json, Scope::MessageBody)
        .unwrap_or_else(|error| panic!("{json} should parse for the body: {error}"))
}

pub fn attribute_policy(json: &str) -> FilterPolicy {
    FilterPolicy::parse(json, Scope::MessageAttributes)
        .unwrap_or_else(|error| panic!("{json} should parse for attributes: {error}"))
}

/// The message whose body is `body` (JSON text), without attributes.
pub fn body_matches(policy: &FilterPolicy, body: &str) -> bool {
    policy.matches(&Message::body(body))
}

/// The message with these attributes and a body that is not JSON.
pub fn attributes_match(policy: &FilterPolicy, attributes: &[(&str, MessageAttribute)]) -> bool {
    let attributes: MessageAttributes = attributes
        .iter()
        .map(|(name, attribute)| ((*name).to_owned(), attribute.clone()))
        .collect();
    policy.matches(&Message::new(
        "message-body-with-transaction-details",
        &attributes,
    ))
}

pub fn string(value: &str) -> MessageAttribute {
    MessageAttribute::string(value)
}

pub fn strings(value: &str) -> MessageAttribute {
    MessageAttribute::string_array(value)
}

pub fn number(value: &str) -> MessageAttribute {
    MessageAttribute::number(value)
}

/// The refusal's message, for a policy that must be refused.
pub fn refusal(json: &str, scope: Scope) -> String {
    match FilterPolicy::parse(json, scope) {
        Ok(_) => panic!("{json} should be refused in scope {scope}"),
        Err(error) => error.to_string(),
    }
}
