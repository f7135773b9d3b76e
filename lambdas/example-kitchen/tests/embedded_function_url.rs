//! The `example-kitchen` binary deployed with an embedded bridge (`bridge = { mode = "embedded" }`
//! in the consumer module): run for real in the Lambda host (`postoffice-lambda-host`) behind its
//! own function URL, with the environment the module gives it. Signed SNS requests go over HTTP
//! to the function URL and the handler's answers come back as the bridge's statuses; its replies
//! and subscription confirmations reach a fake SNS (`AWS_ENDPOINT_URL_SNS`). The kitchen's code
//! is the one it runs behind a bridge.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use chrono::{SecondsFormat, Utc};
use postoffice::invocation::{Delivery, HandlerInvocation};
use postoffice::sns::{LocalSigningAuthority, MessageType, SnsMessage};
use postoffice::{Envelope, Topic};
use postoffice_lambda_host::{
    Credentials, FunctionConfig, HostConfig, InMemoryRegistry, InvocationType, LambdaHost,
};
use postoffice_test_support::{http_response, read_http_request_blocking};
use serde_json::{Value, json};

const FUNCTION: &str = "postoffice-kitchen-handler";
const URL_ID: &str = "kitchenembeddedurl";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
const TOPIC_ARN_PREFIX: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";
const REQUESTED: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";
const FINISHED: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED";
const FOREIGN: &str = "arn:aws:sns:eu-west-1:999999999999:postoffice-COOKING_REQUESTED";

fn authority() -> &'static LocalSigningAuthority {
    static AUTHORITY: OnceLock<LocalSigningAuthority> = OnceLock::new();
    AUTHORITY.get_or_init(|| LocalSigningAuthority::generate().expect("test signing authority"))
}

/// SNS for the kitchen: answers `Publish` and `ConfirmSubscription` (query protocol) and keeps
/// each request's form body.
fn fake_sns() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let body = read_http_request_blocking(&mut stream)
                .unwrap_or_default()
                .body_text();
            let xml = if body.contains("Action=ConfirmSubscription") {
                "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                 <ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED:sub-1</SubscriptionArn></ConfirmSubscriptionResult>\
                 <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>"
            } else {
                "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                 <PublishResult><MessageId>m-1</MessageId></PublishResult>\
                 <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></PublishResponse>"
            };
            seen.lock().unwrap().push(body);
            let headers = [("content-type", "text/xml"), ("connection", "close")];
            let _ = stream.write_all(&http_response(200, "OK", &headers, xml.as_bytes()));
        }
    });
    (port, requests)
}

/// The function URL: every request to the function behind [`URL_ID`], answered as the function
/// URL answers.
async fn serve_function_url(host: LambdaHost) -> String {
    let router = axum::Router::new().fallback(move |request: http::Request<Body>| {
        let host = host.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let response = host
                .invoke_url(URL_ID, http::Request::from_parts(parts, body))
                .await;
            response.map(Body::from)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// The recipe library, plus a recipe whose file is corrupt (the store fails: retryable).
fn recipes(dir: &Path) -> PathBuf {
    let recipes = dir.join("recipes");
    std::fs::create_dir(&recipes).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/recipes")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, recipes.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(recipes.join("corrupt-loaf.json"), "{\"name\":").unwrap();
    recipes
}

fn signed(message_type: MessageType, topic_arn: &str, message: &str) -> SnsMessage {
    let confirmation = message_type == MessageType::SubscriptionConfirmation;
    let mut sns = SnsMessage {
        message_type,
        message_id: uuid::Uuid::new_v4().to_string(),
        topic_arn: topic_arn.into(),
        subject: None,
        message: message.into(),
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: confirmation.then(|| {
            format!("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token=tok-9")
        }),
        unsubscribe_url: None,
        token: confirmation.then(|| "tok-9".to_owned()),
        message_attributes: BTreeMap::new(),
    };
    authority().sign(&mut sns).unwrap();
    sns
}

fn request(payload: Value) -> Envelope {
    let topic = Topic::parse("COOKING_REQUESTED/h-1/oven-1").unwrap();
    Envelope::new(&topic, "mobile-1", payload)
}

async fn push(client: &reqwest::Client, url: &str, message: &SnsMessage) -> (u16, String) {
    let response = client
        .post(url)
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message.message_type.as_str())
        .header("x-amz-sns-topic-arn", &message.topic_arn)
        .body(message.to_http_json())
        .send()
        .await
        .expect("the function URL answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (
        status,
        body["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Publishes so far, as (topic ARN, message) pairs.
fn published(sns: &Mutex<Vec<String>>) -> Vec<(String, Value)> {
    sns.lock()
        .unwrap()
        .iter()
        .filter(|form| form.contains("Action=Publish"))
        .map(|form| {
            let fields: BTreeMap<String, String> = url::form_urlencoded::parse(form.as_bytes())
                .into_owned()
                .collect();
            let message = serde_json::from_str(&fields["Message"]).unwrap();
            (fields["TopicArn"].clone(), message)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kitchen_serves_sns_itself_behind_its_function_url() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::create_dir(&code).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_example-kitchen"),
        code.join("bootstrap"),
    )
    .unwrap();
    let certificate = dir.path().join("local-signing.pem");
    std::fs::write(&certificate, authority().certificate_pem()).unwrap();
    let log = dir.path().join("function.log");
    let (sns_port, sns) = fake_sns();

    // What the consumer module sets with `bridge = { mode = "embedded" }`, and the kitchen's own.
    let environment: BTreeMap<String, String> = [
        ("POSTOFFICE_SNS_ENDPOINT_ALIAS", "sns-endpoint".to_owned()),
        (
            "POSTOFFICE_ALLOWED_TOPIC_ARNS",
            format!("{FINISHED},{REQUESTED}"),
        ),
        ("POSTOFFICE_INVOKE_TIMEOUT_MS", "10000".to_owned()),
        ("POSTOFFICE_MAX_MESSAGE_AGE_SECONDS", "10800".to_owned()),
        ("POSTOFFICE_TOPIC_ARN_PREFIX", TOPIC_ARN_PREFIX.to_owned()),
        (
            "POSTOFFICE_LOCAL_TRUSTED_CERT",
            certificate.display().to_string(),
        ),
        (
            "AWS_ENDPOINT_URL_SNS",
            format!("http://127.0.0.1:{sns_port}"),
        ),
        (
            "KITCHEN_RECIPES_DIR",
            recipes(dir.path()).display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let registry = Arc::new(InMemoryRegistry::new());
    registry.put(FunctionConfig {
        name: FUNCTION.into(),
        arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"),
        version: "$LATEST".into(),
        code_dir: code,
        handler: "bootstrap".into(),
        runtime: "provided.al2023".into(),
        environment,
        timeout: Duration::from_secs(15),
        memory_mb: 256,
        reserved_concurrency: None,
        credentials: Some(Credentials {
            access_key_id: "local".into(),
            secret_access_key: "local".into(),
            session_token: None,
        }),
        log_file: log.clone(),
    });
    registry.put_url(URL_ID, FUNCTION);
    let host = LambdaHost::new(registry, HostConfig::default());
    let url = serve_function_url(host.clone()).await;
    let client = postoffice::https::client_builder().build().unwrap();
    let show_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let accepted = request(json!({
        "recipe_id": "sourdough-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700
    }));
    let table = [
        (accepted.clone(), REQUESTED, 200, "handled"),
        // The payload breaks the catalog schema (300 °C at most): permanent.
        (
            request(json!({"program": "bake", "temperature_c": 999, "duration_s": 600})),
            REQUESTED,
            400,
            "handler_non_retryable",
        ),
        // The recipe store fails: retryable.
        (
            request(json!({
                "recipe_id": "corrupt-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700
            })),
            REQUESTED,
            500,
            "handler_failed",
        ),
        (accepted.clone(), FOREIGN, 403, "topic_not_allowed"),
        // Allowed topic, but not the envelope's event.
        (accepted.clone(), FINISHED, 400, "event_topic_mismatch"),
    ];
    for (envelope, topic, status, reason) in table {
        let got = push(
            &client,
            &url,
            &signed(MessageType::Notification, topic, &envelope.to_json()),
        )
        .await;
        assert_eq!(
            (got.0, got.1.as_str()),
            (status, reason),
            "{reason}; log:\n{}",
            show_log()
        );
    }
    let replies = published(&sns);
    assert_eq!(
        replies
            .iter()
            .map(|(topic, message)| (topic.as_str(), message["event"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![
            (
                &*format!("{TOPIC_ARN_PREFIX}COOKING_REPLIED"),
                "COOKING_REPLIED"
            ),
            (
                &*format!("{TOPIC_ARN_PREFIX}COOKING_STARTED"),
                "COOKING_STARTED"
            ),
        ],
        "the handled request alone was answered"
    );
    assert_eq!(
        replies[0].1["correlation_id"],
        accepted.correlation_id.to_string()
    );
    assert_eq!(replies[0].1["payload"]["status"], "accepted");

    let confirmation = signed(
        MessageType::SubscriptionConfirmation,
        REQUESTED,
        "You have chosen to subscribe",
    );
    assert_eq!(
        push(&client, &url, &confirmation).await,
        (200, "subscription_confirmed".to_owned())
    );
    let confirm = sns
        .lock()
        .unwrap()
        .iter()
        .find(|form| form.contains("Action=ConfirmSubscription"))
        .cloned()
        .expect("ConfirmSubscription reached SNS");
    assert!(confirm.contains("Token=tok-9"), "{confirm}");
    assert!(
        confirm.contains("AuthenticateOnUnsubscribe=true"),
        "{confirm}"
    );

    // `postoffice dlq redrive` invokes the function itself with a handler invocation: still
    // handled without the endpoint (the module's public alias is what refuses them, and the
    // host has no aliases; `route` is unit-tested in the library).
    let redriven = HandlerInvocation {
        envelope: request(json!({"program": "steam", "temperature_c": 100, "duration_s": 900})),
        delivery: Delivery {
            sns_message_id: "m-redriven".into(),
            topic_arn: REQUESTED.into(),
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            message_attributes: BTreeMap::new(),
            redriven: true,
        },
    };
    let outcome = host
        .invoke(
            FUNCTION,
            serde_json::to_vec(&redriven).unwrap(),
            InvocationType::RequestResponse,
        )
        .await
        .unwrap();
    assert_eq!(outcome.function_error, None, "{}", show_log());
    let answer: Value = serde_json::from_slice(&outcome.payload).unwrap();
    assert_eq!(answer["event_id"], redriven.envelope.event_id.to_string());
    assert_eq!(answer["published"].as_array().unwrap().len(), 2);

    let metrics = host.metrics(FUNCTION).unwrap();
    assert_eq!(metrics.invocations, 7, "six pushes and one redrive");
    assert_eq!(
        metrics.errors, 0,
        "the function URL path answers statuses, never function errors"
    );
    host.shutdown();
}
