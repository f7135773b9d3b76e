//! SQS queues: URL, attributes (`QueueArn`, `Policy`, `KmsMasterKeyId`, ...) and tags.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_sqs::types::QueueAttributeName;

#[derive(Debug, Clone, Default)]
pub struct Queue {
    pub url: String,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Queue {
    pub fn arn(&self) -> &str {
        self.attributes
            .get("QueueArn")
            .map(String::as_str)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default)]
pub struct AppliedSqs {
    /// Queue ARN → queue.
    pub queues: BTreeMap<String, Queue>,
}

impl AppliedSqs {
    /// The queue a URL names: SQS reads the account and the name from its path, whatever host
    /// the URL was written for (the endpoint it was created through, or moto's own).
    pub fn by_url(&self, url: &str) -> Option<&Queue> {
        let wanted = account_and_name(url)?;
        self.queues
            .values()
            .find(|queue| account_and_name(&queue.url) == Some(wanted))
    }
}

fn account_and_name(url: &str) -> Option<(&str, &str)> {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next()?;
    let account = segments.next()?;
    Some((account, name))
}

pub async fn read(sqs: &aws_sdk_sqs::Client) -> anyhow::Result<AppliedSqs> {
    let mut applied = AppliedSqs::default();
    let mut pages = sqs.list_queues().into_paginator().send();
    while let Some(page) = pages.next().await {
        for url in page.context("ListQueues")?.queue_urls.unwrap_or_default() {
            let attributes: BTreeMap<String, String> = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .with_context(|| format!("GetQueueAttributes {url}"))?
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect();
            let tags = sqs
                .list_queue_tags()
                .queue_url(&url)
                .send()
                .await
                .with_context(|| format!("ListQueueTags {url}"))?
                .tags
                .unwrap_or_default()
                .into_iter()
                .collect();
            let queue = Queue {
                name: url.rsplit('/').next().unwrap_or_default().to_owned(),
                url,
                attributes,
                tags,
            };
            applied.queues.insert(queue.arn().to_owned(), queue);
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_found_by_its_account_and_name_whatever_the_host() {
        let mut applied = AppliedSqs::default();
        applied.queues.insert(
            "arn:aws:sqs:eu-west-1:123456789012:postoffice-rule-errors".to_owned(),
            Queue {
                url: "http://127.0.0.1:5000/123456789012/postoffice-rule-errors".to_owned(),
                ..Queue::default()
            },
        );
        assert!(
            applied
                .by_url("https://127.0.0.1:4566/123456789012/postoffice-rule-errors")
                .is_some()
        );
        assert!(
            applied
                .by_url("https://127.0.0.1:4566/210987654321/postoffice-rule-errors")
                .is_none()
        );
        assert!(applied.by_url("postoffice-rule-errors").is_none());
    }
}
