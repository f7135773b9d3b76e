//! SDK adapters of the ports: Lambda `Invoke` and SNS `ConfirmSubscription`. Both clients come
//! from one `aws_config` load, so `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_SNS` redirect
//! them locally without a code path of their own.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use crate::ports::{ConfirmError, HandlerInvoker, InvokeAnswer, SubscriptionConfirmer};

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

/// Confirms subscriptions in the topic's own region (a bridge may serve topics of other
/// regions), with `AuthenticateOnUnsubscribe` so that the `UnsubscribeURL` printed in every
/// message cannot be used by whoever reads one to cut the subscription.
#[derive(Debug, Clone)]
pub struct SnsConfirmer {
    client: aws_sdk_sns::Client,
}

impl SnsConfirmer {
    pub fn new(sdk_config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(sdk_config),
        }
    }
}

impl SubscriptionConfirmer for SnsConfirmer {
    async fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<String, ConfirmError> {
        let mut request = self
            .client
            .confirm_subscription()
            .topic_arn(topic_arn)
            .token(token)
            .authenticate_on_unsubscribe("true")
            .customize();
        if let Some(region) = topic_region(topic_arn)
            && self.client.config().region().map(|r| r.as_ref()) != Some(region)
        {
            request = request.config_override(
                aws_sdk_sns::config::Builder::default()
                    .region(aws_sdk_sns::config::Region::new(region.to_owned())),
            );
        }
        match request.send().await {
            Ok(output) => Ok(output.subscription_arn().unwrap_or_default().to_owned()),
            Err(error) => Err(ConfirmError(DisplayErrorContext(&error).to_string())),
        }
    }
}

fn topic_region(topic_arn: &str) -> Option<&str> {
    topic_arn
        .split(':')
        .nth(3)
        .filter(|region| !region.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_region_comes_from_the_arn() {
        assert_eq!(
            topic_region("arn:aws:sns:us-east-2:295079676684:topic"),
            Some("us-east-2")
        );
        assert_eq!(topic_region("nonsense"), None);
    }
}
