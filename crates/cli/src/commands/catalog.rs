//! `postoffice catalog`: checks of the event catalog.

use std::path::PathBuf;
use std::process::ExitCode;

use postoffice::catalog::{self, CheckReport};

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// Validate every event file: names, directions, producers and consumers, JSON Schemas and
    /// examples. Prints one line per event and exits 0, or every problem and exits 1.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Directory holding one EVENT.yaml file per event.
    #[arg(long, value_name = "DIR", default_value = "event-catalog")]
    pub catalog: PathBuf,
}

pub fn run(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Check(args) => {
            let report = catalog::check(&args.catalog);
            print_report(&args, &report);
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn print_report(args: &CheckArgs, report: &CheckReport) {
    for line in report.lines() {
        println!("{line}");
    }
    let dir = args.catalog.display();
    match (&report.catalog, report.problems.len()) {
        (Some(catalog), 0) => println!("catalog {dir}: {} events, no problems", catalog.len()),
        (_, count) => println!("catalog {dir}: {count} problem(s)"),
    }
}
