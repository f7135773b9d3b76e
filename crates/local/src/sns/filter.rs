//! Subscription filter policies, as SNS applies them (`postoffice-sns-filter`): compiled once
//! per plan, matched against each message's body or attributes.

use postoffice::sns::SnsMessage;
use postoffice_sns_filter::{
    DataType, FilterPolicy, FilterPolicyError, Message, MessageAttribute, MessageAttributes, Scope,
};

/// Compiles an applied `FilterPolicy` with its `FilterPolicyScope`.
pub fn compile(policy: &str, scope: &str) -> Result<FilterPolicy, FilterPolicyError> {
    FilterPolicy::parse(policy, Scope::parse(scope)?)
}

/// Whether `message` passes `policy`.
pub fn matches(policy: &FilterPolicy, message: &SnsMessage) -> bool {
    let attributes: MessageAttributes = message
        .message_attributes
        .iter()
        .map(|(name, attribute)| {
            let data_type = match attribute.data_type.split('.').next() {
                Some("Number") => DataType::Number,
                Some("Binary") => DataType::Binary,
                _ if attribute.data_type == "String.Array" => DataType::StringArray,
                _ => DataType::String,
            };
            (
                name.clone(),
                MessageAttribute {
                    data_type,
                    value: attribute.value.clone(),
                },
            )
        })
        .collect();
    policy.matches(&Message::new(&message.message, &attributes))
}

/// What SNS answers a `Subscribe` or `SetSubscriptionAttributes` with an invalid policy.
pub fn refusal(policy: &str, scope: Option<&str>, subscribe: bool) -> Option<String> {
    if policy.trim().is_empty() {
        return None;
    }
    match compile(policy, scope.unwrap_or("MessageAttributes")) {
        Ok(_) => None,
        Err(error) if subscribe => Some(error.subscribe_message()),
        Err(error) => Some(error.to_string()),
    }
}
