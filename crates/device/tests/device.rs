//! The device against a real MQTT broker (mosquitto) over mutual TLS with generated
//! certificates: publishing, the outbox across network cuts, broker restarts and process
//! restarts, request/reply, idle disconnects and the persistent session, refusals.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use postoffice::envelope::{DeviceMessage, Envelope};
use postoffice::topic::Topic;
use postoffice_device::{ConnectionState, Device, DeviceError, OutboxLimits};
use serde_json::json;
use support::{Backend, Broker, Network, Pki, Relay, TIMEOUT, device_config, eventually};

const OVEN: &str = "oven-1";
const OVEN_TOPICS: &str = "+/h-1/oven-1";

async fn wait_for_state(device: &Device, state: ConnectionState) {
    let mut states = device.connection_states();
    tokio::time::timeout(TIMEOUT, states.wait_for(|current| *current == state))
        .await
        .unwrap_or_else(|_| panic!("the device never became {state:?}"))
        .unwrap();
}

fn device_message(delivered: &support::Delivered) -> DeviceMessage {
    serde_json::from_slice(&delivered.payload).unwrap()
}

#[tokio::test]
async fn a_published_event_reaches_the_platform_as_a_device_message_on_its_topic() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, broker.port, OVEN, outbox.path())).unwrap();

    let receipt = device
        .publish("COOKING_FINISHED", json!({"recipe_id": "bread"}))
        .await
        .unwrap();
    let event_id = receipt.event_id();
    receipt.acknowledged().await.unwrap();

    let delivered = backend.next(TIMEOUT).await.expect("the event arrives");
    assert_eq!(delivered.topic, "COOKING_FINISHED/h-1/oven-1");
    let message = device_message(&delivered);
    assert_eq!(message.event_id, Some(event_id));
    assert_eq!(message.payload, json!({"recipe_id": "bread"}));
    assert!(message.occurred_at.is_some());
    // What the IoT rule makes of it.
    let topic = Topic::parse(&delivered.topic).unwrap();
    let envelope = Envelope::from_device_message(&topic, OVEN, Utc::now(), message);
    assert_eq!(envelope.event_id, event_id);
    assert_eq!(envelope.household_id, "h-1");

    let counters = device.counters();
    assert_eq!(counters.connects, 1);
    assert_eq!(counters.messages_sent, 1);
    assert_eq!(counters.events_sent, 1);
    assert_eq!(counters.collections_sent, 0);
    assert_eq!(counters.outbox_depth, 0);
    assert_eq!(
        counters.bytes_sent,
        (delivered.topic.len() + delivered.payload.len()) as u64
    );
    assert_eq!(counters.metered_messages_sent, 1);
}

#[tokio::test]
async fn an_event_keeps_its_id_when_retried_after_the_broker_is_stopped_and_restarted() {
    let pki = Pki::new();
    let mut broker = Broker::start(&pki, None).await;
    let relay = Relay::start(broker.port).await;
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, relay.port, OVEN, outbox.path())).unwrap();
    device.connect().await.unwrap();

    // The PUBLISH leaves the device but never reaches the broker, so no PUBACK comes back.
    relay.set(Network::Blackhole);
    let receipt = device
        .publish("COOKING_FINISHED", json!({"recipe_id": "bread"}))
        .await
        .unwrap();
    let event_id = receipt.event_id();
    eventually("the first attempt is written", || {
        device.counters().messages_sent == 1
    })
    .await;

    broker.stop().await;
    relay.set(Network::Down);
    eventually("reconnects fail while the broker is away", || {
        device.counters().connect_failures >= 2
    })
    .await;
    assert_eq!(device.counters().outbox_depth, 1);

    broker.resume().await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    relay.set(Network::Up);
    tokio::time::timeout(TIMEOUT, receipt.acknowledged())
        .await
        .expect("acknowledged after the restart")
        .unwrap();

    let delivered = backend.next(TIMEOUT).await.expect("the retried event");
    assert_eq!(device_message(&delivered).event_id, Some(event_id));
    let counters = device.counters();
    assert_eq!(counters.messages_sent, 2, "sent twice, one event");
    assert_eq!(counters.events_sent, 1);
    assert_eq!(counters.error_disconnects, 1);
    assert_eq!(counters.outbox_depth, 0);
}

#[tokio::test]
async fn the_outbox_survives_the_device_and_a_new_one_sends_its_events() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let relay = Relay::start(broker.port).await;
    relay.set(Network::Down);
    let outbox = tempfile::tempdir().unwrap();

    let first = Device::start(device_config(&pki, relay.port, OVEN, outbox.path())).unwrap();
    let mut ids = Vec::new();
    for temperature in [180, 200] {
        let receipt = first
            .publish("COOKING_FINISHED", json!({ "temperature_c": temperature }))
            .await
            .unwrap();
        ids.push(receipt.event_id());
    }
    assert_eq!(first.counters().outbox_depth, 2);
    drop(first);

    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    relay.set(Network::Up);
    let second = Device::start(device_config(&pki, relay.port, OVEN, outbox.path())).unwrap();
    eventually("the new device sends what the old one accepted", || {
        second.counters().outbox_depth == 0
    })
    .await;

    let delivered = backend.drain(Duration::from_millis(500)).await;
    let mut seen: Vec<_> = delivered
        .iter()
        .map(|d| device_message(d).event_id.unwrap())
        .collect();
    seen.dedup();
    assert_eq!(
        seen, ids,
        "at least once each, with the ids given at publish"
    );
    assert_eq!(second.counters().events_sent, 2);
}

#[tokio::test]
async fn a_full_outbox_refuses_new_events() {
    let pki = Pki::new();
    let nowhere = postoffice_test_support::free_port();
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, nowhere, OVEN, outbox.path());
    config.outbox_limits = OutboxLimits {
        max_events: 3,
        max_bytes: 1 << 20,
    };
    let device = Device::start(config).unwrap();
    for _ in 0..3 {
        device.publish("COOKING_FINISHED", json!({})).await.unwrap();
    }
    let error = device
        .publish("COOKING_FINISHED", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            DeviceError::OutboxFull {
                events: 3,
                max_events: 3,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(device.counters().outbox_depth, 3);
    assert!(device.counters().connect_failures >= 1);
}

/// Answers each COOKING_REQUESTED like the kitchen would, after an unrelated reply first.
async fn kitchen(mut backend: Backend) {
    while let Some(request) = backend.next(TIMEOUT).await {
        let topic = Topic::parse(&request.topic).unwrap();
        let message: DeviceMessage = serde_json::from_slice(&request.payload).unwrap();
        let request = Envelope::from_device_message(&topic, OVEN, Utc::now(), message);
        let replies = Topic::new("COOKING_REPLIED", "h-1", OVEN).unwrap();
        let unrelated = Envelope::new(&replies, "kitchen", json!({"accepted": false}));
        backend
            .publish(&replies.to_string(), unrelated.to_json().into_bytes())
            .await;
        let reply = request
            .follow_up("COOKING_REPLIED", "kitchen", json!({"accepted": true}))
            .unwrap();
        backend
            .publish(&replies.to_string(), reply.to_json().into_bytes())
            .await;
    }
}

#[tokio::test]
async fn a_request_resolves_with_the_reply_carrying_its_correlation_id() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let backend = Backend::connect(&pki, broker.port, "kitchen", &["COOKING_REQUESTED/+/+"]).await;
    tokio::spawn(kitchen(backend));
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, broker.port, OVEN, outbox.path())).unwrap();
    let mut messages = device.messages().unwrap();
    assert!(device.messages().is_none(), "the stream is taken once");

    let reply = device
        .request(
            "COOKING_REQUESTED",
            json!({"recipe_id": "bread"}),
            "COOKING_REPLIED",
            Instant::now() + TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(reply.event, "COOKING_REPLIED");
    assert_eq!(reply.payload, json!({"accepted": true}));
    let request_id = reply.causation_id.unwrap();
    assert_eq!(reply.correlation_id, request_id);

    let other = tokio::time::timeout(TIMEOUT, messages.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.envelope.payload, json!({"accepted": false}));
    assert_ne!(other.envelope.correlation_id, request_id);
    assert_eq!(other.topic.to_string(), "COOKING_REPLIED/h-1/oven-1");
    let counters = device.counters();
    assert_eq!(counters.replies_received, 1);
    assert_eq!(counters.messages_received, 2);
}

#[tokio::test]
async fn a_request_without_reply_fails_at_its_deadline_and_stays_in_the_outbox_until_acknowledged()
{
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let relay = Relay::start(broker.port).await;
    let mut backend =
        Backend::connect(&pki, broker.port, "kitchen", &["COOKING_REQUESTED/+/+"]).await;
    relay.set(Network::Down);
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, relay.port, OVEN, outbox.path())).unwrap();

    let deadline = Instant::now() + Duration::from_millis(300);
    let error = device
        .request("COOKING_REQUESTED", json!({}), "COOKING_REPLIED", deadline)
        .await
        .unwrap_err();
    assert!(Instant::now() >= deadline);
    let DeviceError::DeadlineExceeded {
        event_id,
        reply_event,
        ..
    } = error
    else {
        panic!("{error}");
    };
    assert_eq!(reply_event, "COOKING_REPLIED");
    assert_eq!(device.counters().outbox_depth, 1);

    relay.set(Network::Up);
    let delivered = backend
        .next(TIMEOUT)
        .await
        .expect("the request is sent anyway");
    let message = device_message(&delivered);
    assert_eq!(message.event_id, Some(event_id));
    assert_eq!(message.correlation_id, Some(event_id));
    eventually("the request leaves the outbox", || {
        device.counters().outbox_depth == 0
    })
    .await;
}

#[tokio::test]
async fn an_idle_device_disconnects_and_reconnects_to_publish() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.idle_after = Some(Duration::from_millis(300));
    let device = Device::start(config).unwrap();
    assert_eq!(device.connection_state(), ConnectionState::Disconnected);

    let first = device.publish("COOKING_FINISHED", json!({})).await.unwrap();
    first.acknowledged().await.unwrap();
    wait_for_state(&device, ConnectionState::Disconnected).await;
    let counters = device.counters();
    assert_eq!(counters.connects, 1);
    assert_eq!(counters.idle_disconnects, 1);
    assert_eq!(counters.error_disconnects, 0);
    assert!(counters.connected >= Duration::from_millis(300));

    let second = device.publish("COOKING_FINISHED", json!({})).await.unwrap();
    let second_id = second.event_id();
    second.acknowledged().await.unwrap();
    assert_eq!(device.counters().connects, 2);
    let ids: Vec<_> = backend
        .drain(Duration::from_millis(300))
        .await
        .iter()
        .map(|d| device_message(d).event_id.unwrap())
        .collect();
    assert_eq!(ids.last(), Some(&second_id));
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn messages_queued_while_idle_disconnected_arrive_at_the_scheduled_reconnect() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.idle_after = Some(Duration::from_millis(200));
    config.poll_interval = Some(Duration::from_secs(1));
    let device = Device::start(config).unwrap();
    let mut messages = device.messages().unwrap();
    device.connect().await.unwrap();
    wait_for_state(&device, ConnectionState::Disconnected).await;

    let mut forwarder = Backend::connect(&pki, broker.port, "iot-forwarder", &[]).await;
    let topic = Topic::new("FIRMWARE_UPDATE_OFFERED", "h-1", OVEN).unwrap();
    let offer = Envelope::new(&topic, "firmware", json!({"version": "2.1.0"}));
    forwarder
        .publish(&topic.to_string(), offer.to_json().into_bytes())
        .await;

    let received = tokio::time::timeout(TIMEOUT, messages.next())
        .await
        .expect("the queued message arrives")
        .unwrap();
    assert_eq!(received.envelope, offer);
    assert_eq!(received.topic, topic);
    let counters = device.counters();
    assert!(counters.connects >= 2);
    assert_eq!(
        counters.messages_sent, 0,
        "the schedule, not a publish, reconnected"
    );
    wait_for_state(&device, ConnectionState::Disconnected).await;
}

#[tokio::test]
async fn a_message_not_taken_by_the_application_is_delivered_again() {
    let pki = Pki::new();
    let mut broker = Broker::start(&pki, None).await;
    let relay = Relay::start(broker.port).await;
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, relay.port, OVEN, outbox.path())).unwrap();
    let mut messages = device.messages().unwrap();
    device.connect().await.unwrap();

    let mut forwarder = Backend::connect(&pki, broker.port, "iot-forwarder", &[]).await;
    let topic = Topic::new("COOKING_REPLIED", "h-1", OVEN).unwrap();
    let reply = Envelope::new(&topic, "kitchen", json!({"accepted": true}));
    forwarder
        .publish(&topic.to_string(), reply.to_json().into_bytes())
        .await;
    eventually("the device received it", || {
        device.counters().messages_received == 1
    })
    .await;

    // The connection drops before the application takes the message: not acknowledged.
    relay.set(Network::Down);
    wait_for_state(&device, ConnectionState::Disconnected).await;
    relay.set(Network::Up);
    eventually("the session delivers it again", || {
        device.counters().messages_received == 2
    })
    .await;
    let first = messages.try_next().unwrap();
    let again = messages.try_next().unwrap();
    assert_eq!(first.envelope.event_id, reply.event_id);
    assert_eq!(again.envelope.event_id, reply.event_id);
    broker.stop().await;
}

const ACL: &str = "user backend\n\
                   topic readwrite #\n\
                   \n\
                   pattern write COOKING_FINISHED/h-1/%u\n\
                   pattern write DEVICE_TELEMETRY_REPORTED/h-1/%u\n\
                   pattern read +/h-1/%u\n";

#[tokio::test]
async fn a_refused_event_is_reported_and_kept_apart() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, Some(ACL)).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, broker.port, OVEN, outbox.path())).unwrap();

    let refused = device
        .publish("COOKING_REQUESTED", json!({"recipe_id": "bread"}))
        .await
        .unwrap();
    let refused_id = refused.event_id();
    let error = refused.acknowledged().await.unwrap_err();
    assert!(
        matches!(&error, DeviceError::Refused { event_id, reason, .. } if *event_id == refused_id && reason == "NotAuthorized"),
        "{error}"
    );
    let counters = device.counters();
    assert_eq!(counters.events_refused, 1);
    assert_eq!(counters.outbox_depth, 0);

    let allowed = device.publish("COOKING_FINISHED", json!({})).await.unwrap();
    allowed.acknowledged().await.unwrap();
    let delivered = backend.drain(Duration::from_millis(300)).await;
    assert_eq!(delivered.len(), 1, "the refused event never arrives");
    assert_eq!(delivered[0].topic, "COOKING_FINISHED/h-1/oven-1");

    let kept = device.take_refused().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].event_id, refused_id);
    assert_eq!(kept[0].event, "COOKING_REQUESTED");
    assert_eq!(kept[0].message.payload, json!({"recipe_id": "bread"}));
    assert!(device.take_refused().await.unwrap().is_empty());
    assert_eq!(
        device.counters().messages_sent,
        2,
        "a refusal is not retried"
    );
}

#[tokio::test]
async fn a_lost_connection_fails_connects_while_unreachable_then_reconnects_through_the_backoff() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let outbox = tempfile::tempdir().unwrap();
    let device = Device::start(device_config(&pki, broker.port, OVEN, outbox.path())).unwrap();
    device.connect().await.unwrap();

    let unreachable_for = Duration::from_millis(600);
    let lost_at = Instant::now();
    device.lose_connection(unreachable_for).unwrap();
    wait_for_state(&device, ConnectionState::Disconnected).await;
    // Accepted while unreachable: it waits in the outbox for the reconnect.
    let receipt = device.publish("COOKING_FINISHED", json!({})).await.unwrap();
    wait_for_state(&device, ConnectionState::Connected).await;
    assert!(lost_at.elapsed() >= unreachable_for);
    receipt.acknowledged().await.unwrap();

    let counters = device.counters();
    assert_eq!(counters.connects, 2);
    assert_eq!(counters.error_disconnects, 1);
    // The test backoff (50 ms doubling to 400 ms) tries several times in 600 ms.
    assert!(counters.connect_failures >= 1, "{counters:?}");
    assert_eq!(counters.outbox_depth, 0);
}
