//! Who may do what at the local IoT gateway, as AWS IoT Core decides it: the client's X.509
//! certificate must be registered and ACTIVE; the IoT policies attached to it are evaluated for
//! `iot:Connect` on the client id, and then for every publish, subscription and delivery, with
//! the policy variables of the connection (`iot:ClientId`, and the thing named like the client
//! id, with its attributes, when it is attached to the certificate).
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html>,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html>)
//!
//! Policies are read from the current applied snapshot on every decision (IoT applies policy
//! changes to existing connections); the connection's variables are fixed when it connects.
//! Decisions are cached per snapshot, action and resource.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use postoffice_iot_gateway::{
    Authority, ClientCredentials, ConnectRequest, ConnectionAuthority, Refusal, Verdict,
};
use postoffice_policy::iot::{
    ConnectedThing, IotConnection, client_arn, topic_arn, topic_filter_arn,
};
use postoffice_policy::{Context, IotPolicies, Principal, Request, evaluate_iot};

use crate::activity::{Activity, ActivityLog};
use crate::iam::{Authorizer, Snapshot};
use crate::iot::directory::Directory;

pub struct IotAuthority {
    pub authorizer: Arc<Authorizer>,
    pub directory: Arc<Directory>,
    pub activity: ActivityLog,
}

/// Evaluates one IoT action for a certificate, against the named policies as applied now.
fn decide(
    snapshot: &Snapshot,
    policy_names: &BTreeSet<String>,
    principal: &Principal,
    action: &str,
    resource: &str,
    context: &Context,
) -> Result<(), String> {
    let mut policies = IotPolicies::new();
    for name in policy_names {
        if let Some(policy) = snapshot.book.iot.get(name) {
            policies = policies.policy(policy).map_err(|error| error.to_string())?;
        }
    }
    let request = Request::new(principal.clone(), action, resource)
        .map_err(|error| error.to_string())?
        .with_context(context.clone());
    let decision = evaluate_iot(&request, &policies);
    if decision.is_allowed() {
        Ok(())
    } else {
        Err(decision.explain(&request))
    }
}

#[async_trait::async_trait]
impl Authority for IotAuthority {
    async fn connect(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<Arc<dyn ConnectionAuthority>, Refusal> {
        let snapshot = self.authorizer.snapshot();
        let certificate_id = match request.credentials {
            ClientCredentials::Certificate(certificate) => certificate.id().to_owned(),
            _ => {
                return Err(Refusal::not_authorized(
                    "only X.509 client certificates are accepted here",
                ));
            }
        };
        let refuse = |reason: String| {
            self.activity.record(Activity::GatewayRefused {
                client_id: request.client_id.to_owned(),
                what: "connect".to_owned(),
                reason: reason.clone(),
            });
            Refusal::not_authorized(reason)
        };
        let certificate = match self.directory.certificate(&certificate_id).await {
            Ok(Some(certificate)) => certificate,
            Ok(None) => {
                return Err(refuse(format!(
                    "certificate {certificate_id} is not registered"
                )));
            }
            Err(error) => return Err(Refusal::unavailable(format!("{error:#}"))),
        };
        if certificate.status != "ACTIVE" {
            return Err(refuse(format!(
                "certificate {certificate_id} is {}",
                certificate.status
            )));
        }
        let mut connection = IotConnection::new(request.client_id);
        let thing = match self.directory.thing(request.client_id).await {
            Ok(thing) => thing,
            Err(error) => return Err(Refusal::unavailable(format!("{error:#}"))),
        };
        if let Some(attributes) = thing {
            let thing = ConnectedThing {
                name: request.client_id.to_owned(),
                type_name: None,
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            connection =
                connection.with_thing(thing, certificate.things.contains(request.client_id));
        }
        let context = connection.context();
        let principal = Principal::iot_certificate(&certificate_id)
            .map_err(|error| refuse(error.to_string()))?;
        let region = &self.authorizer.region;
        let account = &self.authorizer.account;
        decide(
            &snapshot,
            &certificate.policies,
            &principal,
            "iot:Connect",
            &client_arn(region, account, request.client_id),
            &context,
        )
        .map_err(refuse)?;
        Ok(Arc::new(CertificateConnection {
            authorizer: self.authorizer.clone(),
            activity: self.activity.clone(),
            policies: certificate.policies.clone(),
            certificate_id,
            client_id: request.client_id.to_owned(),
            principal,
            context,
            cache: Mutex::default(),
        }))
    }
}

/// What one connected certificate may do.
struct CertificateConnection {
    authorizer: Arc<Authorizer>,
    activity: ActivityLog,
    /// The policies attached to the certificate when it connected (IoT re-reads the policies'
    /// documents on every action; attachments are what the connection was admitted with).
    policies: BTreeSet<String>,
    certificate_id: String,
    client_id: String,
    principal: Principal,
    context: Context,
    cache: Mutex<DecisionCache>,
}

/// (snapshot, decisions by (action, resource)); emptied when the policy snapshot changes.
type DecisionCache = (usize, HashMap<(&'static str, String), Result<(), String>>);

impl CertificateConnection {
    fn verdict(&self, action: &'static str, resource: String) -> Verdict {
        let snapshot = self.authorizer.snapshot();
        let generation = Arc::as_ptr(&snapshot) as usize;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0 != generation {
            *cache = (generation, HashMap::new());
        }
        let decision = cache
            .1
            .entry((action, resource.clone()))
            .or_insert_with(|| {
                decide(
                    &snapshot,
                    &self.policies,
                    &self.principal,
                    action,
                    &resource,
                    &self.context,
                )
            })
            .clone();
        drop(cache);
        match decision {
            Ok(()) => Verdict::Allow,
            Err(reason) => {
                self.activity.record(Activity::GatewayRefused {
                    client_id: self.client_id.clone(),
                    what: format!("{action} {resource}"),
                    reason: reason.clone(),
                });
                Verdict::deny(reason)
            }
        }
    }
}

impl ConnectionAuthority for CertificateConnection {
    fn may_publish(&self, topic: &str, retain: bool) -> Verdict {
        let (region, account) = (&self.authorizer.region, &self.authorizer.account);
        let resource = topic_arn(region, account, topic);
        match self.verdict("iot:Publish", resource.clone()) {
            Verdict::Allow if retain => self.verdict("iot:RetainPublish", resource),
            verdict => verdict,
        }
    }

    fn may_subscribe(&self, filter: &str) -> Verdict {
        let (region, account) = (&self.authorizer.region, &self.authorizer.account);
        self.verdict("iot:Subscribe", topic_filter_arn(region, account, filter))
    }

    fn may_receive(&self, topic: &str) -> Verdict {
        let (region, account) = (&self.authorizer.region, &self.authorizer.account);
        self.verdict("iot:Receive", topic_arn(region, account, topic))
    }

    fn principal(&self) -> &str {
        &self.certificate_id
    }
}
