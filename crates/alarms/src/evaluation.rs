//! One alarm's decision from its recent datapoints, as "Evaluating an alarm" and "How alarm
//! state is evaluated when data is missing" describe it:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation>.

use chrono::DateTime;

use crate::alarm::{Alarm, AlarmState, MetricStat, Statistic, TreatMissingData};

/// How many periods beyond Evaluation Periods are retrieved (the evaluation range). The docs'
/// example retrieves 5 for 3 evaluation periods; the general number is not documented.
pub(crate) const EXTRA_PERIODS: u32 = 2;

/// One period's value: the statistic of the samples in `[start_ms, start_ms + period)`, or the
/// value of the expression an alarm watches (`samples` 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub start_ms: i64,
    pub value: f64,
    pub samples: usize,
}

/// The outcome of one evaluation: the new state, or `None` to keep the current one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub(crate) state: Option<AlarmState>,
    pub(crate) reason: String,
}

/// Decides from `range`, the evaluation range's periods, most recent first (`None` = missing).
pub(crate) fn decide(alarm: &Alarm, range: &[Option<Datapoint>]) -> Decision {
    let n = alarm.evaluation_periods as usize;
    let m = alarm.datapoints_to_alarm as usize;
    let breaches = |point: &Datapoint| {
        alarm
            .comparison_operator
            .breaches(point.value, alarm.threshold)
    };
    // Real datapoints with their age: 1 is the most recent period.
    let real: Vec<(usize, Datapoint)> = range
        .iter()
        .enumerate()
        .filter_map(|(index, slot)| slot.map(|point| (index + 1, point)))
        .collect();

    if low_sample_percentile(alarm, &real, n) {
        return keep("percentile with too few samples: evaluation skipped");
    }

    if real.len() >= n {
        // Enough real datapoints: the most recent N decide; missing data plays no part.
        let evaluated: Vec<Datapoint> = real.iter().take(n).map(|(_, point)| *point).collect();
        let breaching = evaluated.iter().filter(|point| breaches(point)).count();
        let state = if breaching >= m {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        };
        return threshold_crossed(alarm, state, &evaluated, 0);
    }

    let filled = n - real.len();
    if real.is_empty() {
        return match alarm.treat_missing_data {
            TreatMissingData::Missing => Decision {
                state: Some(AlarmState::InsufficientData),
                reason: format!("Insufficient Data: {n} {} unknown.", datapoints_were(n)),
            },
            TreatMissingData::Ignore => keep("no datapoints; missing data is ignored"),
            TreatMissingData::Breaching => threshold_crossed(alarm, AlarmState::Alarm, &[], filled),
            TreatMissingData::NotBreaching => threshold_crossed(alarm, AlarmState::Ok, &[], filled),
        };
    }

    // Fewer real datapoints than N: every real one in the range counts, and the fewest missing
    // ones are filled in with the treatment.
    let evaluated: Vec<Datapoint> = real.iter().map(|(_, point)| *point).collect();
    let breaching = evaluated.iter().filter(|point| breaches(point)).count();
    match alarm.treat_missing_data {
        TreatMissingData::Breaching => {
            let state = if breaching + filled >= m {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
            threshold_crossed(alarm, state, &evaluated, filled)
        }
        TreatMissingData::NotBreaching => {
            let state = if breaching >= m {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
            threshold_crossed(alarm, state, &evaluated, filled)
        }
        TreatMissingData::Missing | TreatMissingData::Ignore => {
            if breaching >= m {
                return threshold_crossed(alarm, AlarmState::Alarm, &evaluated, 0);
            }
            // "Avoiding premature transitions to alarm state": ALARM when the oldest breaching
            // datapoint within the evaluation periods is at least M periods old and nothing is
            // non-breaching; with `ignore` the state is kept instead.
            let non_breaching = evaluated.len() - breaching;
            let oldest_breaching_age = real
                .iter()
                .filter(|(age, point)| *age <= n && breaches(point))
                .map(|(age, _)| *age)
                .max();
            let premature = non_breaching == 0 && oldest_breaching_age.is_some_and(|age| age >= m);
            match (premature, alarm.treat_missing_data) {
                (true, TreatMissingData::Ignore) => {
                    keep("breaching datapoints among missing ones; missing data is ignored")
                }
                (true, _) => threshold_crossed(alarm, AlarmState::Alarm, &evaluated, 0),
                (false, _) => threshold_crossed(alarm, AlarmState::Ok, &evaluated, 0),
            }
        }
    }
}

fn keep(why: &str) -> Decision {
    Decision {
        state: None,
        reason: why.to_owned(),
    }
}

/// For percentiles from 50 up to 100 the data is low below 10/(1-p) samples, under 50 below
/// 10/p (AlarmThatSendsEmail.html#percentiles-with-low-samples).
fn low_sample_percentile(alarm: &Alarm, real: &[(usize, Datapoint)], n: usize) -> bool {
    let Some(&MetricStat {
        statistic: Statistic::Percentile(percent),
        ..
    }) = alarm.metric_stat()
    else {
        return false;
    };
    if !alarm.ignore_low_sample_count_percentile || percent >= 100.0 {
        return false;
    }
    let fraction = percent / 100.0;
    let needed = if fraction >= 0.5 {
        10.0 / (1.0 - fraction)
    } else {
        10.0 / fraction
    };
    let samples: usize = real.iter().take(n).map(|(_, point)| point.samples).sum();
    (samples as f64) < needed
}

/// "Threshold Crossed: 1 out of the last 1 datapoints [99.5 (02/10/19 16:59:00)] was greater than
/// the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition)." — the form of the
/// state reasons in <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html>.
/// The datapoints listed are those that put the alarm in its new state, most recent first.
/// The transition is written `OK -> ALARM` or `ALARM -> OK` whatever the state was: the docs'
/// samples write `OK -> ALARM` for alarms leaving INSUFFICIENT_DATA (the metric math and single
/// metric samples there, and the Metrics Insights one of cloudwatch-metrics-insights-alarms-partial-data.html).
fn threshold_crossed(
    alarm: &Alarm,
    state: AlarmState,
    evaluated: &[Datapoint],
    filled: usize,
) -> Decision {
    let n = alarm.evaluation_periods as usize;
    let m = alarm.datapoints_to_alarm as usize;
    let into_alarm = state == AlarmState::Alarm;
    let filled_as = match alarm.treat_missing_data {
        TreatMissingData::Breaching => "Breaching",
        _ => "NonBreaching",
    };
    let listed: Vec<&Datapoint> = evaluated
        .iter()
        .filter(|point| {
            alarm
                .comparison_operator
                .breaches(point.value, alarm.threshold)
                == into_alarm
        })
        .collect();
    let reason = if listed.is_empty() {
        format!(
            "Threshold Crossed: no datapoints were received for {filled} {} and {filled} missing {} treated as [{filled_as}].",
            if filled == 1 { "period" } else { "periods" },
            datapoints_were(filled),
        )
    } else {
        let points: Vec<String> = listed
            .iter()
            .map(|point| {
                format!(
                    "{} ({})",
                    java_double(point.value),
                    reason_time(point.start_ms)
                )
            })
            .collect();
        let minimum = if into_alarm { m } else { n - m + 1 };
        let mut reason = format!(
            "Threshold Crossed: {} out of the last {} datapoints [{}] {} {}{} the threshold ({}) (minimum {} {} for {} transition).",
            listed.len(),
            evaluated.len() + filled,
            points.join(", "),
            if listed.len() == 1 { "was" } else { "were" },
            if into_alarm { "" } else { "not " },
            alarm.comparison_operator.phrase(),
            java_double(alarm.threshold),
            minimum,
            if minimum == 1 {
                "datapoint"
            } else {
                "datapoints"
            },
            if into_alarm {
                "OK -> ALARM"
            } else {
                "ALARM -> OK"
            },
        );
        if filled > 0 {
            reason.push_str(&format!(
                " {filled} missing {} treated as [{filled_as}].",
                datapoints_were(filled)
            ));
        }
        reason
    };
    Decision {
        state: Some(state),
        reason,
    }
}

fn datapoints_were(count: usize) -> &'static str {
    if count == 1 {
        "datapoint was"
    } else {
        "datapoints were"
    }
}

/// A period's start as state reasons write it: `dd/MM/yy HH:mm:ss`, UTC.
fn reason_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%d/%m/%y %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A number as Java's `Double.toString` writes it, as CloudWatch's texts do: `3.0`, `0.5`,
/// `1.0E7`, `1.5E-4`.
pub(crate) fn java_double(value: f64) -> String {
    if value == 0.0 || (value.abs() >= 1e-3 && value.abs() < 1e7) {
        let plain = format!("{value}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let scientific = format!("{value:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_owned()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_like_java_doubles() {
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(0.0666851903306472), "0.0666851903306472");
        assert_eq!(java_double(45628.0), "45628.0");
        assert_eq!(java_double(-2.5), "-2.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(123456789.0), "1.23456789E8");
    }

    #[test]
    fn reason_times_are_day_month_year() {
        // 2019-10-02T16:59:00Z, the docs' example datapoint.
        assert_eq!(reason_time(1_570_035_540_000), "02/10/19 16:59:00");
    }
}
