//! The SQS adapter against moto: a rejected member arrives in the queue as its body, whole.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use collection_unpacker::{KeepError, RejectedMembers, SqsRejectedMembers};
use postoffice_test_support::Moto;

fn client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

#[tokio::test]
async fn a_rejected_member_is_one_message_with_its_body() {
    let moto = Moto::start().await;
    let sqs = client(moto.endpoint());
    let queue_url = sqs
        .create_queue()
        .queue_name("postoffice-rejected-device-messages")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let body = r#"{"ruleName":"collection-unpacker","unreadable":["event"],"detail":"ü"}"#;
    SqsRejectedMembers::new(sqs.clone(), &queue_url)
        .keep(body.to_owned())
        .await
        .unwrap();
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body(), Some(body));

    let missing = queue_url.replace("rejected-device-messages", "nothing");
    let KeepError(message) = SqsRejectedMembers::new(sqs, &missing)
        .keep(body.to_owned())
        .await
        .unwrap_err();
    assert!(message.contains(&missing), "{message}");
}
