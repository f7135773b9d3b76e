//! The issue's status-code table, driven through `Bridge::handle` with fake ports.

mod support;

use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use postoffice::invocation::HandlerInvocation;
use postoffice::sns::{LOCAL_SIGNING_CERT_URL, MessageType, StaticCertificateFetcher, Verifier};
use sns_bridge::{InvokeAnswer, MAX_BODY_BYTES};
use support::*;

const TIMEOUT: Duration = Duration::from_millis(2_000);

struct Case {
    bridge: TestBridge,
    fetcher: RecordingFetcher,
    invoker: FakeInvoker,
    confirmer: FakeConfirmer,
}

fn case_with(invoker: FakeInvoker, confirmer: FakeConfirmer) -> Case {
    let fetcher = RecordingFetcher::serving_test_certificate();
    let bridge = bridge(
        &config(TOPIC_ARN, TIMEOUT),
        Utc::now(),
        fetcher.clone(),
        invoker.clone(),
        confirmer.clone(),
    );
    Case {
        bridge,
        fetcher,
        invoker,
        confirmer,
    }
}

fn case(invoker: FakeInvoker) -> Case {
    case_with(invoker, FakeConfirmer::default())
}

fn notification() -> postoffice::sns::SnsMessage {
    signed(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope().to_json(),
        Utc::now() - TimeDelta::seconds(2),
    )
}

async fn expect(case: &Case, request: http::Request<Bytes>, status: u16, reason: &str) {
    let response = case.bridge.handle(request).await;
    let body = body_json(&response);
    assert_eq!(
        (response.status().as_u16(), body["reason"].as_str()),
        (status, Some(reason)),
        "{body}"
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.body().len() < 80, "short body: {body}");
}

#[tokio::test]
async fn handled_notification_is_200_and_the_handler_gets_envelope_and_delivery() {
    let case = case(FakeInvoker::handled());
    let message = notification();
    expect(&case, sns_request(&message), 200, "handled").await;

    let calls = case.invoker.calls();
    assert_eq!(calls.len(), 1);
    let (function, payload) = &calls[0];
    assert_eq!(function, HANDLER);
    let invocation: HandlerInvocation = serde_json::from_slice(payload).unwrap();
    let expected_envelope: postoffice::Envelope = serde_json::from_str(&message.message).unwrap();
    assert_eq!(invocation.envelope, expected_envelope);
    assert_eq!(invocation.delivery.sns_message_id, message.message_id);
    assert_eq!(invocation.delivery.topic_arn, TOPIC_ARN);
    assert_eq!(invocation.delivery.timestamp, message.timestamp);
    assert_eq!(
        invocation
            .delivery
            .message_attributes
            .get("household_id")
            .map(String::as_str),
        Some("h-1")
    );
    assert_eq!(invocation.delivery.message_attributes.len(), 3);
    assert!(!invocation.delivery.redriven);
    // The certificate is fetched once, from the SigningCertURL: never from anywhere else.
    assert_eq!(case.fetcher.fetched(), vec![CERT_URL.to_owned()]);
}

#[tokio::test]
async fn the_certificate_is_fetched_once_for_many_messages() {
    let case = case(FakeInvoker::handled());
    for _ in 0..3 {
        expect(&case, sns_request(&notification()), 200, "handled").await;
    }
    assert_eq!(case.fetcher.fetched().len(), 1);
    assert_eq!(case.invoker.calls().len(), 3);
}

#[tokio::test]
async fn handler_answers_map_to_200_400_500_503() {
    let table = [
        (
            FakeInvoker::function_error("NonRetryable", "unknown recipe"),
            400,
            "handler_non_retryable",
        ),
        (
            FakeInvoker::function_error("Retryable", "oven offline"),
            500,
            "handler_failed",
        ),
        (
            FakeInvoker::function_error("Sandbox.Timedout", "Task timed out"),
            500,
            "handler_failed",
        ),
        (
            FakeInvoker::answering(InvokeAnswer::Completed {
                function_error: Some("Unhandled".into()),
                payload: b"not json".to_vec(),
            }),
            500,
            "handler_failed",
        ),
        (
            FakeInvoker::answering(InvokeAnswer::Failed {
                detail: "ResourceNotFoundException".into(),
            }),
            500,
            "invoke_failed",
        ),
        (
            FakeInvoker::answering(InvokeAnswer::Throttled {
                detail: "TooManyRequestsException".into(),
            }),
            503,
            "handler_throttled",
        ),
    ];
    for (invoker, status, reason) in table {
        let case = case(invoker);
        expect(&case, sns_request(&notification()), status, reason).await;
        assert_eq!(case.invoker.calls().len(), 1, "{reason}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_handler_slower_than_the_invoke_timeout_is_500() {
    let case = case(FakeInvoker::handled().after(TIMEOUT + Duration::from_millis(1)));
    expect(&case, sns_request(&notification()), 500, "invoke_timed_out").await;
}

#[tokio::test(start_paused = true)]
async fn a_handler_within_the_invoke_timeout_is_200() {
    let case = case(FakeInvoker::handled().after(TIMEOUT - Duration::from_millis(1)));
    expect(&case, sns_request(&notification()), 200, "handled").await;
}

#[tokio::test]
async fn oversized_body_is_413_before_parsing() {
    let case = case(FakeInvoker::handled());
    expect(
        &case,
        post(vec![b' '; MAX_BODY_BYTES + 1]),
        413,
        "body_too_large",
    )
    .await;
    // A body of exactly the limit is parsed (and here rejected as malformed, not as too large).
    expect(
        &case,
        post(vec![b' '; MAX_BODY_BYTES]),
        400,
        "malformed_message",
    )
    .await;
}

#[tokio::test]
async fn a_notification_near_the_sns_size_limit_is_delivered() {
    let case = case(FakeInvoker::handled());
    let mut envelope = envelope();
    // Quotes double in size at each JSON escaping: in the envelope, then in the HTTP body.
    envelope.payload = serde_json::json!({"note": "\"".repeat(127 * 1024)});
    let message = signed(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope.to_json(),
        Utc::now(),
    );
    assert!(message.message.len() <= 256 * 1024, "SNS's limit");
    assert!(message.to_http_json().len() > 500 * 1024);
    expect(&case, sns_request(&message), 200, "handled").await;
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let case = case(FakeInvoker::handled());
    for body in [
        &b"not json"[..],
        b"",
        b"[]",
        br#"{"Type":"Notification"}"#,
        br#"{"Type":"Bogus","MessageId":"1"}"#,
    ] {
        expect(
            &case,
            post(Bytes::copy_from_slice(body)),
            400,
            "malformed_message",
        )
        .await;
    }
    assert!(case.invoker.calls().is_empty());
}

#[tokio::test]
async fn other_methods_are_405() {
    let case = case(FakeInvoker::handled());
    let request = http::Request::get("/").body(Bytes::new()).unwrap();
    expect(&case, request, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn contradicting_sns_headers_are_400() {
    let case = case(FakeInvoker::handled());
    let message = notification();
    let mut request = sns_request(&message);
    request.headers_mut().insert(
        "x-amz-sns-message-type",
        http::HeaderValue::from_static("SubscriptionConfirmation"),
    );
    expect(&case, request, 400, "header_mismatch").await;
    assert!(case.invoker.calls().is_empty());
    expect(&case, sns_request(&message), 200, "handled").await;
}

/// SNS sends `x-amz-sns-message-type` with every request, once: a request without it, or with
/// two, was not built by SNS (issue 15, item 9).
#[tokio::test]
async fn a_missing_or_repeated_message_type_header_is_400() {
    let case = case(FakeInvoker::handled());
    let message = notification();
    let report = case.bridge.decide(post(message.to_http_json())).await;
    assert_eq!(report.decision.reason(), "header_mismatch");
    assert_eq!(
        report.detail.as_deref(),
        Some("x-amz-sns-message-type is missing")
    );
    let mut twice = sns_request(&message);
    twice.headers_mut().append(
        "x-amz-sns-message-type",
        http::HeaderValue::from_static("Notification"),
    );
    expect(&case, twice, 400, "header_mismatch").await;
    assert!(case.invoker.calls().is_empty());
}

#[tokio::test]
async fn a_bad_signature_is_403_and_nothing_is_invoked() {
    let case = case(FakeInvoker::handled());
    let mut message = notification();
    message.message = message.message.replace("bread", "cake!");
    expect(&case, sns_request(&message), 403, "signature_rejected").await;

    let mut untrusted = notification();
    untrusted.signing_cert_url = "https://attacker.example/cert.pem".into();
    expect(&case, sns_request(&untrusted), 403, "signature_rejected").await;

    let mut unsigned_message = notification();
    unsigned_message.signature = "!!!".into();
    expect(
        &case,
        sns_request(&unsigned_message),
        403,
        "signature_rejected",
    )
    .await;
    assert!(case.invoker.calls().is_empty());
    assert!(
        !case
            .fetcher
            .fetched()
            .iter()
            .any(|url| url.contains("attacker"))
    );
}

#[tokio::test]
async fn a_topic_not_allowed_is_403_without_fetching_a_certificate() {
    let case = case(FakeInvoker::handled());
    for message_type in [
        MessageType::Notification,
        MessageType::SubscriptionConfirmation,
    ] {
        let message = signed(
            message_type,
            OTHER_ACCOUNT_TOPIC_ARN,
            &envelope().to_json(),
            Utc::now(),
        );
        expect(&case, sns_request(&message), 403, "topic_not_allowed").await;
    }
    assert!(case.fetcher.fetched().is_empty());
    assert!(case.invoker.calls().is_empty());
    assert!(case.confirmer.calls().is_empty());
}

#[tokio::test]
async fn subscription_confirmation_goes_through_the_sns_api() {
    let case = case(FakeInvoker::handled());
    let message = signed(
        MessageType::SubscriptionConfirmation,
        TOPIC_ARN,
        "You have chosen to subscribe",
        Utc::now(),
    );
    expect(&case, sns_request(&message), 200, "subscription_confirmed").await;
    assert_eq!(
        case.confirmer.calls(),
        vec![(TOPIC_ARN.to_owned(), "tok-123".to_owned())]
    );
    assert!(case.invoker.calls().is_empty());
}

#[tokio::test]
async fn a_failed_confirmation_is_500() {
    let case = case_with(FakeInvoker::handled(), FakeConfirmer::failing());
    let message = signed(
        MessageType::SubscriptionConfirmation,
        TOPIC_ARN,
        "confirm",
        Utc::now(),
    );
    expect(&case, sns_request(&message), 500, "confirmation_failed").await;
    assert_eq!(case.confirmer.calls().len(), 1);
}

#[tokio::test]
async fn unsubscribe_confirmation_is_200_and_nothing_else() {
    let case = case(FakeInvoker::handled());
    let message = signed(
        MessageType::UnsubscribeConfirmation,
        TOPIC_ARN,
        "unsubscribed",
        Utc::now(),
    );
    expect(&case, sns_request(&message), 200, "unsubscribe_confirmed").await;
    assert!(case.confirmer.calls().is_empty());
    assert!(case.invoker.calls().is_empty());
}

#[tokio::test]
async fn a_message_older_than_the_max_age_is_parked_with_400() {
    let case = case(FakeInvoker::handled());
    let old = signed(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope().to_json(),
        Utc::now() - TimeDelta::seconds(3601),
    );
    expect(&case, sns_request(&old), 400, "message_too_old").await;
    let recent = signed(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope().to_json(),
        Utc::now() - TimeDelta::seconds(3599),
    );
    expect(&case, sns_request(&recent), 200, "handled").await;
    assert_eq!(case.invoker.calls().len(), 1);
}

#[tokio::test]
async fn a_verified_message_that_is_not_an_envelope_is_400() {
    let case = case(FakeInvoker::handled());
    let mut identity_less = serde_json::to_value(envelope()).unwrap();
    identity_less["household_id"] = "".into();
    for message in ["Hello world".to_owned(), identity_less.to_string()] {
        let sns = signed(MessageType::Notification, TOPIC_ARN, &message, Utc::now());
        expect(&case, sns_request(&sns), 400, "message_not_envelope").await;
    }
    assert!(case.invoker.calls().is_empty());
}

/// The issue's confirmation test: signed by a local test CA, trusted only through
/// `with_local_certificate`, confirmed via the API fake with the right TopicArn and Token, and
/// no HTTP fetch at all (neither the SubscribeURL nor a certificate).
#[tokio::test]
async fn local_ca_signed_confirmation_is_confirmed_through_the_api_without_any_fetch() {
    let authority = authority();
    let mut message = unsigned(
        MessageType::SubscriptionConfirmation,
        TOPIC_ARN,
        "confirm",
        Utc::now(),
    );
    message.token = Some("2336412f37fb687f5d51e6e2425a8a5873c3d1f8d6a4b4e8c1c2fe0bd8b4d".into());
    message.subscribe_url = Some(format!(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token={}",
        message.token.as_deref().unwrap()
    ));
    authority.sign(&mut message).unwrap();
    assert_eq!(message.signing_cert_url, LOCAL_SIGNING_CERT_URL);

    let fetcher = RecordingFetcher::serving(StaticCertificateFetcher::new());
    let confirmer = FakeConfirmer::default();
    let clock = postoffice::sns::FixedClock(Utc::now());
    let verifier = Verifier::new(fetcher.clone(), clock)
        .with_local_certificate(authority.certificate_pem().as_bytes())
        .unwrap();
    let local = sns_bridge::bridge(
        &config(TOPIC_ARN, TIMEOUT),
        verifier,
        clock,
        FakeInvoker::handled(),
        confirmer.clone(),
    );
    let response = local.handle(sns_request(&message)).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    assert_eq!(
        confirmer.calls(),
        vec![(TOPIC_ARN.to_owned(), message.token.clone().unwrap())]
    );
    assert!(fetcher.fetched().is_empty());

    // The default bridge (no local certificate) refuses the very same message.
    let case = case(FakeInvoker::handled());
    expect(&case, sns_request(&message), 403, "signature_rejected").await;
    assert!(case.confirmer.calls().is_empty());
}
