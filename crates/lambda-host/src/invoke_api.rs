//! The Invoke API's wire protocol: `POST /2015-03-31/functions/{FunctionName}/invocations`
//! parsed into an [`InvokeRequest`], and outcomes and errors rendered as Lambda renders them, so
//! SDK clients get typed results
//! ([Invoke](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)).
//!
//! There is no IAM here: the embedder decides per request with an [`InvokeGuard`], or calls
//! [`LambdaHost::invoke_request`] from its own route with [`parse_request`] and the renderers.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::LambdaHostError;
use crate::host::LambdaHost;
use crate::invoke::{InvocationType, InvokeOutcome, InvokeRequest, MAX_SYNC_PAYLOAD_BYTES};

/// Decides whether a request may invoke the function it names (the path's `FunctionName`):
/// `Err` is answered as it is.
pub type InvokeGuard = Arc<
    dyn Fn(&http::request::Parts, &str) -> Result<(), Box<http::Response<Bytes>>> + Send + Sync,
>;

/// Requests up to this size are read, so that bodies over the 6 MB quota are answered with
/// `RequestTooLargeException` rather than cut off.
const READ_LIMIT: usize = 8 * MAX_SYNC_PAYLOAD_BYTES;

#[derive(Clone)]
struct InvokeApiState {
    host: LambdaHost,
    guard: Option<InvokeGuard>,
}

#[derive(serde::Deserialize)]
struct InvokeQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

/// The Invoke route, open to every caller.
pub fn invoke_router(host: LambdaHost) -> Router {
    router(InvokeApiState { host, guard: None })
}

/// The Invoke route, asking `guard` about every request first.
pub fn invoke_router_with_guard(host: LambdaHost, guard: InvokeGuard) -> Router {
    router(InvokeApiState {
        host,
        guard: Some(guard),
    })
}

fn router(state: InvokeApiState) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .layer(DefaultBodyLimit::max(READ_LIMIT))
        .with_state(state)
}

async fn invoke(
    State(state): State<InvokeApiState>,
    Path(function): Path<String>,
    Query(query): Query<InvokeQuery>,
    request: http::Request<axum::body::Body>,
) -> http::Response<axum::body::Body> {
    let (parts, body) = request.into_parts();
    if let Some(guard) = &state.guard
        && let Err(denied) = guard(&parts, &function)
    {
        return (*denied).map(axum::body::Body::from);
    }
    let body = match axum::body::to_bytes(body, READ_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            return render_error(&LambdaHostError::RequestTooLarge {
                size: READ_LIMIT,
                limit: MAX_SYNC_PAYLOAD_BYTES,
                invocation_type: InvocationType::RequestResponse,
            })
            .map(axum::body::Body::from);
        }
    };
    let answer = match parse_request(&function, query.qualifier, &parts.headers, body) {
        Ok(request) => match state.host.invoke_request(request).await {
            Ok(outcome) => render_outcome(&outcome),
            Err(error) => render_error(&error),
        },
        Err(error) => render_error(&error),
    };
    answer.map(axum::body::Body::from)
}

/// The [`InvokeRequest`] of an Invoke call's path parameter, `Qualifier` and headers.
pub fn parse_request(
    function: &str,
    qualifier: Option<String>,
    headers: &HeaderMap,
    payload: Bytes,
) -> Result<InvokeRequest, LambdaHostError> {
    let header = |name: &str| -> Result<Option<&str>, LambdaHostError> {
        headers
            .get(name)
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| LambdaHostError::invalid(name, "is not ASCII"))
            })
            .transpose()
    };
    let invocation_type = InvocationType::parse(header("x-amz-invocation-type")?)?;
    let log_tail = match header("x-amz-log-type")? {
        None | Some("None") => false,
        Some("Tail") => invocation_type == InvocationType::RequestResponse,
        Some(other) => {
            return Err(LambdaHostError::invalid(
                "X-Amz-Log-Type",
                format!("{other:?} is not one of None, Tail"),
            ));
        }
    };
    Ok(InvokeRequest {
        function: function.to_owned(),
        qualifier,
        invocation_type,
        payload,
        client_context: header("x-amz-client-context")?.map(str::to_owned),
        log_tail,
        trace_header: header("x-amzn-trace-id")?.map(str::to_owned),
    })
}

/// An accepted invocation as Lambda answers it: the status of its invocation type, the
/// function error and executed version headers, and the payload.
pub fn render_outcome(outcome: &InvokeOutcome) -> http::Response<Bytes> {
    let mut response = http::Response::builder()
        .status(outcome.status)
        .header("x-amzn-RequestId", &outcome.request_id);
    if let Some(function_error) = &outcome.function_error {
        response = response.header("X-Amz-Function-Error", function_error);
    }
    if let Some(version) = &outcome.executed_version {
        response = response.header("X-Amz-Executed-Version", version);
    }
    if let Some(log_result) = &outcome.log_result {
        response = response.header("X-Amz-Log-Result", log_result);
    }
    if outcome.status == 200 {
        response = response.header(http::header::CONTENT_TYPE, "application/json");
    }
    response
        .body(outcome.payload.clone())
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A refused invocation as Lambda answers it: `x-amzn-ErrorType` and a JSON body with the
/// fields the SDKs read (`Type`, `message`/`Message`, and `Reason` for throttles).
pub fn render_error(error: &LambdaHostError) -> http::Response<Bytes> {
    let code = error.error_code();
    // Lambda spells the message field per exception, and the SDKs read it that way.
    let message_key = match code {
        "ResourceNotFoundException" | "ServiceException" | "InvalidRuntimeException" => "Message",
        _ => "message",
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "Type".into(),
        if error.status() >= 500 {
            "Service"
        } else {
            "User"
        }
        .into(),
    );
    body.insert(message_key.into(), error.to_string().into());
    if let LambdaHostError::TooManyRequests { reason } = error {
        body.insert("Reason".into(), reason.as_str().into());
    }
    http::Response::builder()
        .status(error.status())
        .header("x-amzn-ErrorType", code)
        .header("x-amzn-RequestId", uuid::Uuid::new_v4().to_string())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(serde_json::Value::Object(body).to_string()))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR))
}

fn plain(status: StatusCode) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoke::ThrottleReason;

    #[test]
    fn throttles_carry_their_reason_and_error_type() {
        let response = render_error(&LambdaHostError::TooManyRequests {
            reason: ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
        });
        assert_eq!(response.status(), 429);
        assert_eq!(
            response.headers()["x-amzn-ErrorType"],
            "TooManyRequestsException"
        );
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            body["Reason"],
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        );
        assert_eq!(body["message"], "Rate Exceeded.");
    }

    #[test]
    fn requests_with_unknown_header_values_are_refused_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-invocation-type", "Sometime".parse().unwrap());
        let error = parse_request("f", None, &headers, Bytes::new()).unwrap_err();
        assert!(
            error.to_string().contains("X-Amz-Invocation-Type"),
            "{error}"
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-log-type", "All".parse().unwrap());
        let error = parse_request("f", None, &headers, Bytes::new()).unwrap_err();
        assert!(error.to_string().contains("X-Amz-Log-Type"), "{error}");
    }

    #[test]
    fn outcomes_carry_lambdas_headers() {
        let response = render_outcome(&InvokeOutcome {
            status: 200,
            function_error: Some("Unhandled".into()),
            executed_version: Some("$LATEST".into()),
            payload: Bytes::from_static(b"{}"),
            request_id: "r-1".into(),
            log_result: None,
        });
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["X-Amz-Function-Error"], "Unhandled");
        assert_eq!(response.headers()["X-Amz-Executed-Version"], "$LATEST");
        assert_eq!(response.headers()["x-amzn-RequestId"], "r-1");
    }
}
