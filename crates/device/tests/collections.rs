//! Event collections against a real broker: which events wait, for how long, how collections are
//! split, and that members keep their event ids.

mod support;

use std::time::{Duration, Instant};

use postoffice::envelope::DeviceMessage;
use postoffice_device::{
    COLLECTION_EVENT, CollectionPolicy, ConnectionState, Device, MAX_MESSAGE_BYTES,
};
use serde_json::{Value, json};
use support::{Backend, Broker, Delivered, Pki, TIMEOUT, device_config};
use uuid::Uuid;

const OVEN: &str = "oven-1";
const OVEN_TOPICS: &str = "+/h-1/oven-1";
const TELEMETRY: &str = "DEVICE_TELEMETRY_REPORTED";

/// The members of a collection message: (event name, device message).
fn members(delivered: &Delivered) -> Vec<(String, DeviceMessage)> {
    assert_eq!(delivered.topic, format!("{COLLECTION_EVENT}/h-1/{OVEN}"));
    let collection = delivered.json();
    assert!(Uuid::parse_str(collection["collection_id"].as_str().unwrap()).is_ok());
    collection["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| {
            let mut message = member.clone();
            let event = message
                .as_object_mut()
                .unwrap()
                .remove("event")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            (event, serde_json::from_value(message).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn allowed_events_wait_to_travel_together_others_go_alone_at_once() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let max_wait = Duration::from_millis(400);
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, max_wait)
        .unwrap();
    let device = Device::start(config).unwrap();
    device.connect().await.unwrap();

    let started = Instant::now();
    let mut telemetry = Vec::new();
    for temperature in [150, 160, 170] {
        let receipt = device
            .publish(TELEMETRY, json!({ "temperature_c": temperature }))
            .await
            .unwrap();
        telemetry.push(receipt);
    }
    let finished = device
        .publish("COOKING_FINISHED", json!({"recipe_id": "bread"}))
        .await
        .unwrap();
    let finished_id = finished.event_id();

    let alone = backend.next(TIMEOUT).await.unwrap();
    assert_eq!(alone.topic, "COOKING_FINISHED/h-1/oven-1");
    let message: DeviceMessage = serde_json::from_slice(&alone.payload).unwrap();
    assert_eq!(message.event_id, Some(finished_id));

    let collection = backend.next(TIMEOUT).await.unwrap();
    assert!(
        started.elapsed() >= max_wait,
        "the collection left before its oldest member waited {max_wait:?}"
    );
    let members = members(&collection);
    let ids: Vec<_> = telemetry.iter().map(|r| r.event_id()).collect();
    assert_eq!(
        members
            .iter()
            .map(|(_, m)| m.event_id.unwrap())
            .collect::<Vec<_>>(),
        ids
    );
    assert!(members.iter().all(|(event, _)| event == TELEMETRY));
    assert_eq!(members[2].1.payload, json!({"temperature_c": 170}));
    for receipt in telemetry {
        receipt.acknowledged().await.unwrap();
    }
    let counters = device.counters();
    assert_eq!(counters.messages_sent, 2);
    assert_eq!(counters.events_sent, 4);
    assert_eq!(counters.collections_sent, 1);
    assert_eq!(counters.outbox_depth, 0);
}

#[tokio::test]
async fn collections_are_split_to_stay_within_the_iot_message_limit() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, Duration::from_millis(200))
        .unwrap();
    let device = Device::start(config).unwrap();

    let samples = "0123456789".repeat(4_000);
    let mut ids = Vec::new();
    for sequence in 0..5 {
        let receipt = device
            .publish(
                TELEMETRY,
                json!({ "sequence": sequence, "samples": samples }),
            )
            .await
            .unwrap();
        ids.push(receipt.event_id());
    }

    let collections = [
        backend.next(TIMEOUT).await.unwrap(),
        backend.next(TIMEOUT).await.unwrap(),
    ];
    let mut carried = Vec::new();
    for collection in &collections {
        assert!(
            collection.payload.len() <= MAX_MESSAGE_BYTES,
            "{} bytes",
            collection.payload.len()
        );
        carried.extend(
            members(collection)
                .into_iter()
                .map(|(_, m)| m.event_id.unwrap()),
        );
    }
    assert_eq!(carried, ids, "every event once, in order, with its own id");
    assert_eq!(
        members(&collections[0]).len(),
        3,
        "three 40 KB events fit in 128 KB"
    );
    assert!(backend.next(Duration::from_millis(300)).await.is_none());
    assert_eq!(device.counters().collections_sent, 2);
}

#[tokio::test]
async fn a_full_collection_leaves_without_waiting() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, Duration::from_secs(3600))
        .unwrap()
        .max_events(2);
    let device = Device::start(config).unwrap();

    for temperature in [150, 160, 170] {
        device
            .publish(TELEMETRY, json!({ "temperature_c": temperature }))
            .await
            .unwrap();
    }
    let collection = backend.next(TIMEOUT).await.unwrap();
    let temperatures: Vec<Value> = members(&collection)
        .into_iter()
        .map(|(_, m)| m.payload["temperature_c"].clone())
        .collect();
    assert_eq!(temperatures, vec![json!(150), json!(160)]);
    assert!(
        backend.next(Duration::from_millis(300)).await.is_none(),
        "the third waits"
    );
    assert_eq!(device.counters().outbox_depth, 1);
}

#[tokio::test]
async fn waiting_members_leave_before_an_idle_disconnect() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.idle_after = Some(Duration::from_millis(200));
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, Duration::from_secs(3600))
        .unwrap();
    let device = Device::start(config).unwrap();
    device.connect().await.unwrap();

    let receipt = device
        .publish(TELEMETRY, json!({"temperature_c": 150}))
        .await
        .unwrap();
    let collection = backend
        .next(TIMEOUT)
        .await
        .expect("sent before disconnecting");
    assert_eq!(members(&collection)[0].1.event_id, Some(receipt.event_id()));
    receipt.acknowledged().await.unwrap();
    let mut states = device.connection_states();
    tokio::time::timeout(
        TIMEOUT,
        states.wait_for(|state| *state == ConnectionState::Disconnected),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(device.counters().idle_disconnects, 1);
}

#[tokio::test]
async fn an_idle_disconnecting_device_takes_waiting_members_along_on_any_connection() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    let idle_after = Duration::from_secs(2);
    config.idle_after = Some(idle_after);
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, Duration::from_secs(3600))
        .unwrap();
    let device = Device::start(config).unwrap();

    // Disconnected, the member waits: nothing is due and nothing else is to be sent.
    let member = device
        .publish(TELEMETRY, json!({"temperature_c": 150}))
        .await
        .unwrap();
    assert!(backend.next(Duration::from_millis(500)).await.is_none());
    assert_eq!(device.counters().connects, 0);

    // An event that may not wait opens a connection: the member goes with it at once, not
    // when the connection is about to go idle.
    let alone = device
        .publish("COOKING_FINISHED", json!({"outcome": "done"}))
        .await
        .unwrap();
    let first = backend.next(TIMEOUT).await.expect("the single event");
    let sent = Instant::now();
    let second = backend.next(TIMEOUT).await.expect("the collection");
    assert!(
        sent.elapsed() < idle_after / 2,
        "the collection came {:?} after the single event",
        sent.elapsed()
    );
    let collection = [first, second]
        .into_iter()
        .find(|delivered| delivered.topic.starts_with(COLLECTION_EVENT))
        .expect("one of the two is the collection");
    assert_eq!(members(&collection)[0].1.event_id, Some(member.event_id()));
    alone.acknowledged().await.unwrap();
    member.acknowledged().await.unwrap();
    assert_eq!(device.counters().connects, 1);
}

#[tokio::test]
async fn events_that_may_wait_ride_on_an_idle_devices_next_connection_each_alone() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.idle_after = Some(Duration::from_secs(2));
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, Duration::from_secs(3600))
        .unwrap()
        .each_alone();
    let device = Device::start(config).unwrap();

    // Readings that may wait an hour open no connection of their own.
    let mut readings = Vec::new();
    for temperature in [150, 160] {
        let receipt = device
            .publish(TELEMETRY, json!({"temperature_c": temperature}))
            .await
            .unwrap();
        readings.push(receipt);
    }
    assert!(backend.next(Duration::from_millis(500)).await.is_none());
    assert_eq!(device.counters().connects, 0);

    // An event that may not wait connects; the readings leave with it, each on its own topic.
    let alone = device
        .publish("COOKING_FINISHED", json!({"outcome": "done"}))
        .await
        .unwrap();
    let mut delivered = Vec::new();
    for _ in 0..3 {
        delivered.push(backend.next(TIMEOUT).await.expect("three single events"));
    }
    assert!(backend.next(Duration::from_millis(300)).await.is_none());
    let telemetry_topic = format!("{TELEMETRY}/h-1/{OVEN}");
    let sent_readings: Vec<Uuid> = delivered
        .iter()
        .filter(|message| message.topic == telemetry_topic)
        .map(|message| {
            serde_json::from_value::<DeviceMessage>(message.json())
                .unwrap()
                .event_id
                .unwrap()
        })
        .collect();
    let accepted: Vec<Uuid> = readings.iter().map(|receipt| receipt.event_id()).collect();
    assert_eq!(sent_readings, accepted);
    assert!(
        delivered
            .iter()
            .all(|message| !message.topic.starts_with(COLLECTION_EVENT))
    );
    alone.acknowledged().await.unwrap();
    for reading in readings {
        reading.acknowledged().await.unwrap();
    }
    assert_eq!(device.counters().connects, 1);
    assert_eq!(device.counters().outbox_depth, 0);
}

const ACL_WITHOUT_COLLECTIONS: &str = "user backend\n\
                                       topic readwrite #\n\
                                       \n\
                                       pattern write DEVICE_TELEMETRY_REPORTED/h-1/%u\n\
                                       pattern read +/h-1/%u\n";

#[tokio::test]
async fn members_of_a_refused_collection_travel_alone() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, Some(ACL_WITHOUT_COLLECTIONS)).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
    config.collections = CollectionPolicy::new()
        .collect(TELEMETRY, Duration::from_millis(100))
        .unwrap();
    let device = Device::start(config).unwrap();

    let mut ids = Vec::new();
    for temperature in [150, 160] {
        let receipt = device
            .publish(TELEMETRY, json!({ "temperature_c": temperature }))
            .await
            .unwrap();
        ids.push(receipt.event_id());
        tokio::spawn(receipt.acknowledged());
    }
    let delivered = [
        backend.next(TIMEOUT).await.unwrap(),
        backend.next(TIMEOUT).await.unwrap(),
    ];
    for (delivered, id) in delivered.iter().zip(&ids) {
        assert_eq!(delivered.topic, format!("{TELEMETRY}/h-1/{OVEN}"));
        let message: DeviceMessage = serde_json::from_slice(&delivered.payload).unwrap();
        assert_eq!(message.event_id, Some(*id));
    }
    support::eventually("both acknowledged", || device.counters().events_sent == 2).await;
    let counters = device.counters();
    assert_eq!(counters.collections_sent, 0);
    assert_eq!(counters.events_refused, 0);
    assert_eq!(
        counters.messages_sent, 3,
        "the collection, then each event alone"
    );
}

#[tokio::test]
async fn closing_the_device_sends_waiting_collections_first() {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let mut backend = Backend::connect(&pki, broker.port, "backend", &[OVEN_TOPICS]).await;
    let outbox = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = device_config(&pki, broker.port, OVEN, outbox.path());
        config.collections = CollectionPolicy::new()
            .collect(TELEMETRY, Duration::from_secs(3600))
            .unwrap();
        config
    };
    let device = Device::start(config()).unwrap();
    let receipt = device
        .publish(TELEMETRY, json!({"temperature_c": 150}))
        .await
        .unwrap();
    let event_id = receipt.event_id();
    device.close(TIMEOUT).await;

    let collection = backend.next(TIMEOUT).await.expect("sent on close");
    assert_eq!(members(&collection)[0].1.event_id, Some(event_id));
    let reopened = Device::start(config()).unwrap();
    assert_eq!(
        reopened.counters().outbox_depth,
        0,
        "acknowledged before closing"
    );
}
