//! A second opinion on the IoT data plane adapter: moto's iot-data accepts the same Publish.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_iotdataplane::config::{BehaviorVersion, Credentials, Region};
use iot_forwarder::{IotDataPublisher, IotPublish};
use postoffice::Topic;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `make setup` installs moto in the repository's `.venv`; `MOTO_SERVER` overrides the path.
fn moto_server() -> PathBuf {
    std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
            assert!(
                venv.exists(),
                "moto server not found at {}: run `make setup` or set MOTO_SERVER",
                venv.display()
            );
            venv
        })
}

#[tokio::test]
async fn moto_accepts_the_forwarders_publish() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _moto = Moto(
        Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto server starts"),
    );
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "moto did not listen on port {port} within 20 s");

    let config = aws_sdk_iotdataplane::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let publisher = IotDataPublisher::new(aws_sdk_iotdataplane::Client::from_conf(config));
    let topic = Topic::parse("COOKING_REPLIED/h-1/oven-1").unwrap();
    publisher
        .publish(&topic, br#"{"event":"COOKING_REPLIED"}"#.to_vec())
        .await
        .unwrap();
}
