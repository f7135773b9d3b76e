//! The redrive loop against in-memory fakes of the ports: the cases a real queue makes hard to
//! provoke (a lost delete, a message reappearing mid-run, a refused publish, messages in the wrong
//! queue), and what is republished where.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use postoffice::sns::{
    LocalSigningAuthority, MessageAttribute, MessageType, SnsMessage, StaticCertificateFetcher,
    SystemClock, Verifier,
};
use postoffice_dlq::message::ReceivedMessage;
use postoffice_dlq::ports::{PortError, Publish, Queues};
use postoffice_dlq::queue::QueueDepth;
use postoffice_dlq::redrive::{
    self, Destination, MessageOutcome, MessageReport, RedriveOptions, redrive_topic_arn,
    topic_arn_prefix,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Stored {
    body: String,
    receive_count: u32,
    /// Receipt handle of the current receive, while received and not released.
    receipt: Option<String>,
}

/// A queue that hands out every visible message once per receive and honours delete/release.
#[derive(Default)]
struct FakeQueue {
    messages: Mutex<BTreeMap<String, Stored>>,
    receipts: Mutex<u64>,
    fail_deletes: AtomicBool,
    /// When set, each receive also returns this already-received message again (as SQS does
    /// when a visibility timeout runs out mid-run).
    reappear: Mutex<Option<String>>,
    released: Mutex<Vec<String>>,
}

impl FakeQueue {
    fn with(bodies: &[String]) -> Self {
        let queue = Self::default();
        for (i, body) in bodies.iter().enumerate() {
            queue.messages.lock().unwrap().insert(
                format!("m-{i:02}"),
                Stored {
                    body: body.clone(),
                    ..Stored::default()
                },
            );
        }
        queue
    }

    fn ids(&self) -> Vec<String> {
        self.messages.lock().unwrap().keys().cloned().collect()
    }

    fn in_flight(&self) -> usize {
        let messages = self.messages.lock().unwrap();
        messages.values().filter(|m| m.receipt.is_some()).count()
    }

    fn receive_count(&self, id: &str) -> u32 {
        self.messages.lock().unwrap()[id].receive_count
    }

    fn hand_out(&self, id: &str, stored: &mut Stored) -> ReceivedMessage {
        let mut receipts = self.receipts.lock().unwrap();
        *receipts += 1;
        let receipt = format!("{id}#{receipts}");
        stored.receive_count += 1;
        stored.receipt = Some(receipt.clone());
        ReceivedMessage {
            message_id: id.to_owned(),
            receipt_handle: receipt,
            body: stored.body.clone(),
            attributes: BTreeMap::new(),
            sent_at: None,
            receive_count: stored.receive_count,
        }
    }
}

#[async_trait]
impl Queues for FakeQueue {
    async fn list_queue_urls(&self, _: &str) -> Result<Vec<String>, PortError> {
        Ok(vec!["q".into()])
    }
    async fn tags(&self, _: &str) -> Result<HashMap<String, String>, PortError> {
        Ok(HashMap::new())
    }
    async fn depth(&self, _: &str) -> Result<QueueDepth, PortError> {
        Ok(QueueDepth::default())
    }
    async fn arn(&self, _: &str) -> Result<String, PortError> {
        Ok("arn:aws:sqs:eu-west-1:123456789012:q".into())
    }

    async fn receive(
        &self,
        _: &str,
        max: usize,
        _: Duration,
        _: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let mut messages = self.messages.lock().unwrap();
        let mut batch = Vec::new();
        if let Some(id) = self.reappear.lock().unwrap().clone()
            && let Some(stored) = messages.get_mut(&id)
            && stored.receipt.is_some()
        {
            batch.push(self.hand_out(&id, stored));
        }
        for (id, stored) in messages.iter_mut() {
            if batch.len() >= max {
                break;
            }
            if stored.receipt.is_none() {
                batch.push(self.hand_out(id, stored));
            }
        }
        Ok(batch)
    }

    async fn delete(&self, _: &str, receipt: &str) -> Result<(), PortError> {
        if self.fail_deletes.load(Ordering::SeqCst) {
            return Err(PortError("connection reset".into()));
        }
        let mut messages = self.messages.lock().unwrap();
        let id = messages
            .iter()
            .find(|(_, m)| m.receipt.as_deref() == Some(receipt))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| PortError(format!("stale receipt handle {receipt}")))?;
        messages.remove(&id);
        Ok(())
    }

    async fn release(&self, _: &str, receipt: &str) -> Result<(), PortError> {
        let mut messages = self.messages.lock().unwrap();
        for (id, stored) in messages.iter_mut() {
            if stored.receipt.as_deref() == Some(receipt) {
                stored.receipt = None;
                self.released.lock().unwrap().push(id.clone());
                return Ok(());
            }
        }
        Err(PortError(format!("stale receipt handle {receipt}")))
    }

    async fn purge(&self, _: &str) -> Result<(), PortError> {
        self.messages.lock().unwrap().clear();
        Ok(())
    }
}

/// One accepted publish: topic ARN, the message as published, and its attributes.
#[derive(Debug, Clone)]
struct Published {
    topic_arn: String,
    message: String,
    attributes: BTreeMap<String, MessageAttribute>,
}

impl Published {
    fn envelope(&self) -> Value {
        serde_json::from_str(&self.message).unwrap()
    }
}

type Answer = dyn Fn(&Value) -> Result<(), PortError> + Send + Sync;

/// SNS Publish: answers each publish with `answer` (given the envelope), keeps what it accepted.
struct FakeTopics {
    answer: Box<Answer>,
    attempts: AtomicUsize,
    published: Mutex<Vec<Published>>,
}

impl Default for FakeTopics {
    fn default() -> Self {
        Self::answering(|_| Ok(()))
    }
}

impl FakeTopics {
    fn answering(answer: impl Fn(&Value) -> Result<(), PortError> + Send + Sync + 'static) -> Self {
        Self {
            answer: Box::new(answer),
            attempts: AtomicUsize::new(0),
            published: Mutex::new(Vec::new()),
        }
    }

    fn published(&self) -> Vec<Published> {
        self.published.lock().unwrap().clone()
    }
}

#[async_trait]
impl Publish for FakeTopics {
    async fn publish(
        &self,
        topic_arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttribute>,
    ) -> Result<(), PortError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        (self.answer)(&serde_json::from_str(&message).unwrap())?;
        self.published.lock().unwrap().push(Published {
            topic_arn: topic_arn.to_owned(),
            message,
            attributes,
        });
        Ok(())
    }
}

const TOPIC_ARN_PREFIX: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";
const REDRIVE_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive";

/// Stands in for SNS's signing key; RSA key generation is slow, so one serves every test.
fn authority() -> &'static LocalSigningAuthority {
    static AUTHORITY: OnceLock<LocalSigningAuthority> = OnceLock::new();
    AUTHORITY.get_or_init(|| LocalSigningAuthority::generate().unwrap())
}

/// The bridge's verifier, trusting the local authority's certificate as local bridges do.
fn verifier() -> Verifier<StaticCertificateFetcher, SystemClock> {
    Verifier::new(StaticCertificateFetcher::new(), SystemClock)
        .with_local_certificate(authority().certificate_pem().as_bytes())
        .unwrap()
}

fn envelope(event: &str, household: &str) -> Value {
    json!({
        "event": event,
        "event_id": "6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11",
        "household_id": household,
        "device_id": "oven-1",
        "occurred_at": "2026-11-23T20:00:00.000Z",
        "source": "oven-1",
        "correlation_id": "6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11",
        "schema_version": 1,
        "payload": {}
    })
}

/// An SNS notification as SNS dead-letters it, signed.
fn signed_notification(topic_arn: &str, envelope: &Value, message_id: &str) -> SnsMessage {
    let mut message = SnsMessage {
        message_type: MessageType::Notification,
        message_id: message_id.to_owned(),
        topic_arn: topic_arn.to_owned(),
        subject: None,
        message: envelope.to_string(),
        timestamp: "2026-11-23T20:00:00.000Z".into(),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: None,
        unsubscribe_url: None,
        token: None,
        message_attributes: BTreeMap::new(),
    };
    authority().sign(&mut message).unwrap();
    message
}

fn notification(household: &str) -> String {
    signed_notification(
        &format!("{TOPIC_ARN_PREFIX}COOKING_REQUESTED"),
        &envelope("COOKING_REQUESTED", household),
        &format!("sns-{household}"),
    )
    .to_http_json()
}

fn rule_error_of(rule_name: &str, topic: &str) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(r#"{"payload":{"a":1}}"#);
    json!({"ruleName": rule_name, "topic": topic, "clientId": "oven-1", "base64OriginalPayload": payload, "failures": []}).to_string()
}

/// What the rule of the topic's event writes.
fn rule_error(topic: &str) -> String {
    let event = topic.split('/').next().unwrap();
    rule_error_of(&format!("postoffice_{event}"), topic)
}

fn topics_destination(topics: &FakeTopics) -> Destination<'_> {
    Destination::Topics {
        topic_arn_prefix: TOPIC_ARN_PREFIX.into(),
        resource_prefix: "postoffice".into(),
        publisher: topics,
    }
}

async fn run(
    queue: &FakeQueue,
    destination: &Destination<'_>,
    options: &RedriveOptions,
    stop: Arc<AtomicBool>,
) -> (redrive::Summary, Vec<MessageReport>) {
    let mut reports = Vec::new();
    let summary = redrive::redrive(
        queue,
        "q",
        destination,
        options,
        stop,
        &mut |report: &MessageReport| reports.push(report.clone()),
    )
    .await
    .unwrap();
    (summary, reports)
}

fn consumer_destination(topics: &FakeTopics) -> Destination<'_> {
    static VERIFIER: OnceLock<Verifier<StaticCertificateFetcher, SystemClock>> = OnceLock::new();
    Destination::Consumer {
        redrive_topic_arn: redrive_topic_arn(TOPIC_ARN_PREFIX, "kitchen"),
        topic_arn_prefix: TOPIC_ARN_PREFIX.into(),
        authenticity: VERIFIER.get_or_init(verifier),
        publisher: topics,
    }
}

/// What SNS answers a publish it refuses.
fn refused(reason: &str) -> Result<(), PortError> {
    Err(PortError(format!("SNS Publish: {reason}")))
}

#[tokio::test]
async fn republishes_the_signed_message_with_its_attributes_to_the_consumers_redrive_topic() {
    let mut message = signed_notification(
        &format!("{TOPIC_ARN_PREFIX}COOKING_REQUESTED"),
        &envelope("COOKING_REQUESTED", "h-1"),
        "sns-h-1",
    );
    // A producer's attributes, as SNS puts them in the notification (unsigned, so added after).
    let attributes = BTreeMap::from([
        (
            "household_id".to_owned(),
            MessageAttribute {
                data_type: "String".into(),
                value: "h-1".into(),
            },
        ),
        (
            "firmware".to_owned(),
            MessageAttribute {
                data_type: "Binary".into(),
                value: "AAEC".into(),
            },
        ),
    ]);
    message.message_attributes = attributes.clone();
    // The envelope exactly as first published: its key order and spacing are kept.
    let queue = FakeQueue::with(&[message.to_http_json(), notification("h-2")]);
    let topics = FakeTopics::default();
    let (summary, reports) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.failed), (2, 0));
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == MessageOutcome::Republished)
    );
    let published = topics.published();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0].topic_arn, REDRIVE_TOPIC);
    assert_eq!(published[0].message, message.message, "byte for byte");
    assert_eq!(published[0].attributes, attributes);
    assert_eq!(published[1].topic_arn, REDRIVE_TOPIC);
    assert_eq!(published[1].envelope()["household_id"], "h-2");
    assert!(published[1].attributes.is_empty());
    assert!(queue.ids().is_empty(), "deleted once SNS accepted them");
    assert_eq!(queue.in_flight(), 0);
}

#[tokio::test]
async fn a_refused_publish_fails_and_keeps_the_message() {
    let queue = FakeQueue::with(&[notification("h-1"), notification("h-2")]);
    let topics = FakeTopics::answering(|envelope| match envelope["household_id"].as_str() {
        Some("h-1") => refused("AuthorizationError: not authorized to perform SNS:Publish"),
        _ => refused("NotFound: Topic does not exist"),
    });
    let (summary, _) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.failed), (0, 2));
    let reasons: Vec<String> = summary
        .problems
        .iter()
        .map(|p| match &p.outcome {
            MessageOutcome::Failed(reason) => reason.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        reasons[0].starts_with(&format!(
            "publish to {REDRIVE_TOPIC}: SNS Publish: AuthorizationError"
        )),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("NotFound"), "{reasons:?}");
    assert_eq!(topics.attempts.load(Ordering::SeqCst), 2);
    assert_eq!(queue.ids(), ["m-00", "m-01"], "nothing deleted");
    assert_eq!(queue.in_flight(), 0);
}

#[tokio::test]
async fn a_lost_delete_keeps_the_message_and_says_so() {
    let queue = FakeQueue::with(&[notification("h-1")]);
    queue.fail_deletes.store(true, Ordering::SeqCst);
    let topics = FakeTopics::default();
    let (summary, _) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.failed), (0, 1));
    assert_eq!(topics.published().len(), 1);
    let MessageOutcome::Failed(reason) = &summary.problems[0].outcome else {
        panic!("expected a failure");
    };
    assert!(reason.contains("not deleted") && reason.contains("connection reset"));
    assert_eq!(queue.ids(), ["m-00"]);
    assert_eq!(queue.in_flight(), 0, "released for the next run");
}

#[tokio::test]
async fn a_message_reappearing_mid_run_is_not_delivered_twice() {
    let bodies: Vec<String> = (0..15).map(|i| notification(&format!("h-{i}"))).collect();
    let queue = FakeQueue::with(&bodies);
    *queue.reappear.lock().unwrap() = Some("m-00".into());
    let topics = FakeTopics::answering(|envelope| {
        if envelope["household_id"] == "h-0" {
            refused("InternalError")
        } else {
            Ok(())
        }
    });
    let (summary, reports) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.failed), (14, 1));
    assert_eq!(reports.len(), 15);
    assert_eq!(topics.attempts.load(Ordering::SeqCst), 15);
    assert_eq!(queue.ids(), ["m-00"]);
    assert_eq!(queue.in_flight(), 0, "its latest receipt was released");
    assert!(queue.receive_count("m-00") >= 2);
}

#[tokio::test]
async fn stop_finishes_the_message_at_hand_and_releases_the_rest() {
    let bodies: Vec<String> = (0..8).map(|i| notification(&format!("h-{i}"))).collect();
    let queue = FakeQueue::with(&bodies);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_after_three = stop.clone();
    let topics = FakeTopics::answering(move |envelope| {
        if envelope["household_id"] == "h-2" {
            stop_after_three.store(true, Ordering::SeqCst);
        }
        Ok(())
    });
    let (summary, _) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        stop,
    )
    .await;
    assert_eq!(summary.republished, 3);
    assert!(summary.stopped_early);
    assert_eq!(queue.ids().len(), 5);
    assert_eq!(queue.in_flight(), 0);
}

#[tokio::test]
async fn messages_in_the_wrong_queue_are_skipped_not_deleted() {
    let queue = FakeQueue::with(&[
        rule_error("COOKING_REQUESTED/h-1/oven-1"),
        notification("h-2"),
    ]);
    let topics = FakeTopics::default();
    let (summary, _) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.skipped), (1, 1));
    assert_eq!(queue.ids(), ["m-00"]);

    let topics = FakeTopics::default();
    let (summary, _) = run(
        &FakeQueue::with(&[notification("h-3")]),
        &topics_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!(summary.skipped, 1);
    assert!(topics.published().is_empty());
}

/// What an event's rejection rule writes into the rejected-device-messages queue.
fn rejected(topic: &str, message: &[u8], unreadable: &[&str]) -> String {
    json!({
        "ruleName": "postoffice_COOKING_REQUESTED_rejected",
        "topic": topic,
        "clientId": "oven-1",
        "traceId": "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4",
        "receivedAt": "2026-11-23T20:00:00.012Z",
        "unreadable": unreadable,
        "base64OriginalPayload": base64::engine::general_purpose::STANDARD.encode(message),
    })
    .to_string()
}

/// A rejected device message that ends up in a queue that is redriven is not delivered: nothing
/// could read it. Even when the library reads it (a braced UUID), it is kept.
#[tokio::test]
async fn rejected_device_messages_are_never_delivered_from_any_queue() {
    let braced = br#"{"event_id":"{6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11}","payload":{}}"#;
    let queue = FakeQueue::with(&[
        rejected("COOKING_REQUESTED/h-1/oven-1", braced, &["event_id"]),
        notification("h-2"),
    ]);
    let topics = FakeTopics::default();
    let (summary, reports) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.skipped), (1, 1));
    let skipped = &reports[0];
    assert_eq!(skipped.event.as_deref(), Some("COOKING_REQUESTED"));
    assert_eq!(skipped.household_id.as_deref(), Some("h-1"));
    let MessageOutcome::Skipped(reason) = &skipped.outcome else {
        panic!("{skipped:?}");
    };
    assert!(
        reason.contains("cannot be delivered as it is")
            && reason.contains("docs/runbook.md#rejected-device-messages"),
        "{reason}"
    );
    assert_eq!(topics.published().len(), 1);
    assert_eq!(queue.ids(), ["m-00"]);

    let topics = FakeTopics::default();
    let queue = FakeQueue::with(&[rejected(
        "COOKING_REQUESTED/h-1/oven-1",
        braced,
        &["event_id"],
    )]);
    let (summary, _) = run(
        &queue,
        &topics_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!(summary.skipped, 1);
    assert!(topics.published().is_empty());
    assert_eq!(queue.ids(), ["m-00"]);
}

#[tokio::test]
async fn rule_errors_are_published_with_filter_attributes() {
    let queue = FakeQueue::with(&[
        rule_error("COOKING_REQUESTED/h-1/oven-1"),
        rule_error("COOKING_FINISHED/h-1/oven-1"),
    ]);
    let topics = FakeTopics::default();
    let options = RedriveOptions {
        filters: vec!["event=COOKING_FINISHED".parse().unwrap()],
        ..RedriveOptions::default()
    };
    let (summary, _) = run(
        &queue,
        &topics_destination(&topics),
        &options,
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.not_matching), (1, 1));
    let published = topics.published();
    let Published {
        topic_arn,
        attributes,
        ..
    } = &published[0];
    assert_eq!(
        topic_arn,
        "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED"
    );
    let envelope = published[0].envelope();
    assert_eq!(envelope["source"], "oven-1");
    assert_eq!(envelope["payload"], json!({"a": 1}));
    let string = |value: &str| MessageAttribute {
        data_type: "String".into(),
        value: value.into(),
    };
    assert_eq!(attributes["event"], string("COOKING_FINISHED"));
    assert_eq!(attributes["household_id"], string("h-1"));
    assert_eq!(attributes["device_id"], string("oven-1"));
    assert_eq!(queue.ids(), ["m-00"]);
}

#[tokio::test]
async fn peek_reads_without_keeping_anything() {
    let queue = FakeQueue::with(&[notification("h-1"), "junk".into(), notification("h-2")]);
    let peeked = redrive::peek(&queue, "q", 2, &RedriveOptions::default())
        .await
        .unwrap();
    assert_eq!(peeked.len(), 2);
    assert!(peeked[1].1.is_err(), "junk is reported, not dropped");
    assert_eq!(queue.ids().len(), 3);
    assert_eq!(queue.in_flight(), 0);
}

#[tokio::test]
async fn peek_reports_malformed_rejected_messages_with_the_others() {
    let mut no_parts: Value = serde_json::from_str(&rejected(
        "COOKING_REQUESTED/h-1/oven-1",
        b"{}",
        &["payload"],
    ))
    .unwrap();
    no_parts["unreadable"] = json!([]);
    let queue = FakeQueue::with(&[
        rejected("COOKING_REQUESTED/h-1/oven-1", b"\xff\xfe", &["payload"]),
        no_parts.to_string(),
        "{\"unreadable\": [\"payload\"]}".into(),
        rejected("COOKING_REQUESTED/h-2/oven-2", b"[]", &["payload"]),
    ]);
    let peeked = redrive::peek(&queue, "q", 10, &RedriveOptions::default())
        .await
        .unwrap();
    assert_eq!(peeked.len(), 4, "every message is reported");
    let reasons: Vec<String> = peeked
        .iter()
        .map(|(_, decoded)| match decoded {
            Ok(dead_letter) => format!("ok {}", dead_letter.household_id()),
            Err(error) => error.to_string(),
        })
        .collect();
    assert_eq!(reasons[0], "ok h-1");
    assert!(reasons[1].contains("names no part"), "{reasons:?}");
    assert!(reasons[2].contains("missing field"), "{reasons:?}");
    assert_eq!(reasons[3], "ok h-2");
    assert_eq!(queue.ids().len(), 4);
    assert_eq!(queue.in_flight(), 0);
}

#[test]
fn derives_the_topic_arn_prefix_from_the_queue_arn() {
    assert_eq!(
        topic_arn_prefix(
            "arn:aws:sqs:eu-west-1:123456789012:postoffice-rule-errors",
            "postoffice"
        )
        .unwrap(),
        "arn:aws:sns:eu-west-1:123456789012:postoffice-"
    );
    assert_eq!(
        topic_arn_prefix(
            "arn:aws-cn:sqs:cn-north-1:123456789012:po-rule-errors",
            "po"
        )
        .unwrap(),
        "arn:aws-cn:sns:cn-north-1:123456789012:po-"
    );
    let error = topic_arn_prefix("postoffice-rule-errors", "postoffice")
        .unwrap_err()
        .to_string();
    assert!(error.contains("POSTOFFICE_TOPIC_ARN_PREFIX"), "{error}");
}

fn refusals(summary: &redrive::Summary) -> Vec<String> {
    summary
        .problems
        .iter()
        .filter_map(|problem| match &problem.outcome {
            MessageOutcome::Refused(reason) => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// Issue 15, item 7: whoever can write to a consumer's DLQ must not deliver through redrive what
/// its bridge would refuse. Before, all four were invoked and deleted.
#[tokio::test]
async fn notifications_that_are_not_genuine_or_not_from_their_topic_are_refused_and_kept() {
    let genuine = notification("h-ok");
    let mut tampered: Value = serde_json::from_str(&notification("h-tampered")).unwrap();
    tampered["Message"] = json!(envelope("COOKING_REQUESTED", "h-victim").to_string());
    let cross_event = signed_notification(
        &format!("{TOPIC_ARN_PREFIX}COOKING_REQUESTED"),
        &envelope("COOKING_FINISHED", "h-cross"),
        "sns-cross",
    );
    let other_account = signed_notification(
        "arn:aws:sns:eu-west-1:999999999999:postoffice-COOKING_REQUESTED",
        &envelope("COOKING_REQUESTED", "h-stranger"),
        "sns-stranger",
    );
    let mut unsigned: Value = serde_json::from_str(&notification("h-unsigned")).unwrap();
    unsigned.as_object_mut().unwrap().remove("Signature");
    let queue = FakeQueue::with(&[
        genuine,
        tampered.to_string(),
        cross_event.to_http_json(),
        other_account.to_http_json(),
        unsigned.to_string(),
    ]);
    let topics = FakeTopics::default();
    let (summary, _) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.refused), (1, 4));
    let reasons = refusals(&summary);
    assert!(reasons[0].starts_with("signature-mismatch"), "{reasons:?}");
    assert!(
        reasons[1].contains("says COOKING_FINISHED but it came from topic"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("999999999999"), "{reasons:?}");
    assert!(
        reasons[3].contains("not a signed SNS message") && reasons[3].contains("Signature"),
        "{reasons:?}"
    );
    let published = topics.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].topic_arn, REDRIVE_TOPIC);
    assert_eq!(published[0].envelope()["household_id"], "h-ok");
    assert_eq!(queue.ids(), ["m-01", "m-02", "m-03", "m-04"]);
    assert_eq!(queue.in_flight(), 0);
}

/// A certificate that cannot be fetched now says nothing about the message: it stays, failed
/// (not refused), to be tried again.
#[tokio::test]
async fn a_notification_that_cannot_be_verified_now_fails_and_stays() {
    let mut message = SnsMessage::parse(notification("h-1").as_bytes()).unwrap();
    authority()
        .sign_with_url(
            &mut message,
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-unreachable.pem",
        )
        .unwrap();
    let queue = FakeQueue::with(&[message.to_http_json()]);
    let topics = FakeTopics::default();
    let (summary, _) = run(
        &queue,
        &consumer_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.failed, summary.refused), (1, 0));
    let MessageOutcome::Failed(reason) = &summary.problems[0].outcome else {
        panic!("{:?}", summary.problems);
    };
    assert!(reason.starts_with("certificate-unavailable"), "{reason}");
    assert_eq!(topics.attempts.load(Ordering::SeqCst), 0);
    assert_eq!(queue.ids(), ["m-00"]);
}

/// Issue 15, item 7: a rule-errors message is republished as IoT Core would have published it,
/// so only events actors publish, failed in their own rule. Before, all three were published.
#[tokio::test]
async fn rule_errors_of_events_actors_do_not_publish_or_of_another_rule_are_refused() {
    let queue = FakeQueue::with(&[
        rule_error("COOKING_REQUESTED/h-1/oven-1"),
        rule_error("FIRMWARE_UPDATE_OFFERED/h-victim/oven-1"),
        rule_error_of(
            "postoffice_COOKING_FINISHED",
            "COOKING_REQUESTED/h-1/oven-1",
        ),
        rule_error("COOKING_TELEPORTED/h-1/oven-1"),
    ]);
    let topics = FakeTopics::default();
    let dry = RedriveOptions {
        dry_run: true,
        ..RedriveOptions::default()
    };
    let (dry_summary, _) = run(&queue, &topics_destination(&topics), &dry, Arc::default()).await;
    assert_eq!((dry_summary.would_redrive, dry_summary.refused), (1, 3));

    let (summary, _) = run(
        &queue,
        &topics_destination(&topics),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.republished, summary.refused), (1, 3));
    let reasons = refusals(&summary);
    assert!(
        reasons[0].contains("FIRMWARE_UPDATE_OFFERED is not an event actors publish"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("not in postoffice_COOKING_REQUESTED"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("not in the event catalog"),
        "{reasons:?}"
    );
    let published = topics.published();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].topic_arn,
        format!("{TOPIC_ARN_PREFIX}COOKING_REQUESTED")
    );
    assert_eq!(queue.ids(), ["m-01", "m-02", "m-03"]);
}
