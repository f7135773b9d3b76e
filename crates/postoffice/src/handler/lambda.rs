//! Wires a [`Handler`] into the Lambda runtime with the SNS and DynamoDB adapters.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

use super::Handler;
use super::consumer::{Consumer, Handled};
use super::dynamodb::DynamoDbIdempotencyStore;
use super::error::HandlerError;
use super::idempotency::{IDEMPOTENCY_TABLE_ENV, IdempotencyPolicy};
use super::publish::TOPIC_ARN_PREFIX_ENV;
use super::sns::SnsPublisher;
use crate::catalog::check_service_name;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "{TOPIC_ARN_PREFIX_ENV} is not set; it is the SNS topic ARN prefix the event name is appended to (e.g. arn:aws:sns:eu-west-1:123456789012:postoffice-)"
    )]
    MissingTopicArnPrefix,
    #[error(
        "{TOPIC_ARN_PREFIX_ENV} {0:?} is not an SNS ARN prefix (arn:…:sns:REGION:ACCOUNT:PREFIX)"
    )]
    InvalidTopicArnPrefix(String),
    #[error("consumer name {name:?} {reason}")]
    InvalidConsumer { name: String, reason: String },
    #[error("Lambda runtime: {0}")]
    Runtime(lambda_runtime::Error),
}

/// JSON logs, one object per line, level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .init();
}

/// Runs `handler` as a handler Lambda, loading the AWS configuration from the environment.
pub async fn run<H: Handler + 'static>(handler: H) -> Result<(), StartupError> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::aws_http::http_client())
        .load()
        .await;
    run_with(&config, handler).await
}

/// Like [`run`], for a `main` that has loaded the AWS configuration for its own clients.
pub async fn run_with<H: Handler + 'static>(
    config: &SdkConfig,
    handler: H,
) -> Result<(), StartupError> {
    check_service_name(H::CONSUMER).map_err(|reason| StartupError::InvalidConsumer {
        name: H::CONSUMER.to_owned(),
        reason,
    })?;
    let prefix = topic_arn_prefix(std::env::var(TOPIC_ARN_PREFIX_ENV).ok())?;
    let publisher = Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(config)));
    let mut consumer = Consumer::new(handler, publisher, prefix);
    if let Some(table) = std::env::var(IDEMPOTENCY_TABLE_ENV)
        .ok()
        .filter(|t| !t.is_empty())
    {
        let client = aws_sdk_dynamodb::Client::new(config);
        let store = DynamoDbIdempotencyStore::new(client, table, IdempotencyPolicy::default());
        consumer = consumer.with_idempotency(Arc::new(store));
    }
    let consumer = Arc::new(consumer);
    tracing::info!(consumer = H::CONSUMER, "handler ready");
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let consumer = Arc::clone(&consumer);
        async move { answer(consumer.handle_invocation(event.payload).await) }
    }))
    .await
    .map_err(StartupError::Runtime)
}

fn topic_arn_prefix(value: Option<String>) -> Result<String, StartupError> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(StartupError::MissingTopicArnPrefix)?;
    let fields: Vec<&str> = value.splitn(6, ':').collect();
    if fields.len() != 6 || fields[0] != "arn" || fields[2] != "sns" {
        return Err(StartupError::InvalidTopicArnPrefix(value));
    }
    Ok(value)
}

/// The Lambda answer: the outcome as JSON, or a function error the bridge classifies.
pub(crate) fn answer(result: Result<Handled, HandlerError>) -> Result<Handled, Diagnostic> {
    result.map_err(|error| {
        tracing::warn!(
            kind = error.kind().error_type(),
            error = error.message(),
            "event not handled"
        );
        Diagnostic {
            error_type: error.kind().error_type().to_owned(),
            error_message: error.message().to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::{ERROR_TYPE_NON_RETRYABLE, ERROR_TYPE_RETRYABLE};

    #[test]
    fn errors_become_diagnostics_the_bridge_classifies() {
        let retryable = answer(Err(HandlerError::retryable("store down"))).unwrap_err();
        assert_eq!(retryable.error_type, ERROR_TYPE_RETRYABLE);
        assert_eq!(retryable.error_message, "store down");
        let permanent = answer(Err(HandlerError::permanent("bad payload"))).unwrap_err();
        assert_eq!(permanent.error_type, ERROR_TYPE_NON_RETRYABLE);
    }

    #[test]
    fn the_topic_arn_prefix_is_required_and_checked() {
        assert!(matches!(
            topic_arn_prefix(None),
            Err(StartupError::MissingTopicArnPrefix)
        ));
        assert!(matches!(
            topic_arn_prefix(Some("postoffice-".into())),
            Err(StartupError::InvalidTopicArnPrefix(_))
        ));
        assert_eq!(
            topic_arn_prefix(Some(
                "arn:aws:sns:eu-west-1:123456789012:postoffice-".into()
            ))
            .unwrap(),
            "arn:aws:sns:eu-west-1:123456789012:postoffice-"
        );
    }
}
