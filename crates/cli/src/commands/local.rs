//! `postoffice local`. Being built in its issue.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {}

pub async fn run(command: LocalCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
