//! A tiny handler for the bridge's integration test in the Lambda host, `tests/function_url.rs`
//! (feature `test-handler`, never packaged). The envelope's `payload.answer` picks what it
//! answers: `"handled"` (default), `"non-retryable"` or `"retryable"`.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use postoffice::invocation::{ERROR_TYPE_NON_RETRYABLE, ERROR_TYPE_RETRYABLE, HandlerInvocation};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<HandlerInvocation>) -> Result<Value, Diagnostic> {
    let invocation = event.payload;
    let error = |error_type: &str| Diagnostic {
        error_type: error_type.to_owned(),
        error_message: format!("test handler refused {}", invocation.envelope.event_id),
    };
    match invocation
        .envelope
        .payload
        .get("answer")
        .and_then(Value::as_str)
    {
        Some("non-retryable") => Err(error(ERROR_TYPE_NON_RETRYABLE)),
        Some("retryable") => Err(error(ERROR_TYPE_RETRYABLE)),
        _ => Ok(json!({
            "event_id": invocation.envelope.event_id,
            "sns_message_id": invocation.delivery.sns_message_id,
        })),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
