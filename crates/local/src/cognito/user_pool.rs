//! The Cognito user pool API where moto is too lenient: a user's `UpdateUserAttributes` may
//! write only the attributes its app client's `WriteAttributes` lists (moto writes any), so an
//! app user cannot change `custom:household`. Cognito refuses the others with
//! `NotAuthorizedException: A client attempted to write unauthorized attribute`
//! (<https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientType.html>,
//! `WriteAttributes`). Everything else is moto's: sign-in (`InitiateAuth`), users, tokens and
//! the pool's signing keys, which [`UserPoolKeys`] reads for the identity pool.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use axum::response::Response;
use serde_json::{Value, json};

use super::tokens::{Jwk, unverified_claims};
use crate::aws::errors::AwsError;
use crate::aws::moto::MotoClient;
use crate::aws::{Call, LocalService};

pub struct UserPoolService {
    pub moto: MotoClient,
    pub region: String,
}

/// The standard attributes an app client may write when it lists none
/// (<https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-attributes.html>).
fn is_standard(attribute: &str) -> bool {
    !attribute.starts_with("custom:") && !attribute.starts_with("dev:")
}

/// The attributes of `request` the client may not write: all of them whose names are not in
/// `write_attributes` (or, with none listed, the non-standard ones).
pub fn unwritable(write_attributes: Option<&[String]>, requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|name| match write_attributes {
            Some(allowed) => !allowed.iter().any(|allowed| allowed == *name),
            None => !is_standard(name),
        })
        .cloned()
        .collect()
}

impl UserPoolService {
    async fn write_attributes(&self, access_token: &str) -> Result<Option<Vec<String>>, AwsError> {
        let not_authorized =
            || AwsError::new(400, "NotAuthorizedException", "Invalid Access Token");
        let claims = unverified_claims(access_token).map_err(|_| not_authorized())?;
        let pool = claims
            .get("iss")
            .and_then(Value::as_str)
            .and_then(|issuer| issuer.rsplit('/').next())
            .ok_or_else(not_authorized)?;
        let client = claims
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(not_authorized)?;
        let (status, answer) = self
            .moto
            .json_action(
                "cognito-idp",
                &self.region,
                "AWSCognitoIdentityProviderService.DescribeUserPoolClient",
                &json!({"UserPoolId": pool, "ClientId": client}),
            )
            .await
            .map_err(|error| AwsError::new(500, "InternalErrorException", error.to_string()))?;
        if !status.is_success() {
            return Err(not_authorized());
        }
        Ok(answer["UserPoolClient"]["WriteAttributes"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect()
            }))
    }
}

#[async_trait]
impl LocalService for UserPoolService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        if call.action().as_deref() != Some("UpdateUserAttributes") {
            return None;
        }
        let body = call.request.json().unwrap_or(Value::Null);
        let requested: Vec<String> = body["UserAttributes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|attribute| attribute["Name"].as_str().map(str::to_owned))
            .collect();
        let token = body["AccessToken"].as_str().unwrap_or_default();
        let allowed = match self.write_attributes(token).await {
            Ok(allowed) => allowed,
            Err(error) => return Some(call.error(&error)),
        };
        let refused = unwritable(allowed.as_deref(), &requested);
        if refused.is_empty() {
            return None;
        }
        tracing::warn!(
            attributes = refused.join(","),
            "UpdateUserAttributes refused: the app client may not write them"
        );
        Some(call.error(&AwsError::new(
            400,
            "NotAuthorizedException",
            "A client attempted to write unauthorized attribute",
        )))
    }
}

/// The signing keys of each user pool (moto's JWKS), read once per pool.
pub struct UserPoolKeys {
    moto: MotoClient,
    keys: Mutex<HashMap<String, Vec<Jwk>>>,
}

impl UserPoolKeys {
    pub fn new(moto: MotoClient) -> Self {
        Self {
            moto,
            keys: Mutex::default(),
        }
    }

    pub async fn of(&self, pool_id: &str) -> anyhow::Result<Vec<Jwk>> {
        if let Some(keys) = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(pool_id)
        {
            return Ok(keys.clone());
        }
        let jwks = self
            .moto
            .get_json(&format!("/{pool_id}/.well-known/jwks.json"))
            .await?;
        let keys = Jwk::set_from_json(&jwks);
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pool_id.to_owned(), keys.clone());
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn only_listed_attributes_are_writable() {
        let allowed = names(&["name"]);
        assert_eq!(
            unwritable(Some(&allowed), &names(&["name", "custom:household"])),
            names(&["custom:household"])
        );
        assert!(unwritable(Some(&allowed), &names(&["name"])).is_empty());
        // With none listed, the standard attributes are writable, custom ones are not.
        assert_eq!(
            unwritable(None, &names(&["email", "custom:household"])),
            names(&["custom:household"])
        );
    }
}
