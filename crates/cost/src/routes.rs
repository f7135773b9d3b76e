//! What the model needs from the event catalog: each event's direction and consumers.
//! Plain data, so the model is tested without files; the CLI fills it from the catalog.

use std::collections::BTreeMap;

use serde::Serialize;

/// The consumer that returns backend-to-actor events to actors over IoT Core.
pub const IOT_FORWARDER: &str = "iot-forwarder";

/// Which way an event flows (catalog `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    ActorToBackend,
    BackendToActor,
    BackendToBackend,
}

/// The route of one event through the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRoute {
    pub direction: Direction,
    /// Consumer names: one SNS HTTPS subscription, bridge and handler each.
    pub consumers: Vec<String>,
}

impl EventRoute {
    /// SNS HTTP/S deliveries per publish.
    pub fn fan_out(&self) -> usize {
        self.consumers.len()
    }
}

/// Every catalog event by name.
pub type EventRoutes = BTreeMap<String, EventRoute>;
