//! Payload schemas the handler checks on receive and before publishing.

use crate::catalog::{Catalog, PayloadError};

/// Where payload schemas come from: the event catalog in production ([`Catalog::embedded`]),
/// a small catalog of test events in tests.
pub trait Schemas: Send + Sync {
    /// `Err(UnknownEvent)` for an event the catalog does not have, `Err(Invalid)` for a payload
    /// that breaks the event's schema.
    fn validate_payload(
        &self,
        event: &str,
        payload: &serde_json::Value,
    ) -> Result<(), PayloadError>;

    /// The schema version an event's payloads are written in, for envelopes this side publishes.
    fn schema_version(&self, event: &str) -> Option<u32>;
}

impl Schemas for Catalog {
    fn validate_payload(
        &self,
        event: &str,
        payload: &serde_json::Value,
    ) -> Result<(), PayloadError> {
        Catalog::validate_payload(self, event, payload)
    }

    fn schema_version(&self, event: &str) -> Option<u32> {
        self.event(event)
            .map(|definition| definition.schema_version)
    }
}
