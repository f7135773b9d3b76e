//! SNS's HTTPS endpoint in front of a handler (feature `sns-endpoint`): what the bridge Lambda
//! is, and what a handler deployed with an embedded bridge serves itself. One implementation:
//!
//! - [`SnsEndpoint`]: one request in, one status out, over ports: the [`Verifier`] (certificate
//!   fetcher, clock), the [`HandlerPort`] and the [`SubscriptionConfirmer`]. It checks method,
//!   size, shape, `x-amz-sns-*` headers and the topic allow-list before any certificate fetch,
//!   then the signature, confirms subscriptions through the SNS API, refuses old messages and
//!   envelopes whose event is not their topic's, and calls the handler; everything after arrival
//!   runs against one deadline, [`RESPONSE_DEADLINE`]. The statuses are [`Decision`]'s table.
//! - [`SnsEndpointService`] / [`SnsEndpointLayer`]: the endpoint as tower middleware.
//! - [`function_url`]: Lambda function URL events in, answers out.
//! - [`aws`] (feature `sns-endpoint-aws`): the SDK confirmer and the production endpoint.
//! - Configuration: [`EndpointConfig`], from the environment both deployments share.
//!
//! The bridge's handler port invokes the handler Lambda; an embedded endpoint's calls the
//! handler in the same process ([`ServiceHandler`]). Each request writes one log event and one
//! EMF metric line (namespace [`METRIC_NAMESPACE`]).
//!
//! [`Verifier`]: crate::sns::Verifier

#[cfg(feature = "sns-endpoint-aws")]
pub mod aws;
mod config;
mod decision;
pub mod function_url;
mod handling;
mod ports;
mod service;
mod telemetry;

pub use config::{
    ALLOWED_TOPIC_ARNS, AllowedTopics, ConfigError, DEFAULT_INVOKE_TIMEOUT,
    DEFAULT_MAX_MESSAGE_AGE, DEFAULT_MIN_SIGNATURE_VERSION, EndpointConfig, INVOKE_TIMEOUT_MS,
    LOCAL_TRUSTED_CERT, MAX_MESSAGE_AGE_SECONDS, MIN_SIGNATURE_VERSION, REDRIVE_TOPIC_ARN,
    RESPONSE_DEADLINE, SNS_RESPONSE_LIMIT,
};
pub use decision::{Decision, decide_answer};
pub use handling::{MAX_BODY_BYTES, Report, SnsEndpoint, respond};
pub use ports::{ConfirmError, HandlerAnswer, HandlerPort, ServiceHandler, SubscriptionConfirmer};
pub use service::{SnsEndpointLayer, SnsEndpointService};
pub use telemetry::{MAX_FIELD_CHARS, METRIC_NAMESPACE, metric_line};
