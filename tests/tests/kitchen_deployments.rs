//! The kitchen deployed the two other ways the consumer module allows, each re-applied over the
//! project's separate bridge and then put back, on one local post office:
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
    Ok(rejected_id)
}

#[test]
fn an_embedded_kitchen_serves_sns_from_its_handler_alias() {
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

            // A device's request reaches the handler; its reply comes back to the device.
            let mut oven = round_trip(&mut activity, "h-embedded", &endpoint).await?;

            // A request the handler rejects for good: 400, dead-lettered without retries.
            let rejected_id = refused_for_good(&mut activity, &mut oven, &endpoint).await?;
            let letter = wait_for("the dead letter", WAIT, || async {
                dead_letters("kitchen")
                    .await
                    .ok()?
                    .into_iter()
                    .find(|letter| letter.envelope.event_id.to_string() == rejected_id)
            })
            .await;
            anyhow::ensure!(letter.attributes.get("ErrorCode").map(String::as_str) == Some("400"));
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
fn a_container_kitchen_answers_retries_and_dead_letters_as_a_lambda_does() {
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

            // Round trip: a device's request reaches the service; its reply comes back.
            let mut oven = round_trip(&mut activity, "h-container", &service).await?;

            // Retry → DLQ: the recipe store is gone, the handler answers retryable, the service
            // 500, and SNS retries per the delivery policy before it dead-letters.
            let failing = device_message(example("COOKING_REQUESTED"));
            let failing_id = failing.event_id.unwrap().to_string();
            let parked = recipes.with_extension("unavailable");
            std::fs::rename(&recipes, &parked)?;
            let outcome = async {
                oven.publish("COOKING_REQUESTED", &failing).await?;
                let message_id = activity.sns_message_id_of(&failing_id).await?;
                activity.delivery_to(&service, &message_id).await
            }
            .await;
            std::fs::rename(&parked, &recipes)?;
            let history = outcome?;
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

            // A request the handler refuses for good: 400, dead-lettered without retries.
            refused_for_good(&mut activity, &mut oven, &service).await?;

            // Redrive invokes handler Lambdas; a container consumer has none, and is told so.
            let (succeeded, output) = postoffice_command(&["dlq", "redrive", "kitchen"]).await?;
            anyhow::ensure!(!succeeded, "{output}");
            anyhow::ensure!(output.contains("postoffice:handler"), "{output}");
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
