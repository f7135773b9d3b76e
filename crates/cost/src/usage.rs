//! What a customer's household uses in a month, in the quantities AWS meters.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::deployment::BridgeMode;
use crate::pricing::{Prices, increments};
use crate::profile::{
    Actor, Connection, EventRate, Failures, Idle, LambdaFunction, LogLines, Profile,
};
use crate::routes::{COLLECTION_EVENT, COLLECTION_UNPACKER, Direction, EventRoutes, IOT_FORWARDER};
use crate::sessions;

/// Topic rules that take every message an actor publishes on an event's topic: the event
/// module's readable rule and its rejected rule (terraform/modules/event/main.tf). IoT meters
/// each triggered rule, and at least one action for each, "with a minimum of one action per
/// rule" (https://aws.amazon.com/iot-core/pricing/).
pub const RULES_PER_ACTOR_EVENT: f64 = 2.0;

/// The publishing principal of what actors send: the event's IoT rule (its role).
pub const IOT_RULE: &str = "iot-rule";
/// The queue SNS parks what it could not put into the event store in.
pub const EVENT_STORE_DLQ: &str = "event-store-dlq";
/// The queue the IoT rules' error action sends failed actions to.
pub const RULE_ERRORS_QUEUE: &str = "rule-errors";
/// SQS bills each 64 KB chunk of a payload as a request (when the price file does not say).
pub const SQS_CHUNK_BYTES: u64 = 65_536;
/// DynamoDB stores each item with 100 bytes of overhead
/// (https://aws.amazon.com/dynamodb/pricing/on-demand/, "Data storage").
pub const DYNAMODB_ITEM_OVERHEAD_BYTES: f64 = 100.0;
const NO_FAILURES: Failures = Failures {
    delivery_failure_rate: 0.0,
    rule_error_rate: 0.0,
};

/// 365 days / 12: the model's month.
pub const DAYS_PER_MONTH: f64 = 365.0 / 12.0;
/// AWS meters data volumes in binary gigabytes.
pub const BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// How actors hold their MQTT connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connectivity {
    AlwaysConnected,
    DisconnectWhenIdle,
}

/// Whether each event travels alone or in Event Collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Messaging {
    SingleEvents,
    EventCollections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scenario {
    pub connectivity: Connectivity,
    pub messaging: Messaging,
}

impl Scenario {
    pub const BASELINE: Scenario = Scenario {
        connectivity: Connectivity::AlwaysConnected,
        messaging: Messaging::SingleEvents,
    };
    pub const DISCONNECT_WHEN_IDLE: Scenario = Scenario {
        connectivity: Connectivity::DisconnectWhenIdle,
        messaging: Messaging::SingleEvents,
    };
    pub const EVENT_COLLECTIONS: Scenario = Scenario {
        connectivity: Connectivity::AlwaysConnected,
        messaging: Messaging::EventCollections,
    };
    pub const BOTH: Scenario = Scenario {
        connectivity: Connectivity::DisconnectWhenIdle,
        messaging: Messaging::EventCollections,
    };
    pub const ALL: [Scenario; 4] = [
        Self::BASELINE,
        Self::DISCONNECT_WHEN_IDLE,
        Self::EVENT_COLLECTIONS,
        Self::BOTH,
    ];

    /// A short name for tables.
    pub fn label(&self) -> &'static str {
        match (self.connectivity, self.messaging) {
            (Connectivity::AlwaysConnected, Messaging::SingleEvents) => "always connected",
            (Connectivity::DisconnectWhenIdle, Messaging::SingleEvents) => "disconnect when idle",
            (Connectivity::AlwaysConnected, Messaging::EventCollections) => "event collections",
            (Connectivity::DisconnectWhenIdle, Messaging::EventCollections) => "idle + collections",
        }
    }
}

/// One Lambda role's requests and billed GB-seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LambdaUsage {
    pub requests: f64,
    pub gb_seconds: f64,
}

/// What one event's partition of the event store receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StoreFlow {
    pub records: f64,
    pub bytes: f64,
    /// Moments records arrive at: a collection's members, unpacked together, arrive at once.
    pub arrivals: f64,
}

/// What SNS delivers to one consumer over HTTPS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ConsumerDeliveries {
    /// HTTP requests (one per message, whatever its size).
    pub deliveries: f64,
    /// SNS message bytes (the envelopes) they carry.
    pub message_bytes: f64,
    /// Of the deliveries, those whose publisher passed SNS no X-Ray trace (an IoT rule, a
    /// service outside the platform): the consumer's function decides to trace them itself.
    /// The others continue the trace of the function that published them.
    pub untraced_deliveries: f64,
}

/// A month's metered quantities.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonthlyUsage {
    pub connection_minutes: f64,
    /// IoT Core messages, counted in 5 KB increments.
    pub iot_messages: f64,
    pub iot_rules_triggered: f64,
    pub iot_actions_executed: f64,
    /// SNS publish requests, counted in 64 KB chunks.
    pub sns_publishes: f64,
    pub sns_http_deliveries: f64,
    pub sns_firehose_deliveries: f64,
    pub bridge: LambdaUsage,
    pub handler: LambdaUsage,
    pub forwarder: LambdaUsage,
    /// Firehose ingestion with every record rounded up to 5 KB.
    pub firehose_ingested_gb: f64,
    /// Event store flows per event (= S3 partition).
    pub event_store: BTreeMap<String, StoreFlow>,
    /// Steady-state S3 storage under the retention period.
    pub stored_gb: f64,
    /// HTTPS deliveries per consumer: what a container deployment would serve.
    pub consumers: BTreeMap<String, ConsumerDeliveries>,
    /// SNS publishes per topic (event) and publishing principal: an event's IoT rule
    /// (`iot-rule`), the collection-unpacker, or the services the catalog names as producers.
    pub topic_publishers: BTreeMap<String, BTreeMap<String, f64>>,
    /// CloudWatch Logs of the Lambda functions: log events and the bytes billed for them.
    pub lambda_log_events: f64,
    pub lambda_log_bytes: f64,
    /// CloudWatch Logs of the topics' failed deliveries.
    pub delivery_status_log_events: f64,
    pub delivery_status_log_bytes: f64,
    /// Steady-state log storage under the log groups' retention.
    pub lambda_log_stored_gb: f64,
    pub delivery_status_log_stored_gb: f64,
    /// DynamoDB idempotency tables: write request units (a claim and a completion per event).
    pub dynamodb_write_units: f64,
    /// Steady-state DynamoDB storage: items kept for the remember-for period.
    pub dynamodb_stored_gb: f64,
    /// Messages sent to each queue (dead letters of a consumer, `event-store-dlq`,
    /// `rule-errors`).
    pub queue_messages: BTreeMap<String, f64>,
    /// SQS requests in 64 KB chunks: the sends into the queues and on-call's receive and delete.
    pub sqs_requests: f64,
}

impl MonthlyUsage {
    /// The same usage for `customers` households.
    pub fn times(&self, customers: f64) -> MonthlyUsage {
        let lambda = |usage: LambdaUsage| LambdaUsage {
            requests: usage.requests * customers,
            gb_seconds: usage.gb_seconds * customers,
        };
        MonthlyUsage {
            connection_minutes: self.connection_minutes * customers,
            iot_messages: self.iot_messages * customers,
            iot_rules_triggered: self.iot_rules_triggered * customers,
            iot_actions_executed: self.iot_actions_executed * customers,
            sns_publishes: self.sns_publishes * customers,
            sns_http_deliveries: self.sns_http_deliveries * customers,
            sns_firehose_deliveries: self.sns_firehose_deliveries * customers,
            bridge: lambda(self.bridge),
            handler: lambda(self.handler),
            forwarder: lambda(self.forwarder),
            firehose_ingested_gb: self.firehose_ingested_gb * customers,
            event_store: self
                .event_store
                .iter()
                .map(|(event, flow)| {
                    let flow = StoreFlow {
                        records: flow.records * customers,
                        bytes: flow.bytes * customers,
                        arrivals: flow.arrivals * customers,
                    };
                    (event.clone(), flow)
                })
                .collect(),
            stored_gb: self.stored_gb * customers,
            consumers: self
                .consumers
                .iter()
                .map(|(consumer, flow)| {
                    let flow = ConsumerDeliveries {
                        deliveries: flow.deliveries * customers,
                        untraced_deliveries: flow.untraced_deliveries * customers,
                        message_bytes: flow.message_bytes * customers,
                    };
                    (consumer.clone(), flow)
                })
                .collect(),
            topic_publishers: self
                .topic_publishers
                .iter()
                .map(|(topic, principals)| {
                    let principals = principals
                        .iter()
                        .map(|(principal, publishes)| (principal.clone(), publishes * customers))
                        .collect();
                    (topic.clone(), principals)
                })
                .collect(),
            lambda_log_events: self.lambda_log_events * customers,
            lambda_log_bytes: self.lambda_log_bytes * customers,
            delivery_status_log_events: self.delivery_status_log_events * customers,
            delivery_status_log_bytes: self.delivery_status_log_bytes * customers,
            lambda_log_stored_gb: self.lambda_log_stored_gb * customers,
            delivery_status_log_stored_gb: self.delivery_status_log_stored_gb * customers,
            dynamodb_write_units: self.dynamodb_write_units * customers,
            dynamodb_stored_gb: self.dynamodb_stored_gb * customers,
            queue_messages: self
                .queue_messages
                .iter()
                .map(|(queue, messages)| (queue.clone(), messages * customers))
                .collect(),
            sqs_requests: self.sqs_requests * customers,
        }
    }

    /// Bytes delivered to the event store, all partitions.
    pub fn event_store_gb(&self) -> f64 {
        self.event_store
            .values()
            .map(|flow| flow.bytes)
            .sum::<f64>()
            / BYTES_PER_GB
    }
}

/// How one actor kind connects and collects under a scenario, per actor per day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ActorPlan {
    pub sessions_per_day: f64,
    pub minutes_per_day: f64,
    /// Metered messages a session opens with: CONNECT and SUBSCRIBE, or CONNECT alone when
    /// the persistent session is still there (a derived idle actor polls within its expiry).
    pub messages_per_session: f64,
    /// Events of a collection, when its collectable events travel in collections.
    pub events_per_collection: Option<f64>,
}

/// Every actor kind's [`ActorPlan`] under `scenario`.
pub fn actor_plans(
    profile: &Profile,
    routes: &EventRoutes,
    scenario: Scenario,
) -> BTreeMap<String, ActorPlan> {
    profile
        .actors
        .iter()
        .map(|(kind, actor)| {
            (
                kind.clone(),
                actor_plan(profile, routes, kind, actor, scenario),
            )
        })
        .collect()
}

fn actor_plan(
    profile: &Profile,
    routes: &EventRoutes,
    kind: &str,
    actor: &Actor,
    scenario: Scenario,
) -> ActorPlan {
    let collecting = scenario.messaging == Messaging::EventCollections;
    // Events that may wait (the catalog's maximum wait, marked collectable in the profile) ride
    // on an idle actor's next session whether or not they travel collected.
    let mut waiting_per_day = 0.0;
    let mut max_wait_s = f64::INFINITY;
    let mut sends_per_day = 0.0;
    let mut most_frequent_per_day: f64 = 0.0;
    for rate in &profile.events {
        let Some(route) = routes.get(&rate.event) else {
            continue;
        };
        if rate.actor.as_deref() != Some(kind) || route.direction != Direction::ActorToBackend {
            continue;
        }
        match route.collection_max_wait_s {
            Some(wait) if rate.collectable => {
                waiting_per_day += rate.per_day;
                max_wait_s = max_wait_s.min(wait);
            }
            _ => {
                sends_per_day += rate.per_day;
                most_frequent_per_day = most_frequent_per_day.max(rate.per_day);
            }
        }
    }
    let waits = waiting_per_day > 0.0;
    let collects = collecting && waits;
    let given = |connection: Connection| ActorPlan {
        sessions_per_day: connection.sessions_per_day,
        minutes_per_day: connection.hours_per_day * 60.0,
        messages_per_session: 2.0,
        events_per_collection: collects
            .then(|| sessions::events_per_collection_connected(waiting_per_day, max_wait_s)),
    };
    match scenario.connectivity {
        Connectivity::AlwaysConnected => given(actor.connection.always_connected),
        Connectivity::DisconnectWhenIdle => match actor.connection.disconnect_when_idle.form() {
            Some(Idle::Derived {
                idle_after_s,
                poll_interval_s,
            }) => {
                let sessions = sessions::sessions_per_day(
                    sends_per_day,
                    most_frequent_per_day,
                    poll_interval_s,
                    idle_after_s,
                    waits.then_some(max_wait_s),
                );
                ActorPlan {
                    sessions_per_day: sessions,
                    minutes_per_day: sessions * sessions::minutes_per_session(idle_after_s),
                    messages_per_session: 1.0,
                    events_per_collection: collects
                        .then(|| sessions::events_per_collection_idle(waiting_per_day, sessions)),
                }
            }
            Some(Idle::Given(connection)) => given(connection),
            None => given(Connection {
                hours_per_day: 0.0,
                sessions_per_day: 0.0,
            }),
        },
    }
}

/// Messages of one event's route in a month: an event travels alone (`via_iot` when an actor
/// publishes it over MQTT), or in collections, which IoT Core carries on [`COLLECTION_EVENT`]
/// and whose consumer publishes each member to the event's own topic.
pub(crate) struct EventMessages {
    /// The route (catalog event) these messages take.
    pub event: String,
    /// Published by an actor over MQTT (or sent to one), so metered by IoT Core.
    pub via_iot: bool,
    /// Events per message.
    pub per_message: f64,
    pub messages: f64,
    /// Moments the messages are published at: the members of a collection together.
    pub arrivals: f64,
    pub device_bytes: f64,
    pub envelope_bytes: f64,
    /// Backend-to-actor: the PUBLISHes IoT Core sends per message (its actor and the others
    /// that subscribe to it).
    pub receivers: f64,
}

pub(crate) fn event_messages(
    profile: &Profile,
    plans: &BTreeMap<String, ActorPlan>,
    rate: &EventRate,
) -> Vec<EventMessages> {
    let sizes = profile.message_sizes;
    let actors = match &rate.actor {
        Some(kind) => profile.actors[kind].per_customer,
        None => 1.0,
    };
    let payload = rate.payload_bytes.unwrap_or(sizes.payload_bytes);
    let events = rate.per_day * actors * DAYS_PER_MONTH;
    let single = |via_iot: bool| EventMessages {
        event: rate.event.clone(),
        via_iot,
        per_message: 1.0,
        messages: events,
        arrivals: events,
        device_bytes: payload + sizes.device_message_overhead_bytes,
        envelope_bytes: payload + sizes.envelope_overhead_bytes,
        receivers: rate.receivers_per_message(&profile.actors),
    };
    let collection = rate
        .actor
        .as_ref()
        .filter(|_| rate.collectable)
        .and_then(|kind| plans.get(kind)?.events_per_collection);
    match collection {
        None => vec![single(true)],
        Some(per_collection) => {
            let members = per_collection * (payload + sizes.device_message_overhead_bytes);
            let collections = events / per_collection;
            vec![
                EventMessages {
                    event: COLLECTION_EVENT.to_string(),
                    via_iot: true,
                    per_message: per_collection,
                    messages: collections,
                    arrivals: collections,
                    device_bytes: members,
                    envelope_bytes: members + sizes.envelope_overhead_bytes,
                    receivers: 1.0,
                },
                EventMessages {
                    arrivals: collections,
                    ..single(false)
                },
            ]
        }
    }
}

/// One customer's month under `scenario`, consumers deployed with `bridge`. The profile must
/// have been checked against `routes` and the price list must carry every metering increment
/// (both are checked on load).
pub fn customer_usage(
    profile: &Profile,
    routes: &EventRoutes,
    prices: &Prices,
    scenario: Scenario,
    bridge: BridgeMode,
) -> MonthlyUsage {
    customer_usage_by_consumer(profile, routes, prices, scenario, &|_| bridge)
}

/// [`customer_usage`] with each consumer deployed as `bridge(consumer)` says (a deployment that
/// mixes separate and embedded bridges).
pub fn customer_usage_by_consumer(
    profile: &Profile,
    routes: &EventRoutes,
    prices: &Prices,
    scenario: Scenario,
    bridge: &dyn Fn(&str) -> BridgeMode,
) -> MonthlyUsage {
    let increment = |price: &crate::pricing::Price| {
        price
            .increment_bytes
            .expect("size-metered prices carry increment_bytes (checked on load)")
    };
    let iot_increment = increment(&prices.iot_messaging);
    let rule_increment = increment(&prices.iot_rules_triggered);
    let action_increment = increment(&prices.iot_actions_executed);
    let publish_chunk = increment(&prices.sns_publishes);
    let delivery_chunk = increment(&prices.sns_http_deliveries);
    let record_increment = increment(&prices.firehose_ingestion);
    let sqs_chunk = prices
        .sqs_requests
        .as_ref()
        .and_then(|price| price.increment_bytes)
        .unwrap_or(SQS_CHUNK_BYTES);

    let mut usage = MonthlyUsage::default();
    let plans = actor_plans(profile, routes, scenario);
    let platform_functions: std::collections::BTreeSet<&str> = routes
        .values()
        .flat_map(|route| route.consumers.iter().map(String::as_str))
        .collect();
    for (kind, actor) in &profile.actors {
        let plan = plans[kind];
        usage.connection_minutes += actor.per_customer * plan.minutes_per_day * DAYS_PER_MONTH;
        // A session costs a CONNECT (and a SUBSCRIBE), each metered as at least one message.
        usage.iot_messages +=
            actor.per_customer * plan.sessions_per_day * plan.messages_per_session * DAYS_PER_MONTH;
    }

    for EventMessages {
        event,
        via_iot,
        per_message,
        messages,
        arrivals,
        device_bytes,
        envelope_bytes,
        receivers,
    } in profile
        .events
        .iter()
        .flat_map(|rate| event_messages(profile, &plans, rate))
    {
        let route = &routes[&event];
        let direction = if via_iot {
            route.direction
        } else {
            Direction::BackendToBackend
        };
        match direction {
            Direction::ActorToBackend => {
                usage.iot_messages += messages * increments(device_bytes, iot_increment);
                usage.iot_rules_triggered +=
                    RULES_PER_ACTOR_EVENT * messages * increments(device_bytes, rule_increment);
                // IoT bills at least one action per triggered rule: the readable rule's SNS
                // publish, and the minimum for the rejected rule whose WHERE clause (almost
                // always) selects nothing. The error action runs only on failure.
                usage.iot_actions_executed +=
                    RULES_PER_ACTOR_EVENT * messages * increments(device_bytes, action_increment);
            }
            Direction::BackendToActor => {
                // The forwarder's iot-data Publish (an HTTP request), the PUBLISH sent to each
                // receiving actor, and its QoS 1 PUBACK, which IoT Core meters as one message.
                let units = increments(device_bytes, iot_increment);
                usage.iot_messages += messages * (units + receivers * (units + 1.0));
            }
            Direction::BackendToBackend => {}
        }

        usage.sns_publishes += messages * increments(envelope_bytes, publish_chunk);
        usage.sns_http_deliveries +=
            messages * route.fan_out() as f64 * increments(envelope_bytes, delivery_chunk);
        usage.sns_firehose_deliveries += messages;
        // A platform function's SNS publish carries its trace header, which SNS passes on; an
        // IoT rule's does not, nor (as far as the model knows) a service outside the platform.
        let published_traced = match (via_iot, route.direction) {
            (true, Direction::ActorToBackend) => false,
            (false, _) => true,
            _ => route
                .producers
                .iter()
                .all(|producer| platform_functions.contains(producer.as_str())),
        };
        let publishers = usage.topic_publishers.entry(event.clone()).or_default();
        match (via_iot, route.direction) {
            (true, Direction::ActorToBackend) => {
                *publishers.entry(IOT_RULE.to_string()).or_default() += messages;
            }
            (false, _) => {
                *publishers
                    .entry(COLLECTION_UNPACKER.to_string())
                    .or_default() += messages;
            }
            // Services publish the event; the model does not know who publishes how much, so
            // each producer publishes an equal share.
            _ => {
                let share = messages / route.producers.len().max(1) as f64;
                for producer in &route.producers {
                    *publishers.entry(producer.clone()).or_default() += share;
                }
            }
        }

        // What fails for good: SNS parks a failed delivery in the consumer's dead-letter queue
        // (the event store's for Firehose) and logs it (only failures are logged:
        // terraform/modules/event/main.tf); a failed rule action goes to the rule-errors queue.
        // On-call receives and deletes each message.
        let failures = profile.failures.unwrap_or(NO_FAILURES);
        let failed = |queue: String, count: f64, bytes: f64, usage: &mut MonthlyUsage| {
            if count <= 0.0 {
                return;
            }
            *usage.queue_messages.entry(queue).or_default() += count;
            usage.sqs_requests += count * sqs_requests_per_message(bytes, sqs_chunk);
        };
        let failed_deliveries = messages * failures.delivery_failure_rate;
        for consumer in &route.consumers {
            failed(
                format!("{consumer}-dlq"),
                failed_deliveries,
                envelope_bytes,
                &mut usage,
            );
        }
        failed(
            EVENT_STORE_DLQ.to_string(),
            failed_deliveries,
            envelope_bytes,
            &mut usage,
        );
        if via_iot && route.direction == Direction::ActorToBackend {
            failed(
                RULE_ERRORS_QUEUE.to_string(),
                messages * failures.rule_error_rate,
                device_bytes,
                &mut usage,
            );
        }
        if let Some(logs) = &profile.logs {
            // Every consumer's HTTPS delivery and the Firehose delivery.
            let failures = failed_deliveries * (route.fan_out() as f64 + 1.0);
            let lines = logs.delivery_status_per_failure;
            usage.delivery_status_log_events += failures * lines.events;
            usage.delivery_status_log_bytes +=
                failures * lines.billed_bytes(logs.event_overhead_bytes);
        }

        for consumer in &route.consumers {
            if let Some(idempotency) = profile
                .idempotency
                .as_ref()
                .filter(|idempotency| idempotency.consumers.contains(consumer))
            {
                // A conditional PutItem claims the event and a PutItem completes it
                // (crates/postoffice/src/handler/dynamodb.rs), a write unit per KB each; the
                // completed item is kept for the remember-for period.
                let units = (idempotency.item_bytes / 1024.0).ceil().max(1.0);
                usage.dynamodb_write_units += messages * 2.0 * units;
                let items = messages / DAYS_PER_MONTH * idempotency.remember_for_days;
                usage.dynamodb_stored_gb +=
                    items * (idempotency.item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES) / BYTES_PER_GB;
            }
            if let Some(logs) = &profile.logs {
                let application = logs.application_per_invocation;
                let own = application.of_consumer(consumer);
                let invocations: Vec<LogLines> = match bridge(consumer) {
                    BridgeMode::Separate => vec![application.bridge, own],
                    BridgeMode::Embedded => vec![LogLines {
                        events: own.events + application.embedded_endpoint.events,
                        bytes: own.bytes + application.embedded_endpoint.bytes,
                    }],
                };
                for lines in invocations {
                    let platform = logs.platform_per_invocation;
                    usage.lambda_log_events += messages * (platform.events + lines.events);
                    usage.lambda_log_bytes += messages
                        * (platform.billed_bytes(logs.event_overhead_bytes)
                            + lines.billed_bytes(logs.event_overhead_bytes));
                }
            }
        }

        for consumer in &route.consumers {
            let (function, role) = if consumer == IOT_FORWARDER {
                (profile.lambda.forwarder, &mut usage.forwarder)
            } else if consumer == COLLECTION_UNPACKER {
                (profile.lambda.unpacker(), &mut usage.handler)
            } else {
                (profile.lambda.handler, &mut usage.handler)
            };
            let flow = usage.consumers.entry(consumer.clone()).or_default();
            flow.deliveries += messages;
            if !published_traced {
                flow.untraced_deliveries += messages;
            }
            flow.message_bytes += messages * envelope_bytes;
            match bridge(consumer) {
                BridgeMode::Separate => {
                    let handler_ms = billed_ms(function, per_message, 0.0);
                    role.requests += messages;
                    role.gb_seconds += messages * gb_seconds(function.memory_mb, handler_ms);
                    // The bridge is billed while it waits for the handler it invokes
                    // synchronously.
                    let bridge_ms = billed_ms(profile.lambda.bridge, per_message, 0.0) + handler_ms;
                    usage.bridge.requests += messages;
                    usage.bridge.gb_seconds +=
                        messages * gb_seconds(profile.lambda.bridge.memory_mb, bridge_ms);
                }
                BridgeMode::Embedded => {
                    // One invocation per delivery, its duration grown by the endpoint's work.
                    let handler_ms =
                        billed_ms(function, per_message, profile.lambda.embedded_endpoint_ms);
                    role.requests += messages;
                    role.gb_seconds += messages * gb_seconds(function.memory_mb, handler_ms);
                }
            }
        }

        usage.firehose_ingested_gb +=
            messages * increments(envelope_bytes, record_increment) * record_increment as f64
                / BYTES_PER_GB;
        let flow = usage.event_store.entry(event).or_default();
        flow.records += messages;
        flow.bytes += messages * envelope_bytes;
        flow.arrivals += arrivals;
    }
    let stored_bytes_per_day = usage
        .event_store
        .values()
        .map(|flow| flow.bytes)
        .sum::<f64>()
        / DAYS_PER_MONTH
        / profile.event_store.compression_ratio;
    usage.stored_gb = stored_bytes_per_day * profile.event_store.retention_days / BYTES_PER_GB;
    if let Some(logs) = &profile.logs {
        // A month's bytes kept for the retention period, at steady state.
        let stored = |bytes: f64| {
            bytes / DAYS_PER_MONTH * logs.retention_days
                / logs.storage_compression_ratio
                / BYTES_PER_GB
        };
        usage.lambda_log_stored_gb = stored(usage.lambda_log_bytes);
        usage.delivery_status_log_stored_gb = stored(usage.delivery_status_log_bytes);
    }
    usage
}

/// SQS requests one message of `bytes` costs: its SendMessage and on-call's ReceiveMessage, each
/// a request per 64 KB chunk of payload, and the DeleteMessage.
pub fn sqs_requests_per_message(bytes: f64, chunk: u64) -> f64 {
    2.0 * increments(bytes, chunk) + 1.0
}

/// Lambda bills each invocation's duration rounded up to the millisecond; the profile gives mean
/// billed durations (a measured mean of rounded invocations is not a whole number, and rounding
/// it up again would bill more than was measured); `more_ms` is further work in the same
/// invocation.
fn billed_ms(function: LambdaFunction, events: f64, more_ms: f64) -> f64 {
    function.duration_ms + (events - 1.0) * function.extra_event_ms + more_ms
}

fn gb_seconds(memory_mb: f64, milliseconds: f64) -> f64 {
    memory_mb / 1024.0 * milliseconds / 1000.0
}

/// S3 objects Firehose writes in a month ([`partition_objects`] per partition).
pub fn event_store_objects(usage: &MonthlyUsage, profile: &Profile) -> f64 {
    usage
        .event_store
        .values()
        .map(|flow| partition_objects(flow, profile, DAYS_PER_MONTH * 86_400.0))
        .sum()
}

/// The objects one partition's records make over `seconds`. Firehose opens a partition's buffer
/// at its first record and writes it as one object once the buffer interval has passed or the
/// buffer is full (<https://docs.aws.amazon.com/firehose/latest/dev/buffering.html>): records
/// arriving at random at rate R each open a buffer that takes the interval's R × I records more,
/// so there are records / (1 + R × I) objects, or more when the buffers fill first.
pub fn partition_objects(flow: &StoreFlow, profile: &Profile, seconds: f64) -> f64 {
    let store = profile.event_store;
    if flow.records <= 0.0 {
        return 0.0;
    }
    // Records that arrive together (a collection's members) open one buffer.
    let arrivals = if flow.arrivals > 0.0 {
        flow.arrivals.min(flow.records)
    } else {
        flow.records
    };
    let buffer_bytes = store.buffer_size_mb * 1024.0 * 1024.0;
    let per_buffer = 1.0 + arrivals / seconds * store.buffer_interval_seconds;
    let by_time = arrivals / per_buffer;
    let by_size = (flow.bytes / buffer_bytes).ceil();
    by_time.max(by_size).min(flow.records)
}
