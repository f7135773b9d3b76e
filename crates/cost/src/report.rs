//! The table `postoffice cost` prints.

use std::fmt::Write;

use crate::estimate::{Estimate, FleetEstimate, Saving};

/// What an Event Collection is, for readers of the table.
pub const EVENT_COLLECTION_MEANING: &str = "An Event Collection carries several events of one \
name from one household in a single MQTT message and a single SNS publish: one IoT message, \
one rule, one publish, one delivery and one bridge + handler invocation per consumer for the \
whole collection, instead of one per event. Each event keeps its own envelope (ids, \
occurred-at) inside the collection, so handlers still see events one by one; only \
latency-tolerant events (marked `collectable` in the profile) travel this way.";

/// The whole estimate as text tables, one per fleet size.
pub fn render(estimate: &Estimate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Post Office cost, profile {}, {} prices ({}), {} per month of 365/12 days",
        estimate.profile, estimate.region, estimate.price_list_version, estimate.currency
    );
    for fleet in &estimate.fleets {
        out.push('\n');
        render_fleet(&mut out, fleet);
    }
    out.push('\n');
    let _ = writeln!(out, "Event Collections: {EVENT_COLLECTION_MEANING}");
    let _ = writeln!(
        out,
        "Tiers apply to the fleet's monthly volume; free tiers are not modelled (per account, \
         worth under $3 a month)."
    );
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
