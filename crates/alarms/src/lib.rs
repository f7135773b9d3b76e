//! CloudWatch metric alarms evaluated locally: statistics over periods, evaluation periods, missing data, state transitions
