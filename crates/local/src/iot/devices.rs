//! Devices registered as IoT Core registers them: an X.509 certificate issued by the local
//! factory CA and registered ACTIVE (without a CA, as multi-account registration does), a thing
//! named like the device's MQTT client id carrying the household attribute, the certificate
//! attached to the thing, and the platform's device policies attached to the certificate. What
//! a device may then do is decided by those applied policies only.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_sdk_iot::types::{AttributePayload, CertificateStatus};

use crate::tls::{IssuedCertificate, LocalCa, write_secret};

/// A registered device's credentials and where they were written.
#[derive(Debug, Clone)]
pub struct DeviceCredentials {
    pub thing: String,
    pub certificate_id: String,
    pub certificate_arn: String,
    pub certificate: IssuedCertificate,
    /// `<dir>/<thing>.pem`, `<dir>/<thing>.key` (0600).
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
}

/// What a device registration needs to know.
pub struct Registration<'a> {
    pub thing: &'a str,
    /// Thing attributes (the household attribute among them); none for a device that left the
    /// factory and is not paired yet.
    pub attributes: &'a [(&'a str, &'a str)],
    pub policies: &'a [String],
}

/// Registers a device in the control plane (`iot` talks to moto as the administrator) and
/// writes its certificate and key into `dir`.
pub async fn register(
    iot: &aws_sdk_iot::Client,
    factory: &LocalCa,
    registration: &Registration<'_>,
    dir: &Path,
) -> anyhow::Result<DeviceCredentials> {
    let thing = registration.thing;
    postoffice::topic::validate_device_id(thing)
        .with_context(|| format!("{thing} cannot be a device's thing name"))?;
    let certificate = factory.issue_client(thing)?;
    let registered = iot
        .register_certificate_without_ca()
        .certificate_pem(&certificate.certificate_pem)
        .status(CertificateStatus::Active)
        .send()
        .await
        .context("RegisterCertificateWithoutCA")?;
    let certificate_id = registered.certificate_id.context("no certificate id")?;
    let certificate_arn = registered.certificate_arn.context("no certificate ARN")?;
    let mut attributes = AttributePayload::builder();
    for (name, value) in registration.attributes {
        attributes = attributes.attributes(*name, *value);
    }
    iot.create_thing()
        .thing_name(thing)
        .attribute_payload(attributes.build())
        .send()
        .await
        .with_context(|| format!("CreateThing {thing}"))?;
    iot.attach_thing_principal()
        .thing_name(thing)
        .principal(&certificate_arn)
        .send()
        .await
        .with_context(|| format!("AttachThingPrincipal {thing}"))?;
    for policy in registration.policies {
        iot.attach_policy()
            .policy_name(policy)
            .target(&certificate_arn)
            .send()
            .await
            .with_context(|| format!("AttachPolicy {policy}"))?;
    }
    std::fs::create_dir_all(dir)?;
    let certificate_file = dir.join(format!("{thing}.pem"));
    let key_file = dir.join(format!("{thing}.key"));
    std::fs::write(&certificate_file, &certificate.certificate_pem)?;
    write_secret(&key_file, &certificate.private_key_pem)?;
    Ok(DeviceCredentials {
        thing: thing.to_owned(),
        certificate_id,
        certificate_arn,
        certificate,
        certificate_file,
        key_file,
    })
}
