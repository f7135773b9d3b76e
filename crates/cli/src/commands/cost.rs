//! `postoffice cost`. Being built in its issue.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CostArgs {}

pub fn run(_args: CostArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("postoffice cost is not built yet")
}
