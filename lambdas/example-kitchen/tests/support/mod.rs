//! What the kitchen's deployments are tested with alike: a fake SNS, the recipes, signed SNS
//! messages and pushes to an endpoint.
#![allow(dead_code)] // each test binary uses its part

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{SecondsFormat, Utc};
use postoffice::sns::{LocalSigningAuthority, MessageType, SnsMessage};
use postoffice::{Envelope, Topic};
use postoffice_test_support::{http_response, read_http_request_blocking};
use serde_json::{Value, json};

pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "123456789012";
pub const TOPIC_ARN_PREFIX: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";
pub const REQUESTED: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";
pub const FINISHED: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED";
pub const FOREIGN: &str = "arn:aws:sns:eu-west-1:999999999999:postoffice-COOKING_REQUESTED";

pub fn authority() -> &'static LocalSigningAuthority {
    static AUTHORITY: OnceLock<LocalSigningAuthority> = OnceLock::new();
    AUTHORITY.get_or_init(|| LocalSigningAuthority::generate().expect("test signing authority"))
}

/// SNS for the kitchen: answers `Publish` and `ConfirmSubscription` (query protocol) and keeps
/// each request's form body.
pub fn fake_sns() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let body = read_http_request_blocking(&mut stream)
                .unwrap_or_default()
                .body_text();
            let xml = if body.contains("Action=ConfirmSubscription") {
                "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                 <ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED:sub-1</SubscriptionArn></ConfirmSubscriptionResult>\
                 <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>"
            } else {
                "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                 <PublishResult><MessageId>m-1</MessageId></PublishResult>\
                 <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></PublishResponse>"
            };
            seen.lock().unwrap().push(body);
            let headers = [("content-type", "text/xml"), ("connection", "close")];
            let _ = stream.write_all(&http_response(200, "OK", &headers, xml.as_bytes()));
        }
    });
    (port, requests)
}

/// The recipe library, plus a recipe whose file is corrupt (the store fails: retryable).
pub fn recipes(dir: &Path) -> PathBuf {
    let recipes = dir.join("recipes");
    std::fs::create_dir(&recipes).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/recipes")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, recipes.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(recipes.join("corrupt-loaf.json"), "{\"name\":").unwrap();
    recipes
}

pub fn signed(message_type: MessageType, topic_arn: &str, message: &str) -> SnsMessage {
    let confirmation = message_type == MessageType::SubscriptionConfirmation;
    let mut sns = SnsMessage {
        message_type,
        message_id: uuid::Uuid::new_v4().to_string(),
        topic_arn: topic_arn.into(),
        subject: None,
        message: message.into(),
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: String::new(),
        subscribe_url: confirmation.then(|| {
            format!("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token=tok-9")
        }),
        unsubscribe_url: None,
        token: confirmation.then(|| "tok-9".to_owned()),
        message_attributes: BTreeMap::new(),
    };
    authority().sign(&mut sns).unwrap();
    sns
}

pub fn request(payload: Value) -> Envelope {
    let topic = Topic::parse("COOKING_REQUESTED/h-1/oven-1").unwrap();
    Envelope::new(&topic, "mobile-1", payload)
}

pub async fn push(client: &reqwest::Client, url: &str, message: &SnsMessage) -> (u16, String) {
    let response = client
        .post(url)
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message.message_type.as_str())
        .header("x-amz-sns-topic-arn", &message.topic_arn)
        .body(message.to_http_json())
        .send()
        .await
        .expect("the function URL answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (
        status,
        body["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Publishes so far, as (topic ARN, message) pairs.
pub fn published(sns: &Mutex<Vec<String>>) -> Vec<(String, Value)> {
    sns.lock()
        .unwrap()
        .iter()
        .filter(|form| form.contains("Action=Publish"))
        .map(|form| {
            let fields: BTreeMap<String, String> = url::form_urlencoded::parse(form.as_bytes())
                .into_owned()
                .collect();
            let message = serde_json::from_str(&fields["Message"]).unwrap();
            (fields["TopicArn"].clone(), message)
        })
        .collect()
}

/// What every deployment of the kitchen answers SNS, as the bridge's status table says: a
/// handled request (its reply and follow-up published), a payload the catalog refuses, a failing
/// recipe store, a foreign topic, a topic that is not the envelope's event, and a subscription
/// confirmation (confirmed through the SNS API).
pub async fn answers_sns_as_the_bridge_does(
    client: &reqwest::Client,
    url: &str,
    sns: &Mutex<Vec<String>>,
    show_log: &dyn Fn() -> String,
) {
    let accepted = request(json!({
        "recipe_id": "sourdough-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700
    }));
    let table = [
        (accepted.clone(), REQUESTED, 200, "handled"),
        // The payload breaks the catalog schema (300 °C at most): permanent.
        (
            request(json!({"program": "bake", "temperature_c": 999, "duration_s": 600})),
            REQUESTED,
            400,
            "handler_non_retryable",
        ),
        // The recipe store fails: retryable.
        (
            request(json!({
                "recipe_id": "corrupt-loaf", "program": "bake", "temperature_c": 230, "duration_s": 2700
            })),
            REQUESTED,
            500,
            "handler_failed",
        ),
        (accepted.clone(), FOREIGN, 403, "topic_not_allowed"),
        // Allowed topic, but not the envelope's event.
        (accepted.clone(), FINISHED, 400, "event_topic_mismatch"),
    ];
    for (envelope, topic, status, reason) in table {
        let got = push(
            client,
            url,
            &signed(MessageType::Notification, topic, &envelope.to_json()),
        )
        .await;
        assert_eq!(
            (got.0, got.1.as_str()),
            (status, reason),
            "{reason}; log:\n{}",
            show_log()
        );
    }
    let replies = published(sns);
    assert_eq!(
        replies
            .iter()
            .map(|(topic, message)| (topic.as_str(), message["event"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![
            (
                &*format!("{TOPIC_ARN_PREFIX}COOKING_REPLIED"),
                "COOKING_REPLIED"
            ),
            (
                &*format!("{TOPIC_ARN_PREFIX}COOKING_STARTED"),
                "COOKING_STARTED"
            ),
        ],
        "the handled request alone was answered"
    );
    assert_eq!(
        replies[0].1["correlation_id"],
        accepted.correlation_id.to_string()
    );
    assert_eq!(replies[0].1["payload"]["status"], "accepted");

    let confirmation = signed(
        MessageType::SubscriptionConfirmation,
        REQUESTED,
        "You have chosen to subscribe",
    );
    assert_eq!(
        push(client, url, &confirmation).await,
        (200, "subscription_confirmed".to_owned())
    );
    let confirm = sns
        .lock()
        .unwrap()
        .iter()
        .find(|form| form.contains("Action=ConfirmSubscription"))
        .cloned()
        .expect("ConfirmSubscription reached SNS");
    assert!(confirm.contains("Token=tok-9"), "{confirm}");
    assert!(
        confirm.contains("AuthenticateOnUnsubscribe=true"),
        "{confirm}"
    );
}
