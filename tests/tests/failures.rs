//! Failures and recovery: a retryable handler failure is retried per the delivery policy and
//! then dead-lettered, a permanent one is dead-lettered at once, `postoffice dlq redrive` brings
//! messages back once the handler recovers (republished to the kitchen's redrive topic, which
//! SNS delivers to the kitchen only), and every published message is accounted for.
//!
//! The kitchen's outage (its recipe store taken away) is global, so this file's tests run one
//! at a time (`--test-threads=1`) and each puts the store back, also when it fails.

use std::collections::BTreeSet;

use postoffice::sns::{StaticCertificateFetcher, SystemClock, Verifier};
use postoffice_e2e::{
    Follower, RecipeStoreOutage, WAIT, base64_decode, bridge_of, dead_letters, device_message,
    envelope, example, household_with_device, peek_queue, post_office, postoffice_command, run,
    stored_envelopes, wait_for,
};
use postoffice_local::activity::Activity;
use postoffice_local::plan::Endpoint;

/// The retry policy the applied Terraform gives the kitchen's COOKING_REQUESTED subscription.
fn kitchen_retry_policy() -> postoffice_local::sns::delivery_policy::HealthyRetryPolicy {
    let post_office = post_office();
    let bridge = bridge_of("kitchen");
    post_office
        .plan()
        .topics
        .values()
        .filter(|topic| topic.arn.ends_with("-COOKING_REQUESTED"))
        .flat_map(|topic| &topic.subscriptions)
        .find(|subscription| matches!(&subscription.endpoint, Endpoint::FunctionUrl { function, .. } if *function == bridge))
        .map(|subscription| subscription.retry_policy.clone())
        .expect("the kitchen subscribes to COOKING_REQUESTED")
}

fn delivery_policy_retries() -> usize {
    kitchen_retry_policy().num_retries as usize
}

#[test]
fn a_retryable_failure_is_retried_per_the_delivery_policy_then_dead_lettered() {
    run(async {
        let post_office = post_office();
        let (oven, _) = household_with_device("h-retry").await.unwrap();
        let mut activity = Follower::start();
        let request = device_message(example("COOKING_REQUESTED"));
        let event_id = request.event_id.unwrap().to_string();
        let history = {
            let _outage = RecipeStoreOutage::begin();
            oven.publish("COOKING_REQUESTED", &request).await.unwrap();
            let message_id = activity.sns_message_id_of(&event_id).await.unwrap();
            activity.delivery_of("kitchen", &message_id).await.unwrap()
        };
        assert!(history.dead_lettered, "{history:?}");
        assert_eq!(
            history.statuses.len(),
            1 + delivery_policy_retries(),
            "{history:?}"
        );
        assert!(
            history.statuses.iter().all(|status| *status == Some(500)),
            "the bridge answers a retryable handler error with 500: {history:?}"
        );
        let expected: Vec<u64> = kitchen_retry_policy()
            .retry_delays()
            .iter()
            .map(|delay| delay.mul_f64(postoffice_e2e::TIME_SCALE).as_millis() as u64)
            .collect();
        assert_eq!(history.retry_delays_ms, expected);

        let letter = wait_for("the dead letter", WAIT, || async {
            dead_letters("kitchen")
                .await
                .unwrap()
                .into_iter()
                .find(|letter| letter.envelope.event_id.to_string() == event_id)
        })
        .await;
        // What SNS writes to a subscription's DLQ: the signed HTTP/S document and its reason.
        assert_eq!(
            letter.attributes.get("ErrorCode").map(String::as_str),
            Some("500")
        );
        assert!(letter.attributes.contains_key("RequestID"));
        // Published by the IoT rule, whose SNS action sets no message attributes.
        assert!(letter.sns.message_attributes.is_empty(), "{letter:?}");
        assert_eq!(letter.envelope.household_id, oven.household_id);
        let certificate = std::fs::read(post_office.run_dir().join("local-signing.pem")).unwrap();
        let verifier = Verifier::new(StaticCertificateFetcher::new(), SystemClock)
            .with_local_certificate(&certificate)
            .unwrap();
        verifier
            .verify(&letter.sns)
            .await
            .expect("the dead letter is signed");
    });
}

#[test]
fn a_permanent_failure_is_dead_lettered_without_retries() {
    run(async {
        let (oven, _) = household_with_device("h-perm").await.unwrap();
        let mut activity = Follower::start();
        // Valid JSON, but not a COOKING_REQUESTED payload: the handler rejects it for good.
        let request = device_message(serde_json::json!({"program": "microwave"}));
        let event_id = request.event_id.unwrap().to_string();
        oven.publish("COOKING_REQUESTED", &request).await.unwrap();
        let message_id = activity.sns_message_id_of(&event_id).await.unwrap();
        let history = activity.delivery_of("kitchen", &message_id).await.unwrap();
        assert!(history.dead_lettered, "{history:?}");
        assert_eq!(
            history.statuses,
            vec![Some(400)],
            "one attempt, answered 400"
        );
        assert!(history.retry_delays_ms.is_empty());
        let letter = wait_for("the dead letter", WAIT, || async {
            dead_letters("kitchen")
                .await
                .unwrap()
                .into_iter()
                .find(|letter| letter.envelope.event_id.to_string() == event_id)
        })
        .await;
        assert_eq!(
            letter.attributes.get("ErrorCode").map(String::as_str),
            Some("400")
        );
    });
}

#[test]
fn redrive_brings_dead_letters_back_once_the_handler_recovers() {
    run(async {
        let (mut oven, _) = household_with_device("h-redrive").await.unwrap();
        let mut activity = Follower::start();
        let requests: Vec<_> = (0..3)
            .map(|_| device_message(example("COOKING_REQUESTED")))
            .collect();
        {
            let _outage = RecipeStoreOutage::begin();
            for request in &requests {
                oven.publish("COOKING_REQUESTED", request).await.unwrap();
            }
            for request in &requests {
                let id = request.event_id.unwrap().to_string();
                let message_id = activity.sns_message_id_of(&id).await.unwrap();
                let history = activity.delivery_of("kitchen", &message_id).await.unwrap();
                assert!(history.dead_lettered, "{history:?}");
            }
        }
        let household_filter = format!("household_id={}", oven.household_id);
        let (ok, output) =
            postoffice_command(&["dlq", "redrive", "kitchen", "--filter", &household_filter])
                .await
                .unwrap();
        assert!(ok, "postoffice dlq redrive failed:\n{output}");
        assert!(
            output.contains("republished 3, failed 0, skipped 0, refused 0"),
            "{output}"
        );

        // SNS, not the command, delivered them: from the kitchen's redrive topic to its bridge.
        let redrive_topic = format!(":{}-kitchen-redrive", post_office().options.prefix);
        let bridge = bridge_of("kitchen");
        activity
            .until("three deliveries from the redrive topic", |seen| {
                (seen
                    .iter()
                    .filter(|activity| {
                        matches!(activity, Activity::Delivered { endpoint, topic, .. }
                        if *endpoint == bridge && topic.ends_with(&redrive_topic))
                    })
                    .count()
                    >= 3)
                    .then_some(())
            })
            .await
            .unwrap();

        let mut answered = BTreeSet::new();
        while answered.len() < requests.len() {
            let reply = oven
                .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
                .await
                .unwrap_or_else(|error| panic!("{error}; redrive said:\n{output}"));
            answered.insert(envelope(&reply.payload).unwrap().correlation_id);
        }
        let expected: BTreeSet<_> = requests.iter().map(|r| r.event_id.unwrap()).collect();
        assert_eq!(answered, expected);
        let left: Vec<_> = dead_letters("kitchen")
            .await
            .unwrap()
            .into_iter()
            .filter(|letter| letter.envelope.household_id == oven.household_id)
            .collect();
        assert!(left.is_empty(), "still dead-lettered: {left:?}");
    });
}

#[test]
fn every_published_message_is_handled_or_dead_lettered() {
    run(async {
        let (mut oven, _) = household_with_device("h-count").await.unwrap();
        let valid: Vec<_> = (0..12)
            .map(|_| device_message(example("COOKING_REQUESTED")))
            .collect();
        let invalid: Vec<_> = (0..4)
            .map(|_| device_message(serde_json::json!({"program": "microwave"})))
            .collect();
        for request in valid.iter().chain(&invalid) {
            oven.publish("COOKING_REQUESTED", request).await.unwrap();
        }
        let published: BTreeSet<_> = valid
            .iter()
            .chain(&invalid)
            .map(|r| r.event_id.unwrap())
            .collect();

        let mut handled = BTreeSet::new();
        while handled.len() < valid.len() {
            let reply = oven
                .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
                .await
                .unwrap_or_else(|error| panic!("{error}; handled so far: {}", handled.len()));
            handled.insert(envelope(&reply.payload).unwrap().correlation_id);
        }
        let household = oven.household_id.clone();
        let dead: BTreeSet<_> = wait_for("the invalid requests in the DLQ", WAIT, || async {
            let dead: BTreeSet<_> = dead_letters("kitchen")
                .await
                .unwrap()
                .into_iter()
                .filter(|letter| letter.envelope.household_id == household)
                .map(|letter| letter.envelope.event_id)
                .collect();
            (dead.len() >= invalid.len()).then_some(dead)
        })
        .await;
        eprintln!(
            "published {}, handled {}, dead-lettered {}",
            published.len(),
            handled.len(),
            dead.len()
        );
        assert!(
            handled.is_disjoint(&dead),
            "handled and dead-lettered: {:?}",
            handled.intersection(&dead).collect::<Vec<_>>()
        );
        let accounted: BTreeSet<_> = handled.union(&dead).copied().collect();
        assert_eq!(accounted, published, "published = handled + in the DLQ");

        // The event store has every request, whatever became of it.
        let stored = wait_for("every request in the event store", WAIT, || async {
            let stored: BTreeSet<_> = stored_envelopes()
                .unwrap()
                .into_iter()
                .filter(|e| {
                    e["event"] == "COOKING_REQUESTED" && e["household_id"] == household.as_str()
                })
                .filter_map(|e| e["event_id"].as_str().and_then(|id| id.parse().ok()))
                .collect();
            (stored.len() >= published.len()).then_some(stored)
        })
        .await;
        assert_eq!(stored, published);
    });
}

#[test]
fn garbage_from_a_device_is_kept_in_one_queue_and_pages_no_consumer() {
    run(async {
        let post_office = post_office();
        let (oven, _) = household_with_device("h-garbage").await.unwrap();
        let mut activity = Follower::start();
        // Accepted by the device policy, unreadable as an envelope: the event rule leaves it,
        // the rejection rule keeps it (docs/contracts.md, "Rejected device messages").
        let garbage: [&[u8]; 2] = [br#"{"event_id":"x","payload":{}}"#, b"\x00\x01 not json"];
        for payload in garbage {
            oven.publish_to(&oven.topic("COOKING_REQUESTED"), payload.to_vec())
                .await
                .unwrap();
        }
        let queue = post_office
            .queue_url(&format!(
                "{}-rejected-device-messages",
                post_office.options.prefix
            ))
            .expect("the rejected-device-messages queue");
        let kept = wait_for("both messages in the rejected queue", WAIT, || async {
            let kept: Vec<serde_json::Value> = peek_queue(&queue)
                .await
                .ok()?
                .into_iter()
                .filter_map(|message| serde_json::from_str(message.body.as_deref()?).ok())
                .filter(|body: &serde_json::Value| {
                    body["topic"] == oven.topic("COOKING_REQUESTED").as_str()
                })
                .collect();
            (kept.len() == 2).then_some(kept)
        })
        .await;
        let mut unreadable: Vec<String> = kept
            .iter()
            .map(|body| body["unreadable"].to_string())
            .collect();
        unreadable.sort();
        assert_eq!(
            unreadable,
            vec![r#"["event_id"]"#, r#"["payload"]"#],
            "{kept:?}"
        );
        for body in &kept {
            assert_eq!(body["clientId"], oven.device_id.as_str());
            let original = base64_decode(body["base64OriginalPayload"].as_str().unwrap());
            assert!(garbage.contains(&original.as_slice()), "{body}");
        }
        // Neither reached SNS, so no consumer saw (or dead-lettered) them: the activity up to a
        // readable message published after them shows no rule publish of theirs.
        let sentinel = device_message(example("DEVICE_TELEMETRY_REPORTED"));
        oven.publish("DEVICE_TELEMETRY_REPORTED", &sentinel)
            .await
            .unwrap();
        activity
            .sns_message_id_of(&sentinel.event_id.unwrap().to_string())
            .await
            .unwrap();
        assert!(
            !activity.seen.iter().any(|seen| matches!(seen,
                Activity::RulePublished { topic, .. } if *topic == oven.topic("COOKING_REQUESTED"))),
            "{:?}",
            activity.seen
        );
    });
}
