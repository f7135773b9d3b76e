//! The Invoke API's vocabulary: invocation types, outcomes, throttle reasons, payload quotas, and
//! the error payloads Lambda itself writes for failures the function did not report
//! ([Invoke](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::error::LambdaHostError;

/// Synchronous request and response payload quota: 6 MB
/// ([quotas](https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)).
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Asynchronous (`Event`) request payload quota: 1 MB
/// ([Invoke](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)).
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationType {
    #[default]
    RequestResponse,
    Event,
    DryRun,
}

impl InvocationType {
    /// The `X-Amz-Invocation-Type` header value; absent means `RequestResponse`.
    pub fn parse(header: Option<&str>) -> Result<Self, LambdaHostError> {
        match header {
            None | Some("RequestResponse") => Ok(Self::RequestResponse),
            Some("Event") => Ok(Self::Event),
            Some("DryRun") => Ok(Self::DryRun),
            Some(other) => Err(LambdaHostError::invalid(
                "X-Amz-Invocation-Type",
                format!("{other:?} is not one of Event, RequestResponse, DryRun"),
            )),
        }
    }

    pub fn max_payload_bytes(self) -> usize {
        match self {
            Self::Event => MAX_ASYNC_PAYLOAD_BYTES,
            Self::RequestResponse | Self::DryRun => MAX_SYNC_PAYLOAD_BYTES,
        }
    }

    /// 200, 202 or 204 ([Invoke `StatusCode`](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_ResponseSyntax)).
    pub fn success_status(self) -> u16 {
        match self {
            Self::RequestResponse => 200,
            Self::Event => 202,
            Self::DryRun => 204,
        }
    }
}

impl fmt::Display for InvocationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RequestResponse => "RequestResponse",
            Self::Event => "Event",
            Self::DryRun => "DryRun",
        })
    }
}

/// `TooManyRequestsException.Reason` values the host produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The host-wide instance limit (Lambda's account concurrency) is reached.
    ConcurrentInvocationLimitExceeded,
    /// The function's reserved concurrency is reached.
    ReservedFunctionConcurrentInvocationLimitExceeded,
}

impl ThrottleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConcurrentInvocationLimitExceeded => "ConcurrentInvocationLimitExceeded",
            Self::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
        }
    }
}

impl fmt::Display for ThrottleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Invoke call, as the Invoke API takes it.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// A name, ARN or partial ARN, optionally qualified.
    pub function: String,
    pub qualifier: Option<String>,
    pub invocation_type: InvocationType,
    pub payload: Bytes,
    /// `X-Amz-Client-Context`: base64 of a JSON object, passed to the function decoded.
    pub client_context: Option<String>,
    /// `X-Amz-Log-Type: Tail`: answer the last 4 KB of the invocation's log lines.
    pub log_tail: bool,
    /// `X-Amzn-Trace-Id`: the caller's trace and its sampling decision.
    pub trace_header: Option<String>,
}

impl InvokeRequest {
    pub fn new(function: &str, payload: impl Into<Bytes>, invocation_type: InvocationType) -> Self {
        Self {
            function: function.to_owned(),
            qualifier: None,
            invocation_type,
            payload: payload.into(),
            client_context: None,
            log_tail: false,
            trace_header: None,
        }
    }
}

/// What Invoke answers when the function was found and the request accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutcome {
    /// 200 (`RequestResponse`), 202 (`Event`) or 204 (`DryRun`), function errors included.
    pub status: u16,
    /// `X-Amz-Function-Error`: `Unhandled` when the invocation failed.
    pub function_error: Option<String>,
    /// `X-Amz-Executed-Version`, for `RequestResponse` only.
    pub executed_version: Option<String>,
    /// The function's response, or the error document of a failed invocation.
    pub payload: Bytes,
    /// The invocation's request id (`x-amzn-RequestId`).
    pub request_id: String,
    /// `X-Amz-Log-Result`: base64 of the last 4 KB the invocation appended to the function's
    /// log, when asked for with [`InvokeRequest::log_tail`] (`RequestResponse` only). Lines
    /// of other instances of the function that wrote at the same time may be among them.
    pub log_result: Option<String>,
}

impl InvokeOutcome {
    /// The parsed `{"errorType", "errorMessage"}` of a function error.
    pub fn error_document(&self) -> Option<ErrorDocument> {
        self.function_error.as_ref()?;
        serde_json::from_slice(&self.payload).ok()
    }
}

/// The JSON Lambda answers failed invocations with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorDocument {
    #[serde(rename = "errorType", default)]
    pub error_type: String,
    #[serde(rename = "errorMessage", default)]
    pub error_message: String,
}

impl ErrorDocument {
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A timeout: `Sandbox.Timedout`, "RequestId: ID Error: Task timed out after 3.00 seconds".
    pub fn timed_out(request_id: &str, timeout: Duration) -> Self {
        Self {
            error_type: "Sandbox.Timedout".into(),
            error_message: format!(
                "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                timeout.as_secs_f64()
            ),
        }
    }

    /// The runtime process died: `Runtime.ExitError`.
    pub fn exited(request_id: &str, status: &str) -> Self {
        Self {
            error_type: "Runtime.ExitError".into(),
            error_message: format!(
                "RequestId: {request_id} Error: Runtime exited with error: {status}"
            ),
        }
    }

    /// No executable `bootstrap` in the task root: `Runtime.InvalidEntrypoint`.
    pub fn invalid_entrypoint(request_id: &str, detail: &str) -> Self {
        Self {
            error_type: "Runtime.InvalidEntrypoint".into(),
            error_message: format!("RequestId: {request_id} Error: {detail}"),
        }
    }

    /// The function answered more than 6 MB: `Function.ResponseSizeTooLarge`.
    pub fn response_too_large(size: usize) -> Self {
        Self {
            error_type: "Function.ResponseSizeTooLarge".into(),
            error_message: format!(
                "Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD_BYTES} bytes)."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_error_messages_have_lambdas_shape() {
        let timeout = ErrorDocument::timed_out("r-1", Duration::from_millis(1500));
        assert_eq!(timeout.error_type, "Sandbox.Timedout");
        assert_eq!(
            timeout.error_message,
            "RequestId: r-1 Error: Task timed out after 1.50 seconds"
        );
        let exit = ErrorDocument::exited("r-2", "exit status 1");
        assert_eq!(
            exit.error_message,
            "RequestId: r-2 Error: Runtime exited with error: exit status 1"
        );
    }

    #[test]
    fn invocation_types_parse_and_unknown_ones_are_named() {
        assert_eq!(
            InvocationType::parse(None).unwrap(),
            InvocationType::RequestResponse
        );
        assert_eq!(
            InvocationType::parse(Some("Event")).unwrap(),
            InvocationType::Event
        );
        assert_eq!(
            InvocationType::parse(Some("DryRun"))
                .unwrap()
                .success_status(),
            204
        );
        let error = InvocationType::parse(Some("Later"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"Later\""), "{error}");
    }
}
