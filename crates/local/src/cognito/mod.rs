//! Amazon Cognito, where moto lacks it: the identity pool's role and tag settings
//! ([`identity`]), its federation of user pool sign-ins into IAM credentials ([`federation`],
//! with [`tokens`] verified), and the user pool's write permissions ([`user_pool`]).

pub mod federation;
pub mod identity;
pub mod tokens;
pub mod user_pool;
