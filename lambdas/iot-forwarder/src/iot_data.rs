//! The IoT data plane adapter: `iot-data` Publish (`POST /topics/{topic}?qos=1`).

use async_trait::async_trait;
use aws_sdk_iotdataplane::error::{DisplayErrorContext, SdkError};
use aws_sdk_iotdataplane::operation::publish::PublishError;
use aws_sdk_iotdataplane::primitives::Blob;
use postoffice::Topic;

use crate::{IotPublish, IotPublishError};

/// At least once: the device acknowledges, IoT Core redelivers to persistent sessions.
const QOS_AT_LEAST_ONCE: i32 = 1;

pub struct IotDataPublisher {
    client: aws_sdk_iotdataplane::Client,
}

impl IotDataPublisher {
    pub fn new(client: aws_sdk_iotdataplane::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl IotPublish for IotDataPublisher {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), IotPublishError> {
        self.client
            .publish()
            .topic(topic.to_string())
            .qos(QOS_AT_LEAST_ONCE)
            .payload(Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

fn classify(error: SdkError<PublishError>) -> IotPublishError {
    let text = DisplayErrorContext(&error).to_string();
    let SdkError::ServiceError(service) = &error else {
        // Dispatch failures, timeouts, unreadable responses: the request may never have arrived.
        return IotPublishError::Transport(text);
    };
    let status = service.raw().status().as_u16();
    match service.err() {
        PublishError::ThrottlingException(_) => IotPublishError::Throttled(text),
        PublishError::InvalidRequestException(_) | PublishError::MethodNotAllowedException(_) => {
            IotPublishError::Rejected(text)
        }
        // Missing permissions are fixed by a deployment; the event waits in retries or the DLQ.
        PublishError::InternalFailureException(_) | PublishError::UnauthorizedException(_) => {
            IotPublishError::Service(text)
        }
        _ if status == 429 => IotPublishError::Throttled(text),
        _ if (400..500).contains(&status) && status != 401 && status != 403 && status != 408 => {
            IotPublishError::Rejected(text)
        }
        _ => IotPublishError::Service(text),
    }
}
