//! MQTT over WebSocket (WSS on `/mqtt`, subprotocol `mqtt`): the same broker as the TLS
//! transport, the upgrade's URL handed to the authority as the client's credentials.

mod common;

use common::*;
use rumqttc::QoS as ClientQoS;

const SIGNED: &str = "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0a1b";

#[tokio::test]
async fn a_websocket_client_with_an_accepted_url_publishes_and_receives() {
    let harness = Harness::start().await;
    harness
        .authority
        .register_signature("0a1b", DevicePolicy::device("app-1", "h-1"));
    let (client, eventloop) =
        rumqttc::AsyncClient::new(harness.websocket_options(SIGNED, "app-1"), 10);
    let mut seen = drive_v4(eventloop);
    assert_eq!(
        next(&mut seen).await,
        Seen::ConnAck {
            session_present: false
        }
    );
    client
        .subscribe("COOKING_REPLIED/h-1/app-1", ClientQoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(
        next(&mut seen).await,
        Seen::SubAck(vec!["Success(AtLeastOnce)".to_owned()])
    );

    // A device on the TLS transport reaches the WebSocket client through the same broker.
    let oven = harness.device(DevicePolicy::everything("oven-1"));
    let (device, eventloop) = rumqttc::AsyncClient::new(harness.v4_options(&oven, "oven-1"), 10);
    let mut device_seen = drive_v4(eventloop);
    assert!(matches!(next(&mut device_seen).await, Seen::ConnAck { .. }));
    device
        .publish(
            "COOKING_REPLIED/h-1/app-1",
            ClientQoS::AtLeastOnce,
            false,
            "done",
        )
        .await
        .unwrap();
    let delivered = loop {
        if let Seen::Publish { topic, payload, .. } = next(&mut seen).await {
            break (topic, payload);
        }
    };
    assert_eq!(
        delivered,
        ("COOKING_REPLIED/h-1/app-1".to_owned(), b"done".to_vec())
    );
    let app = harness
        .gateway
        .connections()
        .into_iter()
        .find(|connection| connection.client_id == "app-1")
        .unwrap();
    assert_eq!(app.principal, "app-1");
}

#[tokio::test]
async fn a_url_the_authority_refuses_gets_connack_not_authorized() {
    let harness = Harness::start().await;
    let (_client, eventloop) = rumqttc::AsyncClient::new(
        harness.websocket_options("/mqtt?X-Amz-Signature=forged", "app-1"),
        10,
    );
    let mut seen = drive_v4(eventloop);
    match next(&mut seen).await {
        Seen::Refused(reason) => assert!(reason.contains("NotAuthorized"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(harness.gateway.metrics().connect_success, 0);
}

#[tokio::test]
async fn an_upgrade_to_another_path_never_reaches_mqtt() {
    let harness = Harness::start().await;
    harness
        .authority
        .register_signature("0a1b", DevicePolicy::device("app-1", "h-1"));
    let (_client, eventloop) = rumqttc::AsyncClient::new(
        harness.websocket_options("/ws?X-Amz-Signature=0a1b", "app-1"),
        10,
    );
    let mut seen = drive_v4(eventloop);
    assert!(
        matches!(next(&mut seen).await, Seen::Closed(_)),
        "the upgrade must fail"
    );
    assert!(harness.gateway.connections().is_empty());
}
