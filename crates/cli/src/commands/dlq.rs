//! `postoffice dlq`: inspect, redrive and purge the platform's dead-letter queues.
//!
//! Queues are found by their tags (`postoffice:role`, `postoffice:consumer`) among the queues
//! whose name starts with `--prefix`. A consumer's DLQ is addressed by the consumer name (and is
//! redriven through the consumer's redrive topic, `{prefix}-{consumer}-redrive`); the IoT rule-errors queue by `rule-errors`; the queue of device messages the
//! handlers cannot read by `rejected-device-messages` (shown and purged, never redriven).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use postoffice::envelope::format_time;
use postoffice::sns::{HttpsCertificateFetcher, SignatureVersion, SystemClock, Verifier};
use postoffice_dlq::aws::{self, CloudWatchAges, SnsPublisher, SqsQueues};
use postoffice_dlq::filter::Filter;
use postoffice_dlq::message::{DeadLetter, DecodeError, ReceivedMessage, RejectedMessage};
use postoffice_dlq::ports::{OldestMessageAge, Queues};
use postoffice_dlq::queue::{self, DeadLetterQueue, QueueRole};
use postoffice_dlq::rate::Rate;
use postoffice_dlq::redrive::{
    self, Destination, MAX_VISIBILITY_TIMEOUT, MessageOutcome, MessageReport, RedriveOptions,
    Summary,
};
use serde_json::{Value, json};

/// The local post office's signing certificate (PEM path): trusted only when set, as by bridges.
const LOCAL_TRUSTED_CERT: &str = "POSTOFFICE_LOCAL_TRUSTED_CERT";

#[derive(Debug, clap::Args)]
pub struct Scope {
    /// Resource name prefix of the Post Office (queues are `{prefix}-…`).
    #[arg(long, default_value = "postoffice")]
    prefix: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// Every Post Office dead-letter queue with its depth and the age of its oldest message.
    List {
        #[command(flatten)]
        scope: Scope,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Decoded messages of a consumer's dead-letter queue (or `rule-errors`, or
    /// `rejected-device-messages`). Messages are made visible again afterwards; only their receive
    /// count changes.
    Show {
        /// Consumer name, `rule-errors` for the IoT rule-errors queue, or
        /// `rejected-device-messages` for the device messages the handlers cannot read.
        consumer: String,
        /// At most this many messages.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: Scope,
    },
    /// Publish each message again through SNS and delete it once SNS accepted it: a consumer's
    /// to its own redrive topic (`{prefix}-{consumer}-redrive`), which SNS delivers to that
    /// consumer only, with the same retries and dead-letter queue; a `rule-errors` message to its
    /// event's topic. A handler that still fails sends the message back to its dead-letter queue
    /// after SNS's retries. Failed publishes stay with their receive count. Safe to interrupt
    /// (Ctrl-C) and rerun.
    ///
    /// Only what SNS or IoT Core could have delivered is redriven: a consumer DLQ's notifications
    /// must carry a valid SNS signature (checked as the bridge does; the local post office's
    /// certificate is trusted only with POSTOFFICE_LOCAL_TRUSTED_CERT) and come from their event's
    /// topic; rule-errors messages must be events actors publish, failed in their own rule. The
    /// others are listed as refused, with the reason, and stay in the queue.
    ///
    /// `rejected-device-messages` is refused: no handler can read those messages.
    Redrive {
        /// Consumer name, or `rule-errors` for the IoT rule-errors queue.
        consumer: String,
        /// At most this many publishes per second, e.g. `5/s` or `0.5/s`.
        #[arg(long)]
        rate: Option<Rate>,
        /// Decode and count what would be republished; publish and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only messages whose FIELD (event, household_id, device_id) equals VALUE; repeatable.
        #[arg(long = "filter", value_name = "FIELD=VALUE")]
        filters: Vec<Filter>,
        /// Stop after this many messages.
        #[arg(long)]
        limit: Option<usize>,
        /// Seconds a message stays hidden from other readers while this run holds it; if the
        /// run dies, its messages reappear after this long. 1 to 43200 (SQS's 12 hours).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_VISIBILITY_TIMEOUT.as_secs()))]
        visibility_timeout: u64,
        /// SNS topic ARN prefix of the Post Office's topics (EVENT is appended): where `rule-errors`
        /// messages are published, where a consumer DLQ's notifications must come from, and
        /// (CONSUMER-redrive appended) the consumer's redrive topic; derived from the queue's
        /// region and account and `--prefix` when unset.
        #[arg(long, env = "POSTOFFICE_TOPIC_ARN_PREFIX")]
        topic_arn_prefix: Option<String>,
        /// Oldest SNS SignatureVersion accepted: 2 (SHA256withRSA, every Post Office topic), or
        /// 1 (SHA1withRSA) to also accept that.
        #[arg(long, env = "POSTOFFICE_MIN_SIGNATURE_VERSION", default_value = "2", value_parser = parse_signature_version)]
        min_signature_version: SignatureVersion,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scope: Scope,
    },
    /// Delete every message of a consumer's dead-letter queue (or `rule-errors`, or
    /// `rejected-device-messages`).
    Purge {
        /// Consumer name, `rule-errors` for the IoT rule-errors queue, or
        /// `rejected-device-messages` for the device messages the handlers cannot read.
        consumer: String,
        /// Confirm: without it the command asks (on a terminal) or refuses.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        scope: Scope,
    },
}

pub async fn run(command: DlqCommand) -> anyhow::Result<ExitCode> {
    let config = aws::load_config().await;
    let queues = SqsQueues::new(&config);
    match command {
        DlqCommand::List { scope, json } => {
            list(&queues, &CloudWatchAges::new(&config), &scope.prefix, json).await
        }
        DlqCommand::Show {
            consumer,
            limit,
            json,
            scope,
        } => show(&queues, &scope.prefix, &consumer, limit, json).await,
        DlqCommand::Redrive {
            consumer,
            rate,
            dry_run,
            filters,
            limit,
            visibility_timeout,
            topic_arn_prefix,
            min_signature_version,
            json,
            scope,
        } => {
            let queue = find_queue(&queues, &scope.prefix, &consumer).await?;
            queue.check_redrivable()?;
            let options = RedriveOptions {
                filters,
                rate,
                dry_run,
                limit,
                visibility_timeout: Duration::from_secs(visibility_timeout),
                ..RedriveOptions::default()
            };
            let topic_arn_prefix = match topic_arn_prefix {
                Some(prefix) => prefix,
                None => {
                    let arn = queues.arn(&queue.url).await?;
                    redrive::topic_arn_prefix(&arn, &scope.prefix)?
                }
            };
            let publisher = SnsPublisher::new(&config);
            let verifier = verifier(min_signature_version)?;
            let destination = match &queue.role {
                QueueRole::ConsumerDlq { consumer } => Destination::Consumer {
                    redrive_topic_arn: redrive::redrive_topic_arn(&topic_arn_prefix, consumer),
                    topic_arn_prefix,
                    authenticity: &verifier,
                    publisher: &publisher,
                },
                QueueRole::RuleErrors => Destination::Topics {
                    topic_arn_prefix,
                    resource_prefix: scope.prefix.clone(),
                    publisher: &publisher,
                },
                QueueRole::RejectedDeviceMessages => Err(postoffice_dlq::Error::NotRedrivable {
                    queue: queue.name.clone(),
                })?,
            };
            redrive_queue(&queues, &queue, &destination, &options, json).await
        }
        DlqCommand::Purge {
            consumer,
            yes,
            scope,
        } => purge(&queues, &scope.prefix, &consumer, yes).await,
    }
}

/// The bridge's verifier: SNS's certificates over HTTPS, checked against Amazon's roots, and the
/// local post office's certificate only when `POSTOFFICE_LOCAL_TRUSTED_CERT` names it.
fn verifier(
    min_signature_version: SignatureVersion,
) -> anyhow::Result<Verifier<HttpsCertificateFetcher, SystemClock>> {
    let verifier = Verifier::new(HttpsCertificateFetcher::new()?, SystemClock)
        .with_minimum_signature_version(min_signature_version);
    match std::env::var_os(LOCAL_TRUSTED_CERT).filter(|path| !path.is_empty()) {
        None => Ok(verifier),
        Some(path) => {
            let pem = std::fs::read(&path).with_context(|| {
                format!(
                    "{LOCAL_TRUSTED_CERT} {}",
                    std::path::Path::new(&path).display()
                )
            })?;
            eprintln!(
                "trusting the local SNS signing certificate of {LOCAL_TRUSTED_CERT}: for local post offices only"
            );
            Ok(verifier.with_local_certificate(&pem).with_context(|| {
                format!(
                    "{LOCAL_TRUSTED_CERT} {}",
                    std::path::Path::new(&path).display()
                )
            })?)
        }
    }
}

fn parse_signature_version(value: &str) -> Result<SignatureVersion, String> {
    SignatureVersion::parse(value.trim()).ok_or_else(|| {
        format!("{value:?} is not a SignatureVersion: 1 (SHA1withRSA) or 2 (SHA256withRSA)")
    })
}

async fn find_queue(
    queues: &dyn Queues,
    prefix: &str,
    consumer: &str,
) -> anyhow::Result<DeadLetterQueue> {
    let found = queue::discover(queues, prefix)
        .await
        .context("finding the dead-letter queues")?;
    Ok(queue::find(&found, consumer)?.clone())
}

async fn list(
    queues: &dyn Queues,
    ages: &dyn OldestMessageAge,
    prefix: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let found = queue::discover(queues, prefix)
        .await
        .context("finding the dead-letter queues")?;
    let mut rows = Vec::new();
    for queue in &found {
        let depth = queues.depth(&queue.url).await?;
        let age = match ages.oldest_message_age(&queue.name).await {
            Ok(age) => age,
            Err(error) => {
                eprintln!(
                    "warning: age of the oldest message of {}: {error}",
                    queue.name
                );
                None
            }
        };
        rows.push((queue, depth, age));
    }
    if json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|(queue, depth, age)| {
                let mut row = serde_json::to_value(queue).expect("a queue serialises");
                row["consumer"] = json!(queue.consumer());
                row["messages"] = json!(depth.visible);
                row["in_flight"] = json!(depth.in_flight);
                row["oldest_message_age_seconds"] = json!(age.map(|a| a.as_secs()));
                row
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no Post Office dead-letter queues with the prefix {prefix:?}");
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<[String; 7]> = rows
        .iter()
        .map(|(queue, depth, age)| {
            let (role, handler) = match &queue.role {
                QueueRole::ConsumerDlq { consumer } => {
                    ("consumer-dlq", format!("{prefix}-{consumer}-redrive"))
                }
                QueueRole::RuleErrors => ("rule-errors", "(SNS topics)".into()),
                QueueRole::RejectedDeviceMessages => {
                    ("rejected-device-messages", "(never redriven)".into())
                }
            };
            [
                queue.name.clone(),
                role.into(),
                queue.consumer().into(),
                handler,
                depth.visible.to_string(),
                depth.in_flight.to_string(),
                age.map_or_else(
                    || "-".into(),
                    |a| queue::format_age(chrono::Duration::seconds(a.as_secs() as i64)),
                ),
            ]
        })
        .collect();
    print_table(
        &[
            "QUEUE",
            "ROLE",
            "CONSUMER",
            "DELIVERS TO",
            "MESSAGES",
            "IN FLIGHT",
            "OLDEST",
        ],
        &table,
    );
    Ok(ExitCode::SUCCESS)
}

fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

async fn show(
    queues: &dyn Queues,
    prefix: &str,
    consumer: &str,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let queue = find_queue(queues, prefix, consumer).await?;
    let options = RedriveOptions {
        visibility_timeout: Duration::from_secs(30),
        ..RedriveOptions::default()
    };
    let messages = redrive::peek(queues, &queue.url, limit, &options).await?;
    if json {
        let out: Vec<Value> = messages
            .iter()
            .map(|(m, d)| message_json(m, d.as_ref()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} message(s) shown (limit {limit})",
        queue.name,
        messages.len()
    );
    for (message, decoded) in &messages {
        println!();
        print_message(message, decoded.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

fn message_json(message: &ReceivedMessage, decoded: Result<&DeadLetter, &DecodeError>) -> Value {
    let mut out = json!({
        "message_id": message.message_id,
        "receive_count": message.receive_count,
        "dead_lettered_at": message.sent_at.as_ref().map(format_time),
    });
    match decoded {
        Ok(DeadLetter::Notification(notification)) => {
            out["kind"] = json!("sns-notification");
            out["event"] = json!(notification.envelope.event);
            out["household_id"] = json!(notification.envelope.household_id);
            out["device_id"] = json!(notification.envelope.device_id);
            out["event_id"] = json!(notification.envelope.event_id);
            out["published_at"] = json!(notification.timestamp);
            out["sns_message_id"] = json!(notification.sns_message_id);
            out["topic_arn"] = json!(notification.topic_arn);
            out["delivery_error"] = json!(notification.delivery_error);
            out["envelope"] = json!(notification.envelope);
        }
        Ok(DeadLetter::RuleError(rule_error)) => {
            out["kind"] = json!("rule-error");
            out["event"] = json!(rule_error.topic.event());
            out["household_id"] = json!(rule_error.topic.household_id());
            out["device_id"] = json!(rule_error.topic.device_id());
            out["event_id"] = json!(rule_error.device_message.event_id);
            out["rule_name"] = json!(rule_error.rule_name);
            out["client_id"] = json!(rule_error.client_id);
            out["failures"] = json!(rule_error.failures);
            out["device_message"] = json!(rule_error.device_message);
        }
        Ok(DeadLetter::Rejected(rejected)) => {
            out["kind"] = json!("rejected-device-message");
            out["topic"] = json!(rejected.topic);
            out["event"] = json!(rejected.topic_level(0));
            out["household_id"] = json!(rejected.topic_level(1));
            out["device_id"] = json!(rejected.topic_level(2));
            out["client_id"] = json!(rejected.client_id);
            out["unreadable"] = json!(rejected.unreadable);
            out["received_at"] = json!(format_time(&rejected.received_at));
            out["rule_name"] = json!(rejected.rule_name);
            out["trace_id"] = json!(rejected.trace_id);
            out["collection_id"] = json!(rejected.collection_id);
            out["member"] = json!(rejected.member);
            out["detail"] = json!(rejected.detail);
            out["payload_size"] = json!(rejected.original_payload.len());
            out["payload_text"] = json!(rejected.payload_text());
            out["payload_base64"] = json!(rejected.payload_base64());
        }
        Err(error) => {
            out["kind"] = json!("undecodable");
            out["reason"] = json!(error.to_string());
            out["body"] = json!(message.body);
        }
    }
    out
}

fn print_message(message: &ReceivedMessage, decoded: Result<&DeadLetter, &DecodeError>) {
    let field = |name: &str, value: &dyn std::fmt::Display| println!("  {name:<16}{value}");
    println!(
        "message {} (received {} time(s))",
        message.message_id, message.receive_count
    );
    let dead_lettered = message
        .sent_at
        .as_ref()
        .map_or_else(|| "?".into(), format_time);
    match decoded {
        Ok(DeadLetter::Notification(n)) => {
            field("event", &n.envelope.event);
            field("household", &n.envelope.household_id);
            field("device", &n.envelope.device_id);
            field("event id", &n.envelope.event_id);
            field("published at", &n.timestamp);
            field("dead-lettered", &dead_lettered);
            field("sns message id", &n.sns_message_id);
            let error = &n.delivery_error;
            for (name, value) in [
                ("ErrorCode", &error.error_code),
                ("ErrorMessage", &error.error_message),
                ("RequestID", &error.request_id),
            ] {
                if let Some(value) = value {
                    field(name, value);
                }
            }
            print_payload(&n.envelope.payload);
        }
        Ok(DeadLetter::RuleError(r)) => {
            field("event", &r.topic.event());
            field("household", &r.topic.household_id());
            field("device", &r.topic.device_id());
            if let Some(event_id) = r.device_message.event_id {
                field("event id", &event_id);
            }
            field("rule", &r.rule_name);
            field("client id", &r.client_id.as_deref().unwrap_or("?"));
            field("dead-lettered", &dead_lettered);
            for failure in &r.failures {
                field(
                    "failure",
                    &format!(
                        "{} on {}: {}",
                        failure.failed_action, failure.failed_resource, failure.error_message
                    ),
                );
            }
            print_payload(&r.device_message.payload);
        }
        Ok(DeadLetter::Rejected(r)) => {
            field("topic", &r.topic);
            field("client id", &r.client_id);
            field("unreadable", &r.unreadable.join(", "));
            field("received at", &format_time(&r.received_at));
            field("rule", &r.rule_name);
            if let Some(trace_id) = &r.trace_id {
                field("trace id", trace_id);
            }
            if let (Some(collection_id), Some(member)) = (&r.collection_id, r.member) {
                field("collection", &format!("{collection_id}, member {member}"));
            }
            if let Some(detail) = &r.detail {
                field("detail", &printable(detail, SHOWN_PAYLOAD_CHARS));
            }
            print_original_payload(r);
        }
        Err(error) => {
            field("dead-lettered", &dead_lettered);
            field("undecodable", &error);
            let body: String = message.body.chars().take(500).collect();
            field("body", &body);
        }
    }
}

/// Longest stretch of a rejected message `dlq show` prints; `--json` has all of it.
const SHOWN_PAYLOAD_CHARS: usize = 2000;

/// The message as published: its text when it is UTF-8 (control characters escaped, so that a
/// device cannot drive the terminal), else its base64.
fn print_original_payload(rejected: &RejectedMessage) {
    let size = rejected.original_payload.len();
    let (heading, shown) = match rejected.payload_text() {
        Some(text) => (
            format!("message as published ({size} bytes, UTF-8 text)"),
            text.chars()
                .map(|c| match c {
                    '\n' | '\t' => c.to_string(),
                    c if c.is_control() => c.escape_unicode().to_string(),
                    c => c.to_string(),
                })
                .collect::<String>(),
        ),
        None => (
            format!("message as published ({size} bytes, not UTF-8; base64)"),
            rejected.payload_base64(),
        ),
    };
    println!("  {heading}");
    let mut chars = shown.chars();
    let cut: String = chars.by_ref().take(SHOWN_PAYLOAD_CHARS).collect();
    for line in cut.lines() {
        println!("    {line}");
    }
    if chars.next().is_some() {
        println!("    … (cut at {SHOWN_PAYLOAD_CHARS} characters; --json has all of it)");
    }
}

/// Text from a queue message for the terminal: control characters escaped, cut at `max` chars.
fn printable(text: &str, max: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(max)
        .map(|c| match c {
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect();
    if text.chars().nth(max).is_some() {
        shown.push('…');
    }
    shown
}

fn print_payload(payload: &Value) {
    println!("  payload");
    let pretty = serde_json::to_string_pretty(payload).expect("JSON values serialise");
    for line in pretty.lines() {
        println!("    {line}");
    }
}

async fn redrive_queue(
    queues: &dyn Queues,
    queue: &DeadLetterQueue,
    destination: &Destination<'_>,
    options: &RedriveOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let depth = queues.depth(&queue.url).await?;
    let total = options
        .limit
        .map_or(depth.visible, |limit| depth.visible.min(limit as u64));
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("the progress template is valid")
            .progress_chars("=> "),
    );
    bar.set_prefix(if options.dry_run {
        format!("{} (dry run)", queue.name)
    } else {
        queue.name.clone()
    });

    let stop = Arc::new(AtomicBool::new(false));
    let on_interrupt = {
        let stop = stop.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
                bar.println(
                    "interrupted: finishing the current message, then releasing the rest \
                     (Ctrl-C again to quit at once)",
                );
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                bar.abandon();
                eprintln!(
                    "quit: messages this run held reappear in the queue after the visibility timeout"
                );
                std::process::exit(130);
            }
        })
    };
    let mut progress = |report: &MessageReport| {
        // The bar's length is SQS's approximate count; never let it read over 100 %.
        if bar.position() + 1 > bar.length().unwrap_or(0) {
            bar.inc_length(1);
        }
        bar.inc(1);
        bar.set_message(match &report.outcome {
            MessageOutcome::Republished => "republished".to_owned(),
            MessageOutcome::WouldRedrive => "would redrive".to_owned(),
            MessageOutcome::NotMatching => "not matching".to_owned(),
            MessageOutcome::Failed(_) => "failed".to_owned(),
            MessageOutcome::Skipped(_) => "skipped".to_owned(),
            MessageOutcome::Refused(_) => "refused".to_owned(),
        });
    };
    let result = redrive::redrive(
        queues,
        &queue.url,
        destination,
        options,
        stop,
        &mut progress,
    )
    .await;
    on_interrupt.abort();
    bar.finish_and_clear();
    let summary = result.with_context(|| format!("redriving {}", queue.name))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(queue, &summary, options.dry_run);
    }
    Ok(
        if summary.failed == 0 && summary.skipped == 0 && summary.refused == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

fn print_summary(queue: &DeadLetterQueue, summary: &Summary, dry_run: bool) {
    for problem in &summary.problems {
        let (kind, reason) = match &problem.outcome {
            MessageOutcome::Failed(reason) => ("failed", reason),
            MessageOutcome::Skipped(reason) => ("skipped", reason),
            MessageOutcome::Refused(reason) => ("refused", reason),
            _ => continue,
        };
        println!(
            "{kind}: message {} ({}): {reason}",
            problem.message_id,
            problem.event.as_deref().unwrap_or("undecodable"),
        );
    }
    let first = if dry_run {
        format!("would redrive {}", summary.would_redrive)
    } else {
        format!("republished {}", summary.republished)
    };
    println!(
        "{}: {first}, failed {}, skipped {}, refused {}, not matching the filter {}{}",
        queue.name,
        summary.failed,
        summary.skipped,
        summary.refused,
        summary.not_matching,
        if summary.stopped_early {
            " (stopped early: rerun to continue)"
        } else {
            ""
        }
    );
}

async fn purge(
    queues: &dyn Queues,
    prefix: &str,
    consumer: &str,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let queue = find_queue(queues, prefix, consumer).await?;
    let depth = queues.depth(&queue.url).await?;
    let count = depth.visible + depth.in_flight;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to purge {} ({count} messages) without --yes",
                queue.name
            );
        }
        print!(
            "Delete all {count} messages of {} for good? Type {consumer:?} to confirm: ",
            queue.name
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != consumer {
            println!("not purged");
            return Ok(ExitCode::from(1));
        }
    }
    queues.purge(&queue.url).await?;
    println!("purged {}: {count} message(s) deleted", queue.name);
    Ok(ExitCode::SUCCESS)
}
