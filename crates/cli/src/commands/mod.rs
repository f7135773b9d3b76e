//! One module per subcommand. Each exposes its clap arguments and a `run` returning the exit code.

pub mod catalog;
pub mod cost;
pub mod demo;
pub mod dlq;
pub mod fleet;
pub mod local;
pub mod sns;
