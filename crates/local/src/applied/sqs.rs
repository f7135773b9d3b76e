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
    pub fn by_url(&self, url: &str) -> Option<&Queue> {
        self.queues.values().find(|queue| queue.url == url)
    }
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
