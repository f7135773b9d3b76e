//! A consumer deployed with `compute = "container"` runs locally as its Terraform says: its ECS
//! service is a local process of the `example-kitchen-service` binary its image names, with the
//! task definition's environment and its task role's credentials, behind the local stand-in of
//! its load balancer; SNS delivers to the service's HTTPS endpoint with the same signatures,
//! retries and dead-letter queue as to a function URL. The kitchen's handler code is the one
//! its Lambda runs.
//!
//! The change is global (the kitchen is re-applied as a container, then put back), so this
//! file's tests run one at a time (`--test-threads=1`).

use postoffice_e2e::{
    Follower, KITCHEN_SERVICE_URL, KitchenDeployment, WAIT, bridge_of, container_files,
    dead_letters, device_message, envelope, example, household_with_device, post_office,
    postoffice_command, run, wait_for, with_terraform_changed,
};
use postoffice_local::plan::Endpoint;

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
            let (mut oven, _) = household_with_device("h-container").await?;
            let request = device_message(example("COOKING_REQUESTED"));
            let request_id = request.event_id.unwrap();
            oven.publish("COOKING_REQUESTED", &request).await?;
            let reply = oven
                .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
                .await?;
            let reply = envelope(&reply.payload)?;
            anyhow::ensure!(reply.correlation_id == request_id, "{reply:?}");
            let message_id = activity.sns_message_id_of(&request_id.to_string()).await?;
            let history = activity.delivery_to(&service, &message_id).await?;
            anyhow::ensure!(history.statuses == vec![Some(200)], "{history:?}");

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
            let rejected = device_message(serde_json::json!({"program": "microwave"}));
            let rejected_id = rejected.event_id.unwrap().to_string();
            oven.publish("COOKING_REQUESTED", &rejected).await?;
            let message_id = activity.sns_message_id_of(&rejected_id).await?;
            let history = activity.delivery_to(&service, &message_id).await?;
            anyhow::ensure!(history.dead_lettered, "{history:?}");
            anyhow::ensure!(history.statuses == vec![Some(400)], "{history:?}");

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
