//! CloudWatch, locally: the metrics the services emit and the alarms Terraform applied.

pub mod alarms;
pub mod metrics;
