//! The SNS bridge Lambda behind a function URL. Everything but wiring lives in the libraries.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use postoffice::endpoint::aws::aws_endpoint;
use serde_json::Value;
use sns_bridge::invoke::{InvokeHandler, LambdaInvoker};
use sns_bridge::{BridgeConfig, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let config = BridgeConfig::from_env().inspect_err(|error| {
        tracing::error!(%error, "invalid bridge configuration");
    })?;

    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let handler = InvokeHandler::new(
        config.handler_function.clone(),
        LambdaInvoker::new(&sdk_config, config.endpoint.handler_timeout),
    );
    let bridge = aws_endpoint(&config.endpoint, &sdk_config, handler)?;
    let bridge = &bridge;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the request's future (verifier, SDK invoke) nested in the runtime's is deeper
        // than rustc's default query depth.
        let answer = Box::pin(bridge.handle_function_url(event.payload)).await;
        Ok::<Value, Diagnostic>(answer)
    }))
    .await
}
