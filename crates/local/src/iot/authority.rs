//! Who may do what at the local IoT gateway, as AWS IoT Core decides it: the client's X.509
//! certificate must be registered and ACTIVE; the IoT policies attached to it are evaluated for
//! `iot:Connect` on the client id, and then for every publish, subscription and delivery, with
//! the policy variables of the connection (`iot:ClientId`, and the thing named like the client
//! id, with its attributes, when it is attached to the certificate).
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html>,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html>)
//!
//! A client on the WebSocket listener is authenticated by its SigV4 presigned URL, signed with
//! credentials the post office issued. For a Cognito identity's credentials IoT allows only
//! what both the IoT policies attached to the identity id and the identity policies of the
//! pool's role allow, with `cognito-identity.amazonaws.com:sub` and the session's principal tags
//! resolved; an identity with no IoT policy attached cannot connect
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/cog-iot-policies.html>). Other role
//! sessions are authorised by their role's policies alone.
//!
//! Policies are read from the current applied snapshot on every decision (IoT applies policy
//! changes to existing connections); the connection's variables are fixed when it connects.
//! Decisions are cached per snapshot, action and resource.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use postoffice_iot_gateway::{
    Authority, ClientCredentials, ConnectRequest, ConnectionAuthority, Refusal, SignedUrl, Verdict,
};
use postoffice_policy::iot::{
    ConnectedThing, IotConnection, client_arn, evaluate_cognito, topic_arn, topic_filter_arn,
};
use postoffice_policy::{
    Context, IotPolicies, Policies, Principal, Request, evaluate, evaluate_iot,
};

use crate::activity::{Activity, ActivityLog};
use crate::aws::credentials::{Caller, CredentialStore};
use crate::aws::sigv4::{Presigned, verify_presigned_websocket};
use crate::iam::{Authorizer, Snapshot, with_session_keys};
use crate::iot::directory::Directory;

/// The signing name of IoT's MQTT-over-WebSocket URLs.
const WEBSOCKET_SIGNING_NAME: &str = "iotdevicegateway";

pub struct IotAuthority {
    pub authorizer: Arc<Authorizer>,
    pub directory: Arc<Directory>,
    pub credentials: Arc<CredentialStore>,
    pub activity: ActivityLog,
}

/// What a connection's actions are evaluated against.
#[derive(Debug, Clone)]
enum Grants {
    /// The IoT policies attached to its certificate.
    Certificate { policies: BTreeSet<String> },
    /// A Cognito identity: the IoT policies attached to the identity and its role's policies,
    /// both of which must allow.
    Cognito {
        policies: BTreeSet<String>,
        role_arn: String,
    },
    /// Another role session (SigV4): its role's policies.
    Role { role_arn: String },
}

fn iot_policies<'a>(
    snapshot: &'a Snapshot,
    names: &BTreeSet<String>,
) -> Result<IotPolicies<'a>, String> {
    let mut policies = IotPolicies::new();
    for name in names {
        if let Some(policy) = snapshot.book.iot.get(name) {
            policies = policies.policy(policy).map_err(|error| error.to_string())?;
        }
    }
    Ok(policies)
}

fn role_policies<'a>(snapshot: &'a Snapshot, role_arn: &str) -> Result<Policies<'a>, String> {
    let mut policies = Policies::new();
    if let Some(role) = snapshot.book.roles.get(role_arn) {
        for policy in &role.identity {
            policies = policies
                .identity_policy(policy)
                .map_err(|error| error.to_string())?;
        }
    }
    Ok(policies)
}

/// Evaluates one IoT action against the connection's grants, as applied now.
fn decide(
    snapshot: &Snapshot,
    grants: &Grants,
    principal: &Principal,
    action: &str,
    resource: &str,
    context: &Context,
) -> Result<(), String> {
    let request = Request::new(principal.clone(), action, resource)
        .map_err(|error| error.to_string())?
        .with_context(context.clone());
    match grants {
        Grants::Certificate { policies } => {
            let decision = evaluate_iot(&request, &iot_policies(snapshot, policies)?);
            if decision.is_allowed() {
                Ok(())
            } else {
                Err(decision.explain(&request))
            }
        }
        Grants::Cognito { policies, role_arn } => {
            let decision = evaluate_cognito(
                &request,
                &iot_policies(snapshot, policies)?,
                &role_policies(snapshot, role_arn)?,
            );
            if decision.is_allowed() {
                Ok(())
            } else {
                Err(decision.explain(&request))
            }
        }
        Grants::Role { role_arn } => {
            let decision = evaluate(&request, &role_policies(snapshot, role_arn)?);
            if decision.is_allowed() {
                Ok(())
            } else {
                Err(decision.explain(&request))
            }
        }
    }
}

#[async_trait::async_trait]
impl Authority for IotAuthority {
    async fn connect(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<Arc<dyn ConnectionAuthority>, Refusal> {
        let snapshot = self.authorizer.snapshot();
        let refuse = |reason: String| {
            self.activity.record(Activity::GatewayRefused {
                client_id: request.client_id.to_owned(),
                what: "connect".to_owned(),
                reason: reason.clone(),
            });
            Refusal::not_authorized(reason)
        };
        let certificate_id = match request.credentials {
            ClientCredentials::Certificate(certificate) => certificate.id().to_owned(),
            ClientCredentials::SignedUrl(url) => {
                return self
                    .connect_signed(request, url, &snapshot)
                    .await
                    .map_err(|refusal| match refusal.kind {
                        postoffice_iot_gateway::RefusalKind::NotAuthorized => {
                            refuse(refusal.reason)
                        }
                        _ => refusal,
                    });
            }
            _ => return Err(refuse("unknown kind of client credentials".to_owned())),
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
        let grants = Grants::Certificate {
            policies: certificate.policies.clone(),
        };
        decide(
            &snapshot,
            &grants,
            &principal,
            "iot:Connect",
            &client_arn(region, account, request.client_id),
            &context,
        )
        .map_err(refuse)?;
        Ok(Arc::new(AuthorizedConnection {
            authorizer: self.authorizer.clone(),
            activity: self.activity.clone(),
            grants,
            who: certificate_id,
            client_id: request.client_id.to_owned(),
            principal,
            context,
            cache: Mutex::default(),
        }))
    }
}

impl IotAuthority {
    /// A WebSocket client: its presigned URL must verify with credentials the post office
    /// issued, and `iot:Connect` be allowed for what they stand for.
    async fn connect_signed(
        &self,
        request: &ConnectRequest<'_>,
        url: &SignedUrl,
        snapshot: &Snapshot,
    ) -> Result<Arc<dyn ConnectionAuthority>, Refusal> {
        let presigned = Presigned::parse(url.query()).map_err(|error| {
            Refusal::not_authorized(format!("the WebSocket URL is not SigV4-presigned: {error}"))
        })?;
        let scope = &presigned.authorization;
        if scope.service != WEBSOCKET_SIGNING_NAME || scope.region != self.authorizer.region {
            return Err(Refusal::not_authorized(format!(
                "the URL is signed for {} in {}; IoT's WebSocket URLs are signed for {WEBSOCKET_SIGNING_NAME} in {}",
                scope.service, scope.region, self.authorizer.region
            )));
        }
        let (secret, caller) = self
            .credentials
            .lookup(&scope.access_key_id, presigned.security_token.as_deref())
            .ok_or_else(|| {
                Refusal::not_authorized(format!(
                    "the access key {} is unknown, or its session token does not match",
                    scope.access_key_id
                ))
            })?;
        verify_presigned_websocket(
            url.path(),
            url.query(),
            url.host(),
            &presigned,
            &secret,
            chrono::Utc::now(),
        )
        .map_err(|error| Refusal::not_authorized(format!("the presigned URL: {error}")))?;
        let Caller::RoleSession {
            role_arn,
            session_name,
            web_identity,
            ..
        } = &caller
        else {
            return Err(Refusal::not_authorized(
                "only role sessions (Cognito identities) connect over WebSocket locally",
            ));
        };
        let principal = Principal::role_session(role_arn, session_name)
            .map_err(|error| Refusal::not_authorized(error.to_string()))?;
        let mut connection = IotConnection::new(request.client_id);
        let grants = match web_identity {
            Some(identity) => {
                connection = connection.with_cognito_identity(&identity.identity_id);
                let policies = self
                    .directory
                    .attached_policies(&identity.identity_id)
                    .await
                    .map_err(|error| Refusal::unavailable(format!("{error:#}")))?;
                if policies.is_empty() {
                    return Err(Refusal::not_authorized(format!(
                        "no IoT policy is attached to the Cognito identity {}: the app must call the mobile sign-in function after GetCredentialsForIdentity",
                        identity.identity_id
                    )));
                }
                Grants::Cognito {
                    policies,
                    role_arn: role_arn.clone(),
                }
            }
            None => Grants::Role {
                role_arn: role_arn.clone(),
            },
        };
        let context = with_session_keys(connection.context(), &caller);
        let (region, account) = (&self.authorizer.region, &self.authorizer.account);
        decide(
            snapshot,
            &grants,
            &principal,
            "iot:Connect",
            &client_arn(region, account, request.client_id),
            &context,
        )
        .map_err(Refusal::not_authorized)?;
        let who = match web_identity {
            Some(identity) => identity.identity_id.clone(),
            None => caller.arn(),
        };
        Ok(Arc::new(AuthorizedConnection {
            authorizer: self.authorizer.clone(),
            activity: self.activity.clone(),
            grants,
            who,
            client_id: request.client_id.to_owned(),
            principal,
            context,
            cache: Mutex::default(),
        }))
    }
}

/// What one connected client may do.
struct AuthorizedConnection {
    authorizer: Arc<Authorizer>,
    activity: ActivityLog,
    /// The policies attached to the certificate or identity when it connected (IoT re-reads the
    /// policies' documents on every action; attachments are what the connection was admitted
    /// with).
    grants: Grants,
    /// The certificate id, or the Cognito identity id.
    who: String,
    client_id: String,
    principal: Principal,
    context: Context,
    cache: Mutex<DecisionCache>,
}

/// (snapshot, decisions by (action, resource)); emptied when the policy snapshot changes.
type DecisionCache = (usize, HashMap<(&'static str, String), Result<(), String>>);

impl AuthorizedConnection {
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
                    &self.grants,
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

impl ConnectionAuthority for AuthorizedConnection {
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
        &self.who
    }
}
