//! `--rate N/s`: how fast a redrive delivers, so a recovering consumer is not flooded again.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

/// Deliveries per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

impl Rate {
    pub fn per_second(&self) -> f64 {
        self.0
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.0)
    }
}

/// The slowest rate: one message every 1000 s. Slower would hold each message longer than
/// SQS's longest visibility timeout (12 hours) allows for a handful of them, and at 1e-300 the
/// interval between deliveries does not even fit a `Duration`.
pub const MIN_RATE: f64 = 0.001;
/// The fastest rate: more than any handler should be asked to take from a redrive.
pub const MAX_RATE: f64 = 10_000.0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("rate {0:?} is not a positive number of messages per second (e.g. 5 or 5/s or 0.5/s)")]
    NotARate(String),
    #[error("rate {0:?} is out of range: between {MIN_RATE}/s and {MAX_RATE}/s")]
    OutOfRange(String),
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.trim().strip_suffix("/s").unwrap_or(text.trim());
        match number.parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate > 0.0 => {
                if (MIN_RATE..=MAX_RATE).contains(&rate) {
                    Ok(Self(rate))
                } else {
                    Err(RateError::OutOfRange(text.to_owned()))
                }
            }
            _ => Err(RateError::NotARate(text.to_owned())),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

/// Spaces deliveries evenly: the first goes at once, each next one an interval after the last.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Option<Instant>,
}

impl Pacer {
    /// No rate: no waiting.
    pub fn new(rate: Option<Rate>) -> Self {
        Self {
            interval: rate.map(|r| r.interval()),
            next: None,
        }
    }

    /// Waits until the next delivery may start.
    pub async fn wait(&mut self) {
        let Some(interval) = self.interval else {
            return;
        };
        let now = Instant::now();
        let at = self.next.map_or(now, |next| next.max(now));
        tokio::time::sleep_until(at).await;
        self.next = Some(at + interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!("5".parse::<Rate>().unwrap().per_second(), 5.0);
        assert_eq!("5/s".parse::<Rate>().unwrap().per_second(), 5.0);
        assert_eq!("0.5/s".parse::<Rate>().unwrap().per_second(), 0.5);
        for bad in ["0", "-1/s", "fast", "5/m", "inf", "NaN", ""] {
            let error = bad.parse::<Rate>().unwrap_err();
            assert_eq!(error, RateError::NotARate(bad.to_owned()));
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
        assert_eq!("0.001/s".parse::<Rate>().unwrap().per_second(), MIN_RATE);
        assert_eq!("10000".parse::<Rate>().unwrap().per_second(), MAX_RATE);
        for extreme in ["1e-300", "0.0009/s", "1e308/s", "10001"] {
            assert_eq!(
                extreme.parse::<Rate>().unwrap_err(),
                RateError::OutOfRange(extreme.to_owned()),
                "{extreme}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_deliveries_at_the_rate() {
        let mut pacer = Pacer::new(Some("4/s".parse().unwrap()));
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait().await;
        }
        // Five deliveries at 4/s: the first at once, then four intervals of 250 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_wait_without_a_rate_or_after_slow_work() {
        let mut unlimited = Pacer::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            unlimited.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);

        let mut pacer = Pacer::new(Some("1/s".parse().unwrap()));
        pacer.wait().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = Instant::now();
        pacer.wait().await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
