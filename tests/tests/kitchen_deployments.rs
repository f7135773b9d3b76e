//! The kitchen deployed the three ways the consumer module allows, on one local post office: the
//! project's separate bridge as applied, and the two others each re-applied over it and then put
//! back. The same kitchen handler code passes the same checks in each: the round trip, retries
//! then the dead-letter queue, `postoffice dlq redrive` through the kitchen's redrive topic, and
//! the delivery refused for good.
//!
//! - `bridge = { mode = "embedded" }` runs locally as it would in AWS: no bridge Lambda; SNS
//!   pushes to the function URL of the handler's `sns-endpoint` alias, whose own resource policy
//!   opens it; the handler confirms its subscriptions, answers deliveries, refuses what it must,
//!   and its errors through the alias reach the alarm on the alias's metrics.
//! - `compute = "container"`: its ECS service is a local process of the
//!   `example-kitchen-service` binary its image names, with the task definition's environment and
//!   its task role's credentials, behind the local stand-in of its load balancer; SNS delivers
//!   to the service's HTTPS endpoint with the same signatures, retries and dead-letter queue as
//!   to a function URL. The kitchen's handler code is the one its Lambda runs.
//!
//! Each change is global, so this file's tests run one at a time (`--test-threads=1`).

use postoffice::envelope::{format_time, now_millis};
use postoffice::sns::{LocalSigningAuthority, MessageType, SnsMessage};
use std::collections::BTreeSet;
use std::path::PathBuf;

use postoffice_e2e::{
    Follower, KITCHEN_SERVICE_URL, KitchenDeployment, WAIT, bridge_of, container_files,
    dead_letters, device_message, envelope, example, household_with_device, post_office,
    postoffice_command, run, wait_for, with_terraform_changed,
};
use postoffice_local::activity::Activity;
use postoffice_local::device::SimulatedDevice;
use postoffice_local::plan::Endpoint;

const ALIAS: &str = "sns-endpoint";

fn handler() -> String {
    format!("{}-kitchen-handler", post_office().options.prefix)
}

/// What SNS deliveries to the kitchen are recorded under: the handler's alias.
fn endpoint() -> String {
    format!("{}:{ALIAS}", handler())
}

/// The lines the handler wrote to its log (its stdout: logs and the endpoint's EMF metrics).
fn handler_log() -> String {
    let path = post_office()
        .logs_dir()
        .join("lambda")
        .join(format!("{}.log", handler()));
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether the endpoint counted a message with `reason` (its `PostOffice/Bridge` EMF line).
fn counted(reason: &str) -> bool {
    handler_log().lines().any(|line| {
        serde_json::from_str::<serde_json::Value>(line).is_ok_and(|line| {
            line["_aws"].is_object()
                && line["Reason"] == reason
                && line["HandlerFunction"] == handler().as_str()
        })
    })
}

/// A notification of `topic_arn`, signed by `signer`, as SNS posts it: (headers, body).
fn notification(
    signer: &LocalSigningAuthority,
    topic_arn: &str,
) -> (Vec<(String, String)>, String) {
    let request = device_message(example("COOKING_REQUESTED"));
    let mut message = SnsMessage {
        message_type: MessageType::Notification,
        message_id: uuid::Uuid::new_v4().to_string(),
        topic_arn: topic_arn.to_owned(),
        subject: None,
        message: serde_json::to_string(&request).unwrap(),
        timestamp: format_time(&now_millis()),
        signature_version: String::new(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: None,
        unsubscribe_url: None,
        token: None,
        message_attributes: Default::default(),
    };
    signer.sign(&mut message).unwrap();
    let headers = vec![
        (
            "content-type".to_owned(),
            "text/plain; charset=UTF-8".to_owned(),
        ),
        (
            "x-amz-sns-message-type".to_owned(),
            "Notification".to_owned(),
        ),
        (
            "x-amz-sns-message-id".to_owned(),
            message.message_id.clone(),
        ),
        ("x-amz-sns-topic-arn".to_owned(), topic_arn.to_owned()),
    ];
    (headers, message.to_http_json())
}

async fn post(url: &str, (headers, body): (Vec<(String, String)>, String)) -> (u16, String) {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    post_office()
        .post_to_function_url(url, &headers, &body)
        .await
        .unwrap()
}

fn topic_arn(event: &str) -> String {
    post_office()
        .plan()
        .topics
        .keys()
        .find(|arn| arn.ends_with(&format!("-{event}")))
        .cloned()
        .unwrap_or_else(|| panic!("no topic for {event}"))
}

/// A device of a new household sends COOKING_REQUESTED and gets the reply; the request's one
/// delivery to `endpoint` was answered 200. Returns the device.
async fn round_trip(
    activity: &mut Follower,
    household: &str,
    endpoint: &str,
) -> anyhow::Result<SimulatedDevice> {
    let (mut oven, _) = household_with_device(household).await?;
    let request = device_message(example("COOKING_REQUESTED"));
    let request_id = request.event_id.unwrap();
    oven.publish("COOKING_REQUESTED", &request).await?;
    let reply = oven
        .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
        .await?;
    let reply = envelope(&reply.payload)?;
    anyhow::ensure!(reply.correlation_id == request_id, "{reply:?}");
    let message_id = activity.sns_message_id_of(&request_id.to_string()).await?;
    let history = activity.delivery_to(endpoint, &message_id).await?;
    anyhow::ensure!(history.statuses == vec![Some(200)], "{history:?}");
    Ok(oven)
}

/// `oven` sends a request the kitchen refuses for good: its one delivery to `endpoint` is
/// answered 400 and dead-lettered without retries. Returns the request's event id.
async fn refused_for_good(
    activity: &mut Follower,
    oven: &mut SimulatedDevice,
    endpoint: &str,
) -> anyhow::Result<String> {
    let rejected = device_message(serde_json::json!({"program": "microwave"}));
    let rejected_id = rejected.event_id.unwrap().to_string();
    oven.publish("COOKING_REQUESTED", &rejected).await?;
    let message_id = activity.sns_message_id_of(&rejected_id).await?;
    let history = activity.delivery_to(endpoint, &message_id).await?;
    anyhow::ensure!(history.dead_lettered, "{history:?}");
    anyhow::ensure!(history.statuses == vec![Some(400)], "{history:?}");
    let letter = wait_for("the dead letter", WAIT, || async {
        dead_letters("kitchen")
            .await
            .ok()?
            .into_iter()
            .find(|letter| letter.envelope.event_id.to_string() == rejected_id)
    })
    .await;
    anyhow::ensure!(letter.attributes.get("ErrorCode").map(String::as_str) == Some("400"));
    Ok(rejected_id)
}

/// The kitchen's recipe store (`recipes/` beside its binary, in the Lambda's zip or the
/// container's image): without it the handler fails every request retryably.
struct RecipeStore(PathBuf);

impl RecipeStore {
    /// The store of the kitchen handler Lambda (separate or embedded bridge).
    fn of_lambda() -> Self {
        let task_root = post_office()
            .task_root(&handler())
            .expect("the kitchen handler's code is extracted");
        Self(task_root.join("recipes"))
    }

    fn parked(&self) -> PathBuf {
        self.0.with_extension("unavailable")
    }

    /// Runs `during` without the store, and puts it back whatever `during` found.
    async fn without<T>(
        &self,
        during: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        std::fs::rename(&self.0, self.parked())?;
        let outcome = during.await;
        std::fs::rename(self.parked(), &self.0)?;
        outcome
    }
}

/// Retry → DLQ: without the recipe store the handler answers retryable, `endpoint` 500, and SNS
/// retries per the delivery policy before it dead-letters (`ErrorCode` 500).
async fn retried_then_dead_lettered(
    activity: &mut Follower,
    oven: &mut SimulatedDevice,
    endpoint: &str,
    store: &RecipeStore,
) -> anyhow::Result<()> {
    let failing = device_message(example("COOKING_REQUESTED"));
    let failing_id = failing.event_id.unwrap().to_string();
    let history = store
        .without(async {
            oven.publish("COOKING_REQUESTED", &failing).await?;
            let message_id = activity.sns_message_id_of(&failing_id).await?;
            activity.delivery_to(endpoint, &message_id).await
        })
        .await?;
    anyhow::ensure!(history.dead_lettered, "{history:?}");
    anyhow::ensure!(history.statuses.len() > 1, "{history:?}");
    anyhow::ensure!(
        history.statuses.iter().all(|status| *status == Some(500)),
        "{history:?}"
    );
    let letter = wait_for("the dead letter", WAIT, || async {
        dead_letters("kitchen")
            .await
            .ok()?
            .into_iter()
            .find(|letter| letter.envelope.event_id.to_string() == failing_id)
    })
    .await;
    anyhow::ensure!(
        letter.attributes.get("ErrorCode").map(String::as_str) == Some("500"),
        "{:?}",
        letter.attributes
    );
    Ok(())
}

fn redrive_topic() -> String {
    format!("{}-kitchen-redrive", post_office().options.prefix)
}

/// Redrive: requests of a new household fail until dead-lettered; once the store is back,
/// `postoffice dlq redrive` republishes them to the kitchen's redrive topic, SNS delivers each
/// to `endpoint` once (200), each is handled exactly once more (one reply each) and none is left
/// in the dead-letter queue.
async fn redriven_through_the_redrive_topic(
    activity: &mut Follower,
    endpoint: &str,
    store: &RecipeStore,
) -> anyhow::Result<()> {
    const REQUESTS: usize = 2;
    let (mut oven, _) = household_with_device("h-redrive").await?;
    let requests: Vec<_> = (0..REQUESTS)
        .map(|_| device_message(example("COOKING_REQUESTED")))
        .collect();
    let expected: BTreeSet<_> = requests.iter().map(|r| r.event_id.unwrap()).collect();
    store
        .without(async {
            for request in &requests {
                oven.publish("COOKING_REQUESTED", request).await?;
            }
            for request in &requests {
                let message_id = activity
                    .sns_message_id_of(&request.event_id.unwrap().to_string())
                    .await?;
                let history = activity.delivery_to(endpoint, &message_id).await?;
                anyhow::ensure!(history.dead_lettered, "{history:?}");
            }
            Ok(())
        })
        .await?;
    let household = oven.household_id.clone();
    let in_queue = || async {
        dead_letters("kitchen")
            .await
            .map(|letters| {
                letters
                    .into_iter()
                    .filter(|letter| letter.envelope.household_id == household)
                    .count()
            })
            .unwrap_or(usize::MAX)
    };
    let dead_lettered = in_queue().await;
    anyhow::ensure!(dead_lettered == REQUESTS, "{dead_lettered} dead-lettered");

    let filter = format!("household_id={household}");
    let (succeeded, output) =
        postoffice_command(&["dlq", "redrive", "kitchen", "--filter", &filter]).await?;
    anyhow::ensure!(succeeded, "{output}");
    anyhow::ensure!(
        output.contains(&format!(
            "republished {REQUESTS}, failed 0, skipped 0, refused 0"
        )),
        "{output}"
    );

    let mut answered = Vec::new();
    while answered.len() < REQUESTS {
        let reply = oven
            .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
            .await
            .map_err(|error| anyhow::anyhow!("{error}; redrive said:\n{output}"))?;
        answered.push(envelope(&reply.payload)?.correlation_id);
    }
    // Handled exactly once more: no further reply comes.
    let extra = oven
        .receive(std::time::Duration::from_secs(3), |m| {
            m.topic.starts_with("COOKING_REPLIED/")
        })
        .await;
    anyhow::ensure!(extra.is_err(), "a second reply: {extra:?}");
    anyhow::ensure!(
        answered.iter().copied().collect::<BTreeSet<_>>() == expected,
        "{answered:?}"
    );
    // SNS delivered each republished message from the redrive topic to the endpoint, at once.
    let topic = redrive_topic();
    let delivered = activity
        .until("the redrive topic's deliveries", |seen| {
            let delivered: Vec<_> = seen
                .iter()
                .filter_map(|activity| match activity {
                    Activity::Delivered {
                        endpoint: to,
                        topic: from,
                        attempts,
                        ..
                    } if to == endpoint && from.ends_with(&format!(":{topic}")) => Some(*attempts),
                    _ => None,
                })
                .collect();
            (delivered.len() >= REQUESTS).then_some(delivered)
        })
        .await?;
    anyhow::ensure!(delivered == vec![1; REQUESTS], "{delivered:?}");
    let left = in_queue().await;
    anyhow::ensure!(left == 0, "{left} still dead-lettered");
    eprintln!(
        "[redrive] {endpoint}: published {REQUESTS}, dead-lettered {dead_lettered}, republished {REQUESTS}, handled {} (one reply each), left in the DLQ {left}",
        answered.len()
    );
    Ok(())
}

/// Everything each deployment must do, in an order that leaves the kitchen working.
async fn the_kitchen_works(
    activity: &mut Follower,
    household: &str,
    endpoint: &str,
    store: &RecipeStore,
) -> anyhow::Result<()> {
    let mut oven = round_trip(activity, household, endpoint).await?;
    retried_then_dead_lettered(activity, &mut oven, endpoint, store).await?;
    redriven_through_the_redrive_topic(activity, endpoint, store).await?;
    refused_for_good(activity, &mut oven, endpoint).await?;
    Ok(())
}

/// The project's deployment, as applied: nothing to re-apply.
#[test]
fn a_separate_bridge_kitchen_answers_retries_dead_letters_and_is_redriven() {
    run(async {
        let mut activity = Follower::start();
        the_kitchen_works(
            &mut activity,
            "h-separate",
            &bridge_of("kitchen"),
            &RecipeStore::of_lambda(),
        )
        .await
        .unwrap();
    });
}

#[test]
fn an_embedded_kitchen_serves_sns_from_its_handler_alias_and_is_redriven() {
    run(async {
        let edits = KitchenDeployment::EmbeddedBridge.edits(std::path::Path::new(""));
        let mut activity = Follower::start();
        with_terraform_changed(&edits, |applied| async move {
            applied?;
            let (handler, endpoint) = (handler(), endpoint());
            let lambda = post_office().lambda_client();

            // No bridge Lambda; the handler's alias follows $LATEST and has the URL SNS uses.
            let plan = post_office().plan();
            anyhow::ensure!(!plan.functions.contains_key(&bridge_of("kitchen")));
            anyhow::ensure!(plan.functions[&handler].alias.as_deref() == Some(ALIAS));
            let bridge = lambda
                .get_function()
                .function_name(bridge_of("kitchen"))
                .send()
                .await;
            anyhow::ensure!(
                bridge.is_err_and(|e| e.into_service_error().is_resource_not_found_exception()),
                "the bridge Lambda is gone"
            );
            let alias = lambda
                .get_alias()
                .function_name(&handler)
                .name(ALIAS)
                .send()
                .await?;
            anyhow::ensure!(alias.function_version() == Some("$LATEST"));
            let url = lambda
                .get_function_url_config()
                .function_name(&handler)
                .qualifier(ALIAS)
                .send()
                .await?;
            anyhow::ensure!(url.function_arn().ends_with(&format!(":{handler}:{ALIAS}")));
            let alias_url = url.function_url().to_owned();
            let kitchen_subscriptions: Vec<_> = plan
                .topics
                .values()
                .flat_map(|topic| &topic.subscriptions)
                .filter(|subscription| subscription.endpoint_url == alias_url)
                .collect();
            anyhow::ensure!(!kitchen_subscriptions.is_empty());
            for subscription in &kitchen_subscriptions {
                anyhow::ensure!(
                    matches!(&subscription.endpoint, Endpoint::FunctionUrl { function, qualifier, .. }
                        if *function == handler && qualifier.as_deref() == Some(ALIAS)),
                    "{subscription:?}"
                );
            }
            // The permissions are the alias's: the function itself is not public.
            let alias_policy = lambda
                .get_policy()
                .function_name(&handler)
                .qualifier(ALIAS)
                .send()
                .await?;
            anyhow::ensure!(alias_policy.policy().unwrap_or_default().contains(&format!(
                ":function:{handler}:{ALIAS}\""
            )));
            anyhow::ensure!(
                lambda
                    .get_policy()
                    .function_name(&handler)
                    .send()
                    .await
                    .is_err(),
                "the unqualified handler has no resource policy"
            );

            // The handler confirmed its subscriptions itself, through the alias's URL.
            activity
                .until("the kitchen's subscriptions confirmed at its alias", |seen| {
                    seen.iter()
                        .any(|activity| matches!(activity, Activity::SubscriptionConfirmed { endpoint, .. } if *endpoint == alias_url))
                        .then_some(())
                })
                .await?;
            anyhow::ensure!(counted("subscription_confirmed"), "{}", handler_log());

            // Round trip, retries then the DLQ, redrive through the redrive topic, and a request
            // the handler rejects for good (400, dead-lettered without retries).
            the_kitchen_works(&mut activity, "h-embedded", &endpoint, &RecipeStore::of_lambda())
                .await?;
            anyhow::ensure!(counted("handler_failed"), "{}", handler_log());
            anyhow::ensure!(counted("handler_non_retryable"));

            // Anyone may post to the public URL: a message signed with another key, or a
            // genuinely signed one of a topic the kitchen does not subscribe to, is refused.
            let impostor = LocalSigningAuthority::generate()?;
            let (status, body) = post(
                &alias_url,
                notification(&impostor, &topic_arn("COOKING_REQUESTED")),
            )
            .await;
            anyhow::ensure!(status == 403, "{status} {body}");
            anyhow::ensure!(counted("signature_rejected"));
            let run_dir = post_office().run_dir();
            let genuine = LocalSigningAuthority::load(
                &run_dir.join("local-signing.pem"),
                &run_dir.join("local-signing.key"),
            )?;
            let (status, body) =
                post(&alias_url, notification(&genuine, &topic_arn("COOKING_REPLIED"))).await;
            anyhow::ensure!(status == 403, "{status} {body}");
            anyhow::ensure!(counted("topic_not_allowed"));

            // The alias takes function URL events only: an invocation through it is refused,
            // and counted as an error of the alias, which pages.
            let invoked = lambda
                .invoke()
                .function_name(&handler)
                .qualifier(ALIAS)
                .payload(serde_json::to_vec(&device_message(example("COOKING_REQUESTED")))?.into())
                .send()
                .await?;
            anyhow::ensure!(invoked.function_error() == Some("Unhandled"));
            anyhow::ensure!(invoked.executed_version() == Some("$LATEST"));
            let error: serde_json::Value =
                serde_json::from_slice(invoked.payload().map(|p| p.as_ref()).unwrap_or_default())?;
            anyhow::ensure!(error["errorType"] == "NonRetryable", "{error}");
            anyhow::ensure!(
                error["errorMessage"]
                    .as_str()
                    .is_some_and(|message| message.contains(&format!("invoked through {ALIAS}"))),
                "{error}"
            );
            let alarm = format!("{handler}-sns-endpoint-errors");
            wait_for(&format!("{alarm} in ALARM"), WAIT, || async {
                post_office()
                    .alarms()
                    .into_iter()
                    .any(|(name, state, ..)| name == alarm && state.as_str() == "ALARM")
                    .then_some(())
            })
            .await;
            Ok(())
        })
        .await
        .unwrap();
        let plan = post_office().plan();
        assert!(
            plan.functions.contains_key(&bridge_of("kitchen")),
            "the bridge is back"
        );
        assert_eq!(plan.functions[&handler()].alias, None);
    });
}

fn service() -> String {
    format!("{}-kitchen-service", post_office().options.prefix)
}

#[test]
fn a_container_kitchen_answers_retries_dead_letters_and_is_redriven_as_a_lambda_is() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let recipes = container_files(post_office(), dir.path()).unwrap();
        let edits = KitchenDeployment::Container.edits(dir.path());
        let mut activity = Follower::start();
        with_terraform_changed(&edits, |applied| async move {
            applied?;
            let service = service();

            // No kitchen Lambda; its subscriptions reach the service through the load balancer.
            let plan = post_office().plan();
            anyhow::ensure!(!plan.functions.contains_key(&bridge_of("kitchen")));
            anyhow::ensure!(
                !plan.functions.keys().any(|name| name.contains("-kitchen-")),
                "{:?}",
                plan.functions.keys().collect::<Vec<_>>()
            );
            let planned = plan.services.get(&service).ok_or_else(|| {
                anyhow::anyhow!("no service {service}: {:?}", post_office().problems())
            })?;
            anyhow::ensure!(planned.binary == "example-kitchen-service");
            anyhow::ensure!(planned.health_check_path == "/health");
            let kitchen_subscriptions: Vec<_> = plan
                .topics
                .values()
                .flat_map(|topic| &topic.subscriptions)
                .filter(|subscription| subscription.endpoint_url == KITCHEN_SERVICE_URL)
                .collect();
            anyhow::ensure!(!kitchen_subscriptions.is_empty());
            for subscription in &kitchen_subscriptions {
                anyhow::ensure!(
                    subscription.endpoint
                        == Endpoint::Service {
                            service: service.clone()
                        },
                    "{subscription:?}"
                );
                anyhow::ensure!(subscription.dead_letter_queue.is_some(), "{subscription:?}");
            }

            // Round trip, retries then the DLQ, redrive through the redrive topic (a container has
            // no Lambda to invoke: SNS delivers the republished messages as any other), and a
            // request the handler refuses for good.
            the_kitchen_works(
                &mut activity,
                "h-container",
                &service,
                &RecipeStore(recipes.clone()),
            )
            .await?;
            Ok(())
        })
        .await
        .unwrap();
        let plan = post_office().plan();
        assert!(plan.services.is_empty(), "the service is gone");
        assert!(
            plan.functions.contains_key(&bridge_of("kitchen")),
            "the kitchen's Lambdas are back"
        );
    });
}
