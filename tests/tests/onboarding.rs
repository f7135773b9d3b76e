//! Onboarding through the local post office built from the Terraform: appliances from the
//! factory (registered, in no household) are paired with a household by the onboarding service
//! when the household's app proves the code on their label, work for that household only, and
//! are cut off at once when unpaired. The onboarding role may do that and no more.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use postoffice_e2e::{
    Follower, WAIT, device_message, example, post_office, run, stored_envelopes, unique, wait_for,
};
use postoffice_local::activity::Activity;
use postoffice_local::app::AppSession;
use postoffice_local::device::{PAIRING_ANSWER_EVENT, SimulatedDevice, UnpairedDevice};
use postoffice_local::iot::factory::Manufactured;
use serde_json::{Value, json};

/// A signed-in member of a household in the mobile app, connected over MQTT over WebSocket as its
/// Cognito identity and subscribed to its household's pairing answers.
struct HouseholdApp {
    household: String,
    session: AppSession,
}

/// A new user of `household`, signed in through the app: user pool, identity pool, the sign-in
/// function, then the gateway's WebSocket listener.
async fn app_of(household: &str) -> HouseholdApp {
    let post_office = post_office();
    let user = post_office
        .add_user(household, &format!("{}@example.com", unique("owner")))
        .await
        .unwrap();
    let app = post_office.mobile_app().unwrap();
    let (_, credentials) = app
        .sign_in_fully(&user.email, &user.password)
        .await
        .unwrap();
    let path = app
        .presigned_mqtt_path(&credentials, SystemTime::now(), Duration::from_secs(300))
        .unwrap();
    let session = app
        .connect(
            &credentials.identity_id,
            &path,
            &[format!("{PAIRING_ANSWER_EVENT}/{household}/+")],
        )
        .await
        .expect("the household's app connects to its household's topics");
    HouseholdApp {
        household: household.to_owned(),
        session,
    }
}

impl HouseholdApp {
    /// Publishes `event` about `thing` on `topic_household`'s topic (the app's own household
    /// unless a test tries another's). Returns the request's event id.
    async fn publish(
        &self,
        event: &str,
        topic_household: &str,
        thing: &str,
        payload: Value,
    ) -> anyhow::Result<String> {
        let request = device_message(payload);
        let request_id = request.event_id.unwrap().to_string();
        self.session
            .session
            .publish(
                &format!("{event}/{topic_household}/{thing}"),
                serde_json::to_vec(&request).unwrap(),
            )
            .await?;
        Ok(request_id)
    }

    async fn request_pairing(&self, thing: &str, code: &str) -> String {
        self.publish(
            "DEVICE_PAIRING_REQUESTED",
            &self.household,
            thing,
            json!({"pairing_code": code}),
        )
        .await
        .expect("the gateway accepts a pairing request on the app's household topic")
    }

    async fn request_unpairing(&self, thing: &str) -> String {
        self.publish(
            "DEVICE_UNPAIRING_REQUESTED",
            &self.household,
            thing,
            json!({"reason": "resale"}),
        )
        .await
        .expect("the gateway accepts an unpairing request on the app's household topic")
    }

    /// Onboarding's answer to the request `request_id`: as the event store keeps it, published
    /// by the forwarder on the household's topic of the device, and received by this app on its
    /// own connection. Returns the answer's payload.
    async fn answer_to(&mut self, activity: &mut Follower, request_id: &str) -> Value {
        let stored = wait_for("onboarding's answer in the event store", WAIT, || async {
            stored_envelopes().ok()?.into_iter().find(|envelope| {
                envelope["event"] == PAIRING_ANSWER_EVENT
                    && envelope["correlation_id"] == request_id
            })
        })
        .await;
        let topic = format!(
            "{PAIRING_ANSWER_EVENT}/{}/{}",
            stored["household_id"].as_str().unwrap(),
            stored["device_id"].as_str().unwrap()
        );
        activity
            .until(&format!("the forwarder to publish on {topic}"), |seen| {
                seen.iter()
                    .any(|activity| {
                        matches!(activity, Activity::IotDataPublished { topic: published } if *published == topic)
                    })
                    .then_some(())
            })
            .await
            .unwrap();
        let received = loop {
            let message = tokio::time::timeout(WAIT, self.session.incoming.recv())
                .await
                .expect("the app receives the answer in time")
                .expect("the app's session is open");
            let answer: Value = serde_json::from_slice(&message.payload).unwrap();
            if answer["correlation_id"] == request_id {
                assert_eq!(
                    message.topic, topic,
                    "the app hears on its household's topic"
                );
                break answer;
            }
        };
        assert_eq!(received["payload"], stored["payload"], "{received}");
        stored["payload"].clone()
    }
}

/// The thing's attributes, read as the administrator.
async fn attributes(thing: &str) -> BTreeMap<String, String> {
    post_office()
        .control_plane()
        .iot
        .describe_thing()
        .thing_name(thing)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The IoT policies attached to the appliance's certificate.
async fn attached_policies(appliance: &Manufactured) -> Vec<String> {
    let mut names: Vec<String> = post_office()
        .control_plane()
        .iot
        .list_attached_policies()
        .target(&appliance.credentials.certificate_arn)
        .send()
        .await
        .unwrap()
        .policies
        .unwrap_or_default()
        .into_iter()
        .filter_map(|policy| policy.policy_name)
        .collect();
    names.sort();
    names
}

fn factory_policy() -> String {
    post_office().outputs()["factory_device_policy_name"]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn unpaired_device(appliance: &Manufactured) -> UnpairedDevice {
    let post_office = post_office();
    let tls = post_office.device_tls(&appliance.credentials).unwrap();
    UnpairedDevice::connect(
        post_office.endpoints.mqtt,
        &tls,
        &appliance.credentials.thing,
    )
    .await
    .expect("an appliance in no household connects and waits for its pairing")
}

/// Pairs a new appliance with a new household, as its owner would: the appliance waits, the app
/// sends the code on its label, the appliance learns its household from the answer and connects
/// again. Returns the appliance, its household's app and the connected device.
async fn paired_appliance() -> (Manufactured, HouseholdApp, SimulatedDevice) {
    let post_office = post_office();
    let appliance = post_office
        .manufacture_device(&unique("oven"))
        .await
        .unwrap();
    let thing = appliance.credentials.thing.clone();
    let mut app = app_of(&unique("h-pair")).await;
    let mut waiting = unpaired_device(&appliance).await;
    let mut activity = Follower::start();
    let request = app.request_pairing(&thing, &appliance.pairing_code).await;
    assert_eq!(
        app.answer_to(&mut activity, &request).await,
        json!({"status": "paired"})
    );
    let learned = waiting.wait_until_paired(WAIT).await.unwrap();
    assert_eq!(
        learned, app.household,
        "the answer's topic names the household"
    );
    drop(waiting);
    let device = post_office
        .connect_device(&appliance.credentials, &learned)
        .await
        .expect("the paired appliance connects to its household's topics");
    (appliance, app, device)
}

#[test]
fn a_wrong_pairing_code_is_refused_and_changes_nothing() {
    run(async {
        let post_office = post_office();
        let appliance = post_office
            .manufacture_device(&unique("oven"))
            .await
            .unwrap();
        let thing = appliance.credentials.thing.clone();
        let mut app = app_of(&unique("h-wrong")).await;
        let household = app.household.clone();
        let mut waiting = unpaired_device(&appliance).await;
        let before = attributes(&thing).await;
        assert!(before.contains_key("pairing_claim"), "{before:?}");
        assert!(
            !before
                .values()
                .any(|value| *value == appliance.pairing_code)
        );

        let mut activity = Follower::start();
        let wrong = if appliance.pairing_code.starts_with('A') {
            "BBBBBBBBBBBBBBBB"
        } else {
            "AAAAAAAAAAAAAAAA"
        };
        let request = app.request_pairing(&thing, wrong).await;
        let answer = app.answer_to(&mut activity, &request).await;
        assert_eq!(answer["status"], "refused", "{answer}");
        assert_eq!(answer["reason"], "claim-mismatch", "{answer}");
        assert!(answer["detail"].as_str().unwrap().contains("pairing code"));

        assert_eq!(attributes(&thing).await, before, "the thing is unchanged");
        assert_eq!(attached_policies(&appliance).await, [factory_policy()]);
        // The appliance saw the refusal and is still waiting, in no household.
        let still = waiting
            .wait_until_paired(Duration::from_secs(2))
            .await
            .expect_err("a refusal pairs nothing");
        assert!(still.to_string().contains("was not paired"), "{still}");
        let publish = waiting
            .publish_to(
                &format!("COOKING_REQUESTED/{household}/{thing}"),
                serde_json::to_vec(&device_message(example("COOKING_REQUESTED"))).unwrap(),
            )
            .await;
        assert!(
            publish.is_err(),
            "an appliance in no household publishes nothing"
        );
    });
}

#[test]
fn a_paired_device_reaches_only_its_new_household() {
    run(async {
        let (appliance, app, mut device) = paired_appliance().await;
        let household = app.household.clone();
        let thing = appliance.credentials.thing.clone();
        assert_eq!(attributes(&thing).await.get("household"), Some(&household));
        let mut expected = post_office().outputs()["device_policy_names"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        expected.sort();
        assert_eq!(attached_policies(&appliance).await, expected);

        // Its own household: the request is accepted and its reply arrives.
        let request = device_message(example("COOKING_REQUESTED"));
        let request_id = request.event_id.unwrap().to_string();
        device.publish("COOKING_REQUESTED", &request).await.unwrap();
        let reply = device
            .receive(WAIT, |m| m.topic.starts_with("COOKING_REPLIED/"))
            .await
            .unwrap();
        assert_eq!(reply.topic, format!("COOKING_REPLIED/{household}/{thing}"));
        let reply: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(reply["correlation_id"], request_id.as_str());

        // Any other household: refused.
        let mut activity = Follower::start();
        let elsewhere = format!("COOKING_REQUESTED/{}/{thing}", unique("h-other"));
        device
            .publish_to(
                &elsewhere,
                serde_json::to_vec(&device_message(example("COOKING_REQUESTED"))).unwrap(),
            )
            .await
            .expect_err("the device policy names its own household only");
        let (what, _) = activity
            .gateway_refusal(&thing, "iot:Publish")
            .await
            .unwrap();
        assert!(what.ends_with(&elsewhere), "{what}");

        // Another household's app cannot take it, nor let it go: onboarding refuses its requests
        // on its own household's topics, and the gateway its requests on this household's.
        let mut activity = Follower::start();
        let mut thief = app_of(&unique("h-thief")).await;
        let request = thief.request_pairing(&thing, &appliance.pairing_code).await;
        assert_eq!(
            thief.answer_to(&mut activity, &request).await["reason"],
            "paired-elsewhere"
        );
        let request = thief.request_unpairing(&thing).await;
        assert_eq!(
            thief.answer_to(&mut activity, &request).await["reason"],
            "not-paired-here"
        );
        for (event, payload) in [
            (
                "DEVICE_PAIRING_REQUESTED",
                json!({"pairing_code": appliance.pairing_code}),
            ),
            ("DEVICE_UNPAIRING_REQUESTED", json!({"reason": "resale"})),
        ] {
            let refused = thief
                .publish(event, &household, &thing, payload)
                .await
                .expect_err("the app's role names its own household's topics only");
            assert!(
                format!("{refused:#}").contains("NotAuthorized"),
                "{event}: {refused:#}"
            );
        }
        assert_eq!(attributes(&thing).await.get("household"), Some(&household));
    });
}

#[test]
fn an_unpaired_device_is_disconnected_at_once_and_can_do_nothing_afterwards() {
    run(async {
        let (appliance, mut app, device) = paired_appliance().await;
        let household = app.household.clone();
        let thing = appliance.credentials.thing.clone();

        let mut activity = Follower::start();
        let request = app.request_unpairing(&thing).await;
        activity
            .until("DeleteConnection of the unpaired device", |seen| {
                seen.iter()
                    .any(|activity| {
                        matches!(activity, Activity::IotConnectionDeleted { client_id } if *client_id == thing)
                    })
                    .then_some(())
            })
            .await
            .unwrap();
        assert_eq!(
            app.answer_to(&mut activity, &request).await,
            json!({"status": "unpaired"})
        );
        assert_eq!(attributes(&thing).await.get("household"), None);
        assert_eq!(attached_policies(&appliance).await, [factory_policy()]);

        // The old connection is gone; the device's session reconnects, resolving to no
        // household: its subscription to the household's topics and its publishes are refused.
        let refusal = activity
            .gateway_refusal(&thing, "iot:Subscribe")
            .await
            .unwrap();
        assert!(refusal.0.contains(&household), "{refusal:?}");
        let publish = device
            .publish(
                "COOKING_REQUESTED",
                &device_message(example("COOKING_REQUESTED")),
            )
            .await;
        assert!(publish.is_err(), "an unpaired device publishes nothing");
        let (what, reason) = activity
            .gateway_refusal(&thing, "iot:Publish")
            .await
            .unwrap();
        assert!(
            what.contains(&format!("COOKING_REQUESTED/{household}/{thing}")),
            "{what}: {reason}"
        );

        // A new owner pairs it with the same label.
        drop(device);
        let mut waiting = unpaired_device(&appliance).await;
        let mut new_owner = app_of(&unique("h-resale")).await;
        let mut activity = Follower::start();
        let request = new_owner
            .request_pairing(&thing, &appliance.pairing_code)
            .await;
        assert_eq!(
            new_owner.answer_to(&mut activity, &request).await,
            json!({"status": "paired"})
        );
        assert_eq!(
            waiting.wait_until_paired(WAIT).await.unwrap(),
            new_owner.household
        );
    });
}

#[test]
fn the_onboarding_role_can_do_no_more_than_onboarding() {
    run(async {
        let post_office = post_office();
        let role = format!("{}-onboarding-handler", post_office.options.prefix);
        let config = post_office.sdk_config(&post_office.role_session(&role));
        let iot = aws_sdk_iot::Client::new(&config);
        let appliance = post_office
            .manufacture_device(&unique("oven"))
            .await
            .unwrap();
        let thing = appliance.credentials.thing.clone();

        // What onboarding does is allowed.
        iot.describe_thing()
            .thing_name(&thing)
            .send()
            .await
            .unwrap();
        iot.list_thing_principals()
            .thing_name(&thing)
            .send()
            .await
            .unwrap();

        // Rewriting a policy, deleting a thing, revoking a certificate, publishing to devices:
        // refused, each with the role's missing permission recorded.
        let mut activity = Follower::start();
        // The mobile app's IoT policy: not a device policy.
        let policy = format!("{}-mobile", post_office.options.prefix);
        let rewrite = iot
            .create_policy_version()
            .policy_name(&policy)
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#)
            .set_as_default(true)
            .send()
            .await;
        assert!(rewrite.is_err(), "the onboarding role rewrote {policy}");
        let denial = activity
            .denial("iot:CreatePolicyVersion", &role)
            .await
            .unwrap();
        assert!(
            denial.1.ends_with(&format!(":policy/{policy}")),
            "{denial:?}"
        );

        let delete = iot.delete_thing().thing_name(&thing).send().await;
        assert!(delete.is_err(), "the onboarding role deleted a thing");
        activity.denial("iot:DeleteThing", &role).await.unwrap();

        let revoke = iot
            .update_certificate()
            .certificate_id(&appliance.credentials.certificate_id)
            .new_status(aws_sdk_iot::types::CertificateStatus::Revoked)
            .send()
            .await;
        assert!(revoke.is_err(), "the onboarding role revoked a certificate");
        activity
            .denial("iot:UpdateCertificate", &role)
            .await
            .unwrap();

        let data = aws_sdk_iotdataplane::Client::new(&config);
        let publish = data
            .publish()
            .topic(format!("COOKING_REPLIED/h-any/{thing}"))
            .qos(1)
            .payload(aws_sdk_iotdataplane::primitives::Blob::new("{}"))
            .send()
            .await;
        assert!(
            publish.is_err(),
            "the onboarding role published to a device"
        );
        activity.denial("iot:Publish", &role).await.unwrap();

        // Attaching works on certificates only (IAM authorises AttachPolicy on its target).
        let group = iot
            .attach_policy()
            .policy_name(factory_policy())
            .target(format!(
                "arn:aws:iot:{}:{}:thinggroup/everything",
                post_office.options.region,
                postoffice_local::ACCOUNT
            ))
            .send()
            .await;
        assert!(
            group.is_err(),
            "the onboarding role attached a policy to a thing group"
        );
        activity.denial("iot:AttachPolicy", &role).await.unwrap();

        assert!(attributes(&thing).await.contains_key("pairing_claim"));
    });
}
