//! A Lambda function whose behaviour the event chooses, for driving the host in tests and
//! benchmarks. Direct invocations carry `{"action": ...}`; function URL events carry it as JSON
//! in the `x-test-action` header (default: echo).
//!
//! - `{"action":"echo","env":["NAME",...]}`: the event, the chosen variables, every variable's
//!   name, the working directory and the invocation context.
//! - `{"action":"sleep","ms":N}`
//! - `{"action":"error","error_type":"T","message":"M"}`: a function error.
//! - `{"action":"panic"}`, `{"action":"exit","code":N}`: die mid-invocation.
//! - `{"action":"respond","value":V}`: answer V as it is (a function URL response object...).
//! - `{"action":"large","bytes":N}`: answer a JSON string of N bytes.
//!
//! Init fails when `TEST_FUNCTION_INIT_ERROR` names an error type (posted to `/runtime/init/error`,
//! then exit 1) or `TEST_FUNCTION_INIT_EXIT` an exit code; `TEST_FUNCTION_INIT_SLEEP_MS` slows it.

use std::io::{Read as _, Write as _};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    if let Ok(error_type) = std::env::var("TEST_FUNCTION_INIT_ERROR") {
        report_init_error(&error_type);
        std::process::exit(1);
    }
    if let Some(ms) = std::env::var("TEST_FUNCTION_INIT_SLEEP_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if let Ok(code) = std::env::var("TEST_FUNCTION_INIT_EXIT") {
        std::process::exit(code.parse().unwrap_or(1));
    }
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    let action = if payload.get("rawPath").is_some() {
        payload["headers"]["x-test-action"]
            .as_str()
            .and_then(|spec| serde_json::from_str(spec).ok())
            .unwrap_or_else(|| json!({"action": "echo"}))
    } else {
        payload.clone()
    };
    let name = action["action"].as_str().unwrap_or("echo");
    // Goes to the function's log, as a function's stdout does in Lambda.
    println!("test function: {name} for {}", context.request_id);
    match name {
        "sleep" => {
            let ms = action["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok(json!({ "slept_ms": ms }))
        }
        "error" => Err(Diagnostic {
            error_type: action["error_type"]
                .as_str()
                .unwrap_or("TestError")
                .to_owned(),
            error_message: action["message"].as_str().unwrap_or("").to_owned(),
        }),
        "panic" => panic!("the event asked for a panic"),
        "exit" => std::process::exit(action["code"].as_i64().unwrap_or(1) as i32),
        "respond" => Ok(action["value"].clone()),
        "large" => Ok(Value::String(
            "x".repeat(action["bytes"].as_u64().unwrap_or(0) as usize),
        )),
        _ => {
            let chosen: serde_json::Map<String, Value> = action["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|name| {
                    (
                        name.to_owned(),
                        std::env::var(name).map_or(Value::Null, Value::String),
                    )
                })
                .collect();
            let mut names: Vec<String> = std::env::vars_os()
                .map(|(name, _)| name.to_string_lossy().into_owned())
                .collect();
            names.sort();
            Ok(json!({
                "event": payload,
                "env": chosen,
                "env_names": names,
                "cwd": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
                "pid": std::process::id(),
                "context": {
                    "request_id": context.request_id,
                    "deadline_ms": context.deadline,
                    "invoked_function_arn": context.invoked_function_arn,
                    "xray_trace_id": context.xray_trace_id,
                    "client_context": context.client_context.map(|c| c.custom),
                },
            }))
        }
    }
}

/// Posts to `/runtime/init/error` with a plain HTTP/1.1 request: lambda_runtime reports only
/// handler errors, and a custom runtime reports its own init failures.
fn report_init_error(error_type: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body =
        json!({ "errorType": error_type, "errorMessage": "init failed as the environment asked" })
            .to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nLambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if let Ok(mut stream) = std::net::TcpStream::connect(&api) {
        let _ = stream.write_all(request.as_bytes());
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}
