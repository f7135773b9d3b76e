//! The AWS emulator (moto server) and the SDK configuration every local client uses.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;

use crate::process::ChildProcess;

/// Fake credentials: moto accepts any, and nothing local may ever hold real ones.
pub const ACCESS_KEY_ID: &str = "postoffice-local";
pub const SECRET_ACCESS_KEY: &str = "postoffice-local-secret";

pub fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "postoffice-local",
            ),
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .build()
}

/// Starts `moto_server` on 127.0.0.1:`port` and waits until it answers SQS.
pub async fn start_moto(
    moto_server: &Path,
    port: u16,
    region: &str,
    log: &Path,
) -> anyhow::Result<ChildProcess> {
    let mut command = std::process::Command::new(moto_server);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut child = ChildProcess::spawn("moto", command, log)?;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&format!("http://127.0.0.1:{port}"), region));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_error;
    loop {
        match sqs.list_queues().send().await {
            Ok(_) => return Ok(child),
            Err(error) => {
                last_error = aws_sdk_sqs::error::DisplayErrorContext(&error).to_string();
            }
        }
        if let Some(status) = child.exited() {
            bail!("moto server exited with {status} (log: {})", log.display());
        }
        if Instant::now() > deadline {
            return Err(anyhow::anyhow!(
                "no answer within 60 s (last error: {last_error})"
            ))
            .with_context(|| format!("moto server did not start (log: {})", log.display()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
