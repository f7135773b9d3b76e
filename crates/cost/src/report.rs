//! The table `postoffice cost` prints.

use std::fmt::Write;

use crate::deployment::{BridgeMode, DeploymentComparison, HOURS_PER_MONTH};
use crate::estimate::{Estimate, FleetEstimate, Saving};
use crate::measured::{MeasuredBill, MeasuredLine};
use crate::profile::ContainerService;

/// What an Event Collection is, for readers of the table.
pub const EVENT_COLLECTION_MEANING: &str = "An Event Collection carries several events of one \
device in a single MQTT message on EVENT_COLLECTION: one IoT message, its rules and actions, one \
SNS publish and one collection-unpacker invocation for the whole collection, instead of one \
device publish per event. The unpacker then publishes each member to its own event's topic, so \
consumers, SNS publishes of the events, deliveries and the event store see every event as \
before. Only events the catalog lets wait (collection.max_wait_s) and the profile marks \
`collectable` travel this way; how many a collection carries is derived from that wait, the \
events' rates and the device's sessions.";

/// The consumer deployments, for readers of the comparison.
pub const DEPLOYMENTS_MEANING: &str = "separate bridge: SNS → the bridge Lambda → synchronous \
Invoke of the handler; two invocations per delivery, the bridge billed for its own work plus the \
time it waits for the handler. embedded bridge: SNS → the handler's own function URL; one \
invocation per delivery, the handler's duration grown by the SNS endpoint's work \
(lambda.embedded_endpoint_ms). container (compute = \"container\"): every consumer an ECS service \
on Fargate (Linux/ARM) behind one shared Application Load Balancer, no Lambda on the delivery path. The \
delivery path is the Lambda lines, or Fargate and the ALB; everything else (IoT Core, SNS, \
Firehose, S3) is the same in all three.";

/// The lines beside the message path, for readers of the table.
pub const OPERATIONS_MEANING: &str = "CloudWatch Logs: every Lambda invocation's platform.start \
and platform.report lines plus what the function prints (profile `logs`), Lambda's tiers applied \
to the fleet's volume, and SNS's failed-delivery lines; storage at the log groups' retention. \
X-Ray: each SNS delivery starts a trace at its entry point, sampled one a second per function \
plus 5 % of the rest, so small fleets trace nearly everything and large ones about 5 %. KMS: \
per account, not per customer: SNS asks for a data key every 5 minutes per topic and publishing \
principal (2 requests), the failure queues likewise (3), in the periods they are used; it and the \
key-month hardly grow with the fleet. DynamoDB: a claim and a completion write per event for the \
consumers with an idempotency table, items kept for the remember-for period. SQS: the failure \
queues' sends and on-call's receives and deletes at the profile's failure rates.";

fn bridge_meaning(bridge: BridgeMode) -> &'static str {
    match bridge {
        BridgeMode::Separate => "a separate bridge: a bridge Lambda invokes the handler",
        BridgeMode::Embedded => "an embedded bridge: the handler is its own SNS endpoint",
    }
}

fn container_assumptions(container: &ContainerService) -> String {
    format!(
        "one ECS service per consumer, its tasks running all month ({} hours), at least {} per \
         service for availability, each {} vCPU / {} GB; a service runs more when its busiest \
         hour ({} × the month's average delivery rate) needs more than {} deliveries a second \
         per task (an assumed capacity, not measured). One ALB for all services; one new \
         connection per delivery and {} bytes of SNS fields, headers and response around each \
         message; LCUs from the month's traffic spread evenly over its hours (peaky hours bill \
         more). Not priced: the tasks' way to AWS APIs (public IPv4 addresses, a NAT gateway or \
         VPC endpoints), Savings Plans and Spot. The services' logs are the functions' \
         application lines (handler and SNS endpoint) at CloudWatch Logs' standard price; no \
         X-Ray. Change them in the profile's \
         `container` section.",
        thousands(HOURS_PER_MONTH, 0),
        container.min_tasks,
        container.vcpu_per_task,
        container.memory_gb_per_task,
        container.peak_to_average,
        container.deliveries_per_second_per_task,
        container.http_overhead_bytes
    )
}

/// The whole estimate as text tables, one per fleet size.
pub fn render(estimate: &Estimate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Post Office cost, profile {}, {} prices ({}), {} per month of 365/12 days",
        estimate.profile, estimate.region, estimate.price_list_version, estimate.currency
    );
    let _ = writeln!(
        out,
        "Consumers deployed with {} (--bridge {}); each fleet's last table compares the \
         deployments.",
        bridge_meaning(estimate.bridge),
        estimate.bridge
    );
    for fleet in &estimate.fleets {
        out.push('\n');
        render_fleet(&mut out, fleet);
        out.push('\n');
        render_deployments(&mut out, fleet);
    }
    out.push('\n');
    let _ = writeln!(out, "Deployments: {DEPLOYMENTS_MEANING}");
    let _ = writeln!(
        out,
        "Container assumptions: {}",
        container_assumptions(&estimate.container)
    );
    let _ = writeln!(out, "Event Collections: {EVENT_COLLECTION_MEANING}");
    let _ = writeln!(
        out,
        "Tiers apply to the fleet's monthly volume; free tiers are not modelled (per account, \
         worth under $3 a month)."
    );
    let _ = writeln!(out, "Operations: {OPERATIONS_MEANING}");
    if !estimate.unconfirmed_prices.is_empty() {
        let _ = writeln!(
            out,
            "Unconfirmed prices (see the price file's notes): {}",
            estimate.unconfirmed_prices.join(", ")
        );
    }
    out
}

fn render_fleet(out: &mut String, fleet: &FleetEstimate) {
    let _ = writeln!(
        out,
        "Fleet of {} customers: USD per month for the fleet",
        thousands(fleet.customers as f64, 0)
    );
    let item_width = fleet
        .bills
        .first()
        .map(|bill| {
            bill.lines
                .iter()
                .map(|line| line.service.len() + 1 + line.item.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
        .max(28);
    let column = 22;
    let _ = write!(out, "{:item_width$}", "");
    for bill in &fleet.bills {
        let _ = write!(out, " {:>column$}", bill.label);
    }
    out.push('\n');
    let Some(first) = fleet.bills.first() else {
        return;
    };
    for (index, line) in first.lines.iter().enumerate() {
        let name = format!("{} {}", line.service, line.item);
        let _ = write!(out, "{name:item_width$}");
        for bill in &fleet.bills {
            let cost = bill.lines[index].fleet_monthly_usd;
            let _ = write!(out, " {:>column$}", thousands(cost, 2));
        }
        out.push('\n');
    }
    type Total = (&'static str, fn(&crate::Bill) -> f64, usize);
    let totals: [Total; 3] = [
        ("total, fleet per month", |bill| bill.fleet_monthly_usd, 2),
        (
            "per customer per month",
            |bill| bill.per_customer_monthly_usd,
            4,
        ),
        (
            "per customer per year",
            |bill| bill.per_customer_yearly_usd,
            4,
        ),
    ];
    for (name, value, decimals) in totals {
        let _ = write!(out, "{name:item_width$}");
        for bill in &fleet.bills {
            let _ = write!(out, " {:>column$}", thousands(value(bill), decimals));
        }
        out.push('\n');
    }
    let savings = &fleet.savings;
    for (name, saving) in [
        ("disconnect when idle", &savings.disconnect_when_idle),
        ("event collections", &savings.event_collections),
        ("both", &savings.both),
    ] {
        let _ = writeln!(out, "saving, {name}: {}", describe(saving));
    }
    if let Some(usd) = fleet.idempotency_for_every_consumer_usd {
        let _ = writeln!(
            out,
            "idempotency tables for every consumer (DynamoDB, always connected): {} a month, {} \
             per customer (the profile's idempotency.consumers are in the lines above)",
            thousands(usd, 2),
            thousands(usd / fleet.customers as f64, 4)
        );
    }
}

fn describe(saving: &Saving) -> String {
    format!(
        "{:.1} % of the bill, {} per customer per year; connection minutes {:+.1} %, IoT \
         messages {:+.1} %, SNS publishes {:+.1} %",
        saving.total_percent,
        thousands(saving.per_customer_yearly_usd, 4),
        change(saving.connection_minutes_percent),
        change(saving.iot_messages_percent),
        change(saving.sns_publishes_percent)
    )
}

/// A saving as a signed change, without printing "-0.0" for no change.
fn change(saving_percent: f64) -> f64 {
    -saving_percent + 0.0
}

/// `value` with `decimals` decimals and a comma every three digits.
pub fn thousands(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text.as_str(), None),
    };
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

fn render_deployments(out: &mut String, fleet: &FleetEstimate) {
    let Some(first) = fleet.deployments.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "Consumer deployments, {} (USD per month for the fleet):",
        first.label
    );
    let name_width = 22;
    let column = 16;
    let _ = writeln!(
        out,
        "{:name_width$} {:>column$} {:>column$} {:>column$} {:>column$} {:>column$} {:>column$}",
        "",
        "Lambda requests",
        "GB-seconds",
        "delivery path",
        "total",
        "per customer",
        "vs separate"
    );
    for cost in &first.deployments {
        let _ = writeln!(
            out,
            "{:name_width$} {:>column$} {:>column$} {:>column$} {:>column$} {:>column$} {:>column$}",
            cost.label,
            thousands(cost.lambda_requests, 0),
            thousands(cost.lambda_gb_seconds, 0),
            thousands(cost.delivery_monthly_usd, 2),
            thousands(cost.fleet_monthly_usd, 2),
            thousands(cost.per_customer_monthly_usd, 4),
            signed(cost.versus_separate_monthly_usd),
        );
    }
    if let Some(container) = first
        .deployments
        .iter()
        .find_map(|cost| cost.container.as_ref())
    {
        let services = container
            .services
            .iter()
            .map(|service| {
                format!(
                    "{} {} ({:.1}/s at peak)",
                    service.consumer, service.tasks, service.peak_deliveries_per_second
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "container: {} tasks ({services}); {} vCPU-hours, {} GB-hours; ALB {} hours, {} \
             LCU-hours ({}: {} connections, {} GB)",
            container.tasks,
            thousands(container.vcpu_hours, 0),
            thousands(container.gb_hours, 0),
            thousands(container.alb_hours, 0),
            thousands(container.lcu_hours, 1),
            container.lcu_dimension,
            thousands(container.new_connections, 0),
            thousands(container.processed_gb, 1),
        );
    }
    for comparison in fleet.deployments.iter().skip(1) {
        let _ = writeln!(out, "{}, total: {}", comparison.label, totals(comparison));
    }
}

fn totals(comparison: &DeploymentComparison) -> String {
    comparison
        .deployments
        .iter()
        .map(|cost| {
            format!(
                "{} {} ({})",
                cost.label,
                thousands(cost.fleet_monthly_usd, 2),
                signed(cost.versus_separate_monthly_usd)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A difference with its sign; "0.00" for none.
fn signed(value: f64) -> String {
    let text = thousands(value, 2);
    if text.starts_with('-') || text == "0.00" {
        text
    } else {
        format!("+{text}")
    }
}

/// A quantity of any size, readable: commas above 1,000, significant digits below 1.
fn quantity(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 {
        "0".to_string()
    } else if magnitude >= 1_000.0 {
        thousands(value, 0)
    } else if magnitude >= 1.0 {
        let text = thousands(value, 2);
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else if magnitude >= 0.001 {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').to_string()
    } else {
        format!("{value:.3e}")
    }
}

fn percent_apart(measured: f64, model: f64) -> String {
    if model == 0.0 {
        return "-".to_string();
    }
    format!("{:+.1} %", (measured - model) / model * 100.0 + 0.0)
}

fn optional_quantity(value: Option<f64>, missing: &str) -> String {
    value.map_or_else(|| missing.to_string(), quantity)
}

/// A measured line's cost against the model's, in percent.
fn difference(line: &MeasuredLine) -> String {
    let Some(model) = line.model_usd else {
        return if line.measured_usd == 0.0 {
            "-".to_string()
        } else {
            "not modelled".to_string()
        };
    };
    if model != 0.0 {
        format!(
            "{:+.1} %",
            (line.measured_usd - model) / model * 100.0 + 0.0
        )
    } else if line.measured_usd == 0.0 {
        "0".to_string()
    } else {
        "model 0".to_string()
    }
}

/// A measured run's bill beside the model's, with the quantities behind every line that
/// differs by more than 10 %.
pub fn render_measured(bill: &MeasuredBill) -> String {
    let run = &bill.run;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured run priced with {} prices ({}), {}, beside the model: profile {}, {} \
         households, {} simulated days, {}, consumers with {} (--bridge {})",
        bill.region,
        bill.price_list_version,
        bill.currency,
        bill.profile,
        quantity(run.households),
        quantity(run.days),
        bill.scenario_label,
        bridge_meaning(run.bridge),
        run.bridge
    );
    let _ = writeln!(
        out,
        "The meter ran {} s of wall-clock time; the model is one household's month × {} \
         households × {} days / (365/12).",
        quantity(bill.elapsed_seconds),
        quantity(run.households),
        quantity(run.days)
    );
    for warning in &bill.warnings {
        let _ = writeln!(out, "Warning: {warning}");
    }
    if let Some(per) = &bill.events_per_collection {
        let _ = writeln!(
            out,
            "Events per collection: {} measured, {} modelled.",
            optional_quantity(per.measured, "none"),
            optional_quantity(per.model, "-")
        );
    }
    out.push('\n');
    let item_width = bill
        .lines
        .iter()
        .map(|line| line.service.len() + 1 + line.item.len())
        .max()
        .unwrap_or(0)
        .max(24);
    let unit_width = bill
        .lines
        .iter()
        .map(|line| line.unit.len())
        .max()
        .unwrap_or(0);
    let price_width = bill
        .lines
        .iter()
        .map(|line| line.price.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "{:item_width$}  {:unit_width$}  {:price_width$}  {:>14} {:>12}  {:>14} {:>12}  {:>12}",
        "", "unit", "price", "measured", "USD", "model", "USD", "difference"
    );
    for line in &bill.lines {
        let name = format!("{} {}", line.service, line.item);
        let _ = writeln!(
            out,
            "{name:item_width$}  {:unit_width$}  {:price_width$}  {:>14} {:>12}  {:>14} {:>12}  {:>12}",
            line.unit,
            line.price,
            quantity(line.measured),
            thousands(line.measured_usd, 6),
            optional_quantity(line.model, "-"),
            line.model_usd
                .map_or_else(|| "-".to_string(), |usd| thousands(usd, 6)),
            difference(line),
        );
    }
    let _ = writeln!(
        out,
        "{:item_width$}  {:unit_width$}  {:price_width$}  {:>14} {:>12}  {:>14} {:>12}",
        "total, the run",
        "",
        "",
        "",
        thousands(bill.measured_usd, 6),
        "",
        thousands(bill.model_usd, 6)
    );
    let _ = writeln!(
        out,
        "{:item_width$}  {:unit_width$}  {:price_width$}  {:>14} {:>12}  {:>14} {:>12}  {:>12}",
        "total, the modelled lines",
        "",
        "",
        "",
        thousands(bill.measured_modelled_usd, 6),
        "",
        thousands(bill.model_usd, 6),
        percent_apart(bill.measured_modelled_usd, bill.model_usd)
    );
    let _ = writeln!(
        out,
        "{:item_width$}  {:unit_width$}  {:price_width$}  {:>14} {:>12}  {:>14} {:>12}",
        "per household per month",
        "",
        "",
        "",
        thousands(bill.measured_per_household_monthly_usd, 6),
        "",
        thousands(bill.model_per_household_monthly_usd, 6)
    );

    let differing: Vec<&MeasuredLine> = bill.lines.iter().filter(|line| line.differs).collect();
    out.push('\n');
    if differing.is_empty() {
        let _ = writeln!(out, "Every line is within 10 % of the model.");
    } else {
        let _ = writeln!(
            out,
            "Lines more than 10 % away from the model, with the usage behind them (measured / \
             model):"
        );
        for line in differing {
            let model = match line.model {
                Some(model) => format!("{} modelled ({})", quantity(model), difference(line)),
                None => "not modelled".to_string(),
            };
            let _ = writeln!(
                out,
                "{} {}: {} {} measured, {model}",
                line.service,
                line.item,
                quantity(line.measured),
                line.unit,
            );
            for detail in &line.details {
                let _ = writeln!(
                    out,
                    "  {}: {} / {}",
                    detail.what,
                    optional_quantity(detail.measured, "not metered"),
                    optional_quantity(detail.model, "not modelled")
                );
            }
        }
    }
    if !bill.functions.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "Lambda by function (measured):");
        for function in &bill.functions {
            let _ = writeln!(
                out,
                "  {} ({}): {} requests, {} GB-s, {} cold starts, {} errors, {} throttles, \
                 USD {}",
                function.name,
                function.role,
                thousands(function.requests as f64, 0),
                quantity(function.gb_seconds),
                function.cold_starts,
                function.errors,
                function.throttles,
                thousands(function.usd, 6)
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Both sides are priced alike: tiers on the run's quantities as if they were a month's \
         (a local run stays in the first tier); free tiers are not applied, as in the model. S3 \
         storage is the steady state the run's bytes would reach under the profile's retention, \
         for the run's days."
    );
    for note in &bill.not_priced {
        let _ = writeln!(out, "Not priced: {note}");
    }
    for note in &bill.not_metered {
        let _ = writeln!(out, "Not metered: {note}");
    }
    if !bill.unconfirmed_prices.is_empty() {
        let _ = writeln!(
            out,
            "Unconfirmed prices (see the price file's notes): {}",
            bill.unconfirmed_prices.join(", ")
        );
    }
    out
}
