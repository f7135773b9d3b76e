//! The host over HTTP: function URLs, and the Invoke route as aws-sdk-lambda sees it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::operation::RequestId as _;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    InvocationType as SdkInvocationType, LogType, ThrottleReason as SdkThrottleReason,
};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;
use bytes::Bytes;
use postoffice_lambda_host::invoke_api::{InvokeGuard, invoke_router, invoke_router_with_guard};
use postoffice_lambda_host::{LambdaHost, MAX_SYNC_PAYLOAD_BYTES};
use serde_json::json;
use support::*;

fn url_request(action: serde_json::Value) -> http::Request<Bytes> {
    http::Request::builder()
        .method("GET")
        .uri("/")
        .header("x-test-action", action.to_string())
        .body(Bytes::new())
        .unwrap()
}

#[tokio::test]
async fn function_url_events_have_the_payload_format_2_shape() {
    let root = TaskRoot::new();
    let (host, registry) = host(vec![root.config("bridge")]);
    registry.put_url("urlid123", "bridge");
    let request = http::Request::builder()
        .method("POST")
        .uri("/sns/notify?topic=a&topic=b")
        .header("content-type", "text/plain; charset=utf-8")
        .header("user-agent", "Amazon Simple Notification Service Agent")
        .header("cookie", "session=1; theme=dark")
        .body(Bytes::from_static(b"hello"))
        .unwrap();
    let response = host.invoke_url("urlid123", request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let event = json(response.body())["event"].clone();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["rawPath"], "/sns/notify");
    assert_eq!(event["rawQueryString"], "topic=a&topic=b");
    assert_eq!(event["queryStringParameters"], json!({"topic": "a,b"}));
    assert_eq!(event["cookies"], json!(["session=1", "theme=dark"]));
    assert_eq!(event["body"], "hello");
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(
        event["headers"]["user-agent"],
        "Amazon Simple Notification Service Agent"
    );
    let context = &event["requestContext"];
    assert_eq!(context["accountId"], ACCOUNT);
    assert_eq!(context["apiId"], "urlid123");
    assert_eq!(
        context["domainName"],
        "urlid123.lambda-url.eu-west-1.on.aws"
    );
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/sns/notify");
    assert_eq!(
        context["http"]["userAgent"],
        "Amazon Simple Notification Service Agent"
    );
    assert_eq!(context["routeKey"], "$default");
    assert_eq!(context["stage"], "$default");
    assert!(context["timeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    let request_id = context["requestId"].as_str().unwrap();
    assert_eq!(json(response.body())["context"]["request_id"], request_id);

    let binary = http::Request::builder()
        .method("PUT")
        .uri("/")
        .header("content-type", "application/octet-stream")
        .body(Bytes::from_static(&[0xff, 0x00, 0x10]))
        .unwrap();
    let event = json(host.invoke_url("urlid123", binary).await.body())["event"].clone();
    assert_eq!(
        (event["body"].as_str(), event["isBase64Encoded"].as_bool()),
        (Some("/wAQ"), Some(true))
    );

    let unknown = host.invoke_url("nosuchid", url_request(json!({}))).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn function_url_answers_map_to_http_responses() {
    let root = TaskRoot::new();
    let (host, registry) = host(vec![root.config("bridge")]);
    registry.put_url("urlid123", "bridge");

    let custom = host
        .invoke_url(
            "urlid123",
            url_request(json!({"action": "respond", "value": {
                "statusCode": 400,
                "headers": {"Content-Type": "text/plain", "X-Reason": "bad-signature"},
                "body": "rejected",
                "cookies": ["a=1; Max-Age=60", "b=2"],
            }})),
        )
        .await;
    assert_eq!(custom.status(), 400);
    assert_eq!(custom.headers()["content-type"], "text/plain");
    assert_eq!(custom.headers()["x-reason"], "bad-signature");
    let cookies: Vec<_> = custom.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Max-Age=60", "b=2"]);
    assert_eq!(custom.body().as_ref(), b"rejected");

    let plain = host
        .invoke_url(
            "urlid123",
            url_request(json!({"action": "respond", "value": "Hello, world!"})),
        )
        .await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "application/json");
    assert_eq!(plain.body().as_ref(), br#""Hello, world!""#);

    let binary = host
        .invoke_url(
            "urlid123",
            url_request(json!({"action": "respond", "value": {
                "statusCode": 200, "body": "AAEC", "isBase64Encoded": true,
            }})),
        )
        .await;
    assert_eq!(binary.body().as_ref(), &[0, 1, 2]);

    let failed = host
        .invoke_url(
            "urlid123",
            url_request(json!({"action": "error", "error_type": "Retryable", "message": "later"})),
        )
        .await;
    assert_eq!(failed.status(), 502);
    assert!(
        !String::from_utf8_lossy(failed.body()).contains("later"),
        "function errors stay private"
    );

    let malformed = host
        .invoke_url(
            "urlid123",
            url_request(json!({"action": "respond", "value": {"statusCode": "teapot"}})),
        )
        .await;
    assert_eq!(malformed.status(), 502);

    let too_large = http::Request::builder()
        .method("POST")
        .uri("/")
        .body(Bytes::from(vec![b'x'; MAX_SYNC_PAYLOAD_BYTES + 1]))
        .unwrap();
    assert_eq!(host.invoke_url("urlid123", too_large).await.status(), 413);
}

#[tokio::test]
async fn function_url_timeouts_are_502_and_throttles_429() {
    let root = TaskRoot::new();
    let mut slow = root.config("slow");
    slow.timeout = Duration::from_secs(1);
    let mut closed = root.config("closed");
    closed.reserved_concurrency = Some(0);
    let (host, registry) = host(vec![slow, closed]);
    registry.put_url("slowurl", "slow");
    registry.put_url("closedurl", "closed");
    let timed_out = host
        .invoke_url(
            "slowurl",
            url_request(json!({"action": "sleep", "ms": 3000})),
        )
        .await;
    assert_eq!(timed_out.status(), 502);
    assert_eq!(host.metrics("slow").unwrap().timeouts, 1);
    let throttled = host.invoke_url("closedurl", url_request(json!({}))).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(host.metrics("closed").unwrap().throttles, 1);
}

/// aws-sdk-lambda over plain HTTP to the Invoke route.
#[derive(Clone)]
struct PlainHttp(PlainClient);

impl std::fmt::Debug for PlainHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainHttp")
    }
}

impl HttpConnector for PlainHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            let body = Bytes::copy_from_slice(body.bytes().unwrap_or_default());
            let response = send(&client, http::Request::from_parts(parts, body))
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

impl HttpClient for PlainHttp {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

fn sdk_client(endpoint: &str) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new(REGION))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "AKID", "SECRET", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .http_client(SharedHttpClient::new(PlainHttp(plain_client())))
        // Throttles are part of what is tested: no retries.
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

#[tokio::test]
async fn an_sdk_client_gets_typed_results_through_the_invoke_route() {
    let root = TaskRoot::new();
    let mut single = root.config("single");
    single.reserved_concurrency = Some(1);
    let (host, _) = host(vec![root.config("kitchen"), single]);
    let client = sdk_client(&serve(invoke_router(host.clone())).await);

    let ok = client
        .invoke()
        .function_name("kitchen")
        .payload(Blob::new(
            json!({"action": "respond", "value": {"done": true}}).to_string(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status_code(), 200);
    assert_eq!(ok.function_error(), None);
    assert_eq!(ok.executed_version(), Some("$LATEST"));
    assert_eq!(json(ok.payload().unwrap().as_ref()), json!({"done": true}));

    let tailed = client
        .invoke()
        .function_name("kitchen")
        .log_type(LogType::Tail)
        .payload(Blob::new(r#"{"action":"respond","value":1}"#))
        .send()
        .await
        .unwrap();
    let log = base64::engine::general_purpose::STANDARD
        .decode(tailed.log_result().expect("a log result"))
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    let request_id = tailed.request_id().unwrap_or_default().to_owned();
    assert!(
        log.contains(&format!("START RequestId: {request_id}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("test function: respond for {request_id}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("REPORT RequestId: {request_id}")),
        "{log}"
    );

    let failed = client
        .invoke()
        .function_name("arn:aws:lambda:eu-west-1:123456789012:function:kitchen")
        .payload(Blob::new(
            json!({"action": "error", "error_type": "NonRetryable", "message": "no"}).to_string(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status_code(), 200);
    assert_eq!(failed.function_error(), Some("Unhandled"));
    assert_eq!(
        json(failed.payload().unwrap().as_ref())["errorType"],
        "NonRetryable"
    );

    let event = client
        .invoke()
        .function_name("kitchen")
        .invocation_type(SdkInvocationType::Event)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code(), 202);

    let missing = client
        .invoke()
        .function_name("nothing")
        .send()
        .await
        .unwrap_err();
    let missing = missing.into_service_error();
    assert!(
        matches!(missing, InvokeError::ResourceNotFoundException(_)),
        "{missing:?}"
    );
    assert!(
        missing.to_string().contains("Function not found: nothing"),
        "{missing}"
    );

    let too_large = client
        .invoke()
        .function_name("kitchen")
        .payload(Blob::new(vec![b' '; MAX_SYNC_PAYLOAD_BYTES + 1]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(too_large, InvokeError::RequestTooLargeException(_)),
        "{too_large:?}"
    );

    let busy = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .invoke()
                .function_name("single")
                .payload(Blob::new(
                    json!({"action": "sleep", "ms": 1500}).to_string(),
                ))
                .send()
                .await
        })
    };
    wait_until("`single` is busy", Duration::from_secs(10), || {
        host.metrics("single")
            .is_some_and(|m| m.concurrent_executions == 1)
    })
    .await;
    let throttled = client
        .invoke()
        .function_name("single")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match throttled {
        InvokeError::TooManyRequestsException(throttle) => assert_eq!(
            throttle.reason(),
            Some(&SdkThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded)
        ),
        other => panic!("expected a throttle, got {other:?}"),
    }
    assert_eq!(busy.await.unwrap().unwrap().status_code(), 200);
}

#[tokio::test]
async fn the_invoke_route_asks_its_guard_first() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen"), root.config("private")]);
    let guard: InvokeGuard = Arc::new(|_parts, function| {
        if function == "private" {
            Err(Box::new(
                http::Response::builder()
                    .status(403)
                    .header("x-amzn-ErrorType", "AccessDeniedException")
                    .body(Bytes::from_static(br#"{"Message":"not allowed"}"#))
                    .unwrap(),
            ))
        } else {
            Ok(())
        }
    });
    let endpoint = serve(invoke_router_with_guard(host.clone(), guard)).await;
    let client = plain_client();
    let invoke = |function: &str, invocation_type: &str| {
        http::Request::builder()
            .method("POST")
            .uri(format!(
                "{endpoint}/2015-03-31/functions/{function}/invocations"
            ))
            .header("X-Amz-Invocation-Type", invocation_type)
            .body(Bytes::from_static(b"{}"))
            .unwrap()
    };
    let denied = send(&client, invoke("private", "RequestResponse"))
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert_eq!(host.live_instances(), 0);
    let allowed = send(&client, invoke("kitchen", "DryRun")).await.unwrap();
    assert_eq!(allowed.status(), 204);
}

#[allow(dead_code)]
fn _assert_host_is_send_sync(host: LambdaHost) -> impl Send + Sync {
    host
}
