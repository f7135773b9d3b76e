//! Arbitrary bodies and headers: the bridge never panics and answers every one with a 4xx (or,
//! when the body names a certificate nobody serves, the 5xx of an unavailable certificate),
//! without ever invoking the handler or confirming a subscription. The one exception is a
//! genuine message whose change left every signed field intact (SNS does not sign
//! `UnsubscribeURL` or `MessageAttributes`): that one is still genuine and delivered.

mod support;

use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use postoffice::sns::{MessageType, SnsMessage};
use proptest::prelude::*;
use sns_bridge::Decision;
use support::*;

static GENUINE: LazyLock<SnsMessage> = LazyLock::new(genuine);

const FIELDS: &[&str] = &[
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "SigningCertUrl",
    "SubscribeURL",
    "Token",
    "UnsubscribeURL",
    "MessageAttributes",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("Notification".to_owned()),
            Just("SubscriptionConfirmation".to_owned()),
            Just("UnsubscribeConfirmation".to_owned()),
            Just("2".to_owned()),
            Just(TOPIC_ARN.to_owned()),
            Just(CERT_URL.to_owned()),
            Just("https://169.254.169.254/latest/meta-data/".to_owned()),
            ".{0,40}",
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// SNS-shaped objects: the real field names with arbitrary values.
fn sns_shaped() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::btree_map(prop::sample::select(FIELDS), json_value(), 0..FIELDS.len())
        .prop_map(|fields| {
            let object: serde_json::Map<_, _> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            serde_json::to_vec(&object).unwrap()
        })
}

fn genuine() -> SnsMessage {
    signed(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope().to_json(),
        Utc::now(),
    )
}

/// Still carries the genuine message's signed content and signature.
fn signed_content_intact(body: &[u8], genuine: &SnsMessage) -> bool {
    SnsMessage::parse(body).is_ok_and(|parsed| {
        parsed.string_to_sign() == genuine.string_to_sign()
            && parsed.signature == genuine.signature
            && parsed.signing_cert_url == genuine.signing_cert_url
    })
}

/// A genuinely signed message with one byte of its body changed.
fn mutated_signed() -> impl Strategy<Value = Vec<u8>> {
    (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(index, byte)| {
        let message = GENUINE.clone();
        let mut body = message.to_http_json().into_bytes();
        let at = index.index(body.len());
        if body[at] == byte {
            body[at] = byte.wrapping_add(1);
        } else {
            body[at] = byte;
        }
        body
    })
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        sns_shaped(),
        mutated_signed(),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("x-amz-sns-message-type".to_owned()),
        Just("x-amz-sns-topic-arn".to_owned()),
        Just("x-amz-sns-message-id".to_owned()),
        Just("content-type".to_owned()),
        Just("content-length".to_owned()),
        "[a-z][a-z0-9-]{0,20}",
    ];
    prop::collection::vec((name, prop::collection::vec(any::<u8>(), 0..40)), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn arbitrary_requests_get_a_4xx_and_never_reach_the_handler(
        body in bodies(),
        headers in headers(),
        method in prop::sample::select(vec!["POST", "POST", "POST", "GET", "PUT", "DELETE"]),
        type_header in any::<bool>(),
    ) {
        let invoker = FakeInvoker::handled();
        let confirmer = FakeConfirmer::default();
        let bridge = bridge(
            &config(TOPIC_ARN, Duration::from_secs(5)),
            Utc::now(),
            RecordingFetcher::serving_test_certificate(),
            invoker.clone(),
            confirmer.clone(),
        );
        let mut request = http::Request::builder().method(method).uri("/");
        // Half the requests carry the message type header SNS sends, so that bodies get past the
        // header check to verification.
        let body_type = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|value| value["Type"].as_str().map(str::to_owned));
        if let (true, Some(body_type)) = (type_header, &body_type)
            && let Ok(value) = http::HeaderValue::from_str(body_type)
        {
            request = request.header("x-amz-sns-message-type", value);
        }
        for (name, value) in &headers {
            if let Ok(value) = http::HeaderValue::from_bytes(value) {
                request = request.header(name.as_str(), value);
            }
        }
        let still_genuine = signed_content_intact(&body, &GENUINE);
        let request = request.body(Bytes::from(body)).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let report = runtime.block_on(bridge.decide(request));
        let response = postoffice::endpoint::respond(report.decision);
        if still_genuine && method == "POST" && report.decision == Decision::Handled {
            prop_assert_eq!(invoker.calls().len(), 1);
            return Ok(());
        }
        prop_assert!(
            response.status().is_client_error() || report.decision == Decision::CertificateUnavailable,
            "{report:?}"
        );
        prop_assert_ne!(response.status().as_u16(), 429);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        prop_assert_eq!(body["reason"].as_str(), Some(report.decision.reason()));
        prop_assert!(invoker.calls().is_empty());
        prop_assert!(confirmer.calls().is_empty());
    }
}
