//! The SNS adapter of the publish port.

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;

use super::publish::{Publication, Publish, PublishError};

pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Publish for SnsPublisher {
    async fn publish(&self, publication: &Publication) -> Result<(), PublishError> {
        let failed = |message: String| PublishError {
            topic_arn: publication.topic_arn.clone(),
            message,
        };
        let mut request = self
            .client
            .publish()
            .topic_arn(&publication.topic_arn)
            .message(&publication.message);
        for (name, value) in &publication.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|error| failed(error.to_string()))?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map_err(|error| failed(DisplayErrorContext(&error).to_string()))?;
        Ok(())
    }
}

/// Against moto's SNS, which delivers to an HTTP subscription inside Publish: the notification
/// shows exactly what subscribers (and their filter policies) get.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
    use postoffice_test_support::{Moto, read_http_request, write_http_response};
    use serde_json::{Value, json};
    use tokio::net::TcpListener;

    use super::*;
    use crate::{Envelope, Topic};

    /// Records the bodies of the notifications POSTed to it.
    async fn start_subscriber() -> (String, Arc<Mutex<Vec<Value>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sns", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let recorder = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_http_request(&mut stream).await;
                if let Some(body) = request.and_then(|r| serde_json::from_slice(&r.body).ok()) {
                    recorder.lock().unwrap().push(body);
                }
                let _ =
                    write_http_response(&mut stream, 200, "OK", &[("connection", "close")], b"")
                        .await;
            }
        });
        (url, received)
    }

    #[tokio::test]
    async fn publishes_the_envelope_with_identity_attributes_to_the_event_topic() {
        let moto = Moto::start().await;
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(crate::aws_http::http_client())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(moto.endpoint())
            .build();
        let client = aws_sdk_sns::Client::from_conf(config);
        let topic_arn = client
            .create_topic()
            .name("postoffice-COOKING_REPLIED")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        // moto leaves MessageAttributes out of HTTP notifications but applies filter policies on
        // them: a subscription matching the identity gets the message, one for another
        // household does not.
        let (endpoint, received) = start_subscriber().await;
        let (other_endpoint, other_received) = start_subscriber().await;
        for (endpoint, policy) in [
            (
                &endpoint,
                json!({"event": ["COOKING_REPLIED"], "household_id": ["h-1"], "device_id": ["oven-1"]}),
            ),
            (&other_endpoint, json!({"household_id": ["h-2"]})),
        ] {
            client
                .subscribe()
                .topic_arn(&topic_arn)
                .protocol("http")
                .endpoint(endpoint)
                .attributes("FilterPolicy", policy.to_string())
                .send()
                .await
                .unwrap();
        }
        let prefix = topic_arn.strip_suffix("COOKING_REPLIED").unwrap();

        let topic = Topic::parse("COOKING_REPLIED/h-1/oven-1").unwrap();
        let envelope = Envelope::new(&topic, "kitchen", json!({"status": "accepted"}));
        let publisher = SnsPublisher::new(client);
        publisher
            .publish(&Publication::of(&envelope, prefix))
            .await
            .unwrap();

        let notifications: Vec<Value> = received
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n["Type"] == "Notification")
            .cloned()
            .collect();
        assert_eq!(notifications.len(), 1, "{:?}", received.lock().unwrap());
        let notification = &notifications[0];
        assert_eq!(notification["TopicArn"], topic_arn.as_str());
        let message = notification["Message"].as_str().unwrap();
        assert_eq!(Envelope::from_json(message.as_bytes()).unwrap(), envelope);
        assert!(
            other_received
                .lock()
                .unwrap()
                .iter()
                .all(|n| n["Type"] != "Notification"),
            "the h-2 subscription must be filtered out"
        );

        let missing = Publication::of(&envelope, "arn:aws:sns:eu-west-1:123456789012:nothing-");
        let error = publisher.publish(&missing).await.unwrap_err();
        assert!(
            error.to_string().contains("nothing-COOKING_REPLIED"),
            "{error}"
        );
    }
}
