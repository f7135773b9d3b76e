//! How often an actor connects and how many events an Event Collection carries, derived from
//! what the device library does (crates/device) rather than assumed:
//!
//! - An actor that disconnects when idle connects to send anything that may not wait (events
//!   without a maximum wait), and otherwise polls its persistent session after a delay drawn uniformly
//!   from the second half of its poll interval (`postoffice_device::schedule::poll_delay`),
//!   counted from the end of its last session. A session lasts its idle time (the exchange
//!   itself takes milliseconds) and IoT Core bills each started minute of it
//!   (<https://aws.amazon.com/iot-core/pricing/>: connectivity "metered in one-minute
//!   increments").
//! - Events that may wait leave on every session of an idle-disconnecting actor (the connection
//!   is paid for anyway), collected or each alone. An actor that stays connected sends a collection when its
//!   first member has waited the catalog's `collection.max_wait_s`: events at a steady rate `r`
//!   then fill it with `r × max_wait + ½` on average (the first member plus those arriving while
//!   it waits; renewal theory), at least one.

/// Seconds in a day.
pub const DAY_SECONDS: f64 = 86_400.0;

/// Billed minutes of a session that lasts `idle_after_s`: every started minute counts.
pub fn minutes_per_session(idle_after_s: f64) -> f64 {
    (idle_after_s / 60.0).ceil().max(1.0)
}

/// Sessions a day of an actor that connects for each of `sends_per_day` (things that may not
/// wait) and otherwise polls after a delay uniform in `[poll_interval_s / 2, poll_interval_s)`
/// from the end of its last session, each session lasting `session_s`. When `timer_cap_s` is
/// set (collection members may not wait longer), the timer never waits longer than it.
///
/// When one kind of send recurs (`most_frequent_per_day`) more often than the shortest poll
/// delay, no gap is long enough for a poll: one session per send. Otherwise each gap ends with a
/// send (rate λ, taken as random) or the poll timer D, whichever comes first; with
/// q = E[e^(−λ(D + session))], a day has λ / (1 − q) sessions.
pub fn sessions_per_day(
    sends_per_day: f64,
    most_frequent_per_day: f64,
    poll_interval_s: f64,
    session_s: f64,
    timer_cap_s: Option<f64>,
) -> f64 {
    let cap = timer_cap_s.unwrap_or(f64::INFINITY);
    let low = (poll_interval_s / 2.0).min(cap);
    let high = poll_interval_s.min(cap);
    let rate = sends_per_day / DAY_SECONDS;
    if rate <= 0.0 {
        return DAY_SECONDS / ((low + high) / 2.0 + session_s);
    }
    if most_frequent_per_day > 0.0 && DAY_SECONDS / most_frequent_per_day + session_s < low {
        return sends_per_day;
    }
    let timer = if high > low {
        ((-rate * low).exp() - (-rate * high).exp()) / (rate * (high - low))
    } else {
        (-rate * low).exp()
    };
    let quiet = timer * (-rate * session_s).exp();
    sends_per_day / (1.0 - quiet)
}

/// Events per collection of an actor that stays connected: its collectable events arrive at
/// `per_day` and the first member of a collection waits `max_wait_s`.
pub fn events_per_collection_connected(per_day: f64, max_wait_s: f64) -> f64 {
    (per_day / DAY_SECONDS * max_wait_s + 0.5).max(1.0)
}

/// Events per collection of an actor that sends its waiting members on each of its
/// `sessions_per_day`: a session finds members when at least one arrived since the last one
/// (events at `per_day`, at random).
pub fn events_per_collection_idle(per_day: f64, sessions_per_day: f64) -> f64 {
    if per_day <= 0.0 || sessions_per_day <= 0.0 {
        return 1.0;
    }
    let per_session = per_day / sessions_per_day;
    let collections = sessions_per_day * (1.0 - (-per_session).exp());
    (per_day / collections).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected} ± {tolerance}, got {actual}"
        );
    }

    #[test]
    fn a_session_bills_every_started_minute() {
        assert_eq!(minutes_per_session(30.0), 1.0);
        assert_eq!(minutes_per_session(60.0), 1.0);
        assert_eq!(minutes_per_session(61.0), 2.0);
        assert_eq!(minutes_per_session(0.0), 1.0);
    }

    #[test]
    fn without_sends_an_actor_polls_at_the_mean_delay() {
        // Polls every 45 minutes on average (uniform in 30 to 60) plus the 30 s session.
        close(
            sessions_per_day(0.0, 0.0, 3600.0, 30.0, None),
            86_400.0 / 2_730.0,
            1e-9,
        );
    }

    #[test]
    fn frequent_sends_leave_no_room_for_polls() {
        // Telemetry every 15 minutes, each its own session: polls (after 30 to 60 minutes of
        // quiet) never come.
        close(sessions_per_day(98.5, 96.0, 3600.0, 30.0, None), 98.5, 1e-9);
        // Random sends as often leave a gap of half an hour now and then.
        let random = sessions_per_day(98.5, 0.5, 3600.0, 30.0, None);
        assert!(random > 100.0 && random < 106.0, "{random}");
    }

    #[test]
    fn rare_sends_add_to_the_polls_but_reset_them() {
        let polls = sessions_per_day(0.0, 0.0, 3600.0, 30.0, None);
        let both = sessions_per_day(2.5, 2.0, 3600.0, 30.0, None);
        assert!(both > polls && both < polls + 2.5, "{polls} {both}");
    }

    #[test]
    fn a_shorter_collection_wait_caps_the_timer() {
        close(
            sessions_per_day(0.0, 0.0, 3600.0, 0.0, Some(600.0)),
            86_400.0 / 600.0,
            1e-9,
        );
    }

    #[test]
    fn a_connected_actor_fills_a_collection_for_its_maximum_wait() {
        // 96 a day is one every 900 s: an hour's wait holds 4.5 on average.
        close(events_per_collection_connected(96.0, 3600.0), 4.5, 1e-9);
        close(events_per_collection_connected(96.0, 7200.0), 8.5, 1e-9);
        // Shorter than the period: each event travels alone, in a collection of one.
        close(events_per_collection_connected(96.0, 60.0), 1.0, 1e-9);
    }

    #[test]
    fn an_idle_actor_sends_what_waited_since_its_last_session() {
        close(
            events_per_collection_idle(96.0, 32.0),
            3.0 / (1.0 - (-3f64).exp()),
            1e-9,
        );
        close(events_per_collection_idle(0.0, 32.0), 1.0, 1e-9);
        // More sessions than events: each collection carries one.
        assert!(events_per_collection_idle(2.0, 100.0) < 1.02);
    }
}
