//! The SNS bridge Lambda: an SNS HTTPS subscription pushes to its function URL; it verifies the
//! message, invokes the consumer's handler Lambda synchronously and turns the handler's answer
//! into the HTTP status that tells SNS "done", "retry" or "dead-letter".
//!
//! The bridge is the library's SNS endpoint ([`postoffice::endpoint`], which a handler can also
//! embed) with "invoke the handler Lambda" as its handler port:
//! - [`config`]: environment, validated at cold start;
//! - [`invoke`]: the handler port and its Lambda SDK adapter;
//! - [`telemetry`]: the JSON log format.

pub mod config;
pub mod invoke;
pub mod telemetry;

use postoffice::endpoint::{SnsEndpoint, SubscriptionConfirmer};
use postoffice::sns::{CertificateFetcher, Clock, Verifier};

pub use config::BridgeConfig;
pub use invoke::{HandlerInvoker, InvokeAnswer, InvokeHandler};
pub use postoffice::endpoint::{ConfirmError, Decision, MAX_BODY_BYTES, Report};

/// The bridge: the SNS endpoint in front of a handler Lambda.
pub type Bridge<F, C, I, S> = SnsEndpoint<F, C, InvokeHandler<I>, S>;

/// The bridge for `config`. `verifier` must use the same clock as `clock`.
pub fn bridge<F, C, I, S>(
    config: &BridgeConfig,
    verifier: Verifier<F, C>,
    clock: C,
    invoker: I,
    confirmer: S,
) -> Bridge<F, C, I, S>
where
    F: CertificateFetcher,
    C: Clock + Clone,
    I: HandlerInvoker,
    S: SubscriptionConfirmer,
{
    SnsEndpoint::new(
        &config.endpoint,
        verifier,
        clock,
        InvokeHandler::new(config.handler_function.clone(), invoker),
        confirmer,
    )
}
