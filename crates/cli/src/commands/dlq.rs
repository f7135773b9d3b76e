//! `postoffice dlq`. Being built in its issue.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {}

pub async fn run(command: DlqCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
