//! Everything the host refuses, each with the Lambda error code and HTTP status the Invoke API
//! answers it with ([Invoke errors](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors)).
//! Function errors are not here: they are a successful Invoke carrying `X-Amz-Function-Error`.

use crate::invoke::{InvocationType, ThrottleReason};

#[derive(Debug, thiserror::Error)]
pub enum LambdaHostError {
    /// `ResourceNotFoundException`, 404.
    #[error("Function not found: {function}")]
    FunctionNotFound { function: String },

    /// No function URL with this id (function URLs answer this with 404 and no Lambda error).
    #[error("Function URL not found: {url_id}")]
    FunctionUrlNotFound { url_id: String },

    /// `RequestTooLargeException`, 413.
    #[error(
        "{invocation_type} request payload of {size} bytes exceeds the {limit}-byte Invoke request body quota"
    )]
    RequestTooLarge {
        size: usize,
        limit: usize,
        invocation_type: InvocationType,
    },

    /// `TooManyRequestsException`, 429, with its `Reason`.
    #[error("Rate Exceeded.")]
    TooManyRequests { reason: ThrottleReason },

    /// `InvalidParameterValueException`, 400: a request parameter or a function's configuration
    /// (as the registry gave it) breaks one of Lambda's rules.
    #[error("{parameter}: {message}")]
    InvalidParameterValue { parameter: String, message: String },

    /// `InvalidRequestContentException`, 400.
    #[error("{0}")]
    InvalidRequestContent(String),

    /// `InvalidRuntimeException`, 502: only OS-only runtimes run a `bootstrap` here.
    #[error(
        "runtime {runtime} of {function} is not supported here: only OS-only runtimes (provided.al2023, provided.al2) run"
    )]
    UnsupportedRuntime { function: String, runtime: String },

    /// `ServiceException`, 500: the host itself failed.
    #[error("{0}")]
    Service(String),
}

impl LambdaHostError {
    /// The `x-amzn-ErrorType` Lambda answers with.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::FunctionNotFound { .. } | Self::FunctionUrlNotFound { .. } => {
                "ResourceNotFoundException"
            }
            Self::RequestTooLarge { .. } => "RequestTooLargeException",
            Self::TooManyRequests { .. } => "TooManyRequestsException",
            Self::InvalidParameterValue { .. } => "InvalidParameterValueException",
            Self::InvalidRequestContent(_) => "InvalidRequestContentException",
            Self::UnsupportedRuntime { .. } => "InvalidRuntimeException",
            Self::Service(_) => "ServiceException",
        }
    }

    /// The HTTP status Lambda answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::FunctionNotFound { .. } | Self::FunctionUrlNotFound { .. } => 404,
            Self::RequestTooLarge { .. } => 413,
            Self::TooManyRequests { .. } => 429,
            Self::InvalidParameterValue { .. } | Self::InvalidRequestContent(_) => 400,
            Self::UnsupportedRuntime { .. } => 502,
            Self::Service(_) => 500,
        }
    }

    pub(crate) fn invalid(parameter: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidParameterValue {
            parameter: parameter.into(),
            message: message.into(),
        }
    }
}
