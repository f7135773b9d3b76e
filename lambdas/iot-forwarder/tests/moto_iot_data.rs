//! A second opinion on the IoT data plane adapter: moto's iot-data accepts the same Publish.

use aws_sdk_iotdataplane::config::{BehaviorVersion, Credentials, Region};
use iot_forwarder::{IotDataPublisher, IotPublish};
use postoffice::Topic;
use postoffice_test_support::Moto;

#[tokio::test]
async fn moto_accepts_the_forwarders_publish() {
    let moto = Moto::start().await;

    let config = aws_sdk_iotdataplane::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(moto.endpoint())
        .build();
    let publisher = IotDataPublisher::new(aws_sdk_iotdataplane::Client::from_conf(config));
    let topic = Topic::parse("COOKING_REPLIED/h-1/oven-1").unwrap();
    publisher
        .publish(&topic, br#"{"event":"COOKING_REPLIED"}"#.to_vec())
        .await
        .unwrap();
}
