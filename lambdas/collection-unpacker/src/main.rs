use std::sync::Arc;

use aws_config::BehaviorVersion;
use collection_unpacker::{REJECTED_QUEUE_URL_ENV, SqsRejectedMembers, Unpacker};
use postoffice::catalog::Catalog;
use postoffice::handler::{SnsPublisher, StartupError, TOPIC_ARN_PREFIX_ENV};

#[derive(thiserror::Error)]
enum UnpackerError {
    #[error(
        "{REJECTED_QUEUE_URL_ENV} is not set; it is the URL of the rejected-device-messages queue"
    )]
    MissingRejectedQueue,
    #[error(transparent)]
    Startup(#[from] StartupError),
}

/// `main`'s error is printed with Debug: say what is wrong, not the variant's name.
impl std::fmt::Debug for UnpackerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[tokio::main]
async fn main() -> Result<(), UnpackerError> {
    postoffice::handler::init_tracing();
    let queue_url = std::env::var(REJECTED_QUEUE_URL_ENV)
        .ok()
        .filter(|url| !url.is_empty())
        .ok_or(UnpackerError::MissingRejectedQueue)?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    // run_with checks the prefix before the first invocation.
    let prefix = std::env::var(TOPIC_ARN_PREFIX_ENV).unwrap_or_default();
    let unpacker = Unpacker::new(
        Catalog::embedded(),
        Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(&config))),
        prefix,
        SqsRejectedMembers::new(aws_sdk_sqs::Client::new(&config), queue_url),
    );
    postoffice::handler::run_with(&config, unpacker).await?;
    Ok(())
}
