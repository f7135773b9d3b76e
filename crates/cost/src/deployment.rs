//! How consumers are deployed (terraform/modules/consumer, `bridge.mode`), and what the path
//! from an SNS delivery to the consumer's code costs in each deployment.
//!
//! - separate: SNS → the bridge Lambda's function URL → synchronous Invoke of the handler; the
//!   bridge is billed for its own work plus the time it waits for the handler.
//! - embedded: SNS → the handler's own function URL; one invocation per delivery, its duration
//!   grown by the endpoint's work.
//! - container (`compute = "container"`): every consumer an ECS service on Fargate behind one
//!   Application Load Balancer (the module's `load_balancer.listener_arn`, shared); tasks always
//!   run, sized for the busiest hour.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::estimate::{Bill, Line, bill};
use crate::pricing::{Price, PriceList};
use crate::profile::{ContainerService, Profile};
use crate::routes::EventRoutes;
use crate::usage::{BYTES_PER_GB, DAYS_PER_MONTH, MonthlyUsage, Scenario};

/// The model's month in hours (730).
pub const HOURS_PER_MONTH: f64 = DAYS_PER_MONTH * 24.0;
/// What one ALB Load Balancer Capacity Unit covers in an hour, in the two dimensions SNS
/// deliveries use (https://aws.amazon.com/elasticloadbalancing/pricing/): new connections a
/// second, and GB processed an hour for container targets. Active connections (3,000 a minute)
/// stay below the new-connection dimension while each lasts under a minute; rule evaluations
/// (1,000 a second) are free for a request's first 10 rules, and one path rule per consumer
/// stays under that.
pub const LCU_NEW_CONNECTIONS_PER_SECOND: f64 = 25.0;
pub const LCU_PROCESSED_GB_PER_HOUR: f64 = 1.0;

/// How SNS reaches a consumer's handler Lambda (`bridge.mode` of the consumer module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BridgeMode {
    Separate,
    Embedded,
}

impl BridgeMode {
    pub const ALL: [BridgeMode; 2] = [BridgeMode::Separate, BridgeMode::Embedded];

    pub fn name(&self) -> &'static str {
        match self {
            BridgeMode::Separate => "separate",
            BridgeMode::Embedded => "embedded",
        }
    }
}

impl fmt::Display for BridgeMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for BridgeMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "separate" => Ok(BridgeMode::Separate),
            "embedded" => Ok(BridgeMode::Embedded),
            "container" => Err(
                "container is a compute (the consumer module's compute = \"container\"), not a \
                 bridge mode: its pricing is in the report's comparison section (choose separate \
                 or embedded)"
                    .to_string(),
            ),
            other => Err(format!(
                "bridge mode {other:?} is not one the consumer module knows (separate or embedded)"
            )),
        }
    }
}

/// A consumer deployment the comparison prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deployment {
    SeparateBridge,
    EmbeddedBridge,
    Container,
}

impl Deployment {
    pub const ALL: [Deployment; 3] = [
        Deployment::SeparateBridge,
        Deployment::EmbeddedBridge,
        Deployment::Container,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Deployment::SeparateBridge => "separate bridge",
            Deployment::EmbeddedBridge => "embedded bridge",
            Deployment::Container => "container",
        }
    }
}

/// One consumer's service in the container deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSize {
    pub consumer: String,
    /// Deliveries a second in the busiest hour (the month's average × peak_to_average).
    pub peak_deliveries_per_second: f64,
    pub tasks: u64,
}

/// The container deployment's delivery path for a fleet's month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerEstimate {
    pub assumptions: ContainerService,
    pub services: Vec<ServiceSize>,
    /// Tasks running all month, all services.
    pub tasks: u64,
    pub vcpu_hours: f64,
    pub gb_hours: f64,
    pub alb_hours: f64,
    /// One connection per delivery (SNS keeping connections open is not assumed).
    pub new_connections: f64,
    pub processed_gb: f64,
    pub lcu_hours: f64,
    /// The LCU dimension that sets `lcu_hours`.
    pub lcu_dimension: &'static str,
    pub lines: Vec<Line>,
    pub monthly_usd: f64,
}

/// Sizes and prices the container deployment for `fleet` (a fleet's month) of `customers`.
pub fn container_estimate(
    fleet: &MonthlyUsage,
    assumptions: &ContainerService,
    prices: &PriceList,
    customers: f64,
) -> ContainerEstimate {
    let seconds = DAYS_PER_MONTH * 86_400.0;
    let services: Vec<ServiceSize> = fleet
        .consumers
        .iter()
        .filter(|(_, flow)| flow.deliveries > 0.0)
        .map(|(consumer, flow)| {
            let peak = flow.deliveries / seconds * assumptions.peak_to_average;
            let needed = (peak / assumptions.deliveries_per_second_per_task).ceil() as u64;
            ServiceSize {
                consumer: consumer.clone(),
                peak_deliveries_per_second: peak,
                tasks: needed.max(u64::from(assumptions.min_tasks)),
            }
        })
        .collect();
    let tasks: u64 = services.iter().map(|service| service.tasks).sum();
    let task_hours = tasks as f64 * HOURS_PER_MONTH;
    let vcpu_hours = task_hours * assumptions.vcpu_per_task;
    let gb_hours = task_hours * assumptions.memory_gb_per_task;
    let alb_hours = if services.is_empty() {
        0.0
    } else {
        HOURS_PER_MONTH
    };

    let new_connections: f64 = fleet.consumers.values().map(|flow| flow.deliveries).sum();
    let processed_gb = fleet
        .consumers
        .values()
        .map(|flow| flow.message_bytes + flow.deliveries * assumptions.http_overhead_bytes)
        .sum::<f64>()
        / BYTES_PER_GB;
    // Billed per hour by the largest dimension; the month's traffic spread evenly over its hours.
    let by_connections = new_connections / (LCU_NEW_CONNECTIONS_PER_SECOND * 3_600.0);
    let by_bytes = processed_gb / LCU_PROCESSED_GB_PER_HOUR;
    let (lcu_hours, lcu_dimension) = if by_bytes > by_connections {
        (by_bytes, "processed bytes")
    } else {
        (by_connections, "new connections")
    };

    let p = &prices.prices;
    let line = |service, item, quantity: f64, unit, price: &Price| {
        let cost = price.monthly_cost(quantity);
        Line {
            service,
            item,
            quantity,
            unit,
            fleet_monthly_usd: cost,
            per_customer_monthly_usd: cost / customers,
            price_status: price.status,
        }
    };
    let lines = vec![
        line(
            "Fargate",
            "vCPU",
            vcpu_hours,
            "vCPU-hours (ARM)",
            &p.fargate_arm64_vcpu_hours,
        ),
        line(
            "Fargate",
            "memory",
            gb_hours,
            "GB-hours (ARM)",
            &p.fargate_arm64_gb_hours,
        ),
        line(
            "ALB",
            "hours",
            alb_hours,
            "load balancer-hours",
            &p.alb_hours,
        ),
        line("ALB", "LCU", lcu_hours, "LCU-hours", &p.alb_lcu_hours),
    ];
    let monthly_usd = lines.iter().map(|line| line.fleet_monthly_usd).sum();
    ContainerEstimate {
        assumptions: *assumptions,
        services,
        tasks,
        vcpu_hours,
        gb_hours,
        alb_hours,
        new_connections,
        processed_gb,
        lcu_hours,
        lcu_dimension,
        lines,
        monthly_usd,
    }
}

/// One deployment's delivery path and whole bill for a fleet's month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentCost {
    pub deployment: Deployment,
    pub label: &'static str,
    /// Lambda requests and GB-seconds of the delivery path (bridges, handlers, forwarder).
    pub lambda_requests: f64,
    pub lambda_gb_seconds: f64,
    /// The delivery path: the Lambda lines with the functions' logs and traces, or Fargate and
    /// the ALB.
    pub delivery_monthly_usd: f64,
    pub fleet_monthly_usd: f64,
    pub per_customer_monthly_usd: f64,
    /// This deployment's bill minus the separate bridge's (negative: cheaper).
    pub versus_separate_monthly_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerEstimate>,
}

/// Every deployment side by side for one scenario and fleet size.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentComparison {
    pub scenario: Scenario,
    pub label: &'static str,
    pub deployments: Vec<DeploymentCost>,
}

/// What the container services' own log lines cost a month: each delivery's handler (or
/// forwarder, or unpacker) lines and the SNS endpoint's, ingested and kept for the retention.
fn container_logs_monthly_usd(profile: &Profile, usage: &MonthlyUsage, prices: &PriceList) -> f64 {
    let Some(logs) = &profile.logs else {
        return 0.0;
    };
    let application = logs.application_per_invocation;
    let bytes: f64 = usage
        .consumers
        .iter()
        .map(|(consumer, flow)| {
            let own = application.of_consumer(consumer);
            flow.deliveries
                * (own.billed_bytes(logs.event_overhead_bytes)
                    + application
                        .embedded_endpoint
                        .billed_bytes(logs.event_overhead_bytes))
        })
        .sum();
    let gb = bytes / BYTES_PER_GB;
    let stored_gb = gb / DAYS_PER_MONTH * logs.retention_days / logs.storage_compression_ratio;
    let p = &prices.prices;
    p.cloudwatch_logs_ingestion
        .as_ref()
        .map_or(0.0, |price| price.monthly_cost(gb))
        + p.cloudwatch_logs_storage
            .as_ref()
            .map_or(0.0, |price| price.monthly_cost(stored_gb))
}

fn lambda_monthly_usd(bill: &Bill) -> f64 {
    bill.lines
        .iter()
        .filter(|line| crate::estimate::is_delivery_path(line))
        .map(|line| line.fleet_monthly_usd)
        .sum()
}

/// Prices every deployment under `scenario` for `customers`. SNS, IoT Core, Firehose and S3 are
/// the same in all three; only the delivery path differs.
pub fn compare(
    profile: &Profile,
    routes: &EventRoutes,
    prices: &PriceList,
    scenario: Scenario,
    customers: u64,
) -> DeploymentComparison {
    let separate = bill(
        profile,
        routes,
        prices,
        scenario,
        BridgeMode::Separate,
        customers,
    );
    let embedded = bill(
        profile,
        routes,
        prices,
        scenario,
        BridgeMode::Embedded,
        customers,
    );
    let lambda = |bill: &Bill| {
        let roles = [bill.usage.bridge, bill.usage.handler, bill.usage.forwarder];
        (
            roles.iter().map(|role| role.requests).sum::<f64>(),
            roles.iter().map(|role| role.gb_seconds).sum::<f64>(),
        )
    };
    let of_bill = |deployment: Deployment, bill: &Bill| {
        let (requests, gb_seconds) = lambda(bill);
        DeploymentCost {
            deployment,
            label: deployment.label(),
            lambda_requests: requests,
            lambda_gb_seconds: gb_seconds,
            delivery_monthly_usd: lambda_monthly_usd(bill),
            fleet_monthly_usd: bill.fleet_monthly_usd,
            per_customer_monthly_usd: bill.per_customer_monthly_usd,
            versus_separate_monthly_usd: bill.fleet_monthly_usd - separate.fleet_monthly_usd,
            container: None,
        }
    };
    let container = container_estimate(
        &separate.usage,
        &profile.container,
        prices,
        customers as f64,
    );
    // The services print what the functions print (no Lambda platform lines, no X-Ray), into
    // log groups that are not Lambda's: the standard ingestion price, not Lambda's tiers.
    let container_logs = container_logs_monthly_usd(profile, &separate.usage, prices);
    let container_delivery = container.monthly_usd + container_logs;
    let container_total =
        separate.fleet_monthly_usd - lambda_monthly_usd(&separate) + container_delivery;
    let deployments = vec![
        of_bill(Deployment::SeparateBridge, &separate),
        of_bill(Deployment::EmbeddedBridge, &embedded),
        DeploymentCost {
            deployment: Deployment::Container,
            label: Deployment::Container.label(),
            lambda_requests: 0.0,
            lambda_gb_seconds: 0.0,
            delivery_monthly_usd: container_delivery,
            fleet_monthly_usd: container_total,
            per_customer_monthly_usd: container_total / customers as f64,
            versus_separate_monthly_usd: container_total - separate.fleet_monthly_usd,
            container: Some(container),
        },
    ];
    DeploymentComparison {
        scenario,
        label: scenario.label(),
        deployments,
    }
}
