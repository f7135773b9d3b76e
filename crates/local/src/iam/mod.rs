//! Authorisation, as AWS decides it: every call inside the chain is made as its principal (a
//! Lambda's execution role, a rule's role, SNS or CloudWatch as service principals, an
//! anonymous caller of a function URL) and allowed only if the applied identity policies and the
//! resource's policy allow it under AWS's evaluation logic (`postoffice-policy`). A denial is
//! logged with the principal, action, resource and the nearest statement, and recorded in the
//! activity log, so the developer sees what to add to the Terraform.

pub mod book;
pub mod calls;
pub mod control_plane;

use std::sync::{Arc, RwLock};

use postoffice_policy::{
    Context, Policies, Principal, Request, ResourcePolicyKind, Timestamp, evaluate,
};

use crate::activity::{Activity, ActivityLog};
use crate::applied::Applied;
use crate::aws::credentials::Caller;
use book::PolicyBook;

/// An applied snapshot with its policies parsed.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub applied: Arc<Applied>,
    pub book: PolicyBook,
}

/// The resource policy a request is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The resource has no resource-based policy (or none that applies).
    Nothing,
    Topic(&'a str),
    Queue(&'a str),
    /// A Lambda function (`NAME`) or one of its aliases (`NAME:ALIAS`): each has a policy of
    /// its own ([`crate::lambda::qualified_name`]).
    Function(&'a str),
    /// A KMS key (its ARN), used through a data key the service keeps as `data_key` says.
    Key(&'a str, DataKey<'a>),
    Bucket(&'a str),
    /// A role's trust policy (`sts:AssumeRole`).
    Trust(&'a str),
}

/// What a service keeps a data key of a KMS key for, and how long it reuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataKey<'a> {
    /// The topic or queue ARN, or the bucket, the data key encrypts for.
    pub scope: &'a str,
    /// `None`: a request for every use.
    pub reuse: Option<std::time::Duration>,
}

/// One request to authorise.
pub struct Check<'a> {
    pub principal: Principal,
    pub action: &'a str,
    pub resource: &'a str,
    pub target: Target<'a>,
    pub context: Context,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// `Decision::explain`: which statement is missing or denies.
    pub explanation: String,
    pub explicit: bool,
}

impl Denial {
    /// The sentence AWS services put in their access-denied errors.
    pub fn message(&self) -> String {
        let reason = if self.explicit {
            "with an explicit deny in a policy"
        } else {
            "because no policy allows it"
        };
        format!(
            "User: {} is not authorized to perform: {} on resource: {} {reason}",
            self.principal, self.action, self.resource
        )
    }
}

pub struct Authorizer {
    snapshot: RwLock<Arc<Snapshot>>,
    pub account: String,
    pub region: String,
    activity: ActivityLog,
    /// Counts the key uses it allows (KMS requests), once the post office has a meter.
    meter: std::sync::OnceLock<Arc<crate::metering::Meter>>,
}

/// The context keys every request carries: transport, time and region.
pub fn base_context(secure: bool, region: &str) -> Context {
    let now = chrono::Utc::now();
    Context::new()
        .with("aws:SecureTransport", secure)
        .with(
            "aws:CurrentTime",
            Timestamp::from_epoch_millis(now.timestamp_millis()),
        )
        .with("aws:EpochTime", now.timestamp())
        .with("aws:RequestedRegion", region)
}

/// Adds the condition keys of the caller's session: for a Cognito identity's credentials, the
/// session tags (`aws:PrincipalTag/KEY`) and `cognito-identity.amazonaws.com:sub`, `:aud` and
/// `:amr` (<https://docs.aws.amazon.com/cognito/latest/developerguide/iam-roles.html>,
/// <https://docs.aws.amazon.com/cognito/latest/developerguide/attributes-for-access-control.html>).
pub fn with_session_keys(mut context: Context, caller: &Caller) -> Context {
    if let Caller::RoleSession {
        web_identity: Some(identity),
        ..
    } = caller
    {
        for (key, value) in &identity.principal_tags {
            context.insert(&format!("aws:PrincipalTag/{key}"), value.as_str());
        }
        context.insert(
            "cognito-identity.amazonaws.com:sub",
            identity.identity_id.as_str(),
        );
        context.insert(
            "cognito-identity.amazonaws.com:aud",
            identity.identity_pool_id.as_str(),
        );
        context.insert_values(
            "cognito-identity.amazonaws.com:amr",
            identity.amr.iter().map(String::as_str),
        );
    }
    context
}

impl Authorizer {
    pub fn new(account: &str, region: &str, activity: ActivityLog) -> Self {
        Self {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            account: account.to_owned(),
            region: region.to_owned(),
            activity,
            meter: std::sync::OnceLock::new(),
        }
    }

    /// Where allowed key uses are counted from now on.
    pub fn meter_with(&self, meter: Arc<crate::metering::Meter>) {
        let _ = self.meter.set(meter);
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Takes a new applied snapshot; returns the documents that did not parse.
    pub fn update(&self, applied: Arc<Applied>) -> Vec<String> {
        let book = PolicyBook::from_applied(&applied);
        let problems = book.problems.clone();
        for problem in &problems {
            tracing::warn!(problem, "a policy of the applied Terraform does not parse");
        }
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Arc::new(Snapshot { applied, book });
        problems
    }

    /// Allows `check` or answers why not (logged and recorded).
    pub fn check(&self, snapshot: &Snapshot, check: Check<'_>) -> Result<(), Denial> {
        let principal_text = check
            .principal
            .session_arn()
            .or(check.principal.principal_arn())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{:?}", check.principal));
        let deny = |explanation: String, explicit: bool| {
            let denial = Denial {
                principal: principal_text.clone(),
                action: check.action.to_owned(),
                resource: check.resource.to_owned(),
                explanation,
                explicit,
            };
            tracing::warn!(
                principal = denial.principal,
                action = denial.action,
                resource = denial.resource,
                "denied: {}",
                denial.explanation
            );
            self.activity.record(Activity::Denied {
                principal: denial.principal.clone(),
                action: denial.action.clone(),
                resource: denial.resource.clone(),
                explanation: denial.explanation.clone(),
            });
            denial
        };
        let mut request = match Request::new(check.principal.clone(), check.action, check.resource)
        {
            Ok(request) => request.with_context(check.context),
            Err(error) => return Err(deny(format!("the request is not valid: {error}"), false)),
        };
        if check.resource.starts_with("arn:aws:s3:::") {
            request = match request.with_resource_account(&self.account) {
                Ok(request) => request,
                Err(error) => return Err(deny(error.to_string(), false)),
            };
        }
        let book = &snapshot.book;
        let mut policies = Policies::new();
        if let Some(role) = check
            .principal
            .principal_arn()
            .and_then(|arn| book.roles.get(arn))
        {
            for policy in &role.identity {
                policies = match policies.identity_policy(policy) {
                    Ok(policies) => policies,
                    Err(error) => return Err(deny(error.to_string(), false)),
                };
            }
        }
        let resource_policy = match check.target {
            Target::Nothing => None,
            Target::Topic(arn) => book
                .topics
                .get(arn)
                .map(|p| (p, ResourcePolicyKind::Resource)),
            Target::Queue(arn) => book
                .queues
                .get(arn)
                .map(|p| (p, ResourcePolicyKind::Resource)),
            Target::Function(name) => book
                .functions
                .get(name)
                .map(|p| (p, ResourcePolicyKind::Resource)),
            Target::Bucket(name) => book
                .buckets
                .get(name)
                .map(|p| (p, ResourcePolicyKind::Resource)),
            Target::Key(arn, _) => match book.keys.get(arn) {
                Some(policy) => Some((policy, ResourcePolicyKind::KeyPolicy)),
                None => return Err(deny(format!("the key {arn} has no key policy"), false)),
            },
            Target::Trust(arn) => match book.roles.get(arn).and_then(|role| role.trust.as_ref()) {
                Some(policy) => Some((policy, ResourcePolicyKind::TrustPolicy)),
                None => return Err(deny(format!("the role {arn} does not exist"), false)),
            },
        };
        if let Some((policy, kind)) = resource_policy {
            policies = match policies.resource_policy(kind, policy) {
                Ok(policies) => policies,
                Err(error) => return Err(deny(error.to_string(), false)),
            };
        }
        let decision = evaluate(&request, &policies);
        if decision.is_allowed() {
            if let (Target::Key(key, data_key), Some(meter)) = (&check.target, self.meter.get()) {
                meter.kms_used(&crate::metering::KeyUse {
                    key,
                    action: check.action,
                    principal: &principal_text,
                    scope: data_key.scope,
                    reuse: data_key.reuse,
                });
            }
            Ok(())
        } else {
            let explicit = matches!(decision, postoffice_policy::Decision::ExplicitDeny { .. });
            Err(deny(decision.explain(&request), explicit))
        }
    }

    /// A service principal assuming `role_arn` on behalf of `source_arn` (an IoT rule, an SNS
    /// topic, a Firehose stream): the role's trust policy must allow it; then the service acts
    /// as a session of the role.
    pub fn assume_role(
        &self,
        snapshot: &Snapshot,
        service: &str,
        role_arn: &str,
        source_arn: &str,
    ) -> Result<Principal, Denial> {
        let service_principal = Principal::service(service).map_err(|error| Denial {
            principal: service.to_owned(),
            action: "sts:AssumeRole".to_owned(),
            resource: role_arn.to_owned(),
            explanation: error.to_string(),
            explicit: false,
        })?;
        let mut context = base_context(true, &self.region)
            .with("aws:SourceArn", source_arn)
            .with("aws:SourceAccount", self.account.as_str());
        if service == "firehose.amazonaws.com" {
            // Firehose passes the account id as the external id when it assumes the delivery
            // role (<https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html>).
            context.insert("sts:ExternalId", self.account.as_str());
        }
        self.check(
            snapshot,
            Check {
                principal: service_principal,
                action: "sts:AssumeRole",
                resource: role_arn,
                target: Target::Trust(role_arn),
                context,
            },
        )?;
        let session = service.split('.').next().unwrap_or(service);
        Principal::role_session(role_arn, session).map_err(|error| Denial {
            principal: service.to_owned(),
            action: "sts:AssumeRole".to_owned(),
            resource: role_arn.to_owned(),
            explanation: error.to_string(),
            explicit: false,
        })
    }
}
