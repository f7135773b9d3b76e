//! The adapters of [`crate::registry`]: each method is one AWS IoT call through the SDK.

use async_trait::async_trait;
use aws_sdk_iot::types::AttributePayload;
use aws_sdk_iotdataplane::error::DisplayErrorContext;

use crate::registry::{DeviceConnections, DeviceRegistry, IotError, Thing};

fn failed(action: &'static str, error: impl std::error::Error) -> IotError {
    IotError {
        action,
        message: DisplayErrorContext(error).to_string(),
    }
}

/// The IoT registry (`aws-sdk-iot`).
pub struct IotRegistry {
    client: aws_sdk_iot::Client,
}

impl IotRegistry {
    pub fn new(client: aws_sdk_iot::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DeviceRegistry for IotRegistry {
    async fn thing(&self, name: &str) -> Result<Option<Thing>, IotError> {
        match self.client.describe_thing().thing_name(name).send().await {
            Ok(thing) => Ok(Some(Thing {
                attributes: thing.attributes.unwrap_or_default().into_iter().collect(),
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(failed("DescribeThing", error)),
        }
    }

    async fn set_attribute(
        &self,
        thing: &str,
        attribute: &str,
        value: Option<&str>,
    ) -> Result<(), IotError> {
        // "To remove an attribute, call UpdateThing with an empty attribute value"
        // (https://docs.aws.amazon.com/iot/latest/apireference/API_AttributePayload.html).
        let payload = AttributePayload::builder()
            .attributes(attribute, value.unwrap_or_default())
            .merge(true)
            .build();
        self.client
            .update_thing()
            .thing_name(thing)
            .attribute_payload(payload)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| failed("UpdateThing", error))
    }

    async fn principals(&self, thing: &str) -> Result<Vec<String>, IotError> {
        let mut principals = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .client
                .list_thing_principals()
                .thing_name(thing)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|error| failed("ListThingPrincipals", error))?;
            principals.extend(page.principals.unwrap_or_default());
            next_token = page.next_token;
            if next_token.is_none() {
                return Ok(principals);
            }
        }
    }

    async fn attach_policy(&self, policy: &str, target: &str) -> Result<(), IotError> {
        self.client
            .attach_policy()
            .policy_name(policy)
            .target(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| failed("AttachPolicy", error))
    }

    async fn detach_policy(&self, policy: &str, target: &str) -> Result<(), IotError> {
        // DetachPolicy has no not-found error: detaching what is not attached succeeds
        // (https://docs.aws.amazon.com/iot/latest/apireference/API_DetachPolicy.html, Errors).
        self.client
            .detach_policy()
            .policy_name(policy)
            .target(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| failed("DetachPolicy", error))
    }
}

/// The message broker's connections (`aws-sdk-iotdataplane`, the account's ATS data endpoint).
pub struct IotConnections {
    client: aws_sdk_iotdataplane::Client,
}

impl IotConnections {
    pub fn new(client: aws_sdk_iotdataplane::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DeviceConnections for IotConnections {
    async fn disconnect(&self, client_id: &str) -> Result<bool, IotError> {
        // DELETE /connections/{clientId}, launched August 2025
        // (https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_DeleteConnection.html).
        // The session is cleaned: a device of no household has no subscriptions to keep.
        match self
            .client
            .delete_connection()
            .client_id(client_id)
            .clean_session(true)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(failed("DeleteConnection", error)),
        }
    }
}
