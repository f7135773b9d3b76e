//! The decision: which policies apply, explicit deny first, then allows combined as AWS does
//! within an account and across accounts.
//!
//! Sources: "Policy evaluation logic" and its single-account page
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html>),
//! "Cross-account policy evaluation logic"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>),
//! KMS "Key policies" and "Default key policy"
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html>,
//! <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html>).

use std::borrow::Cow;
use std::sync::Arc;

use crate::PolicyError;
use crate::decision::{
    AllowedBy, Decision, IdentityHolder, Mismatch, Missing, NearMiss, PolicySource, StatementRef,
};
use crate::document::{
    ActionElement, Effect, Policy, PrincipalElement, ResourceElement, Statement,
};
use crate::principal::{Naming, Standing};
use crate::request::Request;

/// What kind of resource-based policy is attached to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourcePolicyKind {
    /// SQS queue, SNS topic, S3 bucket, Lambda function policies and the like: within one
    /// account an allow in either the identity policies or the resource policy is enough.
    Resource,
    /// A KMS key policy: it must allow, naming the principal, or naming the account and thereby
    /// enabling IAM policies ("Without permission from the key policy, IAM policies that allow
    /// permissions have no effect").
    KeyPolicy,
    /// A role trust policy, evaluated for `sts:AssumeRole*`: like a key policy, it must allow
    /// ("IAM role trust policies and KMS key policies are exceptions to this logic, because they
    /// must explicitly allow access for principals").
    TrustPolicy,
}

/// The policies that apply to one request: the principal's identity policies (inline and
/// attached, possibly none) and the resource's policy, if it has one.
#[derive(Debug, Clone, Default)]
pub struct Policies<'a> {
    identity: Vec<&'a Policy>,
    resource: Option<(&'a Policy, ResourcePolicyKind)>,
}

impl<'a> Policies<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an identity policy of the principal. Refused when a statement names a `Principal`
    /// ("It must not be included in identity-based policies") or lacks `Resource`.
    pub fn identity_policy(mut self, policy: &'a Policy) -> Result<Self, PolicyError> {
        check_identity_shape(policy, "an identity policy")?;
        self.identity.push(policy);
        Ok(self)
    }

    /// Sets the resource's policy. Every statement must name a `Principal` or `NotPrincipal`;
    /// a trust policy may use neither `NotPrincipal` nor `Resource`.
    pub fn resource_policy(
        mut self,
        kind: ResourcePolicyKind,
        policy: &'a Policy,
    ) -> Result<Self, PolicyError> {
        let used_as = match kind {
            ResourcePolicyKind::Resource => "a resource policy",
            ResourcePolicyKind::KeyPolicy => "a key policy",
            ResourcePolicyKind::TrustPolicy => "a trust policy",
        };
        for statement in &policy.statements {
            let refuse = |reason: &str| PolicyError::WrongPolicyKind {
                policy: policy_label(policy),
                used_as,
                reason: format!("statement {}: {reason}", statement_label(statement)),
            };
            match (&statement.principal, kind) {
                (None, _) => {
                    return Err(refuse("a resource policy statement must name a Principal"));
                }
                (Some(PrincipalElement::NotPrincipal(_)), ResourcePolicyKind::TrustPolicy) => {
                    return Err(refuse("NotPrincipal cannot be used in a role trust policy"));
                }
                _ => {}
            }
            if kind == ResourcePolicyKind::TrustPolicy && statement.resource.is_some() {
                return Err(refuse(
                    "a role trust policy names no Resource: the role is the resource",
                ));
            }
        }
        self.resource = Some((policy, kind));
        Ok(self)
    }

    pub fn resource_kind(&self) -> Option<ResourcePolicyKind> {
        self.resource.map(|(_, kind)| kind)
    }
}

/// The AWS IoT Core policies attached to a certificate or a Cognito identity: evaluated like
/// identity policies on IoT resources (`topic/…`, `topicfilter/…`, `client/…`).
#[derive(Debug, Clone, Default)]
pub struct IotPolicies<'a> {
    policies: Vec<&'a Policy>,
}

impl<'a> IotPolicies<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn policy(mut self, policy: &'a Policy) -> Result<Self, PolicyError> {
        check_identity_shape(policy, "an IoT policy")?;
        self.policies.push(policy);
        Ok(self)
    }
}

fn check_identity_shape(policy: &Policy, used_as: &'static str) -> Result<(), PolicyError> {
    let refuse = |reason: String| PolicyError::WrongPolicyKind {
        policy: policy_label(policy),
        used_as,
        reason,
    };
    if policy.id().is_some() {
        return Err(refuse(
            "the Id element is for resource policies only".into(),
        ));
    }
    for statement in &policy.statements {
        if statement.principal.is_some() {
            return Err(refuse(format!(
                "statement {} names a Principal, which only resource policies do",
                statement_label(statement)
            )));
        }
        if statement.resource.is_none() {
            return Err(refuse(format!(
                "statement {} has no Resource or NotResource",
                statement_label(statement)
            )));
        }
    }
    Ok(())
}

fn policy_label(policy: &Policy) -> String {
    policy
        .name()
        .map_or_else(|| "policy".to_owned(), |name| format!("policy '{name}'"))
}

fn statement_label(statement: &Statement) -> String {
    match &statement.sid {
        Some(sid) => format!("'{sid}' (#{})", statement.index + 1),
        None => format!("#{}", statement.index + 1),
    }
}

/// How far a statement got before it stopped applying; later stages make nearer misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Action,
    Resource,
    Principal,
    Condition(usize),
}

struct Matcher<'r> {
    request: &'r Request,
    segments: Option<[&'r str; 6]>,
}

impl<'r> Matcher<'r> {
    fn new(request: &'r Request) -> Self {
        let resource = request.resource_parts();
        let segments = resource
            .segments
            .map(|ranges| ranges.map(|(start, end)| &resource.text[start..end]));
        Self { request, segments }
    }

    fn resolve(&self, lowercase_key: &str) -> Option<Cow<'r, str>> {
        // "You can use any single-valued condition key as a variable. You can't use a
        // multivalued condition key as a variable."
        match self.request.lookup(lowercase_key) {
            Some([value]) => Some(value.as_text()),
            _ => None,
        }
    }

    /// Whether the statement applies to the request, and how its `Principal` named the
    /// principal (`None` for statements without one).
    fn check(&self, statement: &Statement) -> Result<Option<Naming>, Stage> {
        let action = self.request.action();
        let no_variables = |_: &str| -> Option<Cow<'r, str>> { None };
        let action_matches = |patterns: &[crate::pattern::Template]| {
            patterns
                .iter()
                .any(|pattern| pattern.matches(action, true, &no_variables))
        };
        let action_applies = match &statement.action {
            ActionElement::Action(patterns) => action_matches(patterns),
            ActionElement::NotAction(patterns) => !action_matches(patterns),
        };
        if !action_applies {
            return Err(Stage::Action);
        }

        let resolve = |key: &str| self.resolve(key);
        let resource = self.request.resource();
        let resource_matches = |patterns: &[crate::pattern::ArnPattern]| {
            patterns
                .iter()
                .any(|pattern| pattern.matches(resource, self.segments, &resolve))
        };
        let resource_applies = match &statement.resource {
            None => true,
            Some(ResourceElement::Resource(patterns)) => resource_matches(patterns),
            Some(ResourceElement::NotResource(patterns)) => !resource_matches(patterns),
        };
        if !resource_applies {
            return Err(Stage::Resource);
        }

        let principal = self.request.principal();
        let naming = match &statement.principal {
            None => None,
            Some(PrincipalElement::Principal(entries)) => Some(
                entries
                    .iter()
                    .filter_map(|entry| principal.named_by(entry))
                    .max()
                    .ok_or(Stage::Principal)?,
            ),
            Some(PrincipalElement::NotPrincipal(entries)) => {
                // AWS may check the account, then the role, then the session ("If the
                // NotPrincipal element was missing the ARN of the role, the effect of the policy
                // might be to explicitly deny access to the role"): a Deny spares only a
                // principal all of whose identities are listed, an Allow covers only one none of
                // whose identities is listed.
                let (named, identities) = principal.identities_named(entries);
                let covered = match statement.effect {
                    Effect::Deny => named < identities,
                    Effect::Allow => named == 0,
                };
                if !covered {
                    return Err(Stage::Principal);
                }
                Some(Naming::Everyone)
            }
        };

        let lookup = |key: &str| self.request.lookup(key);
        for (index, condition) in statement.conditions.iter().enumerate() {
            if !condition.holds(&lookup, &resolve) {
                return Err(Stage::Condition(index));
            }
        }
        Ok(naming)
    }
}

/// Decides whether `request` is allowed by `policies`, as AWS does.
///
/// 1. An explicit `Deny` in any applicable policy wins.
/// 2. Within the principal's account: an allow of its identity policies is enough for ordinary
///    resources; so is an allow of the resource policy naming the principal itself (user, role,
///    role session, service) or everyone. A resource policy naming only the account delegates
///    to the account's identity policies. The account root user has full access by default.
/// 3. KMS key policies and role trust policies must allow: directly, or through a statement for
///    the account that makes identity policies count.
/// 4. Across accounts (principal and resource accounts differ, or the resource's ARN names no
///    account and none was given with [`Request::with_resource_account`]) both the identity
///    policies and the resource policy must allow. A `*` resource is in the caller's account.
/// 5. Services, web identities and anonymous callers have no identity policies: only the
///    resource policy can allow them.
pub fn evaluate(request: &Request, policies: &Policies) -> Decision {
    let matcher = Matcher::new(request);
    let standing = request.principal().standing();
    let holder = identity_holder(request);
    let identity_applies = !matches!(standing, Standing::Outside);

    let mut identity_allow = None;
    if identity_applies {
        for (position, policy) in policies.identity.iter().enumerate() {
            for statement in &policy.statements {
                if matcher.check(statement).is_ok() {
                    let source = identity_source(policy, position, holder);
                    match statement.effect {
                        Effect::Deny => {
                            return Decision::ExplicitDeny {
                                by: statement_ref(source, statement),
                            };
                        }
                        Effect::Allow if identity_allow.is_none() => {
                            identity_allow = Some(statement_ref(source, statement));
                        }
                        Effect::Allow => {}
                    }
                }
            }
        }
    }

    let mut resource_allow: Option<(StatementRef, Naming)> = None;
    if let Some((policy, kind)) = policies.resource {
        for statement in &policy.statements {
            if let Ok(naming) = matcher.check(statement) {
                let naming = naming.unwrap_or(Naming::Directly);
                match statement.effect {
                    Effect::Deny => {
                        return Decision::ExplicitDeny {
                            by: statement_ref(PolicySource::Resource(kind), statement),
                        };
                    }
                    Effect::Allow => {
                        if resource_allow
                            .as_ref()
                            .is_none_or(|(_, earlier)| *earlier < naming)
                        {
                            resource_allow = Some((
                                statement_ref(PolicySource::Resource(kind), statement),
                                naming,
                            ));
                        }
                    }
                }
            }
        }
    }

    let kind = policies.resource_kind();
    let must_allow = matches!(
        kind,
        Some(ResourcePolicyKind::KeyPolicy | ResourcePolicyKind::TrustPolicy)
    );
    let decision = match standing {
        Standing::Outside => match resource_allow {
            Some((by, _)) => Decision::Allow {
                by: AllowedBy::Statement(by),
            },
            None => Decision::ImplicitDeny {
                missing: if kind.is_some() {
                    Missing::AnyAllow
                } else {
                    Missing::ResourcePolicyAllow {
                        identity_allowed_by: None,
                    }
                },
                nearest: None,
            },
        },
        Standing::Iam { account } | Standing::Root { account } => {
            let root = matches!(standing, Standing::Root { .. });
            // `*` (actions without resource-level permissions, such as sqs:ListQueues) acts in
            // the caller's own account.
            let same_account = request.resource_parts().segments.is_none()
                || request.resource_account() == Some(account);
            // The root user's own identity side: full access in its account.
            let identity_side = identity_allow
                .clone()
                .map(AllowedBy::Statement)
                .or_else(|| root.then_some(AllowedBy::RootUser));
            combine(
                same_account,
                must_allow,
                identity_side,
                identity_allow,
                resource_allow,
            )
        }
    };
    match decision {
        Decision::ImplicitDeny { missing, .. } => Decision::ImplicitDeny {
            missing,
            nearest: nearest_miss(&matcher, policies, identity_applies, holder),
        },
        decided => decided,
    }
}

fn combine(
    same_account: bool,
    must_allow: bool,
    identity_side: Option<AllowedBy>,
    identity_allow: Option<StatementRef>,
    resource_allow: Option<(StatementRef, Naming)>,
) -> Decision {
    let deny = |missing| Decision::ImplicitDeny {
        missing,
        nearest: None,
    };
    let both = |resource: StatementRef| match &identity_allow {
        Some(identity) => AllowedBy::Both {
            identity: identity.clone(),
            resource,
        },
        None => AllowedBy::Statement(resource),
    };
    match (resource_allow, identity_side) {
        // Naming the principal itself or everyone: the resource policy allows on its own within
        // the account; across accounts the identity side must allow too.
        (Some((resource, Naming::Directly | Naming::Everyone)), identity) => {
            if same_account || identity.is_some() {
                Decision::Allow { by: both(resource) }
            } else {
                deny(Missing::IdentityPolicyAllow {
                    resource_allowed_by: resource,
                })
            }
        }
        // Naming the account delegates to the account's identity policies.
        (Some((resource, Naming::Account)), Some(_)) => Decision::Allow { by: both(resource) },
        (Some((resource, Naming::Account)), None) => deny(Missing::IdentityPolicyAllow {
            resource_allowed_by: resource,
        }),
        (None, Some(identity)) if same_account && !must_allow => Decision::Allow { by: identity },
        (None, _) if same_account && !must_allow => deny(Missing::AnyAllow),
        (None, _) => deny(Missing::ResourcePolicyAllow {
            identity_allowed_by: identity_allow,
        }),
    }
}

/// Evaluates AWS IoT Core policies: any allowing statement and no denying one. The principal is
/// the certificate or identity the policies are attached to.
pub fn evaluate_iot(request: &Request, policies: &IotPolicies) -> Decision {
    let matcher = Matcher::new(request);
    let mut allow = None;
    for (position, policy) in policies.policies.iter().enumerate() {
        for statement in &policy.statements {
            if matcher.check(statement).is_ok() {
                let by = statement_ref(iot_source(policy, position), statement);
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny { by },
                    Effect::Allow if allow.is_none() => allow = Some(by),
                    Effect::Allow => {}
                }
            }
        }
    }
    match allow {
        Some(by) => Decision::Allow {
            by: AllowedBy::Statement(by),
        },
        None => Decision::ImplicitDeny {
            missing: Missing::AnyAllow,
            nearest: nearest_in(
                &matcher,
                policies
                    .policies
                    .iter()
                    .enumerate()
                    .map(|(position, policy)| (iot_source(policy, position), *policy)),
            ),
        },
    }
}

fn nearest_miss(
    matcher: &Matcher,
    policies: &Policies,
    identity_applies: bool,
    holder: IdentityHolder,
) -> Option<NearMiss> {
    let identity = policies
        .identity
        .iter()
        .enumerate()
        .filter(|_| identity_applies)
        .map(|(position, policy)| (identity_source(policy, position, holder), *policy));
    let resource = policies
        .resource
        .map(|(policy, kind)| (PolicySource::Resource(kind), policy));
    nearest_in(matcher, identity.chain(resource))
}

/// The allowing statement that got furthest before failing, and where it failed.
fn nearest_in<'p>(
    matcher: &Matcher,
    sources: impl Iterator<Item = (PolicySource, &'p Policy)>,
) -> Option<NearMiss> {
    let mut best: Option<(Stage, NearMiss)> = None;
    for (source, policy) in sources {
        for statement in &policy.statements {
            if statement.effect != Effect::Allow {
                continue;
            }
            let Err(stage) = matcher.check(statement) else {
                continue;
            };
            if best.as_ref().is_some_and(|(earlier, _)| *earlier >= stage) {
                continue;
            }
            let mismatch = match stage {
                Stage::Action => Mismatch::Action,
                Stage::Resource => Mismatch::Resource,
                Stage::Principal => Mismatch::Principal,
                Stage::Condition(index) => {
                    let condition = &statement.conditions[index];
                    Mismatch::Condition {
                        operator: condition.operator.clone(),
                        key: condition.key.clone(),
                    }
                }
            };
            best = Some((
                stage,
                NearMiss {
                    statement: statement_ref(source.clone(), statement),
                    mismatch,
                },
            ));
        }
    }
    best.map(|(_, near)| near)
}

fn identity_holder(request: &Request) -> IdentityHolder {
    let principal = request.principal();
    if principal.is_role_session() {
        IdentityHolder::Role
    } else if principal.user_name().is_some() {
        IdentityHolder::User
    } else {
        IdentityHolder::Principal
    }
}

fn identity_source(policy: &Policy, position: usize, holder: IdentityHolder) -> PolicySource {
    PolicySource::Identity {
        name: policy.shared_name(),
        position,
        holder,
    }
}

fn iot_source(policy: &Policy, position: usize) -> PolicySource {
    PolicySource::Iot {
        name: policy.shared_name(),
        position,
    }
}

fn statement_ref(source: PolicySource, statement: &Statement) -> StatementRef {
    StatementRef {
        source,
        index: statement.index,
        sid: statement.sid.as_ref().map(Arc::clone),
    }
}
