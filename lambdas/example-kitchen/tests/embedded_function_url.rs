//! The `example-kitchen` binary deployed with an embedded bridge (`bridge = { mode = "embedded" }`
//! in the consumer module): run for real in the Lambda host (`postoffice-lambda-host`) behind its
//! own function URL, with the environment the module gives it. Signed SNS requests go over HTTP
//! to the function URL and the handler's answers come back as the bridge's statuses; its replies
//! and subscription confirmations reach a fake SNS (`AWS_ENDPOINT_URL_SNS`). The kitchen's code
//! is the one it runs behind a bridge.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use chrono::{SecondsFormat, Utc};
use postoffice::invocation::{Delivery, HandlerInvocation};
use postoffice_lambda_host::{
    Credentials, FunctionConfig, HostConfig, InMemoryRegistry, InvocationType, LambdaHost,
};
use serde_json::{Value, json};
use support::{
    ACCOUNT, FINISHED, REGION, REQUESTED, TOPIC_ARN_PREFIX, authority, fake_sns, recipes, request,
};

const FUNCTION: &str = "postoffice-kitchen-handler";
const URL_ID: &str = "kitchenembeddedurl";

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
        log_format: postoffice_lambda_host::LogFormat::Text,
        tracing: postoffice_lambda_host::TracingMode::PassThrough,
    });
    registry.put_url(URL_ID, FUNCTION);
    let host = LambdaHost::new(registry, HostConfig::default());
    let url = serve_function_url(host.clone()).await;
    let client = postoffice::https::client_builder().build().unwrap();
    let show_log = || std::fs::read_to_string(&log).unwrap_or_default();

    support::answers_sns_as_the_bridge_does(&client, &url, &sns, &show_log).await;

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
