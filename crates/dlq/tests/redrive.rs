//! The redrive loop against in-memory fakes of the ports: the cases a real queue makes hard to
//! provoke (a lost delete, a message reappearing mid-run, throttling, messages in the wrong queue).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use postoffice_dlq::message::ReceivedMessage;
use postoffice_dlq::ports::{Invoke, InvokeAnswer, PortError, Publish, Queues};
use postoffice_dlq::queue::QueueDepth;
use postoffice_dlq::redrive::{
    self, Destination, MessageOutcome, MessageReport, RedriveOptions, topic_arn_prefix,
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
        if let Some(id) = self.reappear.lock().unwrap().clone() {
            if let Some(stored) = messages.get_mut(&id) {
                if stored.receipt.is_some() {
                    batch.push(self.hand_out(&id, stored));
                }
            }
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

struct FakeHandler {
    answer: Box<dyn Fn(&Value) -> InvokeAnswer + Send + Sync>,
    invocations: Mutex<Vec<Value>>,
}

impl FakeHandler {
    fn new(answer: impl Fn(&Value) -> InvokeAnswer + Send + Sync + 'static) -> Self {
        Self {
            answer: Box::new(answer),
            invocations: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Invoke for FakeHandler {
    async fn invoke(&self, _: &str, payload: Vec<u8>) -> InvokeAnswer {
        let payload: Value = serde_json::from_slice(&payload).unwrap();
        let answer = (self.answer)(&payload);
        self.invocations.lock().unwrap().push(payload);
        answer
    }
}

/// Topic ARN, envelope and message attributes of one publish.
type Published = (String, Value, BTreeMap<String, String>);

#[derive(Default)]
struct FakeTopics {
    published: Mutex<Vec<Published>>,
}

#[async_trait]
impl Publish for FakeTopics {
    async fn publish(
        &self,
        topic_arn: &str,
        message: String,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), PortError> {
        self.published.lock().unwrap().push((
            topic_arn.to_owned(),
            serde_json::from_str(&message).unwrap(),
            attributes,
        ));
        Ok(())
    }
}

fn handled() -> InvokeAnswer {
    InvokeAnswer::Completed {
        function_error: None,
        payload: b"{}".to_vec(),
    }
}

fn notification(household: &str) -> String {
    let envelope = json!({
        "event": "COOKING_REQUESTED",
        "event_id": "6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11",
        "household_id": household,
        "device_id": "oven-1",
        "occurred_at": "2026-11-23T20:00:00.000Z",
        "source": "oven-1",
        "correlation_id": "6a0c8c3e-9d4f-4a8e-8f43-2b1a7c1d0e11",
        "schema_version": 1,
        "payload": {}
    });
    json!({
        "Type": "Notification",
        "MessageId": format!("sns-{household}"),
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
        "Message": envelope.to_string(),
        "Timestamp": "2026-11-23T20:00:00.000Z"
    })
    .to_string()
}

fn rule_error(topic: &str) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(r#"{"payload":{"a":1}}"#);
    json!({"ruleName": "postoffice_X", "topic": topic, "clientId": "oven-1", "base64OriginalPayload": payload, "failures": []}).to_string()
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

fn handler_destination(handler: &FakeHandler) -> Destination<'_> {
    Destination::Handler {
        function: "postoffice-kitchen-handler".into(),
        invoker: handler,
    }
}

#[tokio::test]
async fn a_lost_delete_keeps_the_message_and_says_so() {
    let queue = FakeQueue::with(&[notification("h-1")]);
    queue.fail_deletes.store(true, Ordering::SeqCst);
    let handler = FakeHandler::new(|_| handled());
    let (summary, _) = run(
        &queue,
        &handler_destination(&handler),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.redriven, summary.failed), (0, 1));
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
    let handler = FakeHandler::new(|payload| {
        if payload["envelope"]["household_id"] == "h-0" {
            InvokeAnswer::Completed {
                function_error: Some("Unhandled".into()),
                payload: br#"{"errorType":"Retryable","errorMessage":"db down"}"#.to_vec(),
            }
        } else {
            handled()
        }
    });
    let (summary, reports) = run(
        &queue,
        &handler_destination(&handler),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.redriven, summary.failed), (14, 1));
    assert_eq!(reports.len(), 15);
    assert_eq!(handler.invocations.lock().unwrap().len(), 15);
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
    let handler = FakeHandler::new(move |payload| {
        if payload["envelope"]["household_id"] == "h-2" {
            stop_after_three.store(true, Ordering::SeqCst);
        }
        handled()
    });
    let (summary, _) = run(
        &queue,
        &handler_destination(&handler),
        &RedriveOptions::default(),
        stop,
    )
    .await;
    assert_eq!(summary.redriven, 3);
    assert!(summary.stopped_early);
    assert_eq!(queue.ids().len(), 5);
    assert_eq!(queue.in_flight(), 0);
}

#[tokio::test]
async fn classifies_throttles_and_invoke_failures_as_failures() {
    let queue = FakeQueue::with(&[notification("h-1"), notification("h-2")]);
    let handler = FakeHandler::new(
        |payload| match payload["envelope"]["household_id"].as_str() {
            Some("h-1") => InvokeAnswer::Throttled("Rate exceeded".into()),
            _ => InvokeAnswer::Failed("ResourceNotFoundException".into()),
        },
    );
    let (summary, _) = run(
        &queue,
        &handler_destination(&handler),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!(summary.failed, 2);
    let reasons: Vec<String> = summary
        .problems
        .iter()
        .map(|p| match &p.outcome {
            MessageOutcome::Failed(reason) => reason.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        reasons[0].contains("throttled: Rate exceeded"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("retryable: ResourceNotFoundException"),
        "{reasons:?}"
    );
    assert_eq!(queue.ids().len(), 2);
}

#[tokio::test]
async fn messages_in_the_wrong_queue_are_skipped_not_deleted() {
    let queue = FakeQueue::with(&[
        rule_error("COOKING_REQUESTED/h-1/oven-1"),
        notification("h-2"),
    ]);
    let handler = FakeHandler::new(|_| handled());
    let (summary, _) = run(
        &queue,
        &handler_destination(&handler),
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!((summary.redriven, summary.skipped), (1, 1));
    assert_eq!(queue.ids(), ["m-00"]);

    let topics = FakeTopics::default();
    let (summary, _) = run(
        &FakeQueue::with(&[notification("h-3")]),
        &Destination::Topics {
            topic_arn_prefix: "arn:aws:sns:eu-west-1:123456789012:postoffice-".into(),
            publisher: &topics,
        },
        &RedriveOptions::default(),
        Arc::default(),
    )
    .await;
    assert_eq!(summary.skipped, 1);
    assert!(topics.published.lock().unwrap().is_empty());
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
        &Destination::Topics {
            topic_arn_prefix: "arn:aws:sns:eu-west-1:123456789012:postoffice-".into(),
            publisher: &topics,
        },
        &options,
        Arc::default(),
    )
    .await;
    assert_eq!((summary.redriven, summary.not_matching), (1, 1));
    let published = topics.published.lock().unwrap();
    let (arn, envelope, attributes) = &published[0];
    assert_eq!(
        arn,
        "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED"
    );
    assert_eq!(envelope["source"], "oven-1");
    assert_eq!(envelope["payload"], json!({"a": 1}));
    assert_eq!(attributes["event"], "COOKING_FINISHED");
    assert_eq!(attributes["household_id"], "h-1");
    assert_eq!(attributes["device_id"], "oven-1");
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
