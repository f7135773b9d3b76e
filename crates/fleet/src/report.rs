//! The live progress line and the final report of a fleet run.

use std::fmt::Write as _;
use std::time::Duration;

use postoffice_device::{Counters, METERING_INCREMENT_BYTES};
use serde_json::{Value, json};

use crate::phone::PhoneReport;
use crate::settings::{IDLE_AFTER, POLL_INTERVAL, Settings};
use crate::stats::Latencies;

/// Resident memory (bytes) before the devices connected and once they all had.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    pub simulator: (u64, u64),
    /// The local post office's process, when its pid is known.
    pub post_office: Option<(u64, u64)>,
}

impl Memory {
    pub(crate) fn text(&self, devices: usize) -> String {
        let mut text = per_connection("simulator", self.simulator, devices);
        match self.post_office {
            Some(post_office) => {
                text.push_str("; ");
                text.push_str(&per_connection("post office", post_office, devices));
            }
            None => text.push_str("; post office: pid unknown (running.json has none)"),
        }
        text
    }

    pub(crate) fn json(&self, devices: usize) -> Value {
        let memory = |(before, after): (u64, u64)| {
            json!({
                "before_bytes": before,
                "after_bytes": after,
                "bytes_per_connection": after.saturating_sub(before) as f64 / devices as f64,
            })
        };
        json!({
            "simulator": memory(self.simulator),
            "post_office": self.post_office.map(memory),
        })
    }
}

/// How the run got its devices: registered anew, or reused from earlier runs' registry.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Registration {
    pub registered: usize,
    pub reused: usize,
    /// The time the new registrations took.
    pub elapsed: Duration,
    pub concurrency: usize,
}

impl Registration {
    pub(crate) fn text(&self) -> String {
        let reused = if self.reused > 0 {
            format!(", {} reused from earlier runs", self.reused)
        } else {
            String::new()
        };
        format!(
            "{} devices in {:.1} s ({:.1}/s, {} at once){reused}",
            self.registered,
            self.elapsed.as_secs_f64(),
            rate(self.registered as f64, self.elapsed),
            self.concurrency
        )
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "registered": self.registered,
            "reused": self.reused,
            "seconds": self.elapsed.as_secs_f64(),
            "per_second": rate(self.registered as f64, self.elapsed),
            "concurrency": self.concurrency,
        })
    }
}

/// What a fleet run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub settings: Settings,
    pub profile: String,
    pub registration: Registration,
    /// From the first connect to the last device connected.
    pub connect_all: Duration,
    /// From the end of the outage until every device connected at its start had connected again;
    /// `None` without an outage or when some never did.
    pub herd_reconnect: Option<Duration>,
    /// The simulated day, in real time, the final drain included.
    pub day_elapsed: Duration,
    /// The fleet's counters over the day.
    pub day: Counters,
    /// The fleet's counters over the whole run, for the accounting of events.
    pub totals: Counters,
    pub events_accepted: u64,
    /// Events the devices would not accept (outbox full, device stopped).
    pub events_not_accepted: u64,
    pub requests: u64,
    /// Device → reply latencies of the requests answered in time.
    pub replies: Latencies,
    /// Replies that arrived after their request's deadline, before the run ended.
    pub late_replies: u64,
    pub memory: Memory,
    /// Connected hours per device per day the profile expects in this run's scenario.
    pub profile_hours_per_day: Option<f64>,
    /// The machine's 1, 5 and 15 minute load averages at the end of the run.
    pub load_average: Option<[f64; 3]>,
    /// The households' phones, when they were simulated.
    pub phones: Option<PhoneReport>,
}

impl Report {
    /// Events accepted and neither acknowledged, nor in an outbox, nor refused: must be 0.
    pub fn events_lost(&self) -> i64 {
        let accounted =
            self.totals.events_sent + self.totals.outbox_depth + self.totals.events_refused;
        self.events_accepted as i64 - accounted as i64
    }

    /// Hours a device was connected per simulated day, measured over the day.
    pub fn connected_hours_per_device_day(&self) -> f64 {
        if self.day_elapsed.is_zero() {
            return 0.0;
        }
        let share = self.day.connected.as_secs_f64()
            / self.settings.devices as f64
            / self.day_elapsed.as_secs_f64();
        share * 24.0
    }
}

/// One line of live progress.
pub fn progress_line(
    elapsed: Duration,
    settings: &Settings,
    connected: usize,
    accepted: u64,
    replies: usize,
    fleet: &Counters,
) -> String {
    let simulated = elapsed.mul_f64(settings.time_scale).as_secs();
    format!(
        "{:>6.1} s (day {:02}:{:02})  connected {connected}/{}  events sent {accepted} acked {}  replies {replies}  outbox {}",
        elapsed.as_secs_f64(),
        simulated / 3600,
        simulated / 60 % 60,
        settings.devices,
        fleet.events_sent,
        fleet.outbox_depth,
    )
}

/// The final report, one measure a line.
pub fn render(report: &Report) -> String {
    let mut report = report.clone();
    let settings = &report.settings;
    let devices = settings.devices;
    let mut out = String::new();
    let mode = if settings.idle_disconnect {
        format!(
            "idle disconnect after {} s, polls every {} h",
            IDLE_AFTER.as_secs(),
            POLL_INTERVAL.as_secs() / 3600
        )
    } else {
        "always connected".to_owned()
    };
    let _ = writeln!(
        out,
        "Fleet of {devices} devices ({devices} households, {}), a day in {:.1} s (time scale {}); {mode}; collections {}",
        report.profile,
        settings.day().as_secs_f64(),
        settings.time_scale,
        if settings.collections { "on" } else { "off" },
    );
    line(&mut out, "registration", report.registration.text());
    line(
        &mut out,
        "connect",
        format!(
            "all {devices} connected in {:.2} s ({:.0} devices/s)",
            report.connect_all.as_secs_f64(),
            rate(devices as f64, report.connect_all)
        ),
    );
    if let Some(outage) = settings.outage {
        let herd = match report.herd_reconnect {
            Some(herd) => format!(
                "the herd reconnected {:.2} s after it ended",
                herd.as_secs_f64()
            ),
            None => "some devices never reconnected".to_owned(),
        };
        line(
            &mut out,
            "outage",
            format!(
                "at {:.0}% of the day, {:.1} s: {herd}; {} connects failed during it (backoff cap {} s)",
                outage.at_fraction * 100.0,
                outage.duration.as_secs_f64(),
                report.day.connect_failures,
                settings.backoff_cap.as_secs_f64()
            ),
        );
    }
    let day = report.day;
    let collections = if settings.collections {
        format!("{} collections sent", day.collections_sent)
    } else {
        "no collections".to_owned()
    };
    line(
        &mut out,
        "events",
        format!(
            "{} accepted, {} acknowledged ({:.0}/s over the {:.1} s day), {collections}",
            report.events_accepted,
            day.events_sent,
            rate(day.events_sent as f64, settings.day()),
            settings.day().as_secs_f64(),
        ),
    );
    let p50 = report.replies.percentile(50.0);
    let p99 = report.replies.percentile(99.0);
    line(
        &mut out,
        "replies",
        format!(
            "{} of {} requests answered in time, {} later (device → reply p50 {}, p99 {})",
            report.replies.len(),
            report.requests,
            report.late_replies,
            millis(p50),
            millis(p99)
        ),
    );
    line(
        &mut out,
        "lost",
        format!(
            "{} events (accepted {} = acknowledged {} + in outboxes {} + refused {} + lost); {} not accepted",
            report.events_lost(),
            report.events_accepted,
            report.totals.events_sent,
            report.totals.outbox_depth,
            report.totals.events_refused,
            report.events_not_accepted
        ),
    );
    let expected = report
        .profile_hours_per_day
        .map(|hours| format!(" (profile: {hours})"))
        .unwrap_or_default();
    line(
        &mut out,
        "connections",
        format!(
            "{:.1} connection-minutes real = {:.0} simulated; {:.2} h per device per day{expected}; {} connects, {} idle disconnects, {} lost",
            day.connected.as_secs_f64() / 60.0,
            day.connected.as_secs_f64() * settings.time_scale / 60.0,
            report.connected_hours_per_device_day(),
            day.connects,
            day.idle_disconnects,
            day.error_disconnects
        ),
    );
    line(
        &mut out,
        "IoT messages",
        format!(
            "{} PUBLISH sent ({} in {} KB units, {:.1} KB), {} received; {:.1} sent per device per day",
            day.messages_sent,
            day.metered_messages_sent,
            METERING_INCREMENT_BYTES / 1024,
            day.bytes_sent as f64 / 1024.0,
            day.messages_received,
            day.messages_sent as f64 / devices as f64,
        ),
    );
    if let Some(phones) = &report.phones {
        phones.render(&mut out, report.day_elapsed);
    }
    line(&mut out, "memory", report.memory.text(devices));
    line(&mut out, "load average", load_text(report.load_average));
    out
}

/// The load averages as the report shows them.
/// One labelled line of a rendered report, the labels in one column.
pub(crate) fn line(out: &mut String, label: &str, text: String) {
    let _ = writeln!(out, "  {label:<14}{text}");
}

pub(crate) fn load_text(load: Option<[f64; 3]>) -> String {
    load.map_or("unknown".to_owned(), |[one, five, fifteen]| {
        format!("{one:.2} {five:.2} {fifteen:.2} (1, 5, 15 min; 2 cores shared)")
    })
}

/// The final report as JSON, for scripts and CI: the same measures as [`render`], in seconds,
/// milliseconds and bytes.
pub fn report_json(report: &Report) -> Value {
    let mut report = report.clone();
    let settings = &report.settings;
    let devices = settings.devices;
    let day = report.day;
    let seconds = |duration: Duration| duration.as_secs_f64();
    let ms = |latency: Option<Duration>| latency.map(|latency| latency.as_secs_f64() * 1000.0);
    let outage = settings.outage.map(|outage| {
        json!({
            "at_fraction": outage.at_fraction,
            "seconds": seconds(outage.duration),
            "herd_reconnect_seconds": report.herd_reconnect.map(seconds),
            "connect_failures": day.connect_failures,
            "backoff_cap_seconds": seconds(settings.backoff_cap),
        })
    });
    let (p50, p99) = (
        report.replies.percentile(50.0),
        report.replies.percentile(99.0),
    );
    json!({
        "profile": report.profile,
        "devices": devices,
        "time_scale": settings.time_scale,
        "idle_disconnect": settings.idle_disconnect,
        "collections": settings.collections,
        "day_seconds": seconds(report.day_elapsed),
        "registration": report.registration.json(),
        "connect": {
            "seconds": seconds(report.connect_all),
            "per_second": rate(devices as f64, report.connect_all),
        },
        "outage": outage,
        "events": {
            "accepted": report.events_accepted,
            "acknowledged": day.events_sent,
            "per_second": rate(day.events_sent as f64, settings.day()),
            "collections_sent": day.collections_sent,
            "in_outboxes": report.totals.outbox_depth,
            "refused": report.totals.events_refused,
            "lost": report.events_lost(),
            "not_accepted": report.events_not_accepted,
        },
        "replies": {
            "requests": report.requests,
            "in_time": report.replies.len(),
            "late": report.late_replies,
            "p50_ms": ms(p50),
            "p99_ms": ms(p99),
        },
        "connections": {
            "real_minutes": seconds(day.connected) / 60.0,
            "simulated_minutes": seconds(day.connected) * settings.time_scale / 60.0,
            "hours_per_device_day": report.connected_hours_per_device_day(),
            "profile_hours_per_device_day": report.profile_hours_per_day,
            "connects": day.connects,
            "idle_disconnects": day.idle_disconnects,
            "lost": day.error_disconnects,
        },
        "iot_messages": {
            "publishes": day.messages_sent,
            "metered": day.metered_messages_sent,
            "bytes": day.bytes_sent,
            "received": day.messages_received,
        },
        "phones": report.phones.as_ref().map(|phones| phones.json(report.day_elapsed)),
        "memory": report.memory.json(devices),
        "load_average": report.load_average,
    })
}

pub(crate) fn rate(count: f64, over: Duration) -> f64 {
    if over.is_zero() {
        return 0.0;
    }
    count / over.as_secs_f64()
}

pub(crate) fn millis(latency: Option<Duration>) -> String {
    latency.map_or("-".to_owned(), |latency| {
        format!("{:.0} ms", latency.as_secs_f64() * 1000.0)
    })
}

fn per_connection(process: &str, (before, after): (u64, u64), devices: usize) -> String {
    let grown = after.saturating_sub(before);
    format!(
        "{process} {:.1} → {:.1} MB ({:.1} KB per idle connection)",
        before as f64 / 1_048_576.0,
        after as f64 / 1_048_576.0,
        grown as f64 / 1024.0 / devices as f64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Outage;

    fn report() -> Report {
        let settings = Settings {
            devices: 200,
            time_scale: 1440.0,
            idle_disconnect: true,
            collections: false,
            outage: Some(Outage {
                at_fraction: 0.5,
                duration: Duration::from_secs(5),
            }),
            hold: None,
            backoff_cap: crate::DEFAULT_BACKOFF_CAP,
        };
        let mut replies = Latencies::default();
        for ms in [40, 50, 60, 900] {
            replies.record(Duration::from_millis(ms));
        }
        Report {
            settings,
            profile: "kitchen-household".into(),
            registration: Registration {
                registered: 200,
                reused: 0,
                elapsed: Duration::from_secs(10),
                concurrency: 16,
            },
            connect_all: Duration::from_secs(2),
            herd_reconnect: Some(Duration::from_millis(1500)),
            day_elapsed: Duration::from_secs(60),
            day: Counters {
                connected: Duration::from_secs(600),
                connects: 2400,
                events_sent: 19_700,
                messages_sent: 19_750,
                metered_messages_sent: 19_750,
                ..Counters::default()
            },
            totals: Counters {
                events_sent: 19_698,
                outbox_depth: 2,
                ..Counters::default()
            },
            events_accepted: 19_700,
            requests: 4,
            replies,
            memory: Memory {
                simulator: (10 << 20, 30 << 20),
                post_office: None,
            },
            profile_hours_per_day: Some(0.5),
            events_not_accepted: 0,
            late_replies: 1,
            load_average: Some([1.5, 1.25, 1.0]),
            phones: Some(phones()),
        }
    }

    fn phones() -> PhoneReport {
        let mut replies = Latencies::default();
        replies.record(Duration::from_millis(70));
        replies.record(Duration::from_millis(80));
        PhoneReport {
            phones: 200,
            users_created: 150,
            sessions_planned: 800,
            connects: 800,
            connect_failures: 0,
            // 1.25 s a phone of the 60 s day: half an hour.
            connected: Duration::from_millis(250_000),
            requests: 2,
            events_sent: 0,
            not_accepted: 0,
            replies,
            received: [
                ("COOKING_REPLIED".to_owned(), 3),
                ("COOKING_STARTED".to_owned(), 2),
            ]
            .into(),
            profile_hours_per_day: 0.5,
        }
    }

    #[test]
    fn nothing_is_lost_when_every_accepted_event_is_acknowledged_or_pending() {
        let mut report = report();
        assert_eq!(report.events_lost(), 0);
        report.events_accepted += 3;
        assert_eq!(report.events_lost(), 3);
    }

    #[test]
    fn connected_hours_are_the_share_of_the_day_connected() {
        // 600 s connected over 200 devices and 60 s: 5% of the day, 1.2 h.
        assert!((report().connected_hours_per_device_day() - 1.2).abs() < 1e-9);
    }

    #[test]
    fn the_report_shows_every_measure() {
        let text = render(&report());
        for expected in [
            "Fleet of 200 devices (200 households, kitchen-household), a day in 60.0 s (time scale 1440); idle disconnect after 60 s, polls every 2 h; collections off",
            "registration  200 devices in 10.0 s (20.0/s, 16 at once)",
            "connect       all 200 connected in 2.00 s (100 devices/s)",
            "outage        at 50% of the day, 5.0 s: the herd reconnected 1.50 s after it ended; 0 connects failed during it (backoff cap 300 s)",
            "events        19700 accepted, 19700 acknowledged (328/s over the 60.0 s day), no collections",
            "replies       4 of 4 requests answered in time, 1 later (device → reply p50 50 ms, p99 900 ms)",
            "lost          0 events (accepted 19700 = acknowledged 19698 + in outboxes 2 + refused 0 + lost)",
            "10.0 connection-minutes real = 14400 simulated; 1.20 h per device per day (profile: 0.5)",
            "IoT messages  19750 PUBLISH sent (19750 in 5 KB units",
            "memory        simulator 10.0 → 30.0 MB (102.4 KB per idle connection); post office: pid unknown",
            "load average  1.50 1.25 1.00 (1, 5, 15 min; 2 cores shared)",
            "phones        200 phones (150 app users created, 50 reused): 800 sessions of 800 planned, 0 connects failed; 0.50 h per phone per day (profile: 0.5)",
            "phone events  2 requests and 0 other events acknowledged, 2 requests answered while open (phone → reply p50 70 ms, p99 80 ms); 0 lost, 0 not accepted",
            "phone got     COOKING_REPLIED 3, COOKING_STARTED 2",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn progress_shows_the_simulated_time_of_day() {
        let settings = report().settings;
        let fleet = Counters {
            events_sent: 12,
            outbox_depth: 3,
            ..Counters::default()
        };
        let line = progress_line(Duration::from_secs(30), &settings, 150, 15, 2, &fleet);
        assert_eq!(
            line,
            "  30.0 s (day 12:00)  connected 150/200  events sent 15 acked 12  replies 2  outbox 3"
        );
    }

    #[test]
    fn the_json_report_carries_the_same_measures() {
        let json = report_json(&report());
        assert_eq!(json["devices"], 200);
        assert_eq!(json["registration"]["per_second"], 20.0);
        assert_eq!(json["registration"]["reused"], 0);
        assert_eq!(json["load_average"][0], 1.5);
        assert_eq!(json["connect"]["per_second"], 100.0);
        assert_eq!(json["outage"]["herd_reconnect_seconds"], 1.5);
        assert_eq!(json["outage"]["backoff_cap_seconds"], 300.0);
        assert_eq!(json["events"]["acknowledged"], 19_700);
        assert_eq!(json["events"]["in_outboxes"], 2);
        assert_eq!(json["events"]["lost"], 0);
        assert_eq!(json["replies"]["in_time"], 4);
        assert_eq!(json["replies"]["p50_ms"], 50.0);
        assert_eq!(json["replies"]["p99_ms"], 900.0);
        assert_eq!(json["phones"]["connects"], 800);
        assert_eq!(json["phones"]["requests"], 2);
        assert_eq!(json["phones"]["replies_in_session"], 2);
        assert_eq!(json["phones"]["lost"], 0);
        assert_eq!(json["phones"]["hours_per_phone_day"], 0.5);
        assert_eq!(json["phones"]["received"]["COOKING_STARTED"], 2);
        assert_eq!(json["connections"]["simulated_minutes"], 14_400.0);
        assert_eq!(
            json["memory"]["simulator"]["bytes_per_connection"],
            104_857.6
        );
        assert!(json["memory"]["post_office"].is_null());
        let mut lossy = report();
        lossy.events_accepted += 3;
        assert_eq!(report_json(&lossy)["events"]["lost"], 3);
    }
}
