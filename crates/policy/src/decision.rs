use std::fmt;
use std::sync::Arc;

use crate::evaluate::ResourcePolicyKind;
use crate::request::Request;

/// The outcome of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        by: AllowedBy,
    },
    /// A `Deny` statement applies: nothing can override it.
    ExplicitDeny {
        by: StatementRef,
    },
    /// Nothing denies, but not enough allows: what is missing, and the allowing statement that
    /// came nearest to applying (to help fix the policy).
    ImplicitDeny {
        missing: Missing,
        nearest: Option<NearMiss>,
    },
}

/// What allowed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedBy {
    Statement(StatementRef),
    /// An identity policy and the resource policy, both needed (across accounts, or when the
    /// resource policy only names the account).
    Both {
        identity: StatementRef,
        resource: StatementRef,
    },
    /// The account root user within its own account ("all requests are implicitly denied with
    /// the exception of the AWS account root user, which has full access").
    RootUser,
}

/// Why an implicit deny.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No statement of any applicable policy allows.
    AnyAllow,
    /// The resource policy must allow: a key policy or trust policy (which an identity policy
    /// cannot replace), a resource in another account, or a principal without identity policies.
    ResourcePolicyAllow {
        identity_allowed_by: Option<StatementRef>,
    },
    /// The resource policy allows only by naming the account, or the request crosses accounts:
    /// an identity policy must allow as well.
    IdentityPolicyAllow { resource_allowed_by: StatementRef },
}

/// A statement of a policy: where it is, its position (0-based) and its `Sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub source: PolicySource,
    pub index: usize,
    pub sid: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// An identity policy of the principal, by name (or position among them).
    Identity {
        name: Option<Arc<str>>,
        position: usize,
        holder: IdentityHolder,
    },
    Resource(ResourcePolicyKind),
    Iot {
        name: Option<Arc<str>>,
        position: usize,
    },
}

/// Whose identity policy, for explanations ("role policy 'handler'").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityHolder {
    Role,
    User,
    Principal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub statement: StatementRef,
    pub mismatch: Mismatch,
}

/// The first element of a statement that did not match the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Action,
    Resource,
    Principal,
    Condition { operator: Box<str>, key: Box<str> },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// One line for logs: who, what, on which resource, and why.
    pub fn explain(&self, request: &Request) -> String {
        let principal = request.principal();
        let action = request.action();
        let resource = request.resource();
        match self {
            Decision::Allow { by } => {
                format!("allowed: {principal} may call {action} on {resource}, by {by}")
            }
            Decision::ExplicitDeny { by } => format!(
                "denied: {principal} calling {action} on {resource} is explicitly denied by {by}"
            ),
            Decision::ImplicitDeny { missing, nearest } => {
                let mut line = match missing {
                    Missing::AnyAllow => format!(
                        "denied: no statement allows {action} on {resource} for {principal}"
                    ),
                    Missing::ResourcePolicyAllow {
                        identity_allowed_by: Some(identity),
                    } => format!(
                        "denied: {identity} allows {action} on {resource} for {principal}, but \
                         the resource's policy must allow it too (naming the principal, or its \
                         account to enable identity policies), and no statement of it does"
                    ),
                    Missing::ResourcePolicyAllow {
                        identity_allowed_by: None,
                    } => format!(
                        "denied: {principal} calling {action} on {resource} needs an allow in \
                         the resource's policy, and none applies"
                    ),
                    Missing::IdentityPolicyAllow {
                        resource_allowed_by,
                    } => format!(
                        "denied: {resource_allowed_by} allows {action} on {resource} only with \
                         an allow of an identity policy of {principal} (the account is named, or \
                         the request crosses accounts), and none applies"
                    ),
                };
                if let Some(near) = nearest {
                    line.push_str(&format!("; nearest: {near}"));
                }
                line
            }
        }
    }
}

impl fmt::Display for AllowedBy {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self {
            AllowedBy::Statement(statement) => write!(formatter, "{statement}"),
            AllowedBy::Both { identity, resource } => {
                write!(formatter, "{identity} and {resource}")
            }
            AllowedBy::RootUser => {
                formatter.write_str("the root user's full access to its account")
            }
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self {
            PolicySource::Identity {
                name,
                position,
                holder,
            } => {
                let holder = match holder {
                    IdentityHolder::Role => "role policy",
                    IdentityHolder::User => "user policy",
                    IdentityHolder::Principal => "identity policy",
                };
                match name {
                    Some(name) => write!(formatter, "{holder} '{name}'"),
                    None => write!(formatter, "{holder} #{}", position + 1),
                }
            }
            PolicySource::Resource(ResourcePolicyKind::Resource) => {
                formatter.write_str("the resource policy")
            }
            PolicySource::Resource(ResourcePolicyKind::KeyPolicy) => {
                formatter.write_str("the key policy")
            }
            PolicySource::Resource(ResourcePolicyKind::TrustPolicy) => {
                formatter.write_str("the trust policy")
            }
            PolicySource::Iot { name, position } => match name {
                Some(name) => write!(formatter, "IoT policy '{name}'"),
                None => write!(formatter, "IoT policy #{}", position + 1),
            },
        }
    }
}

impl fmt::Display for StatementRef {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(formatter, "{} statement '{sid}'", self.source),
            None => write!(formatter, "{} statement #{}", self.source, self.index + 1),
        }
    }
}

impl fmt::Display for NearMiss {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        let why = match &self.mismatch {
            Mismatch::Action => "action does not match".to_owned(),
            Mismatch::Resource => "resource does not match".to_owned(),
            Mismatch::Principal => "principal does not match".to_owned(),
            Mismatch::Condition { operator, key } => {
                format!("condition {operator} on {key} does not hold")
            }
        };
        write!(formatter, "{} ({why})", self.statement)
    }
}
