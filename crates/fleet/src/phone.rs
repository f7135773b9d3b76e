//! The household's phone: the app is connected only while it is open, a few sessions a day (the
//! profile's `mobile` actor). The user makes the phone's requests while the app is open, so each
//! request is sent in a session and the app stays open until its reply came.

use std::collections::BTreeMap;
use std::time::Duration;

use postoffice::catalog::Catalog;
use postoffice_cost::{Idle, Profile};
use serde_json::{Value, json};

use crate::FleetError;
use crate::plan::{DevicePlan, MOBILE_ACTOR};
use crate::report::{line, millis};
use crate::schedule::device_schedule;
use crate::stats::Latencies;

/// What each household's phone does in a day.
#[derive(Debug, Clone, PartialEq)]
pub struct PhonePlan {
    /// The requests the user makes from the app, with their rates.
    pub events: DevicePlan,
    /// The events the backend sends the phone: what the app subscribes to.
    pub receives: Vec<String>,
    /// The app's sessions in this run's scenario.
    pub connection: Sessions,
}

/// How long and how often the app is open, per day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sessions {
    pub hours_per_day: f64,
    pub sessions_per_day: f64,
}

impl PhonePlan {
    /// The profile's `mobile` actor, `None` when it has none. Its connection in either scenario
    /// must be given as sessions (`hours_per_day`, `sessions_per_day`): an app is connected while
    /// it is open, however the oven behaves.
    pub fn from_profile(
        profile: &Profile,
        catalog: &Catalog,
        idle_disconnect: bool,
    ) -> Result<Option<Self>, FleetError> {
        let Some(actor) = profile.actors.get(MOBILE_ACTOR) else {
            return Ok(None);
        };
        let (scenario, given) = if idle_disconnect {
            let given = match actor.connection.disconnect_when_idle.form() {
                Some(Idle::Given(given)) => given,
                _ => {
                    return Err(FleetError::Profile(format!(
                        "{}: the `{MOBILE_ACTOR}` actor's disconnect_when_idle must give \
                         hours_per_day and sessions_per_day (an app is connected while it is \
                         open); the simulator cannot derive a phone's sessions",
                        profile.name
                    )));
                }
            };
            ("disconnect_when_idle", given)
        } else {
            ("always_connected", actor.connection.always_connected)
        };
        let connection = Sessions {
            hours_per_day: given.hours_per_day,
            sessions_per_day: given.sessions_per_day,
        };
        let Sessions {
            hours_per_day,
            sessions_per_day,
        } = connection;
        let sessions_fit = sessions_per_day.is_finite() && sessions_per_day > 0.0;
        let hours_fit = hours_per_day.is_finite() && hours_per_day > 0.0 && hours_per_day <= 24.0;
        if !(sessions_fit && hours_fit) {
            return Err(FleetError::Profile(format!(
                "{}: the `{MOBILE_ACTOR}` actor's {scenario} needs sessions_per_day above 0 and \
                 hours_per_day above 0 and at most 24 (has {sessions_per_day} and {hours_per_day})",
                profile.name
            )));
        }
        if actor.per_customer != 1.0 {
            return Err(FleetError::Profile(format!(
                "{}: the simulator runs one phone per household; the `{MOBILE_ACTOR}` actor has \
                 per_customer {}",
                profile.name, actor.per_customer
            )));
        }
        Ok(Some(Self {
            events: DevicePlan::for_actor(profile, catalog, MOBILE_ACTOR)?,
            receives: DevicePlan::received_by(profile, catalog, MOBILE_ACTOR),
            connection,
        }))
    }

    /// How long one session lasts in a day lasting `day` (real time).
    pub fn session_length(&self, day: Duration) -> Duration {
        day.mul_f64(self.connection.hours_per_day / 24.0 / self.connection.sessions_per_day)
    }
}

/// One time the app is open: from `start` (real time from the start of the day) for `length`,
/// sending the requests (indices into the plan's events) right after connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneSession {
    pub start: Duration,
    pub length: Duration,
    pub requests: Vec<usize>,
}

/// One phone's day: `sessions_per_day` sessions (the fraction as a chance of one more), each in
/// its own slot of the day at a random offset, so phones never open as a herd; its requests
/// drawn as the devices' events are, each sent in the first session that has not ended by then
/// (or the last one): the user opens the app to cook.
pub fn phone_schedule(
    plan: &PhonePlan,
    day: Duration,
    rng: &mut fastrand::Rng,
) -> Vec<PhoneSession> {
    let requests = device_schedule(&plan.events, day, rng);
    let per_day = plan.connection.sessions_per_day;
    let mut count = per_day.floor() as u32 + u32::from(rng.f64() < per_day.fract());
    if count == 0 && !requests.is_empty() {
        count = 1;
    }
    if count == 0 {
        return Vec::new();
    }
    let slot = day / count;
    let length = plan.session_length(day).min(slot);
    let mut sessions: Vec<PhoneSession> = (0..count)
        .map(|index| PhoneSession {
            start: slot * index + (slot - length).mul_f64(rng.f64()),
            length,
            requests: Vec::new(),
        })
        .collect();
    for request in requests {
        let index = sessions
            .iter()
            .position(|session| session.start + session.length > request.at)
            .unwrap_or(sessions.len() - 1);
        sessions[index].requests.push(request.event);
    }
    sessions
}

/// What the phones did over the day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhoneReport {
    pub phones: usize,
    /// App users created this run; the others were reused from earlier runs.
    pub users_created: usize,
    pub sessions_planned: u64,
    pub connects: u64,
    /// Sessions whose connect failed (their requests are not sent and count as not accepted).
    pub connect_failures: u64,
    /// Real time connected, all phones together.
    pub connected: Duration,
    /// Requests the gateway acknowledged (PUBACK), each expecting its reply.
    pub requests: u64,
    /// Other events the gateway acknowledged (no reply expected).
    pub events_sent: u64,
    /// Requests not sent or refused.
    pub not_accepted: u64,
    /// Phone → reply latencies of the requests answered while the app was open.
    pub replies: Latencies,
    /// Every message the phones received, by event (their own replies included).
    pub received: BTreeMap<String, u64>,
    /// Connected hours per phone per day the profile gives for this scenario.
    pub profile_hours_per_day: f64,
}

impl PhoneReport {
    /// Requests acknowledged and never answered: must be 0 (the kitchen answers every request).
    pub fn lost(&self) -> i64 {
        self.requests as i64 - self.replies.len() as i64
    }

    /// Hours a phone was connected per simulated day.
    pub fn hours_per_phone_day(&self, day: Duration) -> f64 {
        if day.is_zero() || self.phones == 0 {
            return 0.0;
        }
        self.connected.as_secs_f64() / self.phones as f64 / day.as_secs_f64() * 24.0
    }

    fn received_text(&self) -> String {
        if self.received.is_empty() {
            return "nothing".to_owned();
        }
        self.received
            .iter()
            .map(|(event, count)| format!("{event} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The phones' lines of the rendered report, `day` the simulated day in real time.
    pub(crate) fn render(&self, out: &mut String, day: Duration) {
        let mut report = self.clone();
        line(
            out,
            "phones",
            format!(
                "{} phones ({} app users created, {} reused): {} sessions of {} planned, {} connects failed; {:.2} h per phone per day (profile: {})",
                report.phones,
                report.users_created,
                report.phones - report.users_created,
                report.connects,
                report.sessions_planned,
                report.connect_failures,
                report.hours_per_phone_day(day),
                report.profile_hours_per_day,
            ),
        );
        let (p50, p99) = (
            report.replies.percentile(50.0),
            report.replies.percentile(99.0),
        );
        line(
            out,
            "phone events",
            format!(
                "{} requests and {} other events acknowledged, {} requests answered while open (phone → reply p50 {}, p99 {}); {} lost, {} not accepted",
                report.requests,
                report.events_sent,
                report.replies.len(),
                millis(p50),
                millis(p99),
                report.lost(),
                report.not_accepted,
            ),
        );
        line(out, "phone got", report.received_text());
    }

    pub(crate) fn json(&self, day: Duration) -> Value {
        let mut report = self.clone();
        let ms = |latency: Option<Duration>| latency.map(|latency| latency.as_secs_f64() * 1000.0);
        json!({
            "phones": report.phones,
            "users_created": report.users_created,
            "sessions_planned": report.sessions_planned,
            "connects": report.connects,
            "connect_failures": report.connect_failures,
            "hours_per_phone_day": report.hours_per_phone_day(day),
            "profile_hours_per_phone_day": report.profile_hours_per_day,
            "requests": report.requests,
            "events_sent": report.events_sent,
            "not_accepted": report.not_accepted,
            "replies_in_session": report.replies.len(),
            "lost": report.lost(),
            "p50_ms": ms(report.replies.percentile(50.0)),
            "p99_ms": ms(report.replies.percentile(99.0)),
            "received": report.received,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::kitchen;

    const DAY: Duration = Duration::from_secs(86_400);

    fn plan() -> PhonePlan {
        PhonePlan::from_profile(&kitchen(), Catalog::embedded(), false)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_kitchen_phone_requests_cooking_and_receives_replies_and_starts() {
        let plan = plan();
        let sent: Vec<_> = plan
            .events
            .events
            .iter()
            .map(|event| (event.event.as_str(), event.per_day, event.reply.as_deref()))
            .collect();
        assert_eq!(sent, [("COOKING_REQUESTED", 1.5, Some("COOKING_REPLIED"))]);
        assert_eq!(plan.receives, ["COOKING_REPLIED", "COOKING_STARTED"]);
        assert_eq!(
            plan.connection,
            Sessions {
                hours_per_day: 0.5,
                sessions_per_day: 4.0
            }
        );
        // Half an hour in 4 sessions.
        assert_eq!(plan.session_length(DAY), Duration::from_secs(450));
    }

    #[test]
    fn a_phone_opens_the_app_four_times_a_day_and_sends_its_requests_in_sessions() {
        let plan = plan();
        let mut rng = fastrand::Rng::with_seed(23);
        let phones = 1000;
        let (mut sessions, mut requests) = (0, 0);
        for _ in 0..phones {
            let day = phone_schedule(&plan, DAY, &mut rng);
            assert_eq!(day.len(), 4);
            for pair in day.windows(2) {
                assert!(pair[0].start + pair[0].length <= pair[1].start, "{day:?}");
            }
            let last = day.last().unwrap();
            assert!(last.start + last.length <= DAY);
            sessions += day.len();
            requests += day
                .iter()
                .map(|session| session.requests.len())
                .sum::<usize>();
        }
        assert_eq!(sessions, 4 * phones);
        let per_phone = requests as f64 / phones as f64;
        assert!((1.4..=1.6).contains(&per_phone), "{per_phone}");
    }

    #[test]
    fn phones_do_not_open_in_step() {
        let plan = plan();
        let mut rng = fastrand::Rng::with_seed(5);
        let mut first: Vec<Duration> = (0..100)
            .map(|_| phone_schedule(&plan, DAY, &mut rng)[0].start)
            .collect();
        first.sort();
        first.dedup();
        assert_eq!(first.len(), 100);
    }

    #[test]
    fn with_idle_disconnects_the_phone_keeps_its_given_sessions() {
        let plan = PhonePlan::from_profile(&kitchen(), Catalog::embedded(), true)
            .unwrap()
            .unwrap();
        assert_eq!(plan.connection.sessions_per_day, 4.0);
    }

    #[test]
    fn a_phone_whose_idle_sessions_are_derived_is_refused_by_name() {
        let mut profile = kitchen();
        let device = profile.actors["device"].connection.disconnect_when_idle;
        profile
            .actors
            .get_mut(MOBILE_ACTOR)
            .unwrap()
            .connection
            .disconnect_when_idle = device;
        let error = PhonePlan::from_profile(&profile, Catalog::embedded(), true).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("must give hours_per_day and sessions_per_day"),
            "{error}"
        );
    }

    #[test]
    fn a_profile_without_a_phone_has_no_phone_plan() {
        let mut profile = kitchen();
        profile.actors.remove(MOBILE_ACTOR);
        assert_eq!(
            PhonePlan::from_profile(&profile, Catalog::embedded(), false).unwrap(),
            None
        );
    }

    #[test]
    fn only_requests_answered_count_and_an_unanswered_one_is_lost() {
        let mut report = PhoneReport {
            phones: 2,
            requests: 3,
            ..PhoneReport::default()
        };
        report.replies.record(Duration::from_millis(20));
        report.replies.record(Duration::from_millis(30));
        assert_eq!(report.lost(), 1);
        report.connected = Duration::from_secs(2);
        // 1 s a phone of a 48 s day: half an hour.
        assert_eq!(report.hours_per_phone_day(Duration::from_secs(48)), 0.5);
    }
}
