//! What the model needs from the event catalog: each event's direction and consumers.
//! Plain data, so the model is tested without files; the CLI fills it from the catalog.

use std::collections::BTreeMap;

use serde::Serialize;

/// The consumer that returns backend-to-actor events to actors over IoT Core.
pub const IOT_FORWARDER: &str = "iot-forwarder";

/// The event devices send Event Collections as; its consumer publishes each member to its own
/// event's topic.
pub const COLLECTION_EVENT: &str = "EVENT_COLLECTION";

/// The consumer of [`COLLECTION_EVENT`]: it publishes each member of a collection.
pub const COLLECTION_UNPACKER: &str = "collection-unpacker";

/// Which way an event flows (catalog `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    ActorToBackend,
    BackendToActor,
    BackendToBackend,
}

/// The route of one event through the platform.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRoute {
    pub direction: Direction,
    /// Catalog `producers`: actor kinds (actor-to-backend events) or the services that publish
    /// the event to its topic.
    pub producers: Vec<String>,
    /// Consumer names: one SNS HTTPS subscription, bridge and handler each.
    pub consumers: Vec<String>,
    /// How long a device may keep the event waiting in a collection (catalog
    /// `collection.max_wait_s`), when it may.
    pub collection_max_wait_s: Option<f64>,
}

impl EventRoute {
    /// SNS HTTP/S deliveries per publish.
    pub fn fan_out(&self) -> usize {
        self.consumers.len()
    }
}

/// Every catalog event by name.
pub type EventRoutes = BTreeMap<String, EventRoute>;
