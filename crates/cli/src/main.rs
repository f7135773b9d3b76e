//! `postoffice`: the command engineers and on-call use to work with a Post Office.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

#[derive(Debug, Parser)]
#[command(
    name = "postoffice",
    version,
    about = "Work with a Post Office: catalog, SNS messages, dead-letter queues, local runs, cost"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the event catalog (and its agreement with the Terraform).
    #[command(subcommand)]
    Catalog(commands::catalog::CatalogCommand),
    /// Work with SNS HTTP(S) messages.
    #[command(subcommand)]
    Sns(commands::sns::SnsCommand),
    /// Inspect, redrive and purge dead-letter queues.
    #[command(subcommand)]
    Dlq(commands::dlq::DlqCommand),
    /// Run a whole post office on this machine.
    #[command(subcommand)]
    Local(commands::local::LocalCommand),
    /// Estimate what the platform costs per customer and for the fleet.
    Cost(commands::cost::CostArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Catalog(command) => commands::catalog::run(command),
        Command::Sns(command) => commands::sns::run(command).await,
        Command::Dlq(command) => commands::dlq::run(command).await,
        Command::Local(command) => commands::local::run(command).await,
        Command::Cost(args) => commands::cost::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
