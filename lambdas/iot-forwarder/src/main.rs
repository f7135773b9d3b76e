use aws_config::BehaviorVersion;
use iot_forwarder::{Forwarder, IotDataPublisher};

#[tokio::main]
async fn main() -> Result<(), postoffice::handler::StartupError> {
    postoffice::handler::init_tracing();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let iot = IotDataPublisher::new(aws_sdk_iotdataplane::Client::new(&config));
    postoffice::handler::run_with(&config, Forwarder::new(iot)).await
}
