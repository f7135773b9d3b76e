//! One structured log event and one CloudWatch Embedded Metric Format (EMF) line on stdout per
//! request. The log goes through `tracing`, in whatever format the binary set up.
//!
//! Never logged: the subscription `Token`, the `SubscribeURL` (it embeds the token), message
//! bodies and signatures.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;

use super::handling::Report;

pub const METRIC_NAMESPACE: &str = "PostOffice/Bridge";
/// A handler's error message is its own text; keep log lines bounded whatever it says.
const MAX_DETAIL_CHARS: usize = 300;
/// The identifying fields come from the request before anything is verified (a 500 KB TopicArn
/// is a valid string): longer than any genuine value (a topic ARN is under 300 characters), short
/// enough that a log line stays a few kilobytes.
pub const MAX_FIELD_CHARS: usize = 320;

pub(crate) fn record(handler_function: &str, report: &Report, latency: Duration) {
    log(report, latency);
    let line = metric_line(
        handler_function,
        report,
        chrono::Utc::now().timestamp_millis(),
    );
    let mut stdout = std::io::stdout().lock();
    // A lost metric line must not fail the delivery.
    let _ = writeln!(stdout, "{line}");
}

fn log(report: &Report, latency: Duration) {
    let detail = report
        .detail
        .as_deref()
        .map(|detail| bounded(detail, MAX_DETAIL_CHARS));
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                $level,
                status = report.decision.status(),
                outcome = report.decision.outcome(),
                reason = report.decision.reason(),
                sns_message_id = field(&report.sns_message_id),
                topic_arn = field(&report.topic_arn),
                event = field(&report.event),
                household_id = field(&report.household_id),
                device_id = field(&report.device_id),
                latency_ms = millis(latency),
                handler_latency_ms = report.handler_latency.map(millis),
                detail = detail,
                "sns message {}",
                report.decision.outcome()
            )
        };
    }
    match report.decision.status() {
        200..=299 => event!(tracing::Level::INFO),
        400..=499 => event!(tracing::Level::WARN),
        _ => event!(tracing::Level::ERROR),
    }
}

fn field(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(|value| bounded(value, MAX_FIELD_CHARS))
}

fn bounded(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One EMF line: `Messages` (count) per handler function, outcome and reason, plus
/// `HandlerLatency` when the handler was invoked.
pub fn metric_line(handler_function: &str, report: &Report, timestamp_ms: i64) -> String {
    let mut metrics = vec![json!({"Name": "Messages", "Unit": "Count"})];
    let mut line = json!({
        "HandlerFunction": handler_function,
        "Outcome": report.decision.outcome(),
        "Reason": report.decision.reason(),
        "Messages": 1,
    });
    if let Some(latency) = report.handler_latency {
        metrics.push(json!({"Name": "HandlerLatency", "Unit": "Milliseconds"}));
        line["HandlerLatency"] = json!(millis(latency));
    }
    line["_aws"] = json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{
            "Namespace": METRIC_NAMESPACE,
            "Dimensions": [["HandlerFunction", "Outcome"], ["HandlerFunction", "Reason"]],
            "Metrics": metrics,
        }],
    });
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Decision;

    fn report(decision: Decision, handler_latency: Option<Duration>) -> Report {
        Report {
            decision,
            sns_message_id: Some("m-1".into()),
            topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:postoffice-X".into()),
            event: None,
            household_id: None,
            device_id: None,
            handler_latency,
            detail: None,
        }
    }

    #[test]
    fn metric_line_is_valid_emf_with_latency_when_invoked() {
        let line = metric_line(
            "kitchen",
            &report(Decision::Handled, Some(Duration::from_micros(12_500))),
            1_700_000_000_000,
        );
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
        // Every dimension and metric the directive names must be a member of the root object.
        for set in directive["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                assert!(value.get(name.as_str().unwrap()).is_some(), "{name}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(value.get(metric["Name"].as_str().unwrap()).is_some());
        }
        assert_eq!(value["Outcome"], "handled");
        assert_eq!(value["Messages"], 1);
        assert_eq!(value["HandlerLatency"], 12.5);
    }

    #[test]
    fn metric_line_has_no_latency_without_an_invoke() {
        let line = metric_line("kitchen", &report(Decision::TopicNotAllowed, None), 0);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Reason"], "topic_not_allowed");
        assert!(value.get("HandlerLatency").is_none());
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn details_are_bounded_on_character_boundaries() {
        let long = "é".repeat(1000);
        assert_eq!(
            bounded(&long, MAX_DETAIL_CHARS).chars().count(),
            MAX_DETAIL_CHARS
        );
        assert_eq!(bounded("short", MAX_DETAIL_CHARS), "short");
    }
}
