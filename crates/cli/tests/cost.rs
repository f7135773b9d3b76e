//! `postoffice cost` through the binary, on the shipped profile, prices and catalog.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped(path: &str) -> PathBuf {
    repository().join(path)
}

fn cost_with(profile: &Path, pricing: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postoffice"))
        .arg("cost")
        .arg("--profile")
        .arg(profile)
        .arg("--pricing")
        .arg(pricing)
        .arg("--catalog")
        .arg(shipped("event-catalog"))
        .args(extra)
        .output()
        .expect("postoffice runs")
}

fn cost(extra: &[&str]) -> Output {
    cost_with(
        &shipped("cost-profiles/kitchen-household.yaml"),
        &shipped("pricing/aws-us-east-1.yaml"),
        extra,
    )
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: expected {expected}, got {actual}"
    );
}

fn line(bill: &Value, item: &str) -> f64 {
    let line = bill["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|line| line["item"] == item)
        .unwrap_or_else(|| panic!("no line {item}"));
    number(&line["fleet_monthly_usd"])
}

#[test]
fn json_on_the_shipped_profile_is_consistent() {
    let output = cost(&["--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let estimate: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(estimate["profile"], "kitchen-household");
    assert_eq!(estimate["region"], "us-east-1");
    let fleets = estimate["fleets"].as_array().expect("fleets");
    let sizes: Vec<u64> = fleets
        .iter()
        .map(|fleet| fleet["customers"].as_u64().expect("customers"))
        .collect();
    assert_eq!(sizes, [10_000, 100_000, 1_000_000, 10_000_000]);

    for fleet in fleets {
        let customers = number(&fleet["customers"]);
        let bills = fleet["bills"].as_array().expect("bills");
        let labels: Vec<&str> = bills
            .iter()
            .map(|bill| bill["label"].as_str().expect("label"))
            .collect();
        assert_eq!(
            labels,
            [
                "always connected",
                "disconnect when idle",
                "event collections",
                "idle + collections"
            ]
        );
        for bill in bills {
            let lines = bill["lines"].as_array().expect("lines");
            assert!(lines.len() >= 14);
            let sum: f64 = lines
                .iter()
                .map(|line| number(&line["fleet_monthly_usd"]))
                .sum();
            let total = number(&bill["fleet_monthly_usd"]);
            close(sum, total, "breakdown sum");
            close(
                number(&bill["per_customer_monthly_usd"]) * customers,
                total,
                "per customer × customers",
            );
            close(
                number(&bill["per_customer_yearly_usd"]),
                12.0 * number(&bill["per_customer_monthly_usd"]),
                "a year is 12 months",
            );
            assert!(total > 0.0);
        }
        let savings = &fleet["savings"];
        // The telemetry may wait an hour: it rides on the ovens' polls and cooking sessions,
        // alone or collected, and the ovens' and phones' minutes fall by more than 95 %.
        let idle = number(&savings["disconnect_when_idle"]["connection_minutes_percent"]);
        assert!((95.0..=99.0).contains(&idle), "connection saving {idle} %");
        let both = number(&savings["both"]["connection_minutes_percent"]);
        assert!((95.0..=99.0).contains(&both), "connection saving {both} %");
        assert!(number(&savings["disconnect_when_idle"]["total_percent"]) > 0.0);
        // Collections cut the IoT messages; they add a collection-unpacker delivery, whose
        // invocations log and start a trace, so small fleets (which trace nearly every
        // delivery) pay more than they save; the largest saves.
        assert!(number(&savings["event_collections"]["iot_messages_percent"]) > 50.0);
        assert!(
            number(&savings["both"]["total_percent"])
                > number(&savings["event_collections"]["total_percent"])
        );
    }

    let last = fleets.last().expect("fleets");
    assert!(number(&last["savings"]["event_collections"]["total_percent"]) > 0.0);

    // Connectivity has one flat price: the fleet's line scales with the fleet.
    let baseline = |index: usize| &fleets[index]["bills"][0];
    for index in 1..fleets.len() {
        close(
            line(baseline(index), "connectivity"),
            10.0 * line(baseline(index - 1), "connectivity"),
            "connectivity is linear",
        );
    }
    // Messaging stays in its first tier at 10,000 and 100,000 customers, so it is linear there,
    // and gets cheaper per customer once the fleet passes a billion messages a month.
    close(
        line(baseline(1), "messaging"),
        10.0 * line(baseline(0), "messaging"),
        "messaging within the first tier",
    );
    assert!(line(baseline(3), "messaging") < 10.0 * line(baseline(2), "messaging"));
}

#[test]
fn the_table_shows_every_fleet_and_scenario() {
    let output = cost(&["--customers", "10000,250000"]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(table.contains("Fleet of 10,000 customers"), "{table}");
    assert!(table.contains("Fleet of 250,000 customers"), "{table}");
    assert!(!table.contains("Fleet of 100,000 customers"), "{table}");
    for text in [
        "IoT Core connectivity",
        "SNS HTTP/S deliveries",
        "Lambda duration: bridges",
        "Firehose ingestion",
        "S3 Standard storage",
        "per customer per year",
        "saving, disconnect when idle",
        "saving, event collections",
        "An Event Collection carries",
    ] {
        assert!(table.contains(text), "{text} missing from\n{table}");
    }
}

#[test]
fn an_event_missing_from_the_catalog_names_the_file_and_field() {
    let original = std::fs::read_to_string(shipped("cost-profiles/kitchen-household.yaml"))
        .expect("shipped profile");
    let broken = original.replacen("event: COOKING_FINISHED", "event: COOKING_DONE", 1);
    assert_ne!(broken, original);
    let path = std::env::temp_dir().join(format!("postoffice-cost-{}.yaml", std::process::id()));
    std::fs::write(&path, broken).expect("write the broken profile");
    let output = cost_with(&path, &shipped("pricing/aws-us-east-1.yaml"), &[]);
    std::fs::remove_file(&path).ok();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("COOKING_DONE is not in the event catalog"),
        "{stderr}"
    );
}

#[test]
fn a_missing_price_file_is_named() {
    let output = cost_with(
        &shipped("cost-profiles/kitchen-household.yaml"),
        Path::new("/nonexistent/prices.yaml"),
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/prices.yaml"), "{stderr}");
}

#[test]
fn embedded_bridges_drop_the_bridge_lines_and_every_deployment_is_compared() {
    let output = cost(&["--bridge", "embedded", "--customers", "10000", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let estimate: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(estimate["bridge"], "embedded");
    let fleet = &estimate["fleets"][0];
    let baseline = &fleet["bills"][0];
    assert!(
        baseline["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|line| !line["item"].as_str().expect("item").contains("bridges")),
        "{baseline}"
    );
    let comparison = &fleet["deployments"][0];
    assert_eq!(comparison["label"], "always connected");
    let deployments = comparison["deployments"].as_array().expect("deployments");
    let names: Vec<&str> = deployments
        .iter()
        .map(|cost| cost["deployment"].as_str().expect("deployment"))
        .collect();
    assert_eq!(names, ["separate-bridge", "embedded-bridge", "container"]);
    // The chosen deployment's bill is the comparison's embedded row.
    close(
        number(&deployments[1]["fleet_monthly_usd"]),
        number(&baseline["fleet_monthly_usd"]),
        "embedded bill",
    );
    // Half the requests: no bridge invocation per delivery.
    close(
        number(&deployments[1]["lambda_requests"]) * 2.0,
        number(&deployments[0]["lambda_requests"]),
        "embedded requests",
    );
    assert!(number(&deployments[1]["versus_separate_monthly_usd"]) < 0.0);
    // Three consumers in the kitchen profile, two tasks each at 10,000 households.
    assert_eq!(deployments[2]["container"]["tasks"], 6);

    let table = String::from_utf8(cost(&["--customers", "10000"]).stdout).expect("UTF-8");
    for text in [
        "Consumers deployed with a separate bridge",
        "Consumer deployments, always connected",
        "embedded bridge",
        "container",
        "Container assumptions: one ECS service per consumer",
    ] {
        assert!(table.contains(text), "{text} missing from\n{table}");
    }
}

#[test]
fn an_unknown_bridge_mode_is_named() {
    let output = cost(&["--bridge", "sidecar"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--bridge"), "{stderr}");
    assert!(stderr.contains("\"sidecar\""), "{stderr}");
    assert!(stderr.contains("separate or embedded"), "{stderr}");
}

fn fixture_run() -> PathBuf {
    repository().join("crates/cost/tests/fixtures/run")
}

fn measured(extra: &[&str]) -> Output {
    let run = fixture_run();
    let mut args = vec!["--measured", run.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    cost(&args)
}

#[test]
fn a_measured_run_is_priced_beside_the_model() {
    // Two registered devices in the fixture's devices/: two households.
    let output = measured(&["--days", "1"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).expect("UTF-8");
    for text in [
        "profile kitchen-household, 2 households, 1 simulated days",
        "IoT Core messaging",
        "Lines more than 10 % away from the model",
        "  device publishes: 960 / ",
        "postoffice-telemetry-handler (handlers): 1,000 requests",
        // Each publish triggers the event's readable and rejected rules, measured and modelled.
        "rules triggered per device publish (5 KB): 2 / 2",
        "Not metered: Data transfer",
    ] {
        assert!(table.contains(text), "{text} missing from\n{table}");
    }

    let output = measured(&["--days", "2", "--households", "10", "--json"]);
    assert!(output.status.success());
    let bill: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(bill["run"]["households"], 10.0);
    assert_eq!(bill["run"]["days"], 2.0);
    let lines = bill["lines"].as_array().expect("lines");
    let messaging = lines
        .iter()
        .find(|line| line["item"] == "messaging")
        .expect("messaging");
    // 1,000 IoT messages at $1 per million.
    close(number(&messaging["measured_usd"]), 0.001, "messaging");
    let sum: f64 = lines.iter().map(|line| number(&line["measured_usd"])).sum();
    close(number(&bill["measured_usd"]), sum, "measured total");
}

/// A copy of the fixture run with `records` in its fleet-runs/.
fn run_with_fleet_records(records: &[serde_json::Value]) -> tempfile::TempDir {
    let run = tempfile::tempdir().expect("temporary directory");
    std::fs::copy(
        fixture_run().join("metering.json"),
        run.path().join("metering.json"),
    )
    .expect("metering.json copied");
    let runs = run.path().join("fleet-runs");
    std::fs::create_dir(&runs).expect("fleet-runs");
    for (index, record) in records.iter().enumerate() {
        std::fs::write(runs.join(format!("f{index}.json")), record.to_string()).expect("record");
    }
    run
}

fn fleet_record(households: u64, idle_disconnect: bool, time_scale: f64) -> Value {
    serde_json::json!({
        "profile": "kitchen-household",
        "households": households,
        "actors": ["device"],
        "time_scale": time_scale,
        "days": 1.0,
        "idle_disconnect": idle_disconnect,
        "collections": false,
    })
}

#[test]
fn a_measured_run_takes_its_size_scenario_and_actors_from_the_fleets_record() {
    let run = run_with_fleet_records(&[fleet_record(3, true, 1.0)]);
    let path = run.path().display().to_string();
    let output = cost(&["--measured", &path, "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bill: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(bill["run"]["households"], 3.0);
    assert_eq!(bill["run"]["days"], 1.0);
    assert_eq!(bill["scenario_label"], "disconnect when idle");
    // The phone is not simulated: the model leaves it out, and says so.
    let warnings = bill["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("leaves out the profile's mobile")),
        "{warnings:?}"
    );
    // Only the oven's sessions: 3 households' derived sessions, no phone's.
    let connectivity = bill["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["item"] == "connectivity")
        .expect("connectivity")
        .clone();
    let minutes = number(&connectivity["model"]);
    // About 33 sessions a day each: polls and cooking events (the telemetry rides on them).
    assert!((3.0 * 25.0..3.0 * 40.0).contains(&minutes), "{minutes}");

    // The fixture's meter ran on the wall clock: a fleet at another scale is flagged.
    let scaled = run_with_fleet_records(&[fleet_record(3, false, 1000.0)]);
    let path = scaled.path().display().to_string();
    let output = cost(&["--measured", &path]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(
        table.contains(
            "Warning: the fleet ran at --time-scale 1000 but the post office metered time at 1"
        ),
        "{table}"
    );
    // A flag that contradicts the record is refused.
    let output = cost(&["--measured", &path, "--idle-disconnect"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("but the fleet run recorded"), "{stderr}");

    // Two runs cannot be told apart in one metering.json.
    let two = run_with_fleet_records(&[fleet_record(3, false, 1.0), fleet_record(4, false, 1.0)]);
    let path = two.path().display().to_string();
    let output = cost(&["--measured", &path]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("records 2 fleet runs"), "{stderr}");
}

#[test]
fn a_measured_run_needs_its_days_and_a_run_directory() {
    let output = measured(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--measured needs --days"), "{stderr}");

    let output = cost(&["--measured", "/nonexistent/run", "--days", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--measured /nonexistent/run: no such directory"),
        "{stderr}"
    );

    let empty = tempfile::tempdir().expect("temporary directory");
    let path = empty.path().display().to_string();
    let output = cost(&["--measured", &path, "--days", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{path}/metering.json: no metering.json")),
        "{stderr}"
    );

    std::fs::write(empty.path().join("metering.json"), "{\"version\": 1}").expect("write");
    let output = cost(&["--measured", &path, "--days", "1", "--households", "3"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{path}/metering.json: iot is missing")),
        "{stderr}"
    );

    // No devices to count and no --households.
    std::fs::copy(
        fixture_run().join("metering.json"),
        empty.path().join("metering.json"),
    )
    .expect("copy");
    let output = cost(&["--measured", &path, "--days", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--measured needs --households"), "{stderr}");
}

#[test]
fn the_bill_shows_logs_traces_kms_dynamodb_and_sqs() {
    let output = cost(&["--json", "--customers", "10000,10000000"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let estimate: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let small = &estimate["fleets"][0];
    let large = &estimate["fleets"][1];
    let quantity = |bill: &Value, item: &str| {
        let line = bill["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .find(|line| line["item"] == item)
            .unwrap_or_else(|| panic!("no line {item}"));
        number(&line["quantity"])
    };
    let (small_bill, large_bill) = (&small["bills"][0], &large["bills"][0]);
    // Lambda logs grow with the fleet; every invocation writes its lines.
    close(
        quantity(large_bill, "Lambda logs ingestion"),
        1_000.0 * quantity(small_bill, "Lambda logs ingestion"),
        "log GB scale with the fleet",
    );
    assert!(line(small_bill, "Lambda logs ingestion") > 0.0);
    // X-Ray samples a share: a large fleet traces about 5 % of its deliveries (each starts a
    // trace), a small one a larger share.
    let traced = |bill: &Value| {
        let deliveries: f64 = bill["usage"]["consumers"]
            .as_object()
            .expect("consumers")
            .values()
            .map(|flow| number(&flow["deliveries"]))
            .sum();
        quantity(bill, "traces recorded") / deliveries
    };
    assert!(traced(large_bill) < 0.051, "{}", traced(large_bill));
    assert!(traced(small_bill) > traced(large_bill));
    // KMS is per account: it hardly grows with the fleet.
    let kms_small = quantity(small_bill, "requests (per account)");
    let kms_large = quantity(large_bill, "requests (per account)");
    assert!(
        kms_small > 0.0 && kms_large < 2.0 * kms_small,
        "{kms_small} {kms_large}"
    );
    close(quantity(small_bill, "keys (per account)"), 1.0, "one key");
    // The kitchen profile, like the complete example, has no idempotency table and no failures.
    assert_eq!(line(small_bill, "idempotency writes"), 0.0);
    assert_eq!(line(small_bill, "failure queue requests"), 0.0);
    assert!(number(&small["idempotency_for_every_consumer_usd"]) > 0.0);

    let output = cost(&["--customers", "10000"]);
    let table = String::from_utf8(output.stdout).expect("UTF-8");
    for text in [
        "CloudWatch Logs Lambda logs ingestion",
        "X-Ray traces recorded",
        "KMS requests (per account)",
        "DynamoDB idempotency writes",
        "SQS failure queue requests",
        "idempotency tables for every consumer",
        "Operations: ",
    ] {
        assert!(table.contains(text), "{text} missing from\n{table}");
    }
}

#[test]
fn a_measured_run_with_logs_traces_and_tables_is_priced() {
    let run = repository().join("crates/cost/tests/fixtures/run-operations");
    let output = cost(&[
        "--measured",
        run.to_str().expect("UTF-8 path"),
        "--days",
        "1",
        "--households",
        "2",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bill: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let lines = bill["lines"].as_array().expect("lines");
    let find = |service: &str, item: &str| {
        lines
            .iter()
            .find(|line| line["service"] == service && line["item"] == item)
            .unwrap_or_else(|| panic!("no line {service} {item}"))
    };
    // 1,782,000 billed bytes of Lambda logs at $0.50 a GB.
    close(
        number(&find("CloudWatch Logs", "Lambda logs ingestion")["measured_usd"]),
        1_782_000.0 / 1024.0 / 1024.0 / 1024.0 * 0.5,
        "Lambda logs",
    );
    close(
        number(&find("X-Ray", "traces recorded")["measured_usd"]),
        900.0 * 5.0 / 1e6,
        "traces",
    );
    // The kitchen profile models all three, so they join the compared total.
    for (service, item) in [
        ("CloudWatch Logs", "Lambda logs ingestion"),
        ("X-Ray", "traces recorded"),
        ("KMS", "requests"),
    ] {
        assert!(find(service, item)["model"].is_number(), "{item} modelled");
    }
}
