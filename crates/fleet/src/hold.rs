//! The report of an idle hold (`--hold`): N devices connected at once and held idle, what it
//! cost each side in memory, and whether every connection stayed up (or, with an outage, came
//! back).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{Memory, Registration, line, load_text, rate};
use crate::settings::Settings;

/// What an idle hold measured.
#[derive(Debug, Clone)]
pub struct HoldReport {
    pub settings: Settings,
    pub registration: Registration,
    /// From the first connect to the last device connected.
    pub connect_all: Duration,
    /// The hold, in real time, as it lasted.
    pub held: Duration,
    /// Devices connected at the end of the hold.
    pub connected_at_end: usize,
    /// Connections the devices lost during the hold (the outage's included).
    pub connections_lost: u64,
    /// From the end of the outage until every device connected at its start was connected
    /// again; `None` without an outage or when some never were.
    pub herd_reconnect: Option<Duration>,
    /// Resident memory before connecting and once every device was connected.
    pub memory: Memory,
    /// Load averages once every device was connected and at the end of the hold.
    pub load_connected: Option<[f64; 3]>,
    pub load_end: Option<[f64; 3]>,
}

impl HoldReport {
    /// Every device connected at the end, and back after the outage if there was one.
    pub fn held_every_connection(&self) -> bool {
        self.connected_at_end == self.settings.devices
            && (self.settings.outage.is_none() || self.herd_reconnect.is_some())
    }
}

pub fn render_hold(report: &HoldReport) -> String {
    let devices = report.settings.devices;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Idle hold of {devices} devices for {:.0} s (MQTT 5 over mutual TLS, keep-alive as configured)",
        report.held.as_secs_f64()
    );
    line(&mut out, "registration", report.registration.text());
    line(
        &mut out,
        "connect",
        format!(
            "all {devices} connected in {:.2} s ({:.0} connections/s)",
            report.connect_all.as_secs_f64(),
            rate(devices as f64, report.connect_all)
        ),
    );
    if let Some(outage) = report.settings.outage {
        let herd = match report.herd_reconnect {
            Some(herd) => format!(
                "every device was back {:.2} s after it ended",
                herd.as_secs_f64()
            ),
            None => "some devices never came back".to_owned(),
        };
        line(
            &mut out,
            "outage",
            format!(
                "at {:.0}% of the hold, {:.1} s: {herd} (backoff cap {} s)",
                outage.at_fraction * 100.0,
                outage.duration.as_secs_f64(),
                report.settings.backoff_cap.as_secs_f64()
            ),
        );
    }
    line(
        &mut out,
        "held",
        format!(
            "{} of {devices} connected at the end; {} connections lost during the hold",
            report.connected_at_end, report.connections_lost
        ),
    );
    line(&mut out, "memory", report.memory.text(devices));
    line(
        &mut out,
        "load average",
        format!(
            "connected: {}; end: {}",
            load_text(report.load_connected),
            load_text(report.load_end)
        ),
    );
    out
}

pub fn hold_json(report: &HoldReport) -> Value {
    let devices = report.settings.devices;
    let seconds = |duration: Duration| duration.as_secs_f64();
    let outage = report.settings.outage.map(|outage| {
        json!({
            "at_fraction": outage.at_fraction,
            "seconds": seconds(outage.duration),
            "herd_reconnect_seconds": report.herd_reconnect.map(seconds),
            "backoff_cap_seconds": seconds(report.settings.backoff_cap),
        })
    });
    json!({
        "mode": "hold",
        "devices": devices,
        "registration": report.registration.json(),
        "connect": {
            "seconds": seconds(report.connect_all),
            "per_second": rate(devices as f64, report.connect_all),
        },
        "outage": outage,
        "hold": {
            "seconds": seconds(report.held),
            "connected_at_end": report.connected_at_end,
            "connections_lost": report.connections_lost,
            "every_connection_held": report.held_every_connection(),
        },
        "memory": report.memory.json(devices),
        "load_average": {
            "connected": report.load_connected,
            "end": report.load_end,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Outage;

    fn report() -> HoldReport {
        HoldReport {
            settings: Settings {
                devices: 10_000,
                time_scale: 1440.0,
                idle_disconnect: false,
                collections: false,
                outage: None,
                hold: Some(Duration::from_secs(60)),
                backoff_cap: Duration::from_secs(8),
            },
            registration: Registration {
                registered: 0,
                reused: 10_000,
                elapsed: Duration::ZERO,
                concurrency: 16,
            },
            connect_all: Duration::from_secs(50),
            held: Duration::from_secs(60),
            connected_at_end: 10_000,
            connections_lost: 0,
            herd_reconnect: None,
            memory: Memory {
                simulator: (100 << 20, 300 << 20),
                post_office: Some((200 << 20, 500 << 20)),
            },
            load_connected: Some([1.9, 1.5, 1.0]),
            load_end: Some([0.5, 1.25, 1.0]),
        }
    }

    #[test]
    fn the_hold_report_shows_rate_count_and_memory_per_connection() {
        let text = render_hold(&report());
        for expected in [
            "Idle hold of 10000 devices for 60 s",
            "registration  0 devices in 0.0 s (0.0/s, 16 at once), 10000 reused from earlier runs",
            "connect       all 10000 connected in 50.00 s (200 connections/s)",
            "held          10000 of 10000 connected at the end; 0 connections lost during the hold",
            "memory        simulator 100.0 → 300.0 MB (20.5 KB per idle connection); post office 200.0 → 500.0 MB (30.7 KB per idle connection)",
            "load average  connected: 1.90 1.50 1.00 (1, 5, 15 min; 2 cores shared); end: 0.50",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("outage"), "{text}");
    }

    #[test]
    fn a_hold_that_lost_a_device_or_its_herd_did_not_hold() {
        let mut report = report();
        assert!(report.held_every_connection());
        report.connected_at_end = 9_999;
        assert!(!report.held_every_connection());
        let mut herd = self::report();
        herd.settings.outage = Some(Outage {
            at_fraction: 0.5,
            duration: Duration::from_secs(10),
        });
        assert!(!herd.held_every_connection());
        herd.herd_reconnect = Some(Duration::from_millis(4_500));
        assert!(herd.held_every_connection());
        assert!(
            render_hold(&herd).contains(
                "outage        at 50% of the hold, 10.0 s: every device was back 4.50 s after it ended (backoff cap 8 s)"
            ),
            "{}",
            render_hold(&herd)
        );
    }

    #[test]
    fn the_hold_json_carries_the_same_measures() {
        let json = hold_json(&report());
        assert_eq!(json["mode"], "hold");
        assert_eq!(json["connect"]["per_second"], 200.0);
        assert_eq!(json["registration"]["reused"], 10_000);
        assert_eq!(json["hold"]["connected_at_end"], 10_000);
        assert_eq!(json["hold"]["every_connection_held"], true);
        assert_eq!(
            json["memory"]["post_office"]["bytes_per_connection"],
            (300u64 << 20) as f64 / 10_000.0
        );
        assert_eq!(json["load_average"]["end"][0], 0.5);
        assert!(json["outage"].is_null());
    }
}
