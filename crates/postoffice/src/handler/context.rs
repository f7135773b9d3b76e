//! What a handler sees besides its typed event: the envelope it came in, and the outbox for
//! follow-up events.

use aws_lc_rs::digest;
use serde::Serialize;
use uuid::Uuid;

use super::error::HandlerError;
use super::schemas::Schemas;
use crate::envelope::Envelope;
use crate::invocation::Delivery;

const REQUEST_SUFFIX: &str = "_REQUESTED";
const REPLY_SUFFIX: &str = "_REPLIED";

/// Handed to the handler with each event.
///
/// [`Context::publish`] and [`Context::reply`] check the event and payload against the catalog at
/// once and queue the follow-up; queued events are sent only after the handler returns `Ok`, so a
/// failed attempt sends nothing and its retry does not duplicate half of its work.
pub struct Context<'a> {
    envelope: &'a Envelope,
    delivery: &'a Delivery,
    consumer: &'a str,
    schemas: &'a dyn Schemas,
    outbox: Vec<Envelope>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        envelope: &'a Envelope,
        delivery: &'a Delivery,
        consumer: &'a str,
        schemas: &'a dyn Schemas,
    ) -> Self {
        Self {
            envelope,
            delivery,
            consumer,
            schemas,
            outbox: Vec::new(),
        }
    }

    /// The envelope being handled (ids, household, device, source, times).
    pub fn envelope(&self) -> &Envelope {
        self.envelope
    }

    /// How it arrived (SNS message id, whether it was redriven from a dead-letter queue).
    pub fn delivery(&self) -> &Delivery {
        self.delivery
    }

    /// The name of this consumer, the `source` of everything it publishes.
    pub fn consumer(&self) -> &str {
        self.consumer
    }

    /// Publishes `event` about the same household and device: same correlation id, causation id
    /// = the handled event. Returns the new event's id.
    ///
    /// An event not in the catalog, or a payload that breaks the event's schema, is a permanent
    /// error (a bug in the handler, not something a retry fixes).
    pub fn publish(&mut self, event: &str, payload: &impl Serialize) -> Result<Uuid, HandlerError> {
        let payload = serde_json::to_value(payload).map_err(|error| {
            HandlerError::permanent(format!("payload of {event} does not serialise: {error}"))
        })?;
        self.schemas
            .validate_payload(event, &payload)
            .map_err(|error| HandlerError::permanent(format!("cannot publish: {error}")))?;
        let mut follow_up = self
            .envelope
            .follow_up(event, self.consumer, payload)
            .map_err(|error| HandlerError::permanent(format!("cannot publish: {error}")))?;
        follow_up.event_id = self.follow_up_id(event);
        if let Some(version) = self.schemas.schema_version(event) {
            follow_up.schema_version = version;
        }
        let id = follow_up.event_id;
        self.outbox.push(follow_up);
        Ok(id)
    }

    /// Answers an `X_REQUESTED` event with `X_REPLIED` to the requesting household and device,
    /// keeping the correlation id. Replying to an event that is not a request is a permanent error.
    pub fn reply(&mut self, payload: &impl Serialize) -> Result<Uuid, HandlerError> {
        let request = &self.envelope.event;
        let Some(subject) = request.strip_suffix(REQUEST_SUFFIX) else {
            return Err(HandlerError::permanent(format!(
                "cannot reply to {request}: only X{REQUEST_SUFFIX} events have an X{REPLY_SUFFIX} reply"
            )));
        };
        let reply = format!("{subject}{REPLY_SUFFIX}");
        self.publish(&reply, payload)
    }

    /// The events queued so far, in order.
    pub fn outbox(&self) -> &[Envelope] {
        &self.outbox
    }

    pub(crate) fn into_outbox(self) -> Vec<Envelope> {
        self.outbox
    }

    /// A follow-up's id is derived from the handled event, the follow-up's name and how many of
    /// that name this attempt queued before: a retry of the same event publishes the same ids,
    /// so consumers' idempotency guards drop the copies.
    fn follow_up_id(&self, event: &str) -> Uuid {
        let nth = self.outbox.iter().filter(|e| e.event == event).count() as u64;
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(self.envelope.event_id.as_bytes());
        context.update(self.consumer.as_bytes());
        context.update(&[0]);
        context.update(event.as_bytes());
        context.update(&nth.to_be_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&context.finish().as_ref()[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}
