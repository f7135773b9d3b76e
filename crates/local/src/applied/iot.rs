//! AWS IoT: topic rules and IoT policies. Certificates and things (a fleet's worth) are looked
//! up per connection instead ([`crate::iot::directory`]).

use std::collections::BTreeMap;

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct TopicRule {
    pub name: String,
    pub sql: String,
    pub sql_version: String,
    pub enabled: bool,
    pub actions: Vec<RuleAction>,
    pub error_action: Option<RuleAction>,
}

/// The actions the platform's rules use; any other kind is kept by name so the plan can say
/// it is not run locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    Sns {
        target_arn: String,
        role_arn: String,
        message_format: String,
    },
    Sqs {
        queue_url: String,
        role_arn: String,
        use_base64: bool,
    },
    Republish {
        topic: String,
        role_arn: String,
        qos: i32,
    },
    Other(String),
}

#[derive(Debug, Clone, Default)]
pub struct AppliedIot {
    pub rules: BTreeMap<String, TopicRule>,
    /// Policy name → document (default version).
    pub policies: BTreeMap<String, String>,
}

pub async fn read(iot: &aws_sdk_iot::Client) -> anyhow::Result<AppliedIot> {
    let mut applied = AppliedIot::default();
    let mut rules = iot.list_topic_rules().into_paginator().send();
    while let Some(page) = rules.next().await {
        for listed in page.context("ListTopicRules")?.rules.unwrap_or_default() {
            let Some(name) = listed.rule_name else {
                continue;
            };
            let rule = iot
                .get_topic_rule()
                .rule_name(&name)
                .send()
                .await
                .with_context(|| format!("GetTopicRule {name}"))?
                .rule
                .with_context(|| format!("GetTopicRule {name}: no rule"))?;
            applied.rules.insert(
                name.clone(),
                TopicRule {
                    name,
                    sql: rule.sql.unwrap_or_default(),
                    sql_version: rule
                        .aws_iot_sql_version
                        .unwrap_or_else(|| "2015-10-08".to_owned()),
                    enabled: !rule.rule_disabled.unwrap_or(false),
                    actions: rule
                        .actions
                        .unwrap_or_default()
                        .iter()
                        .map(rule_action)
                        .collect(),
                    error_action: rule.error_action.as_ref().map(rule_action),
                },
            );
        }
    }
    let mut policies = iot.list_policies().into_paginator().send();
    while let Some(page) = policies.next().await {
        for listed in page.context("ListPolicies")?.policies.unwrap_or_default() {
            let Some(name) = listed.policy_name else {
                continue;
            };
            let document = iot
                .get_policy()
                .policy_name(&name)
                .send()
                .await
                .with_context(|| format!("GetPolicy {name}"))?
                .policy_document
                .unwrap_or_default();
            applied.policies.insert(name, document);
        }
    }
    Ok(applied)
}

fn rule_action(action: &aws_sdk_iot::types::Action) -> RuleAction {
    if let Some(sns) = &action.sns {
        RuleAction::Sns {
            target_arn: sns.target_arn.clone(),
            role_arn: sns.role_arn.clone(),
            message_format: sns
                .message_format
                .as_ref()
                .map(|format| format.as_str().to_owned())
                .unwrap_or_else(|| "RAW".to_owned()),
        }
    } else if let Some(sqs) = &action.sqs {
        RuleAction::Sqs {
            queue_url: sqs.queue_url.clone(),
            role_arn: sqs.role_arn.clone(),
            use_base64: sqs.use_base64.unwrap_or(false),
        }
    } else if let Some(republish) = &action.republish {
        RuleAction::Republish {
            topic: republish.topic.clone(),
            role_arn: republish.role_arn.clone(),
            qos: republish.qos.unwrap_or(0),
        }
    } else {
        RuleAction::Other(
            format!("{action:?}")
                .split_whitespace()
                .next()
                .unwrap_or("action")
                .to_owned(),
        )
    }
}
