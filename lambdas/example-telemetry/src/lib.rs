//! An example Post Office consumer, `telemetry`: per-device statistics from oven readings and
//! finished cooking sessions.
//!
//! Statistics live in the function instance's memory to keep the example small; a real service
//! would keep them in a store behind a port, as the kitchen does with its recipes.

mod handled_log;

use std::collections::HashMap;
use std::sync::Mutex;

use postoffice::handler::{Context, Handler, HandlerError};
use serde::Deserialize;

pub use handled_log::{HANDLED_LOG_ENV, HandledLog};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", content = "payload")]
pub enum TelemetryEvent {
    #[serde(rename = "DEVICE_TELEMETRY_REPORTED")]
    DeviceTelemetryReported(TelemetryReport),
    #[serde(rename = "COOKING_FINISHED")]
    CookingFinished(CookingFinished),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TelemetryReport {
    pub cavity_temperature_c: f64,
    pub power_w: f64,
    pub door_open: bool,
    pub firmware_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CookingFinished {
    pub outcome: String,
    pub cooked_s: u64,
    pub energy_wh: Option<f64>,
}

/// What the telemetry service knows about one oven.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceStats {
    pub reports: u64,
    pub last_cavity_temperature_c: Option<f64>,
    pub peak_power_w: f64,
    pub reports_with_door_open: u64,
    pub firmware_version: Option<String>,
    pub sessions_completed: u64,
    pub sessions_failed: u64,
    pub cooked_s: u64,
    pub energy_wh: f64,
}

/// Household id and device id.
type DeviceKey = (String, String);

#[derive(Default)]
pub struct Telemetry {
    devices: Mutex<HashMap<DeviceKey, DeviceStats>>,
    handled_log: Option<HandledLog>,
}

impl Telemetry {
    pub fn new(handled_log: Option<HandledLog>) -> Self {
        Self {
            devices: Mutex::default(),
            handled_log,
        }
    }

    pub fn stats(&self, household_id: &str, device_id: &str) -> Option<DeviceStats> {
        let key = (household_id.to_owned(), device_id.to_owned());
        self.devices().get(&key).cloned()
    }

    fn devices(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceKey, DeviceStats>> {
        self.devices.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, key: DeviceKey, event: &TelemetryEvent) {
        let mut devices = self.devices();
        let stats = devices.entry(key).or_default();
        match event {
            TelemetryEvent::DeviceTelemetryReported(report) => {
                stats.reports += 1;
                stats.last_cavity_temperature_c = Some(report.cavity_temperature_c);
                stats.peak_power_w = stats.peak_power_w.max(report.power_w);
                stats.reports_with_door_open += u64::from(report.door_open);
                if let Some(version) = &report.firmware_version {
                    stats.firmware_version = Some(version.clone());
                }
            }
            TelemetryEvent::CookingFinished(finished) => {
                match finished.outcome.as_str() {
                    "completed" => stats.sessions_completed += 1,
                    "failed" => stats.sessions_failed += 1,
                    _ => {}
                }
                stats.cooked_s += finished.cooked_s;
                stats.energy_wh += finished.energy_wh.unwrap_or(0.0);
            }
        }
    }
}

impl Handler for Telemetry {
    const CONSUMER: &'static str = "telemetry";
    type Event = TelemetryEvent;

    async fn handle(
        &self,
        event: TelemetryEvent,
        ctx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let envelope = ctx.envelope();
        // Logged first: if the log fails the event is retried before any statistic counts it.
        if let Some(log) = &self.handled_log {
            log.append(envelope, ctx.delivery().redriven).await?;
        }
        let key = (envelope.household_id.clone(), envelope.device_id.clone());
        self.record(key, &event);
        tracing::info!(
            event = %envelope.event,
            household_id = %envelope.household_id,
            device_id = %envelope.device_id,
            "telemetry recorded"
        );
        Ok(())
    }
}
