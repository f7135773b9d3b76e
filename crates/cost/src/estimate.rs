//! Prices a fleet's month: one line per billed item, tiers applied to the fleet's volume.

use serde::Serialize;

use crate::CostError;
use crate::account::{AccountUsage, account_usage};
use crate::deployment::{BridgeMode, DeploymentComparison, compare};
use crate::pricing::{Price, PriceList, PriceStatus};
use crate::profile::Profile;
use crate::routes::EventRoutes;
use crate::usage::{
    BYTES_PER_GB, DAYS_PER_MONTH, MonthlyUsage, Scenario, customer_usage, event_store_objects,
};

/// One billed item for the whole fleet in a month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub service: &'static str,
    pub item: &'static str,
    pub quantity: f64,
    pub unit: &'static str,
    pub fleet_monthly_usd: f64,
    pub per_customer_monthly_usd: f64,
    pub price_status: PriceStatus,
}

/// A scenario's bill for one fleet size.
#[derive(Debug, Clone, Serialize)]
pub struct Bill {
    pub scenario: Scenario,
    pub label: &'static str,
    pub bridge: BridgeMode,
    pub lines: Vec<Line>,
    pub fleet_monthly_usd: f64,
    pub per_customer_monthly_usd: f64,
    pub per_customer_yearly_usd: f64,
    pub usage: MonthlyUsage,
    /// The fleet's traces and KMS use, which do not grow with it linearly.
    pub account: AccountUsage,
}

/// What an optimisation saves against the always-connected, single-event baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Saving {
    pub per_customer_yearly_usd: f64,
    pub fleet_monthly_usd: f64,
    /// Share of the whole bill saved.
    pub total_percent: f64,
    /// Share of connection minutes saved.
    pub connection_minutes_percent: f64,
    /// Share of IoT Core messages saved.
    pub iot_messages_percent: f64,
    /// Share of SNS publishes saved.
    pub sns_publishes_percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Savings {
    pub disconnect_when_idle: Saving,
    pub event_collections: Saving,
    pub both: Saving,
}

/// Every scenario for one fleet size.
#[derive(Debug, Clone, Serialize)]
pub struct FleetEstimate {
    pub customers: u64,
    pub bills: Vec<Bill>,
    pub savings: Savings,
    /// Separate bridge, embedded bridge and container side by side, for every scenario.
    pub deployments: Vec<DeploymentComparison>,
    /// What DynamoDB idempotency tables for every consumer would add to the always-connected
    /// bill (USD per month for the fleet), whatever the profile's `idempotency.consumers` say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_for_every_consumer_usd: Option<f64>,
}

/// The model's answer for every fleet size asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub profile: String,
    pub region: String,
    pub currency: String,
    pub price_list_version: String,
    /// How the bills deploy consumers.
    pub bridge: BridgeMode,
    /// The profile's assumptions for the container deployment's estimate.
    pub container: crate::profile::ContainerService,
    /// Price file fields that could not be confirmed in a source.
    pub unconfirmed_prices: Vec<&'static str>,
    pub fleets: Vec<FleetEstimate>,
}

/// Prices `usage` (a fleet's month) into lines; `customers` divides them per customer. With an
/// embedded bridge there are no bridge lines.
pub fn bill_lines(
    usage: &MonthlyUsage,
    account: &AccountUsage,
    objects: f64,
    prices: &PriceList,
    bridge: BridgeMode,
    customers: f64,
) -> Vec<Line> {
    let p = &prices.prices;
    let line = |service, item, quantity: f64, unit, price: &Price, cost: f64| Line {
        service,
        item,
        quantity,
        unit,
        fleet_monthly_usd: cost,
        per_customer_monthly_usd: cost / customers,
        price_status: price.status,
    };
    let priced = |service, item, quantity: f64, unit, price: &Price| {
        line(
            service,
            item,
            quantity,
            unit,
            price,
            price.monthly_cost(quantity),
        )
    };

    // Lambda tiers apply to the account's total; each role gets its pro-rata share.
    let roles = [
        ("bridges", usage.bridge),
        ("handlers", usage.handler),
        ("forwarder", usage.forwarder),
    ];
    let requests: f64 = roles.iter().map(|(_, role)| role.requests).sum();
    let gb_seconds: f64 = roles.iter().map(|(_, role)| role.gb_seconds).sum();
    let requests_cost = p.lambda_requests.monthly_cost(requests);
    let duration_cost = p.lambda_arm64_duration.monthly_cost(gb_seconds);
    let share = |part: f64, whole: f64, cost: f64| {
        if whole > 0.0 {
            cost * part / whole
        } else {
            0.0
        }
    };

    let mut lines = vec![
        priced(
            "IoT Core",
            "connectivity",
            usage.connection_minutes,
            "minutes",
            &p.iot_connectivity,
        ),
        priced(
            "IoT Core",
            "messaging",
            usage.iot_messages,
            "messages (5 KB)",
            &p.iot_messaging,
        ),
        priced(
            "IoT Core",
            "rules triggered",
            usage.iot_rules_triggered,
            "rules (5 KB)",
            &p.iot_rules_triggered,
        ),
        priced(
            "IoT Core",
            "actions executed",
            usage.iot_actions_executed,
            "actions (5 KB)",
            &p.iot_actions_executed,
        ),
        priced(
            "SNS",
            "publishes",
            usage.sns_publishes,
            "requests (64 KB)",
            &p.sns_publishes,
        ),
        priced(
            "SNS",
            "HTTP/S deliveries",
            usage.sns_http_deliveries,
            "deliveries (64 KB)",
            &p.sns_http_deliveries,
        ),
        priced(
            "SNS",
            "Firehose deliveries",
            usage.sns_firehose_deliveries,
            "deliveries",
            &p.sns_firehose_deliveries,
        ),
    ];
    for (name, role) in roles {
        if name == "bridges" && bridge == BridgeMode::Embedded {
            continue;
        }
        let (requests_item, duration_item) = match name {
            "bridges" => ("requests: bridges", "duration: bridges"),
            "handlers" => ("requests: handlers", "duration: handlers"),
            _ => ("requests: forwarder", "duration: forwarder"),
        };
        lines.push(line(
            "Lambda",
            requests_item,
            role.requests,
            "requests",
            &p.lambda_requests,
            share(role.requests, requests, requests_cost),
        ));
        lines.push(line(
            "Lambda",
            duration_item,
            role.gb_seconds,
            "GB-seconds (arm64)",
            &p.lambda_arm64_duration,
            share(role.gb_seconds, gb_seconds, duration_cost),
        ));
    }
    lines.extend([
        priced(
            "Firehose",
            "ingestion",
            usage.firehose_ingested_gb,
            "GB (records rounded to 5 KB)",
            &p.firehose_ingestion,
        ),
        priced(
            "Firehose",
            "dynamic partitioning",
            usage.event_store_gb(),
            "GB",
            &p.firehose_partitioned_delivery,
        ),
        priced(
            "Firehose",
            "partitioned objects",
            objects,
            "objects",
            &p.firehose_partitioned_objects,
        ),
        priced(
            "S3",
            "Standard storage",
            usage.stored_gb,
            "GB-month",
            &p.s3_standard_storage,
        ),
        priced(
            "S3",
            "PUT requests",
            objects,
            "requests",
            &p.s3_put_requests,
        ),
    ]);
    // Priced when the price file has the price (optional there).
    let optional = [
        (
            "CloudWatch Logs",
            "Lambda logs ingestion",
            usage.lambda_log_bytes / BYTES_PER_GB,
            "GB",
            &p.cloudwatch_logs_lambda_ingestion,
        ),
        (
            "CloudWatch Logs",
            "Lambda logs storage",
            usage.lambda_log_stored_gb,
            "GB-month",
            &p.cloudwatch_logs_storage,
        ),
        (
            "CloudWatch Logs",
            "delivery-status logs ingestion",
            usage.delivery_status_log_bytes / BYTES_PER_GB,
            "GB",
            &p.cloudwatch_logs_ingestion,
        ),
        (
            "CloudWatch Logs",
            "delivery-status logs storage",
            usage.delivery_status_log_stored_gb,
            "GB-month",
            &p.cloudwatch_logs_storage,
        ),
        (
            "X-Ray",
            "traces recorded",
            account.xray_traces,
            "traces",
            &p.xray_traces_recorded,
        ),
        (
            "KMS",
            "requests (per account)",
            account.kms_requests,
            "requests",
            &p.kms_requests,
        ),
        (
            "KMS",
            "keys (per account)",
            account.kms_key_months,
            "key-months",
            &p.kms_keys,
        ),
        (
            "DynamoDB",
            "idempotency writes",
            usage.dynamodb_write_units,
            "write request units",
            &p.dynamodb_write_request_units,
        ),
        (
            "DynamoDB",
            "idempotency storage",
            usage.dynamodb_stored_gb,
            "GB-month",
            &p.dynamodb_storage,
        ),
        (
            "SQS",
            "failure queue requests",
            usage.sqs_requests,
            "requests (64 KB)",
            &p.sqs_requests,
        ),
    ];
    for (service, item, quantity, unit, price) in optional {
        if let Some(price) = price {
            lines.push(priced(service, item, quantity, unit, price));
        }
    }
    lines
}

/// Lines of the delivery path: the Lambda functions, their logs and their traces (what the
/// container deployment replaces).
pub fn is_delivery_path(line: &Line) -> bool {
    line.service == "Lambda"
        || line.service == "X-Ray"
        || (line.service == "CloudWatch Logs" && line.item.starts_with("Lambda"))
}

/// A fleet's bill under one scenario, consumers deployed with `bridge`.
pub fn bill(
    profile: &Profile,
    routes: &EventRoutes,
    prices: &PriceList,
    scenario: Scenario,
    bridge: BridgeMode,
    customers: u64,
) -> Bill {
    let fleet =
        customer_usage(profile, routes, &prices.prices, scenario, bridge).times(customers as f64);
    let objects = event_store_objects(&fleet, profile);
    let account = account_usage(&fleet, profile, DAYS_PER_MONTH * 86_400.0);
    let lines = bill_lines(&fleet, &account, objects, prices, bridge, customers as f64);
    let fleet_monthly_usd: f64 = lines.iter().map(|line| line.fleet_monthly_usd).sum();
    let per_customer_monthly_usd = fleet_monthly_usd / customers as f64;
    Bill {
        scenario,
        label: scenario.label(),
        bridge,
        lines,
        fleet_monthly_usd,
        per_customer_monthly_usd,
        per_customer_yearly_usd: per_customer_monthly_usd * 12.0,
        usage: fleet,
        account,
    }
}

/// What idempotency tables for every catalog consumer would cost the always-connected fleet a
/// month: the DynamoDB lines of that bill. `None` when the profile has no `idempotency` section.
fn idempotency_for_every_consumer(
    profile: &Profile,
    routes: &EventRoutes,
    prices: &PriceList,
    bridge: BridgeMode,
    customers: u64,
) -> Option<f64> {
    let idempotency = profile.idempotency.as_ref()?;
    let mut every = profile.clone();
    let mut consumers: Vec<String> = routes
        .values()
        .flat_map(|route| route.consumers.iter().cloned())
        .collect();
    consumers.sort();
    consumers.dedup();
    every.idempotency = Some(crate::profile::Idempotency {
        consumers,
        ..idempotency.clone()
    });
    let bill = bill(
        &every,
        routes,
        prices,
        Scenario::BASELINE,
        bridge,
        customers,
    );
    Some(
        bill.lines
            .iter()
            .filter(|line| line.service == "DynamoDB")
            .map(|line| line.fleet_monthly_usd)
            .sum(),
    )
}

fn saving(baseline: &Bill, optimised: &Bill) -> Saving {
    let percent = |before: f64, after: f64| {
        if before > 0.0 {
            (before - after) / before * 100.0
        } else {
            0.0
        }
    };
    Saving {
        per_customer_yearly_usd: baseline.per_customer_yearly_usd
            - optimised.per_customer_yearly_usd,
        fleet_monthly_usd: baseline.fleet_monthly_usd - optimised.fleet_monthly_usd,
        total_percent: percent(baseline.fleet_monthly_usd, optimised.fleet_monthly_usd),
        connection_minutes_percent: percent(
            baseline.usage.connection_minutes,
            optimised.usage.connection_minutes,
        ),
        iot_messages_percent: percent(baseline.usage.iot_messages, optimised.usage.iot_messages),
        sns_publishes_percent: percent(baseline.usage.sns_publishes, optimised.usage.sns_publishes),
    }
}

/// Every scenario at every fleet size, consumers deployed with `bridge`, and every deployment
/// side by side.
pub fn estimate(
    profile: &Profile,
    routes: &EventRoutes,
    prices: &PriceList,
    bridge: BridgeMode,
    fleet_sizes: &[u64],
) -> Result<Estimate, CostError> {
    prices.check("the price list")?;
    profile.check(&format!("profile {}", profile.name), routes)?;
    if let Some(zero) = fleet_sizes.iter().find(|size| **size == 0) {
        return Err(CostError::FleetSize(*zero));
    }
    let fleets = fleet_sizes
        .iter()
        .map(|&customers| {
            let bills: Vec<Bill> = Scenario::ALL
                .iter()
                .map(|&scenario| bill(profile, routes, prices, scenario, bridge, customers))
                .collect();
            let find = |scenario: Scenario| {
                bills
                    .iter()
                    .find(|bill| bill.scenario == scenario)
                    .expect("every scenario is billed")
            };
            let baseline = find(Scenario::BASELINE);
            let savings = Savings {
                disconnect_when_idle: saving(baseline, find(Scenario::DISCONNECT_WHEN_IDLE)),
                event_collections: saving(baseline, find(Scenario::EVENT_COLLECTIONS)),
                both: saving(baseline, find(Scenario::BOTH)),
            };
            let deployments = Scenario::ALL
                .iter()
                .map(|&scenario| compare(profile, routes, prices, scenario, customers))
                .collect();
            FleetEstimate {
                customers,
                idempotency_for_every_consumer_usd: idempotency_for_every_consumer(
                    profile, routes, prices, bridge, customers,
                ),
                bills,
                savings,
                deployments,
            }
        })
        .collect();
    Ok(Estimate {
        profile: profile.name.clone(),
        region: prices.region.clone(),
        currency: prices.currency.clone(),
        price_list_version: prices.version.clone(),
        bridge,
        container: profile.container,
        unconfirmed_prices: prices
            .prices
            .named()
            .into_iter()
            .filter(|(_, price)| price.status == PriceStatus::Unconfirmed)
            .map(|(name, _)| name)
            .collect(),
        fleets,
    })
}
