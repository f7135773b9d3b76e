//! Device → service → device, fan-out, the gateway's authorisation and the IoT rule's error
//! action, through one real local post office.

use std::time::{Duration, Instant};

use postoffice_e2e::{
    Follower, WAIT, device_message, envelope, example, household_with_device, peek_queue,
    post_office, raw_publish, run, stored_envelopes, unique, wait_for,
};
use postoffice_local::mqtt::MqttSession;
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
fn one_event_fans_out_to_every_consumer() {
    run(async {
        let post_office = post_office();
        let mut activity = Follower::start();
        let (oven, _) = household_with_device("h-fan").await.unwrap();
        let finished = device_message(example("COOKING_FINISHED"));
        let event_id = finished.event_id.unwrap().to_string();
        oven.publish("COOKING_FINISHED", &finished).await.unwrap();

        let sns_message_id = activity.sns_message_id_of(&event_id).await.unwrap();
        for consumer in ["kitchen", "telemetry"] {
            let history = activity
                .delivery_of(consumer, &sns_message_id)
                .await
                .unwrap();
            assert!(!history.dead_lettered, "{consumer}: {history:?}");
            assert_eq!(history.statuses, vec![Some(200)], "{consumer}: {history:?}");
        }
        // Exactly these two consumers subscribe to COOKING_FINISHED.
        let consumers: std::collections::BTreeSet<_> = post_office
            .provisioned
            .subscriptions
            .iter()
            .filter(|s| s.event == "COOKING_FINISHED")
            .map(|s| s.consumer.as_str())
            .collect();
        assert_eq!(
            consumers.into_iter().collect::<Vec<_>>(),
            ["kitchen", "telemetry"]
        );
        // The telemetry handler's own record of what it handled.
        let log = post_office.run_dir().join("telemetry-handled.jsonl");
        wait_for("telemetry's handled-event log line", WAIT, || async {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|text| text.contains(&event_id))
        })
        .await;
    });
}

#[test]
fn the_broker_refuses_what_the_device_policy_forbids() {
    run(async {
        let post_office = post_office();
        let (oven, credentials) = household_with_device("h-acl").await.unwrap();
        let other_household = unique("h-other");
        let (_observer, mut seen) = MqttSession::connect(
            post_office.endpoints.mqtt_port,
            &unique("observer"),
            &post_office.gateway_credentials(),
            &[
                format!("+/{}/+", oven.household_id),
                format!("+/{other_household}/+"),
            ],
            WAIT,
        )
        .await
        .unwrap();
        let payload = serde_json::to_vec(&device_message(cooking_request())).unwrap();
        let forbidden = [
            format!("COOKING_REQUESTED/{other_household}/{}", oven.device_id),
            format!("COOKING_REQUESTED/{}/{}", oven.household_id, unique("oven")),
            oven.topic("COOKING_REPLIED"),
        ];
        for topic in &forbidden {
            let refused = oven.publish_to(topic, payload.clone()).await;
            assert!(refused.is_err(), "{topic} was acknowledged as accepted");
        }
        // A wildcard in a publish topic is a protocol violation: the broker drops the connection
        // without acknowledging. Sent raw, since client libraries refuse to send it.
        let wildcard = format!("COOKING_REQUESTED/{}/+", oven.household_id);
        let answer = raw_publish(
            post_office.endpoints.mqtt_port,
            &credentials,
            &oven.device_id,
            &wildcard,
            &payload,
        )
        .await
        .unwrap();
        assert_eq!(answer, None, "the broker answered a wildcard publish");

        // Nothing of it reached any subscriber: the allowed message sent afterwards by the same
        // device is the first thing an observer of both households sees.
        let sentinel = device_message(example("DEVICE_TELEMETRY_REPORTED"));
        oven.publish("DEVICE_TELEMETRY_REPORTED", &sentinel)
            .await
            .unwrap();
        let first = tokio::time::timeout(WAIT, seen.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.topic, oven.topic("DEVICE_TELEMETRY_REPORTED"));
        let stray: Vec<_> = stored_envelopes()
            .unwrap()
            .into_iter()
            .filter(|e| e["household_id"] == other_household.as_str())
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    });
}

#[test]
fn a_message_the_rule_cannot_process_goes_to_the_rule_errors_queue() {
    run(async {
        let post_office = post_office();
        let (oven, _) = household_with_device("h-bad").await.unwrap();
        let topic = oven.topic("COOKING_REQUESTED");
        oven.publish_to(&topic, b"not json".to_vec()).await.unwrap();
        let error = wait_for("the rule error", WAIT, || async {
            peek_queue(&post_office.provisioned.rule_errors.url)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|m| serde_json::from_str::<serde_json::Value>(m.body()?).ok())
                .find(|body| body["topic"] == topic.as_str())
        })
        .await;
        assert_eq!(error["ruleName"], "postoffice_COOKING_REQUESTED");
        assert_eq!(error["clientId"], oven.device_id.as_str());
        assert_eq!(error["base64OriginalPayload"], "bm90IGpzb24="); // base64("not json")
        assert_eq!(error["failures"][0]["failedAction"], "SnsAction");
        assert!(
            error["failures"][0]["failedResource"]
                .as_str()
                .unwrap()
                .ends_with(":postoffice-COOKING_REQUESTED")
        );
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
