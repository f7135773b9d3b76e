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
