//! The Post Office cost model: what the platform costs per customer per month and per year on
//! AWS at a given fleet size, broken down by service, and what the two known optimisations
//! (disconnecting idle actors, and Event Collections) save.
//!
//! Pure: inputs are a [`Profile`] (what a household does), the [`EventRoutes`] of the event
//! catalog (direction and consumers of each event) and a [`PriceList`]; reading files is the
//! caller's business.
//!
//! Method: one customer's month is turned into AWS-metered quantities ([`customer_usage`]),
//! multiplied by the fleet size, then priced with graduated tiers applied to the fleet's
//! monthly volume ([`bill`]); per-customer figures are the fleet's bill divided by its size.
//!
//! Consumers are priced as deployed with a separate or an embedded bridge ([`BridgeMode`]), and
//! [`compare`] puts both beside the container deployment (Fargate behind an ALB), whose cost is
//! a step function of the fleet's peak rate rather than per delivery.

pub mod account;
pub mod deployment;
pub mod estimate;
pub mod measured;
pub mod pricing;
pub mod profile;
pub mod report;
pub mod routes;
pub mod sessions;
pub mod usage;

pub use account::{AccountUsage, account_usage, kms_requests, traces_recorded};
pub use deployment::{
    BridgeMode, ContainerEstimate, Deployment, DeploymentComparison, DeploymentCost, ServiceSize,
    compare, container_estimate,
};
pub use estimate::{Bill, Estimate, FleetEstimate, Line, Saving, Savings, bill, estimate};
pub use measured::{
    Detail, FleetRun, FunctionLine, MeasuredBill, MeasuredLine, Metering, Run, measured_bill,
};
pub use pricing::{Price, PriceList, PriceStatus, Tier, increments};
pub use profile::{
    ApplicationLogs, ContainerService, Encryption, Failures, Idempotency, Idle, IdleConnection,
    LogLines, Logs, Profile, Tracing,
};
pub use routes::{
    COLLECTION_EVENT, COLLECTION_UNPACKER, Direction, EventRoute, EventRoutes, IOT_FORWARDER,
};
pub use usage::{
    ActorPlan, Connectivity, ConsumerDeliveries, DAYS_PER_MONTH, Messaging, MonthlyUsage, Scenario,
    actor_plans, customer_usage, customer_usage_by_consumer, event_store_objects,
    partition_objects,
};

/// Why an estimate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("{origin}: {message}")]
    Pricing { origin: String, message: String },
    #[error("{origin}: {message}")]
    Profile { origin: String, message: String },
    #[error("fleet size {0}: a fleet needs at least one customer")]
    FleetSize(u64),
    /// `metering.json` (or what stands for it) is not what the local post office writes.
    #[error("{origin}: {message}")]
    Metering { origin: String, message: String },
    /// The measured run's size (households, days) cannot be used.
    #[error("{0}")]
    Run(String),
}
