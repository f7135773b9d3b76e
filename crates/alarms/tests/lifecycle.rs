//! Alarms raised and cleared over time, with the actions each transition runs.
//! https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html

use postoffice_alarms::{
    Alarm, AlarmError, AlarmEvaluator, AlarmState, MetricAlarmSpec, MetricId, MetricStore,
};

const ONCALL: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall";
/// 2026-11-30T18:00:00Z
const T: i64 = 1_796_061_600_000;

fn dlq() -> MetricId {
    MetricId::new(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        &[("QueueName", "postoffice-kitchen-dlq")],
    )
}

/// terraform/modules/consumer/alarms.tf, dlq_depth, as DescribeAlarms returns it.
fn dlq_depth_spec() -> MetricAlarmSpec {
    serde_json::from_value(serde_json::json!({
        "AlarmName": "postoffice-kitchen-dlq-depth",
        "AlarmDescription": "Deliveries to consumer kitchen are dead-lettered in postoffice-kitchen-dlq. Runbook: docs/runbook.md#dlq-depth",
        "ActionsEnabled": true,
        "OKActions": [ONCALL],
        "AlarmActions": [ONCALL],
        "InsufficientDataActions": [],
        "StateValue": "INSUFFICIENT_DATA",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Namespace": "AWS/SQS",
        "Statistic": "Maximum",
        "Dimensions": [{"Name": "QueueName", "Value": "postoffice-kitchen-dlq"}],
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching"
    }))
    .unwrap()
}

/// A 300 s period lasting 3 s, evaluated every 0.6 s.
fn scaled(spec: MetricAlarmSpec) -> AlarmEvaluator {
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(600_000, 10_000), 0.01).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    evaluator
}

#[test]
fn a_dead_letter_queue_alarm_is_raised_and_cleared() {
    let mut evaluator = scaled(dlq_depth_spec());
    let name = "postoffice-kitchen-dlq-depth";
    assert_eq!(
        evaluator.state(name),
        Some((
            AlarmState::InsufficientData,
            "Unchecked: Initial alarm creation",
            T
        ))
    );

    // No datapoints, treated as not breaching: OK, and OK actions run.
    let transitions = evaluator.evaluate(T + 600);
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (AlarmState::InsufficientData, AlarmState::Ok)
    );
    assert_eq!(
        transitions[0].reason,
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
    );
    assert_eq!(transitions[0].actions, [ONCALL]);

    // Three messages dead-lettered during the period starting 18:00:00 (scaled). Periods slide:
    // each evaluation looks at the period ending at the last evaluation time.
    evaluator.put_datapoint(&dlq(), T + 1_000, 1.0).unwrap();
    evaluator.put_datapoint(&dlq(), T + 2_000, 3.0).unwrap();
    assert!(
        evaluator.evaluate(T + 900).is_empty(),
        "the period ending at T + 600 has no datapoint"
    );
    let transitions = evaluator.evaluate(T + 3_000);
    assert_eq!(transitions.len(), 1);
    let raised = &transitions[0];
    assert_eq!(
        (raised.from, raised.to),
        (AlarmState::Ok, AlarmState::Alarm)
    );
    assert_eq!(
        raised.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (30/11/26 18:00:00)] was greater than the threshold (0.0) \
         (minimum 1 datapoint for OK -> ALARM transition)."
    );
    assert_eq!(raised.actions, [ONCALL]);
    assert_eq!(raised.timestamp_ms, T + 3_000);
    assert_eq!(raised.alarm.name, name);

    // Still breaching: actions run only on transitions.
    evaluator.put_datapoint(&dlq(), T + 3_500, 3.0).unwrap();
    assert!(evaluator.evaluate(T + 3_100).is_empty());
    assert!(evaluator.evaluate(T + 6_000).is_empty());

    // Redriven: the depth is 0 for a whole period.
    evaluator.put_datapoint(&dlq(), T + 6_500, 0.0).unwrap();
    let transitions = evaluator.evaluate(T + 9_000);
    assert_eq!(transitions.len(), 1);
    let cleared = &transitions[0];
    assert_eq!(
        (cleared.from, cleared.to),
        (AlarmState::Alarm, AlarmState::Ok)
    );
    assert_eq!(
        cleared.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (30/11/26 18:00:06)] was not greater than the threshold (0.0) \
         (minimum 1 datapoint for ALARM -> OK transition)."
    );
    assert_eq!(cleared.actions, [ONCALL]);
    assert_eq!(
        evaluator.state(name).map(|(state, _, at)| (state, at)),
        Some((AlarmState::Ok, T + 9_000))
    );
}

#[test]
fn disabled_actions_still_change_state() {
    let mut spec = dlq_depth_spec();
    spec.actions_enabled = Some(false);
    let mut evaluator = scaled(spec);
    evaluator.put_datapoint(&dlq(), T + 1_000, 1.0).unwrap();
    let transitions = evaluator.evaluate(T + 3_000);
    assert_eq!(transitions[0].to, AlarmState::Alarm);
    assert!(transitions[0].actions.is_empty());
}

#[test]
fn missing_data_as_missing_goes_to_insufficient_data_with_its_actions() {
    let mut spec = dlq_depth_spec();
    spec.treat_missing_data = None;
    spec.insufficient_data_actions = vec!["arn:aws:sns:eu-west-1:123456789012:quiet".into()];
    let mut evaluator = scaled(spec);
    evaluator.put_datapoint(&dlq(), T + 1_000, 2.0).unwrap();
    assert_eq!(evaluator.evaluate(T + 3_000)[0].to, AlarmState::Alarm);
    // The datapoint stays in the evaluation range (1 + 2 periods) for two more periods.
    assert!(evaluator.evaluate(T + 6_000).is_empty());
    assert!(evaluator.evaluate(T + 9_000).is_empty());
    let transitions = evaluator.evaluate(T + 12_000);
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (AlarmState::Alarm, AlarmState::InsufficientData)
    );
    assert_eq!(
        transitions[0].reason,
        "Insufficient Data: 1 datapoint was unknown."
    );
    assert_eq!(
        transitions[0].actions,
        ["arn:aws:sns:eu-west-1:123456789012:quiet"]
    );
}

/// terraform/modules/platform/event-store.tf: Firehose deliveries, Minimum < 1 for 3 periods.
#[test]
fn m_out_of_n_over_three_periods() {
    let stream = MetricId::new(
        "AWS/Firehose",
        "DeliveryToS3.Success",
        &[("DeliveryStreamName", "postoffice-events")],
    );
    let spec: MetricAlarmSpec = serde_json::from_value(serde_json::json!({
        "AlarmName": "postoffice-firehose-delivery-failures",
        "Namespace": "AWS/Firehose", "MetricName": "DeliveryToS3.Success",
        "Dimensions": [{"Name": "DeliveryStreamName", "Value": "postoffice-events"}],
        "Statistic": "Minimum", "Period": 300, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
        "Threshold": 1.0, "ComparisonOperator": "LessThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [ONCALL], "OKActions": [ONCALL]
    }))
    .unwrap();
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 10_000), 1.0).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    let period = 300_000;
    // Periods (oldest first): success 1, a failed delivery (minimum 0), success 1: 1 of 3.
    for (index, values) in [[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]].iter().enumerate() {
        for value in values {
            evaluator
                .put_datapoint(&stream, T + index as i64 * period + 10_000, *value)
                .unwrap();
        }
    }
    let at = T + 3 * period;
    assert_eq!(evaluator.evaluate(at)[0].to, AlarmState::Ok);
    // A fourth period with a failure: 2 of the last 3 breach.
    evaluator.put_datapoint(&stream, at + 10_000, 0.0).unwrap();
    let transitions = evaluator.evaluate(at + period);
    assert_eq!(transitions[0].to, AlarmState::Alarm);
    assert_eq!(
        transitions[0].reason,
        "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (30/11/26 18:15:00), 0.0 (30/11/26 18:05:00)] \
         were less than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition)."
    );
    // A good period: one breaching datapoint is left among the last 3.
    evaluator
        .put_datapoint(&stream, at + period + 10_000, 1.0)
        .unwrap();
    let transitions = evaluator.evaluate(at + 2 * period);
    assert_eq!(transitions[0].to, AlarmState::Ok);
    assert!(
        transitions[0]
            .reason
            .contains("(minimum 2 datapoints for ALARM -> OK transition)"),
        "{}",
        transitions[0].reason
    );
}

#[test]
fn each_statistic_over_a_period() {
    let cases = [
        ("Sum", None, 10.0, true),
        ("Average", None, 2.5, true),
        ("SampleCount", None, 4.0, true),
        ("Minimum", None, 1.0, true),
        ("Maximum", None, 4.0, true),
        ("Maximum", None, 4.5, false),
    ];
    let metric = MetricId::new("AWS/Lambda", "Errors", &[("FunctionName", "handler")]);
    for (statistic, extended, threshold, breaches) in cases {
        let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 10_000), 1.0).unwrap();
        let spec = MetricAlarmSpec {
            alarm_name: "errors".into(),
            namespace: Some("AWS/Lambda".into()),
            metric_name: Some("Errors".into()),
            dimensions: vec![postoffice_alarms::DimensionSpec {
                name: "FunctionName".into(),
                value: "handler".into(),
            }],
            statistic: Some(statistic.to_owned()).filter(|_| extended.is_none()),
            extended_statistic: extended,
            period: Some(60),
            evaluation_periods: 1,
            threshold: Some(threshold),
            comparison_operator: "GreaterThanOrEqualToThreshold".into(),
            ..MetricAlarmSpec::default()
        };
        evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
        for (offset, value) in [(1_000, 1.0), (2_000, 4.0), (3_000, 2.0), (4_000, 3.0)] {
            evaluator.put_datapoint(&metric, T + offset, value).unwrap();
        }
        let expected = if breaches {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        };
        assert_eq!(
            evaluator.evaluate(T + 60_000)[0].to,
            expected,
            "{statistic} >= {threshold}"
        );
    }
}

#[test]
fn percentiles_and_low_sample_counts() {
    let latency = MetricId::new("AWS/Lambda", "Duration", &[]);
    let spec = |low_samples: Option<&str>| MetricAlarmSpec {
        alarm_name: "slow".into(),
        namespace: Some("AWS/Lambda".into()),
        metric_name: Some("Duration".into()),
        extended_statistic: Some("p90".into()),
        period: Some(60),
        evaluation_periods: 1,
        threshold: Some(100.0),
        comparison_operator: "GreaterThanThreshold".into(),
        evaluate_low_sample_count_percentile: low_samples.map(str::to_owned),
        ..MetricAlarmSpec::default()
    };
    for (low_samples, expected) in [(None, Some(AlarmState::Alarm)), (Some("ignore"), None)] {
        let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 10_000), 1.0).unwrap();
        evaluator
            .put_alarm(Alarm::new(spec(low_samples)).unwrap(), T)
            .unwrap();
        // 10 samples: p90 is the 9th smallest, 150. p90 needs 10/(1-0.9) = 100 samples.
        for (i, value) in [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 150.0, 900.0]
            .iter()
            .enumerate()
        {
            evaluator
                .put_datapoint(&latency, T + i as i64, *value)
                .unwrap();
        }
        let transitions = evaluator.evaluate(T + 60_000);
        assert_eq!(
            transitions.first().map(|t| t.to),
            expected,
            "{low_samples:?}"
        );
        if expected.is_some() {
            assert!(
                transitions[0]
                    .reason
                    .contains("[150.0 (30/11/26 18:00:00)]"),
                "{}",
                transitions[0].reason
            );
        }
    }
}

#[test]
fn putting_an_alarm_again_keeps_its_state() {
    let mut evaluator = scaled(dlq_depth_spec());
    evaluator.put_datapoint(&dlq(), T + 1_000, 1.0).unwrap();
    evaluator.evaluate(T + 3_000);
    let mut updated = dlq_depth_spec();
    updated.threshold = Some(5.0);
    evaluator
        .put_alarm(Alarm::new(updated).unwrap(), T + 3_100)
        .unwrap();
    let (state, _, _) = evaluator.state("postoffice-kitchen-dlq-depth").unwrap();
    assert_eq!(state, AlarmState::Alarm);
    assert_eq!(evaluator.alarms().count(), 1);
    assert_eq!(evaluator.alarms().next().unwrap().threshold, 5.0);
    // With the new threshold the same datapoint no longer breaches.
    assert_eq!(evaluator.evaluate(T + 3_600)[0].to, AlarmState::Ok);
    assert!(
        evaluator
            .remove_alarm("postoffice-kitchen-dlq-depth")
            .is_some()
    );
    assert!(evaluator.evaluate(T + 6_000).is_empty());
}

#[test]
fn high_resolution_periods_are_evaluated_every_ten_seconds() {
    let mut spec = dlq_depth_spec();
    spec.period = Some(10);
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 100), 1.0).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    evaluator.put_datapoint(&dlq(), T + 1_000, 1.0).unwrap();
    assert!(
        evaluator
            .evaluate(T + 9_999)
            .iter()
            .all(|t| t.to != AlarmState::Alarm)
    );
    assert_eq!(evaluator.evaluate(T + 10_000)[0].to, AlarmState::Alarm);
}

#[test]
fn the_store_retention_an_evaluator_needs() {
    let mut evaluator = scaled(dlq_depth_spec());
    // (1 + 2 periods of 3 s) + one 0.6 s evaluation interval.
    assert_eq!(evaluator.retention_needed_ms(), 9_600);
    let mut longer = dlq_depth_spec();
    longer.alarm_name = "longer".into();
    longer.evaluation_periods = 5;
    evaluator.put_alarm(Alarm::new(longer).unwrap(), T).unwrap();
    assert_eq!(evaluator.retention_needed_ms(), 21_600);
}

#[test]
fn scales_are_checked() {
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            AlarmEvaluator::new(MetricStore::new(1, 1), scale),
            Err(AlarmError::InvalidScale { .. })
        ));
    }
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(1, 1), 1e-9).unwrap();
    let error = evaluator
        .put_alarm(Alarm::new(dlq_depth_spec()).unwrap(), T)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("would last less than a millisecond"),
        "{error}"
    );
}
