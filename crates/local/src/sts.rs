//! STS `GetCallerIdentity`, answered for the principal the local post office authenticated
//! (moto would name its own default user for every key).

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};

use crate::aws::credentials::Caller;
use crate::aws::errors::xml_escape;
use crate::aws::{Call, LocalService};

pub struct SecurityTokenService;

#[async_trait]
impl LocalService for SecurityTokenService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        if call.action().as_deref() != Some("GetCallerIdentity") {
            return None;
        }
        let user_id = match &call.caller {
            Caller::Administrator { account } => account.clone(),
            Caller::RoleSession { session_name, .. } => format!("AROALOCAL:{session_name}"),
            Caller::Anonymous { .. } => return None,
        };
        let body = format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
            xml_escape(&call.caller.arn()),
            xml_escape(&user_id),
            call.caller.account(),
            call.request_id
        );
        Some(([("content-type", "text/xml")], body).into_response())
    }
}
