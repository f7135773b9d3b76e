//! The handler API product teams write business logic against.
//!
//! A handler sees Post Office's own types only: a typed event, the
//! [`Envelope`](crate::Envelope) it came in, and a
//! [`Context`] to publish follow-up events. It never sees SNS, the bridge or Lambda, so a
//! transport can change without touching it.
//!
//! # Writing a handler
//! ```
//! use postoffice::handler::{Context, Handler, HandlerError};
//! use serde::Deserialize;
//!
//! /// The payload types this consumer reads, one variant per event name.
//! #[derive(Deserialize)]
//! #[serde(tag = "event", content = "payload")]
//! enum KitchenEvent {
//!     #[serde(rename = "COOKING_REQUESTED")]
//!     CookingRequested(CookingRequest),
//! }
//!
//! #[derive(Deserialize)]
//! struct CookingRequest {
//!     program: String,
//!     temperature_c: u32,
//!     duration_s: u32,
//! }
//!
//! struct Kitchen;
//!
//! impl Handler for Kitchen {
//!     const CONSUMER: &'static str = "kitchen";
//!     type Event = KitchenEvent;
//!
//!     async fn handle(&self, event: KitchenEvent, ctx: &mut Context<'_>) -> Result<(), HandlerError> {
//!         match event {
//!             KitchenEvent::CookingRequested(request) if request.temperature_c > 250 => {
//!                 // COOKING_REQUESTED → COOKING_REPLIED, to the requesting household and device.
//!                 ctx.reply(&serde_json::json!({
//!                     "status": "rejected",
//!                     "reason": "temperature-out-of-range",
//!                 }))?;
//!             }
//!             KitchenEvent::CookingRequested(request) => {
//!                 tracing::info!(program = %request.program, "cooking");
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//! and its `main.rs` (feature `lambda`): `postoffice::handler::init_tracing();
//! postoffice::handler::run(Kitchen).await`.
//!
//! # What the library does around it
//! For each invocation from the bridge ([`crate::invocation::HandlerInvocation`]),
//! [`Consumer::handle_invocation`]:
//! 1. decodes the invocation and checks the envelope's identity — malformed is **permanent**;
//! 2. validates the payload against the event's catalog schema — unknown event or invalid
//!    payload is **permanent**;
//! 3. reads the payload into the handler's type — a mismatch is **permanent**, with serde's
//!    message naming the field;
//! 4. with an idempotency guard, claims `CONSUMER#event_id` — already handled: success without
//!    running; being handled by a concurrent delivery: **retryable**;
//! 5. runs the handler; then sends what it queued with [`Context::publish`] / [`Context::reply`]
//!    to SNS: topic ARN = `POSTOFFICE_TOPIC_ARN_PREFIX` + EVENT, message = envelope JSON,
//!    message attributes `event`, `household_id`, `device_id`;
//! 6. marks the event handled on success, releases the claim on failure so the retry runs.
//!
//! Errors: any error converted with `?` is **retryable** (SNS delivers again with backoff, then
//! dead-letters); [`HandlerError::permanent`] or `.permanent()` ([`Permanent`]) sends the event
//! straight to the consumer's dead-letter queue. [`run`] reports them as Lambda function errors
//! with `errorType` `Retryable` / `NonRetryable`, which the bridge turns into 5xx / 4xx.
//!
//! Follow-ups keep the conversation: same household, device and correlation id, causation id =
//! the handled event. Their event ids are derived from the handled event, so a retried attempt
//! republishes the same ids and downstream guards drop the copies.
//!
//! # Testing a handler
//! Build a [`Consumer`] with [`testing::RecordingPublisher`] (and, for duplicates,
//! [`InMemoryIdempotencyStore`]), feed it invocation fixtures (or [`testing::invocation`] of an
//! envelope) and assert on the published envelopes and the error kind.
//!
//! # Deployed behind a bridge, or as its own SNS endpoint
//! The same binary runs both ways. Behind a bridge Lambda, [`run`] takes
//! [`crate::invocation::HandlerInvocation`]s. With [`SNS_ENDPOINT_ALIAS_ENV`] set (the consumer
//! module's `bridge = { mode = "embedded" }`), it also serves SNS's HTTPS pushes itself:
//! function URL events go through [`crate::endpoint`] (signature, topic allow-list, age,
//! subscription confirmation, the bridge's status table) to the same [`Consumer`]. Any tower or
//! axum server can do the same with [`crate::endpoint::SnsEndpointLayer`] over
//! [`Consumer::into_service`].
//!
//! # As an HTTP service
//! With feature `service`, [`serve`] runs the same handler as an HTTP service (the consumer
//! module's `compute = "container"`: ECS behind an ALB): the SNS endpoint on every path, a health
//! check on `/health`, graceful shutdown on SIGTERM; its `main` is the Lambda's with `serve` for
//! `run`. It reads the same variables, with [`LISTEN_ADDRESS_ENV`] for the port and the
//! endpoint's always set.
//!
//! # Configuration (`run`)
//! | variable | meaning |
//! |---|---|
//! | `POSTOFFICE_TOPIC_ARN_PREFIX` | required: SNS topic ARN prefix, EVENT appended |
//! | `POSTOFFICE_IDEMPOTENCY_TABLE` | optional: DynamoDB table of the idempotency guard |
//! | `POSTOFFICE_REDRIVE_TOPIC_ARN`, `POSTOFFICE_REDRIVE_EVENTS` | optional: the consumer's redrive topic and the events (comma-separated) it may carry, [`RedriveTopic`] |
//! | `POSTOFFICE_SNS_ENDPOINT_ALIAS` | optional: serve SNS behind this alias's function URL, configured by the bridge's variables (`POSTOFFICE_ALLOWED_TOPIC_ARNS`, …, [`crate::endpoint::EndpointConfig`]) |
//! | `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SNS`, … | endpoint overrides for local runs |

mod consumer;
mod context;
mod error;
mod idempotency;
mod publish;
mod schemas;
pub mod testing;

#[cfg(feature = "lambda")]
mod dynamodb;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "service")]
mod service;
#[cfg(feature = "lambda")]
mod sns;

#[cfg(test)]
mod tests;

use std::future::Future;

use serde::de::DeserializeOwned;

#[cfg(feature = "sns-endpoint")]
pub use consumer::ConsumerService;
pub use consumer::{Consumer, Handled, REDRIVE_EVENTS_ENV, REDRIVE_TOPIC_ARN_ENV, RedriveTopic};
pub use context::Context;
pub use error::{ErrorKind, HandlerError, Permanent};
pub use idempotency::{
    Claim, IDEMPOTENCY_TABLE_ENV, IdempotencyError, IdempotencyPolicy, IdempotencyStore,
    InMemoryIdempotencyStore, idempotency_key,
};
pub use publish::{
    ATTRIBUTE_DEVICE_ID, ATTRIBUTE_EVENT, ATTRIBUTE_HOUSEHOLD_ID, Publication, Publish,
    PublishError, TOPIC_ARN_PREFIX_ENV,
};
pub use schemas::Schemas;

#[cfg(feature = "lambda")]
pub use dynamodb::DynamoDbIdempotencyStore;
#[cfg(feature = "lambda")]
pub use lambda::{SNS_ENDPOINT_ALIAS_ENV, StartupError, init_tracing, run, run_with};
#[cfg(feature = "service")]
pub use service::{
    DEFAULT_LISTEN_ADDRESS, HANDLER_NAME_ENV, HEALTH_PATH, LISTEN_ADDRESS_ENV, serve, serve_on,
};
#[cfg(feature = "lambda")]
pub use sns::SnsPublisher;

/// Business logic for the events of one consumer.
pub trait Handler: Send + Sync {
    /// The consumer name (as in the catalog's `consumers` lists): the `source` of what it
    /// publishes and the scope of its idempotency keys.
    const CONSUMER: &'static str;

    /// The payload type(s), read by serde from `{"event": NAME, "payload": {…}}`: usually an
    /// enum with `#[serde(tag = "event", content = "payload")]`, one variant per event name.
    /// `serde_json::Value` accepts anything.
    type Event: DeserializeOwned + Send;

    fn handle(
        &self,
        event: Self::Event,
        ctx: &mut Context<'_>,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}
