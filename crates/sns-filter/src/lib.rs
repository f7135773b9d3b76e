//! Amazon SNS subscription filter policies, parsed and evaluated as SNS does: the local post
//! office delivers a message to a subscription only when the subscription's `FilterPolicy`, read
//! in its `FilterPolicyScope`, matches it
//! (<https://docs.aws.amazon.com/sns/latest/dg/message-filtering.html>).
//!
//! ```
//! use postoffice_sns_filter::{FilterPolicy, Message, Scope};
//!
//! // terraform/examples/complete/consumers.tf: telemetry's COOKING_FINISHED subscription.
//! let policy = FilterPolicy::parse(
//!     r#"{"payload": {"outcome": [{"anything-but": "completed"}]}}"#,
//!     Scope::MessageBody,
//! )?;
//! assert!(policy.matches(&Message::body(r#"{"event": "COOKING_FINISHED", "payload": {"outcome": "failed"}}"#)));
//! assert!(!policy.matches(&Message::body(r#"{"event": "COOKING_FINISHED", "payload": {"outcome": "completed"}}"#)));
//! # Ok::<(), postoffice_sns_filter::FilterPolicyError>(())
//! ```
//!
//! # What a policy says
//!
//! A JSON object of keys; each key holds an array of values or, for `MessageBody` policies, an
//! object of further keys ([scope](https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering-scope.html)).
//! A message matches when every key matches ("AND") and a key matches when one of its values
//! does ("OR"); `"$or": [{...}, {...}]` makes alternatives of whole sets of keys
//! ([AND/OR logic](https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html)). Values are
//! strings, numbers, `true`, `false`, `null`, or one of `prefix`, `suffix`,
//! `equals-ignore-case`, `wildcard`, `anything-but` (values, a number list, a `prefix`, a
//! `suffix` or a `wildcard`), `cidr`
//! ([string matching](https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html)),
//! `numeric` (`=`, `<`, `<=`, `>`, `>=`, or a range)
//! ([numeric matching](https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html))
//! and `exists` ([key matching](https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html)).
//!
//! # Limits SNS enforces, and so does [`FilterPolicy::parse`]
//!
//! From [filter policy constraints](https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html):
//! - At most 256 KB of policy text ([`MAX_POLICY_BYTES`]).
//! - At most 150 combinations ([`MAX_COMBINATIONS`]): the product, over the policy's arrays, of
//!   each array's number of values times its nesting level (1 for a top-level key); an `$or`
//!   adds up its alternatives. The guide's examples: `3 × 1 × 2 = 6`; `4×3 × 3×2 = 72` nested;
//!   `1 × (2 + 1 × (2 + 3)) = 7` and `(2 + 2) × 1×2 × (1×2 + 1×2) = 32` with `$or`.
//! - At most five keys ([`MAX_KEYS`]): attribute names, or, for `MessageBody` policies, leaf keys
//!   ("only leaf keys are counted"). A key `$or` repeats counts once.
//! - `MessageAttributes` policies cannot nest.
//! - A wildcard pattern has at most 3 `*`; wildcard complexity, summed over the keys that hold a
//!   wildcard, of (pattern points) × (number of patterns), with 1 point for a one-`*` wildcard or
//!   any anything-but and 3 for a wildcard with more `*`, is at most 100
//!   ([`MAX_WILDCARD_COMPLEXITY`]).
//! - Not enforced here, as they count subscriptions: 200 filter policies a topic, 10,000 an
//!   account.
//!
//! The guide gives numbers a range of -10⁹ to 10⁹ with five digits after the decimal point;
//! SNS accepts policy numbers beyond it, and so does this crate, which compares numbers as
//! `f64` (exact within that range and accuracy). The guide states no nesting limit other than
//! the combinations (each level multiplies them); JSON deeper than 128 levels is refused here
//! (policies) or does not match (bodies).
//!
//! # Matching
//!
//! - `MessageBody`: the body must be a JSON object, or nothing matches. Keys join into dotted
//!   paths (`{"a": {"b": 1}}` and `{"a.b": 1}` both have `a.b`), arrays match when one element
//!   does, and two keys whose values sit in the same array must find them in the same element.
//! - `MessageAttributes`: `String`, `Number` and `String.Array` attributes (each element on its
//!   own) are compared, `Binary` ones ignored; a message with none matches nothing. A `String`
//!   attribute compares as if its `"` and `\` were escaped (the guide: double-escape them).
//! - Strings compare case-sensitively; string operators never match numbers, booleans or `null`;
//!   numbers match numerically (`1e2` is `100`) and never match strings (`"100"`).
//! - `"exists": true` needs a non-null, non-empty value at the key; `"exists": false` matches
//!   when there is none. Both look at values only (an object at the key is not one).
//! - `anything-but` needs a value: it matches any value but the ones it lists.
//!
//! # Refused although event-ruler knows them
//!
//! SNS compiles policies with AWS's event-ruler, which knows more than the SNS guide documents:
//! `prefix`/`suffix` with `equals-ignore-case` inside, `anything-but` with
//! `equals-ignore-case`, lists under anything-but's `prefix`, `suffix` and `wildcard`. These are
//! refused here with event-ruler's sentences: a policy that works locally then works in AWS.

mod compile;
mod document;
mod error;
mod matching;
mod message;
mod pattern;
mod policy_json;

pub use error::FilterPolicyError;
pub use message::{DataType, Message, MessageAttribute, MessageAttributes};

/// "The maximum size of a filter policy is 256 KB."
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// "The total combination of values in a filter policy must not exceed 150."
pub const MAX_COMBINATIONS: u64 = 150;
/// "A filter policy can have a maximum of five keys."
pub const MAX_KEYS: usize = 5;
/// "Total wildcard complexity across all fields must not exceed 100 points."
pub const MAX_WILDCARD_COMPLEXITY: u64 = 100;

/// What a subscription's filter policy applies to: its `FilterPolicyScope` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// The message attributes; SNS's default when a policy has no scope.
    #[default]
    MessageAttributes,
    /// The message body, a JSON object.
    MessageBody,
}

impl Scope {
    /// Reads a `FilterPolicyScope` value, refused as SNS does.
    pub fn parse(value: &str) -> Result<Self, FilterPolicyError> {
        match value {
            "MessageAttributes" => Ok(Self::MessageAttributes),
            "MessageBody" => Ok(Self::MessageBody),
            other => Err(FilterPolicyError::InvalidScope {
                value: other.to_owned(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageAttributes => "MessageAttributes",
            Self::MessageBody => "MessageBody",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = FilterPolicyError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription's filter policy, accepted as SNS accepts it.
///
/// An empty `FilterPolicy` attribute removes the policy in SNS (every message is delivered);
/// that is for the caller to handle: `parse("")` is refused, as it is not JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    scope: Scope,
    compiled: compile::Compiled,
}

impl FilterPolicy {
    /// Parses and checks a policy as `SetSubscriptionAttributes` and `Subscribe` do.
    pub fn parse(json: &str, scope: Scope) -> Result<Self, FilterPolicyError> {
        Ok(Self {
            scope,
            compiled: compile::compile(json, scope)?,
        })
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The policy's combinations, as counted against the limit of 150.
    pub fn combinations(&self) -> u64 {
        self.compiled.combinations
    }

    /// The policy's keys, as counted against the limit of five: attribute names, or dotted paths
    /// of leaf keys (`payload.outcome`), in the order the policy first names them.
    pub fn keys(&self) -> &[String] {
        &self.compiled.paths
    }

    /// Whether SNS would deliver `message` to a subscription with this policy.
    pub fn matches(&self, message: &Message<'_>) -> bool {
        let paths = &self.compiled.paths;
        let document = match self.scope {
            Scope::MessageBody => document::from_body(message.body, paths),
            Scope::MessageAttributes => document::from_attributes(message.attributes, paths),
        };
        let Some(document) = document else {
            return false;
        };
        self.compiled
            .branches
            .iter()
            .any(|branch| matching::branch_matches(branch, &self.compiled.leaves, &document))
    }
}
