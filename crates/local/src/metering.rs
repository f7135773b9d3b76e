//! The meter: what the local post office did, counted in the units AWS bills it in, so that
//! `postoffice cost --measured RUN_DIR` can price a run. Counting only; no prices here.
//!
//! The units, from the pricing pages:
//! - IoT Core (<https://aws.amazon.com/iot-core/pricing/>, "additional metering details"):
//!   connectivity "metered in one-minute increments"; a PUBLISH received from a device or sent
//!   by the service is "metered on the size of the payload and topic", an iot-data (HTTP)
//!   publish on "the number of 5 KB messages required to encode the body", each message in
//!   5 KB increments; CONNECT and SUBSCRIBE are messages too. The rules engine meters each rule
//!   triggered and each action executed, "with a minimum of one action per rule", for processed
//!   messages of up to 5 KB each.
//! - SNS (<https://aws.amazon.com/sns/faqs/>): "each 64KB chunk of published data is billed as
//!   1 request"; deliveries are counted per protocol.
//! - SQS (<https://aws.amazon.com/sqs/pricing/>): each 64 KB chunk of a payload is one request.
//! - Lambda (<https://aws.amazon.com/lambda/pricing/>): requests, and duration rounded up to
//!   the nearest 1 ms times the memory applied (GB-seconds); the Lambda host meters these per
//!   invocation ([`postoffice_lambda_host::FunctionMetrics`]).
//! - Firehose (<https://aws.amazon.com/firehose/pricing/>): Direct PUT ingestion is billed per
//!   GB, each record rounded up to the nearest 5 KB (a 3 KB record counts 5 KB, 12 KB counts
//!   15 KB).
//! - S3 (<https://aws.amazon.com/s3/pricing/>): PUT requests (per 1,000) and storage. With
//!   dynamic partitioning Firehose keeps a buffer per partition from its first record and writes
//!   it as one object when the buffer interval has passed or the buffer is full
//!   (<https://docs.aws.amazon.com/firehose/latest/dev/buffering.html>): one PUT per such buffer.
//!
//! - CloudWatch Logs (<https://aws.amazon.com/cloudwatch/pricing/>): ingestion per GB, per log
//!   group. Lambda sends each line a function writes (and each system log record) as one log
//!   event. Which bytes of an event are billed is not written down: the PutLogEvents batch limit
//!   counts "the sum of all event messages in UTF-8, plus 26 bytes for each log event"
//!   (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html>),
//!   but no source says the 26 bytes are billed: billed bytes are the message bytes
//!   ([`LOG_EVENT_BILLED_OVERHEAD_BYTES`]).
//! - DynamoDB on-demand (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>):
//!   a write request unit per 1 KB written, a read request unit per 4 KB read strongly
//!   consistently (half for eventually consistent reads); the rules are in
//!   [`crate::dynamodb`].
//! - KMS (<https://aws.amazon.com/kms/pricing/>): requests. SNS reuses a data key per topic and
//!   publishing principal for 5 minutes, 2 requests per period
//!   (<https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html>: R = B / D × (2 × P));
//!   SQS per queue and principal for the queue's `KmsDataKeyReusePeriodSeconds` (default 300),
//!   2 requests per producer and 1 per consumer a period
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html>).
//!   Each use the runtime authorises is a key use; a use is a request when its data key (key,
//!   action, principal, topic or queue) has no reuse period running ([`DataKeys`]).
//!
//! Time: a fleet simulator compresses a day (`local fleet --time-scale S`), so the meter bills
//! time-based usage in simulated time when the post office is started with the same scale
//! ([`Meter::new`]): each connection's minutes are `ceil(wall seconds × S / 60)`, and a Firehose
//! buffer interval lasts `interval / S` of wall time. Everything else is counted per request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use postoffice_iot_gateway::MetricsSnapshot;
use postoffice_lambda_host::FunctionMetrics;
use serde::{Deserialize, Serialize};

/// IoT Core meters messages, and the rules engine processed messages, in 5 KB increments.
pub const IOT_MESSAGE_BYTES: u64 = 5 * 1024;
/// SNS and SQS bill each 64 KB chunk of a request's payload as one request.
pub const REQUEST_CHUNK_BYTES: u64 = 64 * 1024;
/// Firehose rounds each ingested record up to the next 5 KB.
pub const FIREHOSE_RECORD_BYTES: u64 = 5 * 1024;
/// The version of `metering.json`'s shape.
pub const VERSION: u32 = 1;
/// Bytes billed per log event beyond its message: none known (see the module's notes).
pub const LOG_EVENT_BILLED_OVERHEAD_BYTES: u64 = 0;

/// How many `unit`-byte increments `bytes` takes; anything, even nothing, takes one.
pub fn increments(bytes: u64, unit: u64) -> u64 {
    bytes.div_ceil(unit).max(1)
}

/// Connection time in IoT's one-minute increments: every started minute counts.
pub fn connection_minutes(connected_for: Duration) -> u64 {
    u64::try_from(connected_for.as_nanos().div_ceil(60_000_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A wall-clock duration in the simulated time of a run at `time_scale` (simulated seconds per
/// real second).
pub fn simulated(wall: Duration, time_scale: f64) -> Duration {
    Duration::try_from_secs_f64(wall.as_secs_f64() * time_scale).unwrap_or(Duration::MAX)
}

/// How a delivery stream buffers each partition before writing it to S3 (its buffering hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub interval: Duration,
    pub size_bytes: u64,
}

impl Default for Buffering {
    /// Firehose's defaults for S3: 300 s and 5 MB.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            size_bytes: 5 * 1024 * 1024,
        }
    }
}

/// The partitions' open buffers: a record either joins its partition's buffer or, when there
/// is none (or it is due or full), starts a new one, which Firehose will write as one object.
#[derive(Debug, Default)]
pub struct PartitionBuffers {
    /// (stream, partition prefix) → when the buffer was opened (simulated) and its bytes.
    open: BTreeMap<(String, String), (Duration, u64)>,
}

impl PartitionBuffers {
    /// A record of `bytes` for `partition` of `stream` at simulated time `at`: whether it
    /// starts a new object (a PUT).
    pub fn record(
        &mut self,
        stream: &str,
        partition: &str,
        bytes: u64,
        at: Duration,
        buffering: Buffering,
    ) -> bool {
        let key = (stream.to_owned(), partition.to_owned());
        match self.open.get_mut(&key) {
            Some((opened, size))
                if at < *opened + buffering.interval && *size + bytes <= buffering.size_bytes =>
            {
                *size += bytes;
                false
            }
            _ => {
                self.open.insert(key, (at, bytes));
                true
            }
        }
    }
}

/// Bytes Firehose bills for one record: its size rounded up to the next 5 KB.
pub fn firehose_billed_bytes(record_bytes: u64) -> u64 {
    increments(record_bytes, FIREHOSE_RECORD_BYTES) * FIREHOSE_RECORD_BYTES
}

/// A queue's name, the last part of its URL or ARN.
pub fn queue_name(queue: &str) -> &str {
    queue.rsplit(['/', ':']).next().unwrap_or(queue)
}

/// The complete lines at the start of a log file's unread part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogLines {
    /// Non-empty lines: CloudWatch Logs takes no empty event.
    pub events: u64,
    /// Their bytes, without line ends.
    pub bytes: u64,
    /// Bytes read up to the end of the last complete line; the rest is still being written.
    pub consumed: u64,
}

/// The complete lines of `chunk`, each one log event.
pub fn log_lines(chunk: &[u8]) -> LogLines {
    let mut lines = LogLines::default();
    let Some(last_newline) = chunk.iter().rposition(|byte| *byte == b'\n') else {
        return lines;
    };
    for line in chunk[..last_newline].split(|byte| *byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            lines.events += 1;
            lines.bytes += line.len() as u64;
        }
    }
    lines.consumed = last_newline as u64 + 1;
    lines
}

/// One use of a KMS key by a service on a principal's behalf.
#[derive(Debug, Clone, Copy)]
pub struct KeyUse<'a> {
    pub key: &'a str,
    /// `kms:GenerateDataKey`, `kms:Decrypt`.
    pub action: &'a str,
    pub principal: &'a str,
    /// What the data key is kept for: the topic or queue ARN, the bucket.
    pub scope: &'a str,
    /// How long the service reuses the data key; `None`: every use is a request.
    pub reuse: Option<Duration>,
}

/// The data keys services hold: (key, action, principal, scope) → when the reuse period of the
/// last request began, in simulated time.
#[derive(Debug, Default)]
pub struct DataKeys {
    requested: BTreeMap<(String, String, String, String), Duration>,
}

impl DataKeys {
    /// A key use at simulated time `at`: whether it calls KMS (a billed request) or reuses a
    /// data key whose period is still running.
    pub fn request(&mut self, key_use: &KeyUse<'_>, at: Duration) -> bool {
        let Some(reuse) = key_use.reuse else {
            return true;
        };
        let id = (
            key_use.key.to_owned(),
            key_use.action.to_owned(),
            key_use.principal.to_owned(),
            key_use.scope.to_owned(),
        );
        match self.requested.get(&id) {
            Some(began) if at < *began + reuse => false,
            _ => {
                self.requested.insert(id, at);
                true
            }
        }
    }
}

/// Requests (or messages) of one kind: how many, their bytes, and the billed units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sized {
    pub count: u64,
    pub bytes: u64,
    /// `count` in the kind's billing increments (5 KB messages, 64 KB requests).
    pub billed: u64,
}

impl Sized {
    fn add(&mut self, bytes: u64, unit: u64) {
        self.count += 1;
        self.bytes += bytes;
        self.billed += increments(bytes, unit);
    }
}

/// One IoT rule's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleUsage {
    /// Messages its topic filter took (its SQL ran, whether or not it selected them).
    pub triggered: u64,
    /// `triggered` in 5 KB increments of the processed message.
    pub triggered_billed: u64,
    /// Actions executed, error actions included.
    pub actions: u64,
    /// Actions in 5 KB increments, at least one action per triggered rule.
    pub actions_billed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IotUsage {
    /// Connections accepted (`Connect.Success`).
    pub connections: u64,
    /// Each connection's simulated time rounded up to the minute, open connections until now.
    pub connection_minutes: u64,
    /// Connection time, simulated, unrounded.
    pub connection_seconds: f64,
    /// Billed 5 KB messages: the sum of `device_publishes`, `will_publishes`, `data_publishes`
    /// billed units, `deliveries`, `connects` and `subscribes`.
    pub messages: u64,
    /// PUBLISH received from devices (topic + payload).
    pub device_publishes: Sized,
    /// Last wills published for departed clients (topic + payload).
    pub will_publishes: Sized,
    /// iot-data `Publish` calls (the forwarder) and republish actions: the body.
    pub data_publishes: Sized,
    /// PUBLISH sent to subscribed clients (`PublishOut.Success`), one message each: the
    /// gateway does not report their sizes.
    pub deliveries: u64,
    /// CONNECTs accepted, one message each.
    pub connects: u64,
    /// Topic filters subscribed (`Subscribe.Success`), one message each.
    pub subscribes: u64,
    /// Sum over `rules` of `triggered_billed`.
    pub rules_triggered: u64,
    /// Sum over `rules` of `actions_billed`.
    pub actions_executed: u64,
    pub rules: BTreeMap<String, RuleUsage>,
}

/// Deliveries of one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryUsage {
    /// Notifications delivered (the endpoint took them).
    pub delivered: u64,
    /// Delivery attempts, retries included.
    pub attempts: u64,
    /// Bytes of the delivered notifications, as sent.
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnsUsage {
    /// `Publish` requests in 64 KB chunks, over all topics.
    pub publishes: Sized,
    /// The same, per topic name.
    pub topics: BTreeMap<String, Sized>,
    /// By subscription protocol: `https`, `firehose`, `sqs`, `lambda`.
    pub deliveries: BTreeMap<String, DeliveryUsage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LambdaUsage {
    /// Invocations: the function's code ran (throttled requests are not billed).
    pub requests: u64,
    /// Each invocation rounded up to 1 ms, plus the init of cold starts.
    pub billed_duration_ms: u64,
    /// Memory applied (GB) × billed duration (s).
    pub gb_seconds: f64,
    pub errors: u64,
    pub throttles: u64,
    pub cold_starts: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirehoseUsage {
    pub records: u64,
    pub bytes: u64,
    /// Each record rounded up to 5 KB.
    pub billed_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Usage {
    /// Objects Firehose writes into the bucket: one per partition buffer, in simulated time.
    pub put_requests: u64,
    /// Bytes written this run (what the bucket stores of it).
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SqsUsage {
    /// `SendMessage` requests the runtime made, in 64 KB chunks.
    pub requests: u64,
    pub messages: u64,
    pub bytes: u64,
    /// Messages by sender: `sns-subscription`, `sns-dead-letter`, `iot-rule`.
    pub by: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KmsUsage {
    /// Requests AWS would bill: key uses whose data key had no reuse period running.
    pub requests: u64,
    /// Key uses the runtime authorised (every publish, send, receive, object written).
    #[serde(default)]
    pub key_uses: u64,
    /// Requests by action.
    pub by_action: BTreeMap<String, u64>,
}

/// What one log group ingested.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogUsage {
    /// Log events: one per line written.
    pub events: u64,
    /// Their message bytes (UTF-8, without the line end).
    pub bytes: u64,
    /// What CloudWatch Logs bills of them.
    pub billed_bytes: u64,
    /// `lambda` (a function's output and system records) or `sns-delivery-status`.
    pub source: String,
}

/// One function's X-Ray use (<https://aws.amazon.com/xray/pricing/>: traces recorded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XrayUsage {
    /// Invocations recorded in a trace, whoever started it.
    pub requests: u64,
    /// Traces the function started (sampled by its own decision): what X-Ray bills.
    pub traces_recorded: u64,
}

/// One DynamoDB table's on-demand usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamoDbUsage {
    /// Data-plane requests (item reads and writes, queries and scans).
    pub requests: u64,
    pub write_request_units: f64,
    pub read_request_units: f64,
    /// Items' sizes plus 100 bytes of index overhead each, for the items the runtime saw
    /// written and not deleted.
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudWatchUsage {
    /// Alarms applied.
    pub alarms: u64,
    /// Distinct metrics (namespace, name, dimensions) the services emitted.
    pub metrics: u64,
}

/// `metering.json`: the usage since the post office started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metering {
    pub version: u32,
    /// RFC 3339.
    pub started_at: String,
    pub taken_at: String,
    /// Wall-clock seconds since start-up.
    pub elapsed_seconds: f64,
    /// Simulated seconds per real second that time-based usage (connection minutes, Firehose
    /// buffer intervals) is metered in; 1 is the wall clock.
    #[serde(default = "wall_clock")]
    pub time_scale: f64,
    pub iot: IotUsage,
    pub sns: SnsUsage,
    /// By function name.
    pub lambda: BTreeMap<String, LambdaUsage>,
    /// By delivery stream name.
    pub firehose: BTreeMap<String, FirehoseUsage>,
    /// By bucket.
    pub s3: BTreeMap<String, S3Usage>,
    /// By queue name.
    pub sqs: BTreeMap<String, SqsUsage>,
    /// By key ARN.
    pub kms: BTreeMap<String, KmsUsage>,
    pub cloudwatch: CloudWatchUsage,
    /// CloudWatch Logs ingestion by log group.
    #[serde(default)]
    pub logs: BTreeMap<String, LogUsage>,
    /// By table name.
    #[serde(default)]
    pub dynamodb: BTreeMap<String, DynamoDbUsage>,
    /// By function name: the functions that recorded anything in X-Ray.
    #[serde(default)]
    pub xray: BTreeMap<String, XrayUsage>,
    /// What AWS bills that this meter does not count.
    pub not_metered: Vec<String>,
}

fn wall_clock() -> f64 {
    1.0
}

/// What the meter cannot see.
const NOT_METERED: &[&str] = &[
    "IoT: PUBACKs received from devices (each a 5 KB message under MQTT 3.1.1) and the sizes of deliveries, CONNECTs and SUBSCRIBEs (each counted as one message); the gateway reports neither",
    "IoT: registry and Device Shadow operations",
    "SNS: PublishBatch is metered per entry, not per batch's 64 KB chunks",
    "SQS: requests of consumers (ReceiveMessage, DeleteMessage, on-call tools); only the runtime's own SendMessage calls are counted",
    "S3: requests other than Firehose's PUTs (GET, LIST); Firehose's PUTs are counted per partition buffer (the local files hold a partition's hour)",
    "CloudWatch: metric and alarm charges are listed, not metered over time; log storage is not metered (ingestion is)",
    "CloudWatch Logs: SNS delivery-status logs (the topics set HTTP and Firehose failure feedback roles); the local SNS keeps the roles but writes no delivery-status log",
    "CloudWatch Logs: the logs of ECS services, the platform's own logs, and the 26 bytes per event of the PutLogEvents batch limit (no source says they are billed)",
    "KMS: S3 with bucket keys reuses a bucket-level key for an undocumented while: each object Firehose writes counts as one request (an upper bound); Lambda's decryption of environment variables and CloudWatch Logs' encryption of log groups are not counted",
    "DynamoDB: UpdateItem is metered on the larger of the item seen before and the request's key and values (not the item after the update); Scan on the items returned (not scanned); transactions and PartiQL are not metered",
    "X-Ray: traces retrieved and scanned (reading traces, not recording them)",
    "Data transfer",
];

/// Where the runtime's usage is counted, as it happens.
#[derive(Debug)]
pub struct Meter {
    started_at: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
    time_scale: f64,
    counts: Mutex<Counts>,
    /// Log file → bytes read of it; held while a snapshot reads the files.
    log_offsets: Mutex<BTreeMap<PathBuf, u64>>,
}

#[derive(Debug, Default)]
struct Counts {
    iot: IotUsage,
    closed_connection_minutes: u64,
    sns: SnsUsage,
    firehose: BTreeMap<String, FirehoseUsage>,
    s3: BTreeMap<String, S3Usage>,
    sqs: BTreeMap<String, SqsUsage>,
    kms: BTreeMap<String, KmsUsage>,
    data_keys: DataKeys,
    buffers: PartitionBuffers,
    logs: BTreeMap<String, LogUsage>,
    dynamodb: BTreeMap<String, DynamoDbUsage>,
}

/// Who published a message the IoT broker accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IotPublisher {
    Device,
    Will,
    /// iot-data `Publish` (HTTP) or a republish action.
    Api,
}

/// What the running services report besides the meter's own counts, at snapshot time.
#[derive(Debug, Default)]
pub struct Readings {
    /// The gateway's counters.
    pub gateway: MetricsSnapshot,
    /// How long each open connection has been open.
    pub open_connections: Vec<Duration>,
    /// The Lambda host's per-function counters.
    pub functions: BTreeMap<String, FunctionMetrics>,
    pub alarms: u64,
    /// Distinct metrics the services emitted.
    pub metrics: u64,
    /// Each function's log file and its log group: read since the last snapshot.
    pub log_files: Vec<(PathBuf, String)>,
}

impl Default for Meter {
    /// A meter on the wall clock.
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl Meter {
    /// A meter billing time-based usage at `time_scale` simulated seconds per real second (a
    /// fleet's `--time-scale`); not a positive number counts as 1.
    pub fn new(time_scale: f64) -> Self {
        let time_scale = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        Self {
            started_at: chrono::Utc::now(),
            started: std::time::Instant::now(),
            time_scale,
            counts: Mutex::default(),
            log_offsets: Mutex::default(),
        }
    }

    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A message the IoT broker accepted: metered on topic and payload, except an HTTP
    /// publish, metered on its body.
    pub fn iot_published(&self, publisher: IotPublisher, topic_bytes: u64, payload_bytes: u64) {
        let mut counts = self.counts();
        match publisher {
            IotPublisher::Device => counts
                .iot
                .device_publishes
                .add(topic_bytes + payload_bytes, IOT_MESSAGE_BYTES),
            IotPublisher::Will => counts
                .iot
                .will_publishes
                .add(topic_bytes + payload_bytes, IOT_MESSAGE_BYTES),
            IotPublisher::Api => counts
                .iot
                .data_publishes
                .add(payload_bytes, IOT_MESSAGE_BYTES),
        }
    }

    /// A connection ended after `connected_for` (wall clock).
    pub fn iot_disconnected(&self, connected_for: Duration) {
        self.counts().closed_connection_minutes +=
            connection_minutes(simulated(connected_for, self.time_scale));
    }

    /// A rule's topic filter took a message of `message_bytes`; `actions` ran (error action
    /// included; none when its WHERE clause did not select the message).
    pub fn iot_rule_triggered(&self, rule: &str, message_bytes: u64, actions: u64) {
        let units = increments(message_bytes, IOT_MESSAGE_BYTES);
        let mut counts = self.counts();
        let usage = counts.iot.rules.entry(rule.to_owned()).or_default();
        usage.triggered += 1;
        usage.triggered_billed += units;
        usage.actions += actions;
        usage.actions_billed += actions.max(1) * units;
    }

    /// A `Publish` to `topic` (its name) of `bytes` (message, subject and attributes).
    pub fn sns_published(&self, topic: &str, bytes: u64) {
        let mut counts = self.counts();
        counts.sns.publishes.add(bytes, REQUEST_CHUNK_BYTES);
        counts
            .sns
            .topics
            .entry(topic.to_owned())
            .or_default()
            .add(bytes, REQUEST_CHUNK_BYTES);
    }

    /// One delivery attempt to a subscription of `protocol`.
    pub fn sns_attempted(&self, protocol: &str) {
        self.counts()
            .sns
            .deliveries
            .entry(protocol.to_owned())
            .or_default()
            .attempts += 1;
    }

    /// A notification of `bytes` the endpoint took.
    pub fn sns_delivered(&self, protocol: &str, bytes: u64) {
        let mut counts = self.counts();
        let usage = counts
            .sns
            .deliveries
            .entry(protocol.to_owned())
            .or_default();
        usage.delivered += 1;
        usage.bytes += bytes;
    }

    /// A record of `bytes` Firehose took into `stream` for `partition` (its object prefix) of
    /// `bucket`, buffered as `buffering` says.
    pub fn firehose_stored(
        &self,
        stream: &str,
        partition: &str,
        bucket: &str,
        bytes: u64,
        buffering: Buffering,
    ) {
        let at = simulated(self.started.elapsed(), self.time_scale);
        let mut counts = self.counts();
        let new_object = counts
            .buffers
            .record(stream, partition, bytes, at, buffering);
        let usage = counts.firehose.entry(stream.to_owned()).or_default();
        usage.records += 1;
        usage.bytes += bytes;
        usage.billed_bytes += firehose_billed_bytes(bytes);
        let bucket = counts.s3.entry(bucket.to_owned()).or_default();
        bucket.put_requests += u64::from(new_object);
        bucket.stored_bytes += bytes;
    }

    /// A `SendMessage` of `bytes` (body and attributes) to `queue` (its name) by `sender`.
    pub fn sqs_sent(&self, queue: &str, sender: &str, bytes: u64) {
        let mut counts = self.counts();
        let usage = counts.sqs.entry(queue.to_owned()).or_default();
        usage.requests += increments(bytes, REQUEST_CHUNK_BYTES);
        usage.messages += 1;
        usage.bytes += bytes;
        *usage.by.entry(sender.to_owned()).or_default() += 1;
    }

    /// A key use the runtime authorised: a request unless its data key is being reused.
    pub fn kms_used(&self, key_use: &KeyUse<'_>) {
        let at = simulated(self.started.elapsed(), self.time_scale);
        let mut counts = self.counts();
        let request = counts.data_keys.request(key_use, at);
        let usage = counts.kms.entry(key_use.key.to_owned()).or_default();
        usage.key_uses += 1;
        if request {
            usage.requests += 1;
            *usage
                .by_action
                .entry(key_use.action.to_owned())
                .or_default() += 1;
        }
    }

    /// Log events ingested into `group` from `source`.
    pub fn logs_ingested(&self, group: &str, source: &str, lines: LogLines) {
        if lines.events == 0 {
            return;
        }
        let mut counts = self.counts();
        let usage = counts.logs.entry(group.to_owned()).or_default();
        if usage.source.is_empty() {
            usage.source = source.to_owned();
        }
        usage.events += lines.events;
        usage.bytes += lines.bytes;
        usage.billed_bytes += lines.bytes + lines.events * LOG_EVENT_BILLED_OVERHEAD_BYTES;
    }

    /// Counts the lines functions wrote to their log files since the last read, each file's
    /// into its log group. A line still being written waits for the next read.
    pub fn read_function_logs(&self, files: &[(PathBuf, String)]) {
        use std::io::{Read as _, Seek as _};
        let mut offsets = self.log_offsets.lock().unwrap_or_else(|p| p.into_inner());
        for (file, group) in files {
            let Ok(mut opened) = std::fs::File::open(file) else {
                continue; // Not invoked yet.
            };
            let length = opened.metadata().map_or(0, |m| m.len());
            let offset = offsets.entry(file.clone()).or_default();
            if length < *offset {
                *offset = 0; // Replaced: read the new file from its start.
            }
            let mut unread = Vec::new();
            if opened.seek(std::io::SeekFrom::Start(*offset)).is_err()
                || opened
                    .take(length - *offset)
                    .read_to_end(&mut unread)
                    .is_err()
            {
                tracing::warn!(file = %file.display(), "the meter could not read a function log");
                continue;
            }
            let lines = log_lines(&unread);
            *offset += lines.consumed;
            self.logs_ingested(group, "lambda", lines);
        }
    }

    /// A DynamoDB data-plane request on `table` that consumed these units.
    pub fn dynamodb_used(&self, table: &str, read_units: f64, write_units: f64) {
        let mut counts = self.counts();
        let usage = counts.dynamodb.entry(table.to_owned()).or_default();
        usage.requests += 1;
        usage.read_request_units += read_units;
        usage.write_request_units += write_units;
    }

    /// What `table` stores now, as far as the runtime saw it written.
    pub fn dynamodb_stored(&self, table: &str, bytes: u64) {
        self.counts()
            .dynamodb
            .entry(table.to_owned())
            .or_default()
            .stored_bytes = bytes;
    }

    /// Everything counted so far, with what the services report.
    pub fn snapshot(&self, readings: &Readings) -> Metering {
        self.read_function_logs(&readings.log_files);
        let now = chrono::Utc::now();
        let counts = self.counts();
        let gateway = &readings.gateway;
        let mut iot = counts.iot.clone();
        iot.connections = gateway.connect_success;
        iot.connection_seconds = gateway.connection_seconds * self.time_scale;
        iot.connection_minutes = counts.closed_connection_minutes
            + readings
                .open_connections
                .iter()
                .map(|open| connection_minutes(simulated(*open, self.time_scale)))
                .sum::<u64>();
        iot.deliveries = gateway.publish_out_success;
        iot.connects = gateway.connect_success;
        iot.subscribes = gateway.subscribe_success;
        iot.rules_triggered = iot.rules.values().map(|rule| rule.triggered_billed).sum();
        iot.actions_executed = iot.rules.values().map(|rule| rule.actions_billed).sum();
        iot.messages = iot.device_publishes.billed
            + iot.will_publishes.billed
            + iot.data_publishes.billed
            + iot.deliveries
            + iot.connects
            + iot.subscribes;
        let lambda = readings
            .functions
            .iter()
            .map(|(name, metrics)| {
                (
                    name.clone(),
                    LambdaUsage {
                        requests: metrics.invocations,
                        billed_duration_ms: metrics.billed_duration_ms,
                        gb_seconds: metrics.gb_seconds,
                        errors: metrics.errors,
                        throttles: metrics.throttles,
                        cold_starts: metrics.cold_starts,
                    },
                )
            })
            .collect();
        let xray = readings
            .functions
            .iter()
            .filter(|(_, metrics)| metrics.traced_invocations > 0)
            .map(|(name, metrics)| {
                (
                    name.clone(),
                    XrayUsage {
                        requests: metrics.traced_invocations,
                        traces_recorded: metrics.traces_started,
                    },
                )
            })
            .collect();
        Metering {
            version: VERSION,
            started_at: self.started_at.to_rfc3339(),
            taken_at: now.to_rfc3339(),
            elapsed_seconds: (now - self.started_at).num_milliseconds() as f64 / 1000.0,
            time_scale: self.time_scale,
            iot,
            sns: counts.sns.clone(),
            lambda,
            firehose: counts.firehose.clone(),
            s3: counts.s3.clone(),
            sqs: counts.sqs.clone(),
            kms: counts.kms.clone(),
            cloudwatch: CloudWatchUsage {
                alarms: readings.alarms,
                metrics: readings.metrics,
            },
            logs: counts.logs.clone(),
            dynamodb: counts.dynamodb.clone(),
            xray,
            not_metered: NOT_METERED.iter().map(|line| (*line).to_owned()).collect(),
        }
    }
}

/// Writes `metering` to `path` so that a reader never sees half of it: a temporary file in
/// the same directory, renamed over the old one.
pub fn write(path: &Path, metering: &Metering) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(metering)?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, json)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_in_their_increments() {
        assert_eq!(increments(0, IOT_MESSAGE_BYTES), 1);
        assert_eq!(increments(5120, IOT_MESSAGE_BYTES), 1);
        assert_eq!(increments(5121, IOT_MESSAGE_BYTES), 2);
        // A 6 KB payload on a 30-byte topic: 6174 bytes, two 5 KB messages.
        assert_eq!(increments(6 * 1024 + 30, IOT_MESSAGE_BYTES), 2);
        assert_eq!(increments(65_536, REQUEST_CHUNK_BYTES), 1);
        assert_eq!(increments(65_537, REQUEST_CHUNK_BYTES), 2);
        // SNS's own example: a 256 KB payload is four requests.
        assert_eq!(increments(256 * 1024, REQUEST_CHUNK_BYTES), 4);
        // Firehose's examples: 3 KB is billed as 5 KB, 12 KB as 15 KB.
        assert_eq!(firehose_billed_bytes(3 * 1024), 5 * 1024);
        assert_eq!(firehose_billed_bytes(12 * 1024), 15 * 1024);
    }

    #[test]
    fn connections_count_every_started_minute() {
        assert_eq!(connection_minutes(Duration::from_millis(1)), 1);
        assert_eq!(connection_minutes(Duration::from_secs(60)), 1);
        assert_eq!(connection_minutes(Duration::from_millis(60_001)), 2);
        assert_eq!(connection_minutes(Duration::from_secs(3600)), 60);
    }

    #[test]
    fn a_scaled_meter_bills_connections_in_simulated_minutes() {
        // A day in 43.2 s: 30 ms of wall clock are 60 simulated seconds, one minute; 31 ms two.
        let meter = Meter::new(2000.0);
        meter.iot_disconnected(Duration::from_millis(30));
        meter.iot_disconnected(Duration::from_millis(31));
        let metering = meter.snapshot(&Readings {
            open_connections: vec![Duration::from_secs_f64(43.2)],
            ..Readings::default()
        });
        assert_eq!(metering.iot.connection_minutes, 1 + 2 + 1440);
        assert_eq!(metering.time_scale, 2000.0);
        assert_eq!(Meter::new(0.0).time_scale(), 1.0);
        assert_eq!(Meter::new(f64::NAN).time_scale(), 1.0);
    }

    #[test]
    fn a_partition_buffer_is_one_object_until_its_interval_or_size_is_reached() {
        let buffering = Buffering {
            interval: Duration::from_secs(300),
            size_bytes: 1000,
        };
        let mut buffers = PartitionBuffers::default();
        let at = Duration::from_secs;
        let puts: Vec<bool> = [
            ("s", "event=A/", 100, at(0)),
            ("s", "event=A/", 100, at(299)),
            // Another partition has its own buffer.
            ("s", "event=B/", 100, at(10)),
            // The interval since the buffer opened has passed: a new object.
            ("s", "event=A/", 100, at(300)),
            ("s", "event=A/", 800, at(400)),
            // Full: 100 + 800 + 200 is more than 1000 bytes.
            ("s", "event=A/", 200, at(401)),
            // Another stream, same prefix.
            ("t", "event=A/", 100, at(401)),
        ]
        .into_iter()
        .map(|(stream, partition, bytes, at)| {
            buffers.record(stream, partition, bytes, at, buffering)
        })
        .collect();
        assert_eq!(puts, [true, false, true, true, false, true, true]);
    }

    #[test]
    fn a_snapshot_adds_up_what_was_counted_and_what_the_services_report() {
        let meter = Meter::default();
        meter.iot_published(IotPublisher::Device, 30, 200);
        meter.iot_published(IotPublisher::Device, 30, 6 * 1024);
        meter.iot_published(IotPublisher::Api, 40, 5120);
        meter.iot_disconnected(Duration::from_secs(90));
        meter.iot_rule_triggered("cooking_requested", 6 * 1024, 1);
        meter.iot_rule_triggered("cooking_requested", 200, 0);
        meter.sns_published("postoffice-COOKING_REQUESTED", 1000);
        meter.sns_published("postoffice-COOKING_REQUESTED", 70_000);
        meter.sns_attempted("https");
        meter.sns_attempted("https");
        meter.sns_delivered("https", 1500);
        meter.firehose_stored(
            "events",
            "event=A/",
            "store",
            3 * 1024,
            Buffering::default(),
        );
        meter.firehose_stored(
            "events",
            "event=A/",
            "store",
            12 * 1024,
            Buffering::default(),
        );
        meter.sqs_sent("rule-errors", "iot-rule", 70_000);
        meter.kms_used(&KeyUse {
            key: "arn:aws:kms:eu-west-1:123456789012:key/k",
            action: "kms:Decrypt",
            principal: "arn:aws:sts::123456789012:assumed-role/r/s",
            scope: "arn:aws:sqs:eu-west-1:123456789012:q",
            reuse: None,
        });
        let mut functions = BTreeMap::new();
        functions.insert(
            "handler".to_owned(),
            FunctionMetrics {
                invocations: 3,
                billed_duration_ms: 120,
                gb_seconds: 0.015,
                traced_invocations: 2,
                traces_started: 1,
                ..FunctionMetrics::default()
            },
        );
        functions.insert("untraced".to_owned(), FunctionMetrics::default());
        let metering = meter.snapshot(&Readings {
            gateway: MetricsSnapshot {
                connect_success: 2,
                publish_out_success: 4,
                subscribe_success: 1,
                connection_seconds: 150.5,
                ..MetricsSnapshot::default()
            },
            open_connections: vec![Duration::from_secs(30)],
            functions,
            alarms: 7,
            metrics: 2,
            log_files: Vec::new(),
        });
        let iot = &metering.iot;
        assert_eq!(
            iot.device_publishes,
            Sized {
                count: 2,
                bytes: 230 + 30 + 6144,
                billed: 3
            }
        );
        // HTTP publishes are metered on the body only: 5120 bytes are one message.
        assert_eq!(iot.data_publishes.billed, 1);
        // 90 s closed (2 minutes) and 30 s open (1 minute).
        assert_eq!(iot.connection_minutes, 3);
        assert_eq!(iot.connection_seconds, 150.5);
        // 3 device + 1 data + 4 deliveries + 2 connects + 1 subscribe.
        assert_eq!(iot.messages, 11);
        assert_eq!(
            iot.rules["cooking_requested"],
            RuleUsage {
                triggered: 2,
                triggered_billed: 3,
                actions: 1,
                actions_billed: 3
            }
        );
        assert_eq!((iot.rules_triggered, iot.actions_executed), (3, 3));
        assert_eq!(
            metering.sns.publishes,
            Sized {
                count: 2,
                bytes: 71_000,
                billed: 3
            }
        );
        assert_eq!(
            metering.sns.deliveries["https"],
            DeliveryUsage {
                delivered: 1,
                attempts: 2,
                bytes: 1500
            }
        );
        assert_eq!(
            metering.firehose["events"],
            FirehoseUsage {
                records: 2,
                bytes: 15 * 1024,
                billed_bytes: 20 * 1024
            }
        );
        assert_eq!(
            metering.s3["store"],
            S3Usage {
                put_requests: 1,
                stored_bytes: 15 * 1024
            }
        );
        assert_eq!(metering.sqs["rule-errors"].requests, 2);
        assert_eq!(metering.kms.values().map(|k| k.requests).sum::<u64>(), 1);
        assert_eq!(metering.lambda["handler"].requests, 3);
        assert_eq!(metering.lambda["handler"].billed_duration_ms, 120);
        assert_eq!(
            metering.xray["handler"],
            XrayUsage {
                requests: 2,
                traces_recorded: 1
            }
        );
        assert!(!metering.xray.contains_key("untraced"));
        assert_eq!(
            metering.cloudwatch,
            CloudWatchUsage {
                alarms: 7,
                metrics: 2
            }
        );
        assert_eq!(metering.version, VERSION);
    }

    #[test]
    fn each_complete_non_empty_line_is_a_log_event() {
        assert_eq!(log_lines(b""), LogLines::default());
        assert_eq!(log_lines(b"half a li"), LogLines::default());
        assert_eq!(
            log_lines(b"START RequestId: r\n\n{\"level\":\"INFO\"}\r\nhalf"),
            LogLines {
                events: 2,
                bytes: 18 + 16,
                consumed: 38
            }
        );
    }

    #[test]
    fn function_logs_are_read_once_into_their_log_group() {
        let dir = tempfile::tempdir().unwrap();
        let handler = dir.path().join("handler.log");
        let files = vec![
            (handler.clone(), "/postoffice/handler".to_owned()),
            (
                dir.path().join("never-invoked.log"),
                "/aws/lambda/idle".to_owned(),
            ),
        ];
        let meter = Meter::default();
        std::fs::write(&handler, "one\ntwo\nthr").unwrap();
        meter.read_function_logs(&files);
        // The same lines are not counted twice; the third once it is complete.
        let appended = std::fs::read_to_string(&handler).unwrap() + "ee\n";
        std::fs::write(&handler, appended).unwrap();
        let metering = meter.snapshot(&Readings {
            log_files: files,
            ..Readings::default()
        });
        assert_eq!(
            metering.logs["/postoffice/handler"],
            LogUsage {
                events: 3,
                bytes: 11,
                billed_bytes: 11,
                source: "lambda".to_owned()
            }
        );
        assert!(!metering.logs.contains_key("/aws/lambda/idle"));
    }

    #[test]
    fn a_data_key_is_requested_once_a_reuse_period_per_action_principal_and_scope() {
        let mut keys = DataKeys::default();
        let publish = |action, principal, scope| KeyUse {
            key: "arn:aws:kms:eu-west-1:1:key/k",
            action,
            principal,
            scope,
            reuse: Some(Duration::from_secs(300)),
        };
        let at = Duration::from_secs;
        let generate = publish("kms:GenerateDataKey", "p", "topic-a");
        assert!(keys.request(&generate, at(0)));
        assert!(!keys.request(&generate, at(299)));
        assert!(keys.request(&generate, at(300)));
        assert!(keys.request(&publish("kms:Decrypt", "p", "topic-a"), at(1)));
        assert!(keys.request(&publish("kms:GenerateDataKey", "q", "topic-a"), at(1)));
        assert!(keys.request(&publish("kms:GenerateDataKey", "p", "topic-b"), at(1)));
        let every_use = KeyUse {
            reuse: None,
            ..generate
        };
        assert!(keys.request(&every_use, at(1)));
        assert!(keys.request(&every_use, at(1)));
    }

    #[test]
    fn kms_requests_are_the_key_uses_outside_reuse_periods_in_simulated_time() {
        // At 1000× a 5-minute period lasts 0.3 s of wall clock: 100 publishes in well under
        // that are 2 requests (one data key, one decrypt), and 200 key uses.
        let meter = Meter::new(1000.0);
        for _ in 0..100 {
            for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                meter.kms_used(&KeyUse {
                    key: "k",
                    action,
                    principal: "publisher",
                    scope: "topic",
                    reuse: Some(Duration::from_secs(300)),
                });
            }
        }
        let kms = &meter.snapshot(&Readings::default()).kms["k"];
        assert_eq!((kms.requests, kms.key_uses), (2, 200));
        assert_eq!(kms.by_action["kms:Decrypt"], 1);
    }

    #[test]
    fn the_file_is_replaced_whole_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metering.json");
        let meter = Meter::default();
        meter.sns_published("t", 10);
        let first = meter.snapshot(&Readings::default());
        write(&path, &first).unwrap();
        meter.sns_published("t", 10);
        let second = meter.snapshot(&Readings::default());
        write(&path, &second).unwrap();
        let read: Metering = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(read, second);
        assert!(!path.with_extension("json.tmp").exists());
    }
}
