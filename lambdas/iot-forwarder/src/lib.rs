//! The IoT forwarder: the return path of the post office. Backend-to-actor events (replies,
//! offers, state changes) reach it through its bridge like any consumer's events, and it
//! publishes each envelope to the household and device it is about,
//! `{EVENT}/{HOUSEHOLD_ID}/{DEVICE_ID}`, through the IoT data plane with QoS 1.

mod iot_data;

use async_trait::async_trait;
use postoffice::Topic;
use postoffice::catalog::{Catalog, Direction, IOT_FORWARDER};
use postoffice::handler::{Context, Handler, HandlerError};

pub use iot_data::IotDataPublisher;

/// Why IoT Core did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum IotPublishError {
    #[error("IoT Core throttled the publish: {0}")]
    Throttled(String),
    #[error("IoT Core failed: {0}")]
    Service(String),
    #[error("IoT Core could not be reached: {0}")]
    Transport(String),
    /// IoT Core said the request itself is wrong; sending it again cannot help.
    #[error("IoT Core rejected the publish: {0}")]
    Rejected(String),
}

impl IotPublishError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, IotPublishError::Rejected(_))
    }
}

/// Publishes one MQTT message through IoT Core with QoS 1 (at least once).
#[async_trait]
pub trait IotPublish: Send + Sync {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), IotPublishError>;
}

pub struct Forwarder<P> {
    iot: P,
    catalog: &'static Catalog,
}

impl<P: IotPublish> Forwarder<P> {
    pub fn new(iot: P) -> Self {
        Self {
            iot,
            catalog: Catalog::embedded(),
        }
    }

    pub fn iot(&self) -> &P {
        &self.iot
    }
}

impl<P: IotPublish> Handler for Forwarder<P> {
    const CONSUMER: &'static str = IOT_FORWARDER;
    /// Any payload: the library has already checked it against the event's schema.
    type Event = serde_json::Value;

    async fn handle(
        &self,
        _: serde_json::Value,
        ctx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let envelope = ctx.envelope();
        // Only events meant for actors may reach devices and apps; anything else here is a
        // subscription mistake, not something a retry fixes.
        let direction = self.catalog.event(&envelope.event).map(|e| e.direction);
        if direction != Some(Direction::BackendToActor) {
            return Err(HandlerError::permanent(format!(
                "{} is not a backend-to-actor event; the forwarder only delivers those",
                envelope.event
            )));
        }
        let topic = envelope.topic().map_err(|error| {
            HandlerError::permanent(format!(
                "envelope {} has no valid topic: {error}",
                envelope.event_id
            ))
        })?;
        match self
            .iot
            .publish(&topic, envelope.to_json().into_bytes())
            .await
        {
            Ok(()) => {
                tracing::info!(%topic, event_id = %envelope.event_id, "forwarded to IoT Core");
                Ok(())
            }
            Err(error) if error.is_permanent() => Err(HandlerError::permanent(error.to_string())),
            Err(error) => Err(HandlerError::retryable(error.to_string())),
        }
    }
}
