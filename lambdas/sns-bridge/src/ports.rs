//! The two AWS calls the bridge makes, as small traits: production passes the SDK adapters in
//! [`crate::aws`], tests pass fakes.

use std::future::Future;

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

/// Invokes the consumer's handler Lambda synchronously.
pub trait HandlerInvoker: Send + Sync {
    fn invoke(&self, function: &str, payload: Vec<u8>)
    -> impl Future<Output = InvokeAnswer> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ConfirmSubscription failed: {0}")]
pub struct ConfirmError(pub String);

/// Confirms an SNS subscription through the SNS API (never by fetching `SubscribeURL`).
pub trait SubscriptionConfirmer: Send + Sync {
    /// Returns the confirmed subscription's ARN.
    fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> impl Future<Output = Result<String, ConfirmError>> + Send;
}
