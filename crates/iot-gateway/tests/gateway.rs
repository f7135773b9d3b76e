//! The gateway through its real interfaces: TLS sockets, rumqttc clients (MQTT 3.1.1 and 5),
//! raw bytes where a client library would refuse to send them.

mod common;

use std::time::Duration;

use common::*;
use postoffice_iot_gateway::{
    DisconnectReason, LifecycleEvent, Limits, Origin, PublishRefusal, QoS,
};
use rumqttc::QoS as ClientQoS;
use rumqttc::v5::mqttbytes::QoS as ClientQoS5;
use tokio::io::AsyncWriteExt;

fn disconnected(client: &'static str) -> impl FnMut(&LifecycleEvent) -> Option<DisconnectReason> {
    move |event| match event {
        LifecycleEvent::Disconnected {
            client_id, reason, ..
        } if &**client_id == client => Some(*reason),
        _ => None,
    }
}

#[tokio::test]
async fn a_registered_certificate_connects_with_its_client_id() {
    let harness = Harness::start().await;
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let fridge = harness.device(DevicePolicy::device("fridge-1", "h-1"));

    let (_v4, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut v4 = drive_v4(eventloop);
    assert_eq!(
        next(&mut v4).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    let (_v5, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&fridge, "fridge-1"), 10);
    let mut v5 = drive_v5(eventloop);
    assert_eq!(
        next(&mut v5).await,
        Seen::ConnAck {
            session_present: false
        }
    );

    let connections = harness.gateway.connections();
    let listed: Vec<(&str, &str)> = connections
        .iter()
        .map(|connection| (connection.client_id.as_str(), connection.principal.as_str()))
        .collect();
    assert_eq!(listed, [("fridge-1", "fridge-1"), ("oven-1", "oven-1")]);
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.connect_success, 2);
    assert_eq!(metrics.connected_clients, 2);
}

#[tokio::test]
async fn an_unknown_certificate_is_refused_not_authorized() {
    let harness = Harness::start().await;
    let stranger = harness.pki.device("stranger");
    let mut events = harness.gateway.lifecycle_events();

    let (_v4, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&stranger, "oven-1"), 10);
    assert_eq!(
        next(&mut drive_v4(eventloop)).await,
        Seen::Refused("NotAuthorized".into())
    );
    let (_v5, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&stranger, "oven-1"), 10);
    assert_eq!(
        next(&mut drive_v5(eventloop)).await,
        Seen::Refused("NotAuthorized".into())
    );

    let reason = next_event(&mut events, |event| match event {
        LifecycleEvent::ConnectRefused { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains(&stranger.certificate_id()), "{reason}");
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.connect_auth_error, 2);
    assert_eq!(metrics.connect_success, 0);
    assert!(harness.gateway.connections().is_empty());
}

#[tokio::test]
async fn a_client_id_the_authority_refuses_is_not_authorized_in_both_versions() {
    let harness = Harness::start().await;
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));

    let (_v4, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "fridge-1"), 10);
    assert_eq!(
        next(&mut drive_v4(eventloop)).await,
        Seen::Refused("NotAuthorized".into())
    );
    let (_v5, eventloop) = rumqttc::v5::AsyncClient::new(harness.v5_options(&oven, "fridge-1"), 10);
    assert_eq!(
        next(&mut drive_v5(eventloop)).await,
        Seen::Refused("NotAuthorized".into())
    );
    assert_eq!(harness.gateway.metrics().connect_auth_error, 2);
}

#[tokio::test]
async fn mqtt311_denied_publish_disconnects_the_client_and_is_never_routed() {
    let harness = Harness::start().await;
    let mut tap = harness.gateway.accepted_messages().unwrap();
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;

    client
        .publish(
            "COOKING_REQUESTED/h-1/oven-1",
            ClientQoS::AtLeastOnce,
            false,
            "ok",
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut seen).await, Seen::PubAck { .. }));
    client
        .publish(
            "COOKING_REQUESTED/h-2/oven-9",
            ClientQoS::AtLeastOnce,
            false,
            "not mine",
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut seen).await, Seen::Closed(_)));
    assert_eq!(
        next_event(&mut events, disconnected("oven-1")).await,
        DisconnectReason::AuthError
    );

    let accepted = tap.recv().await.unwrap();
    assert_eq!(&*accepted.topic, "COOKING_REQUESTED/h-1/oven-1");
    assert!(
        tap.try_recv().is_err(),
        "the denied publish reached the tap"
    );
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.publish_in_success, 1);
    assert_eq!(metrics.publish_in_auth_error, 1);
}

#[tokio::test]
async fn mqtt5_denied_publish_gets_puback_not_authorized_and_the_connection_stays() {
    let harness = Harness::start().await;
    let mut tap = harness.gateway.accepted_messages().unwrap();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&oven, "oven-1"), 10);
    let mut seen = drive_v5(eventloop);
    next(&mut seen).await;

    client
        .publish(
            "COOKING_REQUESTED/h-2/oven-9",
            ClientQoS5::AtLeastOnce,
            false,
            "not mine",
        )
        .await
        .unwrap();
    let Seen::PubAck { reason, .. } = next(&mut seen).await else {
        panic!("expected a PUBACK");
    };
    assert_eq!(reason, "NotAuthorized");
    // QoS 0 denied: dropped without an answer.
    client
        .publish(
            "COOKING_REQUESTED/h-2/oven-9",
            ClientQoS5::AtMostOnce,
            false,
            "not mine",
        )
        .await
        .unwrap();
    client
        .publish(
            "COOKING_REQUESTED/h-1/oven-1",
            ClientQoS5::AtLeastOnce,
            false,
            "mine",
        )
        .await
        .unwrap();
    let Seen::PubAck { reason, .. } = next(&mut seen).await else {
        panic!("expected a PUBACK");
    };
    assert_eq!(reason, "Success");
    assert_eq!(&tap.recv().await.unwrap().payload[..], b"mine");
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.publish_in_auth_error, 2);
    assert_eq!(metrics.publish_in_success, 1);
    assert_eq!(harness.gateway.connections().len(), 1);
}

#[tokio::test]
async fn one_denied_filter_of_several_gets_its_own_suback_code() {
    let harness = Harness::start().await;
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let fridge = harness.device(DevicePolicy::device("fridge-1", "h-1"));
    let filters = |qos| {
        vec![
            rumqttc::SubscribeFilter::new("+/h-1/oven-1".into(), qos),
            rumqttc::SubscribeFilter::new("+/h-2/oven-9".into(), qos),
            rumqttc::SubscribeFilter::new("a/b/c/d/e/f/g/h/i".into(), qos),
        ]
    };

    let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;
    client
        .subscribe_many(filters(ClientQoS::AtLeastOnce))
        .await
        .unwrap();
    assert_eq!(
        next(&mut seen).await,
        Seen::SubAck(vec![
            "Success(AtLeastOnce)".into(),
            "Failure".into(),
            "Failure".into()
        ])
    );

    let (client, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&fridge, "fridge-1"), 10);
    let mut seen = drive_v5(eventloop);
    next(&mut seen).await;
    client
        .subscribe_many(vec![
            rumqttc::v5::mqttbytes::v5::Filter::new("+/h-1/fridge-1", ClientQoS5::AtMostOnce),
            rumqttc::v5::mqttbytes::v5::Filter::new("+/h-2/oven-9", ClientQoS5::AtLeastOnce),
            // Valid MQTT, but over IoT's 7 forward slashes.
            rumqttc::v5::mqttbytes::v5::Filter::new("a/b/c/d/e/f/g/h/i", ClientQoS5::AtLeastOnce),
        ])
        .await
        .unwrap();
    assert_eq!(
        next(&mut seen).await,
        Seen::SubAck(vec![
            "Success(AtMostOnce)".into(),
            "NotAuthorized".into(),
            "TopicFilterInvalid".into()
        ])
    );
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.subscribe_success, 2);
    assert_eq!(metrics.subscribe_auth_error, 2);
    assert_eq!(metrics.subscribe_client_error, 2);
}

#[tokio::test]
async fn a_subscriber_denied_receive_does_not_get_the_message() {
    let harness = Harness::start().await;
    let mut reader = DevicePolicy::device("reader", "h-1");
    reader.subscribe = vec!["+/h-1/+".into()];
    reader.receive = vec!["COOKING_REPLIED/h-1/+".into()];
    let reader = harness.device(reader);
    let mut blind = DevicePolicy::device("blind", "h-1");
    blind.subscribe = vec!["+/h-1/+".into()];
    blind.receive = vec!["DEVICE_TELEMETRY_REPORTED/h-1/+".into()];
    let blind = harness.device(blind);

    let mut inboxes = Vec::new();
    for (credential, id) in [(&reader, "reader"), (&blind, "blind")] {
        let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(credential, id), 10);
        let mut seen = drive_v4(eventloop);
        next(&mut seen).await;
        client
            .subscribe("+/h-1/+", ClientQoS::AtLeastOnce)
            .await
            .unwrap();
        assert!(matches!(next(&mut seen).await, Seen::SubAck(_)));
        inboxes.push((client, seen));
    }
    harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "reply",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    harness
        .gateway
        .publish(
            "DEVICE_TELEMETRY_REPORTED/h-1/oven-1",
            "telemetry",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();

    let Seen::Publish { topic, .. } = next(&mut inboxes[0].1).await else {
        panic!("the reader got nothing");
    };
    assert_eq!(topic, "COOKING_REPLIED/h-1/oven-1");
    let Seen::Publish { topic, .. } = next(&mut inboxes[1].1).await else {
        panic!("the blind one got nothing");
    };
    assert_eq!(
        topic, "DEVICE_TELEMETRY_REPORTED/h-1/oven-1",
        "receive was not checked"
    );
    assert_eq!(
        nothing_within(&mut inboxes[0].1, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(harness.gateway.metrics().publish_out_receive_denied, 2);
}

#[tokio::test]
async fn qos2_gets_no_acknowledgement_and_is_not_routed() {
    let harness = Harness::start().await;
    let mut tap = harness.gateway.accepted_messages().unwrap();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;

    client
        .publish(
            "COOKING_REQUESTED/h-1/oven-1",
            ClientQoS::ExactlyOnce,
            false,
            "two",
        )
        .await
        .unwrap();
    client
        .subscribe("+/h-1/oven-1", ClientQoS::ExactlyOnce)
        .await
        .unwrap();
    assert_eq!(
        nothing_within(&mut seen, Duration::from_millis(500)).await,
        None
    );
    // The connection still works.
    client
        .publish(
            "COOKING_REQUESTED/h-1/oven-1",
            ClientQoS::AtLeastOnce,
            false,
            "one",
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut seen).await, Seen::PubAck { .. }));
    assert_eq!(&tap.recv().await.unwrap().payload[..], b"one");
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.publish_in_client_error, 1);
    assert_eq!(metrics.subscribe_client_error, 1);
    assert_eq!(metrics.publish_in_success, 1);

    // MQTT 5 was told Maximum QoS 1: QoS 2 is a protocol violation.
    let fridge = harness.device(DevicePolicy::device("fridge-1", "h-1"));
    let mut events = harness.gateway.lifecycle_events();
    let mut raw = harness.raw(&fridge).await;
    let mut connect = connect_packet("fridge-1", 30);
    connect[8] = 5; // protocol level 5
    connect.insert(12, 0); // no properties
    connect[1] += 1;
    raw.write_all(&connect).await.unwrap();
    // PUBLISH QoS 2, topic "COOKING_REQUESTED/h-1/fridge-1", packet id 1, no properties.
    let topic = b"COOKING_REQUESTED/h-1/fridge-1";
    let mut publish = vec![
        0x34,
        (2 + topic.len() + 2 + 1 + 1) as u8,
        0,
        topic.len() as u8,
    ];
    publish.extend_from_slice(topic);
    publish.extend_from_slice(&[0, 1, 0, b'x']);
    raw.write_all(&publish).await.unwrap();
    read_until_closed(&mut raw).await;
    assert_eq!(
        next_event(&mut events, disconnected("fridge-1")).await,
        DisconnectReason::ClientError
    );
    assert_eq!(harness.gateway.metrics().publish_in_client_error, 2);
}

/// A requester publishes on its topic; the test answers through the in-process API, as the
/// post office's backend path does; the answer must come back within `deadline`.
async fn request_response_round_trips(
    harness: &Harness,
    client_id: &'static str,
    rounds: usize,
    deadline: Duration,
) {
    let device = harness.device(DevicePolicy::device(client_id, "h-quiet"));
    let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&device, client_id), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;
    let reply_topic = format!("COOKING_REPLIED/h-quiet/{client_id}");
    client
        .subscribe(&reply_topic, ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    next_where(&mut seen, |seen| matches!(seen, Seen::SubAck(_))).await;
    for round in 0..rounds {
        let started = std::time::Instant::now();
        client
            .publish(
                format!("COOKING_REQUESTED/h-quiet/{client_id}"),
                ClientQoS::AtLeastOnce,
                false,
                format!("request {round}"),
            )
            .await
            .unwrap();
        next_where(&mut seen, |seen| matches!(seen, Seen::PubAck { .. })).await;
        harness
            .gateway
            .publish(
                &reply_topic,
                format!("reply {round}"),
                QoS::AtLeastOnce,
                false,
            )
            .unwrap();
        let reply = next_where(&mut seen, |seen| matches!(seen, Seen::Publish { .. })).await;
        assert_eq!(
            reply,
            Seen::Publish {
                topic: reply_topic.clone(),
                payload: format!("reply {round}").into_bytes(),
                retain: false,
                qos: 1
            }
        );
        assert!(
            started.elapsed() < deadline,
            "round {round} took {:?} while another client misbehaved",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_over_128_kb_disconnects_only_its_sender() {
    let harness = Harness::start().await;
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;

    client
        .publish(
            "COOKING_REQUESTED/h-1/oven-1",
            ClientQoS::AtLeastOnce,
            false,
            vec![1u8; 128 * 1024],
        )
        .await
        .unwrap();
    assert!(
        matches!(next(&mut seen).await, Seen::PubAck { .. }),
        "exactly 128 KB is allowed"
    );

    let misbehaving = async {
        client
            .publish(
                "COOKING_REQUESTED/h-1/oven-1",
                ClientQoS::AtLeastOnce,
                false,
                vec![1u8; 128 * 1024 + 1],
            )
            .await
            .unwrap();
        assert!(matches!(next(&mut seen).await, Seen::Closed(_)));
    };
    tokio::join!(
        misbehaving,
        request_response_round_trips(&harness, "kettle-1", 5, Duration::from_secs(2))
    );
    // The refusal is reported before the disconnect it causes.
    let refusal = next_event(&mut events, |event| match event {
        LifecycleEvent::PublishRefused { refusal, .. } => Some(*refusal),
        _ => None,
    })
    .await;
    assert_eq!(refusal, PublishRefusal::PayloadTooLarge);
    assert_eq!(
        next_event(&mut events, disconnected("oven-1")).await,
        DisconnectReason::ClientError
    );
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.publish_in_client_error, 1);
    assert_eq!(metrics.publish_in_success, 1 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_malformed_packets_from_one_device_do_not_stop_the_others() {
    let harness = Harness::start().await;
    let vandal = harness.device(DevicePolicy::device("vandal", "h-1"));

    let flood = async {
        for attempt in 0..200 {
            let mut raw = harness.raw(&vandal).await;
            assert_eq!(raw_connect(&mut raw, "vandal", 30).await, [0x20, 2, 0, 0]);
            if attempt % 2 == 0 {
                // A PUBLISH announcing 200 KB: refused from its fixed header, body never sent.
                raw.write_all(&[0x32, 0xC0, 0x9A, 0x0C]).await.unwrap();
            } else {
                // A PUBLISH whose topic is not UTF-8.
                raw.write_all(&[0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, b'x'])
                    .await
                    .unwrap();
            }
            assert_eq!(
                tokio::time::timeout(TIMEOUT, read_until_closed(&mut raw))
                    .await
                    .expect("the server did not close the connection"),
                0
            );
        }
    };
    tokio::join!(
        flood,
        request_response_round_trips(&harness, "kettle-1", 20, Duration::from_secs(2))
    );
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.oversize_packets, 100);
    assert_eq!(metrics.malformed_packets, 100);
    assert_eq!(metrics.publish_in_client_error, 200);
    assert_eq!(metrics.publish_in_success, 20);
}

#[tokio::test]
async fn a_second_connection_with_the_same_client_id_takes_over() {
    let harness = Harness::start().await;
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (_first, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut first = drive_v4(eventloop);
    next(&mut first).await;

    let (second_client, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&oven, "oven-1"), 10);
    let mut second = drive_v5(eventloop);
    assert_eq!(
        next(&mut second).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    assert!(matches!(next(&mut first).await, Seen::Closed(_)));
    assert_eq!(
        next_event(&mut events, disconnected("oven-1")).await,
        DisconnectReason::DuplicateClientid
    );
    assert_eq!(harness.gateway.connections().len(), 1);

    // And a third one takes over from the MQTT 5 one, which is told why.
    let (_third, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut third = drive_v4(eventloop);
    next(&mut third).await;
    // rumqttc reports the server's DISCONNECT as the error ending its event loop.
    let Seen::Closed(why) = next(&mut second).await else {
        panic!("the MQTT 5 client was not disconnected");
    };
    assert!(why.contains("SessionTakenOver"), "{why}");
    drop(second_client);
    assert_eq!(harness.gateway.connections().len(), 1);
}

#[tokio::test]
async fn a_persistent_session_gets_what_was_published_while_it_was_offline() {
    let harness = Harness::start().await;
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let mut options = harness.v4_options(&oven, "oven-1");
    options.set_clean_session(false);

    let (client, eventloop) = rumqttc::AsyncClient::new(options.clone(), 10);
    let mut seen = drive_v4(eventloop);
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    client
        .subscribe("+/h-1/oven-1", ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    next(&mut seen).await;
    client.disconnect().await.unwrap();
    next_event(&mut events, disconnected("oven-1")).await;

    harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "while away",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "not kept",
            QoS::AtMostOnce,
            false,
        )
        .unwrap();

    let (_client, eventloop) = rumqttc::AsyncClient::new(options, 10);
    let mut seen = drive_v4(eventloop);
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: true
        }
    );
    assert_eq!(
        next(&mut seen).await,
        Seen::Publish {
            topic: "COOKING_REPLIED/h-1/oven-1".into(),
            payload: b"while away".to_vec(),
            retain: false,
            qos: 1
        }
    );
    assert_eq!(
        nothing_within(&mut seen, Duration::from_millis(300)).await,
        None
    );
}

#[tokio::test]
async fn a_clean_session_keeps_nothing() {
    let harness = Harness::start().await;
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let options = harness.v4_options(&oven, "oven-1");

    let (client, eventloop) = rumqttc::AsyncClient::new(options.clone(), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;
    client
        .subscribe("+/h-1/oven-1", ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    next(&mut seen).await;
    client.disconnect().await.unwrap();
    assert_eq!(
        next_event(&mut events, disconnected("oven-1")).await,
        DisconnectReason::ClientInitiatedDisconnect
    );
    harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "while away",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();

    let (_client, eventloop) = rumqttc::AsyncClient::new(options, 10);
    let mut seen = drive_v4(eventloop);
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    assert_eq!(
        nothing_within(&mut seen, Duration::from_millis(300)).await,
        None
    );
}

#[tokio::test]
async fn an_mqtt5_session_ends_when_its_expiry_passes() {
    let harness = Harness::with_limits(Limits {
        session_sweep_interval: Duration::from_millis(100),
        ..Limits::default()
    })
    .await;
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let mut options = harness.v5_options(&oven, "oven-1");
    options
        .set_clean_start(false)
        .set_session_expiry_interval(Some(1));
    let (client, eventloop) = rumqttc::v5::AsyncClient::new(options.clone(), 10);
    let mut seen = drive_v5(eventloop);
    next(&mut seen).await;
    client
        .subscribe("+/h-1/oven-1", ClientQoS5::AtLeastOnce)
        .await
        .unwrap();
    next(&mut seen).await;
    client.disconnect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "too late",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    let (_client, eventloop) = rumqttc::v5::AsyncClient::new(options, 10);
    let mut seen = drive_v5(eventloop);
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    assert_eq!(
        nothing_within(&mut seen, Duration::from_millis(300)).await,
        None
    );
}

#[tokio::test]
async fn a_retained_message_reaches_a_later_subscriber_of_its_exact_topic() {
    let harness = Harness::start().await;
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;
    client
        .publish(
            "DEVICE_STATE_REPORTED/h-1/oven-1",
            ClientQoS::AtLeastOnce,
            true,
            "idle",
        )
        .await
        .unwrap();
    next(&mut seen).await;

    let watcher = harness.device(DevicePolicy::everything("watcher"));
    let (client, eventloop) =
        rumqttc::AsyncClient::new(harness.v4_options(&watcher, "watcher"), 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;
    client
        .subscribe("+/h-1/oven-1", ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    assert!(matches!(next(&mut seen).await, Seen::SubAck(_)));
    assert_eq!(
        nothing_within(&mut seen, Duration::from_millis(300)).await,
        None,
        "IoT sends retained messages only to exact filters"
    );
    client
        .subscribe("DEVICE_STATE_REPORTED/h-1/oven-1", ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    assert!(matches!(next(&mut seen).await, Seen::SubAck(_)));
    assert_eq!(
        next(&mut seen).await,
        Seen::Publish {
            topic: "DEVICE_STATE_REPORTED/h-1/oven-1".into(),
            payload: b"idle".to_vec(),
            retain: true,
            qos: 1
        }
    );

    // RetainPublish denied: the whole publish is refused.
    let mut no_retain = DevicePolicy::device("fridge-1", "h-1");
    no_retain.retain.clear();
    let fridge = harness.device(no_retain);
    let (client, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&fridge, "fridge-1"), 10);
    let mut seen = drive_v5(eventloop);
    next(&mut seen).await;
    client
        .publish(
            "DEVICE_STATE_REPORTED/h-1/fridge-1",
            ClientQoS5::AtLeastOnce,
            true,
            "x",
        )
        .await
        .unwrap();
    let Seen::PubAck { reason, .. } = next(&mut seen).await else {
        panic!("expected a PUBACK");
    };
    assert_eq!(reason, "NotAuthorized");
}

#[tokio::test]
async fn a_silent_client_is_disconnected_after_one_and_a_half_keep_alives() {
    let harness = Harness::with_limits(Limits {
        min_keep_alive: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let mut raw = harness.raw(&oven).await;
    assert_eq!(raw_connect(&mut raw, "oven-1", 2).await, [0x20, 2, 0, 0]);
    let connected = std::time::Instant::now();
    read_until_closed(&mut raw).await;
    let silent_for = connected.elapsed();
    assert!(
        silent_for >= Duration::from_millis(2900) && silent_for < Duration::from_secs(6),
        "disconnected after {silent_for:?}"
    );
    assert_eq!(
        next_event(&mut events, disconnected("oven-1")).await,
        DisconnectReason::MqttKeepAliveTimeout
    );
}

#[tokio::test]
async fn topics_over_iot_limits_disconnect_the_publisher() {
    let harness = Harness::start().await;
    let mut events = harness.gateway.lifecycle_events();
    let backend = harness.device(DevicePolicy::everything("backend"));
    let options = harness.v4_options(&backend, "backend");

    for (topic, accepted) in [
        ("a".repeat(256), true),
        ("a/b/c/d/e/f/g/h".to_owned(), true),
        ("a".repeat(257), false),
        ("a/b/c/d/e/f/g/h/i".to_owned(), false),
    ] {
        let (client, eventloop) = rumqttc::AsyncClient::new(options.clone(), 10);
        let mut seen = drive_v4(eventloop);
        next(&mut seen).await;
        client
            .publish(topic.clone(), ClientQoS::AtLeastOnce, false, "x")
            .await
            .unwrap();
        if accepted {
            assert!(
                matches!(next(&mut seen).await, Seen::PubAck { .. }),
                "{topic}"
            );
            client.disconnect().await.unwrap();
        } else {
            assert!(matches!(next(&mut seen).await, Seen::Closed(_)), "{topic}");
            let refusal = next_event(&mut events, |event| match event {
                LifecycleEvent::PublishRefused { refusal, .. } => Some(*refusal),
                _ => None,
            })
            .await;
            assert_eq!(refusal, PublishRefusal::InvalidTopic);
        }
        next_event(&mut events, disconnected("backend")).await;
    }
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.publish_in_success, 2);
    assert_eq!(metrics.publish_in_client_error, 2);
}

#[tokio::test]
async fn the_tap_sees_exactly_the_accepted_messages() {
    let harness = Harness::start().await;
    let mut tap = harness.gateway.accepted_messages().unwrap();
    assert!(
        harness.gateway.accepted_messages().is_none(),
        "the tap has one consumer"
    );
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&oven, "oven-1"), 10);
    let mut seen = drive_v5(eventloop);
    next(&mut seen).await;

    let mut expected = Vec::new();
    for round in 0..30u8 {
        let (topic, accepted) = match round % 3 {
            0 => ("COOKING_REQUESTED/h-1/oven-1", true),
            1 => ("DEVICE_TELEMETRY_REPORTED/h-1/oven-1", true),
            _ => ("COOKING_REQUESTED/h-2/oven-1", false),
        };
        client
            .publish(
                topic,
                ClientQoS5::AtLeastOnce,
                round % 5 == 0,
                vec![round; 6000],
            )
            .await
            .unwrap();
        next_where(&mut seen, |seen| matches!(seen, Seen::PubAck { .. })).await;
        if accepted {
            expected.push((topic.to_owned(), round));
        }
    }
    let mut trace_ids = std::collections::HashSet::new();
    for (topic, round) in &expected {
        let accepted = tap.recv().await.unwrap();
        assert_eq!(&*accepted.topic, topic);
        assert_eq!(accepted.payload[0], *round);
        assert_eq!(accepted.qos, QoS::AtLeastOnce);
        assert_eq!(accepted.retain, round % 5 == 0);
        assert_eq!(
            accepted.origin,
            Origin::Client {
                client_id: "oven-1".into(),
                principal: "oven-1".into()
            }
        );
        assert!(trace_ids.insert(accepted.trace_id));
    }
    assert!(tap.try_recv().is_err());
    let metrics = harness.gateway.metrics();
    assert_eq!(metrics.publish_in_success, expected.len() as u64);
    assert_eq!(metrics.publish_in_auth_error, 30 - expected.len() as u64);
    assert_eq!(metrics.inbound_messages, expected.len() as u64);
    assert_eq!(metrics.inbound_bytes, 6000 * expected.len() as u64);
    // 6000 bytes are two 5 KB units each.
    assert_eq!(metrics.inbound_billing_units, 2 * expected.len() as u64);
}

#[tokio::test]
async fn in_process_publish_reaches_subscribers_and_follows_topic_rules() {
    let harness = Harness::start().await;
    let mut tap = harness.gateway.accepted_messages().unwrap();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let (client, eventloop) =
        rumqttc::v5::AsyncClient::new(harness.v5_options(&oven, "oven-1"), 10);
    let mut seen = drive_v5(eventloop);
    next(&mut seen).await;
    client
        .subscribe("+/h-1/oven-1", ClientQoS5::AtLeastOnce)
        .await
        .unwrap();
    next(&mut seen).await;

    let published = harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "{\"ok\":true}",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    assert_eq!(
        next(&mut seen).await,
        Seen::Publish {
            topic: "COOKING_REPLIED/h-1/oven-1".into(),
            payload: b"{\"ok\":true}".to_vec(),
            retain: false,
            qos: 1
        }
    );
    let accepted = tap.recv().await.unwrap();
    assert_eq!(accepted.origin, Origin::Api);
    assert_eq!(accepted.trace_id, published.trace_id);

    assert!(
        harness
            .gateway
            .publish("a/+/b", "x", QoS::AtMostOnce, false)
            .is_err()
    );
    assert!(
        harness
            .gateway
            .publish(&"a".repeat(257), "x", QoS::AtMostOnce, false)
            .is_err()
    );
    assert!(
        harness
            .gateway
            .publish("a/b", vec![0u8; 128 * 1024 + 1], QoS::AtMostOnce, false)
            .is_err()
    );
    assert!(
        harness
            .gateway
            .publish(
                "$aws/things/oven-1/shadow/update",
                "x",
                QoS::AtMostOnce,
                true
            )
            .is_err()
    );
}

#[tokio::test]
async fn the_embedder_disconnects_a_client_and_its_will_is_published() {
    let harness = Harness::start().await;
    let mut tap = harness.gateway.accepted_messages().unwrap();
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let mut options = harness.v4_options(&oven, "oven-1");
    options.set_last_will(rumqttc::LastWill::new(
        "DEVICE_DISCONNECTED/h-1/oven-1",
        "gone",
        ClientQoS::AtLeastOnce,
        false,
    ));
    let (_client, eventloop) = rumqttc::AsyncClient::new(options, 10);
    let mut seen = drive_v4(eventloop);
    next(&mut seen).await;

    assert!(harness.gateway.disconnect("oven-1", false));
    assert!(!harness.gateway.disconnect("nobody", false));
    assert!(matches!(next(&mut seen).await, Seen::Closed(_)));
    assert_eq!(
        next_event(&mut events, disconnected("oven-1")).await,
        DisconnectReason::ApiInitiatedDisconnect
    );
    let will = tap.recv().await.unwrap();
    assert_eq!(&*will.topic, "DEVICE_DISCONNECTED/h-1/oven-1");
    assert_eq!(
        will.origin,
        Origin::Will {
            client_id: "oven-1".into(),
            principal: "oven-1".into()
        }
    );
    assert!(harness.gateway.connections().is_empty());
    assert!(harness.gateway.metrics().connection_seconds > 0.0);
}

#[tokio::test]
async fn a_reader_that_never_reads_does_not_hold_publishers() {
    let harness = Harness::with_limits(Limits {
        max_outbound_queue: 50,
        ..Limits::default()
    })
    .await;
    let mut events = harness.gateway.lifecycle_events();
    let stuck = harness.device(DevicePolicy::device("stuck", "h-1"));
    let mut raw = harness.raw(&stuck).await;
    raw_connect(&mut raw, "stuck", 30).await;
    // SUBSCRIBE "+/h-1/stuck" QoS 1, then never read again.
    let filter = b"+/h-1/stuck";
    let mut subscribe = vec![
        0x82,
        (2 + 2 + filter.len() + 1) as u8,
        0,
        1,
        0,
        filter.len() as u8,
    ];
    subscribe.extend_from_slice(filter);
    subscribe.push(1);
    raw.write_all(&subscribe).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    for round in 0..2000 {
        harness
            .gateway
            .publish(
                "COOKING_REPLIED/h-1/stuck",
                vec![round as u8; 8 * 1024],
                QoS::AtLeastOnce,
                false,
            )
            .unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "publishing was held up"
    );
    assert_eq!(
        next_event(&mut events, disconnected("stuck")).await,
        DisconnectReason::Throttled
    );
    assert!(harness.gateway.metrics().throttled_disconnects >= 1);
}

#[tokio::test]
async fn a_connection_deleted_with_its_session_resumes_nothing() {
    let harness = Harness::start().await;
    let mut events = harness.gateway.lifecycle_events();
    let oven = harness.device(DevicePolicy::device("oven-1", "h-1"));
    let mut options = harness.v4_options(&oven, "oven-1");
    options.set_clean_session(false);
    let connect = |options: rumqttc::MqttOptions| {
        let (client, eventloop) = rumqttc::AsyncClient::new(options, 10);
        (client, drive_v4(eventloop))
    };

    // Kept: the session is resumed after the API disconnected the client.
    let (client, mut seen) = connect(options.clone());
    next(&mut seen).await;
    client
        .subscribe("+/h-1/oven-1", ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    next(&mut seen).await;
    assert!(harness.gateway.disconnect("oven-1", false));
    next_event(&mut events, disconnected("oven-1")).await;
    drop((client, seen));
    let (client, mut seen) = connect(options.clone());
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: true
        }
    );

    // Cleaned: the next connection starts a new session, without the subscription.
    assert!(harness.gateway.disconnect("oven-1", true));
    next_event(&mut events, disconnected("oven-1")).await;
    drop((client, seen));
    let (_client, mut seen) = connect(options);
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    harness
        .gateway
        .publish(
            "COOKING_REPLIED/h-1/oven-1",
            "after",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), next(&mut seen))
            .await
            .is_err(),
        "no subscription survived the cleaned session"
    );
}
