//! Creates in the emulator what the Terraform modules create in AWS: a topic per event, a
//! dead-letter queue per consumer and the rule-errors queue (tagged as contracts.md says, so
//! `postoffice dlq` finds them), plus the local runtime's own plumbing: an SQS delivery queue per
//! consumer subscription (moto fans out to it; the delivery component pushes from it to the
//! bridge the HTTP/S way) and a raw-delivery queue per topic feeding the event store.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::config::LocalConfig;

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
    /// The subscription's ARN (of the moto subscription of its delivery queue).
    pub subscription_arn: String,
    pub delivery_queue: Queue,
    pub dead_letter_queue: Queue,
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub topics: BTreeMap<String, String>,
    pub consumer_dlqs: BTreeMap<String, Queue>,
    pub rule_errors: Queue,
    pub subscriptions: Vec<ConsumerSubscription>,
    /// Event → the raw-delivery queue of its event store feed.
    pub event_store_queues: BTreeMap<String, Queue>,
}

pub async fn provision(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    config: &LocalConfig,
    events: &[String],
    subscriptions: &BTreeMap<String, Vec<String>>,
) -> anyhow::Result<Provisioned> {
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
    for (consumer, consumer_events) in subscriptions {
        let dead_letter_queue = consumer_dlqs
            .get(consumer)
            .with_context(|| format!("consumer {consumer} has no handler in the local config"))?
            .clone();
        for event in consumer_events {
            let topic_arn = topics
                .get(event)
                .with_context(|| format!("no topic for {event}"))?;
            let delivery_queue = create_queue(
                sqs,
                &format!("{}-local-{consumer}-{event}-delivery", config.prefix),
                &[("postoffice:role", "local-delivery")],
            )
            .await?;
            let subscription_arn = subscribe(sns, topic_arn, &delivery_queue, false).await?;
            consumer_subscriptions.push(ConsumerSubscription {
                consumer: consumer.clone(),
                event: event.clone(),
                topic_arn: topic_arn.clone(),
                subscription_arn,
                delivery_queue,
                dead_letter_queue: dead_letter_queue.clone(),
            });
        }
    }

    let mut event_store_queues = BTreeMap::new();
    for (event, topic_arn) in &topics {
        let queue = create_queue(
            sqs,
            &format!("{}-local-event-store-{event}", config.prefix),
            &[("postoffice:role", "local-event-store")],
        )
        .await?;
        subscribe(sns, topic_arn, &queue, true).await?;
        event_store_queues.insert(event.clone(), queue);
    }

    Ok(Provisioned {
        topics,
        consumer_dlqs,
        rule_errors,
        subscriptions: consumer_subscriptions,
        event_store_queues,
    })
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

async fn subscribe(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue: &Queue,
    raw: bool,
) -> anyhow::Result<String> {
    let mut request = sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(&queue.arn)
        .return_subscription_arn(true);
    if raw {
        request = request.attributes("RawMessageDelivery", "true");
    }
    request
        .send()
        .await
        .with_context(|| format!("subscribing {} to {topic_arn}", queue.name))?
        .subscription_arn
        .context("Subscribe returned no ARN")
}
