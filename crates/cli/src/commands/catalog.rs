//! `postoffice catalog`: checks of the event catalog.

use std::path::{Path, PathBuf};
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
    /// Terraform root module that must agree with the catalog (its catalog module reads this
    /// catalog; event blocks, consumer blocks, device and mobile policies). Default:
    /// terraform/examples/complete next to the catalog directory, checked when it exists.
    #[arg(long, value_name = "DIR")]
    pub terraform: Option<PathBuf>,
}

pub fn run(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Check(args) => {
            let mut report = catalog::check(&args.catalog);
            check_terraform(&args, &mut report);
            print_report(&args, &report);
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Appends the Terraform agreement problems to the report; warnings go to stderr so that stdout
/// keeps its one-line-per-event contract.
fn check_terraform(args: &CheckArgs, report: &mut CheckReport) {
    let Some(catalog) = &report.catalog else {
        return;
    };
    let dir = match &args.terraform {
        Some(dir) => dir.clone(),
        None => {
            let beside_catalog = args
                .catalog
                .parent()
                .unwrap_or(Path::new(""))
                .join(postoffice_catalog_terraform::DEFAULT_ROOT_MODULE);
            if !beside_catalog.is_dir() {
                eprintln!(
                    "note: no {} here; Terraform agreement not checked (use --terraform DIR)",
                    beside_catalog.display()
                );
                return;
            }
            beside_catalog
        }
    };
    let agreement = postoffice_catalog_terraform::check(catalog, &args.catalog, &dir);
    for warning in &agreement.warnings {
        eprintln!("warning {warning}");
    }
    for problem in agreement.problems {
        report.push(problem);
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
