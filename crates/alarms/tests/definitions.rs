//! Alarms as DescribeAlarms returns them: what is accepted, and what is refused and why.
//! https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html

use postoffice_alarms::{
    Alarm, AlarmError, ComparisonOperator, MetricAlarmSpec, Statistic, TreatMissingData,
};
use serde_json::{Value, json};

fn spec(overrides: Value) -> MetricAlarmSpec {
    let mut fields = json!({
        "AlarmName": "postoffice-COOKING_REQUESTED-rule-failures",
        "Namespace": "AWS/IoT", "MetricName": "Failure",
        "Dimensions": [{"Name": "RuleName", "Value": "postoffice_COOKING_REQUESTED"}, {"Name": "ActionType", "Value": "SNS"}],
        "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching"
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            fields.as_object_mut().unwrap().remove(key);
        } else {
            fields[key] = value.clone();
        }
    }
    serde_json::from_value(fields).unwrap()
}

fn refused(overrides: Value) -> String {
    Alarm::new(spec(overrides)).unwrap_err().to_string()
}

#[test]
fn a_platform_alarm_is_read_with_its_defaults() {
    let alarm = Alarm::new(spec(json!({}))).unwrap();
    let stat = alarm.metric_stat().unwrap();
    assert_eq!(stat.statistic, Statistic::Sum);
    assert_eq!(
        alarm.comparison_operator,
        ComparisonOperator::GreaterThanOrEqualToThreshold
    );
    assert_eq!(alarm.treat_missing_data, TreatMissingData::NotBreaching);
    // DatapointsToAlarm defaults to EvaluationPeriods; ActionsEnabled to true.
    assert_eq!(alarm.datapoints_to_alarm, 1);
    assert!(alarm.actions_enabled);
    assert_eq!(stat.metric.dimensions.len(), 2);
    assert_eq!(alarm.period_seconds, 300);
    // TreatMissingData defaults to missing.
    let alarm = Alarm::new(spec(json!({"TreatMissingData": null}))).unwrap();
    assert_eq!(alarm.treat_missing_data, TreatMissingData::Missing);
    let alarm = Alarm::new(spec(
        json!({"Statistic": null, "ExtendedStatistic": "p99.9"}),
    ))
    .unwrap();
    assert_eq!(
        alarm.metric_stat().unwrap().statistic,
        Statistic::Percentile(99.9)
    );
}

#[test]
fn out_of_scope_alarms_are_refused_by_name() {
    assert_eq!(
        refused(
            json!({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold", "ThresholdMetricId": null})
        ),
        "alarm \"postoffice-COOKING_REQUESTED-rule-failures\": the anomaly detection operator \
         LessThanLowerOrGreaterThanUpperThreshold is not supported by the local post office"
    );
    assert!(refused(json!({"ThresholdMetricId": "ad1"})).contains("anomaly detection alarm"));
    // Metrics replace the single metric's fields (metric math is in tests/metric_math.rs).
    assert_eq!(
        refused(json!({"Metrics": [{"Id": "e1", "Expression": "SUM(METRICS())"}]})),
        "alarm \"postoffice-COOKING_REQUESTED-rule-failures\": Namespace: cannot be given with \
         Metrics; the queries name their metrics"
    );
    assert!(
        refused(json!({"Statistic": null, "ExtendedStatistic": "tm99"}))
            .contains("the extended statistic \"tm99\" (only percentiles pNN) is not supported")
    );
}

#[test]
fn invalid_fields_are_named() {
    let cases = [
        (
            json!({"ComparisonOperator": "Above"}),
            "ComparisonOperator: \"Above\" is not one of",
        ),
        (
            json!({"Statistic": "Median"}),
            "Statistic: \"Median\" is not one of SampleCount",
        ),
        (
            json!({"ExtendedStatistic": "p99"}),
            "Statistic: give Statistic or ExtendedStatistic, not both",
        ),
        (
            json!({"Statistic": null}),
            "Statistic: Statistic or ExtendedStatistic is required",
        ),
        (
            json!({"Statistic": null, "ExtendedStatistic": "p101"}),
            "ExtendedStatistic: \"p101\" is not a percentile",
        ),
        (
            json!({"Period": 45}),
            "Period: 45 s is not 10, 30 or a multiple of 60",
        ),
        (json!({"Period": null}), "Period: is required"),
        (
            json!({"EvaluationPeriods": 0}),
            "EvaluationPeriods: must be at least 1",
        ),
        (
            json!({"DatapointsToAlarm": 2}),
            "DatapointsToAlarm: 2 is not between 1 and EvaluationPeriods (1)",
        ),
        (
            json!({"Threshold": null}),
            "Threshold: a finite threshold is required",
        ),
        (
            json!({"TreatMissingData": "zero"}),
            "TreatMissingData: \"zero\" is not one of missing",
        ),
        (json!({"Namespace": null}), "Namespace: is required"),
        (json!({"MetricName": ""}), "MetricName: is required"),
        (
            json!({"AlarmName": ""}),
            "AlarmName: must be 1 to 255 characters",
        ),
        (
            json!({"EvaluateLowSampleCountPercentile": "maybe"}),
            "EvaluateLowSampleCountPercentile",
        ),
        (
            json!({"Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}]}),
            "Dimensions: \"A\" is given twice",
        ),
    ];
    for (overrides, expected) in cases {
        let error = Alarm::new(spec(overrides.clone())).unwrap_err();
        assert!(
            matches!(error, AlarmError::InvalidAlarm { .. }),
            "{overrides}: {error}"
        );
        assert!(error.to_string().contains(expected), "{overrides}: {error}");
    }
}
