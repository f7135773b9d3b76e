//! `postoffice local demo` (`make demo`): starts a local post office, drives the six steps of
//! the tour through it with a readable report and live progress, and stops everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use postoffice::catalog::Catalog;
use serde_json::Value;

use crate::activity::Activity;
use crate::device::{SimulatedDevice, device_message};
use crate::mqtt::MqttSession;
use crate::{LocalPostOffice, Options};

const HOUSEHOLD: &str = "h-demo";
const DEVICE: &str = "oven-1";
const WAIT: Duration = Duration::from_secs(30);

struct Report {
    started: Instant,
    passed: usize,
    failed: Vec<String>,
}

impl Report {
    fn step(&self, number: u32, title: &str) {
        println!("\n\x1b[1m{number}. {title}\x1b[0m");
    }

    fn line(&self, text: impl AsRef<str>) {
        println!("   {}", text.as_ref());
    }

    fn check(&mut self, what: &str, result: anyhow::Result<String>) -> bool {
        match result {
            Ok(detail) => {
                self.passed += 1;
                println!("   \x1b[32m✔\x1b[0m {what}{}", suffix(&detail));
                true
            }
            Err(error) => {
                println!("   \x1b[31m✘\x1b[0m {what}: {error:#}");
                self.failed.push(what.to_owned());
                false
            }
        }
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" — {detail}")
    }
}

/// Runs the demo; true when every step did what it shows.
pub async fn run(options: Options, postoffice: PathBuf) -> anyhow::Result<bool> {
    let started = Instant::now();
    println!(
        "\x1b[1mPost Office — the local demo\x1b[0m (everything on 127.0.0.1; Ctrl-C stops it)"
    );
    let catalog = Catalog::load(&options.root.join("event-catalog"))?;
    let post_office = LocalPostOffice::start(options, |step| {
        println!("   … {step} ({:.1} s)", started.elapsed().as_secs_f64())
    })
    .await?;
    println!(
        "   ready in {:.1} s; logs and event store in {}",
        started.elapsed().as_secs_f64(),
        post_office.run_dir().display()
    );
    let mut report = Report {
        started,
        passed: 0,
        failed: Vec::new(),
    };
    let outcome = tour(&post_office, &catalog, &postoffice, &mut report).await;
    if let Err(error) = &outcome {
        report.failed.push(format!("{error:#}"));
        println!("   \x1b[31m✘\x1b[0m the demo stopped: {error:#}");
    }
    println!(
        "\n\x1b[1mSummary\x1b[0m: {} checks passed, {} failed, in {:.1} s. Stopping every process.",
        report.passed,
        report.failed.len(),
        report.started.elapsed().as_secs_f64()
    );
    drop(post_office);
    Ok(report.failed.is_empty())
}

fn example(catalog: &Catalog, event: &str) -> anyhow::Result<Value> {
    catalog
        .event(event)
        .and_then(|definition| definition.examples.first().cloned())
        .with_context(|| format!("the catalog has no example of {event}"))
}

/// The correlation id of a received envelope.
fn correlation(payload: &[u8]) -> Option<String> {
    let envelope: Value = serde_json::from_slice(payload).ok()?;
    envelope
        .get("correlation_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn tour(
    post_office: &LocalPostOffice,
    catalog: &Catalog,
    postoffice: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let credentials = post_office.register_household(HOUSEHOLD).await?;
    let mut oven =
        SimulatedDevice::connect(post_office.endpoints.mqtt_port, &credentials, DEVICE).await?;

    report.step(1, "A device asks for cooking");
    let request = device_message(example(catalog, "COOKING_REQUESTED")?);
    let correlation_id = request.event_id.expect("set").to_string();
    let sent = Instant::now();
    oven.publish("COOKING_REQUESTED", &request).await?;
    report.line(format!(
        "{HOUSEHOLD}/{DEVICE} published COOKING_REQUESTED (QoS 1, acknowledged by the broker), event id {correlation_id}"
    ));

    report.step(2, "The kitchen service replies on the device's topic");
    let reply = oven
        .receive(WAIT, |message| {
            message.topic.starts_with("COOKING_REPLIED/")
                && correlation(&message.payload).as_deref() == Some(correlation_id.as_str())
        })
        .await;
    report.check(
        "COOKING_REPLIED arrived with the request's correlation id",
        reply.map(|message| {
            format!(
                "on {} after {:.1} ms (device → rule → SNS → bridge → kitchen → SNS → forwarder → device)",
                message.topic,
                message.at.duration_since(sent).as_secs_f64() * 1000.0
            )
        }),
    );

    report.step(3, "The broker refuses what the device policy forbids");
    refusals(post_office, catalog, &oven, report).await?;

    report.step(
        4,
        "The kitchen's recipe store is down: SNS retries with backoff, then dead-letters",
    );
    let recipes = recipes_dir(post_office)?;
    let parked = recipes.with_extension("unavailable");
    std::fs::rename(&recipes, &parked).context("taking the recipe store away")?;
    report.line(format!("moved {} away", recipes.display()));
    let mut activity = post_office.activity();
    let failing = device_message(example(catalog, "COOKING_REQUESTED")?);
    let failing_id = failing.event_id.expect("set").to_string();
    oven.publish("COOKING_REQUESTED", &failing).await?;
    report.line(format!("published COOKING_REQUESTED {failing_id}"));
    let outcome = follow_deliveries(&mut activity, &failing_id, report).await;
    let dlq = post_office
        .dead_letter_queue("kitchen")
        .context("no kitchen DLQ")?
        .clone();
    let depth = post_office.queue_depth(&dlq.url).await?;
    report.check(
        "the message is in the kitchen's dead-letter queue",
        outcome.and_then(|attempts| {
            if depth.0 + depth.1 >= 1 {
                Ok(format!(
                    "after {attempts} attempts; {} holds {} message(s)",
                    dlq.name,
                    depth.0 + depth.1
                ))
            } else {
                bail!("{} is empty", dlq.name)
            }
        }),
    );

    report.step(5, "The store is back: `postoffice dlq redrive kitchen`");
    std::fs::rename(&parked, &recipes).context("restoring the recipe store")?;
    report.line(format!("restored {}", recipes.display()));
    let output = tokio::process::Command::new(postoffice)
        .args(["dlq", "redrive", "kitchen"])
        .envs(post_office.tool_env())
        .output()
        .await
        .context("running postoffice dlq redrive")?;
    for line in String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
    {
        report.line(format!("│ {line}"));
    }
    report.check(
        "postoffice dlq redrive kitchen succeeded",
        if output.status.success() {
            Ok(String::new())
        } else {
            Err(anyhow::anyhow!("exit status {}", output.status))
        },
    );
    let reply = oven
        .receive(WAIT, |message| {
            message.topic.starts_with("COOKING_REPLIED/")
                && correlation(&message.payload).as_deref() == Some(failing_id.as_str())
        })
        .await;
    report.check(
        "the redriven request was handled and its reply reached the device",
        reply.map(|message| format!("on {}", message.topic)),
    );
    let depth = post_office.queue_depth(&dlq.url).await?;
    report.check(
        "the kitchen's dead-letter queue is empty again",
        if depth == (0, 0) {
            Ok(String::new())
        } else {
            Err(anyhow::anyhow!("{depth:?} messages left"))
        },
    );

    report.step(
        6,
        "Every event is in the event store (laid out like the S3 partitions)",
    );
    let expected = [
        (correlation_id.as_str(), "COOKING_REQUESTED"),
        (failing_id.as_str(), "COOKING_REQUESTED"),
    ];
    let stored = wait_for_store(post_office, &expected).await;
    let mut per_file: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (path, _) in crate::event_store::read_all(&post_office.event_store_root())? {
        *per_file.entry(path).or_default() += 1;
    }
    for (path, count) in &per_file {
        report.line(format!("event-store/{}  {count} event(s)", path.display()));
    }
    report.check(
        "both requests and their replies are stored",
        stored.map(|count| format!("{count} events in total")),
    );
    Ok(())
}

fn recipes_dir(post_office: &LocalPostOffice) -> anyhow::Result<PathBuf> {
    let value = post_office
        .config
        .consumers
        .get("kitchen")
        .and_then(|kitchen| kitchen.env.get("KITCHEN_RECIPES_DIR"))
        .context("the local config sets no KITCHEN_RECIPES_DIR for the kitchen")?;
    Ok(PathBuf::from(value.replace(
        "{run}",
        &post_office.run_dir().display().to_string(),
    )))
}

async fn refusals(
    post_office: &LocalPostOffice,
    catalog: &Catalog,
    oven: &SimulatedDevice,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (_observer, mut seen) = MqttSession::connect(
        post_office.endpoints.mqtt_port,
        "postoffice-demo-observer",
        &post_office.gateway_credentials(),
        &["#".to_owned()],
        Duration::from_secs(10),
    )
    .await?;
    let request = serde_json::to_vec(&device_message(example(catalog, "COOKING_REQUESTED")?))?;
    let attempts = [
        (
            "for another household",
            format!("COOKING_REQUESTED/h-neighbour/{DEVICE}"),
        ),
        (
            "as another device",
            format!("COOKING_REQUESTED/{HOUSEHOLD}/oven-2"),
        ),
        (
            "an event devices may not produce (a forged reply)",
            format!("COOKING_REPLIED/{HOUSEHOLD}/{DEVICE}"),
        ),
    ];
    let mut answers = Vec::new();
    for (_, topic) in &attempts {
        answers.push(oven.publish_to(topic, request.clone()).await);
    }
    // mosquitto answers a denied QoS 1 publish with PUBACK "not authorized" (MQTT 5 reason code
    // 0x87) and closes the connection; the device reconnects to its persistent session. The
    // proof that nothing got through: a later, allowed message from the same device reaches an
    // observer of every topic, and none of the refused ones did before it.
    let sentinel = device_message(example(catalog, "DEVICE_TELEMETRY_REPORTED")?);
    oven.publish("DEVICE_TELEMETRY_REPORTED", &sentinel).await?;
    let sentinel_topic = oven.topic("DEVICE_TELEMETRY_REPORTED");
    let mut before = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, seen.recv()).await {
            Ok(Some(message)) if message.topic == sentinel_topic => break,
            Ok(Some(message)) => before.push(message.topic),
            _ => bail!("the allowed message never reached the observer"),
        }
    }
    for ((label, topic), answer) in attempts.iter().zip(answers) {
        let arrived = before.iter().any(|seen| seen == topic);
        report.check(
            &format!("refused: a publish {label}"),
            match answer {
                _ if arrived => Err(anyhow::anyhow!("{topic} reached the broker's subscribers")),
                Ok(()) => Err(anyhow::anyhow!("{topic} was acknowledged as accepted")),
                Err(refusal) => Ok(format!("{topic}: {}", short_refusal(&refusal))),
            },
        );
    }
    report.line("(a later allowed message from the same device did arrive; none of these did)");
    Ok(())
}

fn short_refusal(error: &anyhow::Error) -> &'static str {
    if error.to_string().contains("NotAuthorized") {
        "PUBACK not authorized (0x87)"
    } else {
        "not authorized; the broker closed the connection"
    }
}

/// Prints each delivery attempt of the message whose envelope has `event_id` until it is
/// delivered or dead-lettered; the number of attempts when dead-lettered. Activities are kept
/// until the SNS message id is known: delivery may start before the rule records its publish.
async fn follow_deliveries(
    activity: &mut tokio::sync::broadcast::Receiver<Activity>,
    event_id: &str,
    report: &Report,
) -> anyhow::Result<u32> {
    let mut message_id: Option<String> = None;
    let mut pending: Vec<Activity> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let next = tokio::time::timeout_at(deadline, activity.recv())
            .await
            .context("no dead-lettering within 120 s")?;
        let Ok(next) = next else { continue };
        if let Activity::RulePublished {
            event_id: id,
            sns_message_id,
            ..
        } = &next
            && id == event_id
        {
            report.line(format!("IoT rule → SNS message {sns_message_id}"));
            message_id = Some(sns_message_id.clone());
        }
        pending.push(next);
        let Some(message_id) = &message_id else {
            continue;
        };
        for activity in pending.drain(..) {
            match activity {
                Activity::DeliveryAttempt {
                    consumer,
                    sns_message_id,
                    attempt,
                    status,
                    retry_in_ms,
                    ..
                } if consumer == "kitchen" && &sns_message_id == message_id => {
                    let status = status.map_or("no answer".to_owned(), |s| format!("HTTP {s}"));
                    match retry_in_ms {
                        Some(ms) => report.line(format!(
                            "attempt {attempt} → {status}; delivery policy retries in {ms} ms"
                        )),
                        None => report.line(format!("attempt {attempt} → {status}")),
                    }
                }
                Activity::Delivered {
                    consumer,
                    sns_message_id,
                    ..
                } if consumer == "kitchen" && &sns_message_id == message_id => {
                    bail!("the message was delivered although the recipe store is down")
                }
                Activity::DeadLettered {
                    consumer,
                    sns_message_id,
                    attempts,
                    ..
                } if consumer == "kitchen" && &sns_message_id == message_id => {
                    return Ok(attempts);
                }
                _ => {}
            }
        }
    }
}

/// Waits until the store holds the requests and their replies; the number of stored events.
async fn wait_for_store(
    post_office: &LocalPostOffice,
    requests: &[(&str, &str)],
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = crate::event_store::read_all(&post_office.event_store_root())?;
        let envelopes: Vec<Value> = lines
            .iter()
            .filter_map(|(_, line)| serde_json::from_str(line).ok())
            .collect();
        let has = |event: &str, correlation_id: &str| {
            envelopes.iter().any(|envelope| {
                envelope["event"] == event && envelope["correlation_id"] == correlation_id
            })
        };
        let complete = requests.iter().all(|(correlation_id, event)| {
            has(event, correlation_id) && has("COOKING_REPLIED", correlation_id)
        });
        if complete {
            return Ok(envelopes.len());
        }
        if Instant::now() > deadline {
            bail!("the event store is missing some of the requests or replies");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
