//! Post Office: the library every part of the platform shares.
//!
//! Core modules are pure logic with no AWS SDK dependency:
//! - [`topic`]: the `{EVENT}/{HOUSEHOLD_ID}/{DEVICE_ID}` MQTT topic contract;
//! - [`envelope`]: the JSON every handler receives and every publisher sends;
//! - [`invocation`]: what the bridge sends a handler Lambda and how its answer is classified;
//! - [`catalog`]: the event catalog (names, directions, producers, consumers, payload schemas);
//! - [`sns`]: SNS HTTP(S) message parsing and signature verification.
//!
//! `endpoint` (feature `sns-endpoint`) is SNS's HTTPS endpoint in front of a handler, shared by
//! the bridge Lambda and handlers that serve SNS themselves.
//!
//! [`handler`] is the API product teams write business logic against; `aws_http` (feature
//! `aws-http`) is the HTTP client the Lambdas' AWS SDK clients send through, and `https`
//! (feature `https`) makes every HTTP client of the platform.

#[cfg(feature = "aws-http")]
pub mod aws_http;
pub mod catalog;
#[cfg(feature = "sns-endpoint")]
pub mod endpoint;
pub mod envelope;
pub mod handler;
#[cfg(feature = "https")]
pub mod https;
pub mod invocation;
pub mod pairing;
pub mod sns;
pub mod topic;

pub use envelope::Envelope;
pub use topic::Topic;
