//! Issue 15, item 5: what an attacker sends is bounded in the bridge's log. Alone in its test
//! binary: a log subscriber set for one thread only sees every event when no other test runs
//! the same call sites at the same time.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use postoffice::sns::MessageType;
use sns_bridge::telemetry;
use support::*;

/// Log output captured for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// Item 5. Before: the log line carried the whole 500 KB TopicArn (and MessageId).
#[test]
fn attacker_supplied_fields_are_bounded_in_the_log() {
    let huge = format!(
        "arn:aws:sns:eu-west-1:123456789012:{}",
        "A".repeat(500 * 1024)
    );
    let mut message = unsigned(MessageType::Notification, &huge, "{}", Utc::now());
    message.message_id = "m".repeat(10 * 1024);
    message.unsubscribe_url = None;
    let bridge = bridge(
        &config(TOPIC_ARN, Duration::from_secs(10)),
        Utc::now(),
        RecordingFetcher::serving_test_certificate(),
        FakeInvoker::handled(),
        FakeConfirmer::default(),
    );
    let logs = Captured::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status =
        tracing::subscriber::with_default(telemetry::json_logs(logs.clone(), None), || {
            runtime
                .block_on(bridge.handle(sns_request(&message)))
                .status()
        });
    assert_eq!(status, 403);
    let written = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = serde_json::from_str(written.trim()).expect("one JSON line");
    assert_eq!(line["reason"], "topic_not_allowed");
    let logged_topic = line["topic_arn"].as_str().unwrap();
    assert_eq!(logged_topic.len(), postoffice::endpoint::MAX_FIELD_CHARS);
    assert!(huge.starts_with(logged_topic));
    assert!(written.len() < 4 * 1024, "{} bytes", written.len());
}
