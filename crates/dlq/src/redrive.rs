//! Redrive: publish each dead-letter message again through SNS — a consumer DLQ's to that
//! consumer's own redrive topic, a rule error to its event's topic — and delete it from the queue
//! only once SNS accepted the publish. Delivery is then SNS's job again: a handler that still
//! fails sends the message back to the same dead-letter queue after SNS's retries.
//!
//! Safe to interrupt at any point: a message is deleted only after its publish succeeded, and
//! every message this run received but did not delete is made visible again when it ends (or,
//! if the process dies, when its visibility timeout runs out). A message whose publish
//! succeeded but whose delete was lost is published again next time: at-least-once, as SNS does.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postoffice::Envelope;
use postoffice::catalog::{Catalog, Direction};
use postoffice::sns::MessageAttribute;
use serde::Serialize;

use crate::filter::{self, Filter};
use crate::message::{DeadLetter, DeadNotification, ReceivedMessage, RuleError};
use crate::ports::{Authenticate, Authenticity, PortError, Publish, Queues};
use crate::rate::{Pacer, Rate};

/// SQS never returns more than ten messages per receive.
const RECEIVE_BATCH: usize = 10;
/// SQS's longest visibility timeout: 12 hours
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html>).
pub const MAX_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// Where a queue's messages are delivered again, and what they must prove first: whoever can
/// write to a queue must not be able to deliver through redrive what SNS or IoT Core would not.
pub enum Destination<'a> {
    /// A consumer DLQ: publish the notification's message (the envelope as it was published)
    /// with its message attributes to the consumer's redrive topic, which SNS delivers to that
    /// consumer only ([`redrive_topic_arn`]); for a notification that came from its envelope's
    /// event topic, `{topic_arn_prefix}{EVENT}`, and whose SNS signature `authenticity` accepts.
    Consumer {
        redrive_topic_arn: String,
        topic_arn_prefix: String,
        authenticity: &'a dyn Authenticate,
        publisher: &'a dyn Publish,
    },
    /// The rule-errors queue: publish the envelope to `{topic_arn_prefix}{EVENT}`, for events
    /// actors publish (per the catalog) that failed in their own event's rule,
    /// `{resource_prefix}_{EVENT}` (`-` read as `_`, as rule names allow no `-`).
    Topics {
        topic_arn_prefix: String,
        resource_prefix: String,
        publisher: &'a dyn Publish,
    },
}

#[derive(Debug, Clone)]
pub struct RedriveOptions {
    pub filters: Vec<Filter>,
    pub rate: Option<Rate>,
    /// Decode and report what would be redriven; deliver and delete nothing.
    pub dry_run: bool,
    /// Stop after this many messages (of any outcome).
    pub limit: Option<usize>,
    /// How long a received message stays hidden from other readers while this run holds it.
    pub visibility_timeout: Duration,
    /// Long-polling wait of each receive, so that an empty answer means an empty queue.
    pub receive_wait: Duration,
}

impl Default for RedriveOptions {
    fn default() -> Self {
        Self {
            filters: Vec::new(),
            rate: None,
            dry_run: false,
            limit: None,
            visibility_timeout: Duration::from_secs(300),
            receive_wait: Duration::from_secs(1),
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum MessageOutcome {
    /// Published again (SNS accepted it), deleted from the queue.
    Republished,
    /// The publish failed; the message stays in the queue.
    Failed(String),
    /// Not decodable (or not deliverable from this queue); it stays in the queue.
    Skipped(String),
    /// Decodable, but not what its queue may redrive (a forged or unverifiable signature, an
    /// envelope on another event's topic, an event actors do not publish); it stays in the queue.
    Refused(String),
    /// Did not match `--filter`; untouched.
    NotMatching,
    /// Dry run: would have been published.
    WouldRedrive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageReport {
    /// SQS message id in the dead-letter queue.
    pub message_id: String,
    pub event: Option<String>,
    pub household_id: Option<String>,
    pub device_id: Option<String>,
    #[serde(flatten)]
    pub outcome: MessageOutcome,
}

/// Counts of a redrive run, and the failed and skipped messages with their reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub republished: usize,
    pub failed: usize,
    pub skipped: usize,
    pub refused: usize,
    pub not_matching: usize,
    pub would_redrive: usize,
    /// True when the run stopped early (interrupted or `limit` reached).
    pub stopped_early: bool,
    /// Failed, skipped and refused messages.
    pub problems: Vec<MessageReport>,
}

impl Summary {
    fn record(&mut self, report: &MessageReport) {
        match &report.outcome {
            MessageOutcome::Republished => self.republished += 1,
            MessageOutcome::Failed(_) => self.failed += 1,
            MessageOutcome::Skipped(_) => self.skipped += 1,
            MessageOutcome::Refused(_) => self.refused += 1,
            MessageOutcome::NotMatching => self.not_matching += 1,
            MessageOutcome::WouldRedrive => self.would_redrive += 1,
        }
        if matches!(
            report.outcome,
            MessageOutcome::Failed(_) | MessageOutcome::Skipped(_) | MessageOutcome::Refused(_)
        ) {
            self.problems.push(report.clone());
        }
    }

    fn processed(&self) -> usize {
        self.republished
            + self.failed
            + self.skipped
            + self.refused
            + self.not_matching
            + self.would_redrive
    }
}

/// Told about each message as the run goes (the CLI draws a progress bar).
pub trait Progress {
    fn message_done(&mut self, report: &MessageReport);
}

impl<F: FnMut(&MessageReport)> Progress for F {
    fn message_done(&mut self, report: &MessageReport) {
        self(report)
    }
}

/// Redrives the queue at `url` until it has nothing new to give, `limit` is reached or `stop`
/// is set. An error of the queue itself (receive) ends the run; what was received is released.
pub async fn redrive(
    queues: &dyn Queues,
    url: &str,
    destination: &Destination<'_>,
    options: &RedriveOptions,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Summary, PortError> {
    let mut run = Run {
        queues,
        url,
        seen: HashSet::new(),
        held: BTreeMap::new(),
        summary: Summary::default(),
    };
    let result = run.work(destination, options, &stop, progress).await;
    run.release_held().await;
    result.map(|()| run.summary)
}

/// Reads up to `limit` messages without changing them: each is received, decoded and made
/// visible again. (Receiving counts in SQS's `ApproximateReceiveCount`; nothing else changes.)
pub async fn peek(
    queues: &dyn Queues,
    url: &str,
    limit: usize,
    options: &RedriveOptions,
) -> Result<
    Vec<(
        ReceivedMessage,
        Result<DeadLetter, crate::message::DecodeError>,
    )>,
    PortError,
> {
    let mut run = Run {
        queues,
        url,
        seen: HashSet::new(),
        held: BTreeMap::new(),
        summary: Summary::default(),
    };
    let mut messages = Vec::new();
    let result = async {
        while messages.len() < limit {
            let batch = run
                .receive(RECEIVE_BATCH.min(limit - messages.len()), options)
                .await?;
            if batch.is_empty() {
                break;
            }
            for message in batch {
                let decoded = DeadLetter::decode(&message);
                messages.push((message, decoded));
            }
        }
        Ok(())
    }
    .await;
    run.release_held().await;
    result.map(|()| messages)
}

struct Run<'a> {
    queues: &'a dyn Queues,
    url: &'a str,
    /// SQS message ids this run has received, so that one reappearing is not counted twice.
    seen: HashSet<String>,
    /// Received, not deleted: message id → latest receipt handle. Released when the run ends.
    held: BTreeMap<String, String>,
    summary: Summary,
}

impl Run<'_> {
    async fn work(
        &mut self,
        destination: &Destination<'_>,
        options: &RedriveOptions,
        stop: &AtomicBool,
        progress: &mut dyn Progress,
    ) -> Result<(), PortError> {
        let mut pacer = Pacer::new(options.rate);
        loop {
            let remaining = options
                .limit
                .map_or(usize::MAX, |limit| limit - self.summary.processed());
            if remaining == 0 || stop.load(Ordering::SeqCst) {
                self.summary.stopped_early = true;
                return Ok(());
            }
            let batch = self
                .receive(batch_size(options).min(remaining), options)
                .await?;
            if batch.is_empty() {
                return Ok(());
            }
            for message in batch {
                if stop.load(Ordering::SeqCst) {
                    // Received but never looked at: it goes back with the held ones.
                    self.summary.stopped_early = true;
                    continue;
                }
                let report = self.handle(message, destination, options, &mut pacer).await;
                self.summary.record(&report);
                progress.message_done(&report);
            }
        }
    }

    /// Receives messages this run has not seen yet; every one received is held.
    async fn receive(
        &mut self,
        max: usize,
        options: &RedriveOptions,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let batch = self
            .queues
            .receive(
                self.url,
                max,
                options.visibility_timeout,
                options.receive_wait,
            )
            .await?;
        let mut new = Vec::new();
        for message in batch {
            self.held
                .insert(message.message_id.clone(), message.receipt_handle.clone());
            if self.seen.insert(message.message_id.clone()) {
                new.push(message);
            }
        }
        Ok(new)
    }

    async fn handle(
        &mut self,
        message: ReceivedMessage,
        destination: &Destination<'_>,
        options: &RedriveOptions,
        pacer: &mut Pacer,
    ) -> MessageReport {
        let mut report = MessageReport {
            message_id: message.message_id.clone(),
            event: None,
            household_id: None,
            device_id: None,
            outcome: MessageOutcome::NotMatching,
        };
        let dead_letter = match DeadLetter::decode(&message) {
            Ok(dead_letter) => dead_letter,
            Err(error) => {
                report.outcome = MessageOutcome::Skipped(error.to_string());
                return report;
            }
        };
        report.event = Some(dead_letter.event().to_owned());
        report.household_id = Some(dead_letter.household_id().to_owned());
        report.device_id = Some(dead_letter.device_id().to_owned());
        if !filter::matches_all(&options.filters, &dead_letter) {
            return report;
        }
        if let Err(reason) = deliverable(&dead_letter, destination) {
            report.outcome = MessageOutcome::Skipped(reason);
            return report;
        }
        if let Err(outcome) = admissible(&dead_letter, destination).await {
            report.outcome = outcome;
            return report;
        }
        if options.dry_run {
            report.outcome = MessageOutcome::WouldRedrive;
            return report;
        }
        pacer.wait().await;
        let delivered = deliver(&dead_letter, destination).await;
        // SQS accepts only the latest receipt handle of a message received more than once.
        let receipt_handle = self
            .held
            .get(&message.message_id)
            .cloned()
            .unwrap_or(message.receipt_handle);
        report.outcome = match delivered {
            Ok(()) => match self.queues.delete(self.url, &receipt_handle).await {
                Ok(()) => {
                    self.held.remove(&message.message_id);
                    MessageOutcome::Republished
                }
                Err(error) => MessageOutcome::Failed(format!(
                    "republished, but not deleted from the queue ({error}): it will be published again next time"
                )),
            },
            Err(reason) => MessageOutcome::Failed(reason),
        };
        report
    }

    /// Makes every held message visible again. A failure here loses nothing: the message
    /// reappears when its visibility timeout runs out.
    async fn release_held(&mut self) {
        for (message_id, receipt_handle) in std::mem::take(&mut self.held) {
            if let Err(error) = self.queues.release(self.url, &receipt_handle).await {
                tracing::warn!(%message_id, %error, "could not release a message; it reappears after its visibility timeout");
            }
        }
    }
}

/// A slow rate must not hold more messages than it can deliver within half the visibility
/// timeout, or they would reappear (to this run, or another operator's) before their turn.
fn batch_size(options: &RedriveOptions) -> usize {
    match options.rate {
        Some(rate) => {
            let deliverable = rate.per_second() * options.visibility_timeout.as_secs_f64() / 2.0;
            (deliverable.floor() as usize).clamp(1, RECEIVE_BATCH)
        }
        None => RECEIVE_BATCH,
    }
}

fn deliverable(dead_letter: &DeadLetter, destination: &Destination<'_>) -> Result<(), String> {
    match (dead_letter, destination) {
        (DeadLetter::Notification(_), Destination::Consumer { .. })
        | (DeadLetter::RuleError(_), Destination::Topics { .. }) => Ok(()),
        (DeadLetter::RuleError(_), Destination::Consumer { .. }) => Err(
            "an IoT rule error message in a consumer DLQ: move it to the rule-errors queue".into(),
        ),
        (DeadLetter::Notification(_), Destination::Topics { .. }) => Err(
            "an SNS notification in the rule-errors queue: move it to its consumer's DLQ".into(),
        ),
        (DeadLetter::Rejected(_), _) => Err(format!(
            "a rejected device message: the handlers cannot read it, so it cannot be delivered as it is ({})",
            crate::queue::REJECTED_DEVICE_MESSAGES_RUNBOOK
        )),
    }
}

/// Whether a message of the right queue may be delivered: `Refused` when it must not be,
/// `Failed` when that cannot be told now.
async fn admissible(
    dead_letter: &DeadLetter,
    destination: &Destination<'_>,
) -> Result<(), MessageOutcome> {
    match (dead_letter, destination) {
        (
            DeadLetter::Notification(notification),
            Destination::Consumer {
                topic_arn_prefix,
                authenticity,
                ..
            },
        ) => genuine_notification(notification, topic_arn_prefix, *authenticity).await,
        (
            DeadLetter::RuleError(rule_error),
            Destination::Topics {
                resource_prefix, ..
            },
        ) => actor_published(rule_error, resource_prefix, Catalog::embedded())
            .map_err(MessageOutcome::Refused),
        _ => Ok(()),
    }
}

/// SNS signs every account's messages with the same certificates, so besides the signature the
/// topic must be ours and the envelope's event its topic's (what the bridge checks).
async fn genuine_notification(
    notification: &DeadNotification,
    topic_arn_prefix: &str,
    authenticity: &dyn Authenticate,
) -> Result<(), MessageOutcome> {
    let event = &notification.envelope.event;
    let expected_topic = format!("{topic_arn_prefix}{event}");
    if notification.topic_arn != expected_topic {
        return Err(MessageOutcome::Refused(format!(
            "its envelope says {event} but it came from topic {}, not {expected_topic}",
            bounded(&notification.topic_arn)
        )));
    }
    let signed = notification
        .signed
        .as_ref()
        .map_err(|error| MessageOutcome::Refused(format!("not a signed SNS message: {error}")))?;
    // What is delivered is what was decoded; it must be what the signature covers.
    let same = signed.topic_arn == notification.topic_arn
        && signed.message_id == notification.sns_message_id
        && signed.timestamp == notification.timestamp
        && Envelope::from_json(signed.message.as_bytes())
            .is_ok_and(|envelope| envelope == notification.envelope);
    if !same {
        return Err(MessageOutcome::Refused(
            "the signed message differs from the one decoded".into(),
        ));
    }
    match authenticity.authenticate(signed).await {
        Authenticity::Genuine => Ok(()),
        Authenticity::Refused(reason) => Err(MessageOutcome::Refused(reason)),
        Authenticity::Unverifiable(reason) => Err(MessageOutcome::Failed(reason)),
    }
}

/// A rule-errors message is republished as if IoT Core had published it, so it must be what IoT
/// Core could have: an event actors publish, failed in that event's own rule.
fn actor_published(
    rule_error: &RuleError,
    resource_prefix: &str,
    catalog: &Catalog,
) -> Result<(), String> {
    let event = rule_error.topic.event();
    match catalog.event(event) {
        None => return Err(format!("{event} is not in the event catalog")),
        Some(definition) if definition.direction != Direction::ActorToBackend => {
            return Err(format!(
                "{event} is not an event actors publish (the catalog says {}, produced by {})",
                definition.direction,
                definition.producers.join(", ")
            ));
        }
        Some(_) => {}
    }
    let own_rule = format!("{}_{event}", resource_prefix.replace('-', "_"));
    if rule_error.rule_name != own_rule {
        return Err(format!(
            "it failed in rule {}, not in {own_rule}, the rule of {event}'s topic",
            bounded(&rule_error.rule_name)
        ));
    }
    Ok(())
}

/// Text from a message, cut to a length fit for a report line.
fn bounded(text: &str) -> &str {
    const MAX_CHARS: usize = 300;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Delivers one message; `Err` carries why it failed.
async fn deliver(dead_letter: &DeadLetter, destination: &Destination<'_>) -> Result<(), String> {
    match (dead_letter, destination) {
        (
            DeadLetter::Notification(notification),
            Destination::Consumer {
                redrive_topic_arn,
                publisher,
                ..
            },
        ) => {
            // What the signature covered (admissible checked it is what was decoded): the
            // message byte for byte, and its attributes with their types.
            let signed = notification
                .signed
                .as_ref()
                .map_err(|error| format!("not a signed SNS message: {error}"))?;
            publisher
                .publish(
                    redrive_topic_arn,
                    signed.message.clone(),
                    signed.message_attributes.clone(),
                )
                .await
                .map_err(|error| format!("publish to {redrive_topic_arn}: {error}"))
        }
        (
            DeadLetter::RuleError(rule_error),
            Destination::Topics {
                topic_arn_prefix,
                publisher,
                ..
            },
        ) => {
            let envelope = rule_error.envelope(postoffice::envelope::now_millis());
            let topic_arn = format!("{topic_arn_prefix}{}", envelope.event);
            let string = |value: &str| MessageAttribute {
                data_type: "String".to_owned(),
                value: value.to_owned(),
            };
            let attributes = BTreeMap::from([
                ("event".to_owned(), string(&envelope.event)),
                ("household_id".to_owned(), string(&envelope.household_id)),
                ("device_id".to_owned(), string(&envelope.device_id)),
            ]);
            publisher
                .publish(&topic_arn, envelope.to_json(), attributes)
                .await
                .map_err(|error| format!("publish to {topic_arn}: {error}"))
        }
        _ => Err("not deliverable from this queue".into()),
    }
}

/// The redrive topic of `consumer` (`<prefix>-<consumer>-redrive`, the consumer module's name for
/// it) among the topics of `topic_arn_prefix`.
pub fn redrive_topic_arn(topic_arn_prefix: &str, consumer: &str) -> String {
    format!("{topic_arn_prefix}{consumer}-redrive")
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` → `arn:aws:sns:REGION:ACCOUNT:{prefix}-`, the ARN prefix of
/// the event topics in the queue's account and region.
pub fn topic_arn_prefix(queue_arn: &str, resource_prefix: &str) -> Result<String, crate::Error> {
    let parts: Vec<&str> = queue_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sqs", region, account, _name]
            if !region.is_empty() && !account.is_empty() =>
        {
            Ok(format!(
                "arn:{partition}:sns:{region}:{account}:{resource_prefix}-"
            ))
        }
        _ => Err(crate::Error::TopicArnPrefix(queue_arn.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_rate_receives_small_batches() {
        let options = |rate: Option<&str>, visibility: u64| RedriveOptions {
            rate: rate.map(|r| r.parse().unwrap()),
            visibility_timeout: Duration::from_secs(visibility),
            ..RedriveOptions::default()
        };
        assert_eq!(batch_size(&options(None, 300)), 10);
        assert_eq!(batch_size(&options(Some("5/s"), 300)), 10);
        assert_eq!(batch_size(&options(Some("0.02/s"), 300)), 3);
        assert_eq!(batch_size(&options(Some("0.001/s"), 300)), 1);
    }
}
