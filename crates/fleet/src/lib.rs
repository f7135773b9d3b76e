//! The fleet simulator's logic (`postoffice local fleet` is its I/O adapter): what each simulated
//! device does in a day, when, and what the run measured.
//!
//! - [`Settings`]: fleet size, time scale (a simulated day lasts `86400 / scale` seconds), idle
//!   disconnects, event collections and the injected outage.
//! - [`DevicePlan`]: the device events of a usage profile (`cost-profiles/*.yaml`) with their
//!   rates, payloads (the catalog's first example) and replies (`COOKING_REQUESTED` →
//!   `COOKING_REPLIED`).
//! - [`device_schedule`]: one device's day, jittered so the fleet never moves as a herd.
//! - [`PhonePlan`], [`phone_schedule`], [`PhoneReport`]: each household's phone (the profile's
//!   `mobile` actor): the app's sessions, the requests sent in them, what the phones measured.
//! - [`Latencies`], [`Report`]: percentiles and the final report; [`HoldReport`]: the report of
//!   an idle hold (`--hold`: connect, hold idle, measure memory per connection).
//! - [`parse_registry`], [`plan_registration`]: the devices earlier runs registered, reused.
//! - [`check_open_files`]: whether the connections fit the processes' open-file limits.

mod hold;
mod host;
mod phone;
mod plan;
mod registry;
mod report;
mod schedule;
mod settings;
mod stats;

pub use hold::{HoldReport, hold_json, render_hold};
pub use host::{OPEN_FILES_RESERVE, check_open_files, parse_load_average, parse_open_files_limit};
pub use phone::{PhonePlan, PhoneReport, PhoneSession, Sessions, phone_schedule};
pub use plan::{DEVICE_ACTOR, DeviceEvent, DevicePlan, MOBILE_ACTOR, reply_event};
pub use registry::{
    FleetDevice, PHONE_REGISTRY_FILE, PhoneUser, REGISTRY_FILE, RegistrationPlan, Reuse,
    parse_phone_registry, parse_registry, phone_password_file, plan_registration,
};
pub use report::{Memory, Registration, Report, progress_line, render, report_json};
pub use schedule::{Scheduled, device_schedule};
pub use settings::{
    DEFAULT_BACKOFF_CAP, IDLE_AFTER, Outage, POLL_INTERVAL, REPLY_DEADLINE, SIMULATED_DAY,
    Settings, parse_duration,
};
pub use stats::{Latencies, counters_since};

/// What is wrong with the simulator's input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FleetError {
    #[error("{0}")]
    Settings(String),
    #[error("profile: {0}")]
    Profile(String),
    #[error("registry: {0}")]
    Registry(String),
}
