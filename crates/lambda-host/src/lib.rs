//! Lambda functions run locally the way Lambda runs them, as a library: the Runtime API,
//! instances on demand, Invoke and function URL semantics.
//!
//! - [`FunctionRegistry`]: the embedder's view of the functions Terraform applied
//!   ([`FunctionConfig`]); looked up on every invocation, so new configuration or code applies
//!   to new instances while running ones finish and retire.
//! - [`LambdaHost`]: [`LambdaHost::invoke`] / [`LambdaHost::invoke_request`] with Invoke's
//!   semantics, [`LambdaHost::invoke_url`] for function URLs (payload format 2.0),
//!   [`LambdaHost::prewarm`], and per-function [`FunctionMetrics`].
//! - [`invoke_api`]: the Invoke route for SDK clients, with an optional per-request guard.
//!
//! Each instance is the function's `bootstrap` (OS-only runtimes: `provided.al2023`), started
//! in the task root with exactly Lambda's environment and `AWS_LAMBDA_RUNTIME_API` pointing at
//! a Runtime API listener of its own on 127.0.0.1.

mod environment;
mod error;
mod function;
pub mod function_url;
mod host;
mod instance;
mod invoke;
pub mod invoke_api;
mod metrics;
mod process;
mod runtime_api;
pub mod system_log;
pub mod xray;

pub use environment::{RESERVED_VARIABLES, instance_environment, reserved_keys};
pub use error::LambdaHostError;
pub use function::{
    Credentials, FunctionArn, FunctionConfig, FunctionRef, FunctionRegistry, InMemoryRegistry,
    MAX_TIMEOUT, MEMORY_RANGE_MB,
};
pub use function_url::{CognitoIdentityContext, FunctionUrlCaller, SourceIp};
pub use host::{HostConfig, LambdaHost};
pub use invoke::{
    ErrorDocument, InvocationType, InvokeOutcome, InvokeRequest, MAX_ASYNC_PAYLOAD_BYTES,
    MAX_SYNC_PAYLOAD_BYTES, ThrottleReason,
};
pub use metrics::{DurationStats, FunctionMetrics, billed_ms};
pub use system_log::LogFormat;
pub use xray::TracingMode;
