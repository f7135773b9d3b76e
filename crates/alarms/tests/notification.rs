//! The SNS message an alarm action publishes, shaped like AWS's sample notification
//! (aws/aws-lambda-go events/testdata/cloudwatch-alarm-sns-payload-single-metric.json).

use postoffice_alarms::{
    Alarm, AlarmEvaluator, AlarmState, MetricAlarmSpec, MetricId, MetricStore, NotificationContext,
};
use serde_json::json;

const T: i64 = 1_796_061_600_000;

fn transition(overrides: serde_json::Value) -> postoffice_alarms::Transition {
    let mut fields = json!({
        "AlarmName": "postoffice-kitchen-handler-errors",
        "AlarmDescription": "The handler Lambda of consumer kitchen returns errors. Runbook: docs/runbook.md#lambda-errors",
        "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "postoffice-kitchen-handler"}],
        "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"]
    });
    for (key, value) in overrides.as_object().unwrap() {
        fields[key] = value.clone();
    }
    let spec: MetricAlarmSpec = serde_json::from_value(fields).unwrap();
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 100), 0.01).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    let errors = MetricId::new(
        "AWS/Lambda",
        "Errors",
        &[("FunctionName", "postoffice-kitchen-handler")],
    );
    evaluator.put_datapoint(&errors, T + 100, 2.0).unwrap();
    evaluator.put_datapoint(&errors, T + 200, 1.0).unwrap();
    let mut transitions = evaluator.evaluate(T + 3_000);
    assert_eq!(transitions.len(), 1);
    transitions.remove(0)
}

const IRELAND: NotificationContext = NotificationContext {
    account_id: "123456789012",
    region: "eu-west-1",
    region_name: "EU (Ireland)",
};

#[test]
fn the_message_has_cloudwatchs_fields() {
    let transition = transition(json!({}));
    assert_eq!(transition.to, AlarmState::Alarm);
    let message: serde_json::Value =
        serde_json::from_str(&transition.notification_message(&IRELAND)).unwrap();
    assert_eq!(
        message,
        json!({
            "AlarmName": "postoffice-kitchen-handler-errors",
            "AlarmDescription": "The handler Lambda of consumer kitchen returns errors. Runbook: docs/runbook.md#lambda-errors",
            "AWSAccountId": "123456789012",
            "NewStateValue": "ALARM",
            "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (30/11/26 18:00:00)] was greater than \
                               the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).",
            "StateChangeTime": "2026-11-30T18:00:03.000+0000",
            "Region": "EU (Ireland)",
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:postoffice-kitchen-handler-errors",
            "OldStateValue": "INSUFFICIENT_DATA",
            "Trigger": {
                "MetricName": "Errors",
                "Namespace": "AWS/Lambda",
                "StatisticType": "Statistic",
                "Statistic": "SUM",
                "Unit": null,
                "Dimensions": [{"value": "postoffice-kitchen-handler", "name": "FunctionName"}],
                "Period": 300,
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 0.0,
                "TreatMissingData": "- TreatMissingData:                    notBreaching",
                "EvaluateLowSampleCountPercentile": ""
            }
        })
    );
    // The fields come in CloudWatch's order, and Threshold is written as a decimal.
    let text = transition.notification_message(&IRELAND);
    assert!(
        text.starts_with(r#"{"AlarmName":"postoffice-kitchen-handler-errors","AlarmDescription":"#),
        "{text}"
    );
    assert!(text.contains(r#""Threshold":0.0,"#), "{text}");
    assert_eq!(
        transition.notification_subject(&IRELAND),
        "ALARM: \"postoffice-kitchen-handler-errors\" in EU (Ireland)"
    );
}

#[test]
fn percentile_alarms_name_their_extended_statistic_and_arns_are_kept() {
    let transition = transition(json!({
        "Statistic": null, "ExtendedStatistic": "p99", "AlarmDescription": null,
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:999999999999:alarm:given",
        "Unit": "Count"
    }));
    let message: serde_json::Value =
        serde_json::from_str(&transition.notification_message(&IRELAND)).unwrap();
    assert_eq!(message["Trigger"]["StatisticType"], "ExtendedStatistic");
    assert_eq!(message["Trigger"]["ExtendedStatistic"], "p99");
    assert!(message["Trigger"].get("Statistic").is_none());
    assert_eq!(message["Trigger"]["Unit"], "Count");
    assert_eq!(message["AlarmDescription"], serde_json::Value::Null);
    assert_eq!(
        message["AlarmArn"],
        "arn:aws:cloudwatch:us-east-1:999999999999:alarm:given"
    );
}

#[test]
fn subjects_fit_in_sns_limit() {
    let long = "a".repeat(200);
    let transition = transition(json!({"AlarmName": long}));
    assert_eq!(
        transition.notification_subject(&IRELAND).chars().count(),
        100
    );
}

/// An alarm on `Metrics` lists its queries in the Trigger instead of one metric, as in
/// aws-lambda-go's events/testdata/cloudwatch-alarm-sns-payload-multiple-metrics.json.
#[test]
fn alarms_on_metrics_list_their_queries() {
    let response: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/describe-alarms-consumer-handler-errors.json"
    ))
    .unwrap();
    let spec: MetricAlarmSpec =
        serde_json::from_value(response["MetricAlarms"][0].clone()).unwrap();
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(i64::MAX, 100), 1.0).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    let metric = |name: &str| {
        MetricId::new(
            "AWS/Lambda",
            name,
            &[("FunctionName", "postoffice-kitchen-handler")],
        )
    };
    evaluator
        .put_datapoint(&metric("Invocations"), T + 100, 10.0)
        .unwrap();
    evaluator
        .put_datapoint(&metric("Errors"), T + 100, 5.0)
        .unwrap();
    let transition = evaluator.evaluate(T + 300_000).remove(0);
    let text = transition.notification_message(&IRELAND);
    let message: serde_json::Value = serde_json::from_str(&text).unwrap();
    let handler = json!([{"value": "postoffice-kitchen-handler", "name": "FunctionName"}]);
    assert_eq!(
        message["Trigger"],
        json!({
            "Period": 300,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 10.0,
            "TreatMissingData": "- TreatMissingData:                    notBreaching",
            "EvaluateLowSampleCountPercentile": "",
            "Metrics": [
                {"Expression": "IF(invocations >= 10, 100 * errors / invocations, 0)", "Id": "failing",
                 "Label": "Failing invocations (%)", "ReturnData": true},
                {"Id": "errors", "MetricStat": {"Metric": {"Dimensions": handler, "MetricName": "Errors",
                 "Namespace": "AWS/Lambda"}, "Period": 300, "Stat": "Sum"}, "ReturnData": false},
                {"Id": "invocations", "MetricStat": {"Metric": {"Dimensions": handler, "MetricName": "Invocations",
                 "Namespace": "AWS/Lambda"}, "Period": 300, "Stat": "Sum"}, "ReturnData": false}
            ]
        })
    );
    assert_eq!(
        message["NewStateReason"],
        "Threshold Crossed: 1 out of the last 1 datapoints [50.0 (30/11/26 18:00:00)] was greater than \
         the threshold (10.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
    // The sample's field order: the Trigger's settings first, then Metrics with each query's
    // fields in alphabetical order.
    assert!(
        text.contains(
            r#""Trigger":{"Period":300,"EvaluationPeriods":1,"ComparisonOperator":"GreaterThanThreshold","Threshold":10.0,"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"{"Expression":"IF(invocations >= 10, 100 * errors / invocations, 0)","Id":"failing","Label":"Failing invocations (%)","ReturnData":true}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"{"Id":"errors","MetricStat":{"Metric":{"Dimensions":[{"value":"postoffice-kitchen-handler","name":"FunctionName"}],"MetricName":"Errors","Namespace":"AWS/Lambda"},"Period":300,"Stat":"Sum"},"ReturnData":false}"#),
        "{text}"
    );
}
