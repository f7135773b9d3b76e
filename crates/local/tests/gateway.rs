//! The MQTT gateway against a real mosquitto: the generated ACL grants a device exactly what the
//! IoT device policy grants, and refuses the rest with MQTT 5's "not authorized".

use std::path::Path;
use std::time::Duration;

use postoffice::catalog::Catalog;
use postoffice_local::device::{SimulatedDevice, device_message};
use postoffice_local::gateway::Gateway;
use postoffice_local::mqtt::MqttSession;
use postoffice_test_support::free_port;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn devices_publish_only_their_own_allowed_events() {
    let catalog =
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../event-catalog")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (gateway, _mosquitto) = Gateway::start(
        &catalog,
        free_port(),
        &dir.path().join("mosquitto"),
        &dir.path().join("mosquitto.log"),
    )
    .await
    .unwrap();
    let credentials = gateway.register_household("h-1").await.unwrap();
    let (_observer, mut seen) = MqttSession::connect(
        gateway.port,
        "observer",
        &gateway.gateway_credentials(),
        &["#".to_owned()],
        WAIT,
    )
    .await
    .unwrap();
    let oven = SimulatedDevice::connect(gateway.port, &credentials, "oven-1")
        .await
        .unwrap();
    let payload = serde_json::to_vec(&device_message(serde_json::json!({}))).unwrap();
    for topic in [
        "COOKING_REQUESTED/h-2/oven-1",
        "COOKING_REQUESTED/h-1/oven-2",
        "COOKING_REPLIED/h-1/oven-1",
    ] {
        // mosquitto 2.0 answers PUBACK "not authorized" (0x87) and then closes the connection,
        // so the publisher sees either; the observer below proves nothing got through.
        oven.publish_to(topic, payload.clone())
            .await
            .expect_err(&format!("{topic} was accepted"));
    }
    // The observer reads every topic; the allowed publish (after the device reconnected) reaches
    // it and nothing came before.
    oven.publish("COOKING_REQUESTED", &device_message(serde_json::json!({})))
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("the allowed message never arrived")
        .unwrap();
    assert_eq!(first.topic, "COOKING_REQUESTED/h-1/oven-1");
}

#[tokio::test]
async fn unknown_households_and_wrong_passwords_cannot_connect() {
    let catalog =
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../event-catalog")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (gateway, _mosquitto) = Gateway::start(
        &catalog,
        free_port(),
        &dir.path().join("mosquitto"),
        &dir.path().join("mosquitto.log"),
    )
    .await
    .unwrap();
    let mut credentials = gateway.register_household("h-1").await.unwrap();
    credentials.password.push('x');
    assert!(
        SimulatedDevice::connect(gateway.port, &credentials, "oven-1")
            .await
            .is_err()
    );
    credentials.username = "h-unknown".to_owned();
    assert!(
        SimulatedDevice::connect(gateway.port, &credentials, "oven-1")
            .await
            .is_err()
    );
}
