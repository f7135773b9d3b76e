//! The pure core of a handler Lambda: invocation in, outcome out. No Lambda runtime, no AWS SDK:
//! those are wired in by [`super::run`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use uuid::Uuid;

use super::Handler;
use super::context::Context;
use super::error::HandlerError;
use super::idempotency::{Claim, IdempotencyStore, idempotency_key};
use super::publish::{Publication, Publish};
use super::schemas::Schemas;
use crate::catalog::Catalog;
use crate::envelope::Envelope;
use crate::invocation::HandlerInvocation;

/// The success answer of a handler Lambda (the bridge only looks at success vs error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handled {
    pub event_id: Uuid,
    /// The event had been handled before; the handler did not run again.
    pub duplicate: bool,
    /// Ids of the follow-up events published, in order.
    pub published: Vec<Uuid>,
}

/// One consumer: a handler with the ports it publishes and remembers through.
pub struct Consumer<H> {
    handler: H,
    publisher: Arc<dyn Publish>,
    topic_arn_prefix: String,
    schemas: Arc<dyn Schemas>,
    idempotency: Option<Arc<dyn IdempotencyStore>>,
    redrive: Option<RedriveTopic>,
    clock: fn() -> SystemTime,
}

/// The consumer's own redrive topic and the events it may carry: those the consumer subscribes
/// to (`postoffice dlq redrive` republishes its dead letters there, docs/contracts.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveTopic {
    pub topic_arn: String,
    pub events: BTreeSet<String>,
}

/// Set by the consumer module: the ARN of the consumer's redrive topic.
pub const REDRIVE_TOPIC_ARN_ENV: &str = "POSTOFFICE_REDRIVE_TOPIC_ARN";
/// Set by the consumer module: the events the consumer subscribes to, comma-separated; the only
/// ones its redrive topic may carry.
pub const REDRIVE_EVENTS_ENV: &str = "POSTOFFICE_REDRIVE_EVENTS";

impl RedriveTopic {
    /// From [`REDRIVE_TOPIC_ARN_ENV`] and [`REDRIVE_EVENTS_ENV`]; `None` when the topic is unset
    /// (then nothing is accepted from any redrive topic).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let topic_arn = lookup(REDRIVE_TOPIC_ARN_ENV)
            .map(|arn| arn.trim().to_owned())
            .filter(|arn| !arn.is_empty())?;
        let events = lookup(REDRIVE_EVENTS_ENV)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|event| !event.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Self { topic_arn, events })
    }
}

impl<H: Handler> Consumer<H> {
    /// Validates payloads against the embedded event catalog; see [`Consumer::with_schemas`].
    pub fn new(
        handler: H,
        publisher: Arc<dyn Publish>,
        topic_arn_prefix: impl Into<String>,
    ) -> Self {
        Self {
            handler,
            publisher,
            topic_arn_prefix: topic_arn_prefix.into(),
            schemas: Arc::new(EmbeddedCatalog),
            idempotency: None,
            redrive: None,
            clock: SystemTime::now,
        }
    }

    /// Also accepts envelopes of `redrive.events` that arrive on `redrive.topic_arn`.
    pub fn with_redrive_topic(mut self, redrive: RedriveTopic) -> Self {
        self.redrive = Some(redrive);
        self
    }

    pub fn with_schemas(mut self, schemas: Arc<dyn Schemas>) -> Self {
        self.schemas = schemas;
        self
    }

    /// Turns on the idempotency guard: each event id is handled once by this consumer.
    pub fn with_idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.idempotency = Some(store);
        self
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Handles one invocation from the bridge as JSON; see
    /// [`Consumer::handle`].
    pub async fn handle_invocation(
        &self,
        invocation: serde_json::Value,
    ) -> Result<Handled, HandlerError> {
        let invocation: HandlerInvocation =
            serde_json::from_value(invocation).map_err(|error| {
                HandlerError::permanent(format!("not a handler invocation: {error}"))
            })?;
        self.handle(invocation).await
    }

    /// Handles one invocation.
    ///
    /// Order matters: everything that can prove the event hopeless (identity, topic, schema,
    /// payload type) is checked before the guard claims it, and nothing is published unless the
    /// handler succeeded.
    pub async fn handle(&self, invocation: HandlerInvocation) -> Result<Handled, HandlerError> {
        let HandlerInvocation { envelope, delivery } = invocation;
        envelope
            .validate()
            .map_err(|error| HandlerError::permanent(error.to_string()))?;
        self.check_topic(&envelope, &delivery.topic_arn)?;
        self.schemas
            .validate_payload(&envelope.event, &envelope.payload)
            .map_err(|error| HandlerError::permanent(error.to_string()))?;
        let event = decode::<H>(&envelope)?;

        let key = idempotency_key(
            H::CONSUMER,
            &envelope.household_id,
            &envelope.device_id,
            envelope.event_id,
        );
        if let Some(store) = &self.idempotency {
            match store.claim(&key, (self.clock)()).await? {
                Claim::Acquired => {}
                Claim::AlreadyHandled => {
                    tracing::info!(
                        event = %envelope.event,
                        event_id = %envelope.event_id,
                        "duplicate event skipped"
                    );
                    return Ok(Handled {
                        event_id: envelope.event_id,
                        duplicate: true,
                        published: Vec::new(),
                    });
                }
                Claim::InProgress => {
                    return Err(HandlerError::retryable(format!(
                        "event {} is being handled by another delivery",
                        envelope.event_id
                    )));
                }
            }
        }

        let result = self.run_handler(event, &envelope, &delivery).await;
        if let Some(store) = &self.idempotency {
            self.settle(store.as_ref(), &key, result.is_ok()).await;
        }
        let published = result?;
        tracing::info!(
            event = %envelope.event,
            event_id = %envelope.event_id,
            correlation_id = %envelope.correlation_id,
            causation_id = envelope.causation_id.as_ref().map(tracing::field::display),
            published = published.len(),
            "event handled"
        );
        Ok(Handled {
            event_id: envelope.event_id,
            duplicate: false,
            published,
        })
    }

    /// An envelope travels on its own event's topic only (`{prefix}{EVENT}`, the ARN this
    /// consumer publishes that event to). The bridge checks this before invoking; checking again
    /// here keeps a mistaken or compromised bridge (or a redrive) from delivering, say, a
    /// FIRMWARE_UPDATE_OFFERED envelope that some service could publish on its COOKING_REPLIED
    /// topic. The one other topic is the consumer's redrive topic, which carries its own events
    /// only.
    fn check_topic(&self, envelope: &Envelope, topic_arn: &str) -> Result<(), HandlerError> {
        if let Some(redrive) = self
            .redrive
            .as_ref()
            .filter(|redrive| redrive.topic_arn == topic_arn)
        {
            if redrive.events.contains(&envelope.event) {
                return Ok(());
            }
            return Err(HandlerError::permanent(format!(
                "envelope {} says {}, which consumer {} does not subscribe to, and arrived on its redrive topic {}",
                envelope.event_id,
                envelope.event,
                H::CONSUMER,
                bounded(topic_arn)
            )));
        }
        let expected = topic_arn
            .strip_prefix(self.topic_arn_prefix.as_str())
            .is_some_and(|event| event == envelope.event);
        if expected {
            return Ok(());
        }
        Err(HandlerError::permanent(format!(
            "envelope {} says {} but arrived on topic {}, not on {}{}",
            envelope.event_id,
            envelope.event,
            bounded(topic_arn),
            self.topic_arn_prefix,
            envelope.event
        )))
    }

    async fn run_handler(
        &self,
        event: H::Event,
        envelope: &Envelope,
        delivery: &crate::invocation::Delivery,
    ) -> Result<Vec<Uuid>, HandlerError> {
        let mut context = Context::new(envelope, delivery, H::CONSUMER, self.schemas.as_ref());
        self.handler.handle(event, &mut context).await?;
        let outbox = context.into_outbox();
        let mut published = Vec::with_capacity(outbox.len());
        for follow_up in &outbox {
            let publication = Publication::of(follow_up, &self.topic_arn_prefix);
            self.publisher.publish(&publication).await?;
            published.push(follow_up.event_id);
        }
        Ok(published)
    }

    /// A store failure here must not turn a handled event into an error: the work is done. The
    /// claim then lapses after its timeout.
    async fn settle(&self, store: &dyn IdempotencyStore, key: &str, succeeded: bool) {
        let settled = if succeeded {
            store.complete(key, (self.clock)()).await
        } else {
            store.release(key).await
        };
        if let Err(error) = settled {
            tracing::warn!(key, succeeded, %error, "idempotency record not updated");
        }
    }
}

/// The handler's payload type(s) are read from `{"event": …, "payload": …}`, so an adjacently
/// tagged enum (`#[serde(tag = "event", content = "payload")]`) picks its variant by event name.
fn decode<H: Handler>(envelope: &Envelope) -> Result<H::Event, HandlerError> {
    let tagged = serde_json::json!({"event": envelope.event, "payload": envelope.payload});
    serde_json::from_value(tagged).map_err(|error| {
        HandlerError::permanent(format!(
            "consumer {} cannot read {} {}: {error}",
            H::CONSUMER,
            envelope.event,
            envelope.event_id
        ))
    })
}

/// A topic ARN from an invocation, cut to a length fit for an error message.
fn bounded(text: &str) -> &str {
    const MAX_CHARS: usize = 300;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A consumer as a tower service of invocations (clones share it): what an SNS endpoint wraps,
/// [`crate::endpoint::SnsEndpointLayer`].
#[cfg(feature = "sns-endpoint")]
pub struct ConsumerService<H>(Arc<Consumer<H>>);

#[cfg(feature = "sns-endpoint")]
mod service {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use super::{Consumer, ConsumerService, Handled, Handler, HandlerError};
    use crate::invocation::HandlerInvocation;

    impl<H> Consumer<H> {
        pub fn into_service(self) -> ConsumerService<H> {
            ConsumerService(Arc::new(self))
        }
    }

    impl<H> From<Arc<Consumer<H>>> for ConsumerService<H> {
        fn from(consumer: Arc<Consumer<H>>) -> Self {
            Self(consumer)
        }
    }

    impl<H> Clone for ConsumerService<H> {
        fn clone(&self) -> Self {
            Self(Arc::clone(&self.0))
        }
    }

    impl<H: Handler + 'static> tower_service::Service<HandlerInvocation> for ConsumerService<H> {
        type Response = Handled;
        type Error = HandlerError;
        type Future = Pin<Box<dyn Future<Output = Result<Handled, HandlerError>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, invocation: HandlerInvocation) -> Self::Future {
            let consumer = Arc::clone(&self.0);
            Box::pin(async move { consumer.handle(invocation).await })
        }
    }
}

struct EmbeddedCatalog;

impl Schemas for EmbeddedCatalog {
    fn validate_payload(
        &self,
        event: &str,
        payload: &serde_json::Value,
    ) -> Result<(), crate::catalog::PayloadError> {
        Catalog::embedded().validate_payload(event, payload)
    }

    fn schema_version(&self, event: &str) -> Option<u32> {
        <Catalog as Schemas>::schema_version(Catalog::embedded(), event)
    }
}
