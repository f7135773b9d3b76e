//! Which queues are Post Office dead-letter queues, found by their tags (`docs/contracts.md`).

use std::collections::HashMap;

use chrono::Duration;
use serde::Serialize;

pub const TAG_ROLE: &str = "postoffice:role";
pub const TAG_CONSUMER: &str = "postoffice:consumer";
pub const ROLE_CONSUMER_DLQ: &str = "consumer-dlq";
pub const ROLE_RULE_ERRORS: &str = "rule-errors";
pub const ROLE_REJECTED_DEVICE_MESSAGES: &str = "rejected-device-messages";

/// The name `postoffice dlq` commands take for the rule-errors queue in place of a consumer.
pub const RULE_ERRORS: &str = "rule-errors";
/// The name `postoffice dlq` commands take for the rejected-device-messages queue.
pub const REJECTED_DEVICE_MESSAGES: &str = "rejected-device-messages";

/// Where on-call reads what to do about the rejected-device-messages queue.
pub const REJECTED_DEVICE_MESSAGES_RUNBOOK: &str = "docs/runbook.md#rejected-device-messages";

/// What a dead-letter queue holds and where its messages go back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum QueueRole {
    /// SNS notifications a consumer's endpoint did not accept; redriven by republishing them to
    /// the consumer's redrive topic, [`crate::redrive::redrive_topic_arn`].
    ConsumerDlq { consumer: String },
    /// IoT rule error messages; redriven by publishing to the event's SNS topic.
    RuleErrors,
    /// Device messages the events' rejection rules kept because the handlers cannot read them;
    /// never redriven (`docs/contracts.md`, "Rejected device messages").
    RejectedDeviceMessages,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterQueue {
    pub url: String,
    pub name: String,
    #[serde(flatten)]
    pub role: QueueRole,
}

impl DeadLetterQueue {
    /// A queue is a Post Office dead-letter queue when its `postoffice:role` tag says so. A
    /// consumer DLQ without a `postoffice:consumer` tag cannot be addressed and is left out.
    pub fn from_tags(url: &str, tags: &HashMap<String, String>) -> Option<Self> {
        let role = match tags.get(TAG_ROLE).map(String::as_str) {
            Some(ROLE_CONSUMER_DLQ) => QueueRole::ConsumerDlq {
                consumer: tags.get(TAG_CONSUMER).filter(|c| !c.is_empty())?.clone(),
            },
            Some(ROLE_RULE_ERRORS) => QueueRole::RuleErrors,
            Some(ROLE_REJECTED_DEVICE_MESSAGES) => QueueRole::RejectedDeviceMessages,
            _ => return None,
        };
        Some(Self {
            url: url.to_owned(),
            name: queue_name(url).to_owned(),
            role,
        })
    }

    /// The consumer name commands address this queue by (`rule-errors` for the rule-errors
    /// queue, `rejected-device-messages` for the rejected-device-messages queue).
    pub fn consumer(&self) -> &str {
        match &self.role {
            QueueRole::ConsumerDlq { consumer, .. } => consumer,
            QueueRole::RuleErrors => RULE_ERRORS,
            QueueRole::RejectedDeviceMessages => REJECTED_DEVICE_MESSAGES,
        }
    }

    /// Whether `postoffice dlq redrive` may work this queue at all. The rejected-device-messages
    /// queue holds messages the rules rejected because no handler can read them: delivered as
    /// they are, they would fail again in every consumer.
    pub fn check_redrivable(&self) -> Result<(), crate::Error> {
        match self.role {
            QueueRole::ConsumerDlq { .. } | QueueRole::RuleErrors => Ok(()),
            QueueRole::RejectedDeviceMessages => Err(crate::Error::NotRedrivable {
                queue: self.name.clone(),
            }),
        }
    }
}

/// Every Post Office dead-letter queue whose name starts with `name_prefix`, by name.
pub async fn discover(
    queues: &dyn crate::ports::Queues,
    name_prefix: &str,
) -> Result<Vec<DeadLetterQueue>, crate::ports::PortError> {
    let mut found = Vec::new();
    for url in queues.list_queue_urls(name_prefix).await? {
        let tags = queues.tags(&url).await?;
        found.extend(DeadLetterQueue::from_tags(&url, &tags));
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The last path segment of a queue URL is the queue name.
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// Picks the queue of `consumer` among discovered queues.
pub fn find<'a>(
    queues: &'a [DeadLetterQueue],
    consumer: &str,
) -> Result<&'a DeadLetterQueue, crate::Error> {
    let matching: Vec<_> = queues.iter().filter(|q| q.consumer() == consumer).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(crate::Error::NoQueue {
            consumer: consumer.to_owned(),
            known: queues.iter().map(|q| q.consumer().to_owned()).collect(),
        }),
        many => Err(crate::Error::AmbiguousQueue {
            consumer: consumer.to_owned(),
            urls: many.iter().map(|q| q.url.clone()).collect(),
        }),
    }
}

/// Depth and age of a queue, as `dlq list` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct QueueDepth {
    /// Messages available to receive (`ApproximateNumberOfMessages`).
    pub visible: u64,
    /// Messages received and not yet deleted or released (`ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: u64,
}

/// Formats an age the way on-call reads it: `42s`, `17m`, `5h12m`, `3d4h`.
pub fn format_age(age: Duration) -> String {
    let seconds = age.num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn recognises_queues_by_their_tags() {
        let url = "http://127.0.0.1:5000/123456789012/postoffice-kitchen-dlq";
        let queue = DeadLetterQueue::from_tags(
            url,
            &tags(&[(TAG_ROLE, ROLE_CONSUMER_DLQ), (TAG_CONSUMER, "kitchen")]),
        )
        .unwrap();
        assert_eq!(queue.name, "postoffice-kitchen-dlq");
        assert_eq!(queue.consumer(), "kitchen");
        assert_eq!(
            queue.role,
            QueueRole::ConsumerDlq {
                consumer: "kitchen".into(),
            }
        );
        let rule_errors =
            DeadLetterQueue::from_tags(url, &tags(&[(TAG_ROLE, ROLE_RULE_ERRORS)])).unwrap();
        assert_eq!(rule_errors.consumer(), RULE_ERRORS);
        let rejected = DeadLetterQueue::from_tags(
            "http://127.0.0.1:5000/123456789012/postoffice-rejected-device-messages",
            &tags(&[(TAG_ROLE, ROLE_REJECTED_DEVICE_MESSAGES)]),
        )
        .unwrap();
        assert_eq!(rejected.role, QueueRole::RejectedDeviceMessages);
        assert_eq!(rejected.consumer(), "rejected-device-messages");
        assert_eq!(rejected.name, "postoffice-rejected-device-messages");
        assert!(DeadLetterQueue::from_tags(url, &tags(&[])).is_none());
        assert!(DeadLetterQueue::from_tags(url, &tags(&[(TAG_ROLE, "work")])).is_none());
        assert!(DeadLetterQueue::from_tags(url, &tags(&[(TAG_ROLE, ROLE_CONSUMER_DLQ)])).is_none());
    }

    #[test]
    fn finds_a_consumer_queue_or_names_the_known_ones() {
        let queues = vec![
            DeadLetterQueue::from_tags(
                "u/postoffice-kitchen-dlq",
                &tags(&[(TAG_ROLE, ROLE_CONSUMER_DLQ), (TAG_CONSUMER, "kitchen")]),
            )
            .unwrap(),
            DeadLetterQueue::from_tags(
                "u/postoffice-rule-errors",
                &tags(&[(TAG_ROLE, ROLE_RULE_ERRORS)]),
            )
            .unwrap(),
        ];
        assert_eq!(
            find(&queues, "kitchen").unwrap().name,
            "postoffice-kitchen-dlq"
        );
        assert_eq!(
            find(&queues, "rule-errors").unwrap().name,
            "postoffice-rule-errors"
        );
        let error = find(&queues, "garden").unwrap_err().to_string();
        assert!(
            error.contains("garden") && error.contains("kitchen, rule-errors"),
            "{error}"
        );
        let twice = [queues[0].clone(), queues[0].clone()];
        assert!(
            find(&twice, "kitchen")
                .unwrap_err()
                .to_string()
                .contains("2 queues")
        );
    }

    #[test]
    fn only_the_rejected_device_messages_queue_is_never_redriven() {
        let queue = |role: &str| {
            DeadLetterQueue::from_tags(
                &format!("u/postoffice-{role}"),
                &tags(&[(TAG_ROLE, role), (TAG_CONSUMER, "kitchen")]),
            )
            .unwrap()
        };
        assert!(queue(ROLE_CONSUMER_DLQ).check_redrivable().is_ok());
        assert!(queue(ROLE_RULE_ERRORS).check_redrivable().is_ok());
        let error = queue(ROLE_REJECTED_DEVICE_MESSAGES)
            .check_redrivable()
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("postoffice-rejected-device-messages is never redriven")
                && error.contains("the handlers cannot read them")
                && error.contains("cannot be delivered as they are")
                && error.contains("docs/runbook.md#rejected-device-messages"),
            "{error}"
        );
    }

    #[test]
    fn formats_ages() {
        assert_eq!(format_age(Duration::seconds(42)), "42s");
        assert_eq!(format_age(Duration::seconds(17 * 60 + 5)), "17m");
        assert_eq!(format_age(Duration::seconds(5 * 3600 + 12 * 60)), "5h12m");
        assert_eq!(format_age(Duration::seconds(3 * 86_400 + 4 * 3600)), "3d4h");
    }
}
