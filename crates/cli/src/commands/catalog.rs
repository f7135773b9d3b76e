//! `postoffice catalog`. Being built in its issue.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {}

pub fn run(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
