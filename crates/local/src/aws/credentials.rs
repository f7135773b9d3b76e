//! Who is calling: the credentials the local post office hands out, and the principal each one
//! stands for. Like STS, it issues temporary credentials per role session (a Lambda's instances
//! get their execution role's); the deployer (Terraform, `postoffice` tools) gets the account
//! administrator's. Secrets exist only in memory, in the environment of the processes they are
//! for, and in the run directory's `env/` files (mode 0600).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// A principal a request can be made as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The account's administrator: who applies the Terraform and runs on-call tools.
    Administrator { account: String },
    /// A session of an IAM role (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`); for a
    /// Cognito identity pool's credentials, the identity it was federated for.
    RoleSession {
        account: String,
        role_arn: String,
        session_name: String,
        web_identity: Option<Arc<CognitoIdentity>>,
    },
    /// No credentials: the Cognito calls AWS accepts unsigned (sign-in, GetId, ...).
    Anonymous { account: String },
}

/// The Cognito identity a role session was issued for (GetCredentialsForIdentity), with what
/// IAM sees of it: `cognito-identity.amazonaws.com:sub`/`:aud`/`:amr` and the session tags the
/// identity pool mapped from the token's claims (`aws:PrincipalTag/...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CognitoIdentity {
    pub identity_id: String,
    pub identity_pool_id: String,
    pub amr: Vec<String>,
    pub principal_tags: BTreeMap<String, String>,
}

impl Caller {
    pub fn account(&self) -> &str {
        match self {
            Caller::Administrator { account }
            | Caller::RoleSession { account, .. }
            | Caller::Anonymous { account } => account,
        }
    }

    /// The ARN AWS reports for it (`GetCallerIdentity`, `aws:PrincipalArn` is the role's).
    pub fn arn(&self) -> String {
        match self {
            Caller::Administrator { account } => format!("arn:aws:iam::{account}:root"),
            Caller::RoleSession {
                account,
                role_arn,
                session_name,
                ..
            } => format!(
                "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
                role_name(role_arn)
            ),
            Caller::Anonymous { .. } => "*".to_owned(),
        }
    }
}

/// The name in a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
pub fn role_name(role_arn: &str) -> &str {
    role_arn.rsplit('/').next().unwrap_or(role_arn)
}

/// Credentials as the SDKs read them from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for sessions, `AWS_SESSION_TOKEN`.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut variables = vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), self.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                self.secret_access_key.clone(),
            ),
        ];
        if let Some(token) = &self.session_token {
            variables.push(("AWS_SESSION_TOKEN".to_owned(), token.clone()));
        }
        variables
    }
}

struct Issued {
    secret_access_key: String,
    session_token: Option<String>,
    caller: Caller,
}

/// Every credential the local post office has issued.
pub struct CredentialStore {
    issued: RwLock<HashMap<String, Issued>>,
    administrator: Credentials,
    account: String,
}

impl CredentialStore {
    pub fn new(account: &str) -> Self {
        let administrator = Credentials {
            access_key_id: format!("AKIA{}", random_upper(16)),
            secret_access_key: random_secret(40),
            session_token: None,
        };
        let store = Self {
            issued: RwLock::new(HashMap::new()),
            administrator: administrator.clone(),
            account: account.to_owned(),
        };
        store.remember(
            &administrator,
            Caller::Administrator {
                account: account.to_owned(),
            },
        );
        store
    }

    pub fn administrator(&self) -> &Credentials {
        &self.administrator
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Temporary credentials for a session of `role_arn` (as `AssumeRole` gives).
    pub fn issue_role_session(&self, role_arn: &str, session_name: &str) -> Credentials {
        self.issue_session(role_arn, session_name, None)
    }

    /// Temporary credentials of `role_arn` for a Cognito identity (as
    /// `GetCredentialsForIdentity` gives, through `AssumeRoleWithWebIdentity`).
    pub fn issue_web_identity_session(
        &self,
        role_arn: &str,
        identity: CognitoIdentity,
    ) -> Credentials {
        // The session name Cognito's enhanced flow uses.
        self.issue_session(
            role_arn,
            "CognitoIdentityCredentials",
            Some(Arc::new(identity)),
        )
    }

    fn issue_session(
        &self,
        role_arn: &str,
        session_name: &str,
        web_identity: Option<Arc<CognitoIdentity>>,
    ) -> Credentials {
        let credentials = Credentials {
            access_key_id: format!("ASIA{}", random_upper(16)),
            secret_access_key: random_secret(40),
            session_token: Some(random_secret(64)),
        };
        self.remember(
            &credentials,
            Caller::RoleSession {
                account: self.account.clone(),
                role_arn: role_arn.to_owned(),
                session_name: session_name.to_owned(),
                web_identity,
            },
        );
        credentials
    }

    fn remember(&self, credentials: &Credentials, caller: Caller) {
        self.issued
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(
                credentials.access_key_id.clone(),
                Issued {
                    secret_access_key: credentials.secret_access_key.clone(),
                    session_token: credentials.session_token.clone(),
                    caller,
                },
            );
    }

    /// The secret and the caller of an access key, if the session token (when the key was
    /// issued with one) matches.
    pub fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Option<(String, Caller)> {
        let issued = self
            .issued
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = issued.get(access_key_id)?;
        if found.session_token.as_deref() != session_token {
            return None;
        }
        Some((found.secret_access_key.clone(), found.caller.clone()))
    }
}

fn random_upper(length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    random_bytes(length)
        .into_iter()
        .map(|byte| ALPHABET[usize::from(byte) % ALPHABET.len()] as char)
        .collect()
}

fn random_secret(length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    random_bytes(length)
        .into_iter()
        .map(|byte| ALPHABET[usize::from(byte) % ALPHABET.len()] as char)
        .collect()
}

fn random_bytes(length: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; length];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator works");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_session_is_known_only_with_its_token() {
        let store = CredentialStore::new("123456789012");
        let session = store.issue_role_session(
            "arn:aws:iam::123456789012:role/postoffice-kitchen-handler",
            "postoffice-kitchen-handler",
        );
        assert!(session.access_key_id.starts_with("ASIA"));
        let (secret, caller) = store
            .lookup(&session.access_key_id, session.session_token.as_deref())
            .unwrap();
        assert_eq!(secret, session.secret_access_key);
        assert_eq!(
            caller.arn(),
            "arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/postoffice-kitchen-handler"
        );
        assert!(store.lookup(&session.access_key_id, None).is_none());
        assert!(
            store
                .lookup(&session.access_key_id, Some("forged"))
                .is_none()
        );
        let admin = store.administrator().clone();
        assert!(matches!(
            store.lookup(&admin.access_key_id, None),
            Some((_, Caller::Administrator { .. }))
        ));
        assert!(!format!("{session:?}").contains(&session.secret_access_key));
    }
}
