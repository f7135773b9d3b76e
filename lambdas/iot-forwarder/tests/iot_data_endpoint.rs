//! The IoT data plane adapter against a local HTTP endpoint speaking the iot-data Publish API
//! (`POST /topics/{topic}?qos=1`), the way the local post office and moto serve it.

use std::sync::{Arc, Mutex};

use aws_sdk_iotdataplane::config::retry::RetryConfig;
use aws_sdk_iotdataplane::config::{BehaviorVersion, Credentials, Region};
use iot_forwarder::{Forwarder, IotDataPublisher, IotPublish, IotPublishError};
use postoffice::Topic;
use postoffice::handler::testing::RecordingPublisher;
use postoffice::handler::{Consumer, ErrorKind};
use postoffice_test_support::{ReceivedRequest, read_http_request, write_http_response};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

const COOKING_REPLIED: &[u8] = include_bytes!("fixtures/cooking_replied.json");

/// How the endpoint answers: HTTP status and, for errors, the AWS error type.
type Answer = (u16, Option<&'static str>);

struct Endpoint {
    url: String,
    requests: Arc<Mutex<Vec<ReceivedRequest>>>,
}

impl Endpoint {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = recorded.clone();
                tokio::spawn(async move { serve(stream, answer, recorded).await });
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<ReceivedRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn publisher(&self) -> IotDataPublisher {
        let config = aws_sdk_iotdataplane::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(postoffice::aws_http::http_client())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(&self.url)
            // One request per publish, so the test sees exactly what the handler's attempt did.
            .retry_config(RetryConfig::disabled())
            .build();
        IotDataPublisher::new(aws_sdk_iotdataplane::Client::from_conf(config))
    }
}

async fn serve(mut stream: TcpStream, answer: Answer, recorded: Arc<Mutex<Vec<ReceivedRequest>>>) {
    let Some(request) = read_http_request(&mut stream).await else {
        return;
    };
    recorded.lock().unwrap().push(request);

    let (status, error_type) = answer;
    let mut headers = vec![("content-type", "application/json")];
    let body = match error_type {
        Some(kind) => {
            headers.push(("x-amzn-ErrorType", kind));
            format!(r#"{{"message":"answered {status} by the test endpoint"}}"#)
        }
        None => String::new(),
    };
    headers.push(("connection", "close"));
    let _ = write_http_response(&mut stream, status, "Test", &headers, body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn topic() -> Topic {
    Topic::parse("COOKING_REPLIED/h-1/oven-1").unwrap()
}

#[tokio::test]
async fn publishes_to_the_topic_with_qos_1_and_the_exact_body() {
    let endpoint = Endpoint::start((200, None)).await;
    let body = br#"{"event":"COOKING_REPLIED"}"#.to_vec();

    endpoint
        .publisher()
        .publish(&topic(), body.clone())
        .await
        .unwrap();

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    let (path, query) = request.path.split_once('?').expect("a query string");
    // `{topic}` is one URI label, so the SDK percent-encodes its slashes; endpoints decode it.
    assert_eq!(path, "/topics/COOKING_REPLIED%2Fh-1%2Foven-1");
    assert_eq!(query, "qos=1");
    assert_eq!(request.body, body);
}

#[tokio::test]
async fn maps_iot_core_errors() {
    for (answer, expected) in [
        ((429, Some("ThrottlingException")), "throttled"),
        ((500, Some("InternalFailureException")), "service"),
        ((503, None), "service"),
        ((401, Some("UnauthorizedException")), "service"),
        ((400, Some("InvalidRequestException")), "rejected"),
    ] {
        let endpoint = Endpoint::start(answer).await;
        let error = endpoint
            .publisher()
            .publish(&topic(), b"{}".to_vec())
            .await
            .unwrap_err();
        let kind = match &error {
            IotPublishError::Throttled(_) => "throttled",
            IotPublishError::Service(_) => "service",
            IotPublishError::Transport(_) => "transport",
            IotPublishError::Rejected(_) => "rejected",
        };
        assert_eq!(kind, expected, "{answer:?}: {error}");
        assert_eq!(error.is_permanent(), expected == "rejected");
        assert_eq!(endpoint.requests().len(), 1);
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let endpoint = Endpoint {
        url,
        requests: Arc::default(),
    };
    let error = endpoint
        .publisher()
        .publish(&topic(), b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(error, IotPublishError::Transport(_)), "{error}");
    assert!(!error.is_permanent());
}

#[tokio::test]
async fn the_forwarder_lambda_core_maps_answers_to_retryable_and_permanent() {
    let invocation: serde_json::Value = serde_json::from_slice(COOKING_REPLIED).unwrap();
    for (answer, kind) in [
        ((429, Some("ThrottlingException")), ErrorKind::Retryable),
        ((400, Some("InvalidRequestException")), ErrorKind::Permanent),
    ] {
        let endpoint = Endpoint::start(answer).await;
        let consumer = Consumer::new(
            Forwarder::new(endpoint.publisher()),
            Arc::new(RecordingPublisher::default()),
            "arn:aws:sns:eu-west-1:123456789012:postoffice-",
        );
        let error = consumer
            .handle_invocation(invocation.clone())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
    }

    let endpoint = Endpoint::start((200, None)).await;
    let consumer = Consumer::new(
        Forwarder::new(endpoint.publisher()),
        Arc::new(RecordingPublisher::default()),
        "arn:aws:sns:eu-west-1:123456789012:postoffice-",
    );
    consumer
        .handle_invocation(invocation.clone())
        .await
        .unwrap();
    let expected: postoffice::invocation::HandlerInvocation =
        serde_json::from_value(invocation).unwrap();
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        postoffice::Envelope::from_json(&requests[0].body).unwrap(),
        expected.envelope
    );
}
