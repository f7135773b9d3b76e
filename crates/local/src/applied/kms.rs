//! KMS keys: ARN, key policy and aliases.

use std::collections::BTreeMap;

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct Key {
    pub arn: String,
    pub key_id: String,
    pub policy: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AppliedKms {
    /// Key ARN → key.
    pub keys: BTreeMap<String, Key>,
    /// `alias/name` → key id.
    pub aliases: BTreeMap<String, String>,
}

impl AppliedKms {
    /// The key a `KmsMasterKeyId` names: a key id, key ARN, alias name or alias ARN.
    pub fn resolve(&self, reference: &str) -> Option<&Key> {
        let alias = reference
            .split_once(":alias/")
            .map(|(_, name)| format!("alias/{name}"))
            .unwrap_or_else(|| reference.to_owned());
        let key_id = self
            .aliases
            .get(&alias)
            .map(String::as_str)
            .unwrap_or(reference);
        self.keys
            .values()
            .find(|key| key.arn == key_id || key.key_id == key_id)
    }
}

pub async fn read(kms: &aws_sdk_kms::Client) -> anyhow::Result<AppliedKms> {
    let mut applied = AppliedKms::default();
    let mut pages = kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        for key in page.context("ListKeys")?.keys.unwrap_or_default() {
            let Some(key_id) = key.key_id else { continue };
            let metadata = kms
                .describe_key()
                .key_id(&key_id)
                .send()
                .await
                .with_context(|| format!("DescribeKey {key_id}"))?
                .key_metadata;
            let policy = kms
                .get_key_policy()
                .key_id(&key_id)
                .policy_name("default")
                .send()
                .await
                .with_context(|| format!("GetKeyPolicy {key_id}"))?
                .policy
                .unwrap_or_default();
            let arn = key.key_arn.unwrap_or_default();
            applied.keys.insert(
                arn.clone(),
                Key {
                    arn,
                    key_id,
                    policy,
                    enabled: metadata.map(|m| m.enabled).unwrap_or(true),
                },
            );
        }
    }
    let mut aliases = kms.list_aliases().into_paginator().send();
    while let Some(page) = aliases.next().await {
        for alias in page.context("ListAliases")?.aliases.unwrap_or_default() {
            if let (Some(name), Some(target)) = (alias.alias_name, alias.target_key_id) {
                applied.aliases.insert(name, target);
            }
        }
    }
    Ok(applied)
}
