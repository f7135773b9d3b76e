//! The SDK adapters against a scripted local HTTP endpoint (`AWS_ENDPOINT_URL_*`-style endpoint
//! override): how Lambda's real answers become `InvokeAnswer`s, and that the SDK tries once.

use std::io::Write as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use postoffice::endpoint::SubscriptionConfirmer;
use postoffice::endpoint::aws::SnsConfirmer;
use postoffice_test_support::{http_response, read_http_request_blocking};
use sns_bridge::invoke::{LambdaInvoker, decide_invocation};
use sns_bridge::{Decision, HandlerInvoker, InvokeAnswer};

/// One canned response per request: `(status, headers, body)`; records each request line and body.
struct ScriptedEndpoint {
    url: String,
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

fn scripted(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> ScriptedEndpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let request = read_http_request_blocking(&mut stream).unwrap_or_default();
            seen.lock()
                .unwrap()
                .push((request.request_line.clone(), request.body_text()));
            let headers = [headers, &[("connection", "close")]].concat();
            let _ = stream.write_all(&http_response(
                status,
                "Scripted",
                &headers,
                body.as_bytes(),
            ));
        }
    });
    ScriptedEndpoint { url, requests }
}

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "local", "local", None, None, "test",
        ))
        .load()
        .await
}

async fn invoke(endpoint: &ScriptedEndpoint) -> InvokeAnswer {
    let invoker = LambdaInvoker::new(&sdk_config(&endpoint.url).await, Duration::from_secs(5));
    invoker
        .invoke("kitchen", br#"{"envelope":{}}"#.to_vec())
        .await
}

#[tokio::test]
async fn a_lambda_function_error_is_read_from_the_header_and_classified() {
    let endpoint = scripted(
        200,
        &[
            ("X-Amz-Function-Error", "Unhandled"),
            ("content-type", "application/json"),
        ],
        r#"{"errorType":"NonRetryable","errorMessage":"unknown recipe"}"#,
    );
    let answer = invoke(&endpoint).await;
    assert_eq!(decide_invocation(answer).0, Decision::HandlerRejected);
    let requests = endpoint.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0]
            .0
            .starts_with("POST /2015-03-31/functions/kitchen/invocations"),
        "{}",
        requests[0].0
    );
    assert_eq!(requests[0].1, r#"{"envelope":{}}"#);
}

#[tokio::test]
async fn a_successful_invoke_is_handled() {
    let endpoint = scripted(
        200,
        &[("content-type", "application/json")],
        r#"{"ok":true}"#,
    );
    assert_eq!(
        invoke(&endpoint).await,
        InvokeAnswer::Completed {
            function_error: None,
            payload: br#"{"ok":true}"#.to_vec()
        }
    );
}

#[tokio::test]
async fn throttling_is_throttled_and_not_retried_by_the_sdk() {
    let endpoint = scripted(
        429,
        &[
            ("x-amzn-ErrorType", "TooManyRequestsException"),
            ("content-type", "application/json"),
        ],
        r#"{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}"#,
    );
    let answer = invoke(&endpoint).await;
    assert!(
        matches!(answer, InvokeAnswer::Throttled { .. }),
        "{answer:?}"
    );
    assert_eq!(decide_invocation(answer).0.status(), 503);
    assert_eq!(endpoint.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_429_without_an_error_type_is_throttled_too() {
    let endpoint = scripted(429, &[("content-type", "text/plain")], "Rate Exceeded.");
    let answer = invoke(&endpoint).await;
    assert!(
        matches!(answer, InvokeAnswer::Throttled { .. }),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_lambda_service_error_is_an_invoke_failure_tried_once() {
    let endpoint = scripted(
        500,
        &[
            ("x-amzn-ErrorType", "ServiceException"),
            ("content-type", "application/json"),
        ],
        r#"{"Type":"Service","message":"internal"}"#,
    );
    let answer = invoke(&endpoint).await;
    assert!(matches!(answer, InvokeAnswer::Failed { .. }), "{answer:?}");
    assert_eq!(
        endpoint.requests.lock().unwrap().len(),
        1,
        "one attempt only"
    );
}

#[tokio::test]
async fn confirm_subscription_sends_topic_and_token_only_to_the_sns_api() {
    let endpoint = scripted(
        200,
        &[("content-type", "text/xml")],
        "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:t:sub-1</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>",
    );
    let confirmer = SnsConfirmer::new(&sdk_config(&endpoint.url).await);
    let arn = confirmer
        .confirm_subscription("arn:aws:sns:eu-west-1:123456789012:t", "tok-1")
        .await
        .unwrap();
    assert_eq!(arn, "arn:aws:sns:eu-west-1:123456789012:t:sub-1");
    let requests = endpoint.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let form = &requests[0].1;
    for part in [
        "Action=ConfirmSubscription",
        "TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3At",
        "Token=tok-1",
        "AuthenticateOnUnsubscribe=true",
    ] {
        assert!(form.contains(part), "{part} in {form}");
    }
}
