//! IAM roles: trust policy, inline policies and attached managed policies (their default
//! version's document).

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::decode_policy;

#[derive(Debug, Clone, Default)]
pub struct Role {
    pub arn: String,
    pub name: String,
    pub trust_policy: String,
    /// Policy name → document.
    pub inline_policies: BTreeMap<String, String>,
    /// Managed policy ARN → document of its default version.
    pub attached_policies: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct AppliedIam {
    /// Role ARN → role.
    pub roles: BTreeMap<String, Role>,
}

impl AppliedIam {
    pub fn role(&self, arn: &str) -> Option<&Role> {
        self.roles.get(arn)
    }
}

pub async fn read(iam: &aws_sdk_iam::Client) -> anyhow::Result<AppliedIam> {
    let mut applied = AppliedIam::default();
    let mut managed: BTreeMap<String, String> = BTreeMap::new();
    let mut pages = iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        for listed in page.context("ListRoles")?.roles {
            let name = listed.role_name.clone();
            let mut role = Role {
                arn: listed.arn.clone(),
                name: name.clone(),
                trust_policy: decode_policy(
                    listed
                        .assume_role_policy_document
                        .as_deref()
                        .unwrap_or("{}"),
                ),
                ..Role::default()
            };
            let inline = iam
                .list_role_policies()
                .role_name(&name)
                .send()
                .await
                .with_context(|| format!("ListRolePolicies {name}"))?
                .policy_names;
            for policy in inline {
                let document = iam
                    .get_role_policy()
                    .role_name(&name)
                    .policy_name(&policy)
                    .send()
                    .await
                    .with_context(|| format!("GetRolePolicy {name}/{policy}"))?
                    .policy_document;
                role.inline_policies
                    .insert(policy, decode_policy(&document));
            }
            let attached = iam
                .list_attached_role_policies()
                .role_name(&name)
                .send()
                .await
                .with_context(|| format!("ListAttachedRolePolicies {name}"))?
                .attached_policies
                .unwrap_or_default();
            for policy in attached {
                let Some(arn) = policy.policy_arn else {
                    continue;
                };
                if !managed.contains_key(&arn) {
                    let document = managed_policy_document(iam, &arn).await?;
                    managed.insert(arn.clone(), document);
                }
                role.attached_policies
                    .insert(arn.clone(), managed[&arn].clone());
            }
            applied.roles.insert(role.arn.clone(), role);
        }
    }
    Ok(applied)
}

async fn managed_policy_document(iam: &aws_sdk_iam::Client, arn: &str) -> anyhow::Result<String> {
    let version = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .with_context(|| format!("GetPolicy {arn}"))?
        .policy
        .and_then(|policy| policy.default_version_id)
        .unwrap_or_else(|| "v1".to_owned());
    let document = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version)
        .send()
        .await
        .with_context(|| format!("GetPolicyVersion {arn} {version}"))?
        .policy_version
        .and_then(|version| version.document)
        .unwrap_or_default();
    Ok(decode_policy(&document))
}
