//! How a fleet run is set up, and the simulated time it runs on.

use std::time::Duration;

use crate::FleetError;

pub const SIMULATED_DAY: Duration = Duration::from_secs(86_400);

/// With idle disconnects, a device disconnects after this long (simulated) with nothing to do.
pub const IDLE_AFTER: Duration = Duration::from_secs(60);

/// While idle-disconnected, a device connects about this often (simulated) to collect what its
/// persistent session queued: the profile's "every 2 hours".
pub const POLL_INTERVAL: Duration = Duration::from_secs(2 * 3600);

/// How long a device waits for a reply, in real time: the post office's latency is not scaled.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(30);

/// An injected outage: every device loses its connection at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// When, as a fraction of the simulated day.
    pub at_fraction: f64,
    /// How long connects fail, in real time (the devices' backoff runs in real time).
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub devices: usize,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    pub idle_disconnect: bool,
    pub collections: bool,
    pub outage: Option<Outage>,
    /// Hold the devices connected and idle this long instead of living a day: no events, no
    /// profile; the outage, if any, falls at its fraction of the hold.
    pub hold: Option<Duration>,
    /// The devices' reconnect backoff: 1 s doubling to this cap, full jitter.
    pub backoff_cap: Duration,
}

/// The device library's backoff cap (`postoffice_device::Backoff::default()`): a real fleet of
/// millions spreads its reconnects over five minutes.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(300);

impl Settings {
    pub fn check(&self) -> Result<(), FleetError> {
        let wrong = |message: String| Err(FleetError::Settings(message));
        if self.devices == 0 {
            return wrong("--devices 0: a fleet needs at least one device".into());
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return wrong(format!(
                "--time-scale {}: must be a positive number of simulated seconds per second (1440: a day in a minute)",
                self.time_scale
            ));
        }
        if let Some(outage) = self.outage
            && !(0.0..1.0).contains(&outage.at_fraction)
        {
            return wrong(format!(
                "--outage-at {}: must be a fraction of the day, at least 0 and below 1",
                outage.at_fraction
            ));
        }
        if self.backoff_cap < Duration::from_secs(1) {
            return wrong(format!(
                "--backoff-cap {:?}: at least the backoff's first ceiling, 1 s",
                self.backoff_cap
            ));
        }
        if let Some(hold) = self.hold {
            if hold.is_zero() {
                return wrong("--hold 0s: hold the connections for some time, e.g. 60s".into());
            }
            for (set, flag) in [
                (self.idle_disconnect, "--idle-disconnect"),
                (self.collections, "--collections"),
            ] {
                if set {
                    return wrong(format!(
                        "--hold keeps every device connected and sends no events: {flag} does not apply"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The real time a simulated duration takes.
    pub fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.time_scale)
    }

    /// The real time a simulated day takes.
    pub fn day(&self) -> Duration {
        self.real(SIMULATED_DAY)
    }

    /// How long the run lasts once connected, in real time: the hold, or the day.
    pub fn span(&self) -> Duration {
        self.hold.unwrap_or_else(|| self.day())
    }

    /// When the outage starts, from the start of the day (or hold), in real time.
    pub fn outage_start(&self) -> Option<Duration> {
        self.outage
            .map(|outage| self.span().mul_f64(outage.at_fraction))
    }
}

/// A duration as `90`, `90s`, `1500ms`, `2m` or `1h` (seconds without a unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s, 1500ms, 2m or 1h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            devices: 200,
            time_scale: 1440.0,
            idle_disconnect: false,
            collections: false,
            outage: None,
            hold: None,
            backoff_cap: DEFAULT_BACKOFF_CAP,
        }
    }

    #[test]
    fn a_day_at_scale_1440_lasts_a_minute() {
        let settings = settings();
        settings.check().unwrap();
        assert_eq!(settings.day(), Duration::from_secs(60));
        assert_eq!(settings.real(POLL_INTERVAL), Duration::from_secs(5));
    }

    #[test]
    fn the_default_backoff_cap_is_the_device_library_s() {
        assert_eq!(
            DEFAULT_BACKOFF_CAP,
            postoffice_device::Backoff::default().cap
        );
    }

    #[test]
    fn the_outage_starts_at_its_fraction_of_the_real_day() {
        let mut settings = settings();
        settings.outage = Some(Outage {
            at_fraction: 0.5,
            duration: Duration::from_secs(5),
        });
        assert_eq!(settings.outage_start(), Some(Duration::from_secs(30)));
        assert_eq!(self::settings().outage_start(), None);
        settings.hold = Some(Duration::from_secs(20));
        assert_eq!(settings.outage_start(), Some(Duration::from_secs(10)));
    }

    #[test]
    fn bad_settings_name_what_is_wrong() {
        let mut empty = settings();
        empty.devices = 0;
        let mut frozen = settings();
        frozen.time_scale = 0.0;
        let mut backwards = settings();
        backwards.time_scale = -2.0;
        let mut not_a_number = settings();
        not_a_number.time_scale = f64::NAN;
        let mut tomorrow = settings();
        tomorrow.outage = Some(Outage {
            at_fraction: 1.0,
            duration: Duration::ZERO,
        });
        let mut held_idle = settings();
        held_idle.hold = Some(Duration::from_secs(60));
        held_idle.idle_disconnect = true;
        let mut held_collecting = settings();
        held_collecting.hold = Some(Duration::from_secs(60));
        held_collecting.collections = true;
        let mut held_not = settings();
        held_not.hold = Some(Duration::ZERO);
        let mut impatient = settings();
        impatient.backoff_cap = Duration::from_millis(500);
        for (settings, named) in [
            (
                held_idle,
                "--hold keeps every device connected and sends no events: --idle-disconnect",
            ),
            (
                held_collecting,
                "--hold keeps every device connected and sends no events: --collections",
            ),
            (held_not, "--hold 0s"),
            (impatient, "--backoff-cap 500ms"),
            (empty, "--devices 0"),
            (frozen, "--time-scale 0"),
            (backwards, "--time-scale -2"),
            (not_a_number, "--time-scale NaN"),
            (tomorrow, "--outage-at 1"),
        ] {
            let message = settings.check().unwrap_err().to_string();
            assert!(message.starts_with(named), "{message}");
        }
    }

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-1s").is_err());
    }
}
