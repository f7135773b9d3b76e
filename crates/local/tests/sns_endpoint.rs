//! The local SNS endpoint driven by the real AWS SDK, as the handlers, the bridges and
//! `postoffice dlq` drive it.

use std::sync::{Arc, Mutex};

use aws_sdk_sns::error::ProvideErrorMetadata as _;
use aws_sdk_sns::types::MessageAttributeValue;
use axum::body::Bytes;
use postoffice_local::emulator::sdk_config;
use postoffice_local::sns::{SnsDataPlane, server};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED";

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    endpoint
}

/// Stands in for moto: records what reaches it and answers ListTopics.
async fn control_plane(seen: Arc<Mutex<Vec<String>>>) -> String {
    let router = axum::Router::new().fallback(move |body: Bytes| {
        let seen = seen.clone();
        async move {
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            (
                [("content-type", "text/xml")],
                format!(
                    "<ListTopicsResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                     <ListTopicsResult><Topics><member><TopicArn>{TOPIC}</TopicArn></member>\
                     </Topics></ListTopicsResult><ResponseMetadata><RequestId>r</RequestId>\
                     </ResponseMetadata></ListTopicsResponse>"
                ),
            )
        }
    });
    serve(router).await
}

struct Fixture {
    sns: aws_sdk_sns::Client,
    plane: Arc<SnsDataPlane>,
    inbox: postoffice_local::sns::Inbox,
    subscription_arn: String,
    seen_by_control_plane: Arc<Mutex<Vec<String>>>,
}

async fn fixture() -> Fixture {
    let seen_by_control_plane = Arc::new(Mutex::new(Vec::new()));
    let moto = control_plane(seen_by_control_plane.clone()).await;
    let mut plane = SnsDataPlane::default();
    let (subscription_arn, inbox) = plane.subscribe(TOPIC);
    let plane = Arc::new(plane);
    let endpoint = serve(server::router(
        plane.clone(),
        moto,
        postoffice::https::client_builder().build().unwrap(),
    ))
    .await;
    Fixture {
        sns: aws_sdk_sns::Client::new(&sdk_config(&endpoint, "eu-west-1")),
        plane,
        inbox,
        subscription_arn,
        seen_by_control_plane,
    }
}

#[tokio::test]
async fn a_publish_through_the_sdk_reaches_the_subscription_with_its_attributes() {
    let mut fixture = fixture().await;
    let output = fixture
        .sns
        .publish()
        .topic_arn(TOPIC)
        .message(r#"{"event":"COOKING_REPLIED"}"#)
        .message_attributes(
            "household_id",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("h-1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let pending = fixture.inbox.recv().await.unwrap();
    assert_eq!(
        Some(pending.message.message_id.as_str()),
        output.message_id()
    );
    assert_eq!(pending.message.topic_arn, TOPIC);
    assert_eq!(pending.message.message, r#"{"event":"COOKING_REPLIED"}"#);
    assert_eq!(
        pending.message.message_attributes["household_id"].value,
        "h-1"
    );
    assert_eq!(
        pending.message.message_attributes["household_id"].data_type,
        "String"
    );
    assert_eq!(fixture.plane.pending_deliveries(), 1);
    drop(pending);
    assert_eq!(fixture.plane.pending_deliveries(), 0);
    assert!(fixture.seen_by_control_plane.lock().unwrap().is_empty());
}

#[tokio::test]
async fn publish_errors_reach_the_sdk_as_sns_errors() {
    let fixture = fixture().await;
    let error = fixture
        .sns
        .publish()
        .topic_arn(format!("{TOPIC}-missing"))
        .message("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("NotFound"));
    assert!(error.into_service_error().is_not_found_exception());

    let error = fixture
        .sns
        .publish()
        .topic_arn(TOPIC)
        .message("x".repeat(262_145))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidParameter"));
    assert!(error.message().unwrap().contains("Message too long"));
    assert_eq!(fixture.plane.pending_deliveries(), 0);

    let error = fixture
        .sns
        .publish_batch()
        .topic_arn(TOPIC)
        .publish_batch_request_entries(
            aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                .id("1")
                .message("x")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(error.message().unwrap().contains("PublishBatch"));
}

#[tokio::test]
async fn confirm_subscription_needs_the_token_that_was_sent() {
    let fixture = fixture().await;
    let confirmed = fixture
        .plane
        .expect_confirmation("token-1", TOPIC, &fixture.subscription_arn);
    let error = fixture
        .sns
        .confirm_subscription()
        .topic_arn(TOPIC)
        .token("forged")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidParameter"));

    let output = fixture
        .sns
        .confirm_subscription()
        .topic_arn(TOPIC)
        .token("token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        output.subscription_arn(),
        Some(fixture.subscription_arn.as_str())
    );
    confirmed.await.unwrap();
}

#[tokio::test]
async fn other_actions_go_to_the_control_plane() {
    let fixture = fixture().await;
    let topics = fixture.sns.list_topics().send().await.unwrap();
    assert_eq!(topics.topics()[0].topic_arn(), Some(TOPIC));
    let seen = fixture.seen_by_control_plane.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains("Action=ListTopics"), "{}", seen[0]);
}
