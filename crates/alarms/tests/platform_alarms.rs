//! The platform's alarms on `Metrics`, as `DescribeAlarms` returns them once Terraform applied
//! terraform/modules/event/alarms.tf (`rule_action`, for COOKING_REQUESTED) and
//! terraform/modules/consumer/alarms.tf (`handler_errors`, for consumer kitchen) with the complete
//! example's values: prefix `postoffice`, region eu-west-1, default thresholds. Raised and cleared
//! with datapoints as the services emit them.

use postoffice_alarms::{
    Aggregation, Alarm, AlarmEvaluator, AlarmState, MetricAlarmSpec, MetricId, MetricStore,
    QuerySource, Transition,
};

const RULE_ACTIONS: &str = include_str!("fixtures/describe-alarms-event-rule-actions.json");
const HANDLER_ERRORS: &str = include_str!("fixtures/describe-alarms-consumer-handler-errors.json");
const ONCALL: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall";
/// 2026-11-30T18:00:00Z
const T: i64 = 1_796_061_600_000;
const FIVE_MINUTES: i64 = 300_000;

const FAILURES: &str = "postoffice-COOKING_REQUESTED-rule-failures";
const LOST: &str = "postoffice-COOKING_REQUESTED-rule-error-action-failures";
const HANDLER: &str = "postoffice-kitchen-handler-errors";

fn described(response: &str) -> Vec<MetricAlarmSpec> {
    let response: serde_json::Value = serde_json::from_str(response).unwrap();
    serde_json::from_value(response["MetricAlarms"].clone()).unwrap()
}

/// Real time: 300 s periods, evaluated every minute.
fn evaluator(response: &str) -> AlarmEvaluator {
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(3_600_000, 100_000), 1.0).unwrap();
    for spec in described(response) {
        evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    }
    evaluator
}

/// IoT rule metrics carry RuleName and ActionType
/// (https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html).
fn rule_metric(metric: &str, rule: &str, action_type: &str) -> MetricId {
    MetricId::new(
        "AWS/IoT",
        metric,
        &[("RuleName", rule), ("ActionType", action_type)],
    )
}

/// Lambda's per-function metrics carry FunctionName.
fn function_metric(metric: &str, function: &str) -> MetricId {
    MetricId::new("AWS/Lambda", metric, &[("FunctionName", function)])
}

fn only<'a>(transitions: &'a [Transition], alarm: &str) -> &'a Transition {
    let matching: Vec<&Transition> = transitions
        .iter()
        .filter(|transition| transition.alarm.name == alarm)
        .collect();
    assert_eq!(matching.len(), 1, "{alarm}: {transitions:#?}");
    matching[0]
}

const NO_DATA: &str = "Threshold Crossed: no datapoints were received for 1 period and 1 missing \
                       datapoint was treated as [NonBreaching].";

#[test]
fn the_fixtures_read_as_terraform_wrote_them() {
    let alarms: Vec<Alarm> = described(RULE_ACTIONS)
        .into_iter()
        .chain(described(HANDLER_ERRORS))
        .map(|spec| Alarm::new(spec).unwrap())
        .collect();
    assert_eq!(alarms.len(), 3);
    for alarm in &alarms {
        assert_eq!(alarm.period_seconds, 300, "{}", alarm.name);
        assert_eq!(alarm.alarm_actions, [ONCALL]);
        assert_eq!(alarm.ok_actions, [ONCALL]);
        assert!(alarm.metric_stat().is_none());
    }
    let failures = alarms[0].queries().unwrap();
    assert_eq!(failures.queries().len(), 1);
    let QuerySource::Insights(query) = &failures.returned().source else {
        panic!("{:?}", failures.returned());
    };
    assert_eq!(query.aggregation, Aggregation::Sum);
    assert_eq!(
        (query.namespace.as_str(), query.metric_name.as_str()),
        ("AWS/IoT", "Failure")
    );
    assert_eq!(
        failures.returned().label.as_deref(),
        Some("Failure of postoffice_COOKING_REQUESTED, every action type")
    );
    let handler = alarms[2].queries().unwrap();
    assert_eq!(handler.returned().id, "failing");
    assert!(matches!(handler.returned().source, QuerySource::Math(_)));
    let ids: Vec<&str> = handler.queries().iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["failing", "errors", "invocations"]);
    assert!(
        handler.queries()[1..]
            .iter()
            .all(|q| !q.return_data && matches!(q.source, QuerySource::MetricStat(_)))
    );
}

#[test]
fn rule_failures_are_raised_over_every_action_type_and_cleared() {
    let rule = "postoffice_COOKING_REQUESTED";
    let mut evaluator = evaluator(RULE_ACTIONS);
    // During 18:00-18:05 the rule's SNS action fails once.
    evaluator
        .put_datapoint(&rule_metric("Failure", rule, "SNS"), T + 12_000, 1.0)
        .unwrap();
    // Not this rule's metric: another rule, and Failure without ActionType (not in the SCHEMA).
    evaluator
        .put_datapoint(
            &rule_metric("Failure", "postoffice_COOKING_STARTED", "SNS"),
            T + 13_000,
            5.0,
        )
        .unwrap();
    evaluator
        .put_datapoint(
            &MetricId::new("AWS/IoT", "Failure", &[("RuleName", rule)]),
            T + 14_000,
            5.0,
        )
        .unwrap();
    let transitions = evaluator.evaluate(T + FIVE_MINUTES);
    assert_eq!(transitions.len(), 2);
    let raised = only(&transitions, FAILURES);
    assert_eq!(
        (raised.from, raised.to),
        (AlarmState::InsufficientData, AlarmState::Alarm)
    );
    assert_eq!(
        raised.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (30/11/26 18:00:00)] was greater than \
         or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
    assert_eq!(raised.actions, [ONCALL]);
    let quiet = only(&transitions, LOST);
    assert_eq!((quiet.to, quiet.reason.as_str()), (AlarmState::Ok, NO_DATA));

    // 18:05-18:10: the query sums every action type of the rule (the error action's type is
    // whatever IoT names it; it only has to differ).
    evaluator
        .put_datapoint(
            &rule_metric("Failure", rule, "SNS"),
            T + FIVE_MINUTES + 1_000,
            1.0,
        )
        .unwrap();
    evaluator
        .put_datapoint(
            &rule_metric("Failure", rule, "SQS"),
            T + FIVE_MINUTES + 2_000,
            1.0,
        )
        .unwrap();
    assert!(evaluator.evaluate(T + 2 * FIVE_MINUTES).is_empty());

    // No failures from 18:10 on. The evaluation range (Evaluation Periods + 2 periods here) still
    // holds the 18:05 datapoint at 18:15 and 18:20; from 18:25 all its periods are missing, and
    // missing data is not breaching.
    assert!(evaluator.evaluate(T + 3 * FIVE_MINUTES).is_empty());
    assert!(evaluator.evaluate(T + 4 * FIVE_MINUTES).is_empty());
    let transitions = evaluator.evaluate(T + 5 * FIVE_MINUTES);
    let cleared = only(&transitions, FAILURES);
    assert_eq!(
        (cleared.from, cleared.to),
        (AlarmState::Alarm, AlarmState::Ok)
    );
    assert_eq!(cleared.reason, NO_DATA);
    assert_eq!(cleared.actions, [ONCALL]);
}

#[test]
fn lost_messages_raise_the_error_action_alarm() {
    let mut evaluator = evaluator(RULE_ACTIONS);
    evaluator.evaluate(T + FIVE_MINUTES);
    let rule = "postoffice_COOKING_REQUESTED";
    evaluator
        .put_datapoint(
            &rule_metric("ErrorActionFailure", rule, "SQS"),
            T + FIVE_MINUTES + 30_000,
            1.0,
        )
        .unwrap();
    // A Failure alone is not an ErrorActionFailure.
    evaluator
        .put_datapoint(
            &rule_metric("Failure", rule, "SNS"),
            T + FIVE_MINUTES + 30_000,
            0.0,
        )
        .unwrap();
    let transitions = evaluator.evaluate(T + 2 * FIVE_MINUTES);
    assert_eq!(transitions.len(), 1, "{transitions:#?}");
    let raised = only(&transitions, LOST);
    assert_eq!(
        (raised.from, raised.to),
        (AlarmState::Ok, AlarmState::Alarm)
    );
    assert_eq!(
        raised.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (30/11/26 18:05:00)] was greater than \
         or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
    assert_eq!(evaluator.state(FAILURES).unwrap().0, AlarmState::Ok);
}

/// One invocation of the handler: Invocations 1, and Errors 1 when it failed, else 0.
fn invoke(evaluator: &mut AlarmEvaluator, function: &str, at: i64, failed: bool) {
    evaluator
        .put_datapoint(&function_metric("Invocations", function), at, 1.0)
        .unwrap();
    evaluator
        .put_datapoint(
            &function_metric("Errors", function),
            at,
            if failed { 1.0 } else { 0.0 },
        )
        .unwrap();
}

#[test]
fn the_handler_error_rate_is_raised_and_cleared() {
    let mut evaluator = evaluator(HANDLER_ERRORS);
    let handler = "postoffice-kitchen-handler";

    // No invocations: IF has no condition datapoint, so the expression has no value: missing,
    // not breaching.
    let transitions = evaluator.evaluate(T + 60_000);
    assert_eq!(only(&transitions, HANDLER).to, AlarmState::Ok);
    assert_eq!(only(&transitions, HANDLER).reason, NO_DATA);

    // 18:00-18:05: 20 invocations, 3 failed: 15 %.
    for i in 0..20 {
        invoke(&mut evaluator, handler, T + 1_000 + i * 1_000, i < 3);
    }
    // The bridge's errors are another function's.
    invoke(&mut evaluator, "postoffice-kitchen-bridge", T + 2_000, true);
    let transitions = evaluator.evaluate(T + FIVE_MINUTES);
    let raised = only(&transitions, HANDLER);
    assert_eq!(
        (raised.from, raised.to),
        (AlarmState::Ok, AlarmState::Alarm)
    );
    assert_eq!(
        raised.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [15.0 (30/11/26 18:00:00)] was greater than \
         the threshold (10.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
    assert_eq!(raised.actions, [ONCALL]);

    // 18:05-18:10: 20 invocations, 1 failed: 5 %.
    for i in 0..20 {
        invoke(
            &mut evaluator,
            handler,
            T + FIVE_MINUTES + i * 1_000,
            i == 0,
        );
    }
    let transitions = evaluator.evaluate(T + 2 * FIVE_MINUTES);
    let cleared = only(&transitions, HANDLER);
    assert_eq!(
        (cleared.from, cleared.to),
        (AlarmState::Alarm, AlarmState::Ok)
    );
    assert_eq!(
        cleared.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [5.0 (30/11/26 18:05:00)] was not greater \
         than the threshold (10.0) (minimum 1 datapoint for ALARM -> OK transition)."
    );

    // 18:10-18:15: 5 invocations, all failed: below 10 invocations the rate counts as 0.
    for i in 0..5 {
        invoke(
            &mut evaluator,
            handler,
            T + 2 * FIVE_MINUTES + i * 1_000,
            true,
        );
    }
    assert!(evaluator.evaluate(T + 3 * FIVE_MINUTES).is_empty());

    // 18:15-18:20: 10 invocations, 2 failed: 20 %, from 10 invocations on.
    for i in 0..10 {
        invoke(
            &mut evaluator,
            handler,
            T + 3 * FIVE_MINUTES + i * 1_000,
            i < 2,
        );
    }
    let transitions = evaluator.evaluate(T + 4 * FIVE_MINUTES);
    assert_eq!(only(&transitions, HANDLER).to, AlarmState::Alarm);
    assert!(
        only(&transitions, HANDLER)
            .reason
            .contains("[20.0 (30/11/26 18:15:00)]")
    );
}

#[test]
fn handler_invocations_without_error_datapoints_are_a_zero_rate() {
    let mut evaluator = evaluator(HANDLER_ERRORS);
    // Invocations alone: errors is missing where invocations has a value, and counts as 0.
    for i in 0..12 {
        evaluator
            .put_datapoint(
                &function_metric("Invocations", "postoffice-kitchen-handler"),
                T + i * 1_000,
                1.0,
            )
            .unwrap();
    }
    let transitions = evaluator.evaluate(T + FIVE_MINUTES);
    assert_eq!(
        only(&transitions, HANDLER).reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (30/11/26 18:00:00)] was not greater \
         than the threshold (10.0) (minimum 1 datapoint for ALARM -> OK transition)."
    );
}

#[test]
fn with_missing_data_as_missing_the_handler_alarm_is_insufficient_data() {
    let mut spec = described(HANDLER_ERRORS).remove(0);
    spec.treat_missing_data = Some("missing".to_owned());
    let mut evaluator = AlarmEvaluator::new(MetricStore::new(3_600_000, 1_000), 1.0).unwrap();
    evaluator.put_alarm(Alarm::new(spec).unwrap(), T).unwrap();
    for i in 0..12 {
        invoke(
            &mut evaluator,
            "postoffice-kitchen-handler",
            T + i * 1_000,
            false,
        );
    }
    assert_eq!(evaluator.evaluate(T + FIVE_MINUTES)[0].to, AlarmState::Ok);
    // 18:20-18:25, errors without invocations: errors / invocations divides by a missing (0)
    // value and IF's condition has no datapoint: the expression returns nothing, and nothing is
    // left in the evaluation range (18:10-18:25).
    evaluator
        .put_datapoint(
            &function_metric("Errors", "postoffice-kitchen-handler"),
            T + 4 * FIVE_MINUTES + 1_000,
            4.0,
        )
        .unwrap();
    let transitions = evaluator.evaluate(T + 5 * FIVE_MINUTES);
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].to, AlarmState::InsufficientData);
    assert_eq!(
        transitions[0].reason,
        "Insufficient Data: 1 datapoint was unknown."
    );
}
