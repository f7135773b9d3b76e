//! The system log records Lambda writes around each invocation, in the function's log format
//! (`LoggingConfig.LogFormat`), at the default system log level INFO.
//!
//! - Text: `INIT_START` on a cold start, then `START`, `END` and `REPORT` lines.
//! - JSON (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html>,
//!   "JSON format for system logs"): one object per record, `{"time", "type", "record"}`, with
//!   the records of the Telemetry API
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html>):
//!   `platform.initStart`, `platform.start` and `platform.report` are INFO;
//!   `platform.runtimeDone` (text's `END`) is DEBUG, so not written
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>).
//!
//! Each record is one line, one CloudWatch Logs event.

use std::time::Duration;

use serde_json::json;

use crate::metrics::billed_ms;

/// `LoggingConfig.LogFormat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lambda's default.
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `Text` or `JSON` as the Lambda API spells them; anything else is refused.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Text" => Some(Self::Text),
            "JSON" => Some(Self::Json),
            _ => None,
        }
    }
}

/// The runtime version the local host reports: the runtime it runs, without Lambda's build
/// number (there is none locally).
const RUNTIME_VERSION: &str = "provided:al2023";

/// How an invocation ended, as `platform.report`'s `status` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationStatus {
    Success,
    /// The function reported an error, or the runtime or init failed.
    Error,
    Timeout,
}

impl InvocationStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Timeout => "timeout",
        }
    }
}

/// What a `REPORT` / `platform.report` record states.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub init_duration: Option<Duration>,
    pub memory_mb: u32,
    /// Peak memory of the instance so far, when known.
    pub max_memory_used_mb: Option<u64>,
    pub status: InvocationStatus,
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 100_000.0).round() / 100.0
}

fn line(value: serde_json::Value) -> String {
    format!("{value}\n")
}

/// The cold start's first record.
pub fn init_start(format: LogFormat, function_name: &str, version: &str) -> String {
    match format {
        LogFormat::Text => format!("INIT_START Runtime Version: {RUNTIME_VERSION}\n"),
        LogFormat::Json => line(json!({
            "time": now(),
            "type": "platform.initStart",
            "record": {
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": RUNTIME_VERSION,
                "functionName": function_name,
                "functionVersion": version,
            }
        })),
    }
}

/// The record written when the event is handed to the runtime.
pub fn start(format: LogFormat, request_id: &str, version: &str) -> String {
    match format {
        LogFormat::Text => format!("START RequestId: {request_id} Version: {version}\n"),
        LogFormat::Json => line(json!({
            "time": now(),
            "type": "platform.start",
            "record": {"requestId": request_id, "version": version}
        })),
    }
}

/// The records written when the invocation ended: `END` and `REPORT`, or `platform.report`.
pub fn report(format: LogFormat, report: &Report<'_>) -> String {
    // Custom runtimes are billed for init too.
    let billed = billed_ms(report.duration) + report.init_duration.map_or(0, billed_ms);
    match format {
        LogFormat::Text => {
            let request_id = report.request_id;
            let mut text = format!(
                "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB",
                ms(report.duration),
                report.memory_mb,
            );
            if let Some(used) = report.max_memory_used_mb {
                text.push_str(&format!("\tMax Memory Used: {used} MB"));
            }
            if let Some(init) = report.init_duration {
                text.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
            }
            if report.status != InvocationStatus::Success {
                text.push_str(&format!("\tStatus: {}", report.status.as_str()));
            }
            text.push('\n');
            text
        }
        LogFormat::Json => {
            let mut metrics = serde_json::Map::new();
            metrics.insert("durationMs".into(), json!(ms(report.duration)));
            metrics.insert("billedDurationMs".into(), json!(billed));
            metrics.insert("memorySizeMB".into(), json!(report.memory_mb));
            if let Some(used) = report.max_memory_used_mb {
                metrics.insert("maxMemoryUsedMB".into(), json!(used));
            }
            if let Some(init) = report.init_duration {
                metrics.insert("initDurationMs".into(), json!(ms(init)));
            }
            line(json!({
                "time": now(),
                "type": "platform.report",
                "record": {
                    "requestId": report.request_id,
                    "metrics": metrics,
                    "status": report.status.as_str(),
                }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_report(status: InvocationStatus, init: Option<Duration>) -> Report<'static> {
        Report {
            request_id: "8f5a7d2e-0000-4000-8000-000000000001",
            duration: Duration::from_micros(12_345),
            init_duration: init,
            memory_mb: 128,
            max_memory_used_mb: Some(21),
            status,
        }
    }

    #[test]
    fn text_records_are_lambdas_lines() {
        assert_eq!(
            start(LogFormat::Text, "r1", "$LATEST"),
            "START RequestId: r1 Version: $LATEST\n"
        );
        let text = report(LogFormat::Text, &a_report(InvocationStatus::Success, None));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "END RequestId: 8f5a7d2e-0000-4000-8000-000000000001"
        );
        assert_eq!(
            lines[1],
            "REPORT RequestId: 8f5a7d2e-0000-4000-8000-000000000001\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 21 MB"
        );
        let timed_out = report(
            LogFormat::Text,
            &a_report(InvocationStatus::Timeout, Some(Duration::from_millis(100))),
        );
        assert!(timed_out.ends_with("\tInit Duration: 100.00 ms\tStatus: timeout\n"));
        assert!(timed_out.contains("Billed Duration: 113 ms"));
    }

    #[test]
    fn json_records_are_one_object_a_line_with_the_telemetry_fields() {
        let start = start(LogFormat::Json, "r1", "$LATEST");
        assert_eq!(start.matches('\n').count(), 1);
        let start: serde_json::Value = serde_json::from_str(&start).unwrap();
        assert_eq!(start["type"], "platform.start");
        assert_eq!(
            start["record"],
            json!({"requestId": "r1", "version": "$LATEST"})
        );
        assert!(chrono::DateTime::parse_from_rfc3339(start["time"].as_str().unwrap()).is_ok());

        let cold = report(
            LogFormat::Json,
            &a_report(InvocationStatus::Error, Some(Duration::from_millis(100))),
        );
        assert_eq!(cold.matches('\n').count(), 1, "END is DEBUG: not written");
        let cold: serde_json::Value = serde_json::from_str(&cold).unwrap();
        assert_eq!(cold["type"], "platform.report");
        assert_eq!(cold["record"]["status"], "error");
        assert_eq!(
            cold["record"]["metrics"],
            json!({"durationMs": 12.35, "billedDurationMs": 113, "memorySizeMB": 128,
                   "maxMemoryUsedMB": 21, "initDurationMs": 100.0})
        );
        let init: serde_json::Value =
            serde_json::from_str(&init_start(LogFormat::Json, "f", "$LATEST")).unwrap();
        assert_eq!(init["type"], "platform.initStart");
        assert_eq!(init["record"]["functionName"], "f");
    }

    #[test]
    fn only_lambdas_format_names_parse() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("Text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("json"), None);
    }
}
