//! Price components and tier boundaries, on hand-computed cases.

mod fixtures;

use fixtures::{SHIPPED_PRICES, shipped_prices};
use postoffice_cost::{PriceList, PriceStatus, increments};

fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual}"
    );
}

#[test]
fn connectivity_is_the_rate_per_million_minutes() {
    let prices = shipped_prices();
    // AWS's own example: 100,000 devices connected for 30 days.
    let minutes = 100_000.0 * 60.0 * 24.0 * 30.0;
    close(prices.prices.iot_connectivity.monthly_cost(minutes), 345.60);
}

#[test]
fn messaging_tiers_at_one_and_five_billion() {
    let messaging = shipped_prices().prices.iot_messaging;
    close(messaging.monthly_cost(999_999_999.0), 999.999_999);
    close(messaging.monthly_cost(1_000_000_000.0), 1_000.0);
    close(messaging.monthly_cost(1_000_000_001.0), 1_000.000_000_8);
    close(messaging.monthly_cost(4_999_999_999.0), 4_199.999_999_2);
    // 1,000 for the first billion + 4,000 million at 0.80.
    close(messaging.monthly_cost(5_000_000_000.0), 4_200.0);
    close(messaging.monthly_cost(5_000_000_001.0), 4_200.000_000_7);
    close(messaging.monthly_cost(6_000_000_000.0), 4_900.0);
}

#[test]
fn rules_and_actions_are_flat_per_million() {
    let prices = shipped_prices().prices;
    close(prices.iot_rules_triggered.monthly_cost(2_000_000.0), 0.30);
    close(prices.iot_actions_executed.monthly_cost(2_000_000.0), 0.30);
}

#[test]
fn sns_publishes_and_http_deliveries_per_million() {
    let prices = shipped_prices().prices;
    close(prices.sns_publishes.monthly_cost(3_000_000.0), 1.50);
    close(prices.sns_http_deliveries.monthly_cost(3_000_000.0), 1.80);
}

#[test]
fn lambda_requests_and_arm64_duration_tiers() {
    let prices = shipped_prices().prices;
    close(prices.lambda_requests.monthly_cost(5_000_000.0), 1.0);
    let duration = &prices.lambda_arm64_duration;
    close(duration.monthly_cost(1_000_000.0), 13.3334);
    close(
        duration.monthly_cost(7_499_999_999.0),
        100_000.499_986_666_6,
    );
    close(duration.monthly_cost(7_500_000_000.0), 100_000.5);
    close(
        duration.monthly_cost(7_500_000_001.0),
        100_000.500_012_000_1,
    );
    // 100,000.5 + 11.25 billion at 0.0000120001.
    close(duration.monthly_cost(18_750_000_000.0), 235_001.625);
    close(
        duration.monthly_cost(18_750_000_001.0),
        235_001.625 + 0.000_010_666_7,
    );
}

#[test]
fn firehose_ingestion_tier_at_500_tb() {
    let ingestion = shipped_prices().prices.firehose_ingestion;
    close(ingestion.monthly_cost(100.0), 2.9);
    close(ingestion.monthly_cost(511_999.0), 14_847.971);
    close(ingestion.monthly_cost(512_000.0), 14_848.0);
    close(ingestion.monthly_cost(512_001.0), 14_848.025);
}

#[test]
fn dynamic_partitioning_per_gb_and_per_thousand_objects() {
    let prices = shipped_prices().prices;
    close(prices.firehose_partitioned_delivery.monthly_cost(50.0), 1.0);
    close(
        prices.firehose_partitioned_objects.monthly_cost(52_560.0),
        0.2628,
    );
}

#[test]
fn s3_storage_tiers_at_50_and_500_tb() {
    let storage = shipped_prices().prices.s3_standard_storage;
    close(storage.monthly_cost(51_199.0), 1_177.577);
    close(storage.monthly_cost(51_200.0), 1_177.6);
    close(storage.monthly_cost(51_201.0), 1_177.622);
    // 1,177.6 + 460,800 GB at 0.022.
    close(storage.monthly_cost(512_000.0), 11_315.2);
    close(storage.monthly_cost(512_001.0), 11_315.221);
    close(
        shipped_prices()
            .prices
            .s3_put_requests
            .monthly_cost(2_000.0),
        0.01,
    );
}

#[test]
fn zero_quantity_costs_nothing() {
    for (name, price) in shipped_prices().prices.named() {
        assert_eq!(price.monthly_cost(0.0), 0.0, "{name}");
    }
}

#[test]
fn five_kilobyte_increments() {
    assert_eq!(increments(0.0, 5120), 1.0);
    assert_eq!(increments(1.0, 5120), 1.0);
    assert_eq!(increments(5119.0, 5120), 1.0);
    assert_eq!(increments(5120.0, 5120), 1.0);
    assert_eq!(increments(5121.0, 5120), 2.0);
    assert_eq!(increments(10_240.0, 5120), 2.0);
    assert_eq!(increments(10_241.0, 5120), 3.0);
}

#[test]
fn sixty_four_kilobyte_chunks() {
    assert_eq!(increments(65_535.0, 65_536), 1.0);
    assert_eq!(increments(65_536.0, 65_536), 1.0);
    assert_eq!(increments(65_537.0, 65_536), 2.0);
    assert_eq!(increments(262_144.0, 65_536), 4.0);
}

#[test]
fn the_shipped_list_records_provenance_and_metering() {
    let prices = shipped_prices();
    assert_eq!(prices.region, "us-east-1");
    for (name, price) in prices.prices.named() {
        assert!(
            price.source.contains("https://"),
            "{name} has no source URL"
        );
        assert_eq!(price.read_on.len(), 10, "{name}.read_on is not a date");
    }
    assert_eq!(prices.prices.iot_messaging.increment_bytes, Some(5120));
    assert_eq!(prices.prices.sns_publishes.increment_bytes, Some(65_536));
    assert_eq!(prices.prices.firehose_ingestion.increment_bytes, Some(5120));
    assert_eq!(
        prices.prices.iot_rules_triggered.status,
        PriceStatus::Unconfirmed
    );
    assert_eq!(prices.prices.lambda_requests.status, PriceStatus::Confirmed);
}

fn rejected(edit: impl Fn(&str) -> String) -> String {
    let text = edit(SHIPPED_PRICES);
    assert_ne!(text, SHIPPED_PRICES, "the edit changed nothing");
    PriceList::from_yaml(&text, "broken.yaml")
        .expect_err("the edited list must be rejected")
        .to_string()
}

#[test]
fn a_last_tier_with_an_upper_bound_is_rejected() {
    let message = rejected(|text| {
        text.replacen(
            "      - price: 0.70\n",
            "      - up_to: 9000000000\n        price: 0.70\n",
            1,
        )
    });
    assert!(message.starts_with("broken.yaml: "), "{message}");
    assert!(message.contains("prices.iot_messaging.tiers"), "{message}");
}

#[test]
fn tiers_out_of_order_are_rejected() {
    let message = rejected(|text| text.replacen("up_to: 5000000000", "up_to: 500000000", 1));
    assert!(
        message.contains("prices.iot_messaging.tiers[1].up_to must be greater"),
        "{message}"
    );
}

#[test]
fn a_size_metered_price_without_increment_is_rejected() {
    let message = rejected(|text| text.replacen("    increment_bytes: 65536\n", "", 1));
    assert!(
        message.contains("prices.sns_publishes.increment_bytes is required"),
        "{message}"
    );
}

#[test]
fn a_missing_price_is_named() {
    let message = rejected(|text| text.replacen("  s3_put_requests:", "  s3_puts:", 1));
    assert!(message.starts_with("broken.yaml: "), "{message}");
    assert!(message.contains("s3_puts"), "{message}");
}

#[test]
fn the_prices_only_measured_bills_use_are_optional() {
    let prices = shipped_prices().prices;
    close(
        prices
            .sqs_requests
            .as_ref()
            .expect("shipped")
            .monthly_cost(2_000_000.0),
        0.80,
    );
    close(
        prices
            .kms_requests
            .as_ref()
            .expect("shipped")
            .monthly_cost(20_000.0),
        0.06,
    );
    let start = SHIPPED_PRICES
        .find("  sqs_requests:")
        .expect("sqs_requests in the shipped list");
    let without = PriceList::from_yaml(&SHIPPED_PRICES[..start], "older.yaml")
        .expect("a list without them still loads");
    assert!(without.prices.sqs_requests.is_none());
    assert!(without.prices.cloudwatch_alarms.is_none());
}
