//! `postoffice dlq` driven through the built binary against a moto server (SQS, SNS), with real
//! SDK calls throughout. What redrive republishes is read from a queue subscribed to the topic it
//! publishes to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use base64::Engine;
use postoffice::sns::{LocalSigningAuthority, MessageAttribute, MessageType, SnsMessage};
use postoffice_test_support::Moto;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const LOCAL_TRUSTED_CERT: &str = "POSTOFFICE_LOCAL_TRUSTED_CERT";

/// The local post office's stand-in for SNS's signing key, and its certificate's file (what
/// `POSTOFFICE_LOCAL_TRUSTED_CERT` names for the command). One for every test: RSA key
/// generation is slow.
fn signing() -> &'static (LocalSigningAuthority, PathBuf) {
    static SIGNING: OnceLock<(LocalSigningAuthority, PathBuf)> = OnceLock::new();
    SIGNING.get_or_init(|| {
        let authority = LocalSigningAuthority::generate().unwrap();
        let dir = tempfile::tempdir().unwrap().keep();
        let certificate = dir.join("local-signing.pem");
        std::fs::write(&certificate, authority.certificate_pem()).unwrap();
        (authority, certificate)
    })
}

struct PostOffice {
    moto: Moto,
    config: SdkConfig,
    sqs: aws_sdk_sqs::Client,
}

impl PostOffice {
    async fn start() -> Self {
        let moto = Moto::start().await;
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        Self { moto, config, sqs }
    }

    async fn queue(&self, name: &str, tags: &[(&str, &str)]) -> String {
        let mut request = self.sqs.create_queue().queue_name(name);
        for (key, value) in tags {
            request = request.tags(*key, *value);
        }
        request.send().await.unwrap().queue_url.unwrap()
    }

    async fn consumer_dlq(&self, consumer: &str) -> String {
        self.queue(
            &format!("postoffice-{consumer}-dlq"),
            &[
                ("postoffice:role", "consumer-dlq"),
                ("postoffice:consumer", consumer),
            ],
        )
        .await
    }

    async fn queue_arn(&self, url: &str) -> String {
        self.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone()
    }

    /// The consumer's redrive topic (`postoffice-{consumer}-redrive`, as the consumer module
    /// names it) with a queue subscribed to it; the queue's URL, where each publish arrives as
    /// SNS notification JSON.
    async fn redrive_topic(&self, consumer: &str) -> String {
        let sns = aws_sdk_sns::Client::new(&self.config);
        let topic_arn = sns
            .create_topic()
            .name(format!("postoffice-{consumer}-redrive"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let arrivals = self
            .queue(&format!("{consumer}-redrive-arrivals"), &[])
            .await;
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(self.queue_arn(&arrivals).await)
            .send()
            .await
            .unwrap();
        arrivals
    }

    /// What arrived from the redrive topic, as SNS notifications.
    async fn republished(&self, arrivals: &str) -> Vec<Value> {
        self.bodies(arrivals)
            .await
            .iter()
            .map(|(body, _)| serde_json::from_str(body).unwrap())
            .collect()
    }

    /// The households of what arrived from the redrive topic, sorted.
    async fn republished_households(&self, arrivals: &str) -> Vec<String> {
        let mut households: Vec<String> = self
            .republished(arrivals)
            .await
            .iter()
            .map(|sns| {
                let envelope: Value =
                    serde_json::from_str(sns["Message"].as_str().unwrap()).unwrap();
                envelope["household_id"].as_str().unwrap().to_owned()
            })
            .collect();
        households.sort();
        households
    }

    async fn send(&self, url: &str, body: &str, attributes: &[(&str, &str)]) {
        let mut request = self.sqs.send_message().queue_url(url).message_body(body);
        for (name, value) in attributes {
            request = request.message_attributes(
                *name,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(*value)
                    .build()
                    .unwrap(),
            );
        }
        request.send().await.unwrap();
    }

    /// Visible plus in-flight messages.
    async fn depth(&self, url: &str) -> u64 {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        attributes
            .values()
            .map(|count| count.parse::<u64>().unwrap())
            .sum()
    }

    /// Every message body of the queue (received, then released).
    async fn bodies(&self, url: &str) -> Vec<(String, u32)> {
        let mut found = BTreeMap::new();
        let mut receipts = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .message_system_attribute_names(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .send()
                .await
                .unwrap();
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let count = message
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .map_or(0, |c| c.parse().unwrap());
                found.insert(
                    message.message_id.clone().unwrap(),
                    (message.body.clone().unwrap(), count),
                );
                receipts.push(message.receipt_handle.unwrap());
            }
        }
        for receipt in receipts {
            self.sqs
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        found.into_values().collect()
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_postoffice"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(LOCAL_TRUSTED_CERT, &signing().1)
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().unwrap();
        eprintln!(
            "$ postoffice {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

fn chrono_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn envelope(event: &str, household: &str, device: &str, payload: Value) -> Value {
    let event_id = uuid_like(household, device, event);
    json!({
        "event": event,
        "event_id": event_id,
        "household_id": household,
        "device_id": device,
        "occurred_at": "2026-11-23T20:00:00.000Z",
        "source": device,
        "correlation_id": event_id,
        "schema_version": 1,
        "payload": payload,
    })
}

/// A deterministic UUID per identity, so tests can tell events apart.
fn uuid_like(household: &str, device: &str, event: &str) -> String {
    let mut hash: u128 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{household}/{device}/{event}").bytes() {
        hash = (hash ^ u128::from(byte)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
    }
    let hex = format!("{hash:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// What SNS writes into a subscription's DLQ: the HTTP/S notification JSON, signed (by the local
/// signing authority, as the local post office signs).
fn notification(envelope: &Value) -> String {
    let event = envelope["event"].as_str().unwrap();
    notification_on(
        &format!("arn:aws:sns:{REGION}:{ACCOUNT}:postoffice-{event}"),
        envelope,
    )
}

fn notification_on(topic_arn: &str, envelope: &Value) -> String {
    let attribute = |value: &Value| MessageAttribute {
        data_type: "String".into(),
        value: value.as_str().unwrap().to_owned(),
    };
    let mut message = SnsMessage {
        message_type: MessageType::Notification,
        message_id: format!("sns-{}", envelope["event_id"].as_str().unwrap()),
        topic_arn: topic_arn.to_owned(),
        subject: None,
        message: envelope.to_string(),
        timestamp: "2026-11-23T20:00:00.100Z".into(),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: None,
        unsubscribe_url: Some(format!(
            "https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe"
        )),
        token: None,
        message_attributes: BTreeMap::from([
            ("event".to_owned(), attribute(&envelope["event"])),
            (
                "household_id".to_owned(),
                attribute(&envelope["household_id"]),
            ),
            ("device_id".to_owned(), attribute(&envelope["device_id"])),
        ]),
    };
    signing().0.sign(&mut message).unwrap();
    message.to_http_json()
}

const SNS_ERROR: [(&str, &str); 3] = [
    ("ErrorCode", "400"),
    ("ErrorMessage", "bridge answered 400"),
    ("RequestID", "4b5c0f7e-0000-0000-0000-000000000000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_every_post_office_dlq_with_its_depth() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    po.consumer_dlq("telemetry").await;
    po.queue(
        "postoffice-rule-errors",
        &[("postoffice:role", "rule-errors")],
    )
    .await;
    po.queue("postoffice-kitchen-work", &[]).await;
    po.queue(
        "other-kitchen-dlq",
        &[
            ("postoffice:role", "consumer-dlq"),
            ("postoffice:consumer", "x"),
        ],
    )
    .await;
    for household in ["h-1", "h-2", "h-3"] {
        let body = notification(&envelope(
            "COOKING_REQUESTED",
            household,
            "oven-1",
            json!({}),
        ));
        po.send(&kitchen, &body, &SNS_ERROR).await;
    }

    // What CloudWatch knows about the kitchen queue (moto never computes SQS metrics itself).
    aws_sdk_cloudwatch::Client::new(&po.config)
        .put_metric_data()
        .namespace("AWS/SQS")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("ApproximateAgeOfOldestMessage")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("QueueName")
                        .value("postoffice-kitchen-dlq")
                        .build(),
                )
                .value(3725.0)
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    chrono_now_secs() - 30,
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let output = po.run(&["dlq", "list"]);
    assert!(output.status.success());
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three queues:\n{text}");
    assert!(lines[0].starts_with("QUEUE"));
    let kitchen_row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        kitchen_row,
        [
            "postoffice-kitchen-dlq",
            "consumer-dlq",
            "kitchen",
            "postoffice-kitchen-redrive",
            "3",
            "0",
            "1h2m"
        ]
    );
    assert!(lines[2].starts_with("postoffice-rule-errors"));
    assert!(lines[2].ends_with(" -"), "no CloudWatch data: no age");
    assert!(lines[3].starts_with("postoffice-telemetry-dlq"));
    assert!(!text.contains("kitchen-work") && !text.contains("other-kitchen"));

    let json_output = po.run(&["dlq", "list", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&json_output.stdout).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["consumer"], "kitchen");
    assert_eq!(rows[0]["role"], "consumer-dlq");
    assert_eq!(rows[0]["messages"], 3);
    assert_eq!(rows[0]["oldest_message_age_seconds"], 3725);

    let other = po.run(&["dlq", "list", "--prefix", "other", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&other.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["consumer"], "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_decodes_messages_and_leaves_them_in_the_queue() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    let cooking = envelope(
        "COOKING_REQUESTED",
        "h-1",
        "oven-1",
        json!({"recipe": "bread"}),
    );
    po.send(&kitchen, &notification(&cooking), &SNS_ERROR).await;
    po.send(&kitchen, "not a notification", &[]).await;

    let output = po.run(&["dlq", "show", "kitchen", "--json"]);
    assert!(output.status.success());
    let messages: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(messages.len(), 2);
    let decoded = messages
        .iter()
        .find(|m| m["kind"] == "sns-notification")
        .unwrap();
    assert_eq!(decoded["event"], "COOKING_REQUESTED");
    assert_eq!(decoded["household_id"], "h-1");
    assert_eq!(decoded["device_id"], "oven-1");
    assert_eq!(decoded["event_id"], cooking["event_id"]);
    assert_eq!(decoded["published_at"], "2026-11-23T20:00:00.100Z");
    assert_eq!(decoded["delivery_error"]["error_code"], "400");
    assert_eq!(
        decoded["delivery_error"]["error_message"],
        "bridge answered 400"
    );
    assert_eq!(decoded["envelope"]["payload"], json!({"recipe": "bread"}));
    assert!(decoded["dead_lettered_at"].as_str().unwrap().ends_with('Z'));
    let undecodable = messages
        .iter()
        .find(|m| m["kind"] == "undecodable")
        .unwrap();
    assert_eq!(undecodable["body"], "not a notification");
    assert!(undecodable["reason"].as_str().unwrap().contains("not JSON"));

    let text = stdout(&po.run(&["dlq", "show", "kitchen", "--limit", "5"]));
    assert!(text.contains("COOKING_REQUESTED"), "{text}");
    assert!(
        text.contains("\"recipe\": \"bread\""),
        "payload pretty-printed:\n{text}"
    );
    assert!(
        text.contains("ErrorMessage    bridge answered 400"),
        "{text}"
    );
    assert!(text.contains("undecodable"), "{text}");

    let one = po.run(&["dlq", "show", "kitchen", "--limit", "1", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&one.stdout)
            .unwrap()
            .len(),
        1
    );

    // Still there, and visible at once.
    assert_eq!(po.bodies(&kitchen).await.len(), 2);

    let unknown = po.run(&["dlq", "show", "garden"]);
    assert_eq!(unknown.status.code(), Some(2));
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        error.contains("\"garden\"") && error.contains("kitchen"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_republishes_to_the_consumers_redrive_topic_and_deletes_what_sns_accepted() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    let arrivals = po.redrive_topic("kitchen").await;
    let households = ["h-1", "h-2", "h-3"];
    for household in households {
        let body = notification(&envelope(
            "COOKING_REQUESTED",
            household,
            "oven-1",
            json!({}),
        ));
        po.send(&kitchen, &body, &SNS_ERROR).await;
    }
    po.send(&kitchen, "{\"neither\": true}", &[]).await;

    let output = po.run(&["dlq", "redrive", "kitchen"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a skipped message makes the exit code 1"
    );
    let text = stdout(&output);
    assert!(
        text.contains("republished 3, failed 0, skipped 1, refused 0, not matching the filter 0"),
        "{text}"
    );

    // The original message, byte for byte, with its attributes, on the redrive topic only.
    let republished = po.republished(&arrivals).await;
    assert_eq!(republished.len(), 3);
    for sns in &republished {
        assert_eq!(
            sns["TopicArn"],
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:postoffice-kitchen-redrive")
        );
        let message = sns["Message"].as_str().unwrap();
        let envelope_sent: Value = serde_json::from_str(message).unwrap();
        let household = envelope_sent["household_id"].as_str().unwrap();
        assert_eq!(
            message,
            envelope("COOKING_REQUESTED", household, "oven-1", json!({})).to_string()
        );
        assert_eq!(
            sns["MessageAttributes"]["event"],
            json!({"Type": "String", "Value": "COOKING_REQUESTED"})
        );
        assert_eq!(
            sns["MessageAttributes"]["household_id"],
            json!({"Type": "String", "Value": household})
        );
    }
    assert_eq!(po.republished_households(&arrivals).await, households);

    // Only the undecodable message stays, visible again.
    let left = po.bodies(&kitchen).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].0.contains("neither"));
}

/// Without the consumer's redrive topic (a consumer module from before it), SNS refuses every
/// publish: each message fails, says why, and stays with its receive count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_publish_fails_and_keeps_the_message() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    for household in ["h-1", "h-2"] {
        let body = notification(&envelope(
            "COOKING_REQUESTED",
            household,
            "oven-1",
            json!({}),
        ));
        po.send(&kitchen, &body, &SNS_ERROR).await;
    }
    let output = po.run(&["dlq", "redrive", "kitchen"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("republished 0, failed 2, skipped 0, refused 0"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "(COOKING_REQUESTED): publish to arn:aws:sns:{REGION}:{ACCOUNT}:postoffice-kitchen-redrive: SNS Publish:"
        )),
        "{text}"
    );
    let left = po.bodies(&kitchen).await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|(_, count)| *count >= 2), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing_and_filter_picks_events() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    for (event, household) in [
        ("COOKING_REQUESTED", "h-1"),
        ("COOKING_FINISHED", "h-2"),
        ("COOKING_FINISHED", "h-3"),
    ] {
        let body = notification(&envelope(event, household, "oven-1", json!({})));
        po.send(&kitchen, &body, &SNS_ERROR).await;
    }
    let arrivals = po.redrive_topic("kitchen").await;
    let before = po.bodies(&kitchen).await;

    let dry = po.run(&["dlq", "redrive", "kitchen", "--dry-run"]);
    assert!(dry.status.success());
    assert!(stdout(&dry).contains("would redrive 3, failed 0, skipped 0"));
    assert!(
        po.republished(&arrivals).await.is_empty(),
        "a dry run publishes nothing"
    );
    let after: Vec<String> = po
        .bodies(&kitchen)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    let before: Vec<String> = before.into_iter().map(|(b, _)| b).collect();
    assert_eq!(after, before, "a dry run deletes nothing");

    let filtered = po.run(&[
        "dlq",
        "redrive",
        "kitchen",
        "--filter",
        "event=COOKING_FINISHED",
    ]);
    assert!(filtered.status.success());
    assert!(
        stdout(&filtered)
            .contains("republished 2, failed 0, skipped 0, refused 0, not matching the filter 1")
    );
    assert_eq!(po.republished_households(&arrivals).await, ["h-2", "h-3"]);
    let left = po.bodies(&kitchen).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].0.contains("COOKING_REQUESTED"));

    let bad = po.run(&["dlq", "redrive", "kitchen", "--filter", "COOKING"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not FIELD=VALUE"));
    let bad_rate = po.run(&["dlq", "redrive", "kitchen", "--rate", "0/s"]);
    assert_eq!(bad_rate.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_rate.stderr).contains("not a positive number"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_publishes() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    for household in ["h-1", "h-2", "h-3", "h-4", "h-5"] {
        let body = notification(&envelope(
            "COOKING_REQUESTED",
            household,
            "oven-1",
            json!({}),
        ));
        po.send(&kitchen, &body, &[]).await;
    }
    let arrivals = po.redrive_topic("kitchen").await;
    let start = Instant::now();
    let output = po.run(&["dlq", "redrive", "kitchen", "--rate", "5/s"]);
    assert!(output.status.success());
    // Five publishes at 5/s: four intervals of 200 ms at least.
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(po.republished(&arrivals).await.len(), 5);
    assert_eq!(po.depth(&kitchen).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_redrive_loses_nothing_and_a_rerun_finishes() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    let households: Vec<String> = (0..12).map(|i| format!("h-{i:02}")).collect();
    for household in &households {
        let body = notification(&envelope(
            "COOKING_REQUESTED",
            household,
            "oven-1",
            json!({}),
        ));
        po.send(&kitchen, &body, &[]).await;
    }
    let arrivals = po.redrive_topic("kitchen").await;

    // Stop after a number of messages: republished + remaining = initial.
    let limited = po.run(&["dlq", "redrive", "kitchen", "--limit", "4"]);
    assert!(limited.status.success());
    assert!(stdout(&limited).contains("republished 4,"));
    assert!(stdout(&limited).contains("stopped early"));
    assert_eq!(po.depth(&kitchen).await, 12 - 4);

    // Ctrl-C in the middle (slowed down by --rate): the run finishes the message at hand and
    // releases the rest.
    let child = po
        .command()
        .args(["dlq", "redrive", "kitchen", "--rate", "5/s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while po.republished(&arrivals).await.len() < 6 {
        assert!(Instant::now() < deadline, "the redrive never got going");
        thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let interrupted = child.wait_with_output().unwrap();
    let text = stdout(&interrupted);
    eprintln!("{text}{}", String::from_utf8_lossy(&interrupted.stderr));
    assert!(text.contains("stopped early"), "{text}");
    let republished_before: usize = 4 + summary_count(&text, "republished");
    assert!(
        republished_before < 12,
        "the interrupt came too late to test anything"
    );
    // Released at once, not after the visibility timeout.
    assert_eq!(po.depth(&kitchen).await as usize, 12 - republished_before);
    assert_eq!(po.bodies(&kitchen).await.len(), 12 - republished_before);

    let rerun = po.run(&["dlq", "redrive", "kitchen"]);
    assert!(rerun.status.success());
    assert_eq!(
        republished_before + summary_count(&stdout(&rerun), "republished"),
        12,
        "every message republished exactly once across the runs"
    );
    assert_eq!(po.depth(&kitchen).await, 0);
    let mut republished = po.republished_households(&arrivals).await;
    republished.dedup();
    assert_eq!(
        republished, households,
        "every event reached the redrive topic"
    );
}

/// The number after `{what} ` in a summary line.
fn summary_count(text: &str, what: &str) -> usize {
    let line = text.lines().last().unwrap_or_default();
    let after = line
        .split(&format!("{what} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {what:?} in {line:?}"));
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redrive_loses_nothing() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    for i in 0..6 {
        let body = notification(&envelope(
            "COOKING_REQUESTED",
            &format!("h-{i}"),
            "oven-1",
            json!({}),
        ));
        po.send(&kitchen, &body, &[]).await;
    }
    let arrivals = po.redrive_topic("kitchen").await;
    let mut child = po
        .command()
        .args([
            "dlq",
            "redrive",
            "kitchen",
            "--visibility-timeout",
            "2",
            "--rate",
            "5/s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while po.republished(&arrivals).await.len() < 2 {
        assert!(Instant::now() < deadline, "the redrive never got going");
        thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Whatever the killed run held reappears after its visibility timeout.
    thread::sleep(Duration::from_millis(2500));
    let remaining = po.depth(&kitchen).await;
    let published = po.republished(&arrivals).await.len() as u64;
    assert!(remaining >= 6 - published && remaining <= 6);

    let rerun = po.run(&["dlq", "redrive", "kitchen"]);
    assert!(rerun.status.success());
    assert_eq!(po.depth(&kitchen).await, 0);
    let republished: BTreeSet<String> = po
        .republished_households(&arrivals)
        .await
        .into_iter()
        .collect();
    assert_eq!(republished.len(), 6, "at least once for every message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_asks_for_confirmation_and_counts() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    for i in 0..3 {
        po.send(&kitchen, &format!("message {i}"), &[]).await;
    }
    let refused = po.run(&["dlq", "purge", "kitchen"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("refusing to purge postoffice-kitchen-dlq (3 messages) without --yes")
    );
    assert_eq!(po.depth(&kitchen).await, 3);

    let purged = po.run(&["dlq", "purge", "kitchen", "--yes"]);
    assert!(purged.status.success());
    assert!(stdout(&purged).contains("purged postoffice-kitchen-dlq: 3 message(s) deleted"));
    assert_eq!(po.depth(&kitchen).await, 0);
}

/// What the IoT rule's error action writes into the rule-errors queue.
fn rule_error(topic: &str, client_id: &str, device_message: &Value) -> String {
    let event = topic.split('/').next().unwrap();
    json!({
        "ruleName": format!("postoffice_{event}"),
        "topic": topic,
        "cloudwatchTraceId": "7e146a2c-95b5-6caf-98b9-50e3969734c7",
        "clientId": client_id,
        "base64OriginalPayload": base64::engine::general_purpose::STANDARD.encode(device_message.to_string()),
        "failures": [{
            "failedAction": "SnsAction",
            "failedResource": format!("arn:aws:sns:{REGION}:{ACCOUNT}:postoffice-{event}"),
            "errorMessage": "Failed to publish an SNS message. Throttled."
        }]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_errors_are_decoded_and_republished_to_the_event_topic() {
    let po = PostOffice::start().await;
    let rule_errors = po
        .queue(
            "postoffice-rule-errors",
            &[("postoffice:role", "rule-errors")],
        )
        .await;
    let sns = aws_sdk_sns::Client::new(&po.config);
    let topic_arn = sns
        .create_topic()
        .name("postoffice-COOKING_REQUESTED")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let arrivals = po.queue("kitchen-arrivals", &[]).await;
    let arrivals_arn = po
        .sqs
        .get_queue_attributes()
        .queue_url(&arrivals)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(arrivals_arn)
        .send()
        .await
        .unwrap();

    let event_id = "0b6f7a52-5f0e-4c1c-9d7e-3f1c2a4b5d6e";
    let forged = json!({"event_id": event_id, "household_id": "someone-else", "payload": {"recipe": "soup"}});
    po.send(
        &rule_errors,
        &rule_error("COOKING_REQUESTED/h-1/oven-1", "oven-1", &forged),
        &[],
    )
    .await;
    po.send(
        &rule_errors,
        &rule_error(
            "COOKING_REQUESTED/h-2/oven-2",
            "oven-2",
            &json!({"payload": {}}),
        ),
        &[],
    )
    .await;
    po.send(
        &rule_errors,
        &rule_error("COOKING_REQUESTED/h-3", "oven-3", &json!({"payload": {}})),
        &[],
    )
    .await;

    let show = po.run(&["dlq", "show", "rule-errors", "--json"]);
    let shown: Vec<Value> = serde_json::from_slice(&show.stdout).unwrap();
    let first = shown.iter().find(|m| m["household_id"] == "h-1").unwrap();
    assert_eq!(first["kind"], "rule-error");
    assert_eq!(first["event_id"], event_id);
    assert_eq!(
        first["failures"][0]["errorMessage"],
        "Failed to publish an SNS message. Throttled."
    );
    assert_eq!(
        first["device_message"]["payload"],
        json!({"recipe": "soup"})
    );
    assert!(shown.iter().any(|m| m["kind"] == "undecodable"));

    let output = po.run(&["dlq", "redrive", "rule-errors"]);
    assert_eq!(output.status.code(), Some(1), "one message is skipped");
    let text = stdout(&output);
    assert!(
        text.contains("republished 2, failed 0, skipped 1"),
        "{text}"
    );
    assert!(
        text.contains("not an EVENT/HOUSEHOLD/DEVICE topic"),
        "{text}"
    );

    let arrived = po.bodies(&arrivals).await;
    assert_eq!(arrived.len(), 2, "one SNS publish per redriven message");
    let mut envelopes: Vec<(Value, Value)> = arrived
        .iter()
        .map(|(body, _)| {
            let sns: Value = serde_json::from_str(body).unwrap();
            (
                serde_json::from_str(sns["Message"].as_str().unwrap()).unwrap(),
                sns["MessageAttributes"].clone(),
            )
        })
        .collect();
    envelopes.sort_by_key(|(envelope, _)| envelope["household_id"].as_str().unwrap().to_owned());
    let (envelope, attributes) = &envelopes[0];
    assert_eq!(
        envelope["household_id"], "h-1",
        "identity from the topic, not the payload"
    );
    assert_eq!(
        envelope["event_id"], event_id,
        "the device's event id is kept"
    );
    assert_eq!(envelope["source"], "oven-1");
    assert_eq!(envelope["payload"], json!({"recipe": "soup"}));
    assert_eq!(attributes["household_id"]["Value"], "h-1");
    assert_eq!(attributes["event"]["Value"], "COOKING_REQUESTED");
    assert_eq!(envelopes[1].0["device_id"], "oven-2");

    // Only the undecodable one stays.
    let left = po.bodies(&rule_errors).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].0.contains("COOKING_REQUESTED/h-3"));

    // An explicit prefix wins over the derived one; a wrong one fails and keeps the message.
    po.send(
        &rule_errors,
        &rule_error(
            "COOKING_REQUESTED/h-4/oven-4",
            "oven-4",
            &json!({"payload": {}}),
        ),
        &[],
    )
    .await;
    let wrong = po.run(&[
        "dlq",
        "redrive",
        "rule-errors",
        "--topic-arn-prefix",
        &format!("arn:aws:sns:{REGION}:{ACCOUNT}:nowhere-"),
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stdout(&wrong).contains("failed 1"), "{}", stdout(&wrong));
    assert_eq!(po.depth(&rule_errors).await, 2);
}

/// Issue 15, item 7: redrive delivers only what the consumer's bridge would have: a genuine SNS
/// signature, from the envelope's own event topic of this platform. Before, all four were invoked
/// and deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_refuses_what_the_bridge_would_and_keeps_it() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    po.send(
        &kitchen,
        &notification(&envelope("COOKING_REQUESTED", "h-ok", "oven-1", json!({}))),
        &SNS_ERROR,
    )
    .await;
    let mut forged: Value = serde_json::from_str(&notification(&envelope(
        "COOKING_REQUESTED",
        "h-forged",
        "oven-1",
        json!({}),
    )))
    .unwrap();
    forged["Message"] = json!(
        envelope(
            "COOKING_REQUESTED",
            "h-forged",
            "oven-1",
            json!({"recipe": "poison"})
        )
        .to_string()
    );
    po.send(&kitchen, &forged.to_string(), &SNS_ERROR).await;
    let cross_event = notification_on(
        &format!("arn:aws:sns:{REGION}:{ACCOUNT}:postoffice-COOKING_REQUESTED"),
        &envelope("COOKING_FINISHED", "h-cross", "oven-1", json!({})),
    );
    po.send(&kitchen, &cross_event, &SNS_ERROR).await;
    let stranger = notification_on(
        &format!("arn:aws:sns:{REGION}:999999999999:postoffice-COOKING_REQUESTED"),
        &envelope("COOKING_REQUESTED", "h-stranger", "oven-1", json!({})),
    );
    po.send(&kitchen, &stranger, &SNS_ERROR).await;
    let arrivals = po.redrive_topic("kitchen").await;

    let dry = po.run(&["dlq", "redrive", "kitchen", "--dry-run"]);
    assert!(
        stdout(&dry).contains("would redrive 1, failed 0, skipped 0, refused 3"),
        "{}",
        stdout(&dry)
    );

    let output = po.run(&["dlq", "redrive", "kitchen"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "refusals make the exit code 1"
    );
    let text = stdout(&output);
    assert!(
        text.contains("republished 1, failed 0, skipped 0, refused 3"),
        "{text}"
    );
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("refused: "))
        .collect();
    assert_eq!(refused.len(), 3, "{text}");
    assert!(
        refused
            .iter()
            .any(|line| line.contains("(COOKING_REQUESTED): signature-mismatch")),
        "{text}"
    );
    assert!(
        refused.iter().any(|line| line.contains(
            "(COOKING_FINISHED): its envelope says COOKING_FINISHED but it came from topic"
        )),
        "{text}"
    );
    assert!(
        refused.iter().any(|line| line.contains(":999999999999:")),
        "{text}"
    );
    assert_eq!(po.republished_households(&arrivals).await, ["h-ok"]);
    assert_eq!(po.depth(&kitchen).await, 3, "refused messages stay");
}

/// The local post office's certificate is trusted only when POSTOFFICE_LOCAL_TRUSTED_CERT names
/// it, as for bridges: otherwise its URL is not the SNS host of the topic's region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_certificate_is_trusted_only_when_configured() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    po.send(
        &kitchen,
        &notification(&envelope("COOKING_REQUESTED", "h-1", "oven-1", json!({}))),
        &SNS_ERROR,
    )
    .await;
    let arrivals = po.redrive_topic("kitchen").await;
    let output = po
        .command()
        .env_remove(LOCAL_TRUSTED_CERT)
        .args(["dlq", "redrive", "kitchen"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("(COOKING_REQUESTED): untrusted-certificate-url"),
        "{text}"
    );
    assert!(po.republished(&arrivals).await.is_empty());
    assert_eq!(po.depth(&kitchen).await, 1);
}

/// Issue 15, item 7: a rule-errors message is republished as IoT Core would have published it:
/// only events actors publish, failed in their own event's rule. Before, both were published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_errors_actors_could_not_have_published_are_refused_and_kept() {
    let po = PostOffice::start().await;
    let rule_errors = po
        .queue(
            "postoffice-rule-errors",
            &[("postoffice:role", "rule-errors")],
        )
        .await;
    let offer = json!({"payload": {"version": "9.9.9", "url": "https://attacker.example/f.bin",
        "sha256": "0".repeat(64), "size_bytes": 1, "mandatory": true}});
    po.send(
        &rule_errors,
        &rule_error("FIRMWARE_UPDATE_OFFERED/h-victim/oven-1", "oven-1", &offer),
        &[],
    )
    .await;
    let mut other_rule: Value = serde_json::from_str(&rule_error(
        "COOKING_REQUESTED/h-1/oven-1",
        "oven-1",
        &json!({"payload": {}}),
    ))
    .unwrap();
    other_rule["ruleName"] = json!("postoffice_COOKING_FINISHED");
    po.send(&rule_errors, &other_rule.to_string(), &[]).await;

    let output = po.run(&["dlq", "redrive", "rule-errors"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("republished 0, failed 0, skipped 0, refused 2"),
        "{text}"
    );
    assert!(
        text.contains(
            "(FIRMWARE_UPDATE_OFFERED): FIRMWARE_UPDATE_OFFERED is not an event actors publish"
        ),
        "{text}"
    );
    assert!(
        text.contains("(COOKING_REQUESTED): it failed in rule postoffice_COOKING_FINISHED, not in postoffice_COOKING_REQUESTED"),
        "{text}"
    );
    assert_eq!(po.depth(&rule_errors).await, 2, "refused messages stay");
}

/// Issue 15, item 9. Before: `--rate 1e-300` panicked computing its interval, and
/// `--visibility-timeout 4294967296` was sent to SQS as 0 (every message visible again at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_rate_and_visibility_timeout_are_refused_with_a_clear_error() {
    let po = PostOffice::start().await;
    let kitchen = po.consumer_dlq("kitchen").await;
    po.send(
        &kitchen,
        &notification(&envelope("COOKING_REQUESTED", "h-1", "oven-1", json!({}))),
        &[],
    )
    .await;
    let arrivals = po.redrive_topic("kitchen").await;
    for (args, expected) in [
        (
            ["--rate", "1e-300"],
            "rate \"1e-300\" is out of range: between 0.001/s and 10000/s",
        ),
        (
            ["--visibility-timeout", "4294967296"],
            "4294967296 is not in 1..=43200",
        ),
        (["--visibility-timeout", "0"], "0 is not in 1..=43200"),
    ] {
        let output = po.run(&["dlq", "redrive", "kitchen", args[0], args[1]]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert!(po.republished(&arrivals).await.is_empty());
    assert_eq!(po.depth(&kitchen).await, 1);
}

/// What an event's rejection rule writes into the rejected-device-messages queue
/// (docs/contracts.md, "Rejected device messages").
fn rejected_message(
    topic: &str,
    trace_id: Option<&str>,
    unreadable: &[&str],
    payload: &[u8],
) -> String {
    let event = topic.split('/').next().unwrap();
    let mut body = json!({
        "ruleName": format!("postoffice_{event}_rejected"),
        "topic": topic,
        "clientId": if trace_id.is_some() { "oven-1" } else { "n/a" },
        "receivedAt": "2026-11-23T20:00:00.012Z",
        "unreadable": unreadable,
        "base64OriginalPayload": base64::engine::general_purpose::STANDARD.encode(payload),
    });
    if let Some(trace_id) = trace_id {
        body["traceId"] = json!(trace_id);
    }
    body.to_string()
}

const REJECTED_QUEUE: &str = "postoffice-rejected-device-messages";
const BINARY: &[u8] = b"\x00\x01\xfe\xff firmware 2.1";

/// The rejected-device-messages queue with four messages: an unreadable event id, a binary
/// message on a topic that names no Post Office ids (not sent over MQTT), a rejection that names
/// no unreadable part and a body that is not JSON.
async fn rejected_queue(po: &PostOffice) -> String {
    let url = po
        .queue(
            REJECTED_QUEUE,
            &[("postoffice:role", "rejected-device-messages")],
        )
        .await;
    let bodies = [
        rejected_message(
            "COOKING_REQUESTED/h-1/oven-1",
            Some("4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4"),
            &["event_id"],
            br#"{"event_id":"x","payload":{"recipe_id":"bread"}}"#,
        ),
        rejected_message(
            "COOKING_REQUESTED/h.2/oven:2",
            None,
            &["topic", "payload"],
            BINARY,
        ),
        rejected_message("COOKING_REQUESTED/h-3/oven-3", None, &[], b"{}"),
        "not a rejection".to_owned(),
    ];
    for body in bodies {
        po.send(&url, &body, &[]).await;
    }
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rejected_device_messages_queue_is_listed_and_shown_decoded() {
    let po = PostOffice::start().await;
    let url = rejected_queue(&po).await;
    po.consumer_dlq("kitchen").await;

    let list = stdout(&po.run(&["dlq", "list"]));
    let row: Vec<&str> = list
        .lines()
        .find(|line| line.starts_with(REJECTED_QUEUE))
        .unwrap_or_else(|| panic!("{list}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            REJECTED_QUEUE,
            "rejected-device-messages",
            "rejected-device-messages",
            "(never",
            "redriven)",
            "4",
            "0",
            "-"
        ]
    );
    let rows: Vec<Value> =
        serde_json::from_slice(&po.run(&["dlq", "list", "--json"]).stdout).unwrap();
    let queue = rows.iter().find(|r| r["name"] == REJECTED_QUEUE).unwrap();
    assert_eq!(queue["role"], "rejected-device-messages");
    assert_eq!(queue["consumer"], "rejected-device-messages");
    assert_eq!(queue["messages"], 4);

    let output = po.run(&["dlq", "show", "rejected-device-messages", "--json"]);
    assert!(output.status.success());
    let shown: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown.len(), 4, "every message is shown");
    let by_topic = |topic: &str| {
        shown
            .iter()
            .find(|m| m["topic"] == topic)
            .unwrap_or_else(|| panic!("{topic} in {shown:?}"))
    };
    let text = by_topic("COOKING_REQUESTED/h-1/oven-1");
    assert_eq!(text["kind"], "rejected-device-message");
    assert_eq!(text["event"], "COOKING_REQUESTED");
    assert_eq!(text["household_id"], "h-1");
    assert_eq!(text["device_id"], "oven-1");
    assert_eq!(text["client_id"], "oven-1");
    assert_eq!(text["unreadable"], json!(["event_id"]));
    assert_eq!(text["received_at"], "2026-11-23T20:00:00.012Z");
    assert_eq!(text["rule_name"], "postoffice_COOKING_REQUESTED_rejected");
    assert_eq!(text["trace_id"], "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4");
    assert_eq!(
        text["payload_text"],
        r#"{"event_id":"x","payload":{"recipe_id":"bread"}}"#
    );
    assert_eq!(text["payload_size"], 48);
    let binary = by_topic("COOKING_REQUESTED/h.2/oven:2");
    assert_eq!(binary["kind"], "rejected-device-message");
    assert_eq!(binary["household_id"], "h.2");
    assert_eq!(binary["client_id"], "n/a");
    assert_eq!(binary["trace_id"], Value::Null);
    assert_eq!(binary["unreadable"], json!(["topic", "payload"]));
    assert_eq!(binary["payload_text"], Value::Null);
    assert_eq!(binary["payload_size"], BINARY.len());
    assert_eq!(
        binary["payload_base64"],
        base64::engine::general_purpose::STANDARD.encode(BINARY)
    );
    let malformed: Vec<&Value> = shown
        .iter()
        .filter(|m| m["kind"] == "undecodable")
        .collect();
    assert_eq!(malformed.len(), 2, "{shown:?}");
    let no_parts = malformed
        .iter()
        .find(|m| m["body"].as_str().unwrap().contains("h-3"))
        .unwrap();
    assert!(
        no_parts["reason"]
            .as_str()
            .unwrap()
            .starts_with("malformed rejected device message: `unreadable` names no part"),
        "{no_parts}"
    );
    assert!(malformed.iter().any(|m| m["body"] == "not a rejection"));

    let text = stdout(&po.run(&["dlq", "show", "rejected-device-messages", "--limit", "10"]));
    for expected in [
        "topic           COOKING_REQUESTED/h-1/oven-1",
        "client id       oven-1",
        "unreadable      event_id",
        "received at     2026-11-23T20:00:00.012Z",
        "message as published (48 bytes, UTF-8 text)\n    {\"event_id\":\"x\",\"payload\":{\"recipe_id\":\"bread\"}}",
        "topic           COOKING_REQUESTED/h.2/oven:2",
        "unreadable      topic, payload",
        &format!(
            "message as published ({} bytes, not UTF-8; base64)\n    {}",
            BINARY.len(),
            base64::engine::general_purpose::STANDARD.encode(BINARY)
        ),
        "undecodable     malformed rejected device message",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }

    // Still there, and visible at once.
    assert_eq!(po.bodies(&url).await.len(), 4);
}

/// A member of a device's collection that the collection-unpacker rejected (docs/contracts.md,
/// "Event collections"): shown with its collection, its place and why, and the member's own
/// control characters kept from the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_collection_member_is_shown_with_its_collection() {
    let po = PostOffice::start().await;
    let url = po
        .queue(
            REJECTED_QUEUE,
            &[("postoffice:role", "rejected-device-messages")],
        )
        .await;
    let member = r#"{"event":"COOKING_REQUESTED","payload":{}}"#;
    let mut body: Value = serde_json::from_str(&rejected_message(
        "EVENT_COLLECTION/h-1/oven-1",
        None,
        &["event"],
        member.as_bytes(),
    ))
    .unwrap();
    body["ruleName"] = json!("collection-unpacker");
    body["clientId"] = json!("oven-1");
    body["collectionId"] = json!("2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d");
    body["member"] = json!(2);
    body["detail"] = json!("event: devices may not send \"\u{1b}[2J\" in a collection");
    po.send(&url, &body.to_string(), &[]).await;

    let output = po.run(&["dlq", "show", "rejected-device-messages", "--json"]);
    let shown: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["kind"], "rejected-device-message");
    assert_eq!(shown[0]["rule_name"], "collection-unpacker");
    assert_eq!(shown[0]["event"], "EVENT_COLLECTION");
    assert_eq!(
        shown[0]["collection_id"],
        "2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d"
    );
    assert_eq!(shown[0]["member"], 2);
    assert_eq!(shown[0]["detail"], body["detail"]);
    assert_eq!(shown[0]["payload_text"], member);

    let text = stdout(&po.run(&["dlq", "show", "rejected-device-messages"]));
    for expected in [
        "rule            collection-unpacker",
        "collection      2b7e3c4d-5f60-4a1b-8c2d-3e4f5a6b7c8d, member 2",
        r#"detail          event: devices may not send "\u{1b}[2J" in a collection"#,
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

/// A device chooses every byte of its message: printed as text, it must not drive the
/// on-call engineer's terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_escapes_control_characters_of_rejected_messages() {
    let po = PostOffice::start().await;
    let url = po
        .queue(
            REJECTED_QUEUE,
            &[("postoffice:role", "rejected-device-messages")],
        )
        .await;
    let payload = "{\"payload\": \"\u{1b}]0;pwned\u{7}\u{1b}[2J\"}\n";
    po.send(
        &url,
        &rejected_message(
            "COOKING_REQUESTED/h-1/oven-1",
            Some("4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4"),
            &["payload"],
            payload.as_bytes(),
        ),
        &[],
    )
    .await;
    let text = stdout(&po.run(&["dlq", "show", "rejected-device-messages"]));
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(
        text.contains(r#"{"payload": "\u{1b}]0;pwned\u{7}\u{1b}[2J"}"#),
        "{text}"
    );
    let json: Vec<Value> = serde_json::from_slice(
        &po.run(&["dlq", "show", "rejected-device-messages", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json[0]["payload_text"], payload, "JSON keeps it exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rejected_device_messages_queue_is_never_redriven_only_purged() {
    let po = PostOffice::start().await;
    let url = rejected_queue(&po).await;
    for args in [
        &["dlq", "redrive", "rejected-device-messages"][..],
        &["dlq", "redrive", "rejected-device-messages", "--dry-run"],
        &[
            "dlq",
            "redrive",
            "rejected-device-messages",
            "--topic-arn-prefix",
            &format!("arn:aws:sns:{REGION}:{ACCOUNT}:postoffice-"),
        ],
    ] {
        let output = po.run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stdout(&output).is_empty(), "{args:?}");
        let error = String::from_utf8_lossy(&output.stderr);
        for expected in [
            "postoffice-rejected-device-messages is never redriven",
            "rejected by the IoT rules because the handlers cannot read them",
            "cannot be delivered as they are",
            "docs/runbook.md#rejected-device-messages",
        ] {
            assert!(
                error.contains(expected),
                "{args:?}: {expected:?} in {error}"
            );
        }
    }
    let left = po.bodies(&url).await;
    assert_eq!(left.len(), 4, "nothing is deleted");
    assert!(
        left.iter().all(|(_, count)| *count == 1),
        "nothing was even received: {left:?}"
    );

    let refused = po.run(&["dlq", "purge", "rejected-device-messages"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(po.depth(&url).await, 4);
    let purged = po.run(&["dlq", "purge", "rejected-device-messages", "--yes"]);
    assert!(purged.status.success());
    assert!(
        stdout(&purged)
            .contains("purged postoffice-rejected-device-messages: 4 message(s) deleted"),
        "{}",
        stdout(&purged)
    );
    assert_eq!(po.depth(&url).await, 0);
}
