//! Why SNS refuses a filter policy: SNS's own sentences (`InvalidParameter`), so the local post
//! office answers `SetSubscriptionAttributes` and `Subscribe` as AWS does.
//!
//! SNS compiles filter policies with AWS's event-ruler, whose sentences its errors carry
//! ("Unrecognized match type wrong-operator", "Bottom must be less than top", ...). Where AWS
//! adds a JSON position (`at [Source: ...; line: 1, column: 10]`), these errors name the key
//! instead. The complexity error also shows its computation.

use crate::MAX_POLICY_BYTES;

/// A filter policy or filter policy scope that SNS refuses.
///
/// `Display` is the message of SNS's `InvalidParameter` error to `SetSubscriptionAttributes`;
/// [`FilterPolicyError::subscribe_message`] gives the one `Subscribe` answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterPolicyError {
    /// Not JSON (or not UTF-8 JSON SNS could read).
    #[error("Invalid parameter: FilterPolicy: failed to parse JSON. {detail}")]
    Json { detail: String },
    /// More than 256 KB of policy text.
    #[error(
        "Invalid parameter: FilterPolicy: Filter policy is larger than 256 KB: {bytes} bytes, at most {MAX_POLICY_BYTES}"
    )]
    TooLarge { bytes: usize },
    /// A key, value or match expression that SNS does not accept. `key` is the dotted path of the
    /// policy key whose value is wrong (`None`: the policy itself).
    #[error("Invalid parameter: FilterPolicy: {reason}{}", at_key(key.as_deref()))]
    Invalid { key: Option<String>, reason: String },
    /// An object inside a policy whose scope is `MessageAttributes`.
    #[error(
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy (at key \"{key}\")"
    )]
    NestedAttributePolicy { key: String },
    /// More than five keys: leaf keys, counted once each wherever `$or` repeats them.
    #[error(
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys ({} keys: {})",
        keys.len(),
        keys.join(", ")
    )]
    TooManyKeys { keys: Vec<String> },
    /// More than 150 combinations of values.
    #[error(
        "Invalid parameter: FilterPolicy: Filter policy is too complex ({computation} = {combinations} combinations, at most 150)"
    )]
    TooComplex {
        combinations: u64,
        computation: String,
    },
    /// More than 100 points of wildcard complexity.
    #[error(
        "Invalid parameter: FilterPolicy: Filter policy is too complex (wildcard complexity {points}, at most 100: {computation})"
    )]
    WildcardTooComplex { points: u64, computation: String },
    /// A `FilterPolicyScope` other than `MessageAttributes` or `MessageBody`.
    #[error(
        "Invalid parameter: FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
    )]
    InvalidScope { value: String },
}

fn at_key(key: Option<&str>) -> String {
    key.map(|key| format!(" (at key \"{key}\")"))
        .unwrap_or_default()
}

impl FilterPolicyError {
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: (!key.is_empty()).then(|| key.to_owned()),
            reason: reason.into(),
        }
    }

    /// The message SNS answers when the policy comes with `Subscribe` (its `Attributes`), where
    /// AWS puts `Attributes Reason: ` after `Invalid parameter: `.
    pub fn subscribe_message(&self) -> String {
        self.to_string().replacen(
            "Invalid parameter: ",
            "Invalid parameter: Attributes Reason: ",
            1,
        )
    }
}
