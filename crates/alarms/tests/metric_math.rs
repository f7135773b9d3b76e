//! Alarms on `Metrics`: the docs' examples of metric math and Metrics Insights alarms evaluated
//! end to end, what is refused and why, and how a wrong query is named.
//! - https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
//!   ("State change for a metric math alarm")
//! - https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-alarm-create.html
//! - https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-alarms-partial-data.html
//! - https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html

use chrono::{DateTime, Utc};
use postoffice_alarms::{
    Alarm, AlarmError, AlarmEvaluator, AlarmState, MetricAlarmSpec, MetricId, MetricStore,
};
use serde_json::{Value, json};

fn ms(time: &str) -> i64 {
    time.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
}

fn alarm(fields: Value) -> Result<Alarm, AlarmError> {
    let spec: MetricAlarmSpec = serde_json::from_value(fields).unwrap();
    Alarm::new(spec)
}

fn evaluator(alarm: Alarm, at: i64) -> AlarmEvaluator {
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(86_400_000, 100_000), 1.0).unwrap();
    evaluator.put_alarm(alarm, at).unwrap();
    evaluator
}

fn network_traffic() -> Value {
    json!({
        "AlarmName": "TotalNetworkTrafficTooHigh",
        "AlarmDescription": "Goes into alarm if total network traffic exceeds 10Kb",
        "EvaluationPeriods": 1, "Threshold": 10000.0, "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [
            {"Id": "e1", "Expression": "SUM(METRICS())", "Label": "Total Network Traffic", "ReturnData": true},
            {"Id": "m1", "ReturnData": false, "MetricStat": {"Period": 300, "Stat": "Maximum", "Metric": {
                "Namespace": "AWS/EC2", "MetricName": "NetworkIn",
                "Dimensions": [{"Name": "InstanceId", "Value": "i-12345678901234567"}]}}},
            {"Id": "m2", "ReturnData": false, "MetricStat": {"Period": 300, "Stat": "Maximum", "Metric": {
                "Namespace": "AWS/EC2", "MetricName": "NetworkOut",
                "Dimensions": [{"Name": "InstanceId", "Value": "i-12345678901234567"}]}}}
        ]
    })
}

/// The EventBridge sample "State change for a metric math alarm": SUM(METRICS()) of NetworkIn and
/// NetworkOut crosses 10000 in the period starting 17:10, evaluated at 17:20:48.
#[test]
fn the_metric_math_alarm_of_the_eventbridge_sample() {
    let mut evaluator = evaluator(
        alarm(network_traffic()).unwrap(),
        ms("2019-10-02T17:20:03.642Z"),
    );
    let instance = [("InstanceId", "i-12345678901234567")];
    let network_in = MetricId::new("AWS/EC2", "NetworkIn", &instance);
    let network_out = MetricId::new("AWS/EC2", "NetworkOut", &instance);
    for (metric, time, value) in [
        (&network_in, "2019-10-02T17:10:30Z", 20_000.0),
        (&network_in, "2019-10-02T17:12:30Z", 30_000.0),
        (&network_out, "2019-10-02T17:11:00Z", 15_628.0),
    ] {
        evaluator.put_datapoint(metric, ms(time), value).unwrap();
    }
    let transitions = evaluator.evaluate(ms("2019-10-02T17:20:48.554Z"));
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (AlarmState::InsufficientData, AlarmState::Alarm)
    );
    assert_eq!(
        transitions[0].reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [45628.0 (02/10/19 17:10:00)] was greater \
         than the threshold (10000.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
}

/// The partial-data sample's Metrics Insights alarm: three periods of 20000 over threshold 0.
#[test]
fn the_metrics_insights_alarm_of_the_partial_data_sample() {
    let alarm = alarm(json!({
        "AlarmName": "my-alarm-name", "EvaluationPeriods": 3, "DatapointsToAlarm": 1,
        "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [{"Id": "m2", "Expression": "SELECT SUM(PartialDataTestMetric) FROM partial_data_test",
                     "ReturnData": true, "Period": 60}]
    }))
    .unwrap();
    let mut evaluator = evaluator(alarm, ms("2022-11-08T11:25:51.227Z"));
    // Many metrics of the namespace, whatever their dimensions, summed.
    for (host, minute) in [
        ("a", "23"),
        ("b", "23"),
        ("a", "24"),
        ("b", "24"),
        ("a", "25"),
    ] {
        let metric = MetricId::new(
            "partial_data_test",
            "PartialDataTestMetric",
            &[("Host", host)],
        );
        let value = if minute == "25" { 20_000.0 } else { 10_000.0 };
        evaluator
            .put_datapoint(&metric, ms(&format!("2022-11-08T11:{minute}:10Z")), value)
            .unwrap();
    }
    let transitions = evaluator.evaluate(ms("2022-11-08T11:26:05.401Z"));
    assert_eq!(
        transitions[0].reason,
        "Threshold Crossed: 3 out of the last 3 datapoints [20000.0 (08/11/22 11:25:00), 20000.0 \
         (08/11/22 11:24:00), 20000.0 (08/11/22 11:23:00)] were greater than the threshold (0.0) \
         (minimum 1 datapoint for OK -> ALARM transition)."
    );
}

/// The AWS CLI example of "Create a Metrics Insights alarm": the average CPU utilization of every
/// instance reported with exactly the InstanceId dimension.
#[test]
fn the_cli_example_of_a_metrics_insights_alarm() {
    let alarm = alarm(json!({
        "AlarmName": "Metrics-Insights-alarm", "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold", "Threshold": 50.0,
        "Metrics": [{"Id": "m1", "Expression": "SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\", InstanceId)", "Period": 60}]
    }))
    .unwrap();
    let t = ms("2026-11-30T18:00:00Z");
    let mut evaluator = evaluator(alarm, t);
    let cpu =
        |instance: &str| MetricId::new("AWS/EC2", "CPUUtilization", &[("InstanceId", instance)]);
    evaluator
        .put_datapoint(&cpu("i-1"), t + 1_000, 40.0)
        .unwrap();
    evaluator
        .put_datapoint(&cpu("i-2"), t + 2_000, 50.0)
        .unwrap();
    // Not in the SCHEMA: another dimension set.
    let other = MetricId::new(
        "AWS/EC2",
        "CPUUtilization",
        &[("InstanceId", "i-3"), ("InstanceType", "c3.4xlarge")],
    );
    evaluator.put_datapoint(&other, t + 3_000, 100.0).unwrap();
    let transitions = evaluator.evaluate(t + 60_000);
    assert_eq!(
        transitions[0].to,
        AlarmState::Ok,
        "{}",
        transitions[0].reason
    );
    assert!(transitions[0].reason.contains("[45.0 (30/11/26 18:00:00)]"));
    // AVG is over observations: three samples of i-2 weigh three times one of i-1.
    for (i, value) in [70.0, 70.0, 70.0].into_iter().enumerate() {
        evaluator
            .put_datapoint(&cpu("i-2"), t + 60_000 + i as i64, value)
            .unwrap();
    }
    evaluator
        .put_datapoint(&cpu("i-1"), t + 61_000, 10.0)
        .unwrap();
    let transitions = evaluator.evaluate(t + 120_000);
    assert_eq!(transitions[0].to, AlarmState::Alarm);
    assert!(transitions[0].reason.contains("[55.0 (30/11/26 18:01:00)]"));
}

#[test]
fn each_insights_aggregation() {
    let t = ms("2026-11-30T18:00:00Z");
    for (function, expected) in [
        ("SUM", 9.0),
        ("AVG", 3.0),
        ("MIN", 1.0),
        ("MAX", 5.0),
        ("COUNT", 3.0),
    ] {
        let alarm = alarm(json!({
            "AlarmName": "aggregation", "EvaluationPeriods": 1, "Threshold": expected,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Metrics": [{"Id": "q", "Expression": format!("SELECT {function}(Depth) FROM \"Custom/App\" WHERE Queue != 'other'"), "Period": 60}]
        }))
        .unwrap();
        let mut evaluator = evaluator(alarm, t);
        for (queue, value) in [("a", 1.0), ("b", 5.0), ("a", 3.0), ("other", 100.0)] {
            let metric = MetricId::new("Custom/App", "Depth", &[("Queue", queue)]);
            evaluator.put_datapoint(&metric, t + 1_000, value).unwrap();
        }
        let transitions = evaluator.evaluate(t + 60_000);
        assert_eq!(transitions[0].to, AlarmState::Alarm, "{function}");
        assert!(
            transitions[0]
                .reason
                .contains(&format!("[{expected:.1} (30/11/26 18:00:00)]")),
            "{function}: {}",
            transitions[0].reason
        );
    }
}

fn refused(metrics: Value) -> AlarmError {
    alarm(json!({
        "AlarmName": "refused", "EvaluationPeriods": 1, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold", "Metrics": metrics
    }))
    .unwrap_err()
}

fn metric(id: &str) -> Value {
    json!({"Id": id, "ReturnData": false, "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {
        "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "postoffice-kitchen-handler"}]}}})
}

#[test]
fn unsupported_functions_and_clauses_are_refused_by_name() {
    let cases = [
        (
            "ANOMALY_DETECTION_BAND(m1, 2)",
            "the metric math function ANOMALY_DETECTION_BAND (query \"e1\", at character 1)",
        ),
        (
            "INSIGHT_RULE_METRIC(\"ConnectionsByHost\", \"UniqueContributors\")",
            "the metric math function INSIGHT_RULE_METRIC (query \"e1\", at character 1)",
        ),
        (
            "m1 / SERVICE_QUOTA(m1) * 100",
            "the metric math function SERVICE_QUOTA (query \"e1\", at character 6)",
        ),
        (
            "LAMBDA(\"my-function\", m1)",
            "the metric math function LAMBDA (query \"e1\", at character 1)",
        ),
        (
            "RATE(m1)",
            "the metric math function RATE (query \"e1\", at character 1)",
        ),
        (
            "FILL(m1, REPEAT)",
            "FILL with REPEAT (query \"e1\", at character 10)",
        ),
        (
            "SELECT SUM(Failure) FROM SCHEMA(\"AWS/IoT\", ActionType, RuleName) GROUP BY RuleName",
            "GROUP BY in a Metrics Insights alarm (one time series per group: a multi time series alarm) (query \"e1\", at character 66)",
        ),
    ];
    for (expression, what) in cases {
        let error = refused(json!([{"Id": "e1", "Expression": expression}, metric("m1")]));
        assert_eq!(
            error,
            AlarmError::Unsupported {
                alarm: "refused".to_owned(),
                what: what.to_owned()
            },
            "{expression}"
        );
        assert!(
            error
                .to_string()
                .ends_with("is not supported by the local post office"),
            "{error}"
        );
    }
    // The single-metric refusals still hold for MetricStat.
    let mut trimmed = metric("m1");
    trimmed["MetricStat"]["Stat"] = json!("tm99");
    trimmed["ReturnData"] = json!(true);
    assert_eq!(
        refused(json!([trimmed])).to_string(),
        "alarm \"refused\": the extended statistic \"tm99\" (only percentiles pNN) is not supported by the local post office"
    );
}

/// Errors name the query and the field.
#[test]
fn invalid_queries_are_named() {
    let e1 = |expression: &str| json!({"Id": "e1", "Expression": expression});
    let cases = [
        (json!([]), None),
        (
            json!([
                e1("SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average', 300)"),
                metric("m1")
            ]),
            Some(
                "query \"e1\": Expression: an alarm cannot watch SEARCH: it returns several time series (at character 1)",
            ),
        ),
        (
            json!([e1("m1 + m3"), metric("m1")]),
            Some("query \"e1\": Expression: no query has the Id \"m3\" (at character 6)"),
        ),
        (
            json!([e1("METRICS() * 2"), metric("m1")]),
            Some(
                "query \"e1\": Expression: returns an array of time series; the expression an alarm watches must return a single time series",
            ),
        ),
        (
            json!([e1("AVG(m1)"), metric("m1")]),
            Some(
                "query \"e1\": Expression: returns a scalar; the expression an alarm watches must return a single time series",
            ),
        ),
        (
            json!([e1("m1 +"), metric("m1")]),
            Some(
                "query \"e1\": Expression: the expression ends where a value is expected (at character 5)",
            ),
        ),
        (
            json!([e1("SELECT SUM(Failure) FROM AWS/IoT"), metric("m1")]),
            Some(
                "query \"e1\": Expression: '/' cannot appear here; double-quote names with characters other than letters, digits and _ (at character 29)",
            ),
        ),
        (
            json!([e1("e2 * 2"), {"Id": "e2", "Expression": "e1 / 2", "ReturnData": false}, metric("m1")]),
            Some("query \"e1\": Expression: reads itself through e1 -> e2 -> e1"),
        ),
        (
            json!([e1("m1"), {"Id": "e2", "Expression": "m1 * 2"}, metric("m1")]),
            Some(
                "\"e1\", \"e2\" have ReturnData true (it is true when absent); exactly one must, the others false",
            ),
        ),
        (
            json!([{"Id": "e1", "Expression": "m1", "ReturnData": false}, metric("m1")]),
            Some("no query has ReturnData true; exactly one must, the alarm's value"),
        ),
        (
            json!([e1("m1"), metric("m1"), metric("m1")]),
            Some("query \"m1\": Id: is given to two queries"),
        ),
        (
            json!([{"Id": "E1", "Expression": "1"}]),
            Some(
                "Metrics[0]: Id: \"E1\" must start with a lowercase letter and hold only letters, digits and _, at most 255",
            ),
        ),
        (
            json!([{"Expression": "1"}]),
            Some("Metrics[0]: Id: is required"),
        ),
        (
            json!(["m1"]),
            Some("Metrics[0]: a MetricDataQuery is an object, not \"m1\""),
        ),
        (
            json!([{"Id": "e1", "Expression": "TIME_SERIES(1)", "Colour": "red"}]),
            Some(
                "query \"e1\": Colour: is not a field here; the fields are Id, MetricStat, Expression, Label, ReturnData, Period, AccountId",
            ),
        ),
        (
            json!([{"Id": "e1", "Expression": "TIME_SERIES(1)", "ReturnData": "yes"}]),
            Some("query \"e1\": ReturnData: must be true or false, not \"yes\""),
        ),
        (
            json!([{"Id": "e1", "Expression": "TIME_SERIES(1)", "Period": -60}]),
            Some("query \"e1\": Period: must be a positive number of seconds, not -60"),
        ),
        (
            json!([{"Id": "e1", "Expression": "TIME_SERIES(1)"}]),
            Some("no query gives a Period: give the MetricStat's, or the expression's Period"),
        ),
        (
            json!([{"Id": "e1"}]),
            Some("query \"e1\": MetricStat: MetricStat or Expression is required"),
        ),
        (
            json!([{"Id": "e1", "Expression": "  "}]),
            Some("query \"e1\": Expression: is empty"),
        ),
        (
            json!([{"Id": "e1", "Expression": "1", "MetricStat": {}}]),
            Some("query \"e1\": MetricStat: give MetricStat or Expression, not both"),
        ),
        (
            json!([{"Id": "m1", "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {"Namespace": "AWS/Lambda"}}}]),
            Some("query \"m1\": MetricStat.Metric.MetricName: is required"),
        ),
        (
            json!([{"Id": "m1", "MetricStat": {"Stat": "Sum", "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors"}}}]),
            Some("query \"m1\": MetricStat.Period: is required"),
        ),
        (
            json!([{"Id": "m1", "MetricStat": {"Period": 300, "Stat": "p101", "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors"}}}]),
            Some("query \"m1\": MetricStat.Stat: \"p101\" is not a percentile p0.0 to p100"),
        ),
        (
            json!([{"Id": "m1", "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName"}]}}}]),
            Some("query \"m1\": MetricStat.Metric.Dimensions[0].Value: is required"),
        ),
        (
            json!([{"Id": "m1", "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}]}}}]),
            Some("query \"m1\": MetricStat.Metric.Dimensions: \"A\" is given twice"),
        ),
        (
            json!([{"Id": "m1", "Period": 60, "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors"}}}]),
            Some("query \"m1\": Period: 60 s differs from the MetricStat's 300 s"),
        ),
        (
            json!([e1("m1 + m2"), metric("m1"), {"Id": "m2", "ReturnData": false, "MetricStat": {"Period": 60, "Stat": "Sum",
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations"}}}]),
            Some(
                "query \"m2\": Period: 60 s differs from query \"m1\"'s 300 s; every metric of an alarm uses the same period",
            ),
        ),
        (
            json!([{"Id": "q", "Expression": "SELECT SUM(Failure) FROM \"AWS/IoT\"", "Period": 30}]),
            Some("query \"q\": Period: 30 s; a Metrics Insights query aggregates whole minutes"),
        ),
        (
            json!([{"Id": "e1", "Expression": "TIME_SERIES(1)", "Period": 45}]),
            None,
        ),
    ];
    for (metrics, expected) in cases {
        let error = refused(metrics.clone());
        let AlarmError::InvalidAlarm { field, message, .. } = &error else {
            panic!("{metrics}: {error}");
        };
        match expected {
            Some(expected) => {
                assert_eq!(*field, "Metrics", "{metrics}");
                assert_eq!(message, expected, "{metrics}");
            }
            // An empty list is an alarm on a single metric without one; a period neither 10,
            // 30 nor a multiple of 60 is refused as for single metrics.
            None => assert!(
                matches!(*field, "Namespace" | "Period"),
                "{metrics}: {error}"
            ),
        }
    }
}

#[test]
fn metrics_exclude_the_single_metric_fields() {
    for (field, value) in [
        ("Namespace", json!("AWS/Lambda")),
        ("MetricName", json!("Errors")),
        (
            "Dimensions",
            json!([{"Name": "FunctionName", "Value": "f"}]),
        ),
        ("Period", json!(300)),
        ("Unit", json!("Count")),
        ("Statistic", json!("Sum")),
        ("ExtendedStatistic", json!("p99")),
    ] {
        let mut fields = network_traffic();
        fields[field] = value;
        assert_eq!(
            alarm(fields).unwrap_err().to_string(),
            format!(
                "alarm \"TotalNetworkTrafficTooHigh\": {field}: cannot be given with Metrics; the queries name their metrics"
            )
        );
    }
    // DescribeAlarms lists an empty Dimensions for alarms on Metrics.
    let mut fields = network_traffic();
    fields["Dimensions"] = json!([]);
    assert!(alarm(fields).is_ok());
}

#[test]
fn query_limits() {
    let expressions: Vec<Value> = (0..11)
        .map(|i| json!({"Id": format!("e{i}"), "Expression": "m0 * 2", "ReturnData": i == 0}))
        .collect();
    let mut metrics = expressions.clone();
    metrics.push(metric("m0"));
    assert_eq!(
        refused(json!(metrics)).to_string(),
        "alarm \"refused\": Metrics: 11 queries with Expression; an alarm takes at most 10"
    );
    let mut metrics = vec![expressions[0].clone()];
    metrics.extend((0..11).map(|i| metric(&format!("m{i}"))));
    assert_eq!(
        refused(json!(metrics)).to_string(),
        "alarm \"refused\": Metrics: 11 queries with MetricStat; an alarm takes at most 10"
    );
    let many: Vec<Value> = (0..21).map(|i| metric(&format!("m{i}"))).collect();
    assert_eq!(
        refused(json!(many)).to_string(),
        "alarm \"refused\": Metrics: 21 queries; an alarm takes at most 20"
    );
}

/// An alarm may watch a metric through `Metrics` alone, and expressions may read a Metrics
/// Insights query ("Use Metrics Insights queries with metric math").
#[test]
fn expressions_read_metrics_and_insights_queries() {
    let t = ms("2026-11-30T18:00:00Z");
    let alarm = alarm(json!({
        "AlarmName": "failure-share", "EvaluationPeriods": 1, "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Metrics": [
            {"Id": "share", "Expression": "100 * FILL(failures, 0) / published", "ReturnData": true},
            {"Id": "failures", "Expression": "SELECT SUM(Failure) FROM \"AWS/IoT\"", "Period": 60, "ReturnData": false},
            {"Id": "published", "ReturnData": false, "MetricStat": {"Period": 60, "Stat": "SampleCount",
                "Metric": {"Namespace": "AWS/IoT", "MetricName": "Success"}}}
        ]
    }))
    .unwrap();
    assert_eq!(alarm.period_seconds, 60);
    let mut evaluator = evaluator(alarm, t);
    let success = MetricId::new("AWS/IoT", "Success", &[]);
    for i in 0..4 {
        evaluator.put_datapoint(&success, t + i, 1.0).unwrap();
    }
    let failure = MetricId::new(
        "AWS/IoT",
        "Failure",
        &[("RuleName", "r"), ("ActionType", "SNS")],
    );
    evaluator.put_datapoint(&failure, t + 5, 2.0).unwrap();
    let transitions = evaluator.evaluate(t + 60_000);
    assert_eq!(transitions[0].to, AlarmState::Alarm);
    assert!(
        transitions[0].reason.contains("[50.0 (30/11/26 18:00:00)]"),
        "{}",
        transitions[0].reason
    );
    // No failures: FILL makes the share 0 rather than missing.
    for i in 0..4 {
        evaluator
            .put_datapoint(&success, t + 60_000 + i, 1.0)
            .unwrap();
    }
    let transitions = evaluator.evaluate(t + 120_000);
    assert_eq!(transitions[0].to, AlarmState::Ok);
    assert!(
        transitions[0].reason.contains("[0.0 (30/11/26 18:01:00)]"),
        "{}",
        transitions[0].reason
    );
}
