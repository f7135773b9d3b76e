//! A tiny Post Office handler for the bridge's tests in the Lambda host (feature `test-handler`,
//! never packaged): `tests/function_url.rs` runs this one binary behind the bridge and as its
//! own SNS endpoint. The COOKING_REQUESTED payload's `recipe_id` picks what it answers:
//! `non-retryable`, `retryable`, anything else handled.

use postoffice::handler::{Context, Handler, HandlerError, StartupError};

struct Scripted;

impl Handler for Scripted {
    const CONSUMER: &'static str = "kitchen";
    type Event = serde_json::Value;

    async fn handle(
        &self,
        event: serde_json::Value,
        ctx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let refused = |what: &str| format!("test handler {what} {}", ctx.envelope().event_id);
        match event["payload"]["recipe_id"].as_str() {
            Some("non-retryable") => Err(HandlerError::permanent(refused("refuses"))),
            Some("retryable") => Err(HandlerError::retryable(refused("fails"))),
            _ => Ok(()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), StartupError> {
    postoffice::handler::init_tracing();
    postoffice::handler::run(Scripted).await
}
