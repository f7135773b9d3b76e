//! When a device tries again: reconnects after failures (exponential backoff with full jitter) and
//! scheduled polls of its persistent session while idle-disconnected. Pure functions of a random
//! `unit` in `[0, 1)`, so the schedule is tested without clocks or randomness.
//!
//! Full jitter (a uniformly random delay between zero and the exponential ceiling) spreads a fleet
//! that lost its connections at the same moment, an outage of the broker or of a home network
//! provider, over the whole window instead of bringing it back in synchronized waves:
//! <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>.

use std::time::Duration;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling after the first failure; doubles with every further consecutive failure.
    pub base: Duration,
    /// Largest ceiling, however many failures.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The largest delay after `failures` consecutive failures: `min(cap, base × 2^(failures-1))`;
    /// zero before any failure.
    pub fn ceiling(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doublings = (failures - 1).min(63);
        let factor = 1u64 << doublings;
        let ceiling = u64::try_from(self.base.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_mul(factor);
        Duration::from_nanos(ceiling).min(self.cap)
    }

    /// The delay before the next attempt after `failures` consecutive failures: uniformly spread
    /// over `[0, ceiling)` by `unit` (a random number in `[0, 1)`).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        self.ceiling(failures).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// The delay before a scheduled poll of the persistent session: spread over the second half of
/// `interval` by `unit` (in `[0, 1)`), so devices that went idle together do not poll together, and
/// never later than `interval`, which the configuration keeps below the session expiry.
pub fn poll_delay(interval: Duration, unit: f64) -> Duration {
    let half = interval / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// A random number in `[0, 1)` for the functions above.
pub(crate) fn random_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_ceiling_doubles_per_failure_up_to_the_cap() {
        let backoff = backoff();
        assert_eq!(backoff.ceiling(0), Duration::ZERO);
        assert_eq!(backoff.ceiling(1), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(2), Duration::from_millis(200));
        assert_eq!(backoff.ceiling(7), Duration::from_millis(6400));
        assert_eq!(backoff.ceiling(8), Duration::from_secs(10));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn delays_stay_within_zero_and_the_ceiling() {
        let backoff = backoff();
        for failures in 0..100 {
            for unit in [0.0, 0.25, 0.5, 0.999_999, 1.0, -3.0, 7.0] {
                let delay = backoff.delay(failures, unit);
                assert!(
                    delay <= backoff.ceiling(failures),
                    "{failures} {unit} {delay:?}"
                );
            }
            assert_eq!(backoff.delay(failures, 0.0), Duration::ZERO);
        }
    }

    #[test]
    fn full_jitter_spreads_a_fleet_over_the_whole_window() {
        let backoff = backoff();
        let mut rng = fastrand::Rng::with_seed(7);
        let failures = 5;
        let ceiling = backoff.ceiling(failures).as_secs_f64();
        let mut buckets = [0u32; 10];
        let fleet = 10_000;
        for _ in 0..fleet {
            let delay = backoff.delay(failures, rng.f64()).as_secs_f64();
            let bucket = ((delay / ceiling) * 10.0) as usize;
            buckets[bucket.min(9)] += 1;
        }
        // A uniform spread puts about a tenth of the fleet in each tenth of the window.
        for (tenth, count) in buckets.iter().enumerate() {
            assert!(
                (800..1200).contains(count),
                "tenth {tenth} holds {count} of {fleet}: {buckets:?}"
            );
        }
    }

    #[test]
    fn the_cap_bounds_every_delay_of_a_long_outage() {
        let backoff = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        let mut rng = fastrand::Rng::with_seed(11);
        let worst = (1..1000)
            .map(|failures| backoff.delay(failures, rng.f64()))
            .max()
            .unwrap();
        assert!(worst <= Duration::from_secs(60));
        assert!(worst > Duration::from_secs(50), "{worst:?}");
    }

    #[test]
    fn polls_fall_in_the_second_half_of_the_interval() {
        let interval = Duration::from_secs(600);
        assert_eq!(poll_delay(interval, 0.0), Duration::from_secs(300));
        assert_eq!(poll_delay(interval, 0.5), Duration::from_secs(450));
        assert!(poll_delay(interval, 0.999_999) < interval);
        assert_eq!(poll_delay(interval, 9.0), interval);
    }
}
