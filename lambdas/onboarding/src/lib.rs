//! The onboarding service, consumer `onboarding`: pairs appliances with households and unpairs
//! them (docs/contracts.md, "Onboarding").
//!
//! An appliance leaves the factory registered (certificate, thing, the SHA-256 of its pairing
//! code as the thing's [`PAIRING_CLAIM_ATTRIBUTE`]) with no household and no policy, so IoT
//! Core refuses its connections. Pairing (`DEVICE_PAIRING_REQUESTED` from household H's app)
//! checks the code against the claim, sets the household attribute and then attaches the device
//! policies: the appliance's next connection is admitted, and its policy variables resolve to H.
//! Unpairing (`DEVICE_UNPAIRING_REQUESTED`) detaches the policies, closes the appliance's
//! connection (DeleteConnection) and then removes the household, so the old household loses it
//! at once. Both answer `DEVICE_PAIRING_REPLIED` on H's topic of the appliance.
//!
//! Every step can be repeated: a retry after any failure finishes the work and gives the same
//! answer. A refusal changes nothing.

pub mod iot;
pub mod registry;

use postoffice::handler::{Context, Handler, HandlerError};
use postoffice::pairing::{PAIRING_CLAIM_ATTRIBUTE, claim_matches};
use serde::{Deserialize, Serialize};

use registry::{DeviceConnections, DeviceRegistry, IotError};

/// The consumer name (catalog, Terraform).
pub const CONSUMER: &str = "onboarding";
/// Comma-separated IoT policies pairing attaches to an appliance's certificate and unpairing
/// detaches: the device publish policies (the platform's `paired_device_policy_names`). The
/// base device policy stays, attached by the factory.
pub const DEVICE_POLICIES_ENV: &str = "POSTOFFICE_PAIRED_DEVICE_POLICIES";
/// The thing attribute holding an appliance's household (the platform's
/// `household_thing_attribute`).
pub const HOUSEHOLD_ATTRIBUTE_ENV: &str = "POSTOFFICE_HOUSEHOLD_ATTRIBUTE";

/// The events onboarding consumes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", content = "payload")]
pub enum OnboardingEvent {
    #[serde(rename = "DEVICE_PAIRING_REQUESTED")]
    PairingRequested(PairingRequest),
    #[serde(rename = "DEVICE_UNPAIRING_REQUESTED")]
    UnpairingRequested(UnpairingRequest),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PairingRequest {
    pub pairing_code: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UnpairingRequest {
    pub reason: Option<String>,
}

/// DEVICE_PAIRING_REPLIED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum PairingAnswer {
    Paired,
    Unpaired,
    Refused { reason: Refusal, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    ClaimMismatch,
    PairedElsewhere,
    NotPairedHere,
}

fn refused(reason: Refusal) -> PairingAnswer {
    let detail = match reason {
        // One answer for a wrong code and an unknown appliance: the app learns nothing about
        // which appliances exist.
        Refusal::ClaimMismatch => "The pairing code does not match this appliance.",
        Refusal::PairedElsewhere => {
            "This appliance belongs to another household, which must remove it first."
        }
        Refusal::NotPairedHere => "This appliance does not belong to this household.",
    };
    PairingAnswer::Refused {
        reason,
        detail: detail.to_owned(),
    }
}

/// What onboarding is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub device_policies: Vec<String>,
    pub household_attribute: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
}

impl Settings {
    /// From [`DEVICE_POLICIES_ENV`] and [`HOUSEHOLD_ATTRIBUTE_ENV`], as `lookup` gives them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let device_policies: Vec<String> = lookup(DEVICE_POLICIES_ENV)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        if device_policies.is_empty() {
            return Err(SettingsError::Missing(
                DEVICE_POLICIES_ENV,
                "the comma-separated IoT policies pairing attaches (Terraform sets it from the platform's paired_device_policy_names)",
            ));
        }
        let household_attribute = lookup(HOUSEHOLD_ATTRIBUTE_ENV)
            .filter(|name| !name.is_empty())
            .ok_or(SettingsError::Missing(
                HOUSEHOLD_ATTRIBUTE_ENV,
                "the thing attribute holding a device's household (the platform's household_thing_attribute)",
            ))?;
        Ok(Self {
            device_policies,
            household_attribute,
        })
    }
}

pub struct Onboarding<R, C> {
    registry: R,
    connections: C,
    settings: Settings,
}

impl<R: DeviceRegistry, C: DeviceConnections> Onboarding<R, C> {
    pub fn new(registry: R, connections: C, settings: Settings) -> Self {
        Self {
            registry,
            connections,
            settings,
        }
    }

    /// The certificates attached to the thing: Cognito identities never get device policies.
    async fn certificates(&self, thing: &str) -> Result<Vec<String>, IotError> {
        Ok(self
            .registry
            .principals(thing)
            .await?
            .into_iter()
            .filter(|principal| principal.starts_with("arn:") && principal.contains(":cert/"))
            .collect())
    }

    async fn pair(
        &self,
        household: &str,
        device: &str,
        code: &str,
    ) -> Result<PairingAnswer, IotError> {
        let Some(thing) = self.registry.thing(device).await? else {
            return Ok(refused(Refusal::ClaimMismatch));
        };
        let claim_holds = thing
            .attributes
            .get(PAIRING_CLAIM_ATTRIBUTE)
            .is_some_and(|claim| claim_matches(claim, code));
        if !claim_holds {
            return Ok(refused(Refusal::ClaimMismatch));
        }
        match thing.attributes.get(&self.settings.household_attribute) {
            Some(current) if current != household => return Ok(refused(Refusal::PairedElsewhere)),
            // Paired here already: an earlier attempt may not have attached every policy.
            Some(_) => {}
            // The household first, the policies second: no connection is admitted before the
            // household it would resolve to is set.
            None => {
                self.registry
                    .set_attribute(device, &self.settings.household_attribute, Some(household))
                    .await?
            }
        }
        for certificate in self.certificates(device).await? {
            for policy in &self.settings.device_policies {
                self.registry.attach_policy(policy, &certificate).await?;
            }
        }
        Ok(PairingAnswer::Paired)
    }

    async fn unpair(&self, household: &str, device: &str) -> Result<PairingAnswer, IotError> {
        let current = match self.registry.thing(device).await? {
            Some(thing) => thing
                .attributes
                .get(&self.settings.household_attribute)
                .cloned(),
            None => return Ok(refused(Refusal::NotPairedHere)),
        };
        match current.as_deref() {
            Some(current) if current == household => {}
            // In no household: unpaired already (a retry whose answer was not sent), nothing
            // left to do.
            None => return Ok(PairingAnswer::Unpaired),
            Some(_) => return Ok(refused(Refusal::NotPairedHere)),
        }
        // Policies first (no new connection is admitted), then the open connection, then the
        // household last: a failure on the way leaves it paired here, and the retry redoes all.
        for certificate in self.certificates(device).await? {
            for policy in &self.settings.device_policies {
                self.registry.detach_policy(policy, &certificate).await?;
            }
        }
        let was_connected = self.connections.disconnect(device).await?;
        self.registry
            .set_attribute(device, &self.settings.household_attribute, None)
            .await?;
        tracing::info!(household, device, was_connected, "device unpaired");
        Ok(PairingAnswer::Unpaired)
    }
}

impl<R: DeviceRegistry, C: DeviceConnections> Handler for Onboarding<R, C> {
    const CONSUMER: &'static str = CONSUMER;
    type Event = OnboardingEvent;

    async fn handle(
        &self,
        event: OnboardingEvent,
        ctx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let envelope = ctx.envelope();
        let (household, device) = (envelope.household_id.clone(), envelope.device_id.clone());
        // IoT failures are retryable (`?`): SNS retries, then the request waits in the DLQ.
        let answer = match event {
            OnboardingEvent::PairingRequested(request) => {
                self.pair(&household, &device, &request.pairing_code)
                    .await?
            }
            OnboardingEvent::UnpairingRequested(_) => self.unpair(&household, &device).await?,
        };
        if let PairingAnswer::Refused { reason, .. } = &answer {
            tracing::warn!(household, device, ?reason, event = %envelope.event, "onboarding refused");
        }
        // DEVICE_PAIRING_REPLIED answers both requests; `reply` would name DEVICE_UNPAIRING_REPLIED.
        ctx.publish("DEVICE_PAIRING_REPLIED", &answer)?;
        Ok(())
    }
}
