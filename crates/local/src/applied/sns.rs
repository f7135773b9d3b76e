//! SNS topics and subscriptions with their attributes, as `GetTopicAttributes` and
//! `GetSubscriptionAttributes` answer them.

use std::collections::BTreeMap;

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct AppliedSns {
    /// Topic ARN → its attributes (`Policy`, `DeliveryPolicy`, `KmsMasterKeyId`, ...).
    pub topics: BTreeMap<String, BTreeMap<String, String>>,
    /// Subscription ARN → its attributes (`TopicArn`, `Protocol`, `Endpoint`, `RedrivePolicy`,
    /// `FilterPolicy`, `FilterPolicyScope`, `RawMessageDelivery`, `DeliveryPolicy`,
    /// `SubscriptionRoleArn`, ...).
    pub subscriptions: BTreeMap<String, BTreeMap<String, String>>,
}

pub async fn read(
    sns: &aws_sdk_sns::Client,
    kept: &crate::sns::topic_attributes::TopicAttributes,
) -> anyhow::Result<AppliedSns> {
    let mut applied = AppliedSns::default();
    let mut topics = sns.list_topics().into_paginator().send();
    while let Some(page) = topics.next().await {
        for topic in page.context("ListTopics")?.topics.unwrap_or_default() {
            let Some(arn) = topic.topic_arn else { continue };
            let attributes = sns
                .get_topic_attributes()
                .topic_arn(&arn)
                .send()
                .await
                .with_context(|| format!("GetTopicAttributes {arn}"))?
                .attributes
                .unwrap_or_default();
            let mut attributes: BTreeMap<String, String> = attributes.into_iter().collect();
            for (name, value) in kept.of(&arn) {
                attributes.entry(name).or_insert(value);
            }
            applied.topics.insert(arn, attributes);
        }
    }
    let mut subscriptions = sns.list_subscriptions().into_paginator().send();
    while let Some(page) = subscriptions.next().await {
        for subscription in page
            .context("ListSubscriptions")?
            .subscriptions
            .unwrap_or_default()
        {
            let Some(arn) = subscription.subscription_arn else {
                continue;
            };
            if !arn.starts_with("arn:") {
                // "PendingConfirmation" stands in for the ARN of an unconfirmed subscription.
                continue;
            }
            let attributes = sns
                .get_subscription_attributes()
                .subscription_arn(&arn)
                .send()
                .await
                .with_context(|| format!("GetSubscriptionAttributes {arn}"))?
                .attributes
                .unwrap_or_default();
            applied
                .subscriptions
                .insert(arn, attributes.into_iter().collect());
        }
    }
    Ok(applied)
}
