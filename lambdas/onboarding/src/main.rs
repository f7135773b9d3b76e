use aws_config::BehaviorVersion;
use onboarding::iot::{IotConnections, IotRegistry};
use onboarding::{Onboarding, Settings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    postoffice::handler::init_tracing();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let onboarding = Onboarding::new(
        IotRegistry::new(aws_sdk_iot::Client::new(&config)),
        // AWS_ENDPOINT_URL_IOT_DATA_PLANE: the account's ATS data endpoint (Terraform sets it).
        IotConnections::new(aws_sdk_iotdataplane::Client::new(&config)),
        settings,
    );
    postoffice::handler::run_with(&config, onboarding).await?;
    Ok(())
}
