//! The local post office runs what the Terraform applies, nothing else: each test applies a copy
//! of the project's Terraform with one change, sees the behaviour change with it, and puts the
//! project's Terraform back (`with_terraform_changed`).
//!
//! The changes are global, so this file's tests run one at a time (`--test-threads=1`).

use std::collections::BTreeSet;

use postoffice_e2e::{
    Edit, Follower, RecipeStoreOutage, WAIT, bridge_of, device_message, example,
    household_with_device, post_office, run, stored_envelopes, wait_for, with_terraform_changed,
};
use postoffice_local::activity::Activity;
use postoffice_local::plan::Endpoint;
use serde_json::Value;

/// The retry count of `consumer`'s subscription to `event`, as applied.
fn applied_retries(consumer: &str, event: &str) -> u32 {
    let bridge = bridge_of(consumer);
    post_office()
        .plan()
        .topics
        .values()
        .filter(|topic| topic.arn.ends_with(&format!("-{event}")))
        .flat_map(|topic| &topic.subscriptions)
        .find(|subscription| {
            matches!(&subscription.endpoint, Endpoint::FunctionUrl { function, .. } if *function == bridge)
        })
        .map(|subscription| subscription.retry_policy.num_retries)
        .unwrap_or_else(|| panic!("{consumer} subscribes to {event}"))
}

#[test]
fn a_delivery_policy_of_two_retries_makes_three_attempts() {
    run(async {
        let default_retries = applied_retries("kitchen", "COOKING_REQUESTED");
        assert!(default_retries > 2, "the project's policy retries more");
        let edits = [Edit::new(
            "examples/complete/main.tf",
            "  platform        = module.platform.for_events\n",
            "  platform        = module.platform.for_events\n  http_delivery_policy = { retries = 2, immediate_retries = 2, min_delay_retries = 0, max_delay_retries = 0 }\n",
        )];
        let history = with_terraform_changed(&edits, |applied| async move {
            applied?;
            assert_eq!(applied_retries("kitchen", "COOKING_REQUESTED"), 2);
            let (oven, _) = household_with_device("h-policy").await?;
            let mut activity = Follower::start();
            let request = device_message(example("COOKING_REQUESTED"));
            let event_id = request.event_id.unwrap().to_string();
            let _outage = RecipeStoreOutage::begin();
            oven.publish("COOKING_REQUESTED", &request).await?;
            let message_id = activity.sns_message_id_of(&event_id).await?;
            activity.delivery_of("kitchen", &message_id).await
        })
        .await
        .unwrap();
        assert_eq!(
            history.statuses,
            vec![Some(500); 3],
            "one attempt and the 2 retries of the applied policy: {history:?}"
        );
        assert!(history.dead_lettered, "{history:?}");
        assert_eq!(
            applied_retries("kitchen", "COOKING_REQUESTED"),
            default_retries,
            "the project's policy is back"
        );
    });
}

#[test]
fn a_filter_policy_keeps_what_it_excludes_from_the_consumer() {
    run(async {
        let edits = [Edit::new(
            "examples/complete/consumers.tf",
            "  container = local.kitchen_container\n",
            "  container = local.kitchen_container\n  filter_policies = { COOKING_REQUESTED = jsonencode({ payload = { program = [\"steam\"] } }) }\n",
        )];
        let (baked, steamed, seen) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let (oven, _) = household_with_device("h-filter").await?;
            let mut activity = Follower::start();
            let examples = postoffice::catalog::Catalog::embedded()
                .event("COOKING_REQUESTED")
                .map(|event| event.examples.clone())
                .unwrap_or_default();
            let bake = device_message(examples[0].clone());
            let steam = device_message(examples[1].clone());
            assert_eq!(bake.payload["program"], "bake");
            assert_eq!(steam.payload["program"], "steam");
            oven.publish("COOKING_REQUESTED", &bake).await?;
            oven.publish("COOKING_REQUESTED", &steam).await?;
            let baked = activity
                .sns_message_id_of(&bake.event_id.unwrap().to_string())
                .await?;
            let steamed = activity
                .sns_message_id_of(&steam.event_id.unwrap().to_string())
                .await?;
            // The steam request, published after the bake one, reaches the kitchen; by then
            // SNS has long decided the bake request's deliveries, and the event store has it.
            activity.delivery_of("kitchen", &steamed).await?;
            let bake_id = bake.event_id.unwrap().to_string();
            wait_for("the bake request in the event store", WAIT, || async {
                stored_envelopes()
                    .ok()?
                    .iter()
                    .any(|stored| stored["event_id"] == bake_id.as_str())
                    .then_some(())
            })
            .await;
            Ok((baked, steamed, activity.seen))
        })
        .await
        .unwrap();
        let attempted: BTreeSet<&str> = seen
            .iter()
            .filter_map(|activity| match activity {
                Activity::DeliveryAttempt {
                    endpoint,
                    sns_message_id,
                    ..
                } if *endpoint == bridge_of("kitchen") => Some(sns_message_id.as_str()),
                _ => None,
            })
            .collect();
        assert!(attempted.contains(steamed.as_str()), "{attempted:?}");
        assert!(
            !attempted.contains(baked.as_str()),
            "the filter policy let the bake request through: {attempted:?}"
        );
    });
}

/// The `fields` of the handler's "event handled" log line for `event_id`.
async fn handled_log_line(consumer: &str, event_id: &str) -> Value {
    let log = post_office().logs_dir().join("lambda").join(format!(
        "{}-{consumer}-handler.log",
        post_office().options.prefix
    ));
    wait_for(
        &format!("{consumer} to handle {event_id}"),
        WAIT,
        || async {
            std::fs::read_to_string(&log)
                .ok()?
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|line| {
                    line["fields"]["message"] == "event handled"
                        && line["fields"]["event_id"] == event_id
                })
                .map(|line| line["fields"].clone())
        },
    )
    .await
}

#[test]
fn a_rule_that_drops_a_field_keeps_it_from_the_handler() {
    run(async {
        let (oven, _) = household_with_device("h-sql").await.unwrap();
        let publish_caused_request = || async {
            let mut request = device_message(example("COOKING_REQUESTED"));
            let cause = uuid::Uuid::new_v4();
            request.causation_id = Some(cause);
            oven.publish("COOKING_REQUESTED", &request).await.unwrap();
            (request.event_id.unwrap().to_string(), cause.to_string())
        };
        let (event_id, cause) = publish_caused_request().await;
        let handled = handled_log_line("kitchen", &event_id).await;
        assert_eq!(handled["causation_id"], cause.as_str(), "{handled}");

        let edits = [Edit::new(
            "modules/event/rule-sql.tf",
            "    \"causation_id,\",\n",
            "",
        )];
        let handled = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let (event_id, _) = publish_caused_request().await;
            Ok(handled_log_line("kitchen", &event_id).await)
        })
        .await
        .unwrap();
        assert!(
            handled.get("causation_id").is_none(),
            "the applied rule no longer selects causation_id: {handled}"
        );
    });
}

#[test]
fn the_applied_terraform_converges() {
    run(async {
        // Against AWS a second plan of an applied configuration is empty; a local answer that
        // differs from what was applied (an attribute dropped, a default missing) shows here.
        let pending = post_office().pending_terraform_changes().await.unwrap();
        assert!(
            pending.is_none(),
            "terraform plan after apply: {}",
            pending.unwrap_or_default()
        );
    });
}
