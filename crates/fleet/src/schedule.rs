//! One device's day: when it sends each of its events.
//!
//! Each event recurs about every `day / per_day`, from a random phase, and each interval is
//! stretched or shrunk by up to [`INTERVAL_JITTER`]: devices started together drift apart, so the
//! fleet never sends as a herd (only the injected outage synchronises it). An event rarer than
//! daily happens on a given day with probability `per_day`.

use std::time::Duration;

use crate::plan::DevicePlan;

/// Each interval varies uniformly by up to this fraction either way.
pub const INTERVAL_JITTER: f64 = 0.2;

/// An event to send `at` (real time from the start of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    pub at: Duration,
    /// Index into [`DevicePlan::events`].
    pub event: usize,
}

/// The events of one device during a day lasting `day` (real time), in time order.
pub fn device_schedule(
    plan: &DevicePlan,
    day: Duration,
    rng: &mut fastrand::Rng,
) -> Vec<Scheduled> {
    let mut schedule = Vec::new();
    for (index, event) in plan.events.iter().enumerate() {
        let interval = day.as_secs_f64() / event.per_day;
        let mut at = interval * rng.f64();
        while at < day.as_secs_f64() {
            schedule.push(Scheduled {
                at: Duration::from_secs_f64(at),
                event: index,
            });
            at += interval * (1.0 + INTERVAL_JITTER * (2.0 * rng.f64() - 1.0));
        }
    }
    schedule.sort_by_key(|scheduled| scheduled.at);
    schedule
}

#[cfg(test)]
mod tests {
    use postoffice::catalog::Catalog;

    use super::*;
    use crate::plan::tests::kitchen;

    const DAY: Duration = Duration::from_secs(60);

    fn fleet_schedules(devices: usize) -> Vec<Vec<Scheduled>> {
        let plan = DevicePlan::from_profile(&kitchen(), Catalog::embedded()).unwrap();
        let mut rng = fastrand::Rng::with_seed(17);
        (0..devices)
            .map(|_| device_schedule(&plan, DAY, &mut rng))
            .collect()
    }

    #[test]
    fn a_device_sends_each_event_about_per_day_times_within_the_day_in_order() {
        let devices = 1000;
        let schedules = fleet_schedules(devices);
        let mut counts = [0usize; 3];
        for schedule in &schedules {
            assert!(schedule.windows(2).all(|pair| pair[0].at <= pair[1].at));
            assert!(schedule.iter().all(|scheduled| scheduled.at < DAY));
            for scheduled in schedule {
                counts[scheduled.event] += 1;
            }
        }
        let per_device = counts.map(|count| count as f64 / devices as f64);
        // Telemetry 96, cooking requests 0.5, cooking finished 2 a day.
        assert!((95.0..=97.0).contains(&per_device[0]), "{per_device:?}");
        assert!((0.45..=0.55).contains(&per_device[1]), "{per_device:?}");
        assert!((1.9..=2.1).contains(&per_device[2]), "{per_device:?}");
    }

    #[test]
    fn the_fleet_sends_evenly_over_the_day_without_a_herd() {
        let schedules = fleet_schedules(1000);
        let mut per_second = vec![0u32; DAY.as_secs() as usize];
        for scheduled in schedules.iter().flatten() {
            per_second[scheduled.at.as_secs() as usize] += 1;
        }
        // 98,500 events over 60 s: about 1,640 a second; no second holds a herd.
        let mean = per_second.iter().sum::<u32>() as f64 / per_second.len() as f64;
        for (second, count) in per_second.iter().enumerate() {
            let ratio = f64::from(*count) / mean;
            assert!(
                (0.85..1.15).contains(&ratio),
                "second {second}: {count} vs {mean}"
            );
        }
    }

    #[test]
    fn devices_do_not_send_in_step() {
        let schedules = fleet_schedules(100);
        let first: Vec<Duration> = schedules
            .iter()
            .map(|schedule| schedule.iter().find(|s| s.event == 0).unwrap().at)
            .collect();
        let mut distinct = first.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), first.len());
    }
}
