//! The attacks and bad days of issue 15, through the bridge's HTTP handling (`Bridge::handle`):
//! what each did before is in the comment above its test.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use postoffice::endpoint::RESPONSE_DEADLINE;
use postoffice::sns::{
    CertificateFetcher, CertificateUrl, FetchError, FixedClock, MAX_CONCURRENT_CERTIFICATE_LOADS,
    MessageType, SnsMessage, StaticCertificateFetcher, Verifier,
};
use postoffice::{Envelope, Topic};
use sns_bridge::bridge as new_bridge;
use support::*;
use tokio::time::Instant;

const INVOKE_TIMEOUT: Duration = Duration::from_secs(10);

fn envelope_of(event: &str, household: &str) -> String {
    let topic = Topic::parse(&format!("{event}/{household}/oven-1")).unwrap();
    Envelope::new(&topic, "kitchen", serde_json::json!({})).to_json()
}

fn signed_now(topic_arn: &str, message: &str) -> SnsMessage {
    signed(
        MessageType::Notification,
        topic_arn,
        message,
        Utc::now() - TimeDelta::seconds(1),
    )
}

async fn status_and_reason(bridge: &TestBridge, request: http::Request<Bytes>) -> (u16, String) {
    let response = bridge.handle(request).await;
    let reason = body_json(&response)["reason"].as_str().unwrap().to_owned();
    (response.status().as_u16(), reason)
}

fn test_bridge(allowed: &str, fetcher: RecordingFetcher, invoker: FakeInvoker) -> TestBridge {
    bridge(
        &config(allowed, INVOKE_TIMEOUT),
        Utc::now(),
        fetcher,
        invoker,
        FakeConfirmer::default(),
    )
}

// Item 1. Before: 200 `handled`, the handler invoked with a COOKING_FINISHED envelope that came
// on the COOKING_REQUESTED topic (whoever may publish there could claim any event).
#[tokio::test]
async fn an_envelope_whose_event_is_not_its_topics_is_400_and_never_invoked() {
    let invoker = FakeInvoker::handled();
    let bridge = test_bridge(
        TOPIC_ARN,
        RecordingFetcher::serving_test_certificate(),
        invoker.clone(),
    );
    let injected = signed_now(TOPIC_ARN, &envelope_of("COOKING_FINISHED", "h-victim"));
    let report = bridge.decide(sns_request(&injected)).await;
    assert_eq!(report.decision.reason(), "event_topic_mismatch");
    assert_eq!(report.decision.status(), 400);
    assert_eq!(
        report.detail.as_deref(),
        Some("topic carries COOKING_REQUESTED")
    );
    assert!(invoker.calls().is_empty());

    let genuine = signed_now(TOPIC_ARN, &envelope_of("COOKING_REQUESTED", "h-1"));
    assert_eq!(
        status_and_reason(&bridge, sns_request(&genuine)).await,
        (200, "handled".to_owned())
    );
}

// Item 1, the forwarder's bridge. Before: 200, and the forwarder published a firmware offer
// from whoever could publish COOKING_REPLIED to the victim's oven.
#[tokio::test]
async fn the_forwarders_bridge_refuses_a_firmware_offer_on_the_reply_topic() {
    let replies = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED";
    let offers = "arn:aws:sns:eu-west-1:123456789012:postoffice-FIRMWARE_UPDATE_OFFERED";
    let invoker = FakeInvoker::handled();
    let bridge = test_bridge(
        &format!("{replies},{offers}"),
        RecordingFetcher::serving_test_certificate(),
        invoker.clone(),
    );
    let offer = envelope_of("FIRMWARE_UPDATE_OFFERED", "h-victim");
    assert_eq!(
        status_and_reason(&bridge, sns_request(&signed_now(replies, &offer))).await,
        (400, "event_topic_mismatch".to_owned())
    );
    assert!(invoker.calls().is_empty());
    assert_eq!(
        status_and_reason(&bridge, sns_request(&signed_now(offers, &offer))).await,
        (200, "handled".to_owned())
    );
}

// Item 1: a prefix admits a topic that names no event; it may confirm a subscription, but none of
// its notifications is delivered. Before: 200 `handled`.
#[tokio::test]
async fn a_topic_naming_no_event_delivers_nothing() {
    let stray = "arn:aws:sns:eu-west-1:123456789012:scratch-topic";
    let invoker = FakeInvoker::handled();
    let bridge = test_bridge(
        "arn:aws:sns:eu-west-1:123456789012:*",
        RecordingFetcher::serving_test_certificate(),
        invoker.clone(),
    );
    let report = bridge
        .decide(sns_request(&signed_now(
            stray,
            &envelope_of("COOKING_REQUESTED", "h-1"),
        )))
        .await;
    assert_eq!(report.decision.reason(), "event_topic_mismatch");
    assert_eq!(report.detail.as_deref(), Some("the topic names no event"));
    assert!(invoker.calls().is_empty());
}

// Item 2. Before: 403 `signature_rejected` (detail certificate-unavailable): SNS dead-lettered
// every message of a certificate-host outage at once.
#[tokio::test]
async fn an_unavailable_or_unreadable_certificate_is_a_5xx_sns_retries() {
    let message = signed_now(TOPIC_ARN, &envelope_of("COOKING_REQUESTED", "h-1"));
    let outage = RecordingFetcher::serving(StaticCertificateFetcher::new());
    let truncated_pem = {
        let pem = authority().certificate_pem();
        pem[..pem.len() / 2].to_owned()
    };
    let truncated = RecordingFetcher::serving(
        StaticCertificateFetcher::new().with_certificate(CERT_URL, truncated_pem),
    );
    for (fetcher, detail) in [
        (outage, "certificate-unavailable"),
        (truncated, "malformed-certificate"),
    ] {
        let invoker = FakeInvoker::handled();
        let bridge = test_bridge(TOPIC_ARN, fetcher, invoker.clone());
        let report = bridge.decide(sns_request(&message)).await;
        assert_eq!(report.decision.reason(), "certificate_unavailable");
        assert_eq!(report.detail.as_deref(), Some(detail));
        assert_eq!(
            status_and_reason(&bridge, sns_request(&message)).await,
            (502, "certificate_unavailable".to_owned())
        );
        assert!(invoker.calls().is_empty());
    }
}

// "Also": chain of trust. Before: 200 `handled` for any certificate served at an SNS URL.
#[tokio::test]
async fn a_certificate_that_does_not_chain_to_a_trusted_root_is_403() {
    let invoker = FakeInvoker::handled();
    let clock = FixedClock(Utc::now());
    let untrusting = new_bridge(
        &config(TOPIC_ARN, INVOKE_TIMEOUT),
        Verifier::new(RecordingFetcher::serving_test_certificate(), clock),
        clock,
        invoker.clone(),
        FakeConfirmer::default(),
    );
    let message = signed_now(TOPIC_ARN, &envelope_of("COOKING_REQUESTED", "h-1"));
    let report = untrusting.decide(sns_request(&message)).await;
    assert_eq!(report.decision.reason(), "signature_rejected");
    assert_eq!(report.detail.as_deref(), Some("untrusted-certificate"));
    assert!(invoker.calls().is_empty());
}

/// An unsigned message on an allowed topic naming a certificate of the attacker's choosing.
fn unsigned_with_cert_url(cert_url: &str) -> SnsMessage {
    let mut message = unsigned(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope_of("COOKING_REQUESTED", "h-1"),
        Utc::now(),
    );
    message.signature = "AAAA".into();
    message.signing_cert_url = cert_url.into();
    message
}

// Item 5. Before: each such request made the bridge fetch from the named SNS host (3 attempts
// with backoff for a 5xx), any region.
#[tokio::test]
async fn a_certificate_url_outside_the_topics_region_is_never_fetched() {
    let fetcher = RecordingFetcher::serving_test_certificate();
    let bridge = test_bridge(TOPIC_ARN, fetcher.clone(), FakeInvoker::handled());
    for cert_url in [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f00d.pem",
        "https://sns.eu-west-1.amazonaws.com.cn/SimpleNotificationService-f00d.pem",
    ] {
        let report = bridge
            .decide(sns_request(&unsigned_with_cert_url(cert_url)))
            .await;
        assert_eq!(report.decision.reason(), "signature_rejected");
        assert_eq!(report.detail.as_deref(), Some("untrusted-certificate-url"));
    }
    assert!(fetcher.fetched().is_empty());
}

// Item 5. Before: one fetch per request (here 5).
#[tokio::test]
async fn a_missing_certificate_is_fetched_once_while_its_failure_is_remembered() {
    let fetcher = RecordingFetcher::serving_test_certificate();
    let bridge = test_bridge(TOPIC_ARN, fetcher.clone(), FakeInvoker::handled());
    let message = unsigned_with_cert_url(
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789.pem",
    );
    for _ in 0..5 {
        assert_eq!(
            status_and_reason(&bridge, sns_request(&message)).await,
            (502, "certificate_unavailable".to_owned())
        );
    }
    assert_eq!(fetcher.fetched().len(), 1);
}

/// Counts fetches in flight; each takes a second and finds nothing.
#[derive(Clone, Default)]
struct SlowMissing {
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl CertificateFetcher for SlowMissing {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Err(FetchError::new(url, "HTTP 404 Not Found"))
    }
}

// Item 5. Before: as many fetches at once as requests.
#[tokio::test(start_paused = true)]
async fn concurrent_requests_naming_new_certificates_fetch_a_bounded_number_at_once() {
    let fetcher = SlowMissing::default();
    let clock = FixedClock(Utc::now());
    let bridge = Arc::new(new_bridge(
        &config(TOPIC_ARN, INVOKE_TIMEOUT),
        Verifier::new(fetcher.clone(), clock),
        clock,
        FakeInvoker::handled(),
        FakeConfirmer::default(),
    ));
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..30 {
        let bridge = Arc::clone(&bridge);
        let message = unsigned_with_cert_url(&format!(
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-{i}.pem"
        ));
        requests.spawn(async move { bridge.handle(sns_request(&message)).await.status() });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 502);
    }
    assert_eq!(
        fetcher.most.load(Ordering::SeqCst),
        MAX_CONCURRENT_CERTIFICATE_LOADS
    );
}

// Item 6. Before: 200 after 15 s (a 6 s certificate fetch, then the full 10 s invoke timeout of
// which the handler used 9 s): SNS had given up at 15 s and counted it failed.
#[tokio::test(start_paused = true)]
async fn a_slow_certificate_fetch_shortens_the_invoke_so_the_answer_beats_sns() {
    let invoker = FakeInvoker::handled().after(Duration::from_secs(9));
    let bridge = test_bridge(
        TOPIC_ARN,
        RecordingFetcher::serving_test_certificate().after(Duration::from_secs(6)),
        invoker.clone(),
    );
    let message = signed_now(TOPIC_ARN, &envelope_of("COOKING_REQUESTED", "h-1"));
    let arrived = Instant::now();
    let (status, reason) = status_and_reason(&bridge, sns_request(&message)).await;
    assert_eq!((status, reason.as_str()), (504, "deadline_exceeded"));
    assert_eq!(arrived.elapsed(), RESPONSE_DEADLINE);
    assert_eq!(invoker.calls().len(), 1);
}

// Item 6. Before: the answer came when the fetch gave up (here after 20 s), too late for SNS.
#[tokio::test(start_paused = true)]
async fn a_certificate_fetch_past_the_deadline_is_answered_5xx_in_time() {
    let invoker = FakeInvoker::handled();
    let bridge = test_bridge(
        TOPIC_ARN,
        RecordingFetcher::serving_test_certificate().after(Duration::from_secs(20)),
        invoker.clone(),
    );
    let message = signed_now(TOPIC_ARN, &envelope_of("COOKING_REQUESTED", "h-1"));
    let arrived = Instant::now();
    let (status, reason) = status_and_reason(&bridge, sns_request(&message)).await;
    assert_eq!((status, reason.as_str()), (504, "deadline_exceeded"));
    assert_eq!(arrived.elapsed(), RESPONSE_DEADLINE);
    assert!(invoker.calls().is_empty());
}

// Item 6: without a slow fetch the configured invoke timeout still applies as before.
#[tokio::test(start_paused = true)]
async fn a_handler_slower_than_the_invoke_timeout_is_still_invoke_timed_out() {
    let bridge = test_bridge(
        TOPIC_ARN,
        RecordingFetcher::serving_test_certificate(),
        FakeInvoker::handled().after(INVOKE_TIMEOUT + Duration::from_secs(1)),
    );
    let message = signed_now(TOPIC_ARN, &envelope_of("COOKING_REQUESTED", "h-1"));
    let arrived = Instant::now();
    assert_eq!(
        status_and_reason(&bridge, sns_request(&message)).await,
        (500, "invoke_timed_out".to_owned())
    );
    assert_eq!(arrived.elapsed(), INVOKE_TIMEOUT);
}
