//! Fakes of the bridge's ports and signed test messages, shared by the tests and the benchmark.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use postoffice::endpoint::{ConfirmError, SubscriptionConfirmer};
use postoffice::sns::{
    CertificateFetcher, CertificateUrl, FetchError, FixedClock, IssuerUrl, LocalSigningAuthority,
    MessageAttribute, MessageType, SnsMessage, StaticCertificateFetcher, Verifier,
};
use postoffice::{Envelope, Topic};
use sns_bridge::{Bridge, BridgeConfig, HandlerInvoker, InvokeAnswer};

pub const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";
pub const OTHER_ACCOUNT_TOPIC_ARN: &str =
    "arn:aws:sns:eu-west-1:999999999999:postoffice-COOKING_REQUESTED";
/// An SNS-looking certificate URL the test fetcher serves the test authority's certificate at.
pub const CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000a.pem";
pub const HANDLER: &str = "postoffice-kitchen-handler";

/// RSA key generation is slow; one authority serves every test of a binary.
pub fn authority() -> &'static LocalSigningAuthority {
    static AUTHORITY: OnceLock<LocalSigningAuthority> = OnceLock::new();
    AUTHORITY.get_or_init(|| LocalSigningAuthority::generate().expect("test signing authority"))
}

/// Serves the test authority's certificate at [`CERT_URL`] and records every URL asked for;
/// can be made slow.
#[derive(Clone, Default)]
pub struct RecordingFetcher {
    inner: StaticCertificateFetcher,
    pub fetched: Arc<Mutex<Vec<String>>>,
    delay: Option<Duration>,
}

impl RecordingFetcher {
    pub fn serving_test_certificate() -> Self {
        Self::serving(
            StaticCertificateFetcher::new()
                .with_certificate(CERT_URL, authority().certificate_pem().as_bytes().to_vec()),
        )
    }

    pub fn serving(inner: StaticCertificateFetcher) -> Self {
        Self {
            inner,
            fetched: Arc::default(),
            delay: None,
        }
    }

    /// Every fetch takes `delay` (a slow or unreachable certificate host).
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn fetched(&self) -> Vec<String> {
        self.fetched.lock().unwrap().clone()
    }
}

impl CertificateFetcher for RecordingFetcher {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        self.fetched.lock().unwrap().push(url.as_str().to_owned());
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        self.inner.fetch(url).await
    }

    async fn fetch_issuer(&self, url: &IssuerUrl) -> Result<Vec<u8>, FetchError> {
        self.fetched.lock().unwrap().push(url.as_str().to_owned());
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        self.inner.fetch_issuer(url).await
    }
}

/// `(function, payload)` of every invoke.
type Invocations = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Answers every invoke with a scripted answer (after `delay`, if any) and records payloads.
#[derive(Clone)]
pub struct FakeInvoker {
    answer: InvokeAnswer,
    delay: Option<Duration>,
    recording: bool,
    pub calls: Invocations,
}

impl FakeInvoker {
    pub fn answering(answer: InvokeAnswer) -> Self {
        Self {
            answer,
            delay: None,
            recording: true,
            calls: Arc::default(),
        }
    }

    pub fn handled() -> Self {
        Self::answering(InvokeAnswer::Completed {
            function_error: None,
            payload: b"{}".to_vec(),
        })
    }

    pub fn function_error(error_type: &str, message: &str) -> Self {
        Self::answering(InvokeAnswer::Completed {
            function_error: Some("Unhandled".into()),
            payload: serde_json::to_vec(
                &serde_json::json!({"errorType": error_type, "errorMessage": message}),
            )
            .unwrap(),
        })
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Drops payloads instead of keeping them: benchmarks run millions of invocations, and a
    /// growing list of copies would be measured along with the bridge.
    pub fn not_recording(mut self) -> Self {
        self.recording = false;
        self
    }

    pub fn calls(&self) -> Vec<(String, Vec<u8>)> {
        self.calls.lock().unwrap().clone()
    }
}

impl HandlerInvoker for FakeInvoker {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> InvokeAnswer {
        if self.recording {
            self.calls
                .lock()
                .unwrap()
                .push((function.to_owned(), payload));
        }
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        self.answer.clone()
    }
}

/// Records `(TopicArn, Token)` of every ConfirmSubscription call.
#[derive(Clone, Default)]
pub struct FakeConfirmer {
    pub fail: bool,
    pub calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeConfirmer {
    pub fn failing() -> Self {
        Self {
            fail: true,
            calls: Arc::default(),
        }
    }

    pub fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

impl SubscriptionConfirmer for FakeConfirmer {
    async fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<String, ConfirmError> {
        self.calls
            .lock()
            .unwrap()
            .push((topic_arn.to_owned(), token.to_owned()));
        if self.fail {
            return Err(ConfirmError("AuthorizationError".into()));
        }
        Ok(format!("{topic_arn}:sub-1"))
    }
}

pub fn config(allowed: &str, invoke_timeout: Duration) -> BridgeConfig {
    config_with(allowed, invoke_timeout, &[])
}

/// [`config`] with more variables, e.g. `POSTOFFICE_MIN_SIGNATURE_VERSION`.
pub fn config_with(allowed: &str, invoke_timeout: Duration, more: &[(&str, &str)]) -> BridgeConfig {
    let allowed = allowed.to_owned();
    let timeout = invoke_timeout.as_millis().to_string();
    let more: Vec<(String, String)> = more
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    BridgeConfig::from_lookup(move |name| match name {
        "POSTOFFICE_HANDLER_FUNCTION" => Some(HANDLER.to_owned()),
        "POSTOFFICE_ALLOWED_TOPIC_ARNS" => Some(allowed.clone()),
        "POSTOFFICE_INVOKE_TIMEOUT_MS" => Some(timeout.clone()),
        "POSTOFFICE_MAX_MESSAGE_AGE_SECONDS" => Some("3600".to_owned()),
        _ => more
            .iter()
            .find(|(more_name, _)| more_name == name)
            .map(|(_, value)| value.clone()),
    })
    .expect("test configuration is valid")
}

pub type TestBridge = Bridge<RecordingFetcher, FixedClock, FakeInvoker, FakeConfirmer>;

pub fn bridge(
    config: &BridgeConfig,
    now: DateTime<Utc>,
    fetcher: RecordingFetcher,
    invoker: FakeInvoker,
    confirmer: FakeConfirmer,
) -> TestBridge {
    let clock = FixedClock(now);
    sns_bridge::bridge(
        config,
        test_verifier(fetcher, clock),
        clock,
        invoker,
        confirmer,
    )
}

/// A verifier that trusts the test authority as a root (as AWS's certificates chain to Amazon's):
/// its certificate served at [`CERT_URL`] verifies.
pub fn test_verifier(
    fetcher: RecordingFetcher,
    clock: FixedClock,
) -> Verifier<RecordingFetcher, FixedClock> {
    Verifier::new(fetcher, clock)
        .with_trusted_root(authority().certificate_pem().as_bytes())
        .expect("the test authority's certificate is a certificate")
}

pub fn envelope() -> Envelope {
    let topic = Topic::parse("COOKING_REQUESTED/h-1/oven-1").unwrap();
    Envelope::new(&topic, "oven-1", serde_json::json!({"recipe": "bread"}))
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn unsigned(
    message_type: MessageType,
    topic_arn: &str,
    message: &str,
    at: DateTime<Utc>,
) -> SnsMessage {
    let confirmation = message_type != MessageType::Notification;
    SnsMessage {
        message_type,
        message_id: "0c8a3b1e-5d5e-5b7c-9f0e-4f1f2b1c0a01".into(),
        topic_arn: topic_arn.into(),
        subject: None,
        message: message.into(),
        timestamp: timestamp(at),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: confirmation.then(|| {
            format!("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token=tok-123")
        }),
        unsubscribe_url: Some(format!(
            "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:sub-1"
        )),
        token: confirmation.then(|| "tok-123".to_owned()),
        message_attributes: [("event", "COOKING_REQUESTED"), ("household_id", "h-1"), ("device_id", "oven-1")]
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_owned(),
                    MessageAttribute {
                        data_type: "String".into(),
                        value: value.into(),
                    },
                )
            })
            .collect(),
    }
}

/// A message signed by the test authority, certificate served at [`CERT_URL`].
pub fn signed(
    message_type: MessageType,
    topic_arn: &str,
    message: &str,
    at: DateTime<Utc>,
) -> SnsMessage {
    let mut sns = unsigned(message_type, topic_arn, message, at);
    authority().sign_with_url(&mut sns, CERT_URL).unwrap();
    sns
}

pub fn post(body: impl Into<Bytes>) -> http::Request<Bytes> {
    http::Request::post("/").body(body.into()).unwrap()
}

/// A POST of a raw body with the `x-amz-sns-message-type` SNS sends, read from the body's `Type`
/// (`Notification` when it has none).
pub fn sns_post(body: &[u8]) -> http::Request<Bytes> {
    let message_type = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["Type"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "Notification".to_owned());
    http::Request::post("/")
        .header("x-amz-sns-message-type", message_type)
        .body(Bytes::copy_from_slice(body))
        .unwrap()
}

/// The request SNS sends: body plus its `x-amz-sns-*` headers.
pub fn sns_request(message: &SnsMessage) -> http::Request<Bytes> {
    http::Request::post("/")
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message.message_type.as_str())
        .header("x-amz-sns-message-id", &message.message_id)
        .header("x-amz-sns-topic-arn", &message.topic_arn)
        .body(Bytes::from(message.to_http_json()))
        .unwrap()
}

pub fn body_json(response: &http::Response<Bytes>) -> serde_json::Value {
    serde_json::from_slice(response.body()).expect("every response body is JSON")
}
