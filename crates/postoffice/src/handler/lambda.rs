//! Wires a [`Handler`] into the Lambda runtime with the SNS and DynamoDB adapters, and, when the
//! handler is deployed as its own SNS endpoint, the endpoint behind its function URL.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

use super::Handler;
use super::consumer::{Consumer, ConsumerService, Handled, RedriveTopic};
use super::dynamodb::DynamoDbIdempotencyStore;
use super::error::HandlerError;
use super::idempotency::{IDEMPOTENCY_TABLE_ENV, IdempotencyPolicy};
use super::publish::TOPIC_ARN_PREFIX_ENV;
use super::sns::SnsPublisher;
use crate::catalog::check_service_name;
use crate::endpoint::aws::{AwsSnsEndpoint, SetupError, aws_endpoint};
use crate::endpoint::{ConfigError, EndpointConfig, ServiceHandler, function_url};
use crate::invocation::ERROR_TYPE_NON_RETRYABLE;

/// Set (by the consumer module, `bridge = { mode = "embedded" }`) when the handler is its own
/// SNS endpoint: SNS pushes to the function URL of this alias of the function, and [`run`]
/// answers those function URL events through [`crate::endpoint`] (configured by the same
/// variables as the bridge, [`EndpointConfig`]). Unset: a bridge invokes the handler.
///
/// The alias is public (a function URL with auth type `NONE` needs `lambda:InvokeFunction` for
/// everyone), so an invocation that arrives through it and is not a function URL event is
/// refused: only the unqualified function, which only the account's IAM principals may invoke,
/// takes invocations that skip the endpoint.
pub const SNS_ENDPOINT_ALIAS_ENV: &str = "POSTOFFICE_SNS_ENDPOINT_ALIAS";

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
    #[error(
        "{SNS_ENDPOINT_ALIAS_ENV} {0:?} is not a Lambda alias name (letters, digits, - and _, at most 128, not only digits)"
    )]
    InvalidEndpointAlias(String),
    #[error("the embedded SNS endpoint: {0}")]
    EndpointConfig(#[from] ConfigError),
    #[error("the embedded SNS endpoint: {0}")]
    EndpointSetup(#[from] SetupError),
    #[error("Lambda runtime: {0}")]
    Runtime(lambda_runtime::Error),
    #[error("{var} {value:?} is not a socket address (e.g. 0.0.0.0:8080)")]
    InvalidListenAddress { var: &'static str, value: String },
    #[error("cannot listen on {address}: {error}")]
    Listen {
        address: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("HTTP service: {0}")]
    Serve(std::io::Error),
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
    let consumer = Arc::new(consumer_from_env(config, handler)?);
    let embedded = embedded_endpoint(config, &consumer)?.map(Arc::new);
    tracing::info!(
        consumer = H::CONSUMER,
        sns_endpoint_alias = embedded.as_ref().map(|e| e.alias.as_str()),
        "handler ready"
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let consumer = Arc::clone(&consumer);
        let embedded = embedded.clone();
        async move {
            let alias = embedded.as_ref().map(|e| e.alias.as_str());
            match route(alias, &event.payload, &event.context.invoked_function_arn) {
                Route::FunctionUrl => {
                    let endpoint = &embedded.as_ref().expect("routed with an endpoint").endpoint;
                    Ok(Answer::FunctionUrl(
                        endpoint.handle_function_url(event.payload).await,
                    ))
                }
                Route::Invocation => {
                    answer(consumer.handle_invocation(event.payload).await).map(Answer::Invocation)
                }
                Route::Refused(message) => {
                    tracing::warn!(%message, "invocation refused");
                    Err(Diagnostic {
                        error_type: ERROR_TYPE_NON_RETRYABLE.to_owned(),
                        error_message: message,
                    })
                }
            }
        }
    }))
    .await
    .map_err(StartupError::Runtime)
}

/// The handler with its SNS publisher and, when `POSTOFFICE_IDEMPOTENCY_TABLE` names one, its
/// DynamoDB idempotency guard: what every deployment of it runs ([`run`], [`super::serve`]).
pub(crate) fn consumer_from_env<H: Handler>(
    config: &SdkConfig,
    handler: H,
) -> Result<Consumer<H>, StartupError> {
    check_service_name(H::CONSUMER).map_err(|reason| StartupError::InvalidConsumer {
        name: H::CONSUMER.to_owned(),
        reason,
    })?;
    let prefix = topic_arn_prefix(std::env::var(TOPIC_ARN_PREFIX_ENV).ok())?;
    let publisher = Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(config)));
    let mut consumer = Consumer::new(handler, publisher, prefix);
    if let Some(redrive) = RedriveTopic::from_lookup(|name| std::env::var(name).ok()) {
        consumer = consumer.with_redrive_topic(redrive);
    }
    if let Some(table) = std::env::var(IDEMPOTENCY_TABLE_ENV)
        .ok()
        .filter(|t| !t.is_empty())
    {
        let client = aws_sdk_dynamodb::Client::new(config);
        let store = DynamoDbIdempotencyStore::new(client, table, IdempotencyPolicy::default());
        consumer = consumer.with_idempotency(Arc::new(store));
    }
    Ok(consumer)
}

/// The SNS endpoint a handler deployed with an embedded bridge serves.
struct Embedded<H> {
    alias: String,
    endpoint: AwsSnsEndpoint<ServiceHandler<ConsumerService<H>>>,
}

fn embedded_endpoint<H: Handler + 'static>(
    config: &SdkConfig,
    consumer: &Arc<Consumer<H>>,
) -> Result<Option<Embedded<H>>, StartupError> {
    let Some(alias) = std::env::var(SNS_ENDPOINT_ALIAS_ENV)
        .ok()
        .filter(|alias| !alias.is_empty())
    else {
        return Ok(None);
    };
    if !is_alias_name(&alias) {
        return Err(StartupError::InvalidEndpointAlias(alias));
    }
    // The bridge's metric dimension is the function it invokes; here it is this function.
    let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| H::CONSUMER.to_owned());
    let handler = ServiceHandler::new(name, ConsumerService::from(Arc::clone(consumer)));
    let endpoint = aws_endpoint(&EndpointConfig::from_env()?, config, handler)?;
    Ok(Some(Embedded { alias, endpoint }))
}

/// Lambda alias names: `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, at most 128 characters.
fn is_alias_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    FunctionUrl,
    Invocation,
    Refused(String),
}

/// Where an invocation goes: without an embedded endpoint, everything is a handler invocation
/// (as before); with one, function URL events go to the endpoint, and other payloads are
/// handler invocations unless they came through the public alias.
fn route(endpoint_alias: Option<&str>, payload: &Value, invoked_arn: &str) -> Route {
    let Some(alias) = endpoint_alias else {
        return Route::Invocation;
    };
    if function_url::is_event(payload) {
        return Route::FunctionUrl;
    }
    // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if invoked_arn.split(':').nth(7) == Some(alias) {
        return Route::Refused(format!(
            "invoked through {alias}, the alias of the SNS endpoint: it takes function URL events only; invoke the function itself"
        ));
    }
    Route::Invocation
}

/// What the function answers: a handler invocation's outcome, or a function URL response.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Invocation(Handled),
    FunctionUrl(Value),
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

    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-handler";

    #[test]
    fn without_an_embedded_endpoint_everything_is_an_invocation_as_before() {
        let url_event =
            serde_json::json!({"version": "2.0", "requestContext": {"http": {"method": "POST"}}});
        assert_eq!(route(None, &url_event, ARN), Route::Invocation);
        assert_eq!(
            route(None, &serde_json::json!({}), &format!("{ARN}:sns-endpoint")),
            Route::Invocation
        );
    }

    #[test]
    fn an_embedded_endpoint_takes_url_events_and_refuses_invocations_through_its_alias() {
        let alias = Some("sns-endpoint");
        let url_event =
            serde_json::json!({"version": "2.0", "requestContext": {"http": {"method": "POST"}}});
        let invocation = serde_json::json!({"envelope": {}, "delivery": {}});
        let through_alias = format!("{ARN}:sns-endpoint");
        assert_eq!(route(alias, &url_event, &through_alias), Route::FunctionUrl);
        assert_eq!(route(alias, &url_event, ARN), Route::FunctionUrl);
        assert!(matches!(
            route(alias, &invocation, &through_alias),
            Route::Refused(message) if message.contains("sns-endpoint")
        ));
        // An invocation of the function itself, or a version (IAM principals of the account).
        assert_eq!(route(alias, &invocation, ARN), Route::Invocation);
        assert_eq!(
            route(alias, &invocation, &format!("{ARN}:$LATEST")),
            Route::Invocation
        );
        assert_eq!(
            route(alias, &invocation, &format!("{ARN}:sns-endpoint-2")),
            Route::Invocation
        );
    }

    #[test]
    fn endpoint_aliases_are_lambda_alias_names() {
        assert!(is_alias_name("sns-endpoint"));
        assert!(is_alias_name("live_1"));
        for bad in ["", "42", "sns endpoint", "a:b", &"a".repeat(129)] {
            assert!(!is_alias_name(bad), "{bad}");
        }
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
