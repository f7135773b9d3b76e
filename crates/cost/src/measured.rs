//! A measured bill: what the local post office metered (`<run>/metering.json`), priced with the
//! model's price list line by line, beside the model's estimate for the same profile scaled to
//! the run's households and simulated days.
//!
//! The shape of `metering.json` is written here again rather than taken from
//! `postoffice_local::metering` (which brings the whole local runtime): docs/contracts.md,
//! "Local post office", is the contract both follow. Unknown fields are ignored; a missing or
//! mistyped field is an error naming it.
//!
//! Both sides are priced the same way: the run's quantities with the month's tiers (a local run
//! stays in the first tier), free tiers left out as in the model. Where a line's measured cost is
//! more than 10 % away from the model's, the quantities behind it are put side by side (requests
//! per event, bytes per message, deliveries per publish) so that a reader sees which usage
//! differs; nothing is guessed about why.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CostError;
use crate::account::account_usage;
use crate::deployment::BridgeMode;
use crate::pricing::{Price, PriceList, PriceStatus, increments};
use crate::profile::Profile;
use crate::routes::{COLLECTION_EVENT, Direction, EventRoutes, IOT_FORWARDER};
use crate::usage::{
    BYTES_PER_GB, Connectivity, DAYS_PER_MONTH, EventMessages, Messaging, MonthlyUsage, Scenario,
    actor_plans, customer_usage_by_consumer, event_messages, partition_objects,
};

/// The version of `metering.json`'s shape this reads.
pub const METERING_VERSION: u32 = 1;
/// The file the local post office writes into its run directory.
pub const METERING_FILE: &str = "metering.json";
/// The log groups' retention when the profile does not say (`log_retention_days` of the
/// Terraform modules).
pub const TERRAFORM_LOG_RETENTION_DAYS: f64 = 365.0;
/// A line is explained when its measured cost is more than this share away from the model's.
pub const TOLERANCE: f64 = 0.10;

/// Requests (or messages) of one kind: how many, their bytes, and the billed units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Counted {
    pub count: u64,
    pub bytes: u64,
    pub billed: u64,
}

/// One IoT rule's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredRule {
    pub triggered: u64,
    pub triggered_billed: u64,
    pub actions: u64,
    pub actions_billed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeteredIot {
    pub connections: u64,
    pub connection_minutes: u64,
    pub connection_seconds: f64,
    /// Billed 5 KB messages, all kinds.
    pub messages: u64,
    pub device_publishes: Counted,
    pub will_publishes: Counted,
    pub data_publishes: Counted,
    pub deliveries: u64,
    pub connects: u64,
    pub subscribes: u64,
    pub rules_triggered: u64,
    pub actions_executed: u64,
    pub rules: BTreeMap<String, MeteredRule>,
}

/// SNS deliveries of one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredDeliveries {
    pub delivered: u64,
    pub attempts: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeteredSns {
    pub publishes: Counted,
    pub topics: BTreeMap<String, Counted>,
    /// By subscription protocol (`https`, `firehose`, `sqs`, `lambda`).
    pub deliveries: BTreeMap<String, MeteredDeliveries>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub struct MeteredFunction {
    pub requests: u64,
    pub billed_duration_ms: u64,
    pub gb_seconds: f64,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub throttles: u64,
    #[serde(default)]
    pub cold_starts: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredStream {
    pub records: u64,
    pub bytes: u64,
    /// Each record rounded up to 5 KB.
    pub billed_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredBucket {
    pub put_requests: u64,
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredQueue {
    /// `SendMessage` requests in 64 KB chunks.
    pub requests: u64,
    pub messages: u64,
    pub bytes: u64,
    #[serde(default)]
    pub by: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredKey {
    /// Requests as AWS bills them (data keys reused); older meters counted every key use here.
    pub requests: u64,
    /// Every use of the key the services made, before data-key reuse (absent in older files).
    #[serde(default)]
    pub key_uses: u64,
    #[serde(default)]
    pub by_action: BTreeMap<String, u64>,
}

/// Where a log group's events come from.
pub const LAMBDA_LOGS: &str = "lambda";
pub const DELIVERY_STATUS_LOGS: &str = "sns-delivery-status";

/// One CloudWatch log group's ingestion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredLogGroup {
    pub events: u64,
    pub bytes: u64,
    /// Bytes as CloudWatch Logs bills them.
    pub billed_bytes: u64,
    /// `lambda` or `sns-delivery-status`.
    pub source: String,
}

/// One DynamoDB table's requests and capacity units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub struct MeteredTable {
    pub requests: u64,
    pub write_request_units: f64,
    pub read_request_units: f64,
}

/// One function's X-Ray use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredTraces {
    pub requests: u64,
    pub traces_recorded: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MeteredCloudWatch {
    pub alarms: u64,
    pub metrics: u64,
}

/// `metering.json`: the usage since the local post office started.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metering {
    pub version: u32,
    pub started_at: String,
    pub taken_at: String,
    /// Wall-clock seconds since start-up (not simulated time).
    pub elapsed_seconds: f64,
    /// Simulated seconds per real second the time-based usage was metered in (connection
    /// minutes, Firehose buffer intervals); 1 when the file does not say.
    pub time_scale: f64,
    pub iot: MeteredIot,
    pub sns: MeteredSns,
    /// By function name.
    pub lambda: BTreeMap<String, MeteredFunction>,
    /// By delivery stream.
    pub firehose: BTreeMap<String, MeteredStream>,
    /// By bucket.
    pub s3: BTreeMap<String, MeteredBucket>,
    /// By queue name.
    pub sqs: BTreeMap<String, MeteredQueue>,
    /// By key ARN.
    pub kms: BTreeMap<String, MeteredKey>,
    /// By log group (absent in older files).
    pub logs: BTreeMap<String, MeteredLogGroup>,
    /// By table (absent in older files).
    pub dynamodb: BTreeMap<String, MeteredTable>,
    /// By function (absent in older files).
    pub xray: BTreeMap<String, MeteredTraces>,
    pub cloudwatch: MeteredCloudWatch,
    /// What AWS bills that the meter does not count.
    pub not_metered: Vec<String>,
}

impl Metering {
    /// Reads `metering.json`; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, CostError> {
        parse(text).map_err(|message| CostError::Metering {
            origin: origin.to_string(),
            message,
        })
    }

    /// HTTP/S deliveries SNS made (what the HTTP/S delivery price is for).
    pub fn https_deliveries(&self) -> MeteredDeliveries {
        let mut total = MeteredDeliveries::default();
        for (protocol, deliveries) in &self.sns.deliveries {
            if protocol == "https" || protocol == "http" {
                total.delivered += deliveries.delivered;
                total.attempts += deliveries.attempts;
                total.bytes += deliveries.bytes;
            }
        }
        total
    }

    fn protocol(&self, protocol: &str) -> MeteredDeliveries {
        self.sns
            .deliveries
            .get(protocol)
            .copied()
            .unwrap_or_default()
    }
}

fn parse(text: &str) -> Result<Metering, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let top = match value {
        Value::Object(top) => top,
        other => return Err(format!("must be a JSON object, not {}", kind(&other))),
    };
    let version: u32 = required(&top, "", "version")?;
    if version != METERING_VERSION {
        return Err(format!(
            "version is {version}, but this postoffice reads version {METERING_VERSION} \
             (docs/contracts.md, \"Local post office\")"
        ));
    }
    let iot = object(&top, "", "iot")?;
    let at = "iot";
    let iot = MeteredIot {
        connections: required(iot, at, "connections")?,
        connection_minutes: required(iot, at, "connection_minutes")?,
        connection_seconds: required(iot, at, "connection_seconds")?,
        messages: required(iot, at, "messages")?,
        device_publishes: required(iot, at, "device_publishes")?,
        will_publishes: required(iot, at, "will_publishes")?,
        data_publishes: required(iot, at, "data_publishes")?,
        deliveries: required(iot, at, "deliveries")?,
        connects: required(iot, at, "connects")?,
        subscribes: required(iot, at, "subscribes")?,
        rules_triggered: required(iot, at, "rules_triggered")?,
        actions_executed: required(iot, at, "actions_executed")?,
        rules: entries(iot, at, "rules")?,
    };
    let sns = object(&top, "", "sns")?;
    let at = "sns";
    let sns = MeteredSns {
        publishes: required(sns, at, "publishes")?,
        topics: match sns.get("topics") {
            None => BTreeMap::new(),
            Some(_) => entries(sns, at, "topics")?,
        },
        deliveries: entries(sns, at, "deliveries")?,
    };
    Ok(Metering {
        version,
        started_at: optional(&top, "", "started_at")?.unwrap_or_default(),
        taken_at: optional(&top, "", "taken_at")?.unwrap_or_default(),
        elapsed_seconds: required(&top, "", "elapsed_seconds")?,
        time_scale: optional(&top, "", "time_scale")?.unwrap_or(1.0),
        iot,
        sns,
        lambda: entries(&top, "", "lambda")?,
        firehose: entries(&top, "", "firehose")?,
        s3: entries(&top, "", "s3")?,
        sqs: entries(&top, "", "sqs")?,
        kms: entries(&top, "", "kms")?,
        logs: optional_entries(&top, "", "logs")?,
        dynamodb: optional_entries(&top, "", "dynamodb")?,
        xray: optional_entries(&top, "", "xray")?,
        cloudwatch: required(&top, "", "cloudwatch")?,
        not_metered: optional(&top, "", "not_metered")?.unwrap_or_default(),
    })
}

fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required<T: DeserializeOwned>(
    parent: &Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<T, String> {
    let path = path(at, name);
    let value = parent
        .get(name)
        .ok_or_else(|| format!("{path} is missing"))?;
    serde_json::from_value(value.clone()).map_err(|error| format!("{path}: {error}"))
}

fn optional<T: DeserializeOwned>(
    parent: &Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<Option<T>, String> {
    match parent.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|error| format!("{}: {error}", path(at, name))),
    }
}

fn object<'a>(
    parent: &'a Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<&'a Map<String, Value>, String> {
    let path = path(at, name);
    match parent.get(name) {
        None => Err(format!("{path} is missing")),
        Some(Value::Object(object)) => Ok(object),
        Some(other) => Err(format!("{path} must be an object, not {}", kind(other))),
    }
}

/// A required object of named entries (`lambda.NAME`), each read on its own so that an error
/// names the entry.
fn entries<T: DeserializeOwned>(
    parent: &Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<BTreeMap<String, T>, String> {
    let path = path(at, name);
    object(parent, at, name)?
        .iter()
        .map(|(key, value)| {
            serde_json::from_value(value.clone())
                .map(|entry| (key.clone(), entry))
                .map_err(|error| format!("{path}.{key}: {error}"))
        })
        .collect()
}

/// Like [`entries`], empty when the object is absent (fields newer meters add).
fn optional_entries<T: DeserializeOwned>(
    parent: &Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<BTreeMap<String, T>, String> {
    match parent.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(_) => entries(parent, at, name),
    }
}

/// Where `local fleet` records each run it drives against a post office (`<run>/fleet-runs/`).
pub const FLEET_RUNS_DIR: &str = "fleet-runs";

/// What a `local fleet` run simulated (`<run>/fleet-runs/<tag>.json`), so that `cost --measured`
/// prices the run against the model of the same households, day, scenario and actors.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FleetRun {
    /// The profile's name.
    pub profile: String,
    /// One household per simulated device.
    pub households: u64,
    /// The actor kinds simulated (`device`); the profile's other actors are not.
    pub actors: Vec<String>,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Simulated days the schedule covered.
    pub days: f64,
    pub idle_disconnect: bool,
    pub collections: bool,
}

impl FleetRun {
    pub fn scenario(&self) -> Scenario {
        Scenario {
            connectivity: if self.idle_disconnect {
                Connectivity::DisconnectWhenIdle
            } else {
                Connectivity::AlwaysConnected
            },
            messaging: if self.collections {
                Messaging::EventCollections
            } else {
                Messaging::SingleEvents
            },
        }
    }
}

/// What the measured run was, as far as the model needs it: the run itself does not record how
/// many households it simulated, over how many simulated days, nor how devices connected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Run {
    pub households: f64,
    pub days: f64,
    pub scenario: Scenario,
    pub bridge: BridgeMode,
}

/// Quantities behind a line, measured beside modelled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub what: String,
    /// `None`: the meter does not count it.
    pub measured: Option<f64>,
    /// `None`: the model does not count it.
    pub model: Option<f64>,
}

/// One billed item of the run, measured and modelled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredLine {
    pub service: &'static str,
    pub item: String,
    pub unit: &'static str,
    /// The rate, as "$R per N" (the first tier's), or why the line is not priced.
    pub price: String,
    /// `None` when the price file has no price for the line.
    pub price_status: Option<PriceStatus>,
    pub measured: f64,
    pub measured_usd: f64,
    /// `None`: the model does not cover this item.
    pub model: Option<f64>,
    pub model_usd: Option<f64>,
    /// Measured cost more than 10 % away from the model's (or not modelled and not free).
    pub differs: bool,
    pub details: Vec<Detail>,
}

/// One Lambda function of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionLine {
    pub name: String,
    /// `bridges`, `handlers` or `forwarder`: the model's role for it.
    pub role: &'static str,
    pub requests: u64,
    pub gb_seconds: f64,
    pub cold_starts: u64,
    pub errors: u64,
    pub throttles: u64,
    pub usd: f64,
}

/// The run's bill, measured and modelled.
#[derive(Debug, Clone, Serialize)]
pub struct MeasuredBill {
    pub profile: String,
    pub region: String,
    pub currency: String,
    pub price_list_version: String,
    pub run: Run,
    pub scenario_label: &'static str,
    pub elapsed_seconds: f64,
    pub lines: Vec<MeasuredLine>,
    pub functions: Vec<FunctionLine>,
    pub measured_usd: f64,
    pub model_usd: f64,
    /// The measured cost of the lines the model covers: what compares with `model_usd`.
    pub measured_modelled_usd: f64,
    /// The run's totals per household per month (× 365/12 ÷ days ÷ households).
    pub measured_per_household_monthly_usd: f64,
    pub model_per_household_monthly_usd: f64,
    /// Metered usage this bill does not price, and why.
    pub not_priced: Vec<String>,
    /// What the meter says it does not count.
    pub not_metered: Vec<String>,
    pub unconfirmed_prices: Vec<&'static str>,
    /// What makes the comparison less than like for like (set by the caller, which knows the
    /// run's record).
    pub warnings: Vec<String>,
    /// With collections: events per collection, measured (members the collection-unpacker
    /// published per EVENT_COLLECTION publish) and modelled.
    pub events_per_collection: Option<Detail>,
}

/// The model's role for a function, from its name (`{prefix}-{consumer}-bridge`,
/// `{prefix}-iot-forwarder-handler`, `{prefix}-{consumer}-handler`: docs/contracts.md).
pub fn role(function: &str) -> &'static str {
    if function.ends_with("-bridge") {
        "bridges"
    } else if function.contains(IOT_FORWARDER) {
        "forwarder"
    } else {
        "handlers"
    }
}

/// What the model's usage is made of, for a household's month: the counts behind the billed
/// quantities of [`customer_usage`], following the same flow.
#[derive(Debug, Clone, Copy, Default)]
struct Flows {
    /// Sessions: a CONNECT each.
    sessions: f64,
    /// SUBSCRIBEs: sessions that found no persistent session.
    subscribes: f64,
    device_publishes: f64,
    device_bytes: f64,
    device_units: f64,
    /// The forwarder's iot-data publishes, in 5 KB messages.
    data_units: f64,
    /// The PUBLISHes they make to actors, each answered by a PUBACK.
    data_deliveries: f64,
    publishes: f64,
    publish_bytes: f64,
    https_deliveries: f64,
    https_bytes: f64,
}

impl Flows {
    fn of(profile: &Profile, routes: &EventRoutes, prices: &PriceList, scenario: Scenario) -> Self {
        let increment = |price: &Price| price.increment_bytes.unwrap_or(1);
        let iot_increment = increment(&prices.prices.iot_messaging);
        let mut flows = Flows::default();
        let plans = actor_plans(profile, routes, scenario);
        for (kind, actor) in &profile.actors {
            let plan = plans[kind];
            let sessions = actor.per_customer * plan.sessions_per_day * DAYS_PER_MONTH;
            flows.sessions += sessions;
            flows.subscribes += sessions * (plan.messages_per_session - 1.0);
        }
        for EventMessages {
            event,
            via_iot,
            messages,
            device_bytes,
            envelope_bytes,
            receivers,
            ..
        } in profile
            .events
            .iter()
            .filter(|rate| routes.contains_key(&rate.event))
            .flat_map(|rate| event_messages(profile, &plans, rate))
        {
            let Some(route) = routes.get(&event) else {
                continue;
            };
            let direction = if via_iot {
                route.direction
            } else {
                Direction::BackendToBackend
            };
            match direction {
                Direction::ActorToBackend => {
                    flows.device_publishes += messages;
                    flows.device_bytes += messages * device_bytes;
                    flows.device_units += messages * increments(device_bytes, iot_increment);
                }
                Direction::BackendToActor => {
                    flows.data_units += messages * increments(device_bytes, iot_increment);
                    flows.data_deliveries += messages * receivers;
                }
                Direction::BackendToBackend => {}
            }
            flows.publishes += messages;
            flows.publish_bytes += messages * envelope_bytes;
            flows.https_deliveries += messages * route.fan_out() as f64;
            flows.https_bytes += messages * route.fan_out() as f64 * envelope_bytes;
        }
        flows
    }

    fn times(self, factor: f64) -> Self {
        Flows {
            sessions: self.sessions * factor,
            subscribes: self.subscribes * factor,
            device_publishes: self.device_publishes * factor,
            device_bytes: self.device_bytes * factor,
            device_units: self.device_units * factor,
            data_units: self.data_units * factor,
            data_deliveries: self.data_deliveries * factor,
            publishes: self.publishes * factor,
            publish_bytes: self.publish_bytes * factor,
            https_deliveries: self.https_deliveries * factor,
            https_bytes: self.https_bytes * factor,
        }
    }
}

/// `part / whole`, 0 when there is no whole.
fn per(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

fn detail(what: impl Into<String>, measured: Option<f64>, model: Option<f64>) -> Detail {
    Detail {
        what: what.into(),
        measured,
        model,
    }
}

fn both(what: impl Into<String>, measured: f64, model: f64) -> Detail {
    detail(what, Some(measured), Some(model))
}

/// A price as "$R per N", the first tier's rate, "(tiered)" when there are more.
pub fn rate(price: &Price) -> String {
    let first = price.tiers.first().map(|tier| tier.price).unwrap_or(0.0);
    let per = crate::report::thousands(price.per, 0);
    if price.tiers.len() > 1 {
        format!("${first} per {per} (tiered)")
    } else {
        format!("${first} per {per}")
    }
}

fn differs(measured_usd: f64, model_usd: Option<f64>) -> bool {
    match model_usd {
        None => measured_usd > 0.0,
        Some(model) => (measured_usd - model).abs() > TOLERANCE * model.abs(),
    }
}

struct Lines {
    lines: Vec<MeasuredLine>,
}

impl Lines {
    /// A line with its costs given.
    #[allow(clippy::too_many_arguments)]
    fn push_costed(
        &mut self,
        service: &'static str,
        item: impl Into<String>,
        unit: &'static str,
        price: Option<&Price>,
        measured: (f64, f64),
        model: Option<(f64, f64)>,
        details: Vec<Detail>,
    ) {
        let (measured, measured_usd) = measured;
        let model_usd = model.map(|(_, cost)| cost);
        self.lines.push(MeasuredLine {
            service,
            item: item.into(),
            unit,
            price: price
                .map(rate)
                .unwrap_or_else(|| "not in the price file".to_string()),
            price_status: price.map(|price| price.status),
            measured,
            measured_usd,
            model: model.map(|(quantity, _)| quantity),
            model_usd,
            differs: differs(measured_usd, model_usd),
            details,
        });
    }

    /// A line priced with `price`'s tiers on each side's quantity.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        service: &'static str,
        item: impl Into<String>,
        unit: &'static str,
        price: Option<&Price>,
        measured: f64,
        model: Option<f64>,
        details: Vec<Detail>,
    ) {
        let cost = |quantity: f64| price.map_or(0.0, |price| price.monthly_cost(quantity));
        self.push_costed(
            service,
            item,
            unit,
            price,
            (measured, cost(measured)),
            model.map(|quantity| (quantity, cost(quantity))),
            details,
        );
    }
}

/// Prices `metering` line by line, beside the model's estimate for `profile` over the same
/// `run` (households, days, scenario and bridge mode).
pub fn measured_bill(
    metering: &Metering,
    profile: &Profile,
    routes: &EventRoutes,
    prices: &PriceList,
    run: Run,
) -> Result<MeasuredBill, CostError> {
    prices.check("the price list")?;
    profile.check(&format!("profile {}", profile.name), routes)?;
    for (name, value) in [("households", run.households), ("days", run.days)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(CostError::Run(format!(
                "{name} is {value} but a measured run needs more than 0"
            )));
        }
    }
    let p = &prices.prices;
    let m = metering;
    let factor = run.households * run.days / DAYS_PER_MONTH;
    // Consumers as the run deployed them: one whose bridge function (`{prefix}-{consumer}-bridge`)
    // ran is separate, one whose handler ran without a bridge embedded; `run.bridge` otherwise.
    let ran = |consumer: &str, role: &str| {
        let suffix = format!("-{consumer}-{role}");
        m.lambda
            .iter()
            .any(|(name, function)| name.ends_with(&suffix) && function.requests > 0)
    };
    let deployed = |consumer: &str| {
        if ran(consumer, "bridge") {
            BridgeMode::Separate
        } else if ran(consumer, "handler") {
            BridgeMode::Embedded
        } else {
            run.bridge
        }
    };
    let model =
        customer_usage_by_consumer(profile, routes, p, run.scenario, &deployed).times(factor);
    let flows = Flows::of(profile, routes, prices, run.scenario).times(factor);
    let household_days = run.households * run.days;
    let iot = &m.iot;
    let device_publishes = iot.device_publishes.count as f64;
    let https = m.https_deliveries();
    let firehose_sns = m.protocol("firehose");
    let publishes = m.sns.publishes.count as f64;
    let mut lines = Lines { lines: Vec::new() };

    // IoT Core.
    lines.push(
        "IoT Core",
        "connectivity",
        "minutes",
        Some(&p.iot_connectivity),
        iot.connection_minutes as f64,
        Some(model.connection_minutes),
        vec![
            both(
                "connection minutes per household per day",
                per(iot.connection_minutes as f64, household_days),
                per(model.connection_minutes, household_days),
            ),
            both(
                "connections (CONNECTs)",
                iot.connects as f64,
                flows.sessions,
            ),
            both(
                "minutes per connection",
                per(iot.connection_minutes as f64, iot.connects as f64),
                per(model.connection_minutes, flows.sessions),
            ),
        ],
    );
    lines.push(
        "IoT Core",
        "messaging",
        "messages (5 KB)",
        Some(&p.iot_messaging),
        iot.messages as f64,
        Some(model.iot_messages),
        vec![
            both("device publishes", device_publishes, flows.device_publishes),
            both(
                "bytes per device publish (topic + payload)",
                per(iot.device_publishes.bytes as f64, device_publishes),
                per(flows.device_bytes, flows.device_publishes),
            ),
            both(
                "5 KB messages per device publish",
                per(iot.device_publishes.billed as f64, device_publishes),
                per(flows.device_units, flows.device_publishes),
            ),
            both("last wills", iot.will_publishes.count as f64, 0.0),
            both(
                "iot-data publishes (forwarder), 5 KB messages",
                iot.data_publishes.billed as f64,
                flows.data_units,
            ),
            both(
                "PUBLISH sent to clients",
                iot.deliveries as f64,
                flows.data_deliveries,
            ),
            detail("PUBACKs from clients", None, Some(flows.data_deliveries)),
            both("CONNECTs", iot.connects as f64, flows.sessions),
            both("SUBSCRIBEs", iot.subscribes as f64, flows.subscribes),
        ],
    );
    lines.push(
        "IoT Core",
        "rules triggered",
        "rules (5 KB)",
        Some(&p.iot_rules_triggered),
        iot.rules_triggered as f64,
        Some(model.iot_rules_triggered),
        vec![
            both("device publishes", device_publishes, flows.device_publishes),
            both(
                "rules triggered per device publish (5 KB)",
                per(iot.rules_triggered as f64, device_publishes),
                per(model.iot_rules_triggered, flows.device_publishes),
            ),
            detail(
                "rules that ran",
                Some(iot.rules.values().filter(|rule| rule.triggered > 0).count() as f64),
                None,
            ),
        ],
    );
    let actions_run: u64 = iot.rules.values().map(|rule| rule.actions).sum();
    lines.push(
        "IoT Core",
        "actions executed",
        "actions (5 KB)",
        Some(&p.iot_actions_executed),
        iot.actions_executed as f64,
        Some(model.iot_actions_executed),
        vec![
            both(
                "actions per rule triggered (5 KB)",
                per(iot.actions_executed as f64, iot.rules_triggered as f64),
                per(model.iot_actions_executed, model.iot_rules_triggered),
            ),
            detail(
                "actions that ran (error actions included)",
                Some(actions_run as f64),
                None,
            ),
        ],
    );

    // SNS.
    lines.push(
        "SNS",
        "publishes",
        "requests (64 KB)",
        Some(&p.sns_publishes),
        m.sns.publishes.billed as f64,
        Some(model.sns_publishes),
        vec![
            both("publish requests", publishes, flows.publishes),
            both(
                "bytes per publish",
                per(m.sns.publishes.bytes as f64, publishes),
                per(flows.publish_bytes, flows.publishes),
            ),
            both(
                "64 KB requests per publish",
                per(m.sns.publishes.billed as f64, publishes),
                per(model.sns_publishes, flows.publishes),
            ),
        ],
    );
    lines.push(
        "SNS",
        "HTTP/S deliveries",
        "deliveries",
        Some(&p.sns_http_deliveries),
        https.delivered as f64,
        Some(model.sns_http_deliveries),
        vec![
            both(
                "deliveries per publish",
                per(https.delivered as f64, publishes),
                per(flows.https_deliveries, flows.publishes),
            ),
            both(
                "attempts per delivery",
                per(https.attempts as f64, https.delivered as f64),
                1.0,
            ),
            both(
                "bytes per delivery",
                per(https.bytes as f64, https.delivered as f64),
                per(flows.https_bytes, flows.https_deliveries),
            ),
        ],
    );
    lines.push(
        "SNS",
        "Firehose deliveries",
        "deliveries",
        Some(&p.sns_firehose_deliveries),
        firehose_sns.delivered as f64,
        Some(model.sns_firehose_deliveries),
        vec![both(
            "deliveries per publish",
            per(firehose_sns.delivered as f64, publishes),
            per(model.sns_firehose_deliveries, flows.publishes),
        )],
    );

    // Lambda: tiers apply to the account's total, each role gets its pro-rata share (as in the
    // model), on each side.
    let mut measured_roles: BTreeMap<&'static str, (f64, f64, u64)> = BTreeMap::new();
    for (name, function) in &m.lambda {
        let entry = measured_roles.entry(role(name)).or_default();
        entry.0 += function.requests as f64;
        entry.1 += function.gb_seconds;
        entry.2 += function.cold_starts;
    }
    let measured_requests: f64 = m.lambda.values().map(|f| f.requests as f64).sum();
    let measured_gb_seconds: f64 = m.lambda.values().map(|f| f.gb_seconds).sum();
    let model_roles = [
        ("bridges", model.bridge),
        ("handlers", model.handler),
        ("forwarder", model.forwarder),
    ];
    let model_requests: f64 = model_roles.iter().map(|(_, role)| role.requests).sum();
    let model_gb_seconds: f64 = model_roles.iter().map(|(_, role)| role.gb_seconds).sum();
    let requests_cost =
        |total: f64, part: f64| per(part, total) * p.lambda_requests.monthly_cost(total);
    let duration_cost =
        |total: f64, part: f64| per(part, total) * p.lambda_arm64_duration.monthly_cost(total);
    for (name, usage) in model_roles {
        let (requests, gb_seconds, cold_starts) =
            measured_roles.get(name).copied().unwrap_or_default();
        if name == "bridges" && run.bridge == BridgeMode::Embedded && requests == 0.0 {
            continue;
        }
        let (requests_item, duration_item) = match name {
            "bridges" => ("requests: bridges", "duration: bridges"),
            "handlers" => ("requests: handlers", "duration: handlers"),
            _ => ("requests: forwarder", "duration: forwarder"),
        };
        lines.push_costed(
            "Lambda",
            requests_item,
            "requests",
            Some(&p.lambda_requests),
            (requests, requests_cost(measured_requests, requests)),
            Some((
                usage.requests,
                requests_cost(model_requests, usage.requests),
            )),
            vec![
                both(
                    "requests per HTTP/S delivery",
                    per(requests, https.delivered as f64),
                    per(usage.requests, flows.https_deliveries),
                ),
                detail(
                    "functions",
                    Some(m.lambda.keys().filter(|f| role(f) == name).count() as f64),
                    None,
                ),
            ],
        );
        lines.push_costed(
            "Lambda",
            duration_item,
            "GB-seconds (arm64)",
            Some(&p.lambda_arm64_duration),
            (gb_seconds, duration_cost(measured_gb_seconds, gb_seconds)),
            Some((
                usage.gb_seconds,
                duration_cost(model_gb_seconds, usage.gb_seconds),
            )),
            vec![
                both(
                    "GB-seconds per request",
                    per(gb_seconds, requests),
                    per(usage.gb_seconds, usage.requests),
                ),
                detail("cold starts", Some(cold_starts as f64), None),
            ],
        );
    }
    let functions = m
        .lambda
        .iter()
        .map(|(name, function)| FunctionLine {
            name: name.clone(),
            role: role(name),
            requests: function.requests,
            gb_seconds: function.gb_seconds,
            cold_starts: function.cold_starts,
            errors: function.errors,
            throttles: function.throttles,
            usd: requests_cost(measured_requests, function.requests as f64)
                + duration_cost(measured_gb_seconds, function.gb_seconds),
        })
        .collect();

    // Firehose and S3.
    let records: f64 = m.firehose.values().map(|s| s.records as f64).sum();
    let stream_bytes: f64 = m.firehose.values().map(|s| s.bytes as f64).sum();
    let billed_bytes: f64 = m.firehose.values().map(|s| s.billed_bytes as f64).sum();
    let puts: f64 = m.s3.values().map(|b| b.put_requests as f64).sum();
    let stored_bytes: f64 = m.s3.values().map(|b| b.stored_bytes as f64).sum();
    let model_records: f64 = model.event_store.values().map(|flow| flow.records).sum();
    let model_store_bytes: f64 = model.event_store.values().map(|flow| flow.bytes).sum();
    let model_objects = run_objects(&model, profile, run.days);
    lines.push(
        "Firehose",
        "ingestion",
        "GB (records rounded to 5 KB)",
        Some(&p.firehose_ingestion),
        billed_bytes / BYTES_PER_GB,
        Some(model.firehose_ingested_gb),
        vec![
            both("records", records, model_records),
            both(
                "billed bytes per record",
                per(billed_bytes, records),
                per(model.firehose_ingested_gb * BYTES_PER_GB, model_records),
            ),
        ],
    );
    lines.push(
        "Firehose",
        "dynamic partitioning",
        "GB",
        Some(&p.firehose_partitioned_delivery),
        stream_bytes / BYTES_PER_GB,
        Some(model.event_store_gb()),
        vec![
            both("records", records, model_records),
            both(
                "bytes per record",
                per(stream_bytes, records),
                per(model_store_bytes, model_records),
            ),
        ],
    );
    let object_details = || {
        vec![
            both("objects", puts, model_objects),
            both(
                "records per object",
                per(records, puts),
                per(model_records, model_objects),
            ),
        ]
    };
    lines.push(
        "Firehose",
        "partitioned objects",
        "objects",
        Some(&p.firehose_partitioned_objects),
        puts,
        Some(model_objects),
        object_details(),
    );
    // Storage at steady state, as the model has it: a day's bytes kept for the retention
    // period, for the run's days.
    let store = profile.event_store;
    // (bytes / days a day, × retention days, held for days / (365/12) months.)
    let steady = |bytes: f64| {
        bytes / store.compression_ratio * store.retention_days / BYTES_PER_GB / DAYS_PER_MONTH
    };
    lines.push(
        "S3",
        "Standard storage",
        "GB-month (steady state)",
        Some(&p.s3_standard_storage),
        steady(stored_bytes),
        Some(model.stored_gb),
        vec![both(
            "bytes stored per household per day",
            per(stored_bytes, household_days),
            per(model_store_bytes, household_days),
        )],
    );
    lines.push(
        "S3",
        "PUT requests",
        "requests",
        Some(&p.s3_put_requests),
        puts,
        Some(model_objects),
        object_details(),
    );

    // Logs, traces, idempotency tables, failure queues and the platform key: the model's
    // lines when the profile has their section.
    let account = account_usage(&model, profile, run.days * 86_400.0);
    let requests_of = |usage: &MonthlyUsage| {
        usage.bridge.requests + usage.handler.requests + usage.forwarder.requests
    };
    let model_requests = requests_of(&model);
    let logs_retention = profile
        .logs
        .map_or(TERRAFORM_LOG_RETENTION_DAYS, |logs| logs.retention_days);
    let logs_ratio = profile
        .logs
        .map_or(1.0, |logs| logs.storage_compression_ratio);
    let logs_steady =
        |bytes: f64| bytes / logs_ratio * logs_retention / BYTES_PER_GB / DAYS_PER_MONTH;
    let logged = |source: &str| {
        let groups = m.logs.values().filter(|group| group.source == source);
        groups.fold((0.0, 0.0), |(events, billed), group| {
            (
                events + group.events as f64,
                billed + group.billed_bytes as f64,
            )
        })
    };
    let modelled = |quantity: f64, section: bool| section.then_some(quantity);
    let has_logs = profile.logs.is_some();
    let (lambda_events, lambda_bytes) = logged(LAMBDA_LOGS);
    let lambda_log_details = vec![
        both(
            "log events per Lambda request",
            per(lambda_events, measured_requests),
            per(model.lambda_log_events, model_requests),
        ),
        both(
            "billed bytes per log event",
            per(lambda_bytes, lambda_events),
            per(model.lambda_log_bytes, model.lambda_log_events),
        ),
    ];
    let (status_events, status_bytes) = logged(DELIVERY_STATUS_LOGS);
    let status_details = vec![
        both(
            "failed-delivery log events",
            status_events,
            model.delivery_status_log_events,
        ),
        both(
            "billed bytes per log event",
            per(status_bytes, status_events),
            per(
                model.delivery_status_log_bytes,
                model.delivery_status_log_events,
            ),
        ),
    ];
    // Each group's ingestion, and what the retention keeps of it at steady state.
    for (ingestion, storage, price, bytes, model_bytes, model_stored_gb, details) in [
        (
            "Lambda logs ingestion",
            "Lambda logs storage",
            p.cloudwatch_logs_lambda_ingestion.as_ref(),
            lambda_bytes,
            model.lambda_log_bytes,
            model.lambda_log_stored_gb,
            lambda_log_details,
        ),
        (
            "delivery-status logs ingestion",
            "delivery-status logs storage",
            p.cloudwatch_logs_ingestion.as_ref(),
            status_bytes,
            model.delivery_status_log_bytes,
            model.delivery_status_log_stored_gb,
            status_details,
        ),
    ] {
        lines.push(
            "CloudWatch Logs",
            ingestion,
            "GB",
            price,
            bytes / BYTES_PER_GB,
            modelled(model_bytes / BYTES_PER_GB, has_logs),
            details.clone(),
        );
        lines.push(
            "CloudWatch Logs",
            storage,
            "GB-month (steady state)",
            p.cloudwatch_logs_storage.as_ref(),
            logs_steady(bytes),
            modelled(model_stored_gb, has_logs),
            details,
        );
    }
    let traces: f64 = m.xray.values().map(|f| f.traces_recorded as f64).sum();
    let traced_requests: f64 = m.xray.values().map(|f| f.requests as f64).sum();
    let entry_points: f64 = model.consumers.values().map(|flow| flow.deliveries).sum();
    lines.push(
        "X-Ray",
        "traces recorded",
        "traces",
        p.xray_traces_recorded.as_ref(),
        traces,
        modelled(account.xray_traces, profile.tracing.is_some()),
        vec![
            both(
                "traces per HTTP/S delivery",
                per(traces, https.delivered as f64),
                per(account.xray_traces, entry_points),
            ),
            detail("traced function requests", Some(traced_requests), None),
        ],
    );
    let write_units: f64 = m.dynamodb.values().map(|t| t.write_request_units).sum();
    let read_units: f64 = m.dynamodb.values().map(|t| t.read_request_units).sum();
    let table_requests: f64 = m.dynamodb.values().map(|t| t.requests as f64).sum();
    let guarded = profile
        .idempotency
        .as_ref()
        .map_or(0, |idempotency| idempotency.consumers.len());
    lines.push(
        "DynamoDB",
        "idempotency writes",
        "write request units",
        p.dynamodb_write_request_units.as_ref(),
        write_units,
        Some(model.dynamodb_write_units),
        vec![
            detail("requests", Some(table_requests), None),
            detail(
                "tables",
                Some(m.dynamodb.len() as f64),
                Some(guarded as f64),
            ),
        ],
    );
    lines.push(
        "DynamoDB",
        "idempotency reads",
        "read request units",
        p.dynamodb_read_request_units.as_ref(),
        read_units,
        // The guard reads only after a claim finds the event taken (a duplicate delivery).
        Some(0.0),
        vec![detail("requests", Some(table_requests), None)],
    );

    let mut not_priced = Vec::new();
    // The meter counts the runtime's own sends (dead letters, rule errors); on-call's receives
    // and deletes, which the model adds, are not part of a run.
    let sqs_requests: f64 = m.sqs.values().map(|q| q.requests as f64).sum();
    let model_messages: f64 = model.queue_messages.values().sum();
    let model_sends = (model.sqs_requests - model_messages) / 2.0;
    let mut senders: BTreeMap<&str, u64> = BTreeMap::new();
    for queue in m.sqs.values() {
        for (sender, messages) in &queue.by {
            *senders.entry(sender.as_str()).or_default() += messages;
        }
    }
    let mut sqs_details: Vec<Detail> = senders
        .iter()
        .map(|(sender, messages)| {
            detail(
                format!("messages sent by {sender}"),
                Some(*messages as f64),
                None,
            )
        })
        .collect();
    sqs_details.push(both(
        "messages sent",
        m.sqs.values().map(|q| q.messages as f64).sum(),
        model_messages,
    ));
    lines.push(
        "SQS",
        "requests",
        "requests (64 KB)",
        p.sqs_requests.as_ref(),
        sqs_requests,
        Some(model_sends),
        sqs_details,
    );
    let kms_requests: f64 = m.kms.values().map(|k| k.requests as f64).sum();
    let key_uses: f64 = m.kms.values().map(|k| k.key_uses as f64).sum();
    let mut actions: BTreeMap<&str, u64> = BTreeMap::new();
    for key in m.kms.values() {
        for (action, uses) in &key.by_action {
            *actions.entry(action.as_str()).or_default() += uses;
        }
    }
    let mut kms_details: Vec<Detail> = actions
        .iter()
        .map(|(action, uses)| detail(action.to_string(), Some(*uses as f64), None))
        .collect();
    if key_uses > 0.0 {
        kms_details.push(detail(
            "key uses before data-key reuse",
            Some(key_uses),
            None,
        ));
    }
    let has_encryption = profile.encryption.is_some();
    lines.push(
        "KMS",
        "requests",
        // Older meters counted every key use authorised: an upper bound of what AWS bills.
        if key_uses > 0.0 {
            "requests"
        } else {
            "requests (upper bound)"
        },
        p.kms_requests.as_ref(),
        kms_requests,
        modelled(account.kms_requests, has_encryption),
        kms_details,
    );
    let month_share = run.days / DAYS_PER_MONTH;
    lines.push(
        "KMS",
        "keys",
        "key-months",
        p.kms_keys.as_ref(),
        m.kms.len() as f64 * month_share,
        modelled(account.kms_key_months, has_encryption),
        vec![detail("keys used", Some(m.kms.len() as f64), None)],
    );
    lines.push(
        "CloudWatch",
        "alarms",
        "alarm-months",
        p.cloudwatch_alarms.as_ref(),
        m.cloudwatch.alarms as f64 * month_share,
        None,
        vec![detail("alarms", Some(m.cloudwatch.alarms as f64), None)],
    );
    for (name, price) in [
        ("SQS requests", &p.sqs_requests),
        ("KMS requests", &p.kms_requests),
        ("KMS keys", &p.kms_keys),
        ("CloudWatch alarms", &p.cloudwatch_alarms),
        (
            "CloudWatch Logs Lambda ingestion",
            &p.cloudwatch_logs_lambda_ingestion,
        ),
        ("CloudWatch Logs ingestion", &p.cloudwatch_logs_ingestion),
        ("CloudWatch Logs storage", &p.cloudwatch_logs_storage),
        ("X-Ray traces", &p.xray_traces_recorded),
        (
            "DynamoDB write request units",
            &p.dynamodb_write_request_units,
        ),
        (
            "DynamoDB read request units",
            &p.dynamodb_read_request_units,
        ),
    ] {
        if price.is_none() {
            not_priced.push(format!("{name}: the price file has no price for it"));
        }
    }
    not_priced.push(format!(
        "CloudWatch metrics: {} distinct metrics were emitted; the meter does not tell AWS's own \
         (free) from custom ones ($0.30 a metric-month)",
        m.cloudwatch.metrics
    ));
    let free: Vec<String> = m
        .sns
        .deliveries
        .iter()
        .filter(|(protocol, _)| matches!(protocol.as_str(), "sqs" | "lambda"))
        .map(|(protocol, deliveries)| format!("{} to {protocol}", deliveries.delivered))
        .collect();
    if !free.is_empty() {
        not_priced.push(format!(
            "SNS deliveries to SQS and Lambda are free: {}",
            free.join(", ")
        ));
    }

    let lines = lines.lines;
    let measured_usd: f64 = lines.iter().map(|line| line.measured_usd).sum();
    let model_usd: f64 = lines.iter().filter_map(|line| line.model_usd).sum();
    let measured_modelled_usd: f64 = lines
        .iter()
        .filter(|line| line.model_usd.is_some())
        .map(|line| line.measured_usd)
        .sum();
    // factor = household-months the run stands for.
    let per_household_month = |usd: f64| usd / factor;
    Ok(MeasuredBill {
        profile: profile.name.clone(),
        region: prices.region.clone(),
        currency: prices.currency.clone(),
        price_list_version: prices.version.clone(),
        run,
        scenario_label: run.scenario.label(),
        elapsed_seconds: m.elapsed_seconds,
        lines,
        functions,
        measured_usd,
        model_usd,
        measured_modelled_usd,
        measured_per_household_monthly_usd: per_household_month(measured_usd),
        model_per_household_monthly_usd: per_household_month(model_usd),
        not_priced,
        not_metered: m.not_metered.clone(),
        unconfirmed_prices: p
            .named()
            .into_iter()
            .filter(|(_, price)| price.status == PriceStatus::Unconfirmed)
            .map(|(name, _)| name)
            .collect(),
        warnings: Vec::new(),
        events_per_collection: events_per_collection(m, profile, routes, run.scenario),
    })
}

/// Events per collection, measured from the SNS publishes per topic (`{prefix}-{EVENT}`) and
/// modelled, when the scenario collects anything.
fn events_per_collection(
    m: &Metering,
    profile: &Profile,
    routes: &EventRoutes,
    scenario: Scenario,
) -> Option<Detail> {
    let plans = actor_plans(profile, routes, scenario);
    let collected: Vec<&str> = profile
        .events
        .iter()
        .filter(|rate| {
            rate.collectable
                && rate
                    .actor
                    .as_ref()
                    .and_then(|kind| plans.get(kind)?.events_per_collection)
                    .is_some()
        })
        .map(|rate| rate.event.as_str())
        .collect();
    if collected.is_empty() {
        return None;
    }
    let published = |event: &str| -> f64 {
        m.sns
            .topics
            .iter()
            .filter(|(topic, _)| *topic == event || topic.ends_with(&format!("-{event}")))
            .map(|(_, counted)| counted.count as f64)
            .sum()
    };
    let members: f64 = collected.iter().map(|event| published(event)).sum();
    let collections = published(COLLECTION_EVENT);
    let modelled: Vec<f64> = plans
        .values()
        .filter_map(|plan| plan.events_per_collection)
        .collect();
    Some(detail(
        "events per collection",
        (collections > 0.0).then(|| members / collections),
        (modelled.len() == 1).then(|| modelled[0]),
    ))
}

/// The objects Firehose writes over `days` ([`crate::usage::partition_objects`] over the run
/// instead of a month).
fn run_objects(usage: &MonthlyUsage, profile: &Profile, days: f64) -> f64 {
    usage
        .event_store
        .values()
        .map(|flow| partition_objects(flow, profile, days * 86_400.0))
        .sum()
}
