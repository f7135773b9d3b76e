//! The mobile app's sign-in step on the IoT side: AWS IoT authorises an authenticated Cognito
//! identity only if an IoT policy is attached to that identity ("If you don't attach an AWS IoT
//! policy to the Amazon Cognito Identity, an authenticated user fails authorization in AWS IoT",
//! <https://docs.aws.amazon.com/iot/latest/developerguide/cog-iot-policies.html>). This function
//! attaches the platform's mobile IoT policy to the identity that calls it, once per identity
//! (attaching an attached policy again changes nothing).
//!
//! # Why a function URL with `AWS_IAM`, called by the app, and not a Cognito trigger
//! The target of `iot:AttachPolicy` is the identity pool's identity id
//! (`eu-west-1:<uuid>`), which exists only once the app has called `GetId`. User pool triggers
//! (pre/post authentication, pre token generation) run inside the user pool's sign-in, before
//! and apart from the identity pool: their event has the user's `sub`, never the identity id,
//! so they cannot name the target. The app instead calls this function right after
//! `GetCredentialsForIdentity`, signing the request (SigV4) with those credentials; Lambda
//! authenticates the signature and puts the caller's identity in the event
//! (`requestContext.authorizer.iam.cognitoIdentity`: `identityId`, `identityPoolId`, `amr`),
//! so the identity attached is the caller's own and cannot be chosen by the request body.
//! Granting the app `iot:AttachPolicy` itself would let it attach to any target.
//! (<https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>, request payload.)

use async_trait::async_trait;
use serde_json::{Value, json};

/// What the function is configured with (its environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInConfig {
    /// `POSTOFFICE_MOBILE_IOT_POLICY`: the IoT policy every app identity gets.
    pub policy_name: String,
    /// `POSTOFFICE_MOBILE_IDENTITY_POOL_ID`: the only identity pool whose identities are served.
    pub identity_pool_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is not set")]
pub struct MissingSetting(&'static str);

impl SignInConfig {
    pub fn from_env() -> Result<Self, MissingSetting> {
        let read = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .ok_or(MissingSetting(name))
        };
        Ok(Self {
            policy_name: read("POSTOFFICE_MOBILE_IOT_POLICY")?,
            identity_pool_id: read("POSTOFFICE_MOBILE_IDENTITY_POOL_ID")?,
        })
    }
}

/// Why IoT did not attach the policy.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// Throttled or unavailable: the app may try again.
    #[error("IoT is busy: {0}")]
    Retryable(String),
    #[error("IoT refused to attach the policy: {0}")]
    Refused(String),
}

/// `iot:AttachPolicy`: one adapter, so tests pass a fake.
#[async_trait]
pub trait AttachPolicy: Send + Sync {
    async fn attach(&self, policy_name: &str, target: &str) -> Result<(), AttachError>;
}

pub struct IotPolicyAttacher {
    iot: aws_sdk_iot::Client,
}

impl IotPolicyAttacher {
    pub fn new(iot: aws_sdk_iot::Client) -> Self {
        Self { iot }
    }
}

#[async_trait]
impl AttachPolicy for IotPolicyAttacher {
    async fn attach(&self, policy_name: &str, target: &str) -> Result<(), AttachError> {
        use aws_sdk_iot::operation::attach_policy::AttachPolicyError as E;
        match self
            .iot
            .attach_policy()
            .policy_name(policy_name)
            .target(target)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                error @ (E::ThrottlingException(_)
                | E::ServiceUnavailableException(_)
                | E::InternalFailureException(_)) => Err(AttachError::Retryable(error.to_string())),
                error => Err(AttachError::Refused(format!("{error:?}"))),
            },
        }
    }
}

pub struct SignIn<A> {
    iot: A,
    config: SignInConfig,
}

impl<A: AttachPolicy> SignIn<A> {
    pub fn new(iot: A, config: SignInConfig) -> Self {
        Self { iot, config }
    }

    pub fn iot(&self) -> &A {
        &self.iot
    }

    /// Answers a function URL event (payload format 2.0) with the function URL response.
    pub async fn handle(&self, event: &Value) -> Value {
        let identity = &event["requestContext"]["authorizer"]["iam"]["cognitoIdentity"];
        let Some(identity_id) = identity["identityId"].as_str().filter(|id| !id.is_empty()) else {
            return answer(
                403,
                "the caller is not a Cognito identity: sign the request with the credentials of GetCredentialsForIdentity",
            );
        };
        if identity["identityPoolId"].as_str() != Some(self.config.identity_pool_id.as_str()) {
            tracing::warn!(
                identity_id,
                pool = identity["identityPoolId"].as_str(),
                "a Cognito identity of another identity pool called mobile sign-in"
            );
            return answer(403, "the caller's identity pool is not the mobile app's");
        }
        let authenticated = identity["amr"]
            .as_array()
            .is_some_and(|amr| amr.iter().any(|entry| entry == "authenticated"));
        if !authenticated {
            return answer(403, "the caller's Cognito identity is not authenticated");
        }
        match self.iot.attach(&self.config.policy_name, identity_id).await {
            Ok(()) => {
                tracing::info!(identity_id, policy = self.config.policy_name, "attached");
                json!({
                    "statusCode": 200,
                    "headers": {"content-type": "application/json"},
                    "body": json!({
                        "identityId": identity_id,
                        "policyName": self.config.policy_name,
                    }).to_string(),
                })
            }
            Err(error @ AttachError::Retryable(_)) => {
                tracing::warn!(identity_id, %error, "attaching the mobile IoT policy failed");
                answer(503, "IoT is busy; try again")
            }
            Err(error @ AttachError::Refused(_)) => {
                tracing::error!(identity_id, %error, "attaching the mobile IoT policy failed");
                answer(500, "the mobile IoT policy could not be attached")
            }
        }
    }
}

fn answer(status: u16, message: &str) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json!({"message": message}).to_string(),
    })
}
