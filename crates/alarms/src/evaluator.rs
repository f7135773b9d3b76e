//! Alarms, their states, and evaluation at explicit times, optionally time-scaled.

use crate::alarm::{Alarm, AlarmMetric, AlarmState};
use crate::error::AlarmError;
use crate::evaluation::{self, Datapoint, EXTRA_PERIODS};
use crate::metrics::{MetricId, MetricStore, Periods};

/// An alarm's change of state, with the actions it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub alarm: Alarm,
    pub from: AlarmState,
    pub to: AlarmState,
    pub reason: String,
    /// When the state changed, epoch milliseconds.
    pub timestamp_ms: i64,
    /// The alarm's actions for the new state; empty when its actions are disabled.
    pub actions: Vec<String>,
}

#[derive(Debug, Clone)]
struct Watched {
    alarm: Alarm,
    state: AlarmState,
    reason: String,
    updated_ms: i64,
}

/// Evaluates alarms on the datapoints of its [`MetricStore`].
///
/// CloudWatch evaluates an alarm every minute (every 10 seconds for 10 and 30 second periods)
/// over the most recent periods ending at that minute. With a `period_scale` below 1 the same
/// happens faster: at 0.01 a 300 s period lasts 3 s and evaluations come every 0.6 s.
#[derive(Debug, Clone)]
pub struct AlarmEvaluator {
    metrics: MetricStore,
    period_scale: f64,
    alarms: Vec<Watched>,
}

impl AlarmEvaluator {
    pub fn new(metrics: MetricStore, period_scale: f64) -> Result<Self, AlarmError> {
        if !(period_scale.is_finite() && period_scale > 0.0) {
            return Err(AlarmError::InvalidScale {
                scale: period_scale,
                message: "must be a positive number".to_owned(),
            });
        }
        Ok(Self {
            metrics,
            period_scale,
            alarms: Vec::new(),
        })
    }

    pub fn metrics(&self) -> &MetricStore {
        &self.metrics
    }

    pub fn metrics_mut(&mut self) -> &mut MetricStore {
        &mut self.metrics
    }

    /// Records one sample of a metric.
    pub fn put_datapoint(
        &mut self,
        metric: &MetricId,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AlarmError> {
        self.metrics.put(metric, timestamp_ms, value)
    }

    /// Creates an alarm in `INSUFFICIENT_DATA`, or replaces the definition of the alarm of that
    /// name keeping its state, as `PutMetricAlarm` does
    /// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html>).
    pub fn put_alarm(&mut self, alarm: Alarm, now_ms: i64) -> Result<(), AlarmError> {
        let scaled_period = self.scaled_ms(u64::from(alarm.period_seconds) * 1000);
        if scaled_period < 1 {
            return Err(AlarmError::InvalidScale {
                scale: self.period_scale,
                message: format!(
                    "alarm {:?}: its {} s period would last less than a millisecond",
                    alarm.name, alarm.period_seconds
                ),
            });
        }
        match self
            .alarms
            .iter_mut()
            .find(|watched| watched.alarm.name == alarm.name)
        {
            Some(watched) => watched.alarm = alarm,
            None => self.alarms.push(Watched {
                alarm,
                state: AlarmState::InsufficientData,
                reason: "Unchecked: Initial alarm creation".to_owned(),
                updated_ms: now_ms,
            }),
        }
        Ok(())
    }

    pub fn remove_alarm(&mut self, name: &str) -> Option<Alarm> {
        let index = self
            .alarms
            .iter()
            .position(|watched| watched.alarm.name == name)?;
        Some(self.alarms.remove(index).alarm)
    }

    /// An alarm's state, state reason and when the state last changed.
    pub fn state(&self, name: &str) -> Option<(AlarmState, &str, i64)> {
        self.alarms
            .iter()
            .find(|watched| watched.alarm.name == name)
            .map(|watched| (watched.state, watched.reason.as_str(), watched.updated_ms))
    }

    pub fn alarms(&self) -> impl Iterator<Item = &Alarm> {
        self.alarms.iter().map(|watched| &watched.alarm)
    }

    /// How far back evaluations read: a [`MetricStore`] should keep at least this much behind
    /// its newest datapoint for every alarm's evaluation range.
    pub fn retention_needed_ms(&self) -> i64 {
        self.alarms
            .iter()
            .map(|watched| {
                let alarm = &watched.alarm;
                let (period, interval) = self.period_and_interval_ms(alarm);
                i64::from(alarm.evaluation_periods + EXTRA_PERIODS) * period + interval
            })
            .max()
            .unwrap_or(0)
    }

    /// Evaluates every alarm at `now_ms` and returns the state changes, in the order the alarms
    /// were put. Evaluating again within the same evaluation interval changes nothing.
    pub fn evaluate(&mut self, now_ms: i64) -> Vec<Transition> {
        let mut transitions = Vec::new();
        for index in 0..self.alarms.len() {
            let watched = &self.alarms[index];
            let range = self.range(watched, now_ms);
            let decision = evaluation::decide(&watched.alarm, &range);
            let Some(state) = decision.state.filter(|state| *state != watched.state) else {
                continue;
            };
            let watched = &mut self.alarms[index];
            transitions.push(Transition {
                alarm: watched.alarm.clone(),
                from: watched.state,
                to: state,
                reason: decision.reason.clone(),
                timestamp_ms: now_ms,
                actions: watched.alarm.actions_for(state).to_vec(),
            });
            watched.state = state;
            watched.reason = decision.reason;
            watched.updated_ms = now_ms;
        }
        transitions
    }

    /// The evaluation range's datapoints at `now_ms`, most recent first. The periods end at the
    /// last evaluation time (a whole minute, or 10 seconds, scaled).
    fn range(&self, watched: &Watched, now_ms: i64) -> Vec<Option<Datapoint>> {
        let alarm = &watched.alarm;
        let (period_ms, interval) = self.period_and_interval_ms(alarm);
        let periods = Periods {
            end_ms: now_ms.div_euclid(interval) * interval,
            period_ms,
            count: (alarm.evaluation_periods + EXTRA_PERIODS) as usize,
        };
        match &alarm.metric {
            AlarmMetric::Metric(stat) => self.metrics.datapoints(stat, &periods),
            AlarmMetric::Queries(queries) => queries
                .values(&self.metrics, &periods)
                .into_iter()
                .enumerate()
                .map(|(age, value)| {
                    value.map(|value| Datapoint {
                        start_ms: periods.bounds(age).0,
                        value,
                        samples: 0,
                    })
                })
                .collect(),
        }
    }

    /// The scaled period, and how often the alarm is evaluated: every minute, or every 10
    /// seconds for 10 and 30 second periods (AlarmThatSendsEmail.html#alarm-evaluation).
    fn period_and_interval_ms(&self, alarm: &Alarm) -> (i64, i64) {
        let period = self
            .scaled_ms(u64::from(alarm.period_seconds) * 1000)
            .max(1);
        let interval = self
            .scaled_ms(if alarm.period_seconds < 60 {
                10_000
            } else {
                60_000
            })
            .max(1);
        (period, interval)
    }

    fn scaled_ms(&self, ms: u64) -> i64 {
        (ms as f64 * self.period_scale).round() as i64
    }
}
