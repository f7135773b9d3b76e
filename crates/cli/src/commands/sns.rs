//! `postoffice sns`. Being built in its issue.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum SnsCommand {}

pub async fn run(command: SnsCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
