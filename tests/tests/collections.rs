//! Event collections end to end: the device library collects events the catalog lets wait, the
//! collection rule publishes one EVENT_COLLECTION, the collection-unpacker publishes each member
//! to its own event's topic (consumers and the event store see ordinary events), and members it
//! cannot publish are kept in the rejected-device-messages queue, one message each.

use std::time::Duration;

use postoffice::catalog::{COLLECTION_EVENT, Catalog};
use postoffice_device::{CollectionPolicy, Credentials, Device, DeviceConfig, Endpoint};
use postoffice_e2e::{
    Follower, WAIT, base64_decode, bridge_of, device_message, example, household_with_device,
    peek_queue, post_office, run, stored_envelopes, unique, wait_for,
};
use postoffice_local::activity::Activity;
use serde_json::{Value, json};

const TELEMETRY: &str = "DEVICE_TELEMETRY_REPORTED";

fn rejected_queue() -> String {
    let post_office = post_office();
    post_office
        .queue_url(&format!(
            "{}-rejected-device-messages",
            post_office.options.prefix
        ))
        .expect("the rejected-device-messages queue")
}

/// The envelopes in the event store whose event id is one of `event_ids`, once all are there.
async fn stored(event_ids: &[String]) -> Vec<Value> {
    wait_for("the members in the event store", WAIT, || async {
        let stored: Vec<Value> = stored_envelopes()
            .ok()?
            .into_iter()
            .filter(|envelope| {
                event_ids
                    .iter()
                    .any(|id| envelope["event_id"] == id.as_str())
            })
            .collect();
        (stored.len() == event_ids.len()).then_some(stored)
    })
    .await
}

#[test]
fn the_device_library_sends_collectable_events_together_and_consumers_get_each() {
    run(async {
        let post_office = post_office();
        let household = unique("h-coll");
        let thing = unique("oven");
        let credentials = post_office
            .register_device(&thing, Some(&household))
            .await
            .unwrap();
        let outbox = tempfile::tempdir().unwrap();
        let mut config = DeviceConfig::new(
            household.as_str(),
            thing.as_str(),
            Endpoint::new("localhost", post_office.endpoints.mqtt.port()),
            Credentials {
                certificate_pem: credentials.certificate.certificate_pem.clone().into_bytes(),
                private_key_pem: credentials.certificate.private_key_pem.clone().into_bytes(),
                ca_pem: std::fs::read(&post_office.endpoints.ca_bundle).unwrap(),
            },
            outbox.path(),
        );
        // What the catalog allows (telemetry waits up to an hour), sent as soon as three
        // are waiting.
        config.collections = CollectionPolicy::from_catalog(Catalog::embedded()).max_events(3);
        let device = Device::start(config).unwrap();
        let mut activity = Follower::start();

        let mut receipts = Vec::new();
        let mut payloads = Vec::new();
        for power_w in [1800, 2100, 950] {
            let mut payload = example(TELEMETRY);
            payload["power_w"] = json!(power_w);
            payloads.push(payload.clone());
            receipts.push(device.publish(TELEMETRY, payload).await.unwrap());
        }
        let member_ids: Vec<String> = receipts.iter().map(|r| r.event_id().to_string()).collect();
        for receipt in receipts {
            tokio::time::timeout(WAIT, receipt.acknowledged())
                .await
                .expect("the broker acknowledges the collection in time")
                .unwrap();
        }

        // One MQTT message on the collection topic, published by the collection rule.
        let collection_topic = format!("{COLLECTION_EVENT}/{household}/{thing}");
        let collection_message = activity
            .until("the collection rule to publish", |seen| {
                seen.iter().find_map(|activity| match activity {
                    Activity::RulePublished {
                        topic,
                        sns_message_id,
                        ..
                    } if *topic == collection_topic => Some(sns_message_id.clone()),
                    _ => None,
                })
            })
            .await
            .unwrap();
        let unpacked = activity
            .delivery_of("collection-unpacker", &collection_message)
            .await
            .unwrap();
        assert_eq!(unpacked.statuses, vec![Some(200)], "{unpacked:?}");

        // Each member is an ordinary telemetry event: identity from the collection's topic,
        // its own event id and payload, in the event store and delivered to telemetry.
        let mut members = stored(&member_ids).await;
        members.sort_by_key(|envelope| envelope["payload"]["power_w"].as_i64());
        payloads.sort_by_key(|payload| payload["power_w"].as_i64());
        for (envelope, payload) in members.iter().zip(&payloads) {
            assert_eq!(envelope["event"], TELEMETRY, "{envelope}");
            assert_eq!(envelope["household_id"], household.as_str());
            assert_eq!(envelope["device_id"], thing.as_str());
            assert_eq!(envelope["source"], thing.as_str());
            assert_eq!(&envelope["payload"], payload);
        }
        let telemetry = bridge_of("telemetry");
        let delivered = activity
            .until("telemetry to get the three members", |seen| {
                let delivered: Vec<&Activity> = seen
                    .iter()
                    .filter(|activity| {
                        matches!(activity, Activity::Delivered { endpoint, topic, .. }
                        if *endpoint == telemetry && topic.ends_with(&format!("-{TELEMETRY}")))
                    })
                    .collect();
                (delivered.len() >= member_ids.len()).then_some(delivered.len())
            })
            .await
            .unwrap();
        assert_eq!(delivered, member_ids.len());
        // Three events, one MQTT message: none of them travelled alone.
        assert!(
            !activity.seen.iter().any(|activity| matches!(activity,
                Activity::RulePublished { topic, .. } if topic.starts_with(&format!("{TELEMETRY}/{household}/")))),
            "a member was published alone"
        );
        device.close(Duration::from_secs(2)).await;
    });
}

#[test]
fn members_that_cannot_be_published_are_kept_apart_and_the_rest_go_on() {
    run(async {
        let (oven, _) = household_with_device("h-collrej").await.unwrap();
        let good = serde_json::to_value(device_message(example(TELEMETRY))).unwrap();
        let good_id = good["event_id"].as_str().unwrap().to_owned();
        let member = |message: &Value, event: &str| {
            let mut member = message.clone();
            member["event"] = json!(event);
            member
        };
        let mut too_hot = example(TELEMETRY);
        too_hot["cavity_temperature_c"] = json!(999);
        let collection_id = uuid::Uuid::new_v4().to_string();
        let collection = json!({
            "collection_id": collection_id,
            "events": [
                member(&good, TELEMETRY),
                member(&serde_json::to_value(device_message(too_hot)).unwrap(), TELEMETRY),
                // Devices produce it, but it may not wait in a collection.
                member(&serde_json::to_value(device_message(example("COOKING_REQUESTED"))).unwrap(), "COOKING_REQUESTED"),
                // The same event id again.
                member(&good, TELEMETRY),
            ],
        });
        oven.publish_to(
            &oven.topic(COLLECTION_EVENT),
            serde_json::to_vec(&collection).unwrap(),
        )
        .await
        .unwrap();

        let queue = rejected_queue();
        let mut kept = wait_for("the three rejected members", WAIT, || async {
            let kept: Vec<Value> = peek_queue(&queue)
                .await
                .ok()?
                .into_iter()
                .filter_map(|message| serde_json::from_str(message.body.as_deref()?).ok())
                .filter(|body: &Value| body["collectionId"] == collection_id.as_str())
                .collect();
            (kept.len() >= 3).then_some(kept)
        })
        .await;
        kept.sort_by_key(|body| body["member"].as_u64());
        let summary: Vec<(u64, Value)> = kept
            .iter()
            .map(|body| (body["member"].as_u64().unwrap(), body["unreadable"].clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, json!(["payload_schema"])),
                (2, json!(["event"])),
                (3, json!(["duplicate_event_id"])),
            ],
            "{kept:#?}"
        );
        for body in &kept {
            assert_eq!(body["ruleName"], "collection-unpacker");
            assert_eq!(body["topic"], oven.topic(COLLECTION_EVENT).as_str());
            assert_eq!(body["clientId"], oven.device_id.as_str());
            assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
            let original: Value = serde_json::from_slice(&base64_decode(
                body["base64OriginalPayload"].as_str().unwrap(),
            ))
            .unwrap();
            let index = body["member"].as_u64().unwrap() as usize;
            assert_eq!(original, collection["events"][index]);
        }
        // The readable member was published once, as its own event.
        let published = stored(std::slice::from_ref(&good_id)).await;
        assert_eq!(published[0]["event"], TELEMETRY);
        assert_eq!(published[0]["household_id"], oven.household_id.as_str());
    });
}

#[test]
fn a_collection_of_more_than_a_hundred_members_is_rejected_whole_by_the_rule() {
    run(async {
        let (oven, _) = household_with_device("h-collbig").await.unwrap();
        let mut activity = Follower::start();
        let members: Vec<Value> = (0..101)
            .map(|_| {
                let mut member = serde_json::to_value(device_message(example(TELEMETRY))).unwrap();
                member["event"] = json!(TELEMETRY);
                member
            })
            .collect();
        let collection_id = uuid::Uuid::new_v4().to_string();
        let payload =
            serde_json::to_vec(&json!({"collection_id": collection_id, "events": members}))
                .unwrap();
        oven.publish_to(&oven.topic(COLLECTION_EVENT), payload.clone())
            .await
            .unwrap();
        let queue = rejected_queue();
        let kept = wait_for("the collection in the rejected queue", WAIT, || async {
            peek_queue(&queue)
                .await
                .ok()?
                .into_iter()
                .filter_map(|message| serde_json::from_str::<Value>(message.body.as_deref()?).ok())
                .find(|body| {
                    body["topic"] == oven.topic(COLLECTION_EVENT).as_str()
                        && base64_decode(body["base64OriginalPayload"].as_str().unwrap_or(""))
                            == payload
                })
        })
        .await;
        assert_eq!(kept["unreadable"], json!(["events"]), "{kept}");
        // Rejected by the rule itself: the activity up to a message published after it shows
        // no publish of the collection.
        let sentinel = device_message(example(TELEMETRY));
        oven.publish(TELEMETRY, &sentinel).await.unwrap();
        activity
            .sns_message_id_of(&sentinel.event_id.unwrap().to_string())
            .await
            .unwrap();
        assert!(
            !activity.seen.iter().any(|activity| matches!(activity,
                Activity::RulePublished { topic, .. } if *topic == oven.topic(COLLECTION_EVENT))),
            "the collection was published"
        );
    });
}
