//! The endpoint's AWS adapters: SNS `ConfirmSubscription` through the SDK (so
//! `AWS_ENDPOINT_URL_SNS` redirects it locally without a code path of its own), and the
//! production endpoint: certificates fetched from SNS over HTTPS, the local post office's
//! certificate trusted when `POSTOFFICE_LOCAL_TRUSTED_CERT` names one.

use aws_config::SdkConfig;
use aws_sdk_sns::error::DisplayErrorContext;

use super::config::EndpointConfig;
use super::handling::SnsEndpoint;
use super::ports::{ConfirmError, HandlerPort, SubscriptionConfirmer};
use crate::sns::{CertificateError, HttpsCertificateFetcher, SystemClock, Verifier};

/// The endpoint as it runs in AWS.
pub type AwsSnsEndpoint<H> = SnsEndpoint<HttpsCertificateFetcher, SystemClock, H, SnsConfirmer>;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the HTTPS client for SNS certificates: {0}")]
    Https(#[from] reqwest::Error),
    #[error("POSTOFFICE_LOCAL_TRUSTED_CERT {path}: {reason}")]
    LocalCertificate { path: String, reason: String },
}

/// The production verifier, trusting the local post office's certificate too when configured.
pub fn aws_verifier(
    config: &EndpointConfig,
) -> Result<Verifier<HttpsCertificateFetcher, SystemClock>, SetupError> {
    let verifier = Verifier::aws()?;
    let Some(path) = &config.local_trusted_cert else {
        return Ok(verifier);
    };
    let failed = |reason: String| SetupError::LocalCertificate {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|error| failed(error.to_string()))?;
    let verifier = verifier
        .with_local_certificate(&pem)
        .map_err(|error: CertificateError| failed(error.to_string()))?;
    tracing::warn!(path = %path.display(), "trusting a local SNS signing certificate: for local runs only");
    Ok(verifier)
}

/// The endpoint in front of `handler`, with the production verifier and the SDK confirmer.
pub fn aws_endpoint<H: HandlerPort>(
    config: &EndpointConfig,
    sdk_config: &SdkConfig,
    handler: H,
) -> Result<AwsSnsEndpoint<H>, SetupError> {
    Ok(SnsEndpoint::new(
        config,
        aws_verifier(config)?,
        SystemClock,
        handler,
        SnsConfirmer::new(sdk_config),
    ))
}

/// Confirms subscriptions in the topic's own region (an endpoint may serve topics of
/// other regions), with `AuthenticateOnUnsubscribe` so that the `UnsubscribeURL` printed in every
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
