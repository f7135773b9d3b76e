//! Bills and savings: internal consistency and hand-computed tier effects.

mod fixtures;

use fixtures::{profile, routes, shipped_prices};
use postoffice_cost::report::thousands;
use postoffice_cost::{BridgeMode, CostError, Scenario, bill, estimate};

fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual}"
    );
}

fn line_cost(bill: &postoffice_cost::Bill, item: &str) -> f64 {
    bill.lines
        .iter()
        .find(|line| line.item == item)
        .unwrap_or_else(|| panic!("no line {item}"))
        .fleet_monthly_usd
}

#[test]
fn the_breakdown_sums_to_the_total_and_divides_per_customer() {
    let estimate = estimate(
        &profile(),
        &routes(),
        &shipped_prices(),
        BridgeMode::Separate,
        &[10, 1_000_000],
    )
    .unwrap();
    assert_eq!(estimate.fleets.len(), 2);
    for fleet in &estimate.fleets {
        assert_eq!(fleet.bills.len(), 4);
        for bill in &fleet.bills {
            let sum: f64 = bill.lines.iter().map(|line| line.fleet_monthly_usd).sum();
            close(sum, bill.fleet_monthly_usd);
            close(
                bill.per_customer_monthly_usd * fleet.customers as f64,
                bill.fleet_monthly_usd,
            );
            close(
                bill.per_customer_yearly_usd,
                12.0 * bill.per_customer_monthly_usd,
            );
            for line in &bill.lines {
                close(
                    line.per_customer_monthly_usd * fleet.customers as f64,
                    line.fleet_monthly_usd,
                );
            }
        }
    }
}

#[test]
fn connectivity_for_ten_households() {
    let bill = bill(
        &profile(),
        &routes(),
        &shipped_prices(),
        Scenario::BASELINE,
        BridgeMode::Separate,
        10,
    );
    // 438,000 minutes at $0.08 per million.
    close(line_cost(&bill, "connectivity"), 0.035_04);
}

#[test]
fn messaging_crosses_the_billion_tier_at_a_million_households() {
    let prices = shipped_prices();
    let one = bill(
        &profile(),
        &routes(),
        &prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
        1,
    );
    let messages = one.usage.iot_messages * 1_000_000.0;
    assert!(messages > 1e9 && messages < 5e9);
    let million = bill(
        &profile(),
        &routes(),
        &prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
        1_000_000,
    );
    close(
        line_cost(&million, "messaging"),
        1_000.0 + (messages - 1e9) * 0.80 / 1e6,
    );
    // Below the tier bound the line is linear in the fleet size.
    let thousand = bill(
        &profile(),
        &routes(),
        &prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
        1_000,
    );
    close(
        line_cost(&thousand, "messaging"),
        1_000.0 * line_cost(&one, "messaging"),
    );
}

#[test]
fn lambda_roles_share_the_tiered_total() {
    let prices = shipped_prices();
    let bill = bill(
        &profile(),
        &routes(),
        &prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
        1_000,
    );
    let requests: f64 = [
        "requests: bridges",
        "requests: handlers",
        "requests: forwarder",
    ]
    .iter()
    .map(|item| line_cost(&bill, item))
    .sum();
    // 1,000 × (4,380 bridges + 4,015 handlers + 365 forwarder) requests at $0.20 per million.
    close(requests, 8_760_000.0 * 0.20 / 1e6);
    close(
        line_cost(&bill, "requests: forwarder"),
        365_000.0 * 0.20 / 1e6,
    );
}

#[test]
fn savings_against_the_always_connected_single_event_baseline() {
    let estimate = estimate(
        &profile(),
        &routes(),
        &shipped_prices(),
        BridgeMode::Separate,
        &[10_000],
    )
    .unwrap();
    let fleet = &estimate.fleets[0];
    let idle = fleet.savings.disconnect_when_idle;
    // 24 h → 0.5 h a day for the only connected actor.
    close(idle.connection_minutes_percent, 23.5 / 24.0 * 100.0);
    close(idle.sns_publishes_percent, 0.0);
    let collections = fleet.savings.event_collections;
    close(collections.connection_minutes_percent, 0.0);
    // 4,015 publishes, and one more per collection (2,920 telemetry in collections of 4.5):
    // the collection-unpacker publishes every member.
    close(
        collections.sns_publishes_percent,
        -(2_920.0 / 4.5) / 4_015.0 * 100.0,
    );
    let baseline = &fleet.bills[0];
    let both = &fleet.bills[3];
    close(
        fleet.savings.both.fleet_monthly_usd,
        baseline.fleet_monthly_usd - both.fleet_monthly_usd,
    );
    close(
        fleet.savings.both.total_percent,
        (baseline.fleet_monthly_usd - both.fleet_monthly_usd) / baseline.fleet_monthly_usd * 100.0,
    );
}

#[test]
fn an_empty_fleet_is_rejected() {
    let error = estimate(
        &profile(),
        &routes(),
        &shipped_prices(),
        BridgeMode::Separate,
        &[10, 0],
    )
    .unwrap_err();
    assert!(matches!(error, CostError::FleetSize(0)));
    assert!(error.to_string().contains("fleet size 0"));
}

#[test]
fn unconfirmed_prices_are_listed() {
    let estimate = estimate(
        &profile(),
        &routes(),
        &shipped_prices(),
        BridgeMode::Separate,
        &[10],
    )
    .unwrap();
    assert!(estimate.unconfirmed_prices.contains(&"iot_rules_triggered"));
    assert!(!estimate.unconfirmed_prices.contains(&"lambda_requests"));
}

#[test]
fn money_is_grouped_by_thousands() {
    assert_eq!(thousands(1_234_567.891, 2), "1,234,567.89");
    assert_eq!(thousands(999.0, 0), "999");
    assert_eq!(thousands(1_000.0, 0), "1,000");
    assert_eq!(thousands(0.5, 2), "0.50");
    assert_eq!(thousands(-1_234.5, 2), "-1,234.50");
    assert_eq!(thousands(-0.0001, 2), "0.00");
}

#[test]
fn the_table_names_every_scenario_and_explains_collections() {
    let estimate = estimate(
        &profile(),
        &routes(),
        &shipped_prices(),
        BridgeMode::Separate,
        &[10_000],
    )
    .unwrap();
    let table = postoffice_cost::report::render(&estimate);
    assert!(table.contains("Fleet of 10,000 customers"), "{table}");
    for label in [
        "always connected",
        "disconnect when idle",
        "event collections",
        "idle + collections",
    ] {
        assert!(table.contains(label), "{label} missing from\n{table}");
    }
    assert!(table.contains("An Event Collection carries"), "{table}");
    assert!(table.contains("Unconfirmed prices"), "{table}");
}
