//! The collection-unpacker: the consumer of EVENT_COLLECTION (docs/contracts.md, "Event
//! collections"). A device sends several of its events in one MQTT message on
//! `EVENT_COLLECTION/{household}/{device}`; the collection's IoT rule publishes its envelope
//! (identity from the topic) to the EVENT_COLLECTION topic, and this consumer publishes each
//! member to its own event's topic as the envelope the event's rule would have built had the
//! device published the member alone. Consumers of those events see them as they see any
//! device's event; they never see the collection.
//!
//! Each member is checked as a device message published alone is checked (the event rules'
//! readable parts), and besides: its event must be one devices may collect (a `collection` in
//! its catalog file), its payload must match the event's schema, and its event id must not be
//! one an earlier member of the collection was published with. A member that fails is not
//! published: it is kept in the platform's rejected-device-messages queue (the rejection rules'
//! format, `ruleName` `collection-unpacker`), where on-call sees and counts it with the device
//! messages the rules rejected. The other members are published all the same, and the collection
//! is handled: bad members never fail it, so they never send it to the dead-letter queue nor
//! make a redrive publish the good ones again.
//!
//! Publishing and keeping rejected members are the only I/O ([`Publish`], [`RejectedMembers`]);
//! a failure of either is retryable, and the retry publishes the same envelopes (the same event
//! ids, so consumers' idempotency guards drop the copies) and keeps the same rejections again.

mod member;
mod rejection;
mod sqs;
mod unpack;

use std::sync::Arc;

use async_trait::async_trait;
use postoffice::catalog::{COLLECTION_UNPACKER, Catalog, MAX_COLLECTION_MEMBERS};
use postoffice::envelope::Envelope;
use postoffice::handler::{Context, Handler, HandlerError, Publication, Publish};
use serde::Deserialize;

pub use member::{Part, Unreadable, rfc3339_time, schema_version, uuid_text};
pub use rejection::rejection_body;
pub use sqs::SqsRejectedMembers;
pub use unpack::{RejectedMember, Unpacked, member_event_id, unpack};

/// The handler's environment variable naming the rejected-device-messages queue's URL (set by
/// the consumer module for the unpacker).
pub const REJECTED_QUEUE_URL_ENV: &str = "POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL";

/// What the unpacker consumes: EVENT_COLLECTION only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", content = "payload")]
pub enum CollectionEvent {
    #[serde(rename = "EVENT_COLLECTION")]
    Collection(Collection),
}

/// The payload of an EVENT_COLLECTION envelope: the members as the device sent them, each read
/// on its own so that one bad member does not make the whole collection unreadable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Collection {
    pub events: Vec<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("keeping a rejected collection member failed: {0}")]
pub struct KeepError(pub String);

/// Where members that cannot be published are kept: the rejected-device-messages queue
/// ([`SqsRejectedMembers`]); tests record them.
#[async_trait]
pub trait RejectedMembers: Send + Sync {
    /// Keeps one rejected member, `body` being its queue message ([`rejection_body`]).
    async fn keep(&self, body: String) -> Result<(), KeepError>;
}

#[async_trait]
impl<R: RejectedMembers + ?Sized> RejectedMembers for Arc<R> {
    async fn keep(&self, body: String) -> Result<(), KeepError> {
        self.as_ref().keep(body).await
    }
}

pub struct Unpacker<R> {
    catalog: &'static Catalog,
    publisher: Arc<dyn Publish>,
    topic_arn_prefix: String,
    rejected: R,
}

impl<R: RejectedMembers> Unpacker<R> {
    /// `topic_arn_prefix` is the handlers' `POSTOFFICE_TOPIC_ARN_PREFIX`; members are checked
    /// against `catalog` (in the Lambda, the embedded one the library checks collections with).
    pub fn new(
        catalog: &'static Catalog,
        publisher: Arc<dyn Publish>,
        topic_arn_prefix: impl Into<String>,
        rejected: R,
    ) -> Self {
        Self {
            catalog,
            publisher,
            topic_arn_prefix: topic_arn_prefix.into(),
            rejected,
        }
    }

    pub fn rejected(&self) -> &R {
        &self.rejected
    }

    /// A member's envelope goes to its event's topic as the event's IoT rule sends it: the
    /// envelope alone, no message attributes, so that consumers cannot tell the two apart.
    fn publication(&self, envelope: &Envelope) -> Publication {
        Publication {
            topic_arn: format!("{}{}", self.topic_arn_prefix, envelope.event),
            message: envelope.to_json(),
            attributes: Default::default(),
        }
    }
}

impl<R: RejectedMembers> Handler for Unpacker<R> {
    const CONSUMER: &'static str = COLLECTION_UNPACKER;
    type Event = CollectionEvent;

    async fn handle(
        &self,
        event: CollectionEvent,
        ctx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let CollectionEvent::Collection(Collection { events }) = event;
        let collection = ctx.envelope();
        // The collection rule and the catalog's schema keep larger collections out; this holds
        // whatever schema the catalog was built with.
        if events.len() > MAX_COLLECTION_MEMBERS {
            return Err(HandlerError::permanent(format!(
                "collection {} has {} members; at most {MAX_COLLECTION_MEMBERS} are unpacked",
                collection.event_id,
                events.len()
            )));
        }
        let unpacked = unpack(collection, &events, self.catalog);
        for envelope in &unpacked.envelopes {
            self.publisher.publish(&self.publication(envelope)).await?;
        }
        for rejected in &unpacked.rejected {
            tracing::warn!(
                collection_id = %collection.event_id,
                household_id = %collection.household_id,
                device_id = %collection.device_id,
                member = rejected.index,
                event = rejected.member.get("event").and_then(|e| e.as_str()).unwrap_or(""),
                unreadable = %rejected
                    .unreadable
                    .iter()
                    .map(|part| part.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                detail = %rejected.detail,
                "collection member rejected"
            );
            self.rejected
                .keep(rejection_body(collection, rejected).to_string())
                .await?;
        }
        tracing::info!(
            collection_id = %collection.event_id,
            household_id = %collection.household_id,
            device_id = %collection.device_id,
            members = events.len(),
            published = unpacked.envelopes.len(),
            rejected = unpacked.rejected.len(),
            "collection unpacked"
        );
        Ok(())
    }
}
