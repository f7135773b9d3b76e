//! A measured run (tests/fixtures/run/metering.json) priced by hand, beside the model.

mod fixtures;

use fixtures::{GIB, MONTH, profile, routes, shipped_prices};
use postoffice_cost::{
    BridgeMode, CostError, MeasuredBill, MeasuredLine, Metering, Run, Scenario, customer_usage,
    measured_bill,
};

const METERING: &str = include_str!("fixtures/run/metering.json");

fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1e-6);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: expected {expected}, got {actual}"
    );
}

fn metering() -> Metering {
    Metering::from_json(METERING, "run/metering.json").expect("the fixture is valid")
}

fn run(households: f64, days: f64) -> Run {
    Run {
        households,
        days,
        scenario: Scenario::BASELINE,
        bridge: BridgeMode::Separate,
    }
}

/// Two households for a day: the fixture's 2,880 connection minutes are the test profile's.
fn bill() -> MeasuredBill {
    measured_bill(
        &metering(),
        &profile(),
        &routes(),
        &shipped_prices(),
        run(2.0, 1.0),
    )
    .expect("the run is priced")
}

fn line<'a>(bill: &'a MeasuredBill, service: &str, item: &str) -> &'a MeasuredLine {
    bill.lines
        .iter()
        .find(|line| line.service == service && line.item == item)
        .unwrap_or_else(|| panic!("no line {service} {item}"))
}

fn measured_usd(bill: &MeasuredBill, service: &str, item: &str) -> f64 {
    line(bill, service, item).measured_usd
}

#[test]
fn the_fixture_reads_and_unknown_fields_are_ignored() {
    let metering = metering();
    assert_eq!(metering.version, 1);
    assert_eq!(metering.iot.messages, 1_000);
    assert_eq!(metering.iot.device_publishes.count, 960);
    assert_eq!(metering.https_deliveries().delivered, 2_000);
    assert_eq!(
        metering.lambda["postoffice-telemetry-handler"].cold_starts,
        1
    );
    assert_eq!(metering.not_metered, ["Data transfer"]);
}

#[test]
fn every_measured_line_is_priced_by_hand() {
    let bill = bill();
    // 1,000 IoT messages at $1 per million.
    close(
        measured_usd(&bill, "IoT Core", "messaging"),
        0.001,
        "messaging",
    );
    // 2,880 minutes at $0.08 per million.
    close(
        measured_usd(&bill, "IoT Core", "connectivity"),
        0.000_230_4,
        "connectivity",
    );
    // 1,920 rules and 1,920 actions at $0.15 per million.
    close(
        measured_usd(&bill, "IoT Core", "rules triggered"),
        0.000_288,
        "rules",
    );
    close(
        measured_usd(&bill, "IoT Core", "actions executed"),
        0.000_288,
        "actions",
    );
    // 1,000 publishes at $0.50, 2,000 HTTPS deliveries at $0.60 per million; Firehose free.
    close(
        measured_usd(&bill, "SNS", "publishes"),
        0.000_5,
        "publishes",
    );
    close(
        measured_usd(&bill, "SNS", "HTTP/S deliveries"),
        0.001_2,
        "deliveries",
    );
    assert_eq!(measured_usd(&bill, "SNS", "Firehose deliveries"), 0.0);
    // 2,000 requests at $0.20 per million, shared 1,000 : 1,000; 10 GB-s at $0.0000133334,
    // shared 2.5 : 7.5.
    close(
        measured_usd(&bill, "Lambda", "requests: bridges"),
        0.000_2,
        "bridge requests",
    );
    close(
        measured_usd(&bill, "Lambda", "requests: handlers"),
        0.000_2,
        "handler requests",
    );
    close(
        measured_usd(&bill, "Lambda", "duration: bridges"),
        2.5 * 0.000_013_333_4,
        "bridge duration",
    );
    close(
        measured_usd(&bill, "Lambda", "duration: handlers"),
        7.5 * 0.000_013_333_4,
        "handler duration",
    );
    assert_eq!(line(&bill, "Lambda", "requests: forwarder").measured, 0.0);
    // 1,000 records rounded to 5 KB: 5,120,000 bytes at $0.029 per GB; 1,000,000 bytes
    // partitioned at $0.020 per GB; 1,000 objects and 1,000 PUTs at $0.005 per thousand.
    close(
        measured_usd(&bill, "Firehose", "ingestion"),
        5_120_000.0 / GIB * 0.029,
        "ingestion",
    );
    close(
        measured_usd(&bill, "Firehose", "dynamic partitioning"),
        1_000_000.0 / GIB * 0.020,
        "partitioning",
    );
    close(
        measured_usd(&bill, "Firehose", "partitioned objects"),
        0.005,
        "objects",
    );
    close(measured_usd(&bill, "S3", "PUT requests"), 0.005, "PUTs");
    // 1,000,000 bytes a day kept 365 days: 365 MB-days... = 1e6 × 365 / GiB GB for 1 / (365/12)
    // of a month, at $0.023.
    close(
        line(&bill, "S3", "Standard storage").measured,
        1_000_000.0 * 12.0 / GIB,
        "steady-state GB-months",
    );
    close(
        measured_usd(&bill, "S3", "Standard storage"),
        1_000_000.0 * 12.0 / GIB * 0.023,
        "storage",
    );
    // 10 SQS requests at $0.40 per million; 10,000 KMS requests at $0.03 per 10,000; one key and
    // 10 alarms for a day: 12/365 of a month at $1 and $0.10.
    close(measured_usd(&bill, "SQS", "requests"), 0.000_004, "SQS");
    close(measured_usd(&bill, "KMS", "requests"), 0.03, "KMS requests");
    close(measured_usd(&bill, "KMS", "keys"), 12.0 / 365.0, "KMS keys");
    close(
        measured_usd(&bill, "CloudWatch", "alarms"),
        10.0 * 12.0 / 365.0 * 0.10,
        "alarms",
    );
    let sum: f64 = bill.lines.iter().map(|line| line.measured_usd).sum();
    close(bill.measured_usd, sum, "total");
    // What compares with the model leaves out what it does not cover: KMS (the test profile
    // has no `encryption` section) and alarms. SQS is modelled: none fail in the profile.
    let modelled: f64 = bill
        .lines
        .iter()
        .filter(|line| line.model.is_some())
        .map(|line| line.measured_usd)
        .sum();
    close(bill.measured_modelled_usd, modelled, "modelled lines");
    close(
        bill.measured_usd - bill.measured_modelled_usd,
        0.03 + 12.0 / 365.0 + 10.0 * 12.0 / 365.0 * 0.10,
        "not modelled",
    );
    // The run is 2 household-days: per household per month is × (365/12) / 2.
    close(
        bill.measured_per_household_monthly_usd,
        bill.measured_usd * MONTH / 2.0,
        "per household per month",
    );
    assert_eq!(
        bill.functions
            .iter()
            .map(|function| (function.name.as_str(), function.role))
            .collect::<Vec<_>>(),
        [
            ("postoffice-telemetry-bridge", "bridges"),
            ("postoffice-telemetry-handler", "handlers")
        ]
    );
}

#[test]
fn the_model_is_scaled_to_the_runs_households_and_days() {
    let prices = shipped_prices();
    let month = customer_usage(
        &profile(),
        &routes(),
        &prices.prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
    );
    let bill =
        measured_bill(&metering(), &profile(), &routes(), &prices, run(10.0, 3.0)).expect("priced");
    let factor = 10.0 * 3.0 / MONTH;
    close(
        line(&bill, "IoT Core", "messaging")
            .model
            .expect("modelled"),
        month.iot_messages * factor,
        "modelled messages",
    );
    close(
        line(&bill, "Lambda", "duration: handlers")
            .model
            .expect("modelled"),
        month.handler.gb_seconds * factor,
        "modelled GB-s",
    );
    // Failures at the profile's rate (none); fixed costs per alarm not modelled.
    assert_eq!(line(&bill, "SQS", "requests").model, Some(0.0));
    assert!(line(&bill, "SQS", "requests").differs);
    assert_eq!(line(&bill, "CloudWatch", "alarms").model, None);
}

#[test]
fn lines_apart_from_the_model_show_the_usage_behind_them() {
    let bill = bill();
    // The test household's device is connected all day: 1,440 minutes each, as measured.
    let connectivity = line(&bill, "IoT Core", "connectivity");
    close(
        connectivity.model.expect("modelled"),
        2_880.0,
        "connectivity",
    );
    assert!(!connectivity.differs);
    // Modelled per household-day: 1 CONNECT + 1 SUBSCRIBE, 96 telemetry and 12 cooking
    // publishes, 12 replies × 3 (iot-data publish, PUBLISH, PUBACK): 146, 292 for two.
    let messaging = line(&bill, "IoT Core", "messaging");
    close(
        messaging.model.expect("modelled"),
        292.0,
        "modelled messages",
    );
    assert!(messaging.differs);
    let device = messaging
        .details
        .iter()
        .find(|detail| detail.what == "device publishes")
        .expect("device publishes");
    assert_eq!(device.measured, Some(960.0));
    close(
        device.model.expect("modelled"),
        216.0,
        "modelled device publishes",
    );
    let bytes = messaging
        .details
        .iter()
        .find(|detail| detail.what.starts_with("bytes per device publish"))
        .expect("bytes per publish");
    assert_eq!(bytes.measured, Some(500.0));
    // Every HTTPS delivery was one bridge and one handler request.
    let requests = line(&bill, "Lambda", "requests: handlers");
    assert_eq!(requests.details[0].measured, Some(0.5));
    // Not modelled and not free: always explained.
    assert!(line(&bill, "KMS", "requests").differs);
    let rendered = postoffice_cost::report::render_measured(&bill);
    assert!(
        rendered.contains("IoT Core messaging: 1,000 messages (5 KB) measured, 292 modelled"),
        "{rendered}"
    );
    assert!(
        rendered.contains("  device publishes: 960 / 216"),
        "{rendered}"
    );
    assert!(!rendered.contains("IoT Core connectivity: "), "{rendered}");
}

fn rejected(text: &str) -> String {
    Metering::from_json(text, "run/metering.json")
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn a_missing_field_is_named_with_the_file() {
    let message = rejected(&METERING.replacen("\"connection_minutes\": 2880,", "", 1));
    assert_eq!(
        message,
        "run/metering.json: iot.connection_minutes is missing"
    );
    let message = rejected(&METERING.replacen(", \"gb_seconds\": 7.5", "", 1));
    assert!(
        message.starts_with(
            "run/metering.json: lambda.postoffice-telemetry-handler: missing field `gb_seconds`"
        ),
        "{message}"
    );
    let message = rejected(&METERING.replacen("\"cloudwatch\"", "\"cloud_watch\"", 1));
    assert_eq!(message, "run/metering.json: cloudwatch is missing");
    let message = rejected(&METERING.replacen("\"messages\": 1000", "\"messages\": -1", 1));
    assert!(
        message.starts_with("run/metering.json: iot.messages: invalid value"),
        "{message}"
    );
}

#[test]
fn malformed_json_and_other_versions_are_refused() {
    let message = rejected("{\"version\": 1,");
    assert!(
        message.starts_with("run/metering.json: not valid JSON"),
        "{message}"
    );
    assert_eq!(
        rejected("[]"),
        "run/metering.json: must be a JSON object, not an array"
    );
    let message = rejected(&METERING.replacen("\"version\": 1", "\"version\": 2", 1));
    assert!(message.contains("version is 2"), "{message}");
}

#[test]
fn a_run_needs_households_and_days() {
    let error = measured_bill(
        &metering(),
        &profile(),
        &routes(),
        &shipped_prices(),
        run(0.0, 1.0),
    )
    .expect_err("no households");
    assert!(matches!(error, CostError::Run(_)), "{error}");
    assert!(error.to_string().contains("households is 0"), "{error}");
}

#[test]
fn the_model_deploys_each_consumer_as_the_run_did() {
    let prices = shipped_prices();
    // The telemetry consumer's handler ran without a bridge: it is its own SNS endpoint.
    let mut embedded = metering();
    embedded.lambda.remove("postoffice-telemetry-bridge");
    let bill =
        measured_bill(&embedded, &profile(), &routes(), &prices, run(2.0, 1.0)).expect("priced");
    let factor = 2.0 / MONTH;
    let separate = customer_usage(
        &profile(),
        &routes(),
        &prices.prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
    );
    // Telemetry takes 2,920 telemetry and 365 finished deliveries a month: no bridge for them,
    // the other consumers (no function ran) as --bridge says.
    close(
        line(&bill, "Lambda", "requests: bridges")
            .model
            .expect("modelled"),
        (separate.bridge.requests - 2_920.0 - 365.0) * factor,
        "bridges",
    );
    close(
        line(&bill, "Lambda", "requests: handlers")
            .model
            .expect("modelled"),
        separate.handler.requests * factor,
        "handlers",
    );
}
