//! An SDK client (SNS `Publish`) sending through `postoffice::aws_http` to a scripted local HTTP
//! server: what goes on the wire, how answers and failures come back to the SDK.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::config::timeout::TimeoutConfig;
use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sns::error::SdkError;
use aws_sdk_sns::operation::publish::PublishError;
use postoffice_test_support::{ReceivedRequest, read_http_request, write_http_response};
use tokio::net::{TcpListener, TcpStream};

const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";

/// What the server answers each request with.
#[derive(Clone, Copy)]
enum Answer {
    Respond {
        status: u16,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
    },
    /// Reads the request and never answers.
    Hang,
}

struct Server {
    url: String,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
}

async fn serve(answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move { answer_one(stream, answer, recorder).await });
        }
    });
    Server { url, received }
}

async fn answer_one(
    mut stream: TcpStream,
    answer: Answer,
    recorder: Arc<Mutex<Vec<ReceivedRequest>>>,
) {
    let Some(request) = read_http_request(&mut stream).await else {
        return;
    };
    recorder.lock().unwrap().push(request);
    match answer {
        Answer::Respond {
            status,
            headers,
            body,
        } => {
            let _ = write_http_response(&mut stream, status, "Scripted", headers, body.as_bytes())
                .await;
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
}

fn client(endpoint: &str, timeouts: TimeoutConfig) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

async fn publish(
    client: &aws_sdk_sns::Client,
) -> Result<String, SdkError<PublishError, HttpResponse>> {
    client
        .publish()
        .topic_arn(TOPIC_ARN)
        .message(r#"{"event":"COOKING_REQUESTED"}"#)
        .send()
        .await
        .map(|output| output.message_id().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_signed_request_goes_out_and_the_answer_is_parsed() {
    let server = serve(Answer::Respond {
        status: 200,
        headers: &[("content-type", "text/xml"), ("x-amzn-requestid", "req-1")],
        body: "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>msg-1</MessageId></PublishResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></PublishResponse>",
    })
    .await;
    let message_id = publish(&client(&server.url, TimeoutConfig::disabled()))
        .await
        .unwrap();
    assert_eq!(message_id, "msg-1");

    let received = server.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.request_line, "POST / HTTP/1.1");
    assert_eq!(
        request.header("host"),
        Some(server.url.trim_start_matches("http://"))
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let authorization = request.header("authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/"),
        "{authorization}"
    );
    assert!(authorization.contains("/eu-west-1/sns/aws4_request"));
    assert!(request.header("x-amz-date").is_some());
    assert_eq!(
        request.header("content-length"),
        Some(request.body.len().to_string().as_str())
    );
    let body = request.body_text();
    for part in [
        "Action=Publish",
        "TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Apostoffice-COOKING_REQUESTED",
        "Message=%7B%22event%22%3A%22COOKING_REQUESTED%22%7D",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
}

#[tokio::test]
async fn an_error_status_is_a_service_error_with_the_raw_response() {
    let server = serve(Answer::Respond {
        status: 404,
        headers: &[("content-type", "text/xml"), ("x-amzn-requestid", "req-2")],
        body: "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>req-2</RequestId></ErrorResponse>",
    })
    .await;
    let error = publish(&client(&server.url, TimeoutConfig::disabled()))
        .await
        .unwrap_err();
    let SdkError::ServiceError(context) = error else {
        panic!("not a service error: {error:?}");
    };
    assert!(
        context.err().is_not_found_exception(),
        "{:?}",
        context.err()
    );
    assert_eq!(context.raw().status().as_u16(), 404);
    assert_eq!(
        context.raw().headers().get("x-amzn-requestid"),
        Some("req-2")
    );
    assert!(
        std::str::from_utf8(context.raw().body().bytes().unwrap())
            .unwrap()
            .contains("Topic does not exist")
    );
}

#[tokio::test]
async fn a_refused_connection_is_an_io_dispatch_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = publish(&client(&url, TimeoutConfig::disabled()))
        .await
        .unwrap_err();
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("not a dispatch failure: {error:?}");
    };
    assert!(failure.is_io(), "{error:?}");
}

#[tokio::test]
async fn the_read_timeout_ends_a_request_without_an_answer() {
    let server = serve(Answer::Hang).await;
    let timeouts = TimeoutConfig::builder()
        .read_timeout(Duration::from_millis(300))
        .build();
    let started = Instant::now();
    let error = publish(&client(&server.url, timeouts)).await.unwrap_err();
    let elapsed = started.elapsed();
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("not a dispatch failure: {error:?}");
    };
    assert!(failure.is_timeout(), "{error:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(server.received.lock().unwrap().len(), 1);
}
