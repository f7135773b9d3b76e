//! The unpacker as its Lambda runs it: invocations from the bridge through the handler library,
//! a recording SNS publisher and a recording rejected-members queue.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use collection_unpacker::{KeepError, RejectedMembers, Unpacker};
use postoffice::catalog::Catalog;
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::handler::testing::{RecordingPublisher, invocation};
use postoffice::handler::{Consumer, ErrorKind};
use postoffice::topic::Topic;
use postoffice_dlq::message::{DeadLetter, ReceivedMessage};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

const PREFIX: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";
const COLLECTION_ID: &str = "2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d";

#[derive(Default)]
struct RecordingQueue {
    kept: Mutex<Vec<String>>,
    failures: Mutex<u32>,
}

impl RecordingQueue {
    fn kept(&self) -> Vec<Value> {
        self.kept
            .lock()
            .unwrap()
            .iter()
            .map(|body| serde_json::from_str(body).unwrap())
            .collect()
    }

    fn fail_next(&self) {
        *self.failures.lock().unwrap() += 1;
    }
}

#[async_trait]
impl RejectedMembers for RecordingQueue {
    async fn keep(&self, body: String) -> Result<(), KeepError> {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(KeepError("queue unavailable".to_owned()));
        }
        self.kept.lock().unwrap().push(body);
        Ok(())
    }
}

struct Harness {
    consumer: Consumer<Unpacker<Arc<RecordingQueue>>>,
    sns: Arc<RecordingPublisher>,
    queue: Arc<RecordingQueue>,
}

impl Harness {
    fn new() -> Harness {
        let sns = Arc::new(RecordingPublisher::default());
        let queue = Arc::new(RecordingQueue::default());
        let unpacker = Unpacker::new(Catalog::embedded(), sns.clone(), PREFIX, queue.clone());
        Harness {
            consumer: Consumer::new(unpacker, sns.clone(), PREFIX),
            sns,
            queue,
        }
    }
}

/// The envelope the collection rule builds of `{"collection_id", "events": members}` from
/// oven-1 of household h-1.
fn collection(members: Vec<Value>) -> Envelope {
    let topic = Topic::parse("EVENT_COLLECTION/h-1/oven-1").unwrap();
    let message = DeviceMessage {
        event_id: Some(COLLECTION_ID.parse().unwrap()),
        occurred_at: None,
        correlation_id: None,
        causation_id: None,
        schema_version: None,
        payload: json!({ "events": members }),
    };
    let received_at = Utc.timestamp_millis_opt(1_795_464_000_012).unwrap();
    Envelope::from_device_message(&topic, "oven-1", received_at, message)
}

fn telemetry(event_id: Uuid, power_w: u32) -> Value {
    json!({
        "event": "DEVICE_TELEMETRY_REPORTED",
        "event_id": event_id,
        "occurred_at": "2026-11-23T18:10:00.000Z",
        "payload": {"sampled_at": "2026-11-23T18:10:00Z", "cavity_temperature_c": 228.4,
                    "power_w": power_w, "door_open": false}
    })
}

/// What the DEVICE_TELEMETRY_REPORTED rule would have built had oven-1 published `member` alone.
fn alone(member: &Value) -> Envelope {
    let mut message = member.clone();
    message.as_object_mut().unwrap().remove("event");
    let topic = Topic::parse("DEVICE_TELEMETRY_REPORTED/h-1/oven-1").unwrap();
    let received_at = Utc.timestamp_millis_opt(1_795_464_000_012).unwrap();
    Envelope::from_device_message(
        &topic,
        "oven-1",
        received_at,
        serde_json::from_value(message).unwrap(),
    )
}

fn decoded(body: &Value) -> DeadLetter {
    DeadLetter::decode(&ReceivedMessage {
        message_id: "m-1".to_owned(),
        receipt_handle: "r-1".to_owned(),
        body: body.to_string(),
        attributes: BTreeMap::new(),
        sent_at: None,
        receive_count: 1,
    })
    .unwrap()
}

#[tokio::test]
async fn members_reach_their_topics_as_if_each_was_published_alone() {
    let harness = Harness::new();
    let members = vec![
        telemetry(Uuid::from_u128(1), 2150),
        telemetry(Uuid::from_u128(2), 2080),
    ];
    let handled = harness
        .consumer
        .handle_invocation(invocation(&collection(members.clone())))
        .await
        .unwrap();
    assert_eq!(handled.event_id, COLLECTION_ID.parse::<Uuid>().unwrap());
    let sent = harness.sns.sent();
    assert_eq!(sent.len(), 2);
    for (publication, member) in sent.iter().zip(&members) {
        assert_eq!(
            publication.topic_arn,
            format!("{PREFIX}DEVICE_TELEMETRY_REPORTED")
        );
        assert!(
            publication.attributes.is_empty(),
            "as the IoT rule publishes it"
        );
        assert_eq!(
            Envelope::from_json(publication.message.as_bytes()).unwrap(),
            alone(member)
        );
    }
    assert!(harness.queue.kept().is_empty());
}

#[tokio::test]
async fn bad_members_go_to_the_rejected_queue_as_postoffice_dlq_shows_them() {
    let harness = Harness::new();
    let good = telemetry(Uuid::from_u128(1), 2150);
    let not_collectable = json!({"event": "COOKING_REQUESTED", "payload":
        {"program": "bake", "temperature_c": 200, "duration_s": 600}});
    harness
        .consumer
        .handle_invocation(invocation(&collection(vec![
            not_collectable.clone(),
            good.clone(),
            telemetry(Uuid::from_u128(2), 9_000_000),
        ])))
        .await
        .expect("bad members do not fail the collection");
    let published: Vec<Envelope> = harness.sns.envelopes();
    assert_eq!(published, [alone(&good)]);

    let kept = harness.queue.kept();
    assert_eq!(kept.len(), 2);
    let first = &kept[0];
    assert_eq!(first["ruleName"], "collection-unpacker");
    assert_eq!(first["collectionId"], COLLECTION_ID);
    assert_eq!(first["member"], 0);
    assert_eq!(first["unreadable"], json!(["event"]));
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains("may not send COOKING_REQUESTED"),
        "{first}"
    );
    assert_eq!(kept[1]["member"], 2);
    assert_eq!(kept[1]["unreadable"], json!(["payload_schema"]));

    let DeadLetter::Rejected(rejected) = decoded(first) else {
        panic!("{first} is not a rejected device message to postoffice dlq");
    };
    assert_eq!(rejected.topic, "EVENT_COLLECTION/h-1/oven-1");
    assert_eq!(rejected.client_id, "oven-1");
    assert_eq!(rejected.trace_id, None);
    assert_eq!(rejected.unreadable, ["event"]);
    assert_eq!(
        rejected.received_at,
        Utc.timestamp_millis_opt(1_795_464_000_012).unwrap()
    );
    assert_eq!(rejected.collection_id.as_deref(), Some(COLLECTION_ID));
    assert_eq!(rejected.member, Some(0));
    assert_eq!(
        rejected.detail.as_ref(),
        first["detail"].as_str().map(String::from).as_ref()
    );
    let member: Value = serde_json::from_slice(&rejected.original_payload).unwrap();
    assert_eq!(member, not_collectable);
}

#[tokio::test]
async fn a_failed_publish_is_retried_with_the_same_envelopes() {
    let harness = Harness::new();
    let members = vec![
        telemetry(Uuid::from_u128(1), 1),
        telemetry(Uuid::from_u128(2), 2),
        telemetry(Uuid::from_u128(3), 3),
    ];
    let envelope = collection(members.clone());
    harness.sns.fail_next("Throttling");
    let error = harness
        .consumer
        .handle_invocation(invocation(&envelope))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(harness.sns.sent().is_empty());

    harness
        .consumer
        .handle_invocation(invocation(&envelope))
        .await
        .unwrap();
    let expected: Vec<Envelope> = members.iter().map(alone).collect();
    assert_eq!(harness.sns.envelopes(), expected);
}

#[tokio::test]
async fn a_rejected_member_the_queue_does_not_take_fails_the_collection_for_a_retry() {
    let harness = Harness::new();
    let envelope = collection(vec![telemetry(Uuid::from_u128(1), 1), json!(null)]);
    harness.queue.fail_next();
    let error = harness
        .consumer
        .handle_invocation(invocation(&envelope))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(error.message().contains("queue unavailable"), "{error}");
    // The good member went out first; the retry sends it again with the same event id.
    harness
        .consumer
        .handle_invocation(invocation(&envelope))
        .await
        .unwrap();
    let ids: Vec<Uuid> = harness.sns.envelopes().iter().map(|e| e.event_id).collect();
    assert_eq!(ids, [Uuid::from_u128(1), Uuid::from_u128(1)]);
    assert_eq!(harness.queue.kept().len(), 1);
}

#[tokio::test]
async fn only_collections_are_unpacked() {
    let harness = Harness::new();
    let topic = Topic::parse("DEVICE_TELEMETRY_REPORTED/h-1/oven-1").unwrap();
    let single = Envelope::new(
        &topic,
        "oven-1",
        telemetry(Uuid::from_u128(1), 1)["payload"].clone(),
    );
    let error = harness
        .consumer
        .handle_invocation(invocation(&single))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(harness.sns.sent().is_empty());
}

#[tokio::test]
async fn a_collection_larger_than_the_contract_is_refused_whole() {
    let harness = Harness::new();
    let members = (0..101).map(|n| telemetry(Uuid::from_u128(n), 1)).collect();
    let error = harness
        .consumer
        .handle_invocation(invocation(&collection(members)))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(harness.sns.sent().is_empty());
    assert!(harness.queue.kept().is_empty());
}

/// A member the unpacker must reject, whatever it is.
fn bad_member() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,16}".prop_map(Value::String),
        // Events devices may not collect, or not at all.
        Just(
            json!({"event": "COOKING_FINISHED", "payload": {"outcome": "completed",
            "finished_at": "2026-11-23T18:52:10Z", "cooked_s": 2700}})
        ),
        Just(json!({"event": "FIRMWARE_UPDATE_OFFERED", "payload": {}})),
        Just(json!({"event": "EVENT_COLLECTION", "payload": {"events": []}})),
        // A collectable event with a broken part.
        (
            any::<u128>(),
            prop_oneof![
                Just(("event_id", json!("not-a-uuid"))),
                Just(("occurred_at", json!("yesterday"))),
                Just(("schema_version", json!(0))),
                Just(("payload", json!([]))),
                Just(("payload", json!({"power_w": -5}))),
            ]
        )
            .prop_map(|(id, (field, value))| {
                let mut member = telemetry(Uuid::from_u128(id), 1);
                member[field] = value;
                member
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// N valid members in a collection come out as exactly those N envelopes, in order, each
    /// what the event's rule would have built of it alone; bad members anywhere among them are
    /// kept in the queue, one each, and never hold back a good one.
    #[test]
    fn valid_members_are_published_exactly_and_bad_ones_never_block_them(
        good in proptest::collection::vec(0..4000_u32, 0..40),
        bad in proptest::collection::vec((bad_member(), any::<prop::sample::Index>()), 0..20),
    ) {
        // Distinct event ids: a repeated one is a duplicate, which has its own test.
        let good: Vec<Value> = good
            .into_iter()
            .enumerate()
            .map(|(n, power_w)| telemetry(Uuid::from_u128(n as u128 + 1), power_w))
            .collect();
        let mut members = good.clone();
        let mut bad_at = Vec::new();
        for (member, at) in bad {
            let at = at.index(members.len() + 1);
            members.insert(at, member);
            bad_at.iter_mut().filter(|i| **i >= at).for_each(|i| *i += 1);
            bad_at.push(at);
        }
        bad_at.sort_unstable();
        prop_assume!(!members.is_empty());

        let harness = Harness::new();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime
            .block_on(harness.consumer.handle_invocation(invocation(&collection(members))))
            .unwrap();

        let expected: Vec<Envelope> = good.iter().map(alone).collect();
        prop_assert_eq!(harness.sns.envelopes(), expected);
        let kept: Vec<usize> = harness
            .queue
            .kept()
            .iter()
            .map(|body| body["member"].as_u64().unwrap() as usize)
            .collect();
        prop_assert_eq!(kept, bad_at);
    }
}
