//! The bridge and a tiny handler run for real in the Lambda host (`postoffice-lambda-host`) on
//! 127.0.0.1, each from its own task root with the binary as `bootstrap`: signed SNS requests go
//! over HTTP to the bridge's function URL, the bridge invokes the handler through the Lambda
//! Invoke API the host serves (the SDK client pointed there by `AWS_ENDPOINT_URL_LAMBDA`), and
//! confirms subscriptions against a one-request fake SNS (`AWS_ENDPOINT_URL_SNS`).
//!
//! The binaries are this package's own builds: `bridge-test-handler` is built for the tests by
//! the dev-dependency on this package with feature `test-handler`.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Body;
use chrono::Utc;
use postoffice::sns::{MessageType, SnsMessage};
use postoffice_lambda_host::invoke_api::invoke_router;
use postoffice_lambda_host::{
    Credentials, FunctionConfig, HostConfig, InMemoryRegistry, LambdaHost,
};
use postoffice_test_support::{http_response, read_http_request_blocking};
use support::*;

const BRIDGE: &str = "sns-bridge";
const HANDLER: &str = "bridge-test-handler";
/// The id of the bridge's function URL (`<id>.lambda-url.<region>.on.aws`).
const URL_ID: &str = "bridgetesturl";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

/// A deployment package: a directory holding `binary` as `bootstrap`, and where the function's
/// log goes.
struct TaskRoot {
    dir: tempfile::TempDir,
}

impl TaskRoot {
    fn new(binary: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(binary, dir.path().join("bootstrap")).unwrap();
        Self { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("function.log")
    }

    fn config(
        &self,
        name: &str,
        timeout: Duration,
        environment: &[(&str, String)],
    ) -> FunctionConfig {
        FunctionConfig {
            name: name.to_owned(),
            arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            version: "$LATEST".into(),
            code_dir: self.dir.path().to_path_buf(),
            handler: "bootstrap".into(),
            runtime: "provided.al2023".into(),
            environment: environment
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect::<BTreeMap<_, _>>(),
            timeout,
            memory_mb: 128,
            reserved_concurrency: None,
            credentials: Some(Credentials {
                access_key_id: "local".into(),
                secret_access_key: "local".into(),
                session_token: None,
            }),
            log_file: self.log(),
        }
    }
}

/// Shows the functions' logs when the test fails.
struct LogsOnFailure(Vec<PathBuf>);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for log in &self.0 {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                eprintln!("--- {} ---\n{text}", log.display());
            }
        }
    }
}

/// Serves `router` on a free 127.0.0.1 port; answers the port.
async fn serve(router: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// The bridge's function URL: every request, whatever its path, to the function behind
/// [`URL_ID`] (auth type `NONE`), answered as the function URL answers.
fn function_url(host: LambdaHost) -> axum::Router {
    axum::Router::new().fallback(move |request: http::Request<Body>| {
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
    })
}

/// Answers one SNS `ConfirmSubscription` (query protocol) and hands its form body to the test.
fn fake_sns() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let body = read_http_request_blocking(&mut stream)
                .unwrap_or_default()
                .body_text();
            let xml = "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                <ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED:sub-1</SubscriptionArn></ConfirmSubscriptionResult>\
                <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>";
            let headers = [("content-type", "text/xml"), ("connection", "close")];
            let _ = stream.write_all(&http_response(200, "OK", &headers, xml.as_bytes()));
            let _ = sender.send(body);
        }
    });
    (port, receiver)
}

fn notification(answer: &str) -> SnsMessage {
    let mut envelope = envelope();
    envelope.payload = serde_json::json!({"answer": answer});
    let mut message = unsigned(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope.to_json(),
        Utc::now(),
    );
    authority().sign(&mut message).unwrap();
    message
}

async fn push(
    client: &reqwest::Client,
    url: &str,
    message: &SnsMessage,
) -> (u16, serde_json::Value) {
    let response = client
        .post(url)
        .timeout(Duration::from_secs(60))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message.message_type.as_str())
        .header("x-amz-sns-topic-arn", &message.topic_arn)
        .body(message.to_http_json())
        .send()
        .await
        .expect("the bridge answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (status, body)
}

/// Invocations and function errors of the handler so far.
fn handler_calls(host: &LambdaHost) -> (u64, u64) {
    host.metrics(HANDLER)
        .map_or((0, 0), |metrics| (metrics.invocations, metrics.errors))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_and_handler_run_for_real_in_the_lambda_host() {
    let bridge_root = TaskRoot::new(env!("CARGO_BIN_EXE_sns-bridge"));
    let handler_root = TaskRoot::new(env!("CARGO_BIN_EXE_bridge-test-handler"));
    let _logs = LogsOnFailure(vec![bridge_root.log(), handler_root.log()]);
    let certificate = bridge_root.dir.path().join("local-signing.pem");
    std::fs::write(&certificate, authority().certificate_pem()).unwrap();

    let registry = Arc::new(InMemoryRegistry::new());
    let host = LambdaHost::new(registry.clone(), HostConfig::default());
    let lambda_port = serve(invoke_router(host.clone())).await;
    let url_port = serve(function_url(host.clone())).await;
    let (sns_port, confirmations) = fake_sns();

    registry.put(handler_root.config(HANDLER, Duration::from_secs(10), &[]));
    registry.put(bridge_root.config(
        BRIDGE,
        Duration::from_secs(15),
        &[
            ("POSTOFFICE_HANDLER_FUNCTION", HANDLER.to_owned()),
            ("POSTOFFICE_ALLOWED_TOPIC_ARNS", TOPIC_ARN.to_owned()),
            ("POSTOFFICE_INVOKE_TIMEOUT_MS", "14000".to_owned()),
            (
                "POSTOFFICE_LOCAL_TRUSTED_CERT",
                certificate.display().to_string(),
            ),
            (
                "AWS_ENDPOINT_URL_LAMBDA",
                format!("http://127.0.0.1:{lambda_port}"),
            ),
            (
                "AWS_ENDPOINT_URL_SNS",
                format!("http://127.0.0.1:{sns_port}"),
            ),
        ],
    ));
    registry.put_url(URL_ID, BRIDGE);

    let client = postoffice::https::client_builder().build().unwrap();
    let url = format!("http://127.0.0.1:{url_port}/");

    // The first request starts both functions (cold starts); the handler's function errors
    // reach the bridge as Lambda answers them: 200 + `X-Amz-Function-Error: Unhandled`.
    let table = [
        ("handled", 200, "handled"),
        ("non-retryable", 400, "handler_non_retryable"),
        ("retryable", 500, "handler_failed"),
        ("handled", 200, "handled"),
    ];
    for (answer, status, reason) in table {
        let (got, body) = push(&client, &url, &notification(answer)).await;
        assert_eq!(
            (got, body["reason"].as_str()),
            (status, Some(reason)),
            "{answer}: {body}"
        );
    }
    assert_eq!(handler_calls(&host), (4, 2), "through the Invoke API");

    let mut foreign = notification("handled");
    foreign.topic_arn = OTHER_ACCOUNT_TOPIC_ARN.to_owned();
    authority().sign(&mut foreign).unwrap();
    let (status, body) = push(&client, &url, &foreign).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("topic_not_allowed"))
    );

    let mut confirmation = unsigned(
        MessageType::SubscriptionConfirmation,
        TOPIC_ARN,
        "You have chosen to subscribe",
        Utc::now(),
    );
    authority().sign(&mut confirmation).unwrap();
    let (status, body) = push(&client, &url, &confirmation).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("subscription_confirmed")),
        "{body}"
    );
    let form = confirmations
        .recv_timeout(Duration::from_secs(5))
        .expect("the bridge called SNS ConfirmSubscription");
    assert!(form.contains("Action=ConfirmSubscription"), "{form}");
    assert!(form.contains("Token=tok-123"), "{form}");
    assert!(
        form.contains(
            "TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Apostoffice-COOKING_REQUESTED"
        ),
        "{form}"
    );
    assert!(form.contains("AuthenticateOnUnsubscribe=true"), "{form}");
    assert_eq!(
        handler_calls(&host),
        (4, 2),
        "neither a refused topic nor a confirmation invokes the handler"
    );
    assert_eq!(host.metrics(BRIDGE).map(|m| m.invocations), Some(6));
    host.shutdown();
}
