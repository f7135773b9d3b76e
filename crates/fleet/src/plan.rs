//! What a simulated actor (the oven, the phone) sends in a day: the profile's events of that
//! actor, checked against the event catalog.

use postoffice::catalog::{Catalog, Direction};
use postoffice_cost::Profile;
use serde_json::Value;

use crate::FleetError;

/// The profile's actor kind the simulator runs: one oven per household.
pub const DEVICE_ACTOR: &str = "device";

/// The profile's phone with the app, one per household when the profile has it.
pub const MOBILE_ACTOR: &str = "mobile";

/// One event an actor sends.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    pub event: String,
    /// Per actor per simulated day.
    pub per_day: f64,
    /// The catalog's first example: valid for its schema, so the platform accepts it.
    pub payload: Value,
    /// The event the backend answers with (same correlation id), when it is a request.
    pub reply: Option<String>,
}

/// Every event an actor sends, with its rate.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePlan {
    pub events: Vec<DeviceEvent>,
}

impl DevicePlan {
    /// The device-produced, actor-to-backend events of `profile`. Events the profile sends to
    /// the device (replies, offers) are not scheduled: the backend sends them.
    pub fn from_profile(profile: &Profile, catalog: &Catalog) -> Result<Self, FleetError> {
        Self::for_actor(profile, catalog, DEVICE_ACTOR)
    }

    /// The actor-to-backend events `actor` produces in `profile`.
    pub fn for_actor(
        profile: &Profile,
        catalog: &Catalog,
        actor: &str,
    ) -> Result<Self, FleetError> {
        if !profile.actors.contains_key(actor) {
            return Err(FleetError::Profile(format!(
                "{} has no `{actor}` actor to simulate (actors: {})",
                profile.name,
                profile
                    .actors
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut events = Vec::new();
        for rate in &profile.events {
            let Some(definition) = catalog.event(&rate.event) else {
                return Err(FleetError::Profile(format!(
                    "event {} is not in the event catalog (known: {})",
                    rate.event,
                    catalog
                        .events()
                        .map(|event| event.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            let sent_by_actor = rate.actor.as_deref() == Some(actor)
                && definition.direction == Direction::ActorToBackend;
            if !sent_by_actor || rate.per_day == 0.0 {
                continue;
            }
            if !definition.producers.iter().any(|p| p == actor) {
                return Err(FleetError::Profile(format!(
                    "event {} is sent by `{actor}` in the profile but the catalog's producers are {}",
                    rate.event,
                    definition.producers.join(", ")
                )));
            }
            if !(rate.per_day.is_finite() && rate.per_day > 0.0) {
                return Err(FleetError::Profile(format!(
                    "event {}: per_day {} must be a positive number",
                    rate.event, rate.per_day
                )));
            }
            let Some(payload) = definition.examples.first() else {
                return Err(FleetError::Profile(format!(
                    "event {} has no example in the catalog to send as its payload",
                    rate.event
                )));
            };
            events.push(DeviceEvent {
                event: rate.event.clone(),
                per_day: rate.per_day,
                payload: payload.clone(),
                reply: reply_event(&rate.event, catalog),
            });
        }
        if events.is_empty() && actor == DEVICE_ACTOR {
            return Err(FleetError::Profile(format!(
                "{} gives the `{DEVICE_ACTOR}` actor no event to send",
                profile.name
            )));
        }
        Ok(Self { events })
    }

    /// The backend-to-actor events the profile sends `actor`: the topics it subscribes to.
    pub fn received_by(profile: &Profile, catalog: &Catalog, actor: &str) -> Vec<String> {
        let mut received: Vec<String> = profile
            .events
            .iter()
            .filter(|rate| {
                let receives = rate.actor.as_deref() == Some(actor)
                    || rate
                        .also_received_by
                        .get(actor)
                        .is_some_and(|share| *share > 0.0);
                receives && rate.per_day > 0.0
            })
            .filter(|rate| {
                catalog
                    .event(&rate.event)
                    .is_some_and(|event| event.direction == Direction::BackendToActor)
            })
            .map(|rate| rate.event.clone())
            .collect();
        received.sort();
        received.dedup();
        received
    }

    /// Events per device per simulated day, all events together.
    pub fn per_day(&self) -> f64 {
        self.events.iter().map(|event| event.per_day).sum()
    }
}

/// The reply to a request, by the catalog's naming: `X_REQUESTED` is answered by `X_REPLIED`
/// (same correlation id) when the catalog delivers that event to actors.
pub fn reply_event(event: &str, catalog: &Catalog) -> Option<String> {
    let reply = format!("{}_REPLIED", event.strip_suffix("_REQUESTED")?);
    catalog
        .event(&reply)
        .filter(|reply| reply.direction == Direction::BackendToActor)
        .map(|reply| reply.name.clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn kitchen() -> Profile {
        serde_yaml::from_str(include_str!(
            "../../../cost-profiles/kitchen-household.yaml"
        ))
        .unwrap()
    }

    #[test]
    fn the_kitchen_oven_sends_telemetry_cooking_requests_and_finishes() {
        let plan = DevicePlan::from_profile(&kitchen(), Catalog::embedded()).unwrap();
        let sent: Vec<_> = plan
            .events
            .iter()
            .map(|event| (event.event.as_str(), event.per_day, event.reply.as_deref()))
            .collect();
        assert_eq!(
            sent,
            [
                ("DEVICE_TELEMETRY_REPORTED", 96.0, None),
                ("COOKING_REQUESTED", 0.5, Some("COOKING_REPLIED")),
                ("COOKING_FINISHED", 2.0, None),
            ]
        );
        assert_eq!(plan.per_day(), 98.5);
        let catalog = Catalog::embedded();
        for event in &plan.events {
            catalog
                .validate_payload(&event.event, &event.payload)
                .unwrap();
        }
    }

    #[test]
    fn only_requests_with_a_replied_event_expect_a_reply() {
        let catalog = Catalog::embedded();
        assert_eq!(
            reply_event("COOKING_REQUESTED", catalog).as_deref(),
            Some("COOKING_REPLIED")
        );
        assert_eq!(reply_event("COOKING_FINISHED", catalog), None);
        assert_eq!(reply_event("NOTHING_REQUESTED", catalog), None);
    }

    #[test]
    fn an_unknown_event_is_named() {
        let mut profile = kitchen();
        profile.events[0].event = "OVEN_EXPLODED".into();
        let error = DevicePlan::from_profile(&profile, Catalog::embedded()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("profile: event OVEN_EXPLODED is not in the event catalog"),
            "{error}"
        );
    }

    #[test]
    fn a_profile_without_devices_is_refused() {
        let mut profile = kitchen();
        profile.actors.remove(DEVICE_ACTOR);
        let error = DevicePlan::from_profile(&profile, Catalog::embedded()).unwrap_err();
        assert!(error.to_string().contains("no `device` actor"), "{error}");
    }
}
