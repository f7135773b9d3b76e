//! The `example-kitchen` binary against a fake Lambda Runtime API: proves `main.rs`, the library's
//! `run` and the error mapping the bridge relies on (`errorType` `Retryable` / `NonRetryable`).

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postoffice_test_support::{read_http_request, write_http_response};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

const COOKING_REQUESTED: &[u8] = include_bytes!("fixtures/cooking_requested.json");
const COOKING_FINISHED: &[u8] = include_bytes!("fixtures/cooking_finished.json");

/// What the function posted back: `response` or `error`, request id, body.
type Answer = (String, String, Value);

#[derive(Default)]
struct RuntimeApi {
    invocations: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<Answer>>,
}

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(api: Arc<RuntimeApi>, mut stream: TcpStream) {
    let Some(request) = read_http_request(&mut stream).await else {
        return;
    };
    let (method, path) = (request.method.as_str(), request.path.as_str());

    if method == "GET" && path.ends_with("/runtime/invocation/next") {
        let next = api.invocations.lock().unwrap().pop_front();
        let Some((id, payload)) = next else {
            // Nothing left: keep the function waiting, as Lambda does between invocations.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        };
        let headers = [
            ("content-type", "application/json"),
            ("lambda-runtime-aws-request-id", id.as_str()),
            ("lambda-runtime-deadline-ms", "4102444800000"),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:example-kitchen",
            ),
            ("connection", "close"),
        ];
        let body = payload.to_string();
        let _ = write_http_response(&mut stream, 200, "OK", &headers, body.as_bytes()).await;
    } else if method == "POST" {
        // /2018-06-01/runtime/invocation/{id}/response or …/error
        let mut segments = path.rsplit('/');
        let kind = segments.next().unwrap_or_default().to_owned();
        let id = segments.next().unwrap_or_default().to_owned();
        let value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        api.answers.lock().unwrap().push((kind, id, value));
        let _ = write_http_response(&mut stream, 202, "Accepted", CLOSE, b"").await;
    } else {
        let _ = write_http_response(&mut stream, 404, "Not Found", CLOSE, b"").await;
    }
    let _ = stream.shutdown().await;
}

const CLOSE: &[(&str, &str)] = &[("connection", "close")];

async fn start_runtime_api(invocations: Vec<(String, Value)>) -> (Arc<RuntimeApi>, String) {
    let api = Arc::new(RuntimeApi::default());
    api.invocations.lock().unwrap().extend(invocations);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = api.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(server.clone(), stream));
        }
    });
    (api, address)
}

fn start_function(runtime_api: &str, recipes_dir: &Path) -> Function {
    let child = Command::new(env!("CARGO_BIN_EXE_example-kitchen"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "example-kitchen")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        // Nothing in these invocations publishes; a stray call must not leave the machine.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(
            "POSTOFFICE_TOPIC_ARN_PREFIX",
            "arn:aws:sns:eu-west-1:123456789012:postoffice-",
        )
        .env("KITCHEN_RECIPES_DIR", recipes_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("example-kitchen starts");
    Function(child)
}

async fn wait_for_answers(api: &RuntimeApi, count: usize) -> Vec<Answer> {
    for _ in 0..300 {
        let answers = api.answers.lock().unwrap().clone();
        if answers.len() >= count {
            return answers;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the function answered {:?} within 30 s, expected {count} answers",
        api.answers.lock().unwrap()
    );
}

#[tokio::test]
async fn the_binary_answers_the_runtime_api_with_the_bridge_error_types() {
    let request: Value = serde_json::from_slice(COOKING_REQUESTED).unwrap();
    let mut invalid = request.clone();
    invalid["envelope"]["payload"]["program"] = json!("microwave");
    let finished: Value = serde_json::from_slice(COOKING_FINISHED).unwrap();

    let (api, address) = start_runtime_api(vec![
        ("invalid".into(), invalid),
        ("store-down".into(), request),
        ("finished".into(), finished),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let _function = start_function(&address, &dir.path().join("no-recipes-here"));

    let answers = wait_for_answers(&api, 3).await;
    assert_eq!(answers[0].0, "error");
    assert_eq!(answers[0].1, "invalid");
    assert_eq!(answers[0].2["errorType"], "NonRetryable");
    assert!(
        answers[0].2["errorMessage"]
            .as_str()
            .unwrap()
            .contains("/program"),
        "{:?}",
        answers[0]
    );

    assert_eq!(answers[1].0, "error");
    assert_eq!(answers[1].1, "store-down");
    assert_eq!(answers[1].2["errorType"], "Retryable");
    assert!(
        answers[1].2["errorMessage"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{:?}",
        answers[1]
    );

    assert_eq!(answers[2].0, "response");
    assert_eq!(answers[2].1, "finished");
    assert_eq!(
        answers[2].2,
        json!({
            "event_id": "2e4a6c8e-0b1d-4f3a-8c5e-9a1b3c5d7e9f",
            "duplicate": false,
            "published": []
        })
    );
}
