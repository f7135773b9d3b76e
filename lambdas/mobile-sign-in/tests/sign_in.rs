//! The handler called directly with function URL events, IoT faked.

use std::sync::Mutex;

use async_trait::async_trait;
use mobile_sign_in::{AttachError, AttachPolicy, SignIn, SignInConfig};
use serde_json::Value;

const EVENT: &[u8] = include_bytes!("fixtures/function_url_cognito.json");
const IDENTITY: &str = "eu-west-1:11111111-2222-3333-4444-555555555555";

#[derive(Default)]
struct FakeIot {
    attached: Mutex<Vec<(String, String)>>,
    fail: Option<fn() -> AttachError>,
}

#[async_trait]
impl AttachPolicy for FakeIot {
    async fn attach(&self, policy_name: &str, target: &str) -> Result<(), AttachError> {
        if let Some(fail) = self.fail {
            return Err(fail());
        }
        self.attached
            .lock()
            .unwrap()
            .push((policy_name.to_owned(), target.to_owned()));
        Ok(())
    }
}

fn config() -> SignInConfig {
    SignInConfig {
        policy_name: "postoffice-mobile".to_owned(),
        identity_pool_id: "eu-west-1:99999999-8888-7777-6666-555555555555".to_owned(),
    }
}

fn event() -> Value {
    let event: Value = serde_json::from_slice(EVENT).unwrap();
    // The fixture round-trips.
    assert_eq!(
        serde_json::from_str::<Value>(&serde_json::to_string(&event).unwrap()).unwrap(),
        event
    );
    event
}

fn body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn attaches_the_policy_to_the_callers_identity_never_the_bodys() {
    let sign_in = SignIn::new(FakeIot::default(), config());
    let answer = sign_in.handle(&event()).await;
    assert_eq!(answer["statusCode"], 200);
    assert_eq!(body(&answer)["identityId"], IDENTITY);
    assert_eq!(body(&answer)["policyName"], "postoffice-mobile");
    // Signing in again attaches again, which IoT treats as no change.
    assert_eq!(sign_in.handle(&event()).await["statusCode"], 200);
    let attached = sign_in.iot().attached.lock().unwrap().clone();
    let expected = ("postoffice-mobile".to_owned(), IDENTITY.to_owned());
    assert_eq!(attached, vec![expected.clone(), expected]);
}

#[tokio::test]
async fn a_caller_that_is_not_a_cognito_identity_is_refused() {
    let sign_in = SignIn::new(FakeIot::default(), config());
    let mut event = event();
    event["requestContext"]["authorizer"]["iam"]["cognitoIdentity"] = Value::Null;
    let answer = sign_in.handle(&event).await;
    assert_eq!(answer["statusCode"], 403);
    assert!(
        body(&answer)["message"]
            .as_str()
            .unwrap()
            .contains("not a Cognito identity")
    );
    let mut no_authorizer = self::event();
    no_authorizer["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    assert_eq!(sign_in.handle(&no_authorizer).await["statusCode"], 403);
}

#[tokio::test]
async fn another_identity_pool_or_an_unauthenticated_identity_is_refused() {
    let sign_in = SignIn::new(FakeIot::default(), config());
    let mut other_pool = event();
    other_pool["requestContext"]["authorizer"]["iam"]["cognitoIdentity"]["identityPoolId"] =
        "eu-west-1:other".into();
    assert_eq!(sign_in.handle(&other_pool).await["statusCode"], 403);
    let mut guest = event();
    guest["requestContext"]["authorizer"]["iam"]["cognitoIdentity"]["amr"] =
        serde_json::json!(["unauthenticated"]);
    assert_eq!(sign_in.handle(&guest).await["statusCode"], 403);
}

#[tokio::test]
async fn iot_failures_answer_retryable_or_not() {
    let busy = FakeIot {
        fail: Some(|| AttachError::Retryable("throttled".into())),
        ..FakeIot::default()
    };
    assert_eq!(
        SignIn::new(busy, config()).handle(&event()).await["statusCode"],
        503
    );
    let refused = FakeIot {
        fail: Some(|| AttachError::Refused("no such policy".into())),
        ..FakeIot::default()
    };
    assert_eq!(
        SignIn::new(refused, config()).handle(&event()).await["statusCode"],
        500
    );
}
