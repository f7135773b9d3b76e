//! Onboarding against an in-memory IoT registry and a recording publisher.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use onboarding::registry::{DeviceConnections, DeviceRegistry, IotError, Thing};
use onboarding::{Onboarding, Settings, SettingsError};
use postoffice::handler::testing::RecordingPublisher;
use postoffice::handler::{Consumer, ErrorKind};
use postoffice::invocation::HandlerInvocation;
use postoffice::pairing::{PAIRING_CLAIM_ATTRIBUTE, claim_of};
use serde_json::{Value, json};

const PAIRING_REQUESTED: &[u8] = include_bytes!("fixtures/pairing_requested.json");
const UNPAIRING_REQUESTED: &[u8] = include_bytes!("fixtures/unpairing_requested.json");
const CODE: &str = "K7QW3ZP2MX4TBN5R";
const CERTIFICATE: &str = "arn:aws:iot:eu-west-1:123456789012:cert/abc123";
const POLICIES: [&str; 2] = ["postoffice-device-publish-1", "postoffice-device-publish-3"];

#[derive(Default)]
struct State {
    things: BTreeMap<String, BTreeMap<String, String>>,
    principals: BTreeMap<String, Vec<String>>,
    attached: BTreeSet<(String, String)>,
    connected: BTreeSet<String>,
    calls: Vec<String>,
    fail: Option<&'static str>,
}

#[derive(Clone, Default)]
struct FakeIot(Arc<Mutex<State>>);

impl FakeIot {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    fn call(&self, action: &'static str, detail: String) -> Result<(), IotError> {
        let mut state = self.state();
        state.calls.push(format!("{action} {detail}"));
        if state.fail == Some(action) {
            state.fail = None;
            return Err(IotError {
                action,
                message: "throttled".to_owned(),
            });
        }
        Ok(())
    }

    /// oven-7 as it leaves the factory: its claim, its certificate, no household, no policy.
    fn factory_oven() -> Self {
        let iot = FakeIot::default();
        {
            let mut state = iot.state();
            state.things.insert(
                "oven-7".to_owned(),
                [(PAIRING_CLAIM_ATTRIBUTE.to_owned(), claim_of(CODE))].into(),
            );
            state.principals.insert(
                "oven-7".to_owned(),
                vec![
                    CERTIFICATE.to_owned(),
                    "eu-west-1:6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e".to_owned(),
                ],
            );
        }
        iot
    }

    fn household(&self) -> Option<String> {
        self.state().things["oven-7"].get("household").cloned()
    }

    fn attached(&self) -> BTreeSet<(String, String)> {
        self.state().attached.clone()
    }
}

#[async_trait]
impl DeviceRegistry for FakeIot {
    async fn thing(&self, name: &str) -> Result<Option<Thing>, IotError> {
        self.call("DescribeThing", name.to_owned())?;
        Ok(self.state().things.get(name).map(|attributes| Thing {
            attributes: attributes.clone(),
        }))
    }

    async fn set_attribute(
        &self,
        thing: &str,
        attribute: &str,
        value: Option<&str>,
    ) -> Result<(), IotError> {
        self.call("UpdateThing", format!("{thing} {attribute}={value:?}"))?;
        let mut state = self.state();
        let attributes = state.things.get_mut(thing).unwrap();
        match value {
            Some(value) => attributes.insert(attribute.to_owned(), value.to_owned()),
            None => attributes.remove(attribute),
        };
        Ok(())
    }

    async fn principals(&self, thing: &str) -> Result<Vec<String>, IotError> {
        self.call("ListThingPrincipals", thing.to_owned())?;
        Ok(self
            .state()
            .principals
            .get(thing)
            .cloned()
            .unwrap_or_default())
    }

    async fn attach_policy(&self, policy: &str, target: &str) -> Result<(), IotError> {
        self.call("AttachPolicy", format!("{policy} {target}"))?;
        self.state()
            .attached
            .insert((policy.to_owned(), target.to_owned()));
        Ok(())
    }

    async fn detach_policy(&self, policy: &str, target: &str) -> Result<(), IotError> {
        self.call("DetachPolicy", format!("{policy} {target}"))?;
        self.state()
            .attached
            .remove(&(policy.to_owned(), target.to_owned()));
        Ok(())
    }
}

#[async_trait]
impl DeviceConnections for FakeIot {
    async fn disconnect(&self, client_id: &str) -> Result<bool, IotError> {
        self.call("DeleteConnection", client_id.to_owned())?;
        Ok(self.state().connected.remove(client_id))
    }
}

fn settings() -> Settings {
    Settings {
        device_policies: POLICIES.iter().map(|p| (*p).to_owned()).collect(),
        household_attribute: "household".to_owned(),
    }
}

fn consumer(
    iot: &FakeIot,
) -> (
    Consumer<Onboarding<FakeIot, FakeIot>>,
    Arc<RecordingPublisher>,
) {
    let publisher = Arc::new(RecordingPublisher::default());
    let consumer = Consumer::new(
        Onboarding::new(iot.clone(), iot.clone(), settings()),
        publisher.clone(),
        "arn:aws:sns:eu-west-1:123456789012:postoffice-",
    );
    (consumer, publisher)
}

fn pairing(household: &str, code: &str) -> Value {
    let mut invocation: Value = serde_json::from_slice(PAIRING_REQUESTED).unwrap();
    invocation["envelope"]["household_id"] = json!(household);
    invocation["envelope"]["payload"]["pairing_code"] = json!(code);
    invocation["envelope"]["event_id"] = json!(uuid());
    invocation
}

fn unpairing(household: &str) -> Value {
    let mut invocation: Value = serde_json::from_slice(UNPAIRING_REQUESTED).unwrap();
    invocation["envelope"]["household_id"] = json!(household);
    invocation["envelope"]["event_id"] = json!(uuid());
    invocation
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn both_policies() -> BTreeSet<(String, String)> {
    POLICIES
        .iter()
        .map(|policy| ((*policy).to_owned(), CERTIFICATE.to_owned()))
        .collect()
}

/// The one answer published, DEVICE_PAIRING_REPLIED to the requesting household and device.
fn answer(publisher: &RecordingPublisher) -> Value {
    let sent = publisher.envelopes();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].event, "DEVICE_PAIRING_REPLIED");
    assert_eq!(sent[0].device_id, "oven-7");
    assert_eq!(sent[0].source, "onboarding");
    sent[0].payload.clone()
}

#[test]
fn fixtures_round_trip() {
    for bytes in [PAIRING_REQUESTED, UNPAIRING_REQUESTED] {
        let parsed: HandlerInvocation = serde_json::from_slice(bytes).unwrap();
        let json = serde_json::to_value(&parsed).unwrap();
        assert_eq!(json, serde_json::from_slice::<Value>(bytes).unwrap());
    }
}

#[tokio::test]
async fn the_right_code_pairs_the_household_before_attaching_the_policies() {
    let iot = FakeIot::factory_oven();
    let (consumer, publisher) = consumer(&iot);
    consumer
        .handle_invocation(pairing("h-42", CODE))
        .await
        .unwrap();

    assert_eq!(answer(&publisher), json!({"status": "paired"}));
    assert_eq!(publisher.envelopes()[0].household_id, "h-42");
    assert_eq!(iot.household().as_deref(), Some("h-42"));
    // The certificate only: the Cognito identity attached to the thing gets no device policy.
    assert_eq!(iot.attached(), both_policies());
    let calls = iot.state().calls.clone();
    let update = calls
        .iter()
        .position(|c| c.starts_with("UpdateThing"))
        .unwrap();
    let attach = calls
        .iter()
        .position(|c| c.starts_with("AttachPolicy"))
        .unwrap();
    assert!(update < attach, "{calls:?}");
}

#[tokio::test]
async fn a_wrong_code_is_refused_and_changes_nothing() {
    let iot = FakeIot::factory_oven();
    let (consumer, publisher) = consumer(&iot);
    consumer
        .handle_invocation(pairing("h-42", "AAAAAAAAAAAAAAAA"))
        .await
        .unwrap();

    let answer = answer(&publisher);
    assert_eq!(answer["status"], "refused");
    assert_eq!(answer["reason"], "claim-mismatch");
    assert_eq!(iot.household(), None);
    assert!(iot.attached().is_empty());
    let calls = iot.state().calls.clone();
    assert_eq!(calls, ["DescribeThing oven-7"]);
}

#[tokio::test]
async fn an_unknown_appliance_gets_the_same_refusal_as_a_wrong_code() {
    let iot = FakeIot::default();
    let (consumer, publisher) = consumer(&iot);
    consumer
        .handle_invocation(pairing("h-42", CODE))
        .await
        .unwrap();
    assert_eq!(answer(&publisher)["reason"], "claim-mismatch");
}

#[tokio::test]
async fn an_appliance_of_another_household_is_refused_until_it_is_unpaired() {
    let iot = FakeIot::factory_oven();
    let (first, _) = consumer(&iot);
    first.handle_invocation(pairing("h-1", CODE)).await.unwrap();

    let (second, publisher) = consumer(&iot);
    second
        .handle_invocation(pairing("h-2", CODE))
        .await
        .unwrap();
    assert_eq!(answer(&publisher)["reason"], "paired-elsewhere");
    assert_eq!(iot.household().as_deref(), Some("h-1"));

    // Resale: the first household lets it go, the second pairs it with the same code.
    let (release, _) = consumer(&iot);
    release.handle_invocation(unpairing("h-1")).await.unwrap();
    let (third, publisher) = consumer(&iot);
    third.handle_invocation(pairing("h-2", CODE)).await.unwrap();
    assert_eq!(answer(&publisher), json!({"status": "paired"}));
    assert_eq!(iot.household().as_deref(), Some("h-2"));
}

#[tokio::test]
async fn unpairing_detaches_disconnects_and_then_forgets_the_household() {
    let iot = FakeIot::factory_oven();
    let (pair, _) = consumer(&iot);
    pair.handle_invocation(pairing("h-42", CODE)).await.unwrap();
    iot.state().connected.insert("oven-7".to_owned());
    iot.state().calls.clear();

    let (consumer, publisher) = consumer(&iot);
    consumer.handle_invocation(unpairing("h-42")).await.unwrap();

    assert_eq!(answer(&publisher), json!({"status": "unpaired"}));
    assert_eq!(iot.household(), None);
    assert!(iot.attached().is_empty());
    assert!(iot.state().connected.is_empty());
    let calls: Vec<String> = iot
        .state()
        .calls
        .iter()
        .map(|call| call.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        calls,
        [
            "DescribeThing",
            "ListThingPrincipals",
            "DetachPolicy",
            "DetachPolicy",
            "DeleteConnection",
            "UpdateThing"
        ]
    );
}

#[tokio::test]
async fn another_household_cannot_unpair_an_appliance() {
    let iot = FakeIot::factory_oven();
    let (pair, _) = consumer(&iot);
    pair.handle_invocation(pairing("h-42", CODE)).await.unwrap();
    iot.state().connected.insert("oven-7".to_owned());

    let (consumer, publisher) = consumer(&iot);
    consumer
        .handle_invocation(unpairing("h-666"))
        .await
        .unwrap();
    assert_eq!(answer(&publisher)["reason"], "not-paired-here");
    assert_eq!(iot.household().as_deref(), Some("h-42"));
    assert_eq!(iot.attached(), both_policies());
    assert!(iot.state().connected.contains("oven-7"));
}

#[tokio::test]
async fn an_iot_failure_is_retryable_and_the_retry_finishes_the_work() {
    let iot = FakeIot::factory_oven();
    iot.state().fail = Some("AttachPolicy");
    let (consumer, publisher) = consumer(&iot);
    let invocation = pairing("h-42", CODE);
    let error = consumer
        .handle_invocation(invocation.clone())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(
        error.message().contains("AttachPolicy"),
        "{}",
        error.message()
    );
    assert!(publisher.envelopes().is_empty(), "nothing answered yet");
    // Half done: the household is set, the policies are not all attached.
    assert_eq!(iot.household().as_deref(), Some("h-42"));

    consumer.handle_invocation(invocation).await.unwrap();
    assert_eq!(answer(&publisher), json!({"status": "paired"}));
    assert_eq!(iot.attached(), both_policies());
}

#[tokio::test]
async fn a_failed_disconnect_leaves_the_appliance_paired_for_the_retry() {
    let iot = FakeIot::factory_oven();
    let (pair, _) = consumer(&iot);
    pair.handle_invocation(pairing("h-42", CODE)).await.unwrap();
    iot.state().fail = Some("DeleteConnection");

    let (consumer, publisher) = consumer(&iot);
    let invocation = unpairing("h-42");
    let error = consumer
        .handle_invocation(invocation.clone())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert_eq!(iot.household().as_deref(), Some("h-42"));

    consumer.handle_invocation(invocation).await.unwrap();
    assert_eq!(answer(&publisher), json!({"status": "unpaired"}));
    assert_eq!(iot.household(), None);
}

#[test]
fn settings_name_what_is_missing() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    };
    assert_eq!(
        Settings::from_lookup(env(&[
            (
                "POSTOFFICE_PAIRED_DEVICE_POLICIES",
                "postoffice-device-publish-1, postoffice-device-publish-3"
            ),
            ("POSTOFFICE_HOUSEHOLD_ATTRIBUTE", "household"),
        ])),
        Ok(settings())
    );
    assert!(matches!(
        Settings::from_lookup(env(&[("POSTOFFICE_HOUSEHOLD_ATTRIBUTE", "household")])),
        Err(SettingsError::Missing(
            "POSTOFFICE_PAIRED_DEVICE_POLICIES",
            _
        ))
    ));
    assert!(matches!(
        Settings::from_lookup(env(&[("POSTOFFICE_PAIRED_DEVICE_POLICIES", " , ")])),
        Err(SettingsError::Missing(
            "POSTOFFICE_PAIRED_DEVICE_POLICIES",
            _
        ))
    ));
    assert!(matches!(
        Settings::from_lookup(env(&[("POSTOFFICE_PAIRED_DEVICE_POLICIES", "p")])),
        Err(SettingsError::Missing("POSTOFFICE_HOUSEHOLD_ATTRIBUTE", _))
    ));
}
