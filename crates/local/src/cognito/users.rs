//! App users, created as the product's back office would: `AdminCreateUser` in the mobile user
//! pool with the household in `custom:household` (the app itself cannot write it), no invitation
//! message, and a generated password made permanent (`AdminSetUserPassword`), so the user signs
//! in at once.

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};

/// The user pool attribute holding a user's household (`terraform/modules/platform/mobile.tf`).
pub const HOUSEHOLD_ATTRIBUTE: &str = "custom:household";

/// A created user's sign-in.
#[derive(Clone)]
pub struct AppUser {
    pub email: String,
    pub household: String,
    pub password: String,
}

impl std::fmt::Debug for AppUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppUser")
            .field("email", &self.email)
            .field("household", &self.household)
            .finish_non_exhaustive()
    }
}

/// Creates `email` in `household`, with a generated password.
pub async fn add(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    user_pool_id: &str,
    household: &str,
    email: &str,
) -> anyhow::Result<AppUser> {
    postoffice::topic::validate_household_id(household)
        .with_context(|| format!("{household} cannot be a household id"))?;
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        anyhow::bail!("{email} is not an email address");
    }
    let attribute = |name: &str, value: &str| {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .context("a user attribute")
    };
    idp.admin_create_user()
        .user_pool_id(user_pool_id)
        .username(email)
        .user_attributes(attribute("email", email)?)
        .user_attributes(attribute("email_verified", "true")?)
        .user_attributes(attribute(HOUSEHOLD_ATTRIBUTE, household)?)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .with_context(|| format!("AdminCreateUser {email}"))?;
    let password = generate_password();
    idp.admin_set_user_password()
        .user_pool_id(user_pool_id)
        .username(email)
        .password(&password)
        .permanent(true)
        .send()
        .await
        .with_context(|| format!("AdminSetUserPassword {email}"))?;
    Ok(AppUser {
        email: email.to_owned(),
        household: household.to_owned(),
        password,
    })
}

/// 24 characters with an upper-case letter, a lower-case letter, a digit and a symbol: the
/// pool's password policy (at least 12, all four classes).
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator works");
    let random: String = bytes
        .iter()
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect();
    format!("Po7-{random}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_meet_the_pool_policy_and_differ() {
        let first = generate_password();
        assert_eq!(first.len(), 24);
        assert!(first.chars().any(|c| c.is_ascii_uppercase()));
        assert!(first.chars().any(|c| c.is_ascii_lowercase()));
        assert!(first.chars().any(|c| c.is_ascii_digit()));
        assert!(first.chars().any(|c| c.is_ascii_punctuation()));
        assert_ne!(first, generate_password());
        let user = AppUser {
            email: "a@example.com".into(),
            household: "h-1".into(),
            password: first.clone(),
        };
        assert!(!format!("{user:?}").contains(&first));
    }
}
