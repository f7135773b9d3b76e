//! What onboarding needs from IoT Core, as ports: the registry (things, their certificates, the
//! policies attached to those) and the message broker's connections. One method, one AWS call;
//! the adapters are in [`crate::iot`].

use std::collections::BTreeMap;

use async_trait::async_trait;

/// A thing as `DescribeThing` gives it: its attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thing {
    pub attributes: BTreeMap<String, String>,
}

/// IoT Core did not do what was asked; trying again later may help (throttling, an outage, a
/// permission a deployment will grant). Anything permanent is decided before calling IoT.
#[derive(Debug, thiserror::Error)]
#[error("IoT {action} failed: {message}")]
pub struct IotError {
    pub action: &'static str,
    pub message: String,
}

#[async_trait]
pub trait DeviceRegistry: Send + Sync {
    /// `DescribeThing`: `None` when there is no such thing.
    async fn thing(&self, name: &str) -> Result<Option<Thing>, IotError>;

    /// `UpdateThing` merging one attribute into the others: `Some` sets it, `None` removes it
    /// (an empty value removes an attribute).
    async fn set_attribute(
        &self,
        thing: &str,
        attribute: &str,
        value: Option<&str>,
    ) -> Result<(), IotError>;

    /// `ListThingPrincipals`: the certificate ARNs (and Cognito identities) attached to the thing.
    async fn principals(&self, thing: &str) -> Result<Vec<String>, IotError>;

    /// `AttachPolicy` (attaching an attached policy changes nothing).
    async fn attach_policy(&self, policy: &str, target: &str) -> Result<(), IotError>;

    /// `DetachPolicy` (detaching a policy that is not attached changes nothing).
    async fn detach_policy(&self, policy: &str, target: &str) -> Result<(), IotError>;
}

#[async_trait]
pub trait DeviceConnections: Send + Sync {
    /// iot-data `DeleteConnection`: closes the client's connection now. `false` when it was not
    /// connected.
    async fn disconnect(&self, client_id: &str) -> Result<bool, IotError>;
}
