//! The local post office refuses what AWS would refuse. Each test applies a copy of the project's
//! Terraform with one permission taken away (or one resource narrowed or widened), sees the
//! named step of the chain refused with AWS's answer and the refusal recorded with its principal,
//! action and resource, and puts the project's Terraform back (`with_terraform_changed`). The
//! unmodified Terraform passing the same steps is what the rest of the suite proves.
//!
//! The changes are global, so this file's tests run one at a time (`--test-threads=1`).

use std::time::Duration;

use postoffice_e2e::{
    Edit, Follower, WAIT, base64_decode, bridge_of, dead_letters, device_message, example,
    household_with_device, peek_queue, post_office, run, unique, with_terraform_changed,
};
use postoffice_local::activity::Activity;
use postoffice_local::mqtt::MqttSession;

const CONSUMER_LAMBDAS: &str = "modules/consumer/lambdas.tf";

/// Publishes a cooking request from a new device; its event id.
async fn cooking_request(household: &str) -> anyhow::Result<String> {
    let (oven, _) = household_with_device(household).await?;
    let request = device_message(example("COOKING_REQUESTED"));
    oven.publish("COOKING_REQUESTED", &request).await?;
    Ok(request.event_id.unwrap().to_string())
}

/// The status of the kitchen's first delivery attempt of the device event `event_id`.
async fn first_kitchen_attempt(activity: &mut Follower, event_id: &str) -> anyhow::Result<u16> {
    let message_id = activity.sns_message_id_of(event_id).await?;
    let bridge = bridge_of("kitchen");
    activity
        .until("the kitchen's first delivery attempt", |seen| {
            seen.iter().find_map(|activity| match activity {
                Activity::DeliveryAttempt {
                    endpoint,
                    sns_message_id,
                    status,
                    ..
                } if *endpoint == bridge && *sns_message_id == message_id => {
                    Some(status.unwrap_or_default())
                }
                _ => None,
            })
        })
        .await
}

#[test]
fn the_bridge_invokes_only_the_handler_its_role_allows() {
    run(async {
        let edits = [Edit::new(
            CONSUMER_LAMBDAS,
            "resources = [aws_lambda_function.handler[0].arn]",
            "resources = [\"${aws_lambda_function.handler[0].arn}-other\"]",
        )];
        let (status, denial) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let mut activity = Follower::start();
            let event_id = cooking_request("h-deny-invoke").await?;
            let status = first_kitchen_attempt(&mut activity, &event_id).await?;
            let denial = activity
                .denial("lambda:InvokeFunction", "kitchen-bridge")
                .await?;
            Ok((status, denial))
        })
        .await
        .unwrap();
        assert!(
            (500..600).contains(&status),
            "an AccessDenied invoke is the bridge's 5xx (SNS retries): {status}"
        );
        assert!(
            denial.1.ends_with(":function:postoffice-kitchen-handler"),
            "{denial:?}"
        );
    });
}

#[test]
fn sns_reaches_a_function_url_only_with_invoke_function_granted() {
    run(async {
        let edits = [Edit::new(
            CONSUMER_LAMBDAS,
            "  statement_id  = \"FunctionUrlInvokesTheBridge\"\n  action        = \"lambda:InvokeFunction\"",
            "  statement_id  = \"FunctionUrlInvokesTheBridge\"\n  action        = \"lambda:GetFunction\"",
        )];
        let (status, denial) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let mut activity = Follower::start();
            let event_id = cooking_request("h-deny-url").await?;
            let status = first_kitchen_attempt(&mut activity, &event_id).await?;
            let denial = activity.denial("lambda:InvokeFunction", "").await?;
            Ok((status, denial))
        })
        .await
        .unwrap();
        assert_eq!(status, 403, "a function URL without the grant answers 403");
        assert!(
            denial.1.ends_with(":function:postoffice-kitchen-bridge"),
            "{denial:?}"
        );
    });
}

#[test]
fn a_subscription_stays_pending_when_the_bridge_may_not_confirm_it() {
    run(async {
        // A subscription is confirmed once, when it is created: drop the kitchen's request
        // subscription so that applying the copy creates it again.
        let control = post_office().control_plane();
        let subscription = post_office()
            .plan()
            .topics
            .values()
            .filter(|topic| topic.arn.ends_with("-COOKING_REQUESTED"))
            .flat_map(|topic| &topic.subscriptions)
            .find(|subscription| subscription.arn.contains("COOKING_REQUESTED") && matches!(&subscription.endpoint, postoffice_local::plan::Endpoint::FunctionUrl { function, .. } if *function == bridge_of("kitchen")))
            .map(|subscription| subscription.arn.clone())
            .expect("the kitchen subscribes to COOKING_REQUESTED");
        control
            .sns
            .unsubscribe()
            .subscription_arn(&subscription)
            .send()
            .await
            .unwrap();
        let edits = [
            Edit::new(
                CONSUMER_LAMBDAS,
                "actions   = [\"sns:ConfirmSubscription\"]",
                "actions   = [\"sns:GetTopicAttributes\"]",
            ),
            Edit::new(
                "modules/consumer/main.tf",
                "confirmation_timeout_in_minutes = 2",
                "confirmation_timeout_in_minutes = 1",
            ),
        ];
        let mut activity = Follower::start();
        let (applied, denial) = with_terraform_changed(&edits, |applied| async move {
            let denial = activity
                .denial("sns:ConfirmSubscription", "kitchen-bridge")
                .await?;
            Ok((applied, denial))
        })
        .await
        .unwrap();
        let error = format!(
            "{:#}",
            applied.expect_err("the apply waits for a confirmation that never comes")
        );
        assert!(error.contains("aws_sns_topic_subscription"), "{error}");
        assert!(denial.1.ends_with("-COOKING_REQUESTED"), "{denial:?}");
        // The project's Terraform, applied again, has the subscription confirmed.
        let mut activity = Follower::start();
        let event_id = cooking_request("h-confirm-back").await.unwrap();
        assert_eq!(
            first_kitchen_attempt(&mut activity, &event_id)
                .await
                .unwrap(),
            200
        );
    });
}

#[test]
fn a_handler_publishes_only_the_events_its_role_allows() {
    run(async {
        let edits = [Edit::new(
            CONSUMER_LAMBDAS,
            "sid       = \"PublishItsEvents\"\n      actions   = [\"sns:Publish\"]",
            "sid       = \"PublishItsEvents\"\n      actions   = [\"sns:GetTopicAttributes\"]",
        )];
        let (status, denial) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let mut activity = Follower::start();
            let event_id = cooking_request("h-deny-publish").await?;
            let status = first_kitchen_attempt(&mut activity, &event_id).await?;
            let denial = activity.denial("sns:Publish", "kitchen-handler").await?;
            Ok((status, denial))
        })
        .await
        .unwrap();
        assert_eq!(status, 500, "the handler's failed publish is retryable");
        assert!(
            denial.1.ends_with("-COOKING_REPLIED") || denial.1.ends_with("-COOKING_STARTED"),
            "{denial:?}"
        );
    });
}

#[test]
fn the_forwarder_reaches_devices_only_with_iot_publish_granted() {
    run(async {
        let edits = [Edit::new(
            CONSUMER_LAMBDAS,
            "sid       = \"ForwardToActors\"\n      actions   = [\"iot:Publish\"]",
            "sid       = \"ForwardToActors\"\n      actions   = [\"iot:Receive\"]",
        )];
        let (denial, reply) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let mut activity = Follower::start();
            let (mut oven, _) = household_with_device("h-deny-forward").await?;
            let request = device_message(example("COOKING_REQUESTED"));
            oven.publish("COOKING_REQUESTED", &request).await?;
            let denial = activity
                .denial("iot:Publish", "iot-forwarder-handler")
                .await?;
            let reply = oven
                .receive(Duration::from_secs(2), |m| {
                    m.topic.starts_with("COOKING_REPLIED/")
                })
                .await;
            Ok((denial, reply.is_ok()))
        })
        .await
        .unwrap();
        assert!(denial.1.contains(":topic/COOKING_"), "{denial:?}");
        assert!(!reply, "no reply reaches the device without iot:Publish");
    });
}

#[test]
fn sns_dead_letters_only_into_a_queue_whose_policy_admits_it() {
    run(async {
        let edits = [Edit::new(
            "modules/consumer/main.tf",
            "sid       = \"EventTopicsDeadLetterHere\"\n    actions   = [\"sqs:SendMessage\"]",
            "sid       = \"EventTopicsDeadLetterHere\"\n    actions   = [\"sqs:GetQueueAttributes\"]",
        )];
        let (event_id, denial, lost) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let (oven, _) = household_with_device("h-deny-dlq").await?;
            let mut activity = Follower::start();
            // The handler rejects this payload for good: SNS dead-letters it at once.
            let request = device_message(serde_json::json!({"program": "microwave"}));
            let event_id = request.event_id.unwrap().to_string();
            oven.publish("COOKING_REQUESTED", &request).await?;
            let denial = activity
                .denial("sqs:SendMessage", "sns.amazonaws.com")
                .await?;
            let lost = activity
                .until("the lost message", |seen| {
                    seen.iter().find_map(|activity| match activity {
                        Activity::DeliveryLost { reason, .. } => Some(reason.clone()),
                        _ => None,
                    })
                })
                .await?;
            Ok((event_id, denial, lost))
        })
        .await
        .unwrap();
        assert!(denial.1.ends_with(":postoffice-kitchen-dlq"), "{denial:?}");
        assert!(!lost.is_empty());
        let letters = dead_letters("kitchen").await.unwrap();
        assert!(
            letters
                .iter()
                .all(|letter| letter.envelope.event_id.to_string() != event_id),
            "the dead letter was refused by the queue policy"
        );
    });
}

#[test]
fn the_rule_publishes_to_the_encrypted_topic_only_with_the_key_granted() {
    run(async {
        let edits = [Edit::new(
            "modules/event/main.tf",
            "    actions   = [\"kms:GenerateDataKey\", \"kms:Decrypt\"]",
            "    actions   = [\"kms:Decrypt\"]",
        )];
        let (failed, denial, event_id) = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let mut activity = Follower::start();
            let event_id = cooking_request("h-deny-kms").await?;
            let denial = activity
                .denial("kms:GenerateDataKey", "COOKING_REQUESTED-rule")
                .await?;
            let failed = activity
                .until("the rule's failure", |seen| {
                    seen.iter().find_map(|activity| match activity {
                        Activity::RuleFailed {
                            rule,
                            error,
                            kept,
                            error_action_failure,
                            ..
                        } if rule.ends_with("_COOKING_REQUESTED") => {
                            Some((error.clone(), *kept, error_action_failure.clone()))
                        }
                        _ => None,
                    })
                })
                .await?;
            Ok((failed, denial, event_id))
        })
        .await
        .unwrap();
        assert!(failed.1, "the error action keeps the message: {failed:?}");
        assert!(
            failed.0.contains("KMS") || failed.0.contains("kms"),
            "{failed:?}"
        );
        assert!(denial.1.contains(":key/"), "{denial:?}");
        let errors = post_office()
            .queue_url(&format!("{}-rule-errors", post_office().options.prefix))
            .expect("the rule-errors queue");
        let kept = peek_queue(&errors).await.unwrap();
        // The error action's document carries the message as published, in base64.
        let held = kept.iter().any(|message| {
            serde_json::from_str::<serde_json::Value>(message.body.as_deref().unwrap_or_default())
                .ok()
                .and_then(|body| body["base64OriginalPayload"].as_str().map(base64_decode))
                .is_some_and(|payload| String::from_utf8_lossy(&payload).contains(&event_id))
        });
        assert!(held, "the rule-errors queue holds the request");
    });
}

const DEVICES: &str = "modules/platform/devices.tf";

#[test]
fn a_device_publishes_only_for_the_household_its_policy_names() {
    run(async {
        let (oven, _) = household_with_device("h-own").await.unwrap();
        let neighbour = unique("h-neighbour");
        let foreign = format!("COOKING_REQUESTED/{neighbour}/{}", oven.device_id);
        let payload = serde_json::to_vec(&device_message(example("COOKING_REQUESTED"))).unwrap();
        let mut activity = Follower::start();
        oven.publish_to(&foreign, payload.clone())
            .await
            .expect_err("the project's device policy names the device's own household");
        let (what, reason) = activity
            .gateway_refusal(&oven.device_id, "iot:Publish")
            .await
            .unwrap();
        assert!(what.ends_with(&foreign), "{what}: {reason}");

        let edits = [Edit::new(
            DEVICES,
            ":topic/${event}/${local.household}/${local.client}",
            ":topic/${event}/*/${local.client}",
        )];
        with_terraform_changed(&edits, |applied| async move {
            applied?;
            let (oven, credentials) = household_with_device("h-widened").await?;
            let foreign = format!("COOKING_REQUESTED/{neighbour}/{}", credentials.thing);
            oven.publish_to(&foreign, payload).await
        })
        .await
        .expect("a policy widened to any household lets the publish through");
    });
}

#[test]
fn a_device_subscribes_only_to_the_filters_its_policy_allows() {
    run(async {
        let post_office = post_office();
        let subscribe = |thing: String, filters: Vec<String>| async move {
            let household = unique("h-sub");
            let credentials = post_office
                .register_device(&thing, Some(&household))
                .await?;
            let tls = post_office.device_tls(&credentials)?;
            let own = format!("+/{household}/{}", credentials.thing);
            let filters: Vec<String> = filters
                .into_iter()
                .map(|filter| if filter == "OWN" { own.clone() } else { filter })
                .collect();
            MqttSession::connect(
                post_office.endpoints.mqtt,
                &credentials.thing,
                &tls,
                &filters,
                WAIT,
            )
            .await
            .map(|_| ())
        };
        subscribe(unique("oven"), vec!["OWN".into()])
            .await
            .expect("its own topics");
        subscribe(unique("oven"), vec!["#".into()])
            .await
            .expect_err("a wildcard over every household");

        let edits = [Edit::new(
            DEVICES,
            ":topicfilter/*/${local.household}/${local.thing}",
            ":topicfilter/COOKING_REPLIED/${local.household}/${local.thing}",
        )];
        let refused = with_terraform_changed(&edits, |applied| async move {
            applied?;
            let mut activity = Follower::start();
            let thing = unique("oven");
            let subscribed = subscribe(thing.clone(), vec!["OWN".into()]).await;
            let refusal = activity.gateway_refusal(&thing, "iot:Subscribe").await?;
            Ok((subscribed.is_err(), refusal))
        })
        .await
        .unwrap();
        assert!(
            refused.0,
            "a narrowed policy refuses the wildcard over its own topics"
        );
        assert!(refused.1.0.contains(":topicfilter/+/"), "{:?}", refused.1);
    });
}

#[test]
fn an_iot_policy_over_the_size_limit_fails_the_apply() {
    run(async {
        // IoT refuses a policy document over 2,048 characters (whitespace excluded), which the
        // module's own precondition reports first: take the precondition away and grow the
        // policy past the limit.
        let edits = [
            Edit::new(
                DEVICES,
                "condition     = length(replace(jsonencode(each.value), \"/\\\\s/\", \"\")) <= local.device_policy_limit",
                "condition     = length(each.value) > 0",
            ),
            Edit::new(
                DEVICES,
                "Sid    = \"PublishItsOwnEvents\"",
                format!("Sid    = \"PublishItsOwnEvents{}\"", "x".repeat(2100)),
            ),
        ];
        let applied = with_terraform_changed(&edits, |applied| async move { Ok(applied) })
            .await
            .unwrap();
        let error = format!("{:#}", applied.expect_err("IoT refuses the policy"));
        assert!(error.contains("2048") || error.contains("2,048"), "{error}");
    });
}
