//! Device → service → device, fan-out, the gateway's authorisation and the IoT rule's error
//! action, through one real local post office.

use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use postoffice_e2e::{
    Follower, WAIT, bridge_of, device_message, envelope, example, household_with_device,
    post_office, raw_publish, run, stored_envelopes, unique, wait_for,
};
use postoffice_local::activity::Activity;
use postoffice_local::plan::Endpoint;
use serde_json::json;

fn cooking_request() -> serde_json::Value {
    json!({"recipe_id": "sourdough-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700})
}

#[test]
fn a_request_from_a_device_is_answered_on_its_topic() {
    run(async {
        let (mut oven, _) = household_with_device("h-rt").await.unwrap();
        let request = device_message(cooking_request());
        let request_id = request.event_id.unwrap();
        let sent = Instant::now();
        oven.publish("COOKING_REQUESTED", &request).await.unwrap();

        // The reply and COOKING_STARTED travel through different topics: either may come first.
        let (mut reply, mut started) = (None, None);
        while reply.is_none() || started.is_none() {
            let message = oven
                .receive(WAIT, |m| {
                    m.topic.starts_with("COOKING_REPLIED/")
                        || m.topic.starts_with("COOKING_STARTED/")
                })
                .await
                .unwrap();
            if message.topic.starts_with("COOKING_REPLIED/") {
                reply = Some(message);
            } else {
                started = Some(message);
            }
        }
        let (reply, started) = (reply.unwrap(), started.unwrap());
        let latency = reply.at.duration_since(sent);
        let reply_envelope = envelope(&reply.payload).unwrap();
        assert_eq!(reply.topic, oven.topic("COOKING_REPLIED"));
        assert_eq!(reply_envelope.correlation_id, request_id);
        assert_eq!(reply_envelope.causation_id, Some(request_id));
        assert_eq!(reply_envelope.household_id, oven.household_id);
        assert_eq!(reply_envelope.device_id, oven.device_id);
        assert_eq!(
            reply_envelope.payload["status"], "accepted",
            "{reply_envelope:?}"
        );

        assert_eq!(
            envelope(&started.payload).unwrap().correlation_id,
            request_id
        );
        eprintln!(
            "device → reply round trip: {:.1} ms",
            latency.as_secs_f64() * 1000.0
        );
    });
}

#[test]
fn identity_comes_from_the_topic_not_from_the_device_message() {
    run(async {
        let (oven, _) = household_with_device("h-id").await.unwrap();
        let mut message = serde_json::to_value(device_message(cooking_request())).unwrap();
        message["household_id"] = json!("h-someone-else");
        message["device_id"] = json!("not-me");
        let event_id = message["event_id"].as_str().unwrap().to_owned();
        oven.publish_to(
            &oven.topic("COOKING_REQUESTED"),
            serde_json::to_vec(&message).unwrap(),
        )
        .await
        .unwrap();
        let stored = wait_for("the request in the event store", WAIT, || async {
            stored_envelopes()
                .unwrap()
                .into_iter()
                .find(|e| e["event_id"] == event_id.as_str())
        })
        .await;
        assert_eq!(stored["household_id"], oven.household_id.as_str());
        assert_eq!(stored["device_id"], oven.device_id.as_str());
        assert_eq!(stored["source"], oven.device_id.as_str());
        assert!(stored["received_at"].is_string());
    });
}

#[test]
fn one_event_fans_out_to_every_subscribed_consumer_its_filter_lets_through() {
    run(async {
        let post_office = post_office();
        let mut activity = Follower::start();
        let (oven, _) = household_with_device("h-fan").await.unwrap();
        // The applied subscriptions of COOKING_FINISHED: kitchen and telemetry, and telemetry's
        // filter policy keeps only cooks that did not complete.
        let subscribers: BTreeSet<String> = post_office
            .plan()
            .topics
            .values()
            .filter(|topic| topic.arn.ends_with("-COOKING_FINISHED"))
            .flat_map(|topic| &topic.subscriptions)
            .filter_map(|subscription| match &subscription.endpoint {
                Endpoint::FunctionUrl { function, .. } => Some(function.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            subscribers,
            BTreeSet::from([bridge_of("kitchen"), bridge_of("telemetry")])
        );

        let failed = device_message(
            json!({"outcome": "failed", "finished_at": "2026-11-23T18:21:44Z", "cooked_s": 1184, "error_code": "E21"}),
        );
        let event_id = failed.event_id.unwrap().to_string();
        oven.publish("COOKING_FINISHED", &failed).await.unwrap();
        let sns_message_id = activity.sns_message_id_of(&event_id).await.unwrap();
        for consumer in ["kitchen", "telemetry"] {
            let history = activity
                .delivery_of(consumer, &sns_message_id)
                .await
                .unwrap();
            assert!(!history.dead_lettered, "{consumer}: {history:?}");
            assert_eq!(history.statuses, vec![Some(200)], "{consumer}: {history:?}");
        }

        // A completed cook reaches the kitchen only: SNS filters it out for telemetry.
        let completed = device_message(example("COOKING_FINISHED"));
        assert_eq!(completed.payload["outcome"], "completed");
        let completed_id = completed.event_id.unwrap().to_string();
        oven.publish("COOKING_FINISHED", &completed).await.unwrap();
        let sns_message_id = activity.sns_message_id_of(&completed_id).await.unwrap();
        let history = activity
            .delivery_of("kitchen", &sns_message_id)
            .await
            .unwrap();
        assert_eq!(history.statuses, vec![Some(200)]);
        wait_for("the kitchen's delivery to settle", WAIT, || async {
            (post_office.pending_deliveries() == 0).then_some(())
        })
        .await;
        let to_telemetry = activity.seen.iter().any(|seen| {
            matches!(seen, Activity::DeliveryAttempt { endpoint, sns_message_id: id, .. }
                if *endpoint == bridge_of("telemetry") && *id == sns_message_id)
        });
        assert!(
            !to_telemetry,
            "telemetry's filter policy let a completed cook through"
        );
    });
}

#[test]
fn the_gateway_refuses_what_the_device_policy_forbids() {
    run(async {
        let mut activity = Follower::start();
        let (oven, credentials) = household_with_device("h-acl").await.unwrap();
        let other_household = unique("h-other");
        let payload = serde_json::to_vec(&device_message(cooking_request())).unwrap();
        let forbidden = [
            // Another household, another device of its own household, an event devices do not
            // produce.
            format!("COOKING_REQUESTED/{other_household}/{}", oven.device_id),
            format!("COOKING_REQUESTED/{}/{}", oven.household_id, unique("oven")),
            oven.topic("COOKING_REPLIED"),
        ];
        for topic in &forbidden {
            let refused = oven.publish_to(topic, payload.clone()).await;
            assert!(refused.is_err(), "{topic} was acknowledged as accepted");
            let error = refused.unwrap_err().to_string();
            assert!(error.contains("NotAuthorized"), "{topic}: {error}");
            activity
                .until(&format!("the gateway's refusal of {topic}"), |seen| {
                    seen.iter()
                        .any(|seen| {
                            matches!(seen,
                        Activity::GatewayRefused { client_id, what, .. }
                            if *client_id == oven.device_id && what.ends_with(topic.as_str()))
                        })
                        .then_some(())
                })
                .await
                .unwrap();
        }
        // A wildcard in a publish topic is a protocol violation: the gateway drops the
        // connection without acknowledging. Sent raw, since client libraries refuse to send it.
        let wildcard = format!("COOKING_REQUESTED/{}/+", oven.household_id);
        let answer = raw_publish(&credentials, &wildcard, &payload)
            .await
            .unwrap();
        assert_eq!(answer, None, "the gateway answered a wildcard publish");

        // No rule ran on any of them, and nothing reached the other household.
        let sentinel = device_message(example("DEVICE_TELEMETRY_REPORTED"));
        let sentinel_id = sentinel.event_id.unwrap().to_string();
        oven.publish("DEVICE_TELEMETRY_REPORTED", &sentinel)
            .await
            .unwrap();
        activity.sns_message_id_of(&sentinel_id).await.unwrap();
        let ruled: Vec<_> = activity
            .seen
            .iter()
            .filter(|seen| matches!(seen, Activity::RulePublished { topic, .. } if forbidden.contains(topic)))
            .collect();
        assert!(ruled.is_empty(), "{ruled:?}");
        let stray: Vec<_> = stored_envelopes()
            .unwrap()
            .into_iter()
            .filter(|e| e["household_id"] == other_household.as_str())
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    });
}

#[test]
fn nothing_is_left_pending_once_delivered() {
    run(async {
        let post_office = post_office();
        let (mut oven, _) = household_with_device("h-q").await.unwrap();
        oven.publish("COOKING_REQUESTED", &device_message(cooking_request()))
            .await
            .unwrap();
        oven.receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
            .await
            .unwrap();
        wait_for(
            "every published message to be delivered or dead-lettered",
            Duration::from_secs(10),
            || async { (post_office.pending_deliveries() == 0).then_some(()) },
        )
        .await;
    });
}

#[test]
fn the_gateway_disconnects_a_device_over_iot_cores_limits_and_serves_the_others() {
    run(async {
        // Registered, not connected: raw_publish connects as the thing itself.
        let household = unique("h-limits");
        let credentials = post_office()
            .register_device(&unique("oven"), Some(&household))
            .await
            .unwrap();
        let (mut bystander, _) = household_with_device("h-bystander").await.unwrap();
        let own = |event: &str| format!("{event}/{household}/{}", credentials.thing);
        let message = serde_json::to_vec(&device_message(cooking_request())).unwrap();
        // IoT Core: payloads up to 128 KB, topics up to 256 bytes with at most 7 slashes
        // (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits).
        let mut oversize = message.clone();
        oversize.resize(128 * 1024 + 1, b' ');
        let deep = format!("{}/a/b/c/d/e/f", own("COOKING_REQUESTED"));
        let long = format!("{}/{}", own("COOKING_REQUESTED"), "x".repeat(256));
        for (what, topic, payload) in [
            ("a payload over 128 KB", own("COOKING_REQUESTED"), oversize),
            ("a topic with 8 slashes", deep, message.clone()),
            ("a topic over 256 bytes", long, message.clone()),
        ] {
            let answer = raw_publish(&credentials, &topic, &payload).await.unwrap();
            assert_eq!(answer, None, "the gateway acknowledged {what}");
        }
        // The limits hold for one connection: everyone else is served as before.
        let request = device_message(cooking_request());
        bystander
            .publish("COOKING_REQUESTED", &request)
            .await
            .unwrap();
        let reply = bystander
            .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
            .await
            .unwrap();
        assert_eq!(
            envelope(&reply.payload).unwrap().correlation_id,
            request.event_id.unwrap()
        );
        // And the device itself may connect again and publish within the limits.
        let answer = raw_publish(&credentials, &own("COOKING_REQUESTED"), &message)
            .await
            .unwrap();
        assert_eq!(answer, Some(0x40), "PUBACK for a publish within the limits");
    });
}

#[test]
fn a_certificate_connects_only_as_its_own_thing() {
    run(async {
        let post_office = post_office();
        let (victim, _) = household_with_device("h-victim").await.unwrap();
        let household = unique("h-thief");
        let thief = post_office
            .register_device(&unique("oven"), Some(&household))
            .await
            .unwrap();
        let tls = post_office.device_tls(&thief).unwrap();
        // iot:Connect on client/${iot:Connection.Thing.ThingName}: another device's client id
        // would take its session over; IoT Core refuses the CONNECT.
        let taken = postoffice_local::mqtt::MqttSession::connect(
            post_office.endpoints.mqtt,
            &victim.device_id,
            &tls,
            &[],
            WAIT,
        )
        .await;
        assert!(taken.is_err(), "connected with another thing's client id");
        // The victim's session is untouched: it still gets its replies.
        let mut victim = victim;
        let request = device_message(cooking_request());
        victim.publish("COOKING_REQUESTED", &request).await.unwrap();
        victim
            .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
            .await
            .unwrap();
    });
}
