//! Amazon Cognito, where moto lacks it: the identity pool's role and tag settings
//! ([`identity`]), its federation of user pool sign-ins into IAM credentials ([`federation`],
//! with [`tokens`] verified), the user pool's write permissions ([`user_pool`]), and app users as the back office creates them
//! ([`users`]).

pub mod federation;
pub mod identity;
pub mod tokens;
pub mod user_pool;
pub mod users;
