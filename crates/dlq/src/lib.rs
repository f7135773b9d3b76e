//! Post Office dead-letter queues, the logic behind `postoffice dlq`.
//!
//! Pure logic — [`message`] decoding, [`queue`] discovery by tags, [`filter`], [`rate`] and the
//! [`redrive`] loop — works against the small ports in [`ports`]; [`aws`] implements them with
//! the AWS SDK (endpoints overridable with `AWS_ENDPOINT_URL_*`), [`signature`] with the bridge's
//! SNS signature verifier.

pub mod aws;
pub mod filter;
pub mod message;
pub mod ports;
pub mod queue;
pub mod rate;
pub mod redrive;
pub mod signature;

/// What can go wrong finding or working a dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no Post Office dead-letter queue for {consumer:?} (found: {})",
        listed(known)
    )]
    NoQueue {
        consumer: String,
        known: Vec<String>,
    },
    #[error("{} queues are tagged for {consumer:?}: {}", urls.len(), urls.join(", "))]
    AmbiguousQueue { consumer: String, urls: Vec<String> },
    #[error(
        "{queue} is never redriven: its messages were rejected by the IoT rules because the handlers cannot read them (`postoffice dlq show {}` lists the unreadable parts), so they cannot be delivered as they are; fix the devices that send them, keep what you need and purge the queue ({})",
        queue::REJECTED_DEVICE_MESSAGES,
        queue::REJECTED_DEVICE_MESSAGES_RUNBOOK
    )]
    NotRedrivable { queue: String },
    #[error(
        "cannot derive the SNS topic ARN prefix from queue ARN {0:?}: set POSTOFFICE_TOPIC_ARN_PREFIX"
    )]
    TopicArnPrefix(String),
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none; check --prefix, the region and the queues' postoffice:role tags".to_owned()
    } else {
        names.join(", ")
    }
}
