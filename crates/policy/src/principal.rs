use std::fmt;

use crate::PolicyError;

/// Who makes a request
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    AccountRoot {
        account: String,
        arn: String,
    },
    User {
        account: String,
        arn: String,
        name: String,
    },
    /// A session of an assumed role (including one assumed with a web identity such as a
    /// Cognito identity): the principal is the session, `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    RoleSession {
        account: String,
        role_arn: String,
        session_arn: String,
    },
    Service {
        name: String,
    },
    /// The caller of `sts:AssumeRoleWithWebIdentity`, named by its provider in trust policies
    /// (`"Federated": "cognito-identity.amazonaws.com"`).
    WebIdentity {
        provider: String,
    },
    /// An unauthenticated caller, such as one of a function URL with `AuthType` `NONE`.
    Anonymous,
    /// An X.509 certificate connected to AWS IoT Core: authorised by the IoT policies attached to
    /// it, never by IAM.
    IotCertificate {
        certificate_id: String,
    },
}

/// Whether a principal is subject to identity-based (IAM) policies, and which account it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing<'a> {
    /// Users and role sessions: identity policies apply.
    Iam { account: &'a str },
    /// The account root user: full access within its account by default.
    Root { account: &'a str },
    /// Services, web identities, anonymous callers and IoT certificates: no identity policies.
    Outside,
}

impl Principal {
    /// The account root user, from a 12-digit account id or `arn:PARTITION:iam::ACCOUNT:root`.
    pub fn account_root(account_or_arn: &str) -> Result<Self, PolicyError> {
        let (account, arn) = match parse_iam_arn(account_or_arn) {
            Some(("iam", account, "root")) => (account.to_owned(), account_or_arn.to_owned()),
            _ if is_account_id(account_or_arn) => (
                account_or_arn.to_owned(),
                format!("arn:aws:iam::{account_or_arn}:root"),
            ),
            _ => {
                return Err(invalid(
                    account_or_arn,
                    "an account root is a 12-digit account id or arn:aws:iam::ACCOUNT:root",
                ));
            }
        };
        Ok(Self {
            kind: Kind::AccountRoot { account, arn },
        })
    }

    /// An IAM user, `arn:PARTITION:iam::ACCOUNT:user/PATH/NAME`.
    pub fn user(arn: &str) -> Result<Self, PolicyError> {
        match parse_iam_arn(arn) {
            Some(("iam", account, resource)) if resource.starts_with("user/") => {
                let name = resource.rsplit('/').next().unwrap_or_default();
                if name.is_empty() {
                    return Err(invalid(arn, "the user name is empty"));
                }
                Ok(Self {
                    kind: Kind::User {
                        account: account.to_owned(),
                        arn: arn.to_owned(),
                        name: name.to_owned(),
                    },
                })
            }
            _ => Err(invalid(
                arn,
                "an IAM user is arn:aws:iam::ACCOUNT:user/[PATH/]NAME",
            )),
        }
    }

    /// A session of the role `role_arn` (`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`) named
    /// `session_name`. Resource policies naming either the session ARN or the role ARN match it.
    pub fn role_session(role_arn: &str, session_name: &str) -> Result<Self, PolicyError> {
        let Some(("iam", account, resource)) = parse_iam_arn(role_arn) else {
            return Err(invalid(
                role_arn,
                "an IAM role is arn:aws:iam::ACCOUNT:role/[PATH/]NAME",
            ));
        };
        let Some(role_name) = resource
            .strip_prefix("role/")
            .and_then(|path| path.rsplit('/').next())
            .filter(|name| !name.is_empty())
        else {
            return Err(invalid(
                role_arn,
                "an IAM role is arn:aws:iam::ACCOUNT:role/[PATH/]NAME",
            ));
        };
        if session_name.is_empty() || session_name.contains(['/', ':']) {
            return Err(invalid(
                session_name,
                "a role session name is non-empty and has no '/' or ':'",
            ));
        }
        let partition = role_arn.split(':').nth(1).unwrap_or("aws");
        Ok(Self {
            kind: Kind::RoleSession {
                account: account.to_owned(),
                role_arn: role_arn.to_owned(),
                session_arn: format!(
                    "arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}"
                ),
            },
        })
    }

    /// An AWS service principal such as `sns.amazonaws.com`.
    pub fn service(name: &str) -> Result<Self, PolicyError> {
        if name.is_empty() || name.contains(['*', '?', ' ', ':', '/']) || !name.contains('.') {
            return Err(invalid(
                name,
                "a service principal is a name such as sns.amazonaws.com",
            ));
        }
        Ok(Self {
            kind: Kind::Service {
                name: name.to_owned(),
            },
        })
    }

    /// The web identity provider calling `sts:AssumeRoleWithWebIdentity`, such as
    /// `cognito-identity.amazonaws.com`.
    pub fn web_identity(provider: &str) -> Result<Self, PolicyError> {
        if provider.is_empty() || provider.contains(['*', '?', ' ']) {
            return Err(invalid(
                provider,
                "a web identity provider is a name such as cognito-identity.amazonaws.com",
            ));
        }
        Ok(Self {
            kind: Kind::WebIdentity {
                provider: provider.to_owned(),
            },
        })
    }

    pub fn anonymous() -> Self {
        Self {
            kind: Kind::Anonymous,
        }
    }

    /// A device certificate connected to AWS IoT Core, by certificate id.
    pub fn iot_certificate(certificate_id: &str) -> Result<Self, PolicyError> {
        if certificate_id.is_empty() {
            return Err(invalid(certificate_id, "the certificate id is empty"));
        }
        Ok(Self {
            kind: Kind::IotCertificate {
                certificate_id: certificate_id.to_owned(),
            },
        })
    }

    /// The account the principal belongs to; none for services, web identities, anonymous
    /// callers and IoT certificates.
    pub fn account(&self) -> Option<&str> {
        match &self.kind {
            Kind::AccountRoot { account, .. }
            | Kind::User { account, .. }
            | Kind::RoleSession { account, .. } => Some(account),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalArn`: for a role session the role's ARN, not the session's
    /// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn>).
    pub fn principal_arn(&self) -> Option<&str> {
        match &self.kind {
            Kind::AccountRoot { arn, .. } | Kind::User { arn, .. } => Some(arn),
            Kind::RoleSession { role_arn, .. } => Some(role_arn),
            _ => None,
        }
    }

    /// The session ARN of a role session.
    pub fn session_arn(&self) -> Option<&str> {
        match &self.kind {
            Kind::RoleSession { session_arn, .. } => Some(session_arn),
            _ => None,
        }
    }

    pub(crate) fn standing(&self) -> Standing<'_> {
        match &self.kind {
            Kind::AccountRoot { account, .. } => Standing::Root { account },
            Kind::User { account, .. } | Kind::RoleSession { account, .. } => {
                Standing::Iam { account }
            }
            _ => Standing::Outside,
        }
    }

    pub(crate) fn user_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::User { name, .. } => Some(name),
            _ => None,
        }
    }

    pub(crate) fn service_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Service { name } => Some(name),
            _ => None,
        }
    }

    pub(crate) fn is_role_session(&self) -> bool {
        matches!(self.kind, Kind::RoleSession { .. })
    }

    pub(crate) fn is_signed_iam(&self) -> bool {
        matches!(
            self.kind,
            Kind::AccountRoot { .. } | Kind::User { .. } | Kind::RoleSession { .. }
        )
    }

    /// How a principal entry of a policy (`"AWS"`, `"Service"`, ...) names this principal.
    pub(crate) fn named_by(&self, entry: &PrincipalEntry) -> Option<Naming> {
        match (&self.kind, entry) {
            (_, PrincipalEntry::Everyone) => Some(Naming::Everyone),
            (Kind::AccountRoot { account, .. }, PrincipalEntry::Account(named)) => {
                (named == account).then_some(Naming::Directly)
            }
            (
                Kind::User { account, .. } | Kind::RoleSession { account, .. },
                PrincipalEntry::Account(named),
            ) => (named == account).then_some(Naming::Account),
            (Kind::User { arn, .. }, PrincipalEntry::Arn(named)) => {
                (named == arn).then_some(Naming::Directly)
            }
            (
                Kind::RoleSession {
                    role_arn,
                    session_arn,
                    ..
                },
                PrincipalEntry::Arn(named),
            ) => (named == session_arn || named == role_arn).then_some(Naming::Directly),
            (Kind::Service { name }, PrincipalEntry::Service(named)) => {
                (named == name).then_some(Naming::Directly)
            }
            (Kind::WebIdentity { provider }, PrincipalEntry::Federated(named)) => {
                (named == provider).then_some(Naming::Directly)
            }
            _ => None,
        }
    }

    /// For `NotPrincipal`: how many of the identities AWS may check for this principal (account,
    /// role, session) the entries name, out of how many there are.
    pub(crate) fn identities_named(&self, entries: &[PrincipalEntry]) -> (usize, usize) {
        let named = |entry_matches: &dyn Fn(&PrincipalEntry) -> bool| {
            usize::from(entries.iter().any(entry_matches))
        };
        match &self.kind {
            Kind::AccountRoot { account, .. } => (
                named(&|entry| matches!(entry, PrincipalEntry::Account(a) if a == account)),
                1,
            ),
            Kind::User { account, arn, .. } => (
                named(&|entry| matches!(entry, PrincipalEntry::Account(a) if a == account))
                    + named(&|entry| matches!(entry, PrincipalEntry::Arn(a) if a == arn)),
                2,
            ),
            Kind::RoleSession {
                account,
                role_arn,
                session_arn,
            } => (
                named(&|entry| matches!(entry, PrincipalEntry::Account(a) if a == account))
                    + named(&|entry| matches!(entry, PrincipalEntry::Arn(a) if a == role_arn))
                    + named(&|entry| matches!(entry, PrincipalEntry::Arn(a) if a == session_arn)),
                3,
            ),
            Kind::Service { name } => (
                named(&|entry| matches!(entry, PrincipalEntry::Service(s) if s == name)),
                1,
            ),
            Kind::WebIdentity { provider } => (
                named(&|entry| matches!(entry, PrincipalEntry::Federated(f) if f == provider)),
                1,
            ),
            Kind::Anonymous | Kind::IotCertificate { .. } => (0, 1),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match &self.kind {
            Kind::AccountRoot { account, .. } => write!(formatter, "the root user of {account}"),
            Kind::User { arn, .. } => write!(formatter, "user {arn}"),
            Kind::RoleSession { session_arn, .. } => {
                write!(formatter, "role session {session_arn}")
            }
            Kind::Service { name } => write!(formatter, "service principal {name}"),
            Kind::WebIdentity { provider } => write!(formatter, "web identity of {provider}"),
            Kind::Anonymous => formatter.write_str("an anonymous caller"),
            Kind::IotCertificate { certificate_id } => {
                write!(formatter, "IoT certificate {certificate_id}")
            }
        }
    }
}

/// How a resource policy's `Principal` named the requester: the difference decides whether the
/// resource policy allows on its own (same account) or only delegates to the account's identity
/// policies ("This delegates authority to the account",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Naming {
    /// The account principal (`"AWS": "123456789012"` or `arn:aws:iam::123456789012:root`) for a
    /// user or role in that account.
    Account,
    /// `"*"`, `{"AWS": "*"}`, or `NotPrincipal` leaving the requester out.
    Everyone,
    /// The requester itself: its user ARN, role ARN or session ARN, service or provider name,
    /// or the account for its root user.
    Directly,
}

/// One value of a `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    Everyone,
    Account(String),
    /// A user, role, assumed-role session or federated-user ARN, matched exactly.
    Arn(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

impl PrincipalEntry {
    /// Parses a value of `"AWS"`: `*`, an account id, or the ARN of an account root, user, role,
    /// assumed-role session or federated user. Wildcards inside a principal are refused ("You
    /// cannot use a wildcard to match part of a principal name or ARN").
    pub(crate) fn aws(value: &str) -> Result<Self, String> {
        if value == "*" {
            return Ok(Self::Everyone);
        }
        if value.contains(['*', '?']) {
            return Err(format!(
                "{value}: a principal cannot contain wildcards (only \"*\" alone, for everyone)"
            ));
        }
        if is_account_id(value) {
            return Ok(Self::Account(value.to_owned()));
        }
        match parse_iam_arn(value) {
            Some(("iam", account, "root")) => Ok(Self::Account(account.to_owned())),
            Some(("iam", _, resource))
                if resource.starts_with("user/") || resource.starts_with("role/") =>
            {
                Ok(Self::Arn(value.to_owned()))
            }
            Some(("sts", _, resource))
                if resource.starts_with("assumed-role/")
                    || resource.starts_with("federated-user/") =>
            {
                Ok(Self::Arn(value.to_owned()))
            }
            _ => Err(format!(
                "{value}: an AWS principal is \"*\", a 12-digit account id, or the ARN of an \
                 account root, IAM user, IAM role, assumed-role session or federated user"
            )),
        }
    }
}

fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|byte| byte.is_ascii_digit())
}

/// `arn:PARTITION:SERVICE::ACCOUNT:RESOURCE` for the global services IAM and STS: (service,
/// account, resource).
fn parse_iam_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!partition.is_empty()
        && (service == "iam" || service == "sts")
        && is_account_id(account)
        && !resource.is_empty())
    .then_some((service, account, resource))
}

fn invalid(value: &str, message: &str) -> PolicyError {
    PolicyError::InvalidPrincipal {
        value: value.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/service/postoffice-kitchen-handler";

    #[test]
    fn a_role_session_is_named_by_its_session_arn_its_role_arn_and_its_account() {
        // "When you assume a role and make a request, the principal making the request is the
        // IAM role session ARN"; resource policies may name the role instead.
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
        let session = Principal::role_session(ROLE, "handler").unwrap();
        assert_eq!(
            session.session_arn(),
            Some("arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/handler")
        );
        assert_eq!(session.principal_arn(), Some(ROLE));
        let by_session = PrincipalEntry::aws(
            "arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/handler",
        )
        .unwrap();
        let by_role = PrincipalEntry::aws(ROLE).unwrap();
        let by_account = PrincipalEntry::aws("arn:aws:iam::123456789012:root").unwrap();
        let by_other_session = PrincipalEntry::aws(
            "arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/other",
        )
        .unwrap();
        assert_eq!(session.named_by(&by_session), Some(Naming::Directly));
        assert_eq!(session.named_by(&by_role), Some(Naming::Directly));
        assert_eq!(session.named_by(&by_account), Some(Naming::Account));
        assert_eq!(session.named_by(&by_other_session), None);
        assert_eq!(
            session.named_by(&PrincipalEntry::Everyone),
            Some(Naming::Everyone)
        );
    }

    #[test]
    fn the_account_principal_names_the_root_user_directly() {
        let root = Principal::account_root("123456789012").unwrap();
        assert_eq!(
            root.named_by(&PrincipalEntry::aws("123456789012").unwrap()),
            Some(Naming::Directly)
        );
        assert_eq!(root.principal_arn(), Some("arn:aws:iam::123456789012:root"));
    }

    #[test]
    fn service_and_anonymous_principals_are_named_only_by_their_own_entries() {
        let sns = Principal::service("sns.amazonaws.com").unwrap();
        assert_eq!(
            sns.named_by(&PrincipalEntry::Service("sns.amazonaws.com".into())),
            Some(Naming::Directly)
        );
        assert_eq!(
            sns.named_by(&PrincipalEntry::aws("123456789012").unwrap()),
            None
        );
        assert_eq!(sns.account(), None);
        let anonymous = Principal::anonymous();
        assert_eq!(
            anonymous.named_by(&PrincipalEntry::Service("sns.amazonaws.com".into())),
            None
        );
        assert_eq!(
            anonymous.named_by(&PrincipalEntry::Everyone),
            Some(Naming::Everyone)
        );
    }

    #[test]
    fn malformed_principals_are_refused_with_the_value() {
        assert!(matches!(
            Principal::role_session("arn:aws:iam::123456789012:user/bob", "s"),
            Err(PolicyError::InvalidPrincipal { value, .. }) if value.ends_with("user/bob")
        ));
        assert!(Principal::account_root("12345").is_err());
        assert!(Principal::service("*").is_err());
        assert!(Principal::role_session(ROLE, "a/b").is_err());
        assert!(PrincipalEntry::aws("arn:aws:iam::123456789012:role/*").is_err());
        assert!(PrincipalEntry::aws("arn:aws:iam::123456789012:group/admins").is_err());
    }
}
