//! Consumer deployments: separate and embedded bridges, and the container estimate, worked out
//! by hand on the test household (12 a day = 365 a month; a month is 730 hours).

mod fixtures;

use fixtures::{PROFILE, profile, routes, shipped_prices};
use postoffice_cost::{
    BridgeMode, Deployment, MonthlyUsage, Profile, Scenario, compare, container_estimate,
    customer_usage,
};

fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual}"
    );
}

fn usage(profile: &Profile, bridge: BridgeMode) -> MonthlyUsage {
    customer_usage(
        profile,
        &routes(),
        &shipped_prices().prices,
        Scenario::BASELINE,
        bridge,
    )
}

fn with_endpoint_ms(ms: &str) -> Profile {
    let text = PROFILE.replace(
        "embedded_endpoint_ms: 1",
        &format!("embedded_endpoint_ms: {ms}"),
    );
    Profile::from_yaml(&text, "endpoint.yaml", &routes()).expect("valid profile")
}

#[test]
fn embedded_saves_exactly_the_bridge_when_the_endpoint_costs_nothing() {
    let profile = with_endpoint_ms("0");
    let separate = usage(&profile, BridgeMode::Separate);
    let embedded = usage(&profile, BridgeMode::Embedded);
    // The bridge: 4,015 handler and 365 forwarder deliveries, 6 ms plus the handler's 25 or the
    // forwarder's 20 ms at 128 MB.
    close(separate.bridge.requests, 4_380.0);
    close(
        separate.bridge.gb_seconds,
        4_015.0 * 0.125 * 0.031 + 365.0 * 0.125 * 0.026,
    );
    close(embedded.bridge.requests, 0.0);
    close(embedded.bridge.gb_seconds, 0.0);
    // Handlers and forwarder are billed the same, so the saving is the bridge, to the request
    // and to the GB-second.
    assert_eq!(embedded.handler, separate.handler);
    assert_eq!(embedded.forwarder, separate.forwarder);
    // Deliveries do not depend on the deployment.
    assert_eq!(embedded.sns_http_deliveries, separate.sns_http_deliveries);
    assert_eq!(embedded.consumers, separate.consumers);
}

#[test]
fn the_embedded_endpoint_adds_its_milliseconds_at_the_handlers_memory() {
    let embedded = usage(&profile(), BridgeMode::Embedded);
    // One invocation per delivery: 4,015 handlers of 25 + 1 ms at 256 MB, 365 forwarders of
    // 20 + 1 ms at 128 MB.
    close(embedded.handler.requests, 4_015.0);
    close(embedded.handler.gb_seconds, 4_015.0 * 0.25 * 0.026);
    close(embedded.forwarder.gb_seconds, 365.0 * 0.125 * 0.021);
    close(embedded.bridge.requests, 0.0);
    let separate = usage(&profile(), BridgeMode::Separate);
    let lambda = |usage: &MonthlyUsage| {
        (
            usage.bridge.requests + usage.handler.requests + usage.forwarder.requests,
            usage.bridge.gb_seconds + usage.handler.gb_seconds + usage.forwarder.gb_seconds,
        )
    };
    let (separate_requests, separate_gb_seconds) = lambda(&separate);
    let (embedded_requests, embedded_gb_seconds) = lambda(&embedded);
    // 8,760 requests → 4,380.
    close(separate_requests - embedded_requests, 4_380.0);
    // The bridge's 16.744375 GB-s (15.558125 + 1.18625), less 1 ms of 4,015 handlers at 0.25 GB and 365 forwarders at
    // 0.125 GB (1.003750 + 0.045625).
    close(
        separate_gb_seconds - embedded_gb_seconds,
        4_015.0 * 0.125 * 0.031 + 365.0 * 0.125 * 0.026
            - 4_015.0 * 0.25 * 0.001
            - 365.0 * 0.125 * 0.001,
    );
}

#[test]
fn a_small_fleet_runs_the_minimum_tasks_and_one_load_balancer() {
    let prices = shipped_prices();
    let profile = profile();
    let fleet = usage(&profile, BridgeMode::Separate).times(10.0);
    let container = container_estimate(&fleet, &profile.container, &prices, 10.0);
    // Four consumers (audit, iot-forwarder, kitchen, telemetry), two tasks each.
    let services: Vec<(&str, u64)> = container
        .services
        .iter()
        .map(|service| (service.consumer.as_str(), service.tasks))
        .collect();
    assert_eq!(
        services,
        [
            ("audit", 2),
            ("iot-forwarder", 2),
            ("kitchen", 2),
            ("telemetry", 2)
        ]
    );
    // 8 tasks × 730 hours × 0.25 vCPU and × 0.5 GB.
    close(container.vcpu_hours, 1_460.0);
    close(container.gb_hours, 2_920.0);
    close(container.alb_hours, 730.0);
    // 43,800 deliveries, each a new connection: 43,800 / (25 × 3,600) LCU-hours; the bytes
    // (10 × (2,920 × 800 + 1,460 × 500 + 4,380 × 1,500) = 96,360,000, 0.09 GB) are fewer.
    close(container.new_connections, 43_800.0);
    close(container.processed_gb, 96_360_000.0 / fixtures::GIB);
    close(container.lcu_hours, 43_800.0 / 90_000.0);
    assert_eq!(container.lcu_dimension, "new connections");
    // $0.03238 × 1,460 = 47.2748; $0.00356 × 2,920 = 10.3952; $0.0225 × 730 = 16.425;
    // $0.008 × 0.486667 = 0.00389333.
    let cost = |item: &str| {
        container
            .lines
            .iter()
            .find(|line| line.item == item)
            .unwrap_or_else(|| panic!("no line {item}"))
            .fleet_monthly_usd
    };
    close(cost("vCPU"), 47.2748);
    close(cost("memory"), 10.3952);
    close(cost("hours"), 16.425);
    close(cost("LCU"), 0.008 * 43_800.0 / 90_000.0);
    close(
        container.monthly_usd,
        47.2748 + 10.3952 + 16.425 + 0.008 * 43_800.0 / 90_000.0,
    );
}

#[test]
fn a_large_fleet_sizes_each_service_for_its_busiest_hour() {
    let prices = shipped_prices();
    let profile = profile();
    let fleet = usage(&profile, BridgeMode::Separate).times(1_000_000.0);
    let container = container_estimate(&fleet, &profile.container, &prices, 1e6);
    // A month is 2,628,000 s. Telemetry gets the 2,920 readings and the 365 finished cooks of
    // each household: 3.285e9 deliveries = 1,250/s, × 3 at peak = 3,750/s, 38 tasks of 100/s
    // (37.5 rounded up). The others: 3.65e8 = 138.9/s, × 3 = 416.7/s, 5 tasks each.
    let services: Vec<(&str, u64)> = container
        .services
        .iter()
        .map(|service| (service.consumer.as_str(), service.tasks))
        .collect();
    assert_eq!(
        services,
        [
            ("audit", 5),
            ("iot-forwarder", 5),
            ("kitchen", 5),
            ("telemetry", 38)
        ]
    );
    close(container.services[3].peak_deliveries_per_second, 3_750.0);
    assert_eq!(container.tasks, 53);
    close(container.vcpu_hours, 53.0 * 730.0 * 0.25);
    close(container.lcu_hours, 4.38e9 / 90_000.0);
}

#[test]
fn the_comparison_shares_everything_but_the_delivery_path() {
    let prices = shipped_prices();
    let comparison = compare(&profile(), &routes(), &prices, Scenario::BASELINE, 10);
    let [separate, embedded, container] = &comparison.deployments[..] else {
        panic!("three deployments");
    };
    assert_eq!(separate.deployment, Deployment::SeparateBridge);
    assert_eq!(embedded.deployment, Deployment::EmbeddedBridge);
    assert_eq!(container.deployment, Deployment::Container);
    // 10 households: 87,600 requests → 43,800; 0.20 per million each.
    close(separate.lambda_requests, 87_600.0);
    close(embedded.lambda_requests, 43_800.0);
    close(container.lambda_requests, 0.0);
    for cost in [separate, embedded, container] {
        close(
            cost.fleet_monthly_usd - cost.delivery_monthly_usd,
            separate.fleet_monthly_usd - separate.delivery_monthly_usd,
        );
        close(
            cost.versus_separate_monthly_usd,
            cost.fleet_monthly_usd - separate.fleet_monthly_usd,
        );
        close(cost.per_customer_monthly_usd * 10.0, cost.fleet_monthly_usd);
    }
    // Embedded: 43,800 fewer requests ($0.00876) and 10 × (16.744375 − 1.049375) GB-s fewer at
    // $0.0000133334 (first tier).
    close(
        separate.delivery_monthly_usd - embedded.delivery_monthly_usd,
        43_800.0 * 0.20 / 1e6 + 10.0 * (16.744_375 - 1.049_375) * 0.000_013_333_4,
    );
    close(
        container.delivery_monthly_usd,
        47.2748 + 10.3952 + 16.425 + 0.008 * 43_800.0 / 90_000.0,
    );
}

#[test]
fn an_unknown_bridge_mode_is_named() {
    let error = "sidecar".parse::<BridgeMode>().unwrap_err();
    assert!(error.contains("\"sidecar\""), "{error}");
    assert!(error.contains("separate or embedded"), "{error}");
    let error = "container".parse::<BridgeMode>().unwrap_err();
    assert!(error.contains("not a bridge mode"), "{error}");
    assert_eq!("embedded".parse::<BridgeMode>(), Ok(BridgeMode::Embedded));
}

fn rejected(text: &str) -> String {
    Profile::from_yaml(text, "broken.yaml", &routes())
        .expect_err("the profile must be rejected")
        .to_string()
}

#[test]
fn container_sizes_fargate_does_not_offer_are_rejected() {
    let section = "container:\n  min_tasks: 2\n  vcpu_per_task: VCPU\n  memory_gb_per_task: MEMORY\n  deliveries_per_second_per_task: 100\n  peak_to_average: 3\n  http_overhead_bytes: 1500\n";
    let with = |vcpu: &str, memory: &str| {
        format!(
            "{PROFILE}{}",
            section.replace("VCPU", vcpu).replace("MEMORY", memory)
        )
    };
    Profile::from_yaml(&with("0.5", "1"), "ok.yaml", &routes()).expect("0.5 vCPU / 1 GB exists");
    let message = rejected(&with("0.3", "1"));
    assert!(
        message.contains("container.vcpu_per_task is 0.3"),
        "{message}"
    );
    let message = rejected(&with("0.25", "4"));
    assert!(
        message.contains("container.memory_gb_per_task is 4 but Fargate allows 0.5 to 2 GB"),
        "{message}"
    );
    let message = rejected(&PROFILE.replace("  embedded_endpoint_ms: 1\n", ""));
    assert!(message.contains("embedded_endpoint_ms"), "{message}");
}
