//! The two tables of "How alarm state is evaluated when data is missing":
//! https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-evaluating-missing-data
//! Evaluation Periods 3, evaluation range 5, period 5 minutes; datapoints oldest first, `0` not
//! breaching, `X` breaching, `-` missing.

use postoffice_alarms::{
    Alarm, AlarmEvaluator, AlarmState, MetricAlarmSpec, MetricId, MetricStore,
};

const PERIOD_MS: i64 = 300_000;
/// A whole minute, far from the epoch.
const NOW: i64 = 1_795_464_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expected {
    State(AlarmState),
    Retain,
}

use AlarmState::{Alarm as ALARM, InsufficientData as INSUFFICIENT, Ok as OK};
use Expected::{Retain, State};

fn metric() -> MetricId {
    MetricId::new("AWS/Lambda", "Errors", &[("FunctionName", "handler")])
}

fn evaluator(datapoints_to_alarm: u32, treat_missing_data: &str) -> AlarmEvaluator {
    let spec = MetricAlarmSpec {
        alarm_name: "errors".into(),
        namespace: Some("AWS/Lambda".into()),
        metric_name: Some("Errors".into()),
        dimensions: vec![postoffice_alarms::DimensionSpec {
            name: "FunctionName".into(),
            value: "handler".into(),
        }],
        statistic: Some("Maximum".into()),
        period: Some(300),
        evaluation_periods: 3,
        datapoints_to_alarm: Some(datapoints_to_alarm),
        threshold: Some(1.0),
        comparison_operator: "GreaterThanOrEqualToThreshold".into(),
        treat_missing_data: Some(treat_missing_data.into()),
        ..MetricAlarmSpec::default()
    };
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 100_000), 1.0).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), 0).unwrap();
    evaluator
}

/// Puts the pattern's datapoints (oldest first) into the five periods before `now`.
fn put_pattern(evaluator: &mut AlarmEvaluator, pattern: &str, now: i64) {
    let points: Vec<&str> = pattern.split_whitespace().collect();
    assert_eq!(points.len(), 5, "{pattern}");
    for (index, point) in points.iter().enumerate() {
        let age = (points.len() - index) as i64;
        let start = now - age * PERIOD_MS;
        match *point {
            "0" => evaluator
                .put_datapoint(&metric(), start + 1_000, 0.0)
                .unwrap(),
            "X" => evaluator
                .put_datapoint(&metric(), start + 1_000, 5.0)
                .unwrap(),
            "-" => {}
            other => panic!("{other} in {pattern}"),
        }
    }
}

/// The state after evaluating `pattern`, starting from `before` (reached an hour earlier).
fn state_after(
    datapoints_to_alarm: u32,
    treat: &str,
    pattern: &str,
    before: AlarmState,
) -> AlarmState {
    let mut evaluator = evaluator(datapoints_to_alarm, treat);
    let earlier = NOW - 12 * PERIOD_MS;
    match before {
        AlarmState::Alarm => put_pattern(&mut evaluator, "X X X X X", earlier),
        AlarmState::Ok => put_pattern(&mut evaluator, "0 0 0 0 0", earlier),
        // A new alarm: INSUFFICIENT_DATA until its first evaluation.
        AlarmState::InsufficientData => {}
    }
    if before != AlarmState::InsufficientData {
        evaluator.evaluate(earlier);
    }
    assert_eq!(evaluator.state("errors").unwrap().0, before);
    put_pattern(&mut evaluator, pattern, NOW);
    evaluator.evaluate(NOW);
    evaluator.state("errors").unwrap().0
}

fn check(datapoints_to_alarm: u32, rows: &[(&str, [Expected; 4])]) {
    for (pattern, expected) in rows {
        for (treat, expected) in ["missing", "ignore", "breaching", "notBreaching"]
            .iter()
            .zip(expected)
        {
            for before in [OK, ALARM, INSUFFICIENT] {
                let want = match expected {
                    State(state) => *state,
                    Retain => before,
                };
                let got = state_after(datapoints_to_alarm, treat, pattern, before);
                assert_eq!(
                    got, want,
                    "{datapoints_to_alarm} of 3, {pattern}, TreatMissingData {treat}, from {before}"
                );
            }
        }
    }
}

#[test]
fn three_out_of_three() {
    check(
        3,
        &[
            ("0 - X - X", [State(OK), State(OK), State(OK), State(OK)]),
            ("0 - - - -", [State(OK), State(OK), State(OK), State(OK)]),
            (
                "- - - - -",
                [State(INSUFFICIENT), Retain, State(ALARM), State(OK)],
            ),
            (
                "0 X X - X",
                [State(ALARM), State(ALARM), State(ALARM), State(ALARM)],
            ),
            ("- - X - -", [State(ALARM), Retain, State(ALARM), State(OK)]),
        ],
    );
}

#[test]
fn two_out_of_three() {
    check(
        2,
        &[
            (
                "0 - X - X",
                [State(ALARM), State(ALARM), State(ALARM), State(ALARM)],
            ),
            (
                "0 0 X 0 X",
                [State(ALARM), State(ALARM), State(ALARM), State(ALARM)],
            ),
            ("0 - X - -", [State(OK), State(OK), State(ALARM), State(OK)]),
            ("- - - - 0", [State(OK), State(OK), State(ALARM), State(OK)]),
            ("- - - X -", [State(ALARM), Retain, State(ALARM), State(OK)]),
        ],
    );
}

/// "Avoiding premature transitions to alarm state": `- - - - X` and `- - - X -` with
/// Datapoints to Alarm 3 do not go to ALARM, since the next datapoint may not breach.
#[test]
fn a_recent_lone_breach_is_not_premature_alarm() {
    for pattern in ["- - - - X", "- - - X -"] {
        assert_ne!(state_after(3, "missing", pattern, OK), ALARM, "{pattern}");
        assert_ne!(
            state_after(3, "missing", pattern, INSUFFICIENT),
            ALARM,
            "{pattern}"
        );
    }
}
