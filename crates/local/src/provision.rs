//! Creates in the emulator what the Terraform modules create in AWS: a topic per event, a
//! dead-letter queue per consumer and the rule-errors queue (tagged as contracts.md says, so
//! `postoffice dlq` finds them); then subscribes, in the local SNS data plane, each consumer's
//! bridge (HTTP/S) and the event store (raw delivery, as Firehose) to the topics.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_sqs::types::QueueAttributeName;

use tokio::sync::mpsc;

use crate::config::LocalConfig;
use crate::sns::{Inbox, SnsDataPlane};

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// One consumer's subscription to one event.
#[derive(Debug, Clone)]
pub struct ConsumerSubscription {
    pub consumer: String,
    pub event: String,
    pub topic_arn: String,
    /// The subscription's ARN in the local SNS data plane.
    pub subscription_arn: String,
    pub dead_letter_queue: Queue,
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub topics: BTreeMap<String, String>,
    pub consumer_dlqs: BTreeMap<String, Queue>,
    pub rule_errors: Queue,
    pub subscriptions: Vec<ConsumerSubscription>,
}

/// What the data plane hands out: each subscription's inbox (in the order of
/// `Provisioned::subscriptions`) and each event's event-store feed.
pub struct Feeds {
    pub inboxes: Vec<Inbox>,
    pub event_store: BTreeMap<String, mpsc::UnboundedReceiver<String>>,
}

pub async fn provision(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    plane: &mut SnsDataPlane,
    config: &LocalConfig,
    events: &[String],
    subscriptions: &BTreeMap<String, Vec<String>>,
) -> anyhow::Result<(Provisioned, Feeds)> {
    let mut topics = BTreeMap::new();
    for event in events {
        let name = format!("{}-{event}", config.prefix);
        let arn = sns
            .create_topic()
            .name(&name)
            .send()
            .await
            .with_context(|| format!("creating topic {name}"))?
            .topic_arn
            .context("CreateTopic returned no ARN")?;
        plane.add_topic(&arn);
        topics.insert(event.clone(), arn);
    }

    let mut consumer_dlqs = BTreeMap::new();
    for (consumer, consumer_config) in &config.consumers {
        let queue = create_queue(
            sqs,
            &config.consumer_dlq_name(consumer),
            &[
                ("postoffice:role", "consumer-dlq"),
                ("postoffice:consumer", consumer),
                ("postoffice:handler", &consumer_config.handler),
            ],
        )
        .await?;
        consumer_dlqs.insert(consumer.clone(), queue);
    }
    let rule_errors = create_queue(
        sqs,
        &config.rule_errors_queue_name(),
        &[("postoffice:role", "rule-errors")],
    )
    .await?;

    let mut consumer_subscriptions = Vec::new();
    let mut inboxes = Vec::new();
    for (consumer, consumer_events) in subscriptions {
        let dead_letter_queue = consumer_dlqs
            .get(consumer)
            .with_context(|| format!("consumer {consumer} has no handler in the local config"))?
            .clone();
        for event in consumer_events {
            let topic_arn = topics
                .get(event)
                .with_context(|| format!("no topic for {event}"))?;
            let (subscription_arn, inbox) = plane.subscribe(topic_arn);
            inboxes.push(inbox);
            consumer_subscriptions.push(ConsumerSubscription {
                consumer: consumer.clone(),
                event: event.clone(),
                topic_arn: topic_arn.clone(),
                subscription_arn,
                dead_letter_queue: dead_letter_queue.clone(),
            });
        }
    }
    let event_store = topics
        .iter()
        .map(|(event, topic_arn)| (event.clone(), plane.subscribe_event_store(topic_arn)))
        .collect();
    Ok((
        Provisioned {
            topics,
            consumer_dlqs,
            rule_errors,
            subscriptions: consumer_subscriptions,
        },
        Feeds {
            inboxes,
            event_store,
        },
    ))
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    tags: &[(&str, &str)],
) -> anyhow::Result<Queue> {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in tags {
        request = request.tags(*key, *value);
    }
    let url = request
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .context("CreateQueue returned no URL")?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .context("queue has no ARN")?;
    Ok(Queue {
        name: name.to_owned(),
        url,
        arn,
    })
}
