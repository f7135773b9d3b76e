//! The Lambda Runtime API one instance talks to
//! ([runtime API](https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)): each instance
//! gets its own listener on 127.0.0.1, so `AWS_LAMBDA_RUNTIME_API` is `127.0.0.1:PORT` as in
//! Lambda and the port identifies the instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::sync::{Mutex, mpsc};

use crate::invoke::MAX_SYNC_PAYLOAD_BYTES;

/// Bodies past this are refused by the server itself; 6 MB responses are refused with a
/// function error (`Function.ResponseSizeTooLarge`) below it.
const RUNTIME_BODY_LIMIT: usize = 4 * MAX_SYNC_PAYLOAD_BYTES;

/// One event handed to the instance.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub timeout: Duration,
    pub invoked_function_arn: String,
    pub trace_id: String,
    /// Decoded JSON of `X-Amz-Client-Context`.
    pub client_context: Option<String>,
}

/// What the instance told the Runtime API, in order.
#[derive(Debug)]
pub(crate) enum RuntimeEvent {
    /// First `next` call: the runtime finished its init.
    Initialized {
        at: Instant,
    },
    /// The event was handed to the runtime: the invocation's clock starts.
    Delivered {
        request_id: String,
        at: Instant,
    },
    Response {
        request_id: String,
        body: Bytes,
    },
    Error {
        request_id: String,
        error_type: Option<String>,
        body: Bytes,
    },
    InitError {
        error_type: Option<String>,
        body: Bytes,
    },
}

struct RuntimeApiState {
    invocations: Mutex<mpsc::Receiver<Invocation>>,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    current: std::sync::Mutex<Option<String>>,
    initialized: AtomicBool,
}

/// The instance side of the channel pair: send invocations, read what the runtime said.
pub(crate) struct RuntimeApiChannels {
    pub invocations: mpsc::Sender<Invocation>,
    pub events: mpsc::UnboundedReceiver<RuntimeEvent>,
}

/// Binds a listener for one instance and serves it until `server` is aborted.
pub(crate) async fn start() -> std::io::Result<(
    std::net::SocketAddr,
    tokio::task::JoinHandle<()>,
    RuntimeApiChannels,
)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    let (invocations, invocations_in) = mpsc::channel(1);
    let (events_out, events) = mpsc::unbounded_channel();
    let state = Arc::new(RuntimeApiState {
        invocations: Mutex::new(invocations_in),
        events: events_out,
        current: std::sync::Mutex::new(None),
        initialized: AtomicBool::new(false),
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(DefaultBodyLimit::max(RUNTIME_BODY_LIMIT))
        .with_state(state);
    // Small request/response exchanges: Nagle's algorithm would only add latency.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((
        address,
        server,
        RuntimeApiChannels {
            invocations,
            events,
        },
    ))
}

async fn next(State(state): State<Arc<RuntimeApiState>>) -> Response {
    if !state.initialized.swap(true, Ordering::SeqCst) {
        let _ = state
            .events
            .send(RuntimeEvent::Initialized { at: Instant::now() });
    }
    // One invocation at a time per instance: a runtime only asks for the next once it answered.
    let invocation = state.invocations.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.ShuttingDown",
            "the instance is retiring",
        );
    };
    let deadline = SystemTime::now() + invocation.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    *state.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(invocation.request_id.clone());
    let _ = state.events.send(RuntimeEvent::Delivered {
        request_id: invocation.request_id.clone(),
        at: Instant::now(),
    });
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        &invocation.invoked_function_arn,
    );
    set("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(client_context) = &invocation.client_context {
        set("lambda-runtime-client-context", client_context);
    }
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (StatusCode::OK, headers, invocation.payload).into_response()
}

/// Takes the current request id if it is `request_id`.
fn finish(state: &RuntimeApiState, request_id: &str) -> bool {
    let mut current = state.current.lock().unwrap_or_else(|e| e.into_inner());
    if current.as_deref() == Some(request_id) {
        *current = None;
        true
    } else {
        false
    }
}

async fn response(
    State(state): State<Arc<RuntimeApiState>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    if !finish(&state, &request_id) {
        return invalid_request_id();
    }
    let too_large = body.len() > MAX_SYNC_PAYLOAD_BYTES;
    let _ = state
        .events
        .send(RuntimeEvent::Response { request_id, body });
    if too_large {
        return runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "the response exceeds the 6 MB quota",
        );
    }
    accepted()
}

async fn invocation_error(
    State(state): State<Arc<RuntimeApiState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !finish(&state, &request_id) {
        return invalid_request_id();
    }
    let _ = state.events.send(RuntimeEvent::Error {
        request_id,
        error_type: error_type_header(&headers),
        body,
    });
    accepted()
}

async fn init_error(
    State(state): State<Arc<RuntimeApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.initialized.load(Ordering::SeqCst) {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init/error after the runtime asked for its first invocation",
        );
    }
    let _ = state.events.send(RuntimeEvent::InitError {
        error_type: error_type_header(&headers),
        body,
    });
    accepted()
}

fn error_type_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn invalid_request_id() -> Response {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    (status, axum::Json(body)).into_response()
}
