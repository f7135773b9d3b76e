//! Bursts of device requests through a local post office, measured: the burst test and the
//! `bench-e2e` benchmark share it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use postoffice_local::LocalPostOffice;
use postoffice_local::activity::Activity;
use postoffice_local::device::device_message;
use postoffice_local::lambda::qualified_name;
use postoffice_local::plan::Endpoint;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{example, percentile, unique};

#[derive(Debug)]
pub struct BurstReport {
    pub devices: usize,
    pub events: usize,
    /// First publish to last reply.
    pub elapsed: Duration,
    /// Device publish → the kitchen's bridge answered 2xx (handler done), sorted.
    pub to_handler: Vec<Duration>,
    /// Device publish → COOKING_REPLIED on the device's topic, sorted.
    pub to_reply: Vec<Duration>,
    /// Event ids of every request published.
    pub published: BTreeSet<Uuid>,
    /// Correlation ids of every reply received.
    pub replied: BTreeSet<Uuid>,
    pub households: Vec<String>,
}

impl BurstReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{} events from {} devices in {:.2} s: {:.1} events/s; device→handler p50 {:.1} ms \
             p99 {:.1} ms (n={}); device→reply p50 {:.1} ms p99 {:.1} ms (n={})",
            self.events,
            self.devices,
            self.elapsed.as_secs_f64(),
            self.events_per_second(),
            ms(percentile(&self.to_handler, 50.0)),
            ms(percentile(&self.to_handler, 99.0)),
            self.to_handler.len(),
            ms(percentile(&self.to_reply, 50.0)),
            ms(percentile(&self.to_reply, 99.0)),
            self.to_reply.len(),
        )
    }
}

/// Connects `devices` devices (ten per household) and has each publish `per_device`
/// COOKING_REQUESTED, all at once; waits for every reply within `timeout`.
pub async fn cooking_burst(
    post_office: &LocalPostOffice,
    devices: usize,
    per_device: usize,
    timeout: Duration,
) -> anyhow::Result<BurstReport> {
    let mut fleet = Vec::new();
    let mut households = Vec::new();
    for chunk in 0..devices.div_ceil(10) {
        let household = unique(&format!("h-burst{chunk}"));
        for _ in 0..10.min(devices - chunk * 10) {
            let credentials = post_office
                .register_device(&unique("oven"), Some(&household))
                .await?;
            fleet.push(post_office.connect_device(&credentials, &household).await?);
        }
        households.push(household);
    }
    let activity = post_office.activity();
    let kitchen = kitchen_endpoint(post_office)?;
    let handled = tokio::spawn(handler_times(
        activity,
        kitchen,
        devices * per_device,
        timeout,
    ));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut device in fleet {
        tasks.push(tokio::spawn(async move {
            let mut sent = BTreeMap::new();
            for _ in 0..per_device {
                let request = device_message(example("COOKING_REQUESTED"));
                let id = request.event_id.expect("set");
                sent.insert(id, Instant::now());
                device.publish("COOKING_REQUESTED", &request).await?;
            }
            let mut replies = BTreeMap::new();
            let deadline = started + timeout;
            while replies.len() < per_device {
                let left = deadline.saturating_duration_since(Instant::now());
                let reply = device
                    .receive(left, |m| m.topic.starts_with("COOKING_REPLIED/"))
                    .await
                    .with_context(|| {
                        format!(
                            "{} got {} of {per_device} replies",
                            device.device_id,
                            replies.len()
                        )
                    })?;
                let envelope = postoffice::Envelope::from_json(&reply.payload)?;
                replies.entry(envelope.correlation_id).or_insert(reply.at);
            }
            anyhow::Ok((sent, replies))
        }));
    }
    let mut sent_at = BTreeMap::new();
    let mut replied_at = BTreeMap::new();
    for task in tasks {
        let (sent, replies) = task.await??;
        sent_at.extend(sent);
        replied_at.extend(replies);
    }
    let elapsed = started.elapsed();
    let handler_at = handled.await??;

    let mut to_reply: Vec<Duration> = replied_at
        .iter()
        .filter_map(|(id, at)| Some(at.duration_since(*sent_at.get(id)?)))
        .collect();
    to_reply.sort();
    let mut to_handler: Vec<Duration> = handler_at
        .iter()
        .filter_map(|(id, at)| Some(at.duration_since(*sent_at.get(id)?)))
        .collect();
    to_handler.sort();
    Ok(BurstReport {
        devices,
        events: sent_at.len(),
        elapsed,
        to_handler,
        to_reply,
        published: sent_at.keys().copied().collect(),
        replied: replied_at.keys().copied().collect(),
        households,
    })
}

/// When the kitchen handled each request (its bridge answered 2xx), by event id.
async fn handler_times(
    mut activity: broadcast::Receiver<Activity>,
    kitchen_endpoint: String,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<BTreeMap<Uuid, Instant>> {
    let mut event_of_message = BTreeMap::new();
    let mut handled = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while handled.len() < expected || event_of_message.len() < expected {
        match tokio::time::timeout_at(deadline, activity.recv()).await {
            Ok(Ok(Activity::RulePublished {
                topic,
                event_id: Some(event_id),
                sns_message_id,
                ..
            })) if topic.starts_with("COOKING_REQUESTED/") => {
                event_of_message.insert(sns_message_id, event_id);
            }
            // The kitchen's endpoint answered 2xx: the handler is done.
            Ok(Ok(Activity::DeliveryAttempt {
                endpoint,
                sns_message_id,
                status: Some(200..=299),
                ..
            })) if endpoint == kitchen_endpoint => {
                handled.entry(sns_message_id).or_insert_with(Instant::now);
            }
            Ok(Ok(_)) => {}
            Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                bail!("the activity stream dropped {missed} entries")
            }
            Ok(Err(error)) => bail!("{error}"),
            Err(_) => bail!(
                "only {} of {expected} requests were handled in time",
                handled.len()
            ),
        }
    }
    // Delivery may be recorded before the rule's publish (SNS fans out before it answers).
    let mut by_event = BTreeMap::new();
    for (sns_message_id, at) in handled {
        if let Some(event_id) = event_of_message.get(&sns_message_id) {
            by_event.insert(event_id.parse()?, at);
        }
    }
    Ok(by_event)
}

/// What deliveries to the kitchen are recorded under, however it is deployed: its bridge, its
/// handler's SNS endpoint alias, or its ECS service.
pub fn kitchen_endpoint(post_office: &LocalPostOffice) -> anyhow::Result<String> {
    let kitchen = format!("{}-kitchen-", post_office.options.prefix);
    post_office
        .plan()
        .topics
        .values()
        .flat_map(|topic| &topic.subscriptions)
        .find_map(|subscription| match &subscription.endpoint {
            Endpoint::FunctionUrl {
                function,
                qualifier,
                ..
            } if function.starts_with(&kitchen) => {
                Some(qualified_name(function, qualifier.as_deref()))
            }
            Endpoint::Service { service } if service.starts_with(&kitchen) => Some(service.clone()),
            _ => None,
        })
        .context("no subscription delivers to the kitchen")
}

/// One device, `count` request/reply round trips one after the other: latency without load.
pub async fn sequential_round_trips(
    post_office: &LocalPostOffice,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<BurstReport> {
    let household = unique("h-seq");
    let credentials = post_office
        .register_device(&unique("oven"), Some(&household))
        .await?;
    let mut device = post_office.connect_device(&credentials, &household).await?;
    let kitchen = kitchen_endpoint(post_office)?;
    let handled = tokio::spawn(handler_times(
        post_office.activity(),
        kitchen,
        count,
        timeout,
    ));
    let started = Instant::now();
    let mut sent_at = BTreeMap::new();
    let mut replied_at = BTreeMap::new();
    for _ in 0..count {
        let request = device_message(example("COOKING_REQUESTED"));
        let id = request.event_id.expect("set");
        sent_at.insert(id, Instant::now());
        device.publish("COOKING_REQUESTED", &request).await?;
        let reply = device
            .receive(timeout, |m| {
                m.topic.starts_with("COOKING_REPLIED/")
                    && postoffice::Envelope::from_json(&m.payload)
                        .is_ok_and(|e| e.correlation_id == id)
            })
            .await?;
        replied_at.insert(id, reply.at);
    }
    let elapsed = started.elapsed();
    let handler_at = handled.await??;
    let latencies = |at: &BTreeMap<Uuid, Instant>| {
        let mut latencies: Vec<Duration> = at
            .iter()
            .filter_map(|(id, at)| Some(at.duration_since(*sent_at.get(id)?)))
            .collect();
        latencies.sort();
        latencies
    };
    Ok(BurstReport {
        devices: 1,
        events: count,
        elapsed,
        to_handler: latencies(&handler_at),
        to_reply: latencies(&replied_at),
        published: sent_at.keys().copied().collect(),
        replied: replied_at.keys().copied().collect(),
        households: vec![household],
    })
}
