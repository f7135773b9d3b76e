//! IAM refuses policy documents it cannot parse and documents over its size quotas; moto takes
//! any text. These checks run before a call reaches moto, with IAM's errors
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>: managed policy
//! 6,144, role inline policies 10,240, role trust policy 2,048 characters, whitespace excluded).

use async_trait::async_trait;
use axum::response::Response;
use postoffice_policy::Policy;

use crate::aws::errors::AwsError;
use crate::aws::{Call, LocalService};

pub const MAX_MANAGED_POLICY: usize = 6_144;
pub const MAX_ROLE_INLINE_POLICIES: usize = 10_240;
pub const MAX_TRUST_POLICY: usize = 2_048;

pub struct IamControlPlane;

fn characters(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// What IAM answers for `document` given as `parameter` of `action`, if it refuses it.
pub fn refusal(action: &str, parameter: &str, document: &str) -> Option<AwsError> {
    let (limit, quota) = match action {
        "CreatePolicy" | "CreatePolicyVersion" => (MAX_MANAGED_POLICY, "PolicySize"),
        "PutRolePolicy" => (MAX_ROLE_INLINE_POLICIES, "RolePolicySize"),
        "CreateRole" | "UpdateAssumeRolePolicy" => (MAX_TRUST_POLICY, "ACLSizePerRole"),
        _ => return None,
    };
    let size = characters(document);
    if size > limit {
        return Some(AwsError::new(
            409,
            "LimitExceeded",
            format!(
                "Cannot exceed quota for {quota}: {limit} ({parameter} has {size} characters without whitespace)"
            ),
        ));
    }
    match Policy::parse(document) {
        Ok(_) => None,
        Err(error) => Some(AwsError::new(
            400,
            "MalformedPolicyDocument",
            format!("{parameter}: {error}"),
        )),
    }
}

#[async_trait]
impl LocalService for IamControlPlane {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let action = call.action()?;
        let parameters = call.request.parameters();
        let parameter = match action.as_str() {
            "CreateRole" | "UpdateAssumeRolePolicy" => "AssumeRolePolicyDocument",
            "CreatePolicy" | "CreatePolicyVersion" | "PutRolePolicy" => "PolicyDocument",
            _ => return None,
        };
        let document = parameters.get(parameter)?;
        refusal(&action, parameter, document).map(|error| call.error(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_and_malformed_documents_are_refused_as_iam_does() {
        let statement = r#"{"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED"}"#;
        let policy = |count: usize| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                vec![statement; count].join(",")
            )
        };
        assert!(refusal("PutRolePolicy", "PolicyDocument", &policy(10)).is_none());
        let too_big = refusal("PutRolePolicy", "PolicyDocument", &policy(100)).unwrap();
        assert_eq!(
            (too_big.status, too_big.code.as_str()),
            (409, "LimitExceeded")
        );
        let trust = refusal("CreateRole", "AssumeRolePolicyDocument", &policy(30)).unwrap();
        assert!(
            trust.message.contains("ACLSizePerRole: 2048"),
            "{}",
            trust.message
        );
        let malformed = refusal(
            "PutRolePolicy",
            "PolicyDocument",
            r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(malformed.code, "MalformedPolicyDocument");
        assert!(refusal("ListRoles", "PolicyDocument", "x").is_none());
    }
}
