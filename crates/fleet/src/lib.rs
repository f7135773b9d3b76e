//! The fleet simulator's logic (`postoffice local fleet` is its I/O adapter): what each simulated
//! device does in a day, when, and what the run measured.
//!
//! - [`Settings`]: fleet size, time scale (a simulated day lasts `86400 / scale` seconds), idle
//!   disconnects, event collections and the injected outage.
//! - [`DevicePlan`]: the device events of a usage profile (`cost-profiles/*.yaml`) with their
//!   rates, payloads (the catalog's first example) and replies (`COOKING_REQUESTED` →
//!   `COOKING_REPLIED`).
//! - [`device_schedule`]: one device's day, jittered so the fleet never moves as a herd.
//! - [`Latencies`], [`Report`]: percentiles and the final report.

mod plan;
mod report;
mod schedule;
mod settings;
mod stats;

pub use plan::{DEVICE_ACTOR, DeviceEvent, DevicePlan, reply_event};
pub use report::{Memory, Report, progress_line, render, report_json};
pub use schedule::{Scheduled, device_schedule};
pub use settings::{
    IDLE_AFTER, Outage, POLL_INTERVAL, REPLY_DEADLINE, SIMULATED_DAY, Settings, parse_duration,
};
pub use stats::{Latencies, counters_since};

/// What is wrong with the simulator's input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FleetError {
    #[error("{0}")]
    Settings(String),
    #[error("profile: {0}")]
    Profile(String),
}
