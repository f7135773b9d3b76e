//! `make bench-e2e`: starts a local post office and measures device→handler and device→reply
//! latency (p50, p99) and sustained events/s, at a few load levels, then device→reply with the
//! kitchen deployed each way the consumer module allows, side by side, with the kitchen's Lambda
//! requests and GB-seconds per round trip as the local post office metered them (what the
//! deployment adds to the Lambda bill per delivery). A benchmark, not a test:
//! it reports and never fails on numbers. `bench-e2e [PROFILE]` builds the Lambdas with that
//! cargo profile (default `release`, as deployed; `dev` for the debug builds the tests run).

use std::time::{Duration, Instant};

use postoffice_e2e::{
    KitchenDeployment, TIME_SCALE, container_files, edited_terraform, load, percentile,
    repository_root,
};
use postoffice_local::metering::Metering;
use postoffice_local::{LocalPostOffice, Options};

/// Round trips measured per kitchen deployment.
const ROUND_TRIPS: usize = 100;

/// The kitchen consumer's functions (`<prefix>-kitchen-bridge`, `<prefix>-kitchen-handler`).
const KITCHEN_FUNCTIONS: &str = "-kitchen-";

/// Lambda requests and GB-seconds the kitchen's functions used between two meter readings.
fn kitchen_lambda(before: &Metering, after: &Metering) -> (u64, f64) {
    after
        .lambda
        .iter()
        .filter(|(name, _)| name.contains(KITCHEN_FUNCTIONS))
        .fold((0, 0.0), |(requests, gb_seconds), (name, usage)| {
            let earlier = before.lambda.get(name).cloned().unwrap_or_default();
            (
                requests + usage.requests - earlier.requests,
                gb_seconds + usage.gb_seconds - earlier.gb_seconds,
            )
        })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut options = Options::new(repository_root());
    options.time_scale = TIME_SCALE;
    options.cargo_profile = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "release".to_owned());
    let profile = options.cargo_profile.clone();
    let started = Instant::now();
    let post_office = LocalPostOffice::start(options, |step| eprintln!("• {step}")).await?;
    eprintln!(
        "post office up in {:.1} s (run directory {})",
        started.elapsed().as_secs_f64(),
        post_office.run_dir().display()
    );
    // Warm every path once so cold starts are not measured.
    load::sequential_round_trips(&post_office, 5, Duration::from_secs(120)).await?;
    println!(
        "bench-e2e: local post office, 127.0.0.1, Terraform-provisioned, Lambdas built with profile {profile}"
    );
    let report = load::sequential_round_trips(&post_office, 100, Duration::from_secs(60)).await?;
    println!("  one device, one request at a time: {}", report.summary());
    for (devices, per_device) in [(1, 50), (10, 20), (50, 20)] {
        let report =
            load::cooking_burst(&post_office, devices, per_device, Duration::from_secs(600))
                .await?;
        println!("  burst: {}", report.summary());
    }

    // The kitchen re-applied each way; one device, one request at a time, after a warm-up.
    let container = tempfile::tempdir()?;
    container_files(&post_office, container.path())?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("  kitchen deployments, one device, one request at a time (n={ROUND_TRIPS}):");
    println!(
        "    {:<16} {:>22} {:>22} {:>30}",
        "deployment",
        "device→reply p50 / p99",
        "device→handler p50 / p99",
        "kitchen Lambda per round trip"
    );
    for deployment in KitchenDeployment::ALL {
        let terraform = edited_terraform(&deployment.edits(container.path()))?;
        post_office.reapply(terraform.path()).await?;
        load::sequential_round_trips(&post_office, 5, Duration::from_secs(120)).await?;
        let before = post_office.metering();
        let report =
            load::sequential_round_trips(&post_office, ROUND_TRIPS, Duration::from_secs(60))
                .await?;
        let (requests, gb_seconds) = kitchen_lambda(&before, &post_office.metering());
        println!(
            "    {:<16} {:>9.1} / {:>6.1} ms {:>12.1} / {:>6.1} ms {:>9.2} requests, {:>9.6} GB-s",
            deployment.name(),
            ms(percentile(&report.to_reply, 50.0)),
            ms(percentile(&report.to_reply, 99.0)),
            ms(percentile(&report.to_handler, 50.0)),
            ms(percentile(&report.to_handler, 99.0)),
            requests as f64 / ROUND_TRIPS as f64,
            gb_seconds / ROUND_TRIPS as f64,
        );
    }
    Ok(())
}
