//! `postoffice local demo` (`make demo`): starts a local post office from the project's
//! Terraform, drives the tour through it with a readable report and live progress, and stops
//! everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use postoffice::catalog::Catalog;
use postoffice_local::activity::Activity;
use postoffice_local::app::AppSession;
use postoffice_local::device::{
    PAIRING_ANSWER_EVENT, SimulatedDevice, UnpairedDevice, device_message,
};
use postoffice_local::mqtt::Received;
use postoffice_local::{LocalPostOffice, Options};
use serde_json::Value;

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
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" — {detail}")
                };
                println!("   \x1b[32m✔\x1b[0m {what}{detail}");
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
    let times = &post_office.startup;
    println!(
        "   ready in {:.1} s (build {:.1} s; then {:.1} s to ready, of which terraform apply {:.1} s); run directory {}",
        started.elapsed().as_secs_f64(),
        times.build.as_secs_f64(),
        times.ready.as_secs_f64(),
        times.apply.as_secs_f64(),
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

fn correlation(payload: &[u8]) -> Option<String> {
    let envelope: Value = serde_json::from_slice(payload).ok()?;
    envelope
        .get("correlation_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn what_runs(post_office: &LocalPostOffice, report: &Report) {
    let plan = post_office.plan();
    let subscriptions: usize = plan
        .topics
        .values()
        .map(|topic| topic.subscriptions.len())
        .sum();
    report.line(format!(
        "{} functions, {} topics with {subscriptions} subscriptions, {} topic rules, {} event-store stream(s), {} alarms — all read back from what `terraform apply` created",
        plan.functions.len(),
        plan.topics.len(),
        plan.rules.len(),
        plan.streams.len(),
        post_office.alarms().len(),
    ));
    for problem in post_office.problems() {
        report.line(format!("not run locally: {problem}"));
    }
}

async fn tour(
    post_office: &LocalPostOffice,
    catalog: &Catalog,
    postoffice: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.step(0, "Provisioned by the project's Terraform");
    what_runs(post_office, report);
    let household = "h-demo";
    let device = "oven-1";
    let credentials = post_office.register_device(device, Some(household)).await?;
    report.line(format!(
        "registered {device} in {household}: certificate {} (thing {device}, household attribute, device policies attached)",
        &credentials.certificate_id[..12]
    ));
    let mut oven = post_office.connect_device(&credentials, household).await?;

    report.step(1, "A device asks for cooking");
    let request = device_message(example(catalog, "COOKING_REQUESTED")?);
    let correlation_id = request.event_id.expect("set").to_string();
    let sent = Instant::now();
    oven.publish("COOKING_REQUESTED", &request).await?;
    report.line(format!(
        "{household}/{device} published COOKING_REQUESTED over mutual TLS (QoS 1, acknowledged by the gateway), event id {correlation_id}"
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

    report.step(
        3,
        "The gateway refuses what the device's IoT policy forbids",
    );
    refusals(post_office, catalog, &oven, household, device, report).await?;

    report.step(
        4,
        "The kitchen's recipe store is down: SNS retries per the applied policy, then dead-letters; the alarm pages",
    );
    let kitchen_handler = format!("{}-kitchen-handler", post_office.options.prefix);
    let recipes = post_office
        .task_root(&kitchen_handler)
        .context("the kitchen handler has no code")?
        .join("recipes");
    let parked = recipes.with_extension("unavailable");
    std::fs::rename(&recipes, &parked).context("taking the recipe store away")?;
    report.line(format!("moved {} away", recipes.display()));
    let mut activity = post_office.activity();
    let failing = device_message(example(catalog, "COOKING_REQUESTED")?);
    let failing_id = failing.event_id.expect("set").to_string();
    oven.publish("COOKING_REQUESTED", &failing).await?;
    report.line(format!("published COOKING_REQUESTED {failing_id}"));
    let bridge = format!("{}-kitchen-bridge", post_office.options.prefix);
    let outcome = follow_deliveries(&mut activity, &failing_id, &bridge, report).await;
    let dlq_name = format!("{}-kitchen-dlq", post_office.options.prefix);
    let dlq = post_office.queue_url(&dlq_name).context("no kitchen DLQ")?;
    let depth = queue_depth(post_office, &dlq).await?;
    report.check(
        "the message is in the kitchen's dead-letter queue",
        outcome.and_then(|attempts| {
            if depth >= 1 {
                Ok(format!(
                    "after {attempts} attempts; {dlq_name} holds {depth} message(s)"
                ))
            } else {
                bail!("{dlq_name} is empty")
            }
        }),
    );
    let alarm = format!("{dlq_name}-depth");
    let raised = alarm_change(&mut activity, &alarm, "ALARM").await;
    report.check(
        &format!("CloudWatch alarm {alarm} went to ALARM"),
        raised.map(|runbook| format!("on-call paged; runbook {runbook}")),
    );

    report.step(
        5,
        "The store is back: `postoffice dlq redrive kitchen`; the alarm clears",
    );
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
    let depth = queue_depth(post_office, &dlq).await?;
    report.check(
        "the kitchen's dead-letter queue is empty again",
        if depth == 0 {
            Ok(String::new())
        } else {
            Err(anyhow::anyhow!("{depth} messages left"))
        },
    );
    let cleared = alarm_change(&mut activity, &alarm, "OK").await;
    report.check(
        &format!("CloudWatch alarm {alarm} went back to OK"),
        cleared.map(|_| String::new()),
    );

    report.step(
        6,
        "Every event is in the event store (the Firehose stream's S3 layout)",
    );
    let expected = [correlation_id.as_str(), failing_id.as_str()];
    let stored = wait_for_store(post_office, &expected).await;
    let mut per_file: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (path, _) in postoffice_local::firehose::read_all(post_office.event_store_root())? {
        *per_file.entry(path).or_default() += 1;
    }
    for (path, count) in &per_file {
        report.line(format!("{}  {count} event(s)", path.display()));
    }
    report.check(
        "both requests and their replies are stored",
        stored.map(|count| format!("{count} events in total")),
    );

    report.step(
        7,
        "A household member signs in to the app and asks the oven to cook",
    );
    let mut app = signed_in_app(post_office, household, report).await?;
    let request = device_message(example(catalog, "COOKING_REQUESTED")?);
    let request_id = request.event_id.expect("set").to_string();
    let sent = Instant::now();
    app.session
        .publish(
            &format!("COOKING_REQUESTED/{household}/{device}"),
            serde_json::to_vec(&request)?,
        )
        .await?;
    let reply = app_receives(&mut app, "COOKING_REPLIED/", &request_id).await;
    report.check(
        "the app received COOKING_REPLIED with its request's correlation id",
        reply.map(|message| {
            format!(
                "on {} after {:.1} ms (app → WebSocket → rule → SNS → kitchen → forwarder → app)",
                message.topic,
                message.at.duration_since(sent).as_secs_f64() * 1000.0
            )
        }),
    );

    report.step(
        8,
        "A new oven leaves the factory, is paired with the household from the app, works there, and is unpaired",
    );
    pairing(post_office, catalog, household, &mut app, report).await
}

/// A new member of `household` signed in through the app (user pool, identity pool, the
/// sign-in function) and connected over MQTT over WebSocket, subscribed to its household.
async fn signed_in_app(
    post_office: &LocalPostOffice,
    household: &str,
    report: &Report,
) -> anyhow::Result<AppSession> {
    let user = post_office.add_user(household, "cook@example.com").await?;
    let app = post_office.mobile_app()?;
    let (_, credentials) = app.sign_in_fully(&user.email, &user.password).await?;
    let path = app.presigned_mqtt_path(
        &credentials,
        std::time::SystemTime::now(),
        Duration::from_secs(900),
    )?;
    let session = app
        .connect(
            &credentials.identity_id,
            &path,
            &[format!("+/{household}/+")],
        )
        .await?;
    report.line(format!(
        "{} of {household} signed in: user pool, identity {} from the identity pool, the sign-in function attached the mobile IoT policy; connected over MQTT over WebSocket (SigV4 presigned URL)",
        user.email, credentials.identity_id
    ));
    Ok(session)
}

/// The household's app publishes `event` about `device` on its household's topic. Returns the
/// request's event id.
async fn app_sends(
    app: &AppSession,
    event: &str,
    household: &str,
    device: &str,
    payload: Value,
) -> anyhow::Result<String> {
    let request = device_message(payload);
    let request_id = request.event_id.expect("set").to_string();
    app.session
        .publish(
            &format!("{event}/{household}/{device}"),
            serde_json::to_vec(&request)?,
        )
        .await
        .with_context(|| format!("the app publishing {event}"))?;
    Ok(request_id)
}

/// The message on a topic starting with `topic_prefix` answering `request_id`, as the app
/// receives it.
async fn app_receives(
    app: &mut AppSession,
    topic_prefix: &str,
    request_id: &str,
) -> anyhow::Result<Received> {
    tokio::time::timeout(WAIT, async {
        loop {
            let message = app
                .incoming
                .recv()
                .await
                .context("the app's session closed")?;
            if message.topic.starts_with(topic_prefix)
                && correlation(&message.payload).as_deref() == Some(request_id)
            {
                return Ok(message);
            }
        }
    })
    .await
    .with_context(|| format!("the app received no {topic_prefix}… answering {request_id}"))?
}

/// The status of the pairing answer the app received.
fn pairing_status(answer: &Received) -> String {
    serde_json::from_slice::<Value>(&answer.payload)
        .ok()
        .and_then(|envelope| envelope["payload"]["status"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn household_of(
    post_office: &LocalPostOffice,
    thing: &str,
) -> anyhow::Result<Option<String>> {
    Ok(post_office
        .control_plane()
        .iot
        .describe_thing()
        .thing_name(thing)
        .send()
        .await?
        .attributes
        .unwrap_or_default()
        .remove("household"))
}

async fn pairing(
    post_office: &LocalPostOffice,
    catalog: &Catalog,
    household: &str,
    app: &mut AppSession,
    report: &mut Report,
) -> anyhow::Result<()> {
    let thing = "oven-2";
    let appliance = post_office.manufacture_device(thing).await?;
    report.line(format!(
        "the factory registered {thing}: certificate {}, base device policy, pairing claim = SHA-256 of the code on its label, no household",
        &appliance.credentials.certificate_id[..12]
    ));
    let tls = post_office.device_tls(&appliance.credentials)?;
    let mut waiting = UnpairedDevice::connect(post_office.endpoints.mqtt, &tls, thing).await?;
    report.line(format!(
        "{thing} connected in no household: it may only wait for DEVICE_PAIRING_REPLIED/+/{thing}"
    ));

    let wrong = if appliance.pairing_code.starts_with('A') {
        "BBBBBBBBBBBBBBBB"
    } else {
        "AAAAAAAAAAAAAAAA"
    };
    let request = app_sends(
        app,
        "DEVICE_PAIRING_REQUESTED",
        household,
        thing,
        serde_json::json!({"pairing_code": wrong}),
    )
    .await?;
    let refused = app_receives(app, PAIRING_ANSWER_EVENT, &request).await;
    let unchanged = household_of(post_office, thing).await?;
    report.check(
        "a wrong pairing code from the app is refused and changes nothing",
        refused.and_then(
            |answer| match (pairing_status(&answer).as_str(), unchanged) {
                ("refused", None) => Ok(format!(
                    "the app got \"refused\" on {}; {thing} still has no household",
                    answer.topic
                )),
                (status, None) => bail!("the app got {status:?}"),
                (_, Some(other)) => bail!("{thing} was paired with {other}"),
            },
        ),
    );

    let request = app_sends(
        app,
        "DEVICE_PAIRING_REQUESTED",
        household,
        thing,
        serde_json::json!({"pairing_code": appliance.pairing_code}),
    )
    .await?;
    let answered = app_receives(app, PAIRING_ANSWER_EVENT, &request).await;
    let learned = waiting.wait_until_paired(WAIT).await;
    let paired = report.check(
        "the app sends the code on the label: both the app and the oven hear \"paired\"",
        answered.and_then(|answer| {
            let status = pairing_status(&answer);
            let learned = learned.map_err(|e| anyhow::anyhow!("{e:#}"))?;
            if status != "paired" {
                bail!("the app got {status:?}");
            }
            Ok(format!("{thing} learned it is in {learned}"))
        }),
    );
    if !paired {
        return Ok(());
    }
    drop(waiting);
    let mut oven = post_office
        .connect_device(&appliance.credentials, household)
        .await?;
    let request = device_message(example(catalog, "COOKING_REQUESTED")?);
    let request_id = request.event_id.expect("set").to_string();
    oven.publish("COOKING_REQUESTED", &request).await?;
    let reply = oven
        .receive(WAIT, |message| {
            message.topic.starts_with("COOKING_REPLIED/")
                && correlation(&message.payload).as_deref() == Some(request_id.as_str())
        })
        .await;
    report.check(
        &format!("connected again, {thing} cooks for {household}"),
        reply.map(|message| format!("COOKING_REPLIED on {}", message.topic)),
    );

    let mut activity = post_office.activity();
    let request = app_sends(
        app,
        "DEVICE_UNPAIRING_REQUESTED",
        household,
        thing,
        serde_json::json!({"reason": "resale"}),
    )
    .await?;
    let disconnected = tokio::time::timeout(WAIT, async {
        loop {
            match activity.recv().await {
                Ok(Activity::IotConnectionDeleted { client_id }) if client_id == thing => {
                    return Ok(());
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => bail!("activity stream ended: {error}"),
            }
        }
    })
    .await
    .context("the oven was not disconnected")
    .and_then(|result| result);
    let answered = app_receives(app, PAIRING_ANSWER_EVENT, &request).await;
    let published = oven
        .publish(
            "COOKING_REQUESTED",
            &device_message(example(catalog, "COOKING_REQUESTED")?),
        )
        .await;
    report.check(
        "unpaired from the app, it is disconnected at once and can publish nothing",
        disconnected.and_then(|()| {
            let status = pairing_status(&answered?);
            if status != "unpaired" {
                bail!("the app got {status:?}");
            }
            match published {
                Err(_) => Ok(format!(
                    "the app got \"unpaired\"; DeleteConnection closed {thing}; its next connection is in no household"
                )),
                Ok(()) => bail!("{thing} still published for {household}"),
            }
        }),
    );
    Ok(())
}

async fn queue_depth(post_office: &LocalPostOffice, url: &str) -> anyhow::Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let attributes = post_office
        .control_plane()
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?
        .attributes
        .unwrap_or_default();
    let count = |name: &Name| {
        attributes
            .get(name)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(count(&Name::ApproximateNumberOfMessages)
        + count(&Name::ApproximateNumberOfMessagesNotVisible))
}

async fn refusals(
    post_office: &LocalPostOffice,
    catalog: &Catalog,
    oven: &SimulatedDevice,
    household: &str,
    device: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut activity = post_office.activity();
    let request = serde_json::to_vec(&device_message(example(catalog, "COOKING_REQUESTED")?))?;
    let attempts = [
        (
            "for another household",
            format!("COOKING_REQUESTED/h-neighbour/{device}"),
        ),
        (
            "as another device",
            format!("COOKING_REQUESTED/{household}/oven-2"),
        ),
        (
            "an event devices may not produce (a forged reply)",
            format!("COOKING_REPLIED/{household}/{device}"),
        ),
    ];
    for (label, topic) in &attempts {
        let answer = oven.publish_to(topic, request.clone()).await;
        report.check(
            &format!("refused: a publish {label}"),
            match answer {
                Ok(()) => Err(anyhow::anyhow!("{topic} was acknowledged as accepted")),
                Err(refusal) if refusal.to_string().contains("NotAuthorized") => {
                    Ok(format!("{topic}: PUBACK not authorized (0x87)"))
                }
                Err(refusal) => Err(refusal),
            },
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut explained = 0;
    while explained < attempts.len() {
        match tokio::time::timeout_at(deadline, activity.recv()).await {
            Ok(Ok(Activity::GatewayRefused { reason, .. })) => {
                if explained == 0 {
                    report.line(format!("why: {}", truncate(&reason, 220)));
                }
                explained += 1;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

/// Prints each delivery attempt of the message whose envelope has `event_id` until it is
/// delivered or dead-lettered; the number of attempts when dead-lettered.
async fn follow_deliveries(
    activity: &mut tokio::sync::broadcast::Receiver<Activity>,
    event_id: &str,
    bridge: &str,
    report: &Report,
) -> anyhow::Result<u32> {
    let mut message_id: Option<String> = None;
    let mut pending: Vec<Activity> = Vec::new();
    let mut shown = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let next = tokio::time::timeout_at(deadline, activity.recv())
            .await
            .context("no dead-lettering within 180 s")?;
        let Ok(next) = next else { continue };
        if let Activity::RulePublished {
            event_id: Some(id),
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
                    endpoint,
                    sns_message_id,
                    attempt,
                    status,
                    retry_in_ms,
                    ..
                } if endpoint == bridge && &sns_message_id == message_id => {
                    shown += 1;
                    // The applied policy retries 60 times: show the first few and the last.
                    if shown <= 5 || retry_in_ms.is_none() {
                        let status = status.map_or("no answer".to_owned(), |s| format!("HTTP {s}"));
                        match retry_in_ms {
                            Some(ms) => report.line(format!(
                                "attempt {attempt} → {status}; the delivery policy retries in {ms} ms"
                            )),
                            None => report.line(format!("attempt {attempt} → {status}")),
                        }
                    } else if shown == 6 {
                        report.line("…");
                    }
                }
                Activity::Delivered {
                    endpoint,
                    sns_message_id,
                    ..
                } if endpoint == bridge && &sns_message_id == message_id => {
                    bail!("the message was delivered although the recipe store is down")
                }
                Activity::DeadLettered {
                    endpoint,
                    sns_message_id,
                    attempts,
                    ..
                } if endpoint == bridge && &sns_message_id == message_id => {
                    return Ok(attempts);
                }
                _ => {}
            }
        }
    }
}

/// Waits for `alarm` to change to `state`; its runbook link.
async fn alarm_change(
    activity: &mut tokio::sync::broadcast::Receiver<Activity>,
    alarm: &str,
    state: &str,
) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, activity.recv()).await {
            Ok(Ok(Activity::AlarmChanged {
                alarm: name,
                to,
                runbook,
                reason,
                ..
            })) if name == alarm && to == state => {
                println!(
                    "   \x1b[33m⏰\x1b[0m {alarm} → {state}: {}",
                    truncate(&reason, 160)
                );
                return Ok(runbook.unwrap_or_default());
            }
            Ok(_) => {}
            Err(_) => bail!("{alarm} did not go to {state} within 60 s"),
        }
    }
}

/// Waits until the store holds the requests and their replies; the number of stored events.
async fn wait_for_store(post_office: &LocalPostOffice, requests: &[&str]) -> anyhow::Result<usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = postoffice_local::firehose::read_all(post_office.event_store_root())?;
        let envelopes: Vec<Value> = lines
            .iter()
            .filter_map(|(_, line)| serde_json::from_str(line).ok())
            .collect();
        let has = |event: &str, correlation_id: &str| {
            envelopes.iter().any(|envelope| {
                envelope["event"] == event && envelope["correlation_id"] == correlation_id
            })
        };
        if requests
            .iter()
            .all(|id| has("COOKING_REQUESTED", id) && has("COOKING_REPLIED", id))
        {
            return Ok(envelopes.len());
        }
        if Instant::now() > deadline {
            bail!("the event store is missing some of the requests or replies");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
