//! IAM and IoT policy evaluation with AWS's logic: identity and resource policies, conditions,
//! policy variables. Pure logic: no I/O, no async.
//!
//! The local post office calls it on every call inside the platform's chain to refuse what AWS
//! refuses: a Lambda role publishing to a topic its policy does not name, SNS dead-lettering into
//! a queue whose policy does not admit the topic, a device publishing outside its household.
//!
//! ```
//! use postoffice_policy::{evaluate, Context, Policies, Policy, Principal, Request};
//!
//! let handler = Policy::parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{"Sid": "PublishItsEvents", "Effect": "Allow", "Action": "sns:Publish",
//!                    "Resource": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED"}]
//! }"#)?.named("handler");
//! let role = "arn:aws:iam::123456789012:role/postoffice-kitchen-handler";
//! let request = Request::new(
//!     Principal::role_session(role, "postoffice-kitchen-handler")?,
//!     "sns:Publish",
//!     "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED",
//! )?
//! .with_context(Context::new().with("aws:SecureTransport", true));
//! let decision = evaluate(&request, &Policies::new().identity_policy(&handler)?);
//! assert!(!decision.is_allowed());
//! assert!(decision.explain(&request).contains(
//!     "nearest: role policy 'handler' statement 'PublishItsEvents' (resource does not match)"
//! ));
//! # Ok::<(), postoffice_policy::PolicyError>(())
//! ```
//!
//! # The pieces
//!
//! - [`Policy::parse`] compiles a document (wildcards, variables, condition values) and refuses,
//!   naming the element, what the IAM grammar refuses; [`Policy::named`] names it for
//!   explanations.
//! - [`Policies`] gathers what applies to a request: the principal's identity policies and the
//!   resource's policy with its [`ResourcePolicyKind`] (ordinary, KMS key policy, role trust
//!   policy), refusing a policy attached where its shape does not fit.
//! - [`Request`] is a [`Principal`] (account root, IAM user, role session, service, web
//!   identity, anonymous caller, IoT certificate), an action, a resource ARN and a [`Context`] of
//!   condition keys. A Cognito identity acts as a session of the identity pool's role, with its
//!   identity id and session tags in the context ([`iot::IotConnection`] builds the keys of an
//!   MQTT connection). S3 ARNs name no account: give it with [`Request::with_resource_account`].
//! - [`evaluate`] and [`evaluate_iot`] return a [`Decision`] whose [`Decision::explain`] is one
//!   line for logs; [`iot::evaluate_cognito`] checks both halves of a Cognito identity.
//!
//! # Why not `iam-rs`
//!
//! The crate `iam-rs` (0.8.0, read from its source) parses policies and evaluates conditions
//! with care, but it evaluates one flat list of policies: it has no notion of identity versus
//! resource policies, of same- versus cross-account requests, nor of KMS key and role trust
//! policies that must allow by themselves. Where the AWS documentation is explicit it disagrees:
//! a policy variable without a value becomes the empty string (AWS: the element then matches
//! nothing), `ArnLike` matches the whole string instead of each of the six ARN segments,
//! principal ARNs match with wildcards (AWS: "You cannot use a wildcard to match part of a
//! principal name or ARN"), an account principal matches only the root ARN instead of every
//! principal of the account, a role ARN does not match the role's sessions, and wildcard
//! patterns are recompiled on every evaluation. Hence this evaluator.
//!
//! # What it models, and what not
//!
//! Identity policies, resource policies (ordinary, KMS key, role trust), explicit deny,
//! `NotAction` / `NotResource` / `NotPrincipal`, every documented condition operator with
//! `...IfExists`, `ForAllValues:` / `ForAnyValue:`, policy variables with defaults, and AWS IoT
//! Core policies. Not modelled: service control and resource control policies, permissions
//! boundaries, session policies, KMS grants, S3 ACLs — the platform uses none of them.

mod condition;
mod context;
mod decision;
mod document;
mod error;
mod evaluate;
pub mod iot;
mod json;
mod pattern;
mod principal;
mod request;
mod value;

pub use context::{Context, ContextValue};
pub use decision::{
    AllowedBy, Decision, IdentityHolder, Mismatch, Missing, NearMiss, PolicySource, StatementRef,
};
pub use document::{Effect, Policy, Version};
pub use error::PolicyError;
pub use evaluate::{IotPolicies, Policies, ResourcePolicyKind, evaluate, evaluate_iot};
pub use principal::Principal;
pub use request::Request;
pub use value::Timestamp;
