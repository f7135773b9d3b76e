//! The device side of Post Office: a library for appliance firmware and fleet simulators. A
//! [`Device`] talks to AWS IoT Core, or to the local post office's IoT gateway, with its X.509
//! certificate; no AWS SDK.
//!
//! - **Connection**: MQTT 5 over mutual TLS (rustls on aws-lc-rs), client id = the device id
//!   (its thing name), clean start off with a session expiry (IoT's default of one hour,
//!   [`DEFAULT_SESSION_EXPIRY`]), so QoS 1 messages sent while the device was away arrive when it
//!   reconnects. It subscribes to `+/{household}/{device}`, what the platform's device policy
//!   allows.
//! - **Publishing**: [`Device::publish`] sends a device message (`postoffice::envelope::DeviceMessage`)
//!   on `{EVENT}/{household}/{device}` with QoS 1. Its event id is chosen when the event is
//!   created and kept across every retry. The event is first written to a bounded persistent
//!   outbox (fsynced before `publish` returns); it leaves the outbox when its PUBACK arrives. A
//!   refusal (PUBACK reason other than success) is reported on the [`Receipt`] and the event kept
//!   apart ([`Device::take_refused`]); a full outbox refuses new events
//!   ([`DeviceError::OutboxFull`]).
//! - **Receiving**: replies and commands on the device's topics come as envelopes from
//!   [`Device::messages`]; [`Device::request`] publishes an event with its own id as correlation
//!   id and resolves with the reply carrying it, or a deadline error.
//! - **Idle disconnect**: with [`DeviceConfig::idle_after`], the device disconnects cleanly once
//!   it has nothing to send or wait for (connection minutes are what IoT bills), and connects
//!   again to publish, or every [`DeviceConfig::poll_interval`] to fetch what its persistent
//!   session queued. Failed connects and lost connections are retried with exponential backoff
//!   and full jitter ([`Backoff`]), so a fleet coming back after an outage does not stampede.
//!   [`Device::lose_connection`] injects such an outage in fleet simulators.
//! - **Counters** ([`Counters`]) for fleet simulators and cost estimates.
//!
//! # Event collections
//!
//! Several events of one device may travel in one MQTT message, an *event collection*, when the
//! caller's [`CollectionPolicy`] names their event with a maximum wait;
//! [`CollectionPolicy::from_catalog`] takes the events and waits the event catalog allows (a
//! `collection` in their file), the only ones the platform's collection-unpacker publishes.
//! Contract (docs/contracts.md, "Event collections"; the platform side unpacks collections):
//!
//! - topic: `EVENT_COLLECTION/{household}/{device}` ([`COLLECTION_EVENT`]);
//! - payload:
//!   ```json
//!   {"collection_id": "<uuid>",
//!    "events": [{"event": "EVENT_NAME", "event_id": "<uuid>", "occurred_at": "...",
//!                "correlation_id": "...", "causation_id": "...", "schema_version": 1,
//!                "payload": {}}]}
//!   ```
//!   each member being the event's device message (optional fields absent when unset) plus its
//!   event name; members appear in the order the device accepted them;
//! - a collection's payload never exceeds IoT Core's 128 KB message limit (or the policy's
//!   smaller bound) and holds at most the policy's maximum number of events (never more than
//!   the platform's 100, `postoffice::catalog::MAX_COLLECTION_MEMBERS`); more members are split
//!   over several collections;
//! - an event without a policy, a request, or an event too large to fit in a collection travels
//!   alone, on its own topic, at once;
//! - a collection leaves when its oldest member has waited its maximum wait (every waiting member
//!   then travels), as soon as a full one can be formed, or when the device is about to disconnect;
//!   a device that disconnects when idle sends waiting members on every connection it has (it
//!   pays for the connection's minute anyway, and connects only when a member falls due
//!   otherwise);
//! - with [`CollectionPolicy::each_alone`] the events still wait, but each leaves in its own
//!   message on its own topic: an idle-disconnecting device then connects for what may not wait
//!   and for its polls, and takes what waited along, without collections;
//! - the outbox entry is the event, not the collection: members keep their event ids, leave the
//!   outbox when the collection's PUBACK arrives, and after a lost connection travel again, possibly
//!   in a different collection (a new `collection_id`); the platform deduplicates by event id;
//! - if the broker refuses a collection (an IoT policy without `EVENT_COLLECTION`), its members
//!   travel alone, each getting its own verdict.
//!
//! # At least once
//!
//! An event may reach the platform more than once (a PUBACK lost with the connection, a crash
//! between PUBACK and removing the outbox file), always with the same event id. A received message
//! is acknowledged to the broker only when the application takes it from [`Messages`]; one taken
//! after its connection ended is delivered again by the persistent session.

mod collection;
mod config;
mod connection;
mod counters;
mod device;
mod error;
mod event;
mod outbox;
mod queue;
pub mod schedule;

pub use collection::{COLLECTION_EVENT, CollectionPolicy};
pub use config::{Credentials, DEFAULT_SESSION_EXPIRY, DeviceConfig, Endpoint};
pub use counters::{Counters, METERING_INCREMENT_BYTES};
pub use device::{ConnectionState, Device, Messages, Receipt, Received};
pub use error::DeviceError;
pub use event::{Event, MAX_MESSAGE_BYTES};
pub use outbox::{OutboxLimits, RefusedEvent};
pub use schedule::Backoff;
