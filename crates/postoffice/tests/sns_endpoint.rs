//! The SNS endpoint as tower middleware in front of a Post Office handler, served by axum on
//! 127.0.0.1 and driven over real HTTP: messages signed by the local signing authority (trusted
//! as `POSTOFFICE_LOCAL_TRUSTED_CERT` makes the bridge trust it) or by SNS itself
//! (../shared/sns-vectors), answered with the bridge's status table.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use postoffice::catalog::PayloadError;
use postoffice::endpoint::{
    ConfirmError, EndpointConfig, MAX_BODY_BYTES, SnsEndpointLayer, SubscriptionConfirmer,
};
use postoffice::handler::testing::RecordingPublisher;
use postoffice::handler::{Consumer, Context, Handler, HandlerError, RedriveTopic, Schemas};
use postoffice::sns::{
    CertificateFetcher, CertificateUrl, Clock, FetchError, FixedClock, LocalSigningAuthority,
    MessageType, SnsMessage, StaticCertificateFetcher, SystemClock, Verifier,
};
use postoffice::{Envelope, Topic};
use tower_layer::Layer as _;

const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";
const FOREIGN_TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:999999999999:postoffice-COOKING_REQUESTED";
const TOPIC_ARN_PREFIX: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";
/// An SNS-looking certificate URL nobody serves: its fetch fails.
const MISSING_CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-00000000000000000000000000000000.pem";

fn authority() -> &'static LocalSigningAuthority {
    static AUTHORITY: OnceLock<LocalSigningAuthority> = OnceLock::new();
    AUTHORITY.get_or_init(|| LocalSigningAuthority::generate().expect("test signing authority"))
}

/// A consumer whose payload's `answer` says what it does, recording what it handled.
#[derive(Clone, Default)]
struct Scripted {
    handled: Arc<Mutex<Vec<(String, String)>>>,
    /// `delivery.redriven` of each event handled.
    redriven: Arc<Mutex<Vec<bool>>>,
}

impl Handler for Scripted {
    const CONSUMER: &'static str = "kitchen";
    type Event = serde_json::Value;

    async fn handle(
        &self,
        event: serde_json::Value,
        ctx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let answer = event["payload"]["answer"].as_str().unwrap_or("handled");
        match answer {
            "permanent" => return Err(HandlerError::permanent("the oven has no such program")),
            "retryable" => return Err(HandlerError::retryable("the recipe store is down")),
            "slow" => tokio::time::sleep(Duration::from_secs(5)).await,
            _ => {}
        }
        self.handled.lock().unwrap().push((
            ctx.envelope().event_id.to_string(),
            ctx.delivery().sns_message_id.clone(),
        ));
        self.redriven.lock().unwrap().push(ctx.delivery().redriven);
        Ok(())
    }
}

/// The test payloads are not the catalog's COOKING_REQUESTED payloads.
struct AnyPayload;

impl Schemas for AnyPayload {
    fn validate_payload(&self, _: &str, _: &serde_json::Value) -> Result<(), PayloadError> {
        Ok(())
    }

    fn schema_version(&self, _: &str) -> Option<u32> {
        Some(1)
    }
}

#[derive(Clone, Default)]
struct RecordingConfirmer {
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl SubscriptionConfirmer for RecordingConfirmer {
    async fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<String, ConfirmError> {
        self.calls
            .lock()
            .unwrap()
            .push((topic_arn.to_owned(), token.to_owned()));
        Ok(format!("{topic_arn}:subscription-1"))
    }
}

/// Counts certificate fetches; finds nothing.
#[derive(Clone, Default)]
struct CountingFetcher(Arc<AtomicUsize>);

impl CertificateFetcher for CountingFetcher {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(FetchError::new(url, "HTTP 404 Not Found"))
    }
}

fn config(vars: &[(&str, &str)]) -> EndpointConfig {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    EndpointConfig::from_lookup(|name| vars.get(name).cloned()).expect("a valid configuration")
}

/// What an endpoint in front of [`Scripted`] lets the test look at.
struct Served {
    url: String,
    handler: Scripted,
    confirmer: RecordingConfirmer,
}

/// Serves `layer` over a [`Scripted`] consumer at `/sns` on a free port.
async fn serve<F, C>(
    layer: &SnsEndpointLayer<F, C, RecordingConfirmer>,
    confirmer: RecordingConfirmer,
) -> Served
where
    F: CertificateFetcher + 'static,
    C: Clock + Clone + 'static,
{
    let handler = Scripted::default();
    let consumer = Consumer::new(
        handler.clone(),
        Arc::new(RecordingPublisher::default()),
        TOPIC_ARN_PREFIX,
    )
    .with_schemas(Arc::new(AnyPayload));
    let router = axum::Router::new().route_service("/sns", layer.layer(consumer.into_service()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sns", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Served {
        url,
        handler,
        confirmer,
    }
}

/// The endpoint trusting the local signing authority's certificate at its own URL, as a
/// verifier built from `POSTOFFICE_LOCAL_TRUSTED_CERT` does.
async fn local(vars: &[(&str, &str)]) -> Served {
    let verifier = Verifier::new(StaticCertificateFetcher::new(), SystemClock)
        .with_local_certificate(authority().certificate_pem().as_bytes())
        .unwrap();
    let mut all = vec![("POSTOFFICE_ALLOWED_TOPIC_ARNS", TOPIC_ARN)];
    all.extend_from_slice(vars);
    let confirmer = RecordingConfirmer::default();
    let layer = SnsEndpointLayer::new(
        &config(&all),
        verifier,
        SystemClock,
        confirmer.clone(),
        "postoffice-kitchen-handler",
    );
    serve(&layer, confirmer).await
}

fn envelope(event: &str, answer: &str) -> Envelope {
    let topic = Topic::parse(&format!("{event}/h-1/oven-1")).unwrap();
    Envelope::new(&topic, "oven-1", serde_json::json!({"answer": answer}))
}

fn message(
    message_type: MessageType,
    topic_arn: &str,
    body: &str,
    published: DateTime<Utc>,
) -> SnsMessage {
    let confirmation = message_type == MessageType::SubscriptionConfirmation;
    SnsMessage {
        message_type,
        message_id: uuid::Uuid::new_v4().to_string(),
        topic_arn: topic_arn.into(),
        subject: None,
        message: body.into(),
        timestamp: published.to_rfc3339_opts(SecondsFormat::Millis, true),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: confirmation.then(|| {
            format!("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token=tok-1")
        }),
        unsubscribe_url: None,
        token: confirmation.then(|| "tok-1".to_owned()),
        message_attributes: BTreeMap::new(),
    }
}

fn notification(topic_arn: &str, envelope: &Envelope) -> SnsMessage {
    let mut sns = message(
        MessageType::Notification,
        topic_arn,
        &envelope.to_json(),
        Utc::now() - TimeDelta::seconds(1),
    );
    authority().sign(&mut sns).unwrap();
    sns
}

fn client() -> reqwest::Client {
    postoffice::https::client_builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Posts `body` with the headers SNS sends for `message`; answers status, body and its reason.
async fn push_body(url: &str, message: &SnsMessage, body: String) -> (u16, String) {
    let response = client()
        .post(url)
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message.message_type.as_str())
        .header("x-amz-sns-message-id", &message.message_id)
        .header("x-amz-sns-topic-arn", &message.topic_arn)
        .body(body)
        .send()
        .await
        .expect("the endpoint answers");
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (status, body["reason"].as_str().unwrap().to_owned())
}

async fn push(url: &str, message: &SnsMessage) -> (u16, String) {
    push_body(url, message, message.to_http_json()).await
}

fn expect(got: (u16, String), status: u16, reason: &str) {
    assert_eq!((got.0, got.1.as_str()), (status, reason));
}

#[tokio::test]
async fn the_handlers_answers_are_200_400_and_500() {
    let served = local(&[]).await;
    let handled = envelope("COOKING_REQUESTED", "handled");
    let sns = notification(TOPIC_ARN, &handled);
    expect(push(&served.url, &sns).await, 200, "handled");
    assert_eq!(
        served.handler.handled.lock().unwrap().clone(),
        vec![(handled.event_id.to_string(), sns.message_id.clone())],
        "the handler got the envelope and the SNS delivery"
    );
    for (answer, status, reason) in [
        ("permanent", 400, "handler_non_retryable"),
        ("retryable", 500, "handler_failed"),
    ] {
        let sns = notification(TOPIC_ARN, &envelope("COOKING_REQUESTED", answer));
        expect(push(&served.url, &sns).await, status, reason);
    }
    assert_eq!(served.handler.handled.lock().unwrap().len(), 1);
}

/// The consumer's redrive topic (`postoffice dlq redrive` republishes there) carries the
/// consumer's own events, marked as redriven, and no other: not even one the handler would take.
#[tokio::test]
async fn the_redrive_topic_carries_the_consumers_own_events_only() {
    const REDRIVE_TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive";
    let verifier = Verifier::new(StaticCertificateFetcher::new(), SystemClock)
        .with_local_certificate(authority().certificate_pem().as_bytes())
        .unwrap();
    let allowed = format!("{TOPIC_ARN},{REDRIVE_TOPIC_ARN}");
    let confirmer = RecordingConfirmer::default();
    let layer = SnsEndpointLayer::new(
        &config(&[
            ("POSTOFFICE_ALLOWED_TOPIC_ARNS", &allowed),
            ("POSTOFFICE_REDRIVE_TOPIC_ARN", REDRIVE_TOPIC_ARN),
        ]),
        verifier,
        SystemClock,
        confirmer,
        "postoffice-kitchen-handler",
    );
    let handler = Scripted::default();
    // The handler would take COOKING_FINISHED on the redrive topic: the endpoint must not let
    // it through, since the consumer does not subscribe to it.
    let consumer = Consumer::new(
        handler.clone(),
        Arc::new(RecordingPublisher::default()),
        TOPIC_ARN_PREFIX,
    )
    .with_schemas(Arc::new(AnyPayload))
    .with_redrive_topic(RedriveTopic {
        topic_arn: REDRIVE_TOPIC_ARN.into(),
        events: [
            "COOKING_REQUESTED".to_owned(),
            "COOKING_FINISHED".to_owned(),
        ]
        .into(),
    });
    let router = axum::Router::new().route_service("/sns", layer.layer(consumer.into_service()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sns", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let first = notification(TOPIC_ARN, &envelope("COOKING_REQUESTED", "handled"));
    expect(push(&url, &first).await, 200, "handled");
    let redriven = envelope("COOKING_REQUESTED", "handled");
    let again = notification(REDRIVE_TOPIC_ARN, &redriven);
    expect(push(&url, &again).await, 200, "handled");
    let other = notification(REDRIVE_TOPIC_ARN, &envelope("COOKING_FINISHED", "handled"));
    expect(push(&url, &other).await, 400, "event_topic_mismatch");
    assert_eq!(
        handler.handled.lock().unwrap().last().cloned(),
        Some((redriven.event_id.to_string(), again.message_id.clone()))
    );
    assert_eq!(handler.redriven.lock().unwrap().clone(), [false, true]);
}

#[tokio::test]
async fn what_sns_never_sends_is_refused_before_the_handler() {
    let served = local(&[]).await;
    let genuine = notification(TOPIC_ARN, &envelope("COOKING_REQUESTED", "handled"));

    let foreign = notification(FOREIGN_TOPIC_ARN, &envelope("COOKING_REQUESTED", "handled"));
    expect(push(&served.url, &foreign).await, 403, "topic_not_allowed");

    let mut tampered = genuine.clone();
    tampered.message = tampered.message.replace("oven-1", "oven-2");
    expect(
        push(&served.url, &tampered).await,
        403,
        "signature_rejected",
    );

    let injected = notification(TOPIC_ARN, &envelope("COOKING_FINISHED", "handled"));
    expect(
        push(&served.url, &injected).await,
        400,
        "event_topic_mismatch",
    );

    let mut old = message(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope("COOKING_REQUESTED", "handled").to_json(),
        Utc::now() - TimeDelta::hours(4),
    );
    authority().sign(&mut old).unwrap();
    expect(push(&served.url, &old).await, 400, "message_too_old");

    let mut not_envelope = message(
        MessageType::Notification,
        TOPIC_ARN,
        "Hello world",
        Utc::now(),
    );
    authority().sign(&mut not_envelope).unwrap();
    expect(
        push(&served.url, &not_envelope).await,
        400,
        "message_not_envelope",
    );

    expect(
        push_body(&served.url, &genuine, "not json".into()).await,
        400,
        "malformed_message",
    );
    let mut mismatched = genuine.clone();
    mismatched.message_type = MessageType::SubscriptionConfirmation;
    expect(
        push_body(&served.url, &mismatched, genuine.to_http_json()).await,
        400,
        "header_mismatch",
    );

    let response = client().get(&served.url).send().await.unwrap();
    assert_eq!(response.status(), 405);

    assert!(served.handler.handled.lock().unwrap().is_empty());
    expect(push(&served.url, &genuine).await, 200, "handled");
}

#[tokio::test]
async fn a_subscription_is_confirmed_through_the_sns_api() {
    let served = local(&[]).await;
    let mut confirmation = message(
        MessageType::SubscriptionConfirmation,
        TOPIC_ARN,
        "You have chosen to subscribe",
        Utc::now(),
    );
    authority().sign(&mut confirmation).unwrap();
    expect(
        push(&served.url, &confirmation).await,
        200,
        "subscription_confirmed",
    );
    assert_eq!(
        served.confirmer.calls.lock().unwrap().clone(),
        vec![(TOPIC_ARN.to_owned(), "tok-1".to_owned())]
    );
    assert!(served.handler.handled.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_handler_slower_than_its_timeout_is_500_in_time() {
    let served = local(&[("POSTOFFICE_INVOKE_TIMEOUT_MS", "300")]).await;
    let sns = notification(TOPIC_ARN, &envelope("COOKING_REQUESTED", "slow"));
    let started = std::time::Instant::now();
    expect(push(&served.url, &sns).await, 500, "invoke_timed_out");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

/// A body of `chunks` chunks of 64 KiB, counting those read.
struct Chunks {
    chunks: usize,
    read: Arc<AtomicUsize>,
}

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.read.load(Ordering::SeqCst) == this.chunks {
            return std::task::Poll::Ready(None);
        }
        this.read.fetch_add(1, Ordering::SeqCst);
        let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }
}

/// Straight through the tower service: how much of an oversized body it reads.
#[tokio::test]
async fn an_oversized_body_is_413_without_reading_past_the_limit() {
    use tower_service::Service as _;

    let verifier = Verifier::new(StaticCertificateFetcher::new(), SystemClock);
    let layer = SnsEndpointLayer::new(
        &config(&[("POSTOFFICE_ALLOWED_TOPIC_ARNS", TOPIC_ARN)]),
        verifier,
        SystemClock,
        RecordingConfirmer::default(),
        "postoffice-kitchen-handler",
    );
    let consumer = Consumer::new(
        Scripted::default(),
        Arc::new(RecordingPublisher::default()),
        TOPIC_ARN_PREFIX,
    );
    let mut service = layer.layer(consumer.into_service());
    let limit_in_chunks = MAX_BODY_BYTES / (64 * 1024);
    for declared in [true, false] {
        let read = Arc::new(AtomicUsize::new(0));
        let body = Chunks {
            chunks: 100,
            read: Arc::clone(&read),
        };
        let mut request =
            http::Request::post("/sns").header("x-amz-sns-message-type", "Notification");
        if declared {
            request = request.header("content-length", (100 * 64 * 1024).to_string());
        }
        let response = service.call(request.body(body).unwrap()).await.unwrap();
        assert_eq!(response.status(), 413);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body.to_bytes()).contains("body_too_large"));
        let read = read.load(Ordering::SeqCst);
        if declared {
            assert_eq!(read, 0, "refused on its Content-Length");
        } else {
            assert!(read <= limit_in_chunks + 1, "{read} chunks read");
        }
    }
}

#[tokio::test]
async fn an_unavailable_certificate_is_502_and_every_layered_service_shares_one_verifier() {
    let fetcher = CountingFetcher::default();
    let verifier = Verifier::new(fetcher.clone(), SystemClock);
    let layer = SnsEndpointLayer::new(
        &config(&[("POSTOFFICE_ALLOWED_TOPIC_ARNS", TOPIC_ARN)]),
        verifier,
        SystemClock,
        RecordingConfirmer::default(),
        "postoffice-kitchen-handler",
    );
    let mut sns = message(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope("COOKING_REQUESTED", "handled").to_json(),
        Utc::now(),
    );
    authority()
        .sign_with_url(&mut sns, MISSING_CERT_URL)
        .unwrap();
    // Two services (two routes, say) from one layer: a failed load is remembered for both.
    let first = serve(&layer, RecordingConfirmer::default()).await;
    let second = serve(&layer, RecordingConfirmer::default()).await;
    expect(push(&first.url, &sns).await, 502, "certificate_unavailable");
    expect(
        push(&second.url, &sns).await,
        502,
        "certificate_unavailable",
    );
    assert_eq!(fetcher.0.load(Ordering::SeqCst), 1);
}

/// Genuine SNS messages through the middleware: their signatures verify (then 400: "Hello
/// world" is no envelope), and version 1 (SHA-1) is refused unless configured.
#[tokio::test]
async fn genuine_sns_messages_verify_through_the_middleware() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors");
    let mut vectors: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    vectors.sort();
    assert_eq!(vectors.len(), 5);
    // Inside the certificates' validity, minutes after the messages were published.
    let clock = FixedClock("2022-07-28T21:30:00Z".parse().unwrap());
    for path in vectors {
        let body = std::fs::read_to_string(&path).unwrap();
        let pem = std::fs::read(path.with_extension("pem")).unwrap();
        let sns = SnsMessage::parse(body.as_bytes()).unwrap();
        let account = &sns.topic_arn[..sns.topic_arn.rfind(':').unwrap() + 1];
        let expected = if sns.signature_version == "1" {
            (403, "signature_rejected")
        } else {
            (400, "message_not_envelope")
        };
        for (minimum, (status, reason)) in [("2", expected), ("1", (400, "message_not_envelope"))] {
            let fetcher = StaticCertificateFetcher::new()
                .with_certificate(&sns.signing_cert_url, pem.clone());
            let layer = SnsEndpointLayer::new(
                &config(&[
                    ("POSTOFFICE_ALLOWED_TOPIC_ARNS", &format!("{account}*")),
                    ("POSTOFFICE_MIN_SIGNATURE_VERSION", minimum),
                ]),
                Verifier::new(fetcher, clock),
                clock,
                RecordingConfirmer::default(),
                "postoffice-kitchen-handler",
            );
            let served = serve(&layer, RecordingConfirmer::default()).await;
            let got = push_body(&served.url, &sns, body.clone()).await;
            assert_eq!(
                (got.0, got.1.as_str()),
                (status, reason),
                "{} with minimum version {minimum}",
                path.display()
            );
        }
    }
}
