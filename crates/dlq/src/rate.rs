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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate {0:?} is not a positive number of messages per second (e.g. 5 or 5/s or 0.5/s)")]
pub struct RateError(String);

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.trim().strip_suffix("/s").unwrap_or(text.trim());
        match number.parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(Self(rate)),
            _ => Err(RateError(text.to_owned())),
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
        for bad in ["0", "-1/s", "fast", "5/m", "inf", ""] {
            let error = bad.parse::<Rate>().unwrap_err().to_string();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
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
