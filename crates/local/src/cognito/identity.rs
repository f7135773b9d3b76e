//! The Cognito identity pool actions moto lacks, answered per the Amazon Cognito Identity API
//! reference: the roles an identity pool gives (`SetIdentityPoolRoles`, `GetIdentityPoolRoles`)
//! and the principal tags it maps from a provider's claims (`SetPrincipalTagAttributeMap`,
//! `GetPrincipalTagAttributeMap`). The state is kept here, per pool.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::aws::errors::AwsError;
use crate::aws::{Call, LocalService};

#[derive(Default)]
pub struct CognitoIdentityStandIns {
    /// Pool id → the `SetIdentityPoolRoles` request.
    roles: Mutex<HashMap<String, Value>>,
    /// (pool id, provider name) → the `SetPrincipalTagAttributeMap` request.
    principal_tags: Mutex<HashMap<(String, String), Value>>,
}

impl CognitoIdentityStandIns {
    /// The authenticated role of a pool, as set.
    pub fn authenticated_role(&self, pool_id: &str) -> Option<String> {
        self.roles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(pool_id)?["Roles"]["authenticated"]
            .as_str()
            .map(str::to_owned)
    }

    /// Principal tag → claim name, for a pool and provider.
    pub fn principal_tags(&self, pool_id: &str, provider: &str) -> Option<Value> {
        self.principal_tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(pool_id.to_owned(), provider.to_owned()))
            .map(|request| request["PrincipalTags"].clone())
    }
}

fn answer(value: Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        value.to_string(),
    )
        .into_response()
}

#[async_trait]
impl LocalService for CognitoIdentityStandIns {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let action = call.action()?;
        let body = call.request.json().unwrap_or(Value::Null);
        let pool = body["IdentityPoolId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let missing_pool = || {
            call.error(&AwsError::new(
                400,
                "InvalidParameterException",
                "IdentityPoolId is required",
            ))
        };
        match action.as_str() {
            "SetIdentityPoolRoles" => {
                if pool.is_empty() {
                    return Some(missing_pool());
                }
                self.roles
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(pool, body);
                Some(answer(json!({})))
            }
            "GetIdentityPoolRoles" => {
                let roles = self.roles.lock().unwrap_or_else(|p| p.into_inner());
                let set = roles.get(&pool).cloned().unwrap_or(json!({}));
                Some(answer(json!({
                    "IdentityPoolId": pool,
                    "Roles": set.get("Roles").cloned().unwrap_or(json!({})),
                    "RoleMappings": set.get("RoleMappings").cloned().unwrap_or(json!({})),
                })))
            }
            "SetPrincipalTagAttributeMap" => {
                let provider = body["IdentityProviderName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if pool.is_empty() || provider.is_empty() {
                    return Some(missing_pool());
                }
                let stored = json!({
                    "IdentityPoolId": pool,
                    "IdentityProviderName": provider,
                    "UseDefaults": body["UseDefaults"].as_bool().unwrap_or(false),
                    "PrincipalTags": body.get("PrincipalTags").cloned().unwrap_or(json!({})),
                });
                self.principal_tags
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((pool, provider), stored.clone());
                Some(answer(stored))
            }
            "GetPrincipalTagAttributeMap" => {
                let provider = body["IdentityProviderName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let found = self
                    .principal_tags
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&(pool.clone(), provider.clone()))
                    .cloned();
                Some(answer(found.unwrap_or(json!({
                    "IdentityPoolId": pool,
                    "IdentityProviderName": provider,
                    "UseDefaults": true,
                    "PrincipalTags": {},
                }))))
            }
            _ => None,
        }
    }
}
