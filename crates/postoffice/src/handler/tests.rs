//! The handler core with a fake publisher and the in-memory idempotency store, against the
//! repository's event catalog.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::{Value, json};

use super::testing::{RecordingPublisher, invocation};
use super::*;
use crate::envelope::Envelope;
use crate::invocation::HandlerInvocation;

const COOKING_REQUESTED: &[u8] = include_bytes!("fixtures/cooking_requested.json");
const COOKING_REQUESTED_INVALID: &[u8] =
    include_bytes!("fixtures/cooking_requested_invalid_payload.json");
const DEVICE_TELEMETRY_REPORTED: &[u8] = include_bytes!("fixtures/device_telemetry_reported.json");

const PREFIX: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";

#[derive(Debug, Deserialize)]
#[serde(tag = "event", content = "payload")]
enum OvenEvent {
    #[serde(rename = "COOKING_REQUESTED")]
    CookingRequested(CookingRequest),
}

#[derive(Debug, Deserialize)]
struct CookingRequest {
    program: String,
    temperature_c: u32,
    duration_s: u32,
}

/// What the test handler does with a request.
#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    FailRetryable,
    FailPermanent,
    PublishUnknownEvent,
    PublishInvalidPayload,
    ReplyTwice,
}

struct Oven {
    behaviour: Behaviour,
    calls: AtomicUsize,
}

impl Oven {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            calls: AtomicUsize::new(0),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn accepted() -> Value {
    json!({
        "status": "accepted",
        "estimated_start_at": "2026-11-23T20:05:00Z",
        "estimated_finish_at": "2026-11-23T20:50:00Z"
    })
}

impl Handler for Oven {
    const CONSUMER: &'static str = "kitchen";
    type Event = OvenEvent;

    async fn handle(&self, event: OvenEvent, ctx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let OvenEvent::CookingRequested(request) = event;
        match self.behaviour {
            Behaviour::Accept => {
                ctx.reply(&accepted())?;
                ctx.publish(
                    "COOKING_STARTED",
                    &json!({
                        "program": request.program,
                        "temperature_c": request.temperature_c,
                        "duration_s": request.duration_s,
                        "started_at": "2026-11-23T20:05:00Z",
                        "estimated_finish_at": "2026-11-23T20:50:00Z"
                    }),
                )?;
            }
            Behaviour::FailRetryable => {
                ctx.reply(&accepted())?;
                Err(std::io::Error::other("oven registry unreachable"))?;
            }
            Behaviour::FailPermanent => {
                return Err(HandlerError::permanent("oven was decommissioned"));
            }
            Behaviour::PublishUnknownEvent => {
                ctx.reply(&accepted())?;
                ctx.publish("COOKING_TELEPORTED", &json!({}))?;
            }
            Behaviour::PublishInvalidPayload => {
                ctx.reply(&accepted())?;
                ctx.publish("COOKING_STARTED", &json!({"program": "bake"}))?;
            }
            Behaviour::ReplyTwice => {
                ctx.reply(&accepted())?;
                ctx.reply(&json!({"status": "rejected", "reason": "busy"}))?;
            }
        }
        Ok(())
    }
}

struct Setup {
    consumer: Consumer<Oven>,
    publisher: Arc<RecordingPublisher>,
}

fn setup(behaviour: Behaviour) -> Setup {
    let publisher = Arc::new(RecordingPublisher::default());
    let consumer = Consumer::new(Oven::new(behaviour), publisher.clone(), PREFIX);
    Setup {
        consumer,
        publisher,
    }
}

fn fixture(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("fixture is JSON")
}

fn request() -> HandlerInvocation {
    serde_json::from_slice(COOKING_REQUESTED).unwrap()
}

#[test]
fn fixtures_round_trip() {
    for bytes in [
        COOKING_REQUESTED,
        COOKING_REQUESTED_INVALID,
        DEVICE_TELEMETRY_REPORTED,
    ] {
        let parsed: HandlerInvocation = serde_json::from_slice(bytes).unwrap();
        let again: HandlerInvocation =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);
        assert_eq!(serde_json::to_value(&again).unwrap(), fixture(bytes));
    }
}

#[tokio::test]
async fn a_request_is_answered_and_followed_up_in_the_same_conversation() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    let request = request().envelope;

    let handled = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap();

    assert_eq!(handled.event_id, request.event_id);
    assert!(!handled.duplicate);
    let sent = publisher.sent();
    let topics: Vec<&str> = sent.iter().map(|p| p.topic_arn.as_str()).collect();
    assert_eq!(
        topics,
        [
            "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED",
            "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED"
        ]
    );
    let envelopes = publisher.envelopes();
    assert_eq!(
        handled.published,
        envelopes.iter().map(|e| e.event_id).collect::<Vec<_>>()
    );
    for (publication, envelope) in sent.iter().zip(&envelopes) {
        assert_eq!(envelope.household_id, "h-1");
        assert_eq!(envelope.device_id, "oven-1");
        assert_eq!(envelope.source, "kitchen");
        assert_eq!(envelope.correlation_id, request.correlation_id);
        assert_ne!(envelope.correlation_id, request.event_id);
        assert_eq!(envelope.causation_id, Some(request.event_id));
        assert_ne!(envelope.event_id, request.event_id);
        assert_eq!(publication.attributes["event"], envelope.event);
        assert_eq!(publication.attributes["household_id"], "h-1");
        assert_eq!(publication.attributes["device_id"], "oven-1");
        assert_eq!(publication.attributes.len(), 3);
    }
    assert_eq!(envelopes[0].event, "COOKING_REPLIED");
    assert_eq!(envelopes[0].payload, accepted());
    assert_eq!(envelopes[1].payload["temperature_c"], 230);
}

#[tokio::test]
async fn a_schema_invalid_payload_is_permanent_and_never_reaches_the_handler() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED_INVALID))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(error.message().contains("COOKING_REQUESTED"), "{error}");
    assert!(error.message().contains("/temperature_c"), "{error}");
    assert!(error.message().contains("duration_s"), "{error}");
    assert_eq!(consumer.handler().calls(), 0);
    assert!(publisher.sent().is_empty());
}

#[tokio::test]
async fn an_event_not_in_the_catalog_is_permanent() {
    let Setup { consumer, .. } = setup(Behaviour::Accept);
    let mut value = fixture(COOKING_REQUESTED);
    value["envelope"]["event"] = json!("COOKING_TELEPORTED");
    value["delivery"]["topic_arn"] = json!(format!("{PREFIX}COOKING_TELEPORTED"));
    let error = consumer.handle_invocation(value).await.unwrap_err();
    assert!(error.is_permanent());
    assert!(
        error.message().contains("not in the event catalog"),
        "{error}"
    );
}

#[tokio::test]
async fn an_event_the_handler_does_not_read_is_permanent_with_a_helpful_message() {
    let Setup { consumer, .. } = setup(Behaviour::Accept);
    let error = consumer
        .handle_invocation(fixture(DEVICE_TELEMETRY_REPORTED))
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    let message = error.message();
    assert!(
        message.contains("kitchen cannot read DEVICE_TELEMETRY_REPORTED"),
        "{message}"
    );
    assert!(message.contains("COOKING_REQUESTED"), "{message}");
    assert_eq!(consumer.handler().calls(), 0);
}

#[tokio::test]
async fn malformed_invocations_are_permanent() {
    let Setup { consumer, .. } = setup(Behaviour::Accept);
    let error = consumer
        .handle_invocation(json!({"Records": []}))
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    assert!(
        error.message().contains("not a handler invocation"),
        "{error}"
    );

    let mut value = fixture(COOKING_REQUESTED);
    value["envelope"]["household_id"] = json!("h/1");
    let error = consumer.handle_invocation(value).await.unwrap_err();
    assert!(error.is_permanent());
    assert!(error.message().contains("household id"), "{error}");
}

#[tokio::test]
async fn a_handler_error_is_retryable_by_default_and_sends_nothing() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::FailRetryable);
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert_eq!(error.message(), "oven registry unreachable");
    assert!(publisher.sent().is_empty(), "queued reply must not be sent");
}

#[tokio::test]
async fn a_handler_error_marked_permanent_is_permanent() {
    let Setup { consumer, .. } = setup(Behaviour::FailPermanent);
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert_eq!(error.message(), "oven was decommissioned");
}

#[tokio::test]
async fn publishing_an_unknown_event_fails_before_anything_is_sent() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::PublishUnknownEvent);
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    assert!(error.message().contains("COOKING_TELEPORTED"), "{error}");
    assert!(publisher.sent().is_empty());
}

#[tokio::test]
async fn publishing_an_invalid_payload_fails_before_anything_is_sent() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::PublishInvalidPayload);
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    assert!(error.message().contains("cannot publish"), "{error}");
    assert!(error.message().contains("COOKING_STARTED"), "{error}");
    assert!(publisher.sent().is_empty());
}

#[tokio::test]
async fn replying_to_an_event_that_is_not_a_request_is_permanent() {
    struct Telemetry;
    impl Handler for Telemetry {
        const CONSUMER: &'static str = "telemetry";
        type Event = Value;
        async fn handle(&self, _: Value, ctx: &mut Context<'_>) -> Result<(), HandlerError> {
            ctx.reply(&json!({}))?;
            Ok(())
        }
    }
    let publisher = Arc::new(RecordingPublisher::default());
    let consumer = Consumer::new(Telemetry, publisher.clone(), PREFIX);
    let error = consumer
        .handle_invocation(fixture(DEVICE_TELEMETRY_REPORTED))
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    assert!(
        error
            .message()
            .contains("cannot reply to DEVICE_TELEMETRY_REPORTED"),
        "{error}"
    );
    assert!(publisher.sent().is_empty());
}

#[tokio::test]
async fn a_failed_publish_is_retryable() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    publisher.fail_next("Throttling: Rate exceeded");
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(error.message().contains("Rate exceeded"), "{error}");
    assert!(
        error.message().contains("postoffice-COOKING_REPLIED"),
        "{error}"
    );
}

#[tokio::test]
async fn a_retry_publishes_the_same_event_ids() {
    let first = setup(Behaviour::Accept);
    let second = setup(Behaviour::Accept);
    let a = first
        .consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap();
    let b = second
        .consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap();
    assert_eq!(a.published, b.published);
    assert_eq!(a.published.len(), 2);
    assert_ne!(a.published[0], a.published[1]);

    // Two replies of one attempt still get distinct ids.
    let twice = setup(Behaviour::ReplyTwice);
    let handled = twice
        .consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap();
    assert_ne!(handled.published[0], handled.published[1]);
}

#[tokio::test]
async fn duplicate_event_ids_are_handled_once() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    let store = Arc::new(InMemoryIdempotencyStore::default());
    let consumer = consumer.with_idempotency(store);

    let first = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap();
    // SNS delivers the same message again (a new SNS message id, the same event id).
    let again = invocation(&request().envelope);
    let second = consumer.handle_invocation(again).await.unwrap();

    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert!(second.published.is_empty());
    assert_eq!(consumer.handler().calls(), 1);
    assert_eq!(publisher.sent().len(), 2);

    // A different event of the same conversation is not a duplicate.
    let mut other: Envelope = request().envelope;
    other.event_id = uuid::Uuid::new_v4();
    let third = consumer
        .handle_invocation(invocation(&other))
        .await
        .unwrap();
    assert!(!third.duplicate);
    assert_eq!(consumer.handler().calls(), 2);
}

/// Devices choose event ids: another household's device reusing one must not get that
/// household's event skipped as a duplicate (nor its own).
#[tokio::test]
async fn the_same_event_id_from_another_household_or_device_is_not_a_duplicate() {
    let Setup { consumer, .. } = setup(Behaviour::Accept);
    let consumer = consumer.with_idempotency(Arc::new(InMemoryIdempotencyStore::default()));
    let original = request().envelope;
    let first = consumer
        .handle_invocation(invocation(&original))
        .await
        .unwrap();
    assert!(!first.duplicate);

    let mut other_household = original.clone();
    other_household.household_id = "h-someone-else".into();
    let mut other_device = original.clone();
    other_device.device_id = "oven-2".into();
    for envelope in [other_household, other_device] {
        let handled = consumer
            .handle_invocation(invocation(&envelope))
            .await
            .unwrap();
        assert!(
            !handled.duplicate,
            "{}/{}",
            envelope.household_id, envelope.device_id
        );
    }
    assert!(
        consumer
            .handle_invocation(invocation(&original))
            .await
            .unwrap()
            .duplicate
    );
    assert_eq!(consumer.handler().calls(), 3);
}

/// A service allowed to publish COOKING_REPLIED could put any event in the envelope it publishes
/// there; the library refuses an envelope whose event is not its topic's.
#[tokio::test]
async fn an_envelope_on_the_topic_of_another_event_is_permanent_and_never_handled() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    let mut invocation = fixture(COOKING_REQUESTED);
    invocation["delivery"]["topic_arn"] = json!(format!("{PREFIX}COOKING_FINISHED"));
    let error = consumer.handle_invocation(invocation).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.message().contains(&format!(
            "says COOKING_REQUESTED but arrived on topic {PREFIX}COOKING_FINISHED"
        )),
        "{}",
        error.message()
    );

    let mut foreign = fixture(COOKING_REQUESTED);
    foreign["delivery"]["topic_arn"] =
        json!("arn:aws:sns:eu-west-1:999999999999:postoffice-COOKING_REQUESTED");
    let error = consumer.handle_invocation(foreign).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Permanent,
        "another account's topic"
    );
    assert_eq!(consumer.handler().calls(), 0);
    assert!(publisher.sent().is_empty());
}

/// The consumer's redrive topic carries its own events, and nothing else; without one
/// configured, no redrive topic is accepted.
#[tokio::test]
async fn the_redrive_topic_carries_the_consumers_own_events_only() {
    let redrive_topic = format!("{PREFIX}kitchen-redrive");
    let on_redrive_topic = || {
        let mut invocation = fixture(COOKING_REQUESTED);
        invocation["delivery"]["topic_arn"] = json!(redrive_topic);
        invocation
    };
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    let error = consumer
        .handle_invocation(on_redrive_topic())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent, "no redrive topic set");
    assert_eq!(consumer.handler().calls(), 0);

    let redrive = |events: &[&str]| RedriveTopic {
        topic_arn: redrive_topic.clone(),
        events: events.iter().map(|e| e.to_string()).collect(),
    };
    let consumer = consumer.with_redrive_topic(redrive(&["COOKING_FINISHED"]));
    let error = consumer
        .handle_invocation(on_redrive_topic())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.message().contains(
            "says COOKING_REQUESTED, which consumer kitchen does not subscribe to, and arrived on its redrive topic"
        ),
        "{}",
        error.message()
    );
    assert_eq!(consumer.handler().calls(), 0);

    let consumer = consumer.with_redrive_topic(redrive(&["COOKING_FINISHED", "COOKING_REQUESTED"]));
    let handled = consumer
        .handle_invocation(on_redrive_topic())
        .await
        .unwrap();
    assert!(!handled.duplicate);
    assert_eq!(consumer.handler().calls(), 1);
    assert!(!handled.published.is_empty());
    assert_eq!(
        publisher.sent().len(),
        handled.published.len(),
        "its follow-ups"
    );
    // Another consumer's redrive topic is no topic of this one.
    let mut elsewhere = fixture(COOKING_REQUESTED);
    elsewhere["delivery"]["topic_arn"] = json!(format!("{PREFIX}telemetry-redrive"));
    assert_eq!(
        consumer
            .handle_invocation(elsewhere)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Permanent
    );
}

#[test]
fn the_redrive_topic_is_read_from_the_environment_the_module_sets() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    };
    assert_eq!(RedriveTopic::from_lookup(vars(&[])), None);
    assert_eq!(
        RedriveTopic::from_lookup(vars(&[(REDRIVE_EVENTS_ENV, "COOKING_REQUESTED")])),
        None
    );
    assert_eq!(
        RedriveTopic::from_lookup(vars(&[
            (
                REDRIVE_TOPIC_ARN_ENV,
                " arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive "
            ),
            (REDRIVE_EVENTS_ENV, "COOKING_FINISHED, COOKING_REQUESTED,"),
        ])),
        Some(RedriveTopic {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive".into(),
            events: [
                "COOKING_FINISHED".to_owned(),
                "COOKING_REQUESTED".to_owned()
            ]
            .into(),
        })
    );
}

#[tokio::test]
async fn a_failed_attempt_releases_its_claim_so_the_retry_runs() {
    let Setup {
        consumer,
        publisher,
    } = setup(Behaviour::Accept);
    let consumer = consumer.with_idempotency(Arc::new(InMemoryIdempotencyStore::default()));
    publisher.fail_next("InternalError");

    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    let retry = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap();
    assert!(!retry.duplicate);
    assert_eq!(consumer.handler().calls(), 2);
    assert_eq!(publisher.sent().len(), 2);
}

#[tokio::test]
async fn an_event_being_handled_elsewhere_is_retried_later() {
    let Setup { consumer, .. } = setup(Behaviour::Accept);
    let store = Arc::new(InMemoryIdempotencyStore::default());
    let envelope = request().envelope;
    let key = idempotency_key(
        "kitchen",
        &envelope.household_id,
        &envelope.device_id,
        envelope.event_id,
    );
    assert_eq!(
        store
            .claim(&key, std::time::SystemTime::now())
            .await
            .unwrap(),
        Claim::Acquired
    );
    let consumer = consumer.with_idempotency(store);
    let error = consumer
        .handle_invocation(fixture(COOKING_REQUESTED))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert_eq!(consumer.handler().calls(), 0);
}

#[tokio::test]
async fn follow_ups_carry_their_event_schema_version() {
    let catalog = crate::catalog::Catalog::from_sources([
        (
            "PING_REQUESTED.yaml",
            "name: PING_REQUESTED\ndescription: A device asks for a pong.\n\
             direction: actor-to-backend\nproducers: [device]\nconsumers: [kitchen]\n\
             schema_version: 1\nschema: {type: object}\nexamples: [{}]\n",
        ),
        (
            "PING_REPLIED.yaml",
            "name: PING_REPLIED\ndescription: The pong.\ndirection: backend-to-actor\n\
             producers: [kitchen]\nconsumers: [iot-forwarder]\nschema_version: 3\n\
             schema: {type: object, required: [pong], properties: {pong: {type: boolean}}}\n\
             examples: [{pong: true}]\n",
        ),
    ])
    .unwrap();

    struct Pong;
    impl Handler for Pong {
        const CONSUMER: &'static str = "kitchen";
        type Event = Value;
        async fn handle(&self, _: Value, ctx: &mut Context<'_>) -> Result<(), HandlerError> {
            ctx.reply(&json!({"pong": true}))?;
            Ok(())
        }
    }
    let publisher = Arc::new(RecordingPublisher::default());
    let consumer = Consumer::new(Pong, publisher.clone(), PREFIX).with_schemas(Arc::new(catalog));
    let mut ping = request().envelope;
    ping.event = "PING_REQUESTED".into();
    ping.payload = json!({});
    consumer.handle_invocation(invocation(&ping)).await.unwrap();

    let sent = publisher.envelopes();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event, "PING_REPLIED");
    assert_eq!(sent[0].schema_version, 3);
}
