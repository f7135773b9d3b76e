//! The mobile app through the same gateway, with Cognito identities: user pool sign-in, identity
//! pool credentials, the sign-in function attaching the mobile IoT policy, MQTT over WebSocket
//! with a SigV4 presigned URL; and what each of those refuses.

use std::time::{Duration, Instant, SystemTime};

use postoffice_e2e::{
    WAIT, device_message, envelope, post_office, postoffice_command, run, unique,
};
use postoffice_local::app::{AppSession, IdentityCredentials, MobileApp, Tokens};
use serde_json::json;

fn cooking_request() -> serde_json::Value {
    json!({"recipe_id": "sourdough-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700})
}

struct SignedIn {
    app: MobileApp,
    household: String,
    tokens: Tokens,
    credentials: IdentityCredentials,
}

/// A new user of a new household, signed in through the user pool and the identity pool; the
/// sign-in function called when `attach` is set.
async fn user_of_new_household(attach: bool) -> SignedIn {
    let post_office = post_office();
    let household = unique("h-app");
    let user = post_office
        .add_user(&household, &format!("{}@example.com", unique("cook")))
        .await
        .unwrap();
    let app = post_office.mobile_app().unwrap();
    let tokens = app.sign_in(&user.email, &user.password).await.unwrap();
    let identity_id = app.get_id(&tokens).await.unwrap().unwrap();
    let credentials = app
        .credentials(&tokens, &identity_id)
        .await
        .unwrap()
        .unwrap();
    if attach {
        let (status, body) = app.call_sign_in_function(&credentials).await.unwrap();
        assert_eq!(status, 200, "{body}");
        // The function attached the policy to the identity that signed the call.
        assert_eq!(body["identityId"], identity_id.as_str());
    }
    SignedIn {
        app,
        household,
        tokens,
        credentials,
    }
}

async fn connect(signed_in: &SignedIn, subscriptions: &[String]) -> anyhow::Result<AppSession> {
    let path = signed_in.app.presigned_mqtt_path(
        &signed_in.credentials,
        SystemTime::now(),
        Duration::from_secs(300),
    )?;
    signed_in
        .app
        .connect(&signed_in.credentials.identity_id, &path, subscriptions)
        .await
}

#[test]
fn an_app_user_asks_its_oven_to_cook_and_gets_the_reply() {
    run(async {
        let user = user_of_new_household(true).await;
        let oven = unique("oven");
        let mut app = connect(&user, &[format!("+/{}/{oven}", user.household)])
            .await
            .unwrap();
        let request = device_message(cooking_request());
        let request_id = request.event_id.unwrap();
        let sent = Instant::now();
        app.session
            .publish(
                &format!("COOKING_REQUESTED/{}/{oven}", user.household),
                serde_json::to_vec(&request).unwrap(),
            )
            .await
            .unwrap();
        let reply = loop {
            let message = tokio::time::timeout(WAIT, app.incoming.recv())
                .await
                .expect("a reply in time")
                .expect("the session is open");
            if message.topic.starts_with("COOKING_REPLIED/") {
                break message;
            }
        };
        assert_eq!(
            reply.topic,
            format!("COOKING_REPLIED/{}/{oven}", user.household)
        );
        let reply = envelope(&reply.payload).unwrap();
        assert_eq!(reply.correlation_id, request_id);
        assert_eq!(reply.household_id, user.household);
        eprintln!(
            "app → reply round trip: {:.1} ms",
            sent.elapsed().as_secs_f64() * 1000.0
        );
    });
}

#[test]
fn an_app_user_cannot_publish_or_receive_for_another_household() {
    run(async {
        let user = user_of_new_household(true).await;
        let other = unique("h-other");
        let app = connect(&user, &[format!("+/{}/+", user.household)])
            .await
            .unwrap();
        let refused = app
            .session
            .publish(
                &format!("COOKING_REQUESTED/{other}/oven-1"),
                serde_json::to_vec(&device_message(cooking_request())).unwrap(),
            )
            .await
            .unwrap_err();
        assert!(
            format!("{refused:#}").contains("NotAuthorized"),
            "{refused:#}"
        );
        // Subscribing to the other household's topics is refused, so nothing of it is received.
        let subscription = connect(&user, &[format!("+/{other}/oven-1")])
            .await
            .err()
            .expect("the subscription must be refused");
        assert!(
            format!("{subscription:#}").contains("refused a subscription"),
            "{subscription:#}"
        );
        // The client id must be the identity's own.
        let path = user
            .app
            .presigned_mqtt_path(
                &user.credentials,
                SystemTime::now(),
                Duration::from_secs(60),
            )
            .unwrap();
        let impostor = user
            .app
            .connect("someone-else", &path, &[])
            .await
            .err()
            .expect("another client id must be refused");
        assert!(
            format!("{impostor:#}").contains("NotAuthorized"),
            "{impostor:#}"
        );
    });
}

#[test]
fn an_app_user_cannot_change_its_household_claim() {
    run(async {
        let user = user_of_new_household(true).await;
        let refused = user
            .app
            .update_attribute(&user.tokens, "custom:household", "h-elsewhere")
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.code, "NotAuthorizedException", "{refused}");
        assert!(
            refused.message.contains("unauthorized attribute"),
            "{refused}"
        );
        // What the client may write, it writes.
        user.app
            .update_attribute(&user.tokens, "name", "Alex")
            .await
            .unwrap()
            .unwrap();
    });
}

#[test]
fn an_identity_without_the_attached_policy_cannot_connect() {
    run(async {
        let user = user_of_new_household(false).await;
        let refused = connect(&user, &[])
            .await
            .err()
            .expect("no IoT policy attached: CONNECT refused");
        assert!(
            format!("{refused:#}").contains("NotAuthorized"),
            "{refused:#}"
        );
        // Once the sign-in function attached it, the same identity connects.
        let (status, body) = user
            .app
            .call_sign_in_function(&user.credentials)
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        connect(&user, &[format!("+/{}/+", user.household)])
            .await
            .unwrap();
    });
}

#[test]
fn a_bad_or_expired_presigned_url_is_refused() {
    run(async {
        let user = user_of_new_household(true).await;
        let identity = user.credentials.identity_id.clone();
        let expired = user
            .app
            .presigned_mqtt_path(
                &user.credentials,
                SystemTime::now() - Duration::from_secs(600),
                Duration::from_secs(60),
            )
            .unwrap();
        let fresh = user
            .app
            .presigned_mqtt_path(
                &user.credentials,
                SystemTime::now(),
                Duration::from_secs(60),
            )
            .unwrap();
        let forged = {
            let at = fresh.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
            let mut bytes = fresh.clone().into_bytes();
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            String::from_utf8(bytes).unwrap()
        };
        let other_token = fresh.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x");
        for (what, path) in [
            ("expired", expired),
            ("forged signature", forged),
            ("another session token", other_token),
            ("unsigned", "/mqtt".to_owned()),
        ] {
            let refused = user
                .app
                .connect(&identity, &path, &[])
                .await
                .err()
                .unwrap_or_else(|| panic!("a URL with {what} must be refused"));
            assert!(
                format!("{refused:#}").contains("NotAuthorized"),
                "{what}: {refused:#}"
            );
        }
        user.app.connect(&identity, &fresh, &[]).await.unwrap();
    });
}

#[test]
fn the_identity_pool_and_the_sign_in_function_take_only_verified_callers() {
    run(async {
        let user = user_of_new_household(true).await;
        let forged = Tokens {
            id_token: format!("{}x", user.tokens.id_token),
            access_token: user.tokens.access_token.clone(),
        };
        let refused = user.app.get_id(&forged).await.unwrap().unwrap_err();
        assert_eq!(refused.code, "NotAuthorizedException", "{refused}");
        let refused = user
            .app
            .credentials(&forged, &user.credentials.identity_id)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.code, "NotAuthorizedException", "{refused}");

        // A function URL with auth AWS_IAM answers an unsigned call 403, as does one signed
        // with credentials nobody issued.
        let post_office = post_office();
        let url = post_office.outputs()["mobile"]["value"]["sign_in_url"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, _) = post_office
            .post_to_function_url(&url, &[("content-type", "application/json")], "{}")
            .await
            .unwrap();
        assert_eq!(status, 403);
        let stranger = IdentityCredentials {
            secret_access_key: "not-the-secret".to_owned(),
            ..user.credentials.clone()
        };
        let (status, _) = user.app.call_sign_in_function(&stranger).await.unwrap();
        assert_eq!(status, 403);
    });
}

#[test]
fn postoffice_local_user_add_prints_a_sign_in_that_works() {
    run(async {
        let post_office = post_office();
        let household = unique("h-cli");
        let email = format!("{}@example.com", unique("cli"));
        let run_dir = post_office.run_dir().to_string_lossy().into_owned();
        let (ok, output) = postoffice_command(&[
            "local",
            "user",
            "add",
            &household,
            &email,
            "--run-dir",
            &run_dir,
        ])
        .await
        .unwrap();
        assert!(ok, "{output}");
        let password = output
            .lines()
            .find_map(|line| line.trim().strip_prefix("password"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no password printed: {output}"));
        let app = post_office.mobile_app().unwrap();
        let (_, credentials) = app.sign_in_fully(&email, password).await.unwrap();
        let path = app
            .presigned_mqtt_path(&credentials, SystemTime::now(), Duration::from_secs(60))
            .unwrap();
        app.connect(
            &credentials.identity_id,
            &path,
            &[format!("+/{household}/+")],
        )
        .await
        .unwrap();
        // The password is printed, never logged.
        let logs =
            std::fs::read_to_string(post_office.logs_dir().join("moto.log")).unwrap_or_default();
        assert!(!logs.contains(password));
        let activity = std::fs::read_to_string(post_office.run_dir().join("activity.jsonl"))
            .unwrap_or_default();
        assert!(!activity.contains(password));
    });
}
