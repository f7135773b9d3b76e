//! Bounded memory of the parsers attackers reach first: the SNS message parser (any body up to the
//! bridge's size limit) and the topic parser. Peak heap use while parsing is measured with a
//! counting allocator and must stay linear in the input, with a small factor, whatever its shape.
//! (A test binary of its own: the allocator is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use postoffice::Topic;
use postoffice::sns::SnsMessage;
use serde_json::json;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this binary run one at a time, each holding this for its whole length: another
/// test's allocations would count in the peak.
static ALONE: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Bytes allocated at the peak of `work`, above what was allocated before it.
fn peak_of<T>(work: impl FnOnce() -> T) -> usize {
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = work();
    let peak = PEAK.load(Ordering::SeqCst) - before;
    drop(result);
    peak
}

/// The bridge refuses larger bodies before parsing (`sns_bridge::MAX_BODY_BYTES`).
const BODY_LIMIT: usize = 2 * 256 * 1024 + 16 * 1024;

fn notification(message: &str) -> Vec<u8> {
    json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
        "Message": message,
        "Timestamp": "2026-11-23T20:00:00.000Z",
        "SignatureVersion": "2",
        "Signature": "AAAA",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem",
    })
    .to_string()
    .into_bytes()
}

/// Bodies of about `size` bytes, each a shape that makes parsers allocate: a long message, one
/// made of escapes, many small keys, many attributes, deep nesting, a long array.
fn shapes(size: usize) -> Vec<(&'static str, Vec<u8>)> {
    let many_keys = {
        let mut body = String::from("{");
        let mut i = 0;
        while body.len() < size {
            body.push_str(&format!("\"k{i}\":0,"));
            i += 1;
        }
        body.push_str("\"Type\":\"Notification\"}");
        body.into_bytes()
    };
    let many_attributes = {
        let attributes: serde_json::Map<String, serde_json::Value> = (0..size / 40)
            .map(|i| (format!("a{i}"), json!({"Type": "String", "Value": "v"})))
            .collect();
        let mut body: serde_json::Value = serde_json::from_slice(&notification("{}")).unwrap();
        body["MessageAttributes"] = serde_json::Value::Object(attributes);
        body.to_string().into_bytes()
    };
    vec![
        ("long message", notification(&"x".repeat(size))),
        ("escaped message", notification(&"\"".repeat(size / 2))),
        ("many keys", many_keys),
        ("many attributes", many_attributes),
        ("deep nesting", "[".repeat(size).into_bytes()),
        (
            "long array",
            format!("[{}0]", "0,".repeat(size / 2)).into_bytes(),
        ),
    ]
}

#[test]
fn parsing_an_sns_body_takes_memory_linear_in_its_size() {
    let _alone = alone();
    for size in [64 * 1024, BODY_LIMIT / 2] {
        for (shape, body) in shapes(size) {
            let peak = peak_of(|| SnsMessage::parse(&body));
            // Measured: ~1x for message text (1.5x when all escapes), nothing for keys it does
            // not read, ~5x for the most attributes a body can hold (each a small map entry of
            // three strings), the worst shape. 8x bounds a 528 KiB body to about 4 MB.
            assert!(
                peak <= 8 * body.len() + 64 * 1024,
                "{shape}, {} bytes: peak {peak} bytes",
                body.len()
            );
            eprintln!(
                "{shape:>16} {:>7} bytes: peak {:>8} bytes",
                body.len(),
                peak
            );
        }
    }
}

#[test]
fn a_long_message_is_held_about_once() {
    let _alone = alone();
    let body = notification(&"x".repeat(BODY_LIMIT / 2));
    let peak = peak_of(|| SnsMessage::parse(&body).unwrap());
    assert!(
        peak <= 2 * body.len(),
        "peak {peak} for {} bytes",
        body.len()
    );
}

#[test]
fn parsing_a_topic_takes_memory_linear_in_its_size() {
    let _alone = alone();
    for text in [
        "A/".repeat(256 * 1024),
        "a".repeat(512 * 1024),
        format!("COOKING_REQUESTED/h-1/{}", "d".repeat(512 * 1024)),
    ] {
        let peak = peak_of(|| Topic::parse(&text));
        // The error names the topic: one copy.
        assert!(
            peak <= text.len() + 16 * 1024,
            "{} bytes: peak {peak} bytes",
            text.len()
        );
    }
}
