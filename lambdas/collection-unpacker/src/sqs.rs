//! The SQS adapter of the rejected-members port: one SendMessage per rejected member.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::{KeepError, RejectedMembers};

pub struct SqsRejectedMembers {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsRejectedMembers {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl RejectedMembers for SqsRejectedMembers {
    async fn keep(&self, body: String) -> Result<(), KeepError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map(drop)
            .map_err(|error| {
                KeepError(format!(
                    "{}: {}",
                    self.queue_url,
                    DisplayErrorContext(&error)
                ))
            })
    }
}
