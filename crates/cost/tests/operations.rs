//! The lines beside the message path (CloudWatch Logs, X-Ray, KMS, DynamoDB, SQS), worked out
//! by hand on a household with one event and one consumer.

mod fixtures;

use fixtures::{GIB, MONTH, shipped_prices};
use postoffice_cost::{
    BridgeMode, ConsumerDeliveries, Direction, Encryption, EventRoute, EventRoutes, MonthlyUsage,
    Profile, Scenario, Tracing, bill, customer_usage, estimate, kms_requests, traces_recorded,
};

fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1e-9);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: expected {expected}, got {actual}"
    );
}

/// TELEMETRY_REPORTED from the device to the telemetry consumer.
fn routes() -> EventRoutes {
    [(
        "TELEMETRY_REPORTED".to_string(),
        EventRoute {
            direction: Direction::ActorToBackend,
            producers: vec!["device".to_string()],
            consumers: vec!["telemetry".to_string()],
            collection_max_wait_s: None,
        },
    )]
    .into_iter()
    .collect()
}

/// 12 events a day: 365 a month. `sections` is appended to the profile.
fn profile(sections: &str) -> Profile {
    let yaml = format!(
        r#"
name: one-event
actors:
  device:
    per_customer: 1
    connection:
      always_connected: {{ hours_per_day: 24, sessions_per_day: 1 }}
      disconnect_when_idle: {{ hours_per_day: 24, sessions_per_day: 1 }}
message_sizes:
  payload_bytes: 100
  device_message_overhead_bytes: 100
  envelope_overhead_bytes: 400
events:
  - {{ event: TELEMETRY_REPORTED, actor: device, per_day: 12 }}
lambda:
  bridge: {{ memory_mb: 128, duration_ms: 6 }}
  handler: {{ memory_mb: 256, duration_ms: 25 }}
  forwarder: {{ memory_mb: 128, duration_ms: 20 }}
  embedded_endpoint_ms: 1
event_store:
  retention_days: 365
  buffer_interval_seconds: 300
  buffer_size_mb: 128
  compression_ratio: 1
{sections}"#
    );
    Profile::from_yaml(&yaml, "one-event.yaml", &routes()).expect("the profile is valid")
}

const LOGS: &str = r#"
logs:
  platform_per_invocation: { events: 2, bytes: 500 }
  application_per_invocation:
    bridge: { events: 2, bytes: 600 }
    handler: { events: 1, bytes: 300 }
    forwarder: { events: 1, bytes: 200 }
    unpacker: { events: 1, bytes: 200 }
    embedded_endpoint: { events: 1, bytes: 100 }
  event_overhead_bytes: 26
  delivery_status_per_failure: { events: 1, bytes: 700 }
  retention_days: 30
  storage_compression_ratio: 2
"#;

fn usage(sections: &str, bridge: BridgeMode) -> MonthlyUsage {
    customer_usage(
        &profile(sections),
        &routes(),
        &shipped_prices().prices,
        Scenario::BASELINE,
        bridge,
    )
}

#[test]
fn lambda_logs_count_every_invocations_platform_and_application_lines() {
    let separate = usage(LOGS, BridgeMode::Separate);
    // 365 deliveries, each a bridge and a handler invocation, each with 2 platform events.
    close(
        separate.lambda_log_events,
        365.0 * ((2.0 + 2.0) + (2.0 + 1.0)),
        "events, separate",
    );
    let bridge_bytes = 500.0 + 2.0 * 26.0 + 600.0 + 2.0 * 26.0;
    let handler_bytes = 500.0 + 2.0 * 26.0 + 300.0 + 26.0;
    close(
        separate.lambda_log_bytes,
        365.0 * (bridge_bytes + handler_bytes),
        "bytes, separate",
    );
    // A month's bytes kept 30 days, stored at half their size.
    close(
        separate.lambda_log_stored_gb,
        separate.lambda_log_bytes / MONTH * 30.0 / 2.0 / GIB,
        "steady-state storage",
    );

    // Embedded: one invocation, the handler's lines and the endpoint's.
    let embedded = usage(LOGS, BridgeMode::Embedded);
    close(
        embedded.lambda_log_bytes,
        365.0 * (500.0 + 2.0 * 26.0 + 300.0 + 26.0 + 100.0 + 26.0),
        "bytes, embedded",
    );
    // Nothing fails, so SNS logs nothing.
    assert_eq!(separate.delivery_status_log_events, 0.0);
    // Without a logs section there are no log bytes.
    assert_eq!(usage("", BridgeMode::Separate).lambda_log_bytes, 0.0);
}

#[test]
fn failures_fill_the_queues_and_the_delivery_status_logs() {
    let sections =
        format!("{LOGS}failures: {{ delivery_failure_rate: 0.01, rule_error_rate: 0.1 }}\n");
    let usage = usage(&sections, BridgeMode::Separate);
    // 1 % of the telemetry consumer's 365 HTTPS deliveries and of the 365 Firehose deliveries.
    close(usage.queue_messages["telemetry-dlq"], 3.65, "consumer DLQ");
    close(
        usage.queue_messages["event-store-dlq"],
        3.65,
        "event store DLQ",
    );
    close(usage.queue_messages["rule-errors"], 36.5, "rule errors");
    // Send, receive, delete: 3 requests a message under 64 KB.
    close(
        usage.sqs_requests,
        3.0 * (3.65 + 3.65 + 36.5),
        "SQS requests",
    );
    close(
        usage.delivery_status_log_events,
        7.3,
        "failed deliveries logged",
    );
    close(
        usage.delivery_status_log_bytes,
        7.3 * (700.0 + 26.0),
        "delivery-status bytes",
    );
}

#[test]
fn idempotency_writes_a_claim_and_a_completion_and_keeps_the_item() {
    let sections = r#"
idempotency: { consumers: [telemetry], item_bytes: 170, remember_for_days: 14 }
"#;
    let usage = usage(sections, BridgeMode::Separate);
    close(usage.dynamodb_write_units, 365.0 * 2.0, "write units");
    // 12 events a day kept 14 days, each 170 bytes plus DynamoDB's 100 bytes of overhead.
    close(
        usage.dynamodb_stored_gb,
        12.0 * 14.0 * 270.0 / GIB,
        "stored",
    );
    // An item over 1 KB takes a write unit per KB.
    let big = r#"
idempotency: { consumers: [telemetry], item_bytes: 1500, remember_for_days: 14 }
"#;
    close(
        customer_usage(
            &profile(big),
            &routes(),
            &shipped_prices().prices,
            Scenario::BASELINE,
            BridgeMode::Separate,
        )
        .dynamodb_write_units,
        365.0 * 2.0 * 2.0,
        "write units of 1.5 KB items",
    );
    // No table, no writes.
    let none = "idempotency: { consumers: [], item_bytes: 170, remember_for_days: 14 }\n";
    assert_eq!(
        self::usage(none, BridgeMode::Separate).dynamodb_write_units,
        0.0
    );
}

#[test]
fn an_idempotency_consumer_must_be_in_the_catalog() {
    let yaml = profile("").clone();
    let text = serde_yaml::to_string(&yaml).expect("serialises");
    let text = format!(
        "{text}idempotency: {{ consumers: [kitchen], item_bytes: 170, remember_for_days: 14 }}\n"
    );
    let error = Profile::from_yaml(&text, "bad.yaml", &routes())
        .expect_err("kitchen is not a consumer here")
        .to_string();
    assert!(
        error.contains("bad.yaml") && error.contains("idempotency.consumers[0]: kitchen"),
        "{error}"
    );
    let text = serde_yaml::to_string(&yaml).expect("serialises")
        + "failures: { delivery_failure_rate: 2, rule_error_rate: 0 }\n";
    let error = Profile::from_yaml(&text, "bad.yaml", &routes())
        .expect_err("a rate above 1")
        .to_string();
    assert!(
        error.contains("failures.delivery_failure_rate is 2"),
        "{error}"
    );
}

fn deliveries(per_second: f64, seconds: f64) -> MonthlyUsage {
    let mut usage = MonthlyUsage::default();
    usage.consumers.insert(
        "telemetry".to_string(),
        ConsumerDeliveries {
            deliveries: per_second * seconds,
            message_bytes: 0.0,
            untraced_deliveries: per_second * seconds,
        },
    );
    usage
}

#[test]
fn xray_traces_nearly_everything_of_a_quiet_function_and_five_percent_of_a_busy_one() {
    let rule = Tracing {
        reservoir_per_second: 1.0,
        fixed_rate: 0.05,
    };
    let seconds = 1_000_000.0;
    // A delivery every 100 s: a second almost never holds two, so all are traced.
    let quiet = traces_recorded(&deliveries(0.01, seconds), &rule, seconds);
    let first = 1.0 - (-0.01_f64).exp();
    close(quiet, (first + 0.05 * (0.01 - first)) * seconds, "quiet");
    assert!(quiet > 0.995 * 0.01 * seconds);
    // 100 a second: the first of each second and 5 % of the other 99.
    let busy = traces_recorded(&deliveries(100.0, seconds), &rule, seconds);
    close(busy, (1.0 + 0.05 * 99.0) * seconds, "busy");
}

#[test]
fn kms_requests_follow_the_sns_formula_for_busy_topics() {
    let encryption = Encryption {
        keys: 1.0,
        data_key_reuse_seconds: 300.0,
    };
    // AWS's first example: January (2,678,400 s), one topic, one publisher: 17,856 requests.
    let january = 2_678_400.0;
    let mut usage = MonthlyUsage::default();
    usage
        .topic_publishers
        .entry("A".to_string())
        .or_default()
        .insert("publisher".to_string(), 1e9);
    close(
        kms_requests(&usage, &encryption, january),
        17_856.0,
        "one topic, one publisher",
    );
    // The second: February, topics of 3 and 5 publishers: 129,024.
    let february = 2_419_200.0;
    let mut usage = MonthlyUsage::default();
    for (topic, publishers) in [("A", 3), ("B", 5)] {
        for index in 0..publishers {
            usage
                .topic_publishers
                .entry(topic.to_string())
                .or_default()
                .insert(format!("p{index}"), 1e9);
        }
    }
    let requests = kms_requests(&usage, &encryption, february);
    assert!(
        (requests - 129_024.0).abs() < 1e-6,
        "two topics: {requests}"
    );
    // A publisher with one publish a day needs a data key in one period a day, not all 288.
    let mut usage = MonthlyUsage::default();
    usage
        .topic_publishers
        .entry("A".to_string())
        .or_default()
        .insert("quiet".to_string(), 31.0);
    let quiet = kms_requests(&usage, &encryption, january);
    let periods = january / 300.0;
    close(
        quiet,
        2.0 * periods * (1.0 - (-31.0 / january * 300.0_f64).exp()),
        "quiet publisher",
    );
    assert!(quiet < 2.0 * 31.0);
    // A queue: a producer (2 requests) and a consumer (1) per busy period.
    let mut usage = MonthlyUsage::default();
    usage.queue_messages.insert("q".to_string(), 1e9);
    close(
        kms_requests(&usage, &encryption, january),
        3.0 * periods,
        "queue",
    );
}

const OPERATIONS: &str = r#"
tracing: { reservoir_per_second: 1, fixed_rate: 0.05 }
idempotency: { consumers: [], item_bytes: 170, remember_for_days: 14 }
failures: { delivery_failure_rate: 0, rule_error_rate: 0 }
encryption: { keys: 1, data_key_reuse_seconds: 300 }
"#;

#[test]
fn the_bill_prices_the_new_lines_and_kms_is_per_account() {
    let profile = profile(&format!("{LOGS}{OPERATIONS}"));
    let prices = shipped_prices();
    let line = |bill: &postoffice_cost::Bill, service: &str, item: &str| {
        bill.lines
            .iter()
            .find(|line| line.service == service && line.item == item)
            .unwrap_or_else(|| panic!("no line {service} {item}"))
            .clone()
    };
    let small = bill(
        &profile,
        &routes(),
        &prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
        1_000,
    );
    let logs = line(&small, "CloudWatch Logs", "Lambda logs ingestion");
    close(
        logs.quantity,
        small.usage.lambda_log_bytes / GIB,
        "Lambda log GB",
    );
    // The first tier: $0.50 a GB.
    close(logs.fleet_monthly_usd, 0.5 * logs.quantity, "first tier");
    // 365,000 deliveries a month, 0.14 a second: a second holds a first one 13 % of the time,
    // a second one rarely, so 94 % are traced.
    let traces = line(&small, "X-Ray", "traces recorded");
    let seconds = MONTH * 86_400.0;
    let rate = 365_000.0 / seconds;
    let first = 1.0 - (-rate).exp();
    close(
        traces.quantity,
        (first + 0.05 * (rate - first)) * seconds,
        "traces of a small fleet",
    );
    assert!(traces.quantity > 0.9 * 365_000.0);
    close(
        traces.fleet_monthly_usd,
        traces.quantity * 5.0 / 1e6,
        "X-Ray",
    );
    // One topic published by its IoT rule, busy in nearly every 5-minute period.
    let kms = line(&small, "KMS", "requests (per account)");
    let periods = MONTH * 86_400.0 / 300.0;
    assert!(kms.quantity > 0.9 * 2.0 * periods && kms.quantity <= 2.0 * periods);
    close(
        line(&small, "KMS", "keys (per account)").quantity,
        1.0,
        "a key",
    );
    for (service, item) in [
        ("DynamoDB", "idempotency writes"),
        ("DynamoDB", "idempotency storage"),
        ("SQS", "failure queue requests"),
        ("CloudWatch Logs", "delivery-status logs ingestion"),
    ] {
        assert_eq!(line(&small, service, item).fleet_monthly_usd, 0.0, "{item}");
    }
    let sum: f64 = small.lines.iter().map(|line| line.fleet_monthly_usd).sum();
    close(sum, small.fleet_monthly_usd, "lines sum to the total");

    // A thousand times the fleet: the traces fall to about 5 %, KMS does not grow.
    let large = bill(
        &profile,
        &routes(),
        &prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
        1_000_000,
    );
    let traces = line(&large, "X-Ray", "traces recorded").quantity;
    assert!(traces < 0.07 * 365_000_000.0, "{traces}");
    let kms_large = line(&large, "KMS", "requests (per account)").quantity;
    assert!(kms_large <= 2.0 * periods && kms_large >= kms.quantity);
}

#[test]
fn the_estimate_tells_what_idempotency_for_every_consumer_would_add() {
    let profile = profile(&format!("{LOGS}{OPERATIONS}"));
    let prices = shipped_prices();
    let estimate =
        estimate(&profile, &routes(), &prices, BridgeMode::Separate, &[1_000]).expect("estimates");
    let fleet = &estimate.fleets[0];
    // 365,000 events a month for the one consumer: 730,000 write units, and 12,000 events a
    // day kept 14 days at 270 bytes.
    let expected = 730_000.0 * 0.625 / 1e6 + 1_000.0 * 12.0 * 14.0 * 270.0 / GIB * 0.25;
    close(
        fleet
            .idempotency_for_every_consumer_usd
            .expect("the profile has the section"),
        expected,
        "idempotency for every consumer",
    );
    // The container deployment drops the functions' logs and traces with the functions.
    let always = &fleet.deployments[0];
    let separate = &always.deployments[0];
    let bill = &fleet.bills[0];
    let path: f64 = bill
        .lines
        .iter()
        .filter(|line| postoffice_cost::estimate::is_delivery_path(line))
        .map(|line| line.fleet_monthly_usd)
        .sum();
    close(separate.delivery_monthly_usd, path, "delivery path");
    assert!(
        bill.lines
            .iter()
            .any(|line| line.service == "X-Ray" && line.fleet_monthly_usd > 0.0)
    );
    // The container services print the handler's and the endpoint's lines per delivery (no
    // platform lines, no traces), at the standard ingestion price, kept 30 days at half size.
    let container = &always.deployments[2];
    let estimate = container
        .container
        .as_ref()
        .expect("the container estimate");
    let gb = 365_000.0 * ((300.0 + 26.0) + (100.0 + 26.0)) / GIB;
    close(
        container.delivery_monthly_usd,
        estimate.monthly_usd + gb * 0.5 + gb / MONTH * 30.0 / 2.0 * 0.03,
        "container delivery path with its logs",
    );
}

const OPERATIONS_METERING: &str = include_str!("fixtures/run-operations/metering.json");

/// The measured fixture with logs, traces, a DynamoDB table and KMS use, priced by hand beside
/// the test household's model with every section.
#[test]
fn a_measured_run_prices_logs_traces_tables_and_key_use() {
    use postoffice_cost::{Metering, Run, measured_bill};

    let metering = Metering::from_json(OPERATIONS_METERING, "run-operations/metering.json")
        .expect("the fixture reads");
    let profile = Profile::from_yaml(
        &format!("{}{LOGS}{OPERATIONS}", fixtures::PROFILE),
        "test-household.yaml",
        &fixtures::routes(),
    )
    .expect("valid");
    let prices = shipped_prices();
    let run = Run {
        households: 2.0,
        days: 1.0,
        scenario: Scenario::BASELINE,
        bridge: BridgeMode::Separate,
    };
    let bill =
        measured_bill(&metering, &profile, &fixtures::routes(), &prices, run).expect("priced");
    let line = |service: &str, item: &str| {
        bill.lines
            .iter()
            .find(|line| line.service == service && line.item == item)
            .unwrap_or_else(|| panic!("no line {service} {item}"))
    };
    let lambda_billed = 1_104_000.0 + 678_000.0;
    let logs = line("CloudWatch Logs", "Lambda logs ingestion");
    close(logs.measured, lambda_billed / GIB, "Lambda log GB");
    close(
        logs.measured_usd,
        lambda_billed / GIB * 0.5,
        "Lambda log cost",
    );
    // The model of two households for a day, every consumer with a separate bridge.
    let model = customer_usage(
        &profile,
        &fixtures::routes(),
        &prices.prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
    )
    .times(2.0 / MONTH);
    close(
        logs.model.expect("modelled"),
        model.lambda_log_bytes / GIB,
        "modelled Lambda log GB",
    );
    // Kept 30 days, stored at half the size: a day's bytes × 30 / 2, for a day of a month.
    let storage = line("CloudWatch Logs", "Lambda logs storage");
    close(
        storage.measured_usd,
        lambda_billed / 2.0 * 30.0 / GIB / MONTH * 0.03,
        "Lambda log storage",
    );
    close(
        line("CloudWatch Logs", "delivery-status logs ingestion").measured_usd,
        3_630.0 / GIB * 0.5,
        "delivery-status logs",
    );
    let traces = line("X-Ray", "traces recorded");
    close(traces.measured_usd, 900.0 * 5.0 / 1e6, "traces");
    assert!(traces.model.expect("modelled") > 0.0);
    close(
        line("DynamoDB", "idempotency writes").measured_usd,
        2_000.0 * 0.625 / 1e6,
        "write units",
    );
    close(
        line("DynamoDB", "idempotency reads").measured_usd,
        10.0 * 0.125 / 1e6,
        "read units",
    );
    // The profile guards no consumer: a table in the run is a difference worth explaining.
    assert!(line("DynamoDB", "idempotency writes").differs);
    let kms = line("KMS", "requests");
    assert_eq!(kms.unit, "requests");
    close(kms.measured_usd, 200.0 * 0.03 / 10_000.0, "KMS requests");
    assert!(
        kms.details
            .iter()
            .any(|detail| detail.what == "key uses before data-key reuse"
                && detail.measured == Some(10_000.0))
    );
    assert!(kms.model.expect("modelled per account") > 0.0);
    // Every modelled line joins the compared total.
    let compared: f64 = bill
        .lines
        .iter()
        .filter(|line| line.model_usd.is_some())
        .map(|line| line.measured_usd)
        .sum();
    close(bill.measured_modelled_usd, compared, "compared total");
    assert!(
        bill.lines
            .iter()
            .filter(|line| line.service == "CloudWatch" && line.item == "alarms")
            .all(|line| line.model.is_none())
    );
}

/// A metering.json from before the new fields reads, with none of them.
#[test]
fn an_older_metering_file_has_no_logs_traces_or_tables() {
    use postoffice_cost::Metering;
    let older = include_str!("fixtures/run/metering.json");
    let metering = Metering::from_json(older, "run/metering.json").expect("reads");
    assert!(metering.logs.is_empty() && metering.xray.is_empty() && metering.dynamodb.is_empty());
    let broken = older.replacen(
        "\"cloudwatch\":",
        "\"xray\": {\"f\": {\"requests\": \"many\", \"traces_recorded\": 1}}, \"cloudwatch\":",
        1,
    );
    let error = Metering::from_json(&broken, "run/metering.json")
        .expect_err("a mistyped field")
        .to_string();
    assert!(
        error.contains("run/metering.json") && error.contains("xray.f"),
        "{error}"
    );
}
