//! The bridge's handler port: invoke the consumer's handler Lambda synchronously. The Lambda
//! call itself is a small trait, [`HandlerInvoker`]: production passes the SDK adapter
//! [`LambdaInvoker`] (so `AWS_ENDPOINT_URL_LAMBDA` redirects it locally), tests pass fakes.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use postoffice::endpoint::{Decision, HandlerAnswer, HandlerPort, decide_answer};
use postoffice::invocation::{self, HandlerInvocation};

/// What Lambda said to one synchronous (`RequestResponse`) invoke of the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeAnswer {
    /// The function ran. `function_error` is the `X-Amz-Function-Error` header: set when the
    /// handler failed, and then `payload` is its `{"errorType", "errorMessage"}` body.
    Completed {
        function_error: Option<String>,
        payload: Vec<u8>,
    },
    /// Lambda refused for lack of concurrency (429 TooManyRequests).
    Throttled { detail: String },
    /// The invoke itself failed (network, permissions, missing function, SDK timeout).
    Failed { detail: String },
}

impl From<InvokeAnswer> for HandlerAnswer {
    /// Function errors are classified by the library's [`invocation::classify`], the same rule
    /// `postoffice dlq redrive` uses.
    fn from(answer: InvokeAnswer) -> Self {
        match answer {
            InvokeAnswer::Completed {
                function_error,
                payload,
            } => invocation::classify(function_error.as_deref(), &payload).into(),
            InvokeAnswer::Throttled { detail } => Self::Throttled { message: detail },
            InvokeAnswer::Failed { detail } => Self::Unreachable { message: detail },
        }
    }
}

/// What the bridge answers SNS for a Lambda answer. The detail is for logs only.
pub fn decide_invocation(answer: InvokeAnswer) -> (Decision, Option<String>) {
    decide_answer(answer.into())
}

/// Invokes the consumer's handler Lambda synchronously.
pub trait HandlerInvoker: Send + Sync {
    fn invoke(&self, function: &str, payload: Vec<u8>)
    -> impl Future<Output = InvokeAnswer> + Send;
}

/// The handler port: the invocation as the handler Lambda's payload, its answer classified.
pub struct InvokeHandler<I> {
    function: String,
    invoker: I,
}

impl<I> InvokeHandler<I> {
    pub fn new(function: impl Into<String>, invoker: I) -> Self {
        Self {
            function: function.into(),
            invoker,
        }
    }
}

impl<I: HandlerInvoker> HandlerPort for InvokeHandler<I> {
    fn name(&self) -> &str {
        &self.function
    }

    async fn call(&self, invocation: HandlerInvocation) -> HandlerAnswer {
        match serde_json::to_vec(&invocation) {
            Ok(payload) => self.invoker.invoke(&self.function, payload).await.into(),
            Err(error) => HandlerAnswer::Unreachable {
                message: format!("the invocation does not serialise: {error}"),
            },
        }
    }
}

/// Invokes the handler with `RequestResponse`, one attempt: SNS's delivery policy is the retry,
/// and an SDK retry inside it would only stretch the bridge past SNS's 15 s limit.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    pub fn new(sdk_config: &SdkConfig, invoke_timeout: Duration) -> Self {
        let config = aws_sdk_lambda::config::Builder::from(sdk_config)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    // A backstop only: the bridge's own timeout fires first and says so.
                    .operation_timeout(invoke_timeout + Duration::from_millis(500))
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_lambda::Client::from_conf(config),
        }
    }
}

impl HandlerInvoker for LambdaInvoker {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> InvokeAnswer {
        let result = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await;
        match result {
            Ok(output) => InvokeAnswer::Completed {
                function_error: output.function_error().map(str::to_owned),
                payload: output
                    .payload()
                    .map(|blob| blob.as_ref().to_vec())
                    .unwrap_or_default(),
            },
            Err(SdkError::ServiceError(context)) => {
                // Lambda throttles with 429 `TooManyRequestsException`; any 429 is a throttle.
                if context.err().is_too_many_requests_exception()
                    || context.raw().status().as_u16() == 429
                {
                    return InvokeAnswer::Throttled {
                        detail: context.err().to_string(),
                    };
                }
                InvokeAnswer::Failed {
                    detail: DisplayErrorContext(context.err()).to_string(),
                }
            }
            Err(error) => InvokeAnswer::Failed {
                detail: DisplayErrorContext(&error).to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(function_error: Option<&str>, payload: &str) -> InvokeAnswer {
        InvokeAnswer::Completed {
            function_error: function_error.map(str::to_owned),
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn invoke_answers_map_to_the_issue_table() {
        let cases = [
            (completed(None, r#"{"ok":true}"#), Decision::Handled, 200),
            (
                completed(
                    Some("Unhandled"),
                    r#"{"errorType":"NonRetryable","errorMessage":"unknown recipe"}"#,
                ),
                Decision::HandlerRejected,
                400,
            ),
            (
                completed(
                    Some("Unhandled"),
                    r#"{"errorType":"Retryable","errorMessage":"db down"}"#,
                ),
                Decision::HandlerFailed,
                500,
            ),
            (
                completed(Some("Unhandled"), "Task timed out"),
                Decision::HandlerFailed,
                500,
            ),
            (
                InvokeAnswer::Throttled {
                    detail: "Rate exceeded".into(),
                },
                Decision::Throttled,
                503,
            ),
            (
                InvokeAnswer::Failed {
                    detail: "connection refused".into(),
                },
                Decision::InvokeFailed,
                500,
            ),
        ];
        for (answer, decision, status) in cases {
            let (decided, _) = decide_invocation(answer.clone());
            assert_eq!(decided, decision, "{answer:?}");
            assert_eq!(decided.status(), status, "{answer:?}");
        }
        let (_, detail) = decide_invocation(completed(
            Some("Unhandled"),
            r#"{"errorType":"NonRetryable","errorMessage":"unknown recipe"}"#,
        ));
        assert_eq!(detail.as_deref(), Some("unknown recipe"));
    }
}
