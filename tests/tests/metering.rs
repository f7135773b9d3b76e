//! The meter counts what one device request costs, in AWS's units: the deltas between two
//! snapshots around a COOKING_REQUESTED are derived from the applied wiring (the plan's rules,
//! topics and subscriptions), not written down. Tests run one at a time (`--test-threads=1`).

use std::collections::BTreeMap;
use std::time::Duration;

use postoffice_e2e::{WAIT, device_message, household_with_device, post_office, run, wait_for};
use postoffice_local::metering::{IOT_MESSAGE_BYTES, Metering};
use postoffice_local::plan::{Endpoint, Plan};
use serde_json::json;

fn cooking_request() -> serde_json::Value {
    json!({"recipe_id": "sourdough-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700})
}

/// What the runtime counts, without the clock.
fn counted(metering: &Metering) -> serde_json::Value {
    let mut value = serde_json::to_value(metering).unwrap();
    for field in ["taken_at", "elapsed_seconds"] {
        value.as_object_mut().unwrap().remove(field);
    }
    for field in ["connection_minutes", "connection_seconds"] {
        value["iot"].as_object_mut().unwrap().remove(field);
    }
    value
}

/// A snapshot once nothing is in flight: no pending delivery, and nothing counted for 1 s.
async fn settled() -> Metering {
    let post_office = post_office();
    wait_for("the post office to settle", WAIT, || async {
        if post_office.pending_deliveries() > 0 {
            return None;
        }
        let before = post_office.metering();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = post_office.metering();
        (counted(&before) == counted(&after) && post_office.pending_deliveries() == 0)
            .then_some(after)
    })
    .await
}

fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The function a bridge invokes (`POSTOFFICE_HANDLER_FUNCTION`: a name or an ARN).
fn handler_of(plan: &Plan, function: &str) -> Option<String> {
    let target = plan
        .functions
        .get(function)?
        .environment
        .get("POSTOFFICE_HANDLER_FUNCTION")?;
    plan.functions
        .keys()
        .find(|name| {
            *target == **name
                || target.ends_with(&format!(":function:{name}"))
                || target.contains(&format!(":function:{name}:"))
        })
        .cloned()
}

/// What `publishes` (topic name → count) must have cost downstream, per the applied
/// subscriptions: deliveries per protocol, Lambda requests per function, Firehose records.
struct Expected {
    deliveries: BTreeMap<&'static str, u64>,
    lambda: BTreeMap<String, u64>,
    firehose_records: u64,
}

fn expected_downstream(plan: &Plan, publishes: &BTreeMap<String, u64>) -> Expected {
    let mut expected = Expected {
        deliveries: BTreeMap::new(),
        lambda: BTreeMap::new(),
        firehose_records: 0,
    };
    for topic in plan.topics.values() {
        let Some(&published) = publishes.get(topic_name(&topic.arn)) else {
            continue;
        };
        for subscription in &topic.subscriptions {
            assert!(
                subscription.filter_policy.is_none(),
                "{} has a filter policy: this test counts unfiltered subscriptions only",
                subscription.arn
            );
            let protocol = match &subscription.endpoint {
                Endpoint::FunctionUrl { function, .. } => {
                    *expected.lambda.entry(function.clone()).or_default() += published;
                    if let Some(handler) = handler_of(plan, function) {
                        *expected.lambda.entry(handler).or_default() += published;
                    }
                    "https"
                }
                Endpoint::Http(_) | Endpoint::Service { .. } => "https",
                Endpoint::Firehose { .. } => {
                    expected.firehose_records += published;
                    "firehose"
                }
                Endpoint::Sqs { .. } => "sqs",
                Endpoint::Unsupported { .. } => continue,
            };
            *expected.deliveries.entry(protocol).or_default() += published;
        }
    }
    expected
}

#[test]
fn one_device_request_costs_what_the_applied_wiring_says() {
    run(async {
        let post_office = post_office();
        let plan = post_office.plan();
        let (mut oven, _) = household_with_device("h-meter").await.unwrap();
        let before = settled().await;

        let request = device_message(cooking_request());
        let request_id = request.event_id.unwrap().to_string();
        let payload = serde_json::to_vec(&request).unwrap();
        let request_topic = oven.topic("COOKING_REQUESTED");
        oven.publish("COOKING_REQUESTED", &request).await.unwrap();
        for _ in 0..2 {
            oven.receive(WAIT, |m| {
                m.topic.starts_with("COOKING_REPLIED/") || m.topic.starts_with("COOKING_STARTED/")
            })
            .await
            .unwrap();
        }
        wait_for("the request in the event store", WAIT, || async {
            postoffice_e2e::stored_envelopes()
                .ok()?
                .iter()
                .any(|stored| stored["event_id"] == request_id.as_str())
                .then_some(())
        })
        .await;
        let after = settled().await;

        // IoT: one device publish, metered on topic and payload in 5 KB messages.
        let device = (
            after.iot.device_publishes.count - before.iot.device_publishes.count,
            after.iot.device_publishes.bytes - before.iot.device_publishes.bytes,
            after.iot.device_publishes.billed - before.iot.device_publishes.billed,
        );
        let size = (request_topic.len() + payload.len()) as u64;
        assert_eq!(device, (1, size, size.div_ceil(IOT_MESSAGE_BYTES)));
        assert_eq!(device.2, 1, "a cooking request is one 5 KB message");
        // The reply and COOKING_STARTED, forwarded (iot-data) and delivered to the oven (which
        // may also be sent its own request back, if its subscription covers that topic).
        let forwarded = after.iot.data_publishes.count - before.iot.data_publishes.count;
        let delivered = after.iot.deliveries - before.iot.deliveries;
        assert_eq!(forwarded, 2);
        assert!(
            delivered == forwarded || delivered == forwarded + 1,
            "forwarded {forwarded}, delivered {delivered}"
        );

        // Rules: every enabled rule whose topic filter takes the request is triggered once and
        // runs its actions if its SQL selects the request (a `_rejected` rule does not); rules
        // on the reply topics may take the forwarder's publishes too.
        let mut rules_expected = BTreeMap::new();
        for rule in plan.rules.iter().filter(|rule| rule.enabled) {
            if rule.statement.matches_topic(&request_topic) {
                let actions = if rule.name.ends_with("_rejected") {
                    0
                } else {
                    rule.actions.len() as u64
                };
                rules_expected.insert(rule.name.clone(), (1, actions));
            }
        }
        assert!(
            !rules_expected.is_empty(),
            "no applied rule takes {request_topic}"
        );
        let replies = [oven.topic("COOKING_REPLIED"), oven.topic("COOKING_STARTED")];
        let mut rules_counted = BTreeMap::new();
        for (name, usage) in &after.iot.rules {
            let earlier = before.iot.rules.get(name).copied().unwrap_or_default();
            if usage.triggered == earlier.triggered {
                continue;
            }
            let counted = (
                usage.triggered - earlier.triggered,
                usage.actions - earlier.actions,
            );
            if rules_expected.contains_key(name) {
                rules_counted.insert(name.clone(), counted);
            } else {
                let rule = plan.rules.iter().find(|rule| &rule.name == name).unwrap();
                assert!(
                    replies
                        .iter()
                        .any(|topic| rule.statement.matches_topic(topic)),
                    "{name} ran {counted:?} but takes none of the three messages"
                );
            }
        }
        assert_eq!(rules_counted, rules_expected);
        assert_eq!(
            after.iot.rules_triggered - before.iot.rules_triggered,
            after
                .iot
                .rules
                .values()
                .map(|rule| rule.triggered)
                .sum::<u64>()
                - before
                    .iot
                    .rules
                    .values()
                    .map(|rule| rule.triggered)
                    .sum::<u64>(),
            "messages under 5 KB: one billed rule each"
        );

        // SNS: the request, the reply and COOKING_STARTED, published once each (each well
        // under 64 KB: one request).
        let mut publishes = BTreeMap::new();
        for (topic, usage) in &after.sns.topics {
            let earlier = before.sns.topics.get(topic).copied().unwrap_or_default();
            if usage.count > earlier.count {
                assert_eq!(usage.billed - earlier.billed, usage.count - earlier.count);
                publishes.insert(topic.clone(), usage.count - earlier.count);
            }
        }
        for event in ["COOKING_REQUESTED", "COOKING_REPLIED", "COOKING_STARTED"] {
            let topic = format!("{}-{event}", post_office.options.prefix);
            assert_eq!(publishes.get(&topic), Some(&1), "publishes: {publishes:?}");
        }
        assert_eq!(
            after.sns.publishes.count - before.sns.publishes.count,
            publishes.values().sum::<u64>()
        );

        // Deliveries, Lambda requests and Firehose records: what those publishes fan out to.
        let expected = expected_downstream(&plan, &publishes);
        let mut deliveries = BTreeMap::new();
        for (protocol, usage) in &after.sns.deliveries {
            let earlier = before
                .sns
                .deliveries
                .get(protocol)
                .copied()
                .unwrap_or_default();
            assert_eq!(
                usage.attempts - earlier.attempts,
                usage.delivered - earlier.delivered,
                "{protocol}: no delivery needed a retry"
            );
            if usage.delivered > earlier.delivered {
                deliveries.insert(protocol.as_str(), usage.delivered - earlier.delivered);
            }
        }
        assert_eq!(deliveries, expected.deliveries);
        assert!(
            expected
                .deliveries
                .get("https")
                .copied()
                .unwrap_or_default()
                >= 2
        );

        let mut lambda = BTreeMap::new();
        for (function, usage) in &after.lambda {
            let earlier = before.lambda.get(function).cloned().unwrap_or_default();
            if usage.requests > earlier.requests {
                lambda.insert(function.clone(), usage.requests - earlier.requests);
                assert!(
                    usage.billed_duration_ms > earlier.billed_duration_ms
                        && usage.gb_seconds > earlier.gb_seconds,
                    "{function}: its invocations are billed"
                );
                let memory_gb = f64::from(plan.functions[function].memory_mb) / 1024.0;
                let gb_seconds = usage.gb_seconds - earlier.gb_seconds;
                let billed_seconds =
                    (usage.billed_duration_ms - earlier.billed_duration_ms) as f64 / 1000.0;
                assert!((gb_seconds - memory_gb * billed_seconds).abs() < 1e-6);
            }
        }
        assert_eq!(lambda, expected.lambda);

        // X-Ray: the request's delivery reached its first function with no trace (the IoT
        // rule passes none) after a quiet second, so the function's reservoir sampled it and
        // it started the only trace; everything downstream (the handler the bridge invokes, the
        // deliveries of what the handler published) continued it, so every invocation is
        // recorded and no other starts a trace.
        let entry_points: u64 = plan
            .topics
            .values()
            .filter(|topic| topic_name(&topic.arn).ends_with("COOKING_REQUESTED"))
            .flat_map(|topic| &topic.subscriptions)
            .filter(|subscription| matches!(subscription.endpoint, Endpoint::FunctionUrl { .. }))
            .count() as u64;
        assert!(entry_points >= 1);
        let mut traced = BTreeMap::new();
        let mut traces_started = 0;
        for (function, usage) in &after.xray {
            let earlier = before.xray.get(function).copied().unwrap_or_default();
            if usage.requests > earlier.requests {
                traced.insert(function.clone(), usage.requests - earlier.requests);
            }
            traces_started += usage.traces_recorded - earlier.traces_recorded;
        }
        assert_eq!(traced, lambda, "invocations recorded in the trace");
        assert_eq!(traces_started, entry_points);

        // CloudWatch Logs: every invocation wrote its system records (in the function's log
        // format) into its function's log group, one event a line, besides its own lines.
        for (function, requests) in &lambda {
            let configured = &plan.functions[function];
            let group = &configured.log_group;
            let now = after.logs.get(group).cloned().unwrap_or_default();
            let earlier = before.logs.get(group).cloned().unwrap_or_default();
            let (events, bytes) = (now.events - earlier.events, now.bytes - earlier.bytes);
            assert!(
                events >= 2 * requests,
                "{function}: {requests} invocations, {events} log events in {group}"
            );
            assert!(bytes > events, "{group}: {events} events of {bytes} bytes");
            assert_eq!(now.billed_bytes, now.bytes);
            assert_eq!(now.source, "lambda");
            if configured.log_format == postoffice_lambda_host::LogFormat::Json {
                let log = std::fs::read_to_string(
                    post_office
                        .run_dir()
                        .join("logs/lambda")
                        .join(format!("{function}.log")),
                )
                .unwrap();
                let reports = log
                    .lines()
                    .filter(|line| line.contains(r#""type":"platform.report""#))
                    .count() as u64;
                assert!(
                    reports >= *requests,
                    "{function}: {reports} platform.report records"
                );
                assert!(
                    !log.contains("REPORT RequestId"),
                    "{function}: text records"
                );
            }
        }
        assert!(
            plan.functions
                .values()
                .any(|f| f.log_format == postoffice_lambda_host::LogFormat::Json),
            "the Terraform sets JSON logs"
        );

        // KMS: requests are the key uses outside data-key reuse periods, never more.
        for (key, usage) in &after.kms {
            let earlier = before.kms.get(key).cloned().unwrap_or_default();
            assert!(usage.requests <= usage.key_uses, "{key}: {usage:?}");
            assert!(
                usage.requests - earlier.requests <= usage.key_uses - earlier.key_uses,
                "{key}: {usage:?} after {earlier:?}"
            );
            assert_eq!(usage.by_action.values().sum::<u64>(), usage.requests);
        }

        let records: u64 = after.firehose.values().map(|f| f.records).sum::<u64>()
            - before.firehose.values().map(|f| f.records).sum::<u64>();
        assert_eq!(records, expected.firehose_records);
        assert!(records >= 1, "the request is archived");
        let firehose_bytes: u64 = after.firehose.values().map(|f| f.bytes).sum::<u64>()
            - before.firehose.values().map(|f| f.bytes).sum::<u64>();
        let stored: u64 = after.s3.values().map(|s| s.stored_bytes).sum::<u64>()
            - before.s3.values().map(|s| s.stored_bytes).sum::<u64>();
        assert_eq!(stored, firehose_bytes);

        // And the file another process prices is written.
        let file = post_office.run_dir().join("metering.json");
        wait_for("metering.json", WAIT, || async {
            let written: Metering = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
            (written.sns.publishes.count >= after.sns.publishes.count).then_some(())
        })
        .await;
    });
}

#[test]
fn a_six_kilobyte_publish_is_two_iot_messages() {
    run(async {
        let post_office = post_office();
        let (oven, _) = household_with_device("h-meter-6k").await.unwrap();
        let before = settled().await;
        let topic = oven.topic("COOKING_REQUESTED");
        // 6 KB of payload: with the topic, more than one 5 KB message, less than three.
        let payload = vec![b'x'; 6 * 1024];
        oven.publish_to(&topic, payload.clone()).await.unwrap();
        let after = wait_for("the publish to be metered", WAIT, || async {
            let now = post_office.metering();
            (now.iot.device_publishes.count > before.iot.device_publishes.count).then_some(now)
        })
        .await;
        assert_eq!(
            (
                after.iot.device_publishes.count - before.iot.device_publishes.count,
                after.iot.device_publishes.bytes - before.iot.device_publishes.bytes,
                after.iot.device_publishes.billed - before.iot.device_publishes.billed,
            ),
            (1, (topic.len() + payload.len()) as u64, 2)
        );
        let _ = settled().await;
    });
}

/// The handler library's idempotency guard against a table of the local post office: every
/// call it makes (through the local AWS endpoint, signed) is metered in request units.
#[test]
fn the_idempotency_guard_is_metered_in_dynamodb_request_units() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use postoffice::handler::{
        Claim, DynamoDbIdempotencyStore, IdempotencyPolicy, IdempotencyStore,
    };

    run(async {
        let post_office = post_office();
        let config = post_office.sdk_config(post_office.administrator());
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = postoffice_e2e::unique("h-meter-idempotency");
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("idempotency_key")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("idempotency_key")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let store = DynamoDbIdempotencyStore::new(client, &table, IdempotencyPolicy::default());
        let now = std::time::SystemTime::now();
        let (released, handled) = ("event-released", "event-handled");

        // Claim (conditional PutItem), claim again (its condition fails: still a write; then a
        // consistent GetItem), release (DeleteItem), claim and complete (two PutItems).
        assert_eq!(store.claim(released, now).await.unwrap(), Claim::Acquired);
        assert_eq!(store.claim(released, now).await.unwrap(), Claim::InProgress);
        store.release(released).await.unwrap();
        assert_eq!(store.claim(handled, now).await.unwrap(), Claim::Acquired);
        store.complete(handled, now).await.unwrap();

        let usage = post_office.metering().dynamodb[&table].clone();
        // Every item is well under 1 KB: one write unit per write; the read under 4 KB, strongly
        // consistent: one read unit.
        assert_eq!(usage.requests, 6, "{usage:?}");
        assert_eq!(usage.write_request_units, 5.0, "{usage:?}");
        assert_eq!(usage.read_request_units, 1.0, "{usage:?}");
        // What is left: the handled item (names + its key + "handled" + an epoch number of at
        // most 10 significant digits: 2 to 6 bytes), plus 100 bytes of overhead.
        let names = "idempotency_key".len() + "status".len() + "expires_at".len();
        let least = (names + handled.len() + "handled".len() + 2 + 100) as u64;
        assert!(
            (least..=least + 4).contains(&usage.stored_bytes),
            "{usage:?}, expected {least} to {}",
            least + 4
        );
        let _ = settled().await;
    });
}
