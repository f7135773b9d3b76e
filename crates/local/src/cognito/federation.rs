//! Identity pool federation, which moto does not verify: `GetId` and
//! `GetCredentialsForIdentity` (enhanced flow) accept only an ID token the pool's provider
//! signed for the pool's app client, unexpired; one identity per user; the credentials are a
//! session of the pool's authenticated role that the role's trust policy admits
//! (`sts:AssumeRoleWithWebIdentity` and `sts:TagSession` from `cognito-identity.amazonaws.com`
//! with the `:aud` and `:amr` keys), tagged with the principal tags the pool maps from the
//! token's claims, and known to the local endpoint's SigV4 and IAM checks like any other.
//! (<https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetCredentialsForIdentity.html>,
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html>,
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/attributes-for-access-control.html>)
//! Anything else of the identity pool API is the stand-ins' or moto's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use postoffice_policy::Principal;
use serde_json::{Map, Value, json};

use super::identity::CognitoIdentityStandIns;
use super::tokens::verify_id_token;
use super::user_pool::UserPoolKeys;
use crate::aws::credentials::{CognitoIdentity, CredentialStore};
use crate::aws::errors::AwsError;
use crate::aws::moto::MotoClient;
use crate::aws::{Call, LocalService};
use crate::iam::{Authorizer, Check, Target, base_context};

/// The principal identity pools assume roles as.
const COGNITO_IDENTITY: &str = "cognito-identity.amazonaws.com";
/// How long the credentials say they last (Cognito's default: one hour).
const CREDENTIALS_SECONDS: i64 = 3600;

/// A user of a provider, in one identity pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct User {
    pool: String,
    provider: String,
    sub: String,
}

pub struct IdentityPoolService {
    pub stand_ins: Arc<CognitoIdentityStandIns>,
    pub moto: MotoClient,
    pub keys: Arc<UserPoolKeys>,
    pub credentials: Arc<CredentialStore>,
    pub authorizer: Arc<Authorizer>,
    pub region: String,
    identities: Mutex<HashMap<User, String>>,
    users: Mutex<HashMap<String, User>>,
}

fn not_authorized(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "NotAuthorizedException", message)
}

fn answer(value: Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        value.to_string(),
    )
        .into_response()
}

impl IdentityPoolService {
    pub fn new(
        stand_ins: Arc<CognitoIdentityStandIns>,
        moto: MotoClient,
        credentials: Arc<CredentialStore>,
        authorizer: Arc<Authorizer>,
        region: &str,
    ) -> Self {
        Self {
            stand_ins,
            keys: Arc::new(UserPoolKeys::new(moto.clone())),
            moto,
            credentials,
            authorizer,
            region: region.to_owned(),
            identities: Mutex::default(),
            users: Mutex::default(),
        }
    }

    async fn moto_action(&self, action: &str, body: &Value) -> Result<Value, AwsError> {
        let (status, answer) = self
            .moto
            .json_action(
                "cognito-identity",
                &self.region,
                &format!("AWSCognitoIdentityService.{action}"),
                body,
            )
            .await
            .map_err(|error| AwsError::new(500, "InternalErrorException", error.to_string()))?;
        if status.is_success() {
            Ok(answer)
        } else {
            Err(AwsError::new(
                status.as_u16(),
                answer["__type"]
                    .as_str()
                    .and_then(|kind| kind.rsplit('#').next())
                    .unwrap_or("ResourceNotFoundException"),
                answer["message"]
                    .as_str()
                    .unwrap_or("the identity pool does not exist"),
            ))
        }
    }

    /// The one login of `logins` verified against the pool's providers: (provider, claims).
    async fn verify_login(
        &self,
        pool: &str,
        logins: &Value,
    ) -> Result<(String, Map<String, Value>), AwsError> {
        let logins = logins
            .as_object()
            .filter(|logins| !logins.is_empty())
            .ok_or_else(|| {
                not_authorized("Unauthenticated access is not supported for this identity pool.")
            })?;
        let description = self
            .moto_action("DescribeIdentityPool", &json!({"IdentityPoolId": pool}))
            .await?;
        let providers = description["CognitoIdentityProviders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // The app logs in with one provider, its user pool.
        let Some((provider, token)) = logins.iter().next() else {
            return Err(not_authorized("Invalid login token."));
        };
        let Some(client_id) = providers
            .iter()
            .find(|configured| configured["ProviderName"] == provider.as_str())
            .and_then(|configured| configured["ClientId"].as_str())
        else {
            return Err(not_authorized(format!(
                "Invalid login token. The provider {provider} is not configured for the identity pool."
            )));
        };
        let user_pool = provider.rsplit('/').next().unwrap_or_default();
        let keys = self
            .keys
            .of(user_pool)
            .await
            .map_err(|error| AwsError::new(500, "InternalErrorException", error.to_string()))?;
        let claims = verify_id_token(
            token.as_str().unwrap_or_default(),
            &keys,
            &format!("https://{provider}"),
            client_id,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|error| not_authorized(format!("Invalid login token. {error}")))?;
        Ok((provider.clone(), claims))
    }

    async fn get_id(&self, body: &Value) -> Result<Value, AwsError> {
        let pool = body["IdentityPoolId"].as_str().unwrap_or_default();
        let (provider, claims) = self.verify_login(pool, &body["Logins"]).await?;
        let user = User {
            pool: pool.to_owned(),
            provider,
            sub: claims["sub"].as_str().unwrap_or_default().to_owned(),
        };
        let known = self
            .identities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&user)
            .cloned();
        let identity_id = match known {
            Some(identity_id) => identity_id,
            None => {
                // moto registers the identity, so that IoT's AttachPolicy can target it.
                let created = self
                    .moto_action("GetId", &json!({"IdentityPoolId": pool}))
                    .await?;
                let identity_id = created["IdentityId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.identities
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(user.clone(), identity_id.clone());
                self.users
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(identity_id.clone(), user);
                identity_id
            }
        };
        Ok(json!({ "IdentityId": identity_id }))
    }

    async fn get_credentials(&self, body: &Value) -> Result<Value, AwsError> {
        let identity_id = body["IdentityId"].as_str().unwrap_or_default();
        let user = self
            .users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(identity_id)
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    400,
                    "ResourceNotFoundException",
                    format!("Identity '{identity_id}' not found."),
                )
            })?;
        let mismatch = || {
            not_authorized(
                "Logins don't match. Please include at least one valid login for this identity or identity pool.",
            )
        };
        let (provider, claims) = self
            .verify_login(&user.pool, &body["Logins"])
            .await
            .map_err(|error| {
                if error.code == "NotAuthorizedException" {
                    error
                } else {
                    mismatch()
                }
            })?;
        if provider != user.provider || claims["sub"].as_str() != Some(user.sub.as_str()) {
            return Err(mismatch());
        }
        let misconfigured = |why: String| {
            AwsError::new(
                400,
                "InvalidIdentityPoolConfigurationException",
                format!(
                    "Invalid identity pool configuration. Check assigned IAM roles for this pool. ({why})"
                ),
            )
        };
        let role = self
            .stand_ins
            .authenticated_role(&user.pool)
            .ok_or_else(|| misconfigured("no authenticated role".to_owned()))?;
        let principal_tags = principal_tags(
            self.stand_ins.principal_tags(&user.pool, &user.provider),
            &claims,
        );
        let identity = CognitoIdentity {
            identity_id: identity_id.to_owned(),
            identity_pool_id: user.pool.clone(),
            amr: vec![
                "authenticated".to_owned(),
                user.provider.clone(),
                format!("{}:CognitoSignIn:{}", user.provider, user.sub),
            ],
            principal_tags,
        };
        self.admit(&role, &identity).map_err(misconfigured)?;
        let credentials = self.credentials.issue_web_identity_session(&role, identity);
        let expiration = chrono::Utc::now().timestamp() + CREDENTIALS_SECONDS;
        Ok(json!({
            "IdentityId": identity_id,
            "Credentials": {
                "AccessKeyId": credentials.access_key_id,
                "SecretKey": credentials.secret_access_key,
                "SessionToken": credentials.session_token,
                "Expiration": expiration,
            },
        }))
    }

    /// The role's trust policy must let Cognito assume it for this identity, with its tags.
    fn admit(&self, role: &str, identity: &CognitoIdentity) -> Result<(), String> {
        let snapshot = self.authorizer.snapshot();
        let principal = Principal::web_identity(COGNITO_IDENTITY).map_err(|e| e.to_string())?;
        let mut context = base_context(true, &self.region)
            .with(
                "cognito-identity.amazonaws.com:aud",
                identity.identity_pool_id.as_str(),
            )
            .with(
                "cognito-identity.amazonaws.com:sub",
                identity.identity_id.as_str(),
            )
            .with_values(
                "cognito-identity.amazonaws.com:amr",
                identity.amr.iter().map(String::as_str),
            );
        for (key, value) in &identity.principal_tags {
            context.insert(&format!("aws:RequestTag/{key}"), value.as_str());
        }
        context.insert_values(
            "aws:TagKeys",
            identity.principal_tags.keys().map(String::as_str),
        );
        let mut actions = vec!["sts:AssumeRoleWithWebIdentity"];
        if !identity.principal_tags.is_empty() {
            actions.push("sts:TagSession");
        }
        for action in actions {
            self.authorizer
                .check(
                    &snapshot,
                    Check {
                        principal: principal.clone(),
                        action,
                        resource: role,
                        target: Target::Trust(role),
                        context: context.clone(),
                    },
                )
                .map_err(|denial| denial.message())?;
        }
        Ok(())
    }
}

/// The session tags a pool maps from a token: tag → the value of the claim it names. A claim
/// the token lacks gives no tag.
fn principal_tags(mapping: Option<Value>, claims: &Map<String, Value>) -> BTreeMap<String, String> {
    mapping
        .as_ref()
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(tag, claim)| {
            let value = claims.get(claim.as_str()?)?.as_str()?;
            Some((tag.clone(), value.to_owned()))
        })
        .collect()
}

#[async_trait]
impl LocalService for IdentityPoolService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let action = call.action()?;
        let body = call.request.json().unwrap_or(Value::Null);
        let result = match action.as_str() {
            "GetId" => self.get_id(&body).await,
            "GetCredentialsForIdentity" => self.get_credentials(&body).await,
            _ => return self.stand_ins.serve(call).await,
        };
        Some(match result {
            Ok(value) => answer(value),
            Err(error) => {
                tracing::warn!(action, code = error.code, "{}", error.message);
                call.error(&error)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_tags_take_the_claims_the_pool_maps() {
        let claims: Map<String, Value> =
            serde_json::from_value(json!({"custom:household": "h-1", "sub": "u"})).unwrap();
        let tags = principal_tags(
            Some(json!({"household": "custom:household", "missing": "custom:other"})),
            &claims,
        );
        assert_eq!(
            tags,
            BTreeMap::from([("household".to_owned(), "h-1".to_owned())])
        );
        assert!(principal_tags(None, &claims).is_empty());
    }
}
