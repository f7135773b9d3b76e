//! The factory step: appliances leave the factory registered and in no household. Each gets a
//! key and certificate from the factory CA, a thing (named like its MQTT client id) whose only
//! attribute is its pairing claim (the SHA-256 of the pairing code on its label,
//! `postoffice::pairing`), the certificate attached to the thing and to the base device policy
//! (the platform's `factory_device_policy_name`). With no household its policy variables resolve
//! to nothing: it may connect and wait for its pairing answer, and do nothing else until
//! onboarding pairs it with a household and attaches the publish policies.
//!
//! In AWS the factory registers a batch with one bulk registration task
//! (StartThingRegistrationTask: a provisioning template with these resources and one line per
//! appliance in S3, <https://docs.aws.amazon.com/iot/latest/developerguide/bulk-provisioning.html>)
//! rather than just-in-time provisioning, whose template parameters come only from the
//! certificate's subject and whose thing exists only after the appliance's first (refused)
//! connection (<https://docs.aws.amazon.com/iot/latest/developerguide/jit-provisioning.html>):
//! the claim has to be in the registry before anyone can pair the appliance. Locally the same
//! resources are created with the calls such a template makes (RegisterCertificateWithoutCA,
//! CreateThing, AttachThingPrincipal, AttachPolicy), the registration path `local device add`
//! uses.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use postoffice::pairing::{PAIRING_CLAIM_ATTRIBUTE, claim_of, code_from_random};

use crate::iot::devices::{DeviceCredentials, Registration, register};
use crate::tls::{LocalCa, write_secret};

/// An appliance as it leaves the factory.
#[derive(Debug, Clone)]
pub struct Manufactured {
    pub credentials: DeviceCredentials,
    /// What the label on the appliance shows; nothing else keeps it.
    pub pairing_code: String,
    /// `<dir>/<thing>.pairing-code` (0600): the label.
    pub label_file: PathBuf,
}

/// A new pairing code: 80 bits from the system's random source.
pub fn new_pairing_code() -> anyhow::Result<String> {
    let mut random = [0u8; 10];
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    Ok(code_from_random(random))
}

/// Registers one appliance named `thing` with the base device policy `policy` and writes its
/// certificate, key and label into `dir`.
pub async fn manufacture(
    iot: &aws_sdk_iot::Client,
    factory: &LocalCa,
    thing: &str,
    policy: &str,
    dir: &Path,
) -> anyhow::Result<Manufactured> {
    let pairing_code = new_pairing_code()?;
    let claim = claim_of(&pairing_code);
    let credentials = register(
        iot,
        factory,
        &Registration {
            thing,
            attributes: &[(PAIRING_CLAIM_ATTRIBUTE, claim.as_str())],
            policies: &[policy.to_owned()],
        },
        dir,
    )
    .await?;
    let label_file = dir.join(format!("{thing}.pairing-code"));
    write_secret(&label_file, &pairing_code)
        .with_context(|| format!("writing the label of {thing}"))?;
    Ok(Manufactured {
        credentials,
        pairing_code,
        label_file,
    })
}
