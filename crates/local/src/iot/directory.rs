//! What IoT Core knows of a connecting client, looked up in the control plane when it
//! connects: its certificate (status, ARN), the things the certificate is attached to, the IoT
//! policies attached to it, and the thing named like the client id with its attributes. Kept
//! per certificate until the IoT control plane changes, so a fleet reconnecting costs one
//! lookup per device, and a device paired, unpaired or revoked is seen on its next connect.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use anyhow::Context as _;
use tokio::sync::watch;

/// A registered certificate, as `DescribeCertificate` and its attachments give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: String,
    pub arn: String,
    pub status: String,
    /// Things the certificate is attached to (`ListPrincipalThings`).
    pub things: BTreeSet<String>,
    /// IoT policies attached to it (`ListAttachedPolicies`).
    pub policies: BTreeSet<String>,
}

pub struct Directory {
    iot: aws_sdk_iot::Client,
    changes: watch::Receiver<BTreeMap<String, u64>>,
    certificates: Mutex<HashMap<String, (u64, Option<Certificate>)>>,
    things: Mutex<HashMap<String, (u64, Option<Attributes>)>>,
}

/// A thing's attributes.
type Attributes = BTreeMap<String, String>;

impl Directory {
    pub fn new(iot: aws_sdk_iot::Client, changes: watch::Receiver<BTreeMap<String, u64>>) -> Self {
        Self {
            iot,
            changes,
            certificates: Mutex::default(),
            things: Mutex::default(),
        }
    }

    fn generation(&self) -> u64 {
        self.changes
            .borrow()
            .get("iot")
            .copied()
            .unwrap_or_default()
    }

    /// The certificate with this id, or `None` when it is not registered.
    pub async fn certificate(&self, id: &str) -> anyhow::Result<Option<Certificate>> {
        let generation = self.generation();
        if let Some((seen, found)) = self
            .certificates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            && *seen == generation
        {
            return Ok(found.clone());
        }
        let found = self.read_certificate(id).await?;
        self.certificates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), (generation, found.clone()));
        Ok(found)
    }

    async fn read_certificate(&self, id: &str) -> anyhow::Result<Option<Certificate>> {
        let description = match self
            .iot
            .describe_certificate()
            .certificate_id(id)
            .send()
            .await
        {
            Ok(answer) => answer.certificate_description,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(error) => return Err(error).context("DescribeCertificate"),
        };
        let Some(description) = description else {
            return Ok(None);
        };
        let arn = description.certificate_arn.unwrap_or_default();
        let things = self
            .iot
            .list_principal_things()
            .principal(&arn)
            .send()
            .await
            .context("ListPrincipalThings")?
            .things
            .unwrap_or_default()
            .into_iter()
            .collect();
        let policies = self
            .iot
            .list_attached_policies()
            .target(&arn)
            .send()
            .await
            .context("ListAttachedPolicies")?
            .policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|policy| policy.policy_name)
            .collect();
        Ok(Some(Certificate {
            id: id.to_owned(),
            arn,
            status: description
                .status
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            things,
            policies,
        }))
    }

    /// The attributes of the thing named `name`, or `None` when there is no such thing.
    pub async fn thing(&self, name: &str) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let generation = self.generation();
        if let Some((seen, found)) = self
            .things
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            && *seen == generation
        {
            return Ok(found.clone());
        }
        let found = match self.iot.describe_thing().thing_name(name).send().await {
            Ok(thing) => Some(thing.attributes.unwrap_or_default().into_iter().collect()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(error) => return Err(error).context("DescribeThing"),
        };
        self.things
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), (generation, found.clone()));
        Ok(found)
    }

    /// The IoT policies attached to `target` (a Cognito identity id), read on every connect (an
    /// app connects rarely; the sign-in function attaches its policy just before).
    pub async fn attached_policies(&self, target: &str) -> anyhow::Result<BTreeSet<String>> {
        Ok(self
            .iot
            .list_attached_policies()
            .target(target)
            .send()
            .await
            .context("ListAttachedPolicies")?
            .policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|policy| policy.policy_name)
            .collect())
    }
}
