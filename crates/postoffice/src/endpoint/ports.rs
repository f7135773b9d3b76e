//! What the endpoint calls besides the verifier: the handler and SNS's `ConfirmSubscription`.
//! The bridge passes "invoke the handler Lambda" as its handler; a handler that embeds the
//! endpoint passes itself ([`ServiceHandler`] over a tower service, e.g.
//! [`crate::handler::Consumer::into_service`]). Tests pass fakes.

use std::future::{Future, poll_fn};

use tower_service::Service;

use crate::handler::HandlerError;
use crate::invocation::{HandlerInvocation, InvocationOutcome};

/// What became of one delivery to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerAnswer {
    Handled,
    /// The handler says the message can never succeed (`NonRetryable`).
    Permanent {
        message: String,
    },
    /// Any other failure of the handler.
    Retryable {
        message: String,
    },
    /// No capacity to run the handler (Lambda's 429).
    Throttled {
        message: String,
    },
    /// The handler could not be reached (network, permissions, missing function).
    Unreachable {
        message: String,
    },
}

impl From<InvocationOutcome> for HandlerAnswer {
    fn from(outcome: InvocationOutcome) -> Self {
        match outcome {
            InvocationOutcome::Handled => Self::Handled,
            InvocationOutcome::Permanent { message } => Self::Permanent { message },
            InvocationOutcome::Retryable { message } => Self::Retryable { message },
            InvocationOutcome::Throttled { message } => Self::Throttled { message },
        }
    }
}

impl<T> From<Result<T, HandlerError>> for HandlerAnswer {
    fn from(result: Result<T, HandlerError>) -> Self {
        match result {
            Ok(_) => Self::Handled,
            Err(error) if error.is_permanent() => Self::Permanent {
                message: error.message().to_owned(),
            },
            Err(error) => Self::Retryable {
                message: error.message().to_owned(),
            },
        }
    }
}

/// The handler behind the endpoint. The endpoint calls it only with a verified Notification of
/// an allowed topic whose envelope's event is the topic's, and bounds the call by its deadline.
pub trait HandlerPort: Send + Sync {
    /// The handler's name in logs and metrics (dimension `HandlerFunction`).
    fn name(&self) -> &str;

    fn call(&self, invocation: HandlerInvocation) -> impl Future<Output = HandlerAnswer> + Send;
}

/// A tower service of invocations as the handler port: `Ok` is handled, a [`HandlerError`] is
/// permanent or retryable as it says.
#[derive(Debug, Clone)]
pub struct ServiceHandler<S> {
    name: String,
    service: S,
}

impl<S> ServiceHandler<S> {
    pub fn new(name: impl Into<String>, service: S) -> Self {
        Self {
            name: name.into(),
            service,
        }
    }
}

impl<S> HandlerPort for ServiceHandler<S>
where
    S: Service<HandlerInvocation, Error = HandlerError> + Clone + Send + Sync,
    S::Future: Send,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn call(&self, invocation: HandlerInvocation) -> HandlerAnswer {
        // A clone per call, as tower expects of shared services: `call` takes `&mut self`.
        let mut service = self.service.clone();
        if let Err(error) = poll_fn(|cx| service.poll_ready(cx)).await {
            return HandlerAnswer::from(Err::<(), _>(error));
        }
        HandlerAnswer::from(service.call(invocation).await)
    }
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
