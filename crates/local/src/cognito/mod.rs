//! Amazon Cognito, where moto lacks it.

pub mod identity;
