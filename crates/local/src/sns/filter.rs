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

/// Whether `policy` stands for none: empty, or `{}`, which is how a policy is removed
/// (https://docs.aws.amazon.com/sns/latest/dg/message-filtering-policy-remove.html).
pub fn removes_the_policy(policy: &str) -> bool {
    policy.trim().is_empty()
        || serde_json::from_str::<serde_json::Value>(policy)
            .is_ok_and(|value| value.as_object().is_some_and(|object| object.is_empty()))
}

/// What SNS answers a `Subscribe` or `SetSubscriptionAttributes` with an invalid policy.
pub fn refusal(policy: &str, scope: Option<&str>, subscribe: bool) -> Option<String> {
    if removes_the_policy(policy) {
        return None;
    }
    match compile(policy, scope.unwrap_or("MessageAttributes")) {
        Ok(_) => None,
        Err(error) if subscribe => Some(error.subscribe_message()),
        Err(error) => Some(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_removes_the_policy_and_is_accepted() {
        assert!(removes_the_policy("{}"));
        assert!(removes_the_policy(" { } "));
        assert!(!removes_the_policy(r#"{"a":["b"]}"#));
        assert_eq!(refusal("{}", None, false), None);
        assert!(refusal(r#"{"a":{"b":["c"]}}"#, None, false).is_some());
        assert_eq!(
            refusal(r#"{"a":{"b":["c"]}}"#, Some("MessageBody"), false),
            None
        );
    }
}
