//! The SNS bridge Lambda: an SNS HTTPS subscription pushes to its function URL; it verifies the
//! message, invokes the consumer's handler Lambda synchronously and turns the handler's answer
//! into the HTTP status that tells SNS "done", "retry" or "dead-letter".
//!
//! - [`config`]: environment, validated at cold start;
//! - [`bridge`]: the HTTP handling over [`ports`];
//! - [`decision`]: every outcome and its status;
//! - [`aws`]: the Lambda and SNS SDK adapters;
//! - [`telemetry`]: JSON logs and EMF metric lines.

pub mod aws;
pub mod bridge;
pub mod config;
pub mod decision;
pub mod ports;
pub mod telemetry;

pub use bridge::{Bridge, MAX_BODY_BYTES, Report};
pub use config::{AllowedTopics, BridgeConfig, ConfigError};
pub use decision::Decision;
pub use ports::{ConfirmError, HandlerInvoker, InvokeAnswer, SubscriptionConfirmer};
