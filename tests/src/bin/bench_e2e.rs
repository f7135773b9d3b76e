//! `make bench-e2e`: starts a local post office and measures device→handler and device→reply
//! latency (p50, p99) and sustained events/s, at a few load levels, then device→reply with the
//! kitchen deployed each way the consumer module allows, side by side, with the kitchen's Lambda
//! requests and GB-seconds per round trip as the local post office metered them (what the
//! deployment adds to the Lambda bill per delivery). A benchmark, not a test:
//! it reports and never fails on numbers. `bench-e2e [PROFILE] [deployments]` (`deployments`:
//! the deployment table only) builds the Lambdas with that
//! cargo profile (default `release`, as deployed; `dev` for the debug builds the tests run).

use std::time::{Duration, Instant};

use postoffice_e2e::{
    KitchenDeployment, TIME_SCALE, container_files, edited_terraform, load, percentile,
    repository_root,
};
use postoffice_local::metering::Metering;
use postoffice_local::{LocalPostOffice, Options};

/// Round trips measured per kitchen deployment in each round.
const ROUND_TRIPS: usize = 100;
/// Rounds over the three deployments.
const ROUNDS: usize = 2;

/// One deployment's samples over every round.
#[derive(Default)]
struct Pooled {
    to_reply: Vec<Duration>,
    to_handler: Vec<Duration>,
    lambda_requests: u64,
    lambda_gb_seconds: f64,
}

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

/// The project's own deployment: one device at a time, then bursts from more devices.
async fn whole_post_office(post_office: &LocalPostOffice) -> anyhow::Result<()> {
    let report = load::sequential_round_trips(post_office, 100, Duration::from_secs(60)).await?;
    println!("  one device, one request at a time: {}", report.summary());
    for (devices, per_device) in [(1, 50), (10, 20), (50, 20)] {
        let report =
            load::cooking_burst(post_office, devices, per_device, Duration::from_secs(600)).await?;
        println!("  burst: {}", report.summary());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut options = Options::new(repository_root());
    options.time_scale = TIME_SCALE;
    let mut args = std::env::args().skip(1);
    options.cargo_profile = args.next().unwrap_or_else(|| "release".to_owned());
    let deployments_only = args.next().as_deref() == Some("deployments");
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
    if !deployments_only {
        whole_post_office(&post_office).await?;
    }

    // The kitchen re-applied each way, in interleaved rounds so that the machine's drift falls
    // on every deployment alike; one device, one request at a time, after a warm-up.
    let container = tempfile::tempdir()?;
    container_files(&post_office, container.path())?;
    let mut pooled: Vec<Pooled> = KitchenDeployment::ALL
        .iter()
        .map(|_| Pooled::default())
        .collect();
    for _ in 0..ROUNDS {
        for (deployment, pool) in KitchenDeployment::ALL.iter().zip(&mut pooled) {
            let terraform = edited_terraform(&deployment.edits(container.path()))?;
            post_office.reapply(terraform.path()).await?;
            load::sequential_round_trips(&post_office, 5, Duration::from_secs(120)).await?;
            let before = post_office.metering();
            let report =
                load::sequential_round_trips(&post_office, ROUND_TRIPS, Duration::from_secs(60))
                    .await?;
            let (requests, gb_seconds) = kitchen_lambda(&before, &post_office.metering());
            pool.to_reply.extend(report.to_reply);
            pool.to_handler.extend(report.to_handler);
            pool.lambda_requests += requests;
            pool.lambda_gb_seconds += gb_seconds;
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let samples = ROUNDS * ROUND_TRIPS;
    println!(
        "  kitchen deployments, one device, one request at a time ({ROUNDS} interleaved rounds of {ROUND_TRIPS}, n={samples}):"
    );
    println!(
        "    {:<16} {:>22} {:>22} {:>30}",
        "deployment",
        "device→reply p50 / p99",
        "device→handler p50 / p99",
        "kitchen Lambda per round trip"
    );
    for (deployment, pool) in KitchenDeployment::ALL.iter().zip(&mut pooled) {
        pool.to_reply.sort();
        pool.to_handler.sort();
        println!(
            "    {:<16} {:>9.1} / {:>6.1} ms {:>12.1} / {:>6.1} ms {:>9.2} requests, {:>9.6} GB-s",
            deployment.name(),
            ms(percentile(&pool.to_reply, 50.0)),
            ms(percentile(&pool.to_reply, 99.0)),
            ms(percentile(&pool.to_handler, 50.0)),
            ms(percentile(&pool.to_handler, 99.0)),
            pool.lambda_requests as f64 / samples as f64,
            pool.lambda_gb_seconds / samples as f64,
        );
    }
    Ok(())
}
