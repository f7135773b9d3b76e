//! `postoffice cost`: what the platform costs per customer and for the fleet, by service, what
//! disconnecting idle actors and Event Collections save, and what each consumer deployment
//! (separate bridge, embedded bridge, container) costs. With `--measured RUN_DIR`: what a local
//! run metered, priced line by line beside the model for the same households and days.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use postoffice::catalog::{self, Catalog};
use postoffice_cost::measured::{FLEET_RUNS_DIR, METERING_FILE};
use postoffice_cost::{
    BridgeMode, Connectivity, Direction, EventRoute, EventRoutes, FleetRun, Messaging, Metering,
    PriceList, Profile, Run, Scenario, estimate, measured_bill, report,
};

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// Usage profile: what one customer's household does in a day.
    #[arg(long, default_value = "cost-profiles/kitchen-household.yaml")]
    pub profile: PathBuf,
    /// Price file, with the source and date of every price.
    #[arg(long, default_value = "pricing/aws-us-east-1.yaml")]
    pub pricing: PathBuf,
    /// Event catalog directory (fan-out = consumers per event); default: the catalog built
    /// into this binary.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Fleet sizes, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10000,100000,1000000,10000000"
    )]
    pub customers: Vec<u64>,
    /// How consumers are deployed in the bills: `separate` (a bridge Lambda invokes the handler)
    /// or `embedded` (the handler is its own SNS endpoint). The report compares both, and the
    /// container deployment, whatever this says.
    #[arg(long, default_value = "separate", value_parser = parse_bridge)]
    pub bridge: BridgeMode,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Price a local run instead: the run directory of `postoffice local up` (`.run/<time>`),
    /// whose metering.json is priced line by line beside the model for the same households and
    /// days.
    #[arg(long, value_name = "RUN_DIR")]
    pub measured: Option<PathBuf>,
    /// With --measured: how many households the run simulated. Default: what the `local fleet`
    /// run recorded in RUN_DIR/fleet-runs, else the devices registered in RUN_DIR/devices.
    #[arg(long, requires = "measured")]
    pub households: Option<u64>,
    /// With --measured: how many simulated days the run covered. Default: what the `local
    /// fleet` run recorded (one day, whatever its --time-scale).
    #[arg(long, requires = "measured")]
    pub days: Option<f64>,
    /// With --measured: the run's devices disconnected when idle (`local fleet
    /// --idle-disconnect`); the model then prices that scenario. Default: what the fleet run
    /// recorded.
    #[arg(long, requires = "measured")]
    pub idle_disconnect: bool,
    /// With --measured: the run's devices sent Event Collections (`local fleet --collections`).
    /// Default: what the fleet run recorded.
    #[arg(long, requires = "measured")]
    pub collections: bool,
}

pub fn run(args: CostArgs) -> anyhow::Result<ExitCode> {
    let loaded;
    let catalog = match &args.catalog {
        Some(dir) => {
            loaded = Catalog::load(dir)
                .with_context(|| format!("loading the event catalog {}", dir.display()))?;
            &loaded
        }
        None => Catalog::embedded(),
    };
    let routes = event_routes(catalog);
    let prices = PriceList::from_yaml(&read(&args.pricing)?, &args.pricing.display().to_string())?;
    let profile = Profile::from_yaml(
        &read(&args.profile)?,
        &args.profile.display().to_string(),
        &routes,
    )?;
    if let Some(run_dir) = &args.measured {
        return measured(&args, run_dir, &profile, &routes, &prices);
    }
    let estimate = estimate(&profile, &routes, &prices, args.bridge, &args.customers)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&estimate)?);
    } else {
        print!("{}", report::render(&estimate));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--measured RUN_DIR`: the run's metering.json priced beside the model.
fn measured(
    args: &CostArgs,
    run_dir: &Path,
    profile: &Profile,
    routes: &EventRoutes,
    prices: &PriceList,
) -> anyhow::Result<ExitCode> {
    if !run_dir.is_dir() {
        anyhow::bail!(
            "--measured {}: no such directory (give the run directory of `postoffice local up`, \
             e.g. .run/latest)",
            run_dir.display()
        );
    }
    let file = run_dir.join(METERING_FILE);
    if !file.is_file() {
        anyhow::bail!(
            "{}: no metering.json in the run directory (the local post office writes it every \
             5 s and on stop; is {} a run directory of `postoffice local up`?)",
            file.display(),
            run_dir.display()
        );
    }
    let metering = Metering::from_json(&read(&file)?, &file.display().to_string())?;
    let fleet = fleet_run(run_dir)?;
    let households = match (args.households, &fleet) {
        (Some(households), _) => households as f64,
        (None, Some(fleet)) => fleet.households as f64,
        (None, None) => registered_devices(run_dir)? as f64,
    };
    let days = match (args.days, &fleet) {
        (Some(days), _) => days,
        (None, Some(fleet)) => fleet.days,
        (None, None) => anyhow::bail!(
            "--measured needs --days: metering.json counts usage since start-up in wall-clock \
             time ({} s), not how many simulated days the run covered, and {} records no \
             `local fleet` run (it drives one day of 86400 / --time-scale seconds: --days 1)",
            metering.elapsed_seconds,
            run_dir.join(FLEET_RUNS_DIR).display()
        ),
    };
    let flags = Scenario {
        connectivity: if args.idle_disconnect {
            Connectivity::DisconnectWhenIdle
        } else {
            Connectivity::AlwaysConnected
        },
        messaging: if args.collections {
            Messaging::EventCollections
        } else {
            Messaging::SingleEvents
        },
    };
    let scenario = match &fleet {
        Some(fleet) => {
            let recorded = fleet.scenario();
            anyhow::ensure!(
                (!args.idle_disconnect || fleet.idle_disconnect)
                    && (!args.collections || fleet.collections),
                "--idle-disconnect/--collections say {} but the fleet run recorded in {} was {}",
                flags.label(),
                run_dir.join(FLEET_RUNS_DIR).display(),
                recorded.label()
            );
            recorded
        }
        None => flags,
    };
    let mut warnings = Vec::new();
    let simulated;
    let profile = match &fleet {
        Some(fleet) => {
            if (fleet.time_scale - metering.time_scale).abs() > 1e-9 * fleet.time_scale {
                warnings.push(format!(
                    "the fleet ran at --time-scale {} but the post office metered time at {} \
                     (`local up --metered-time-scale {}`): connection minutes and Firehose \
                     objects are not in the fleet's simulated time",
                    fleet.time_scale, metering.time_scale, fleet.time_scale
                ));
            }
            if fleet.profile != profile.name {
                warnings.push(format!(
                    "the fleet ran profile {} but the model prices {}",
                    fleet.profile, profile.name
                ));
            }
            let left_out: Vec<&str> = profile
                .actors
                .keys()
                .filter(|kind| !fleet.actors.contains(kind))
                .map(String::as_str)
                .collect();
            if !left_out.is_empty() {
                warnings.push(format!(
                    "the fleet simulated {} only: the model leaves out the profile's {} and \
                     the events they send or receive",
                    fleet.actors.join(", "),
                    left_out.join(", ")
                ));
            }
            simulated = profile.for_actors(&fleet.actors);
            &simulated
        }
        None => profile,
    };
    let run = Run {
        households,
        days,
        scenario,
        bridge: args.bridge,
    };
    let mut bill = measured_bill(&metering, profile, routes, prices, run)?;
    bill.warnings = warnings;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&bill)?);
    } else {
        print!("{}", report::render_measured(&bill));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `local fleet` run recorded in `run_dir`, if any; more than one cannot be told apart in
/// metering.json, which counts from start-up.
fn fleet_run(run_dir: &Path) -> anyhow::Result<Option<FleetRun>> {
    let dir = run_dir.join(FLEET_RUNS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut runs = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            let run: FleetRun = serde_json::from_str(&read(&path)?)
                .with_context(|| format!("{}: not a fleet run record", path.display()))?;
            runs.push(run);
        }
    }
    match runs.len() {
        0 => Ok(None),
        1 => Ok(runs.pop()),
        count => anyhow::bail!(
            "{} records {count} fleet runs, and metering.json adds them all up: price one fleet \
             run per post office (start a new one with `postoffice local up`)",
            dir.display()
        ),
    }
}

/// The devices registered in a run (`devices/<thing>.pem`): `local fleet` registers one oven per
/// household.
fn registered_devices(run_dir: &Path) -> anyhow::Result<usize> {
    let devices = run_dir.join("devices");
    let missing = || {
        anyhow::anyhow!(
            "--measured needs --households: metering.json does not say how many households the \
             run simulated, and {} has no registered devices to count (`local fleet` registers \
             one oven per household there)",
            devices.display()
        )
    };
    let Ok(entries) = std::fs::read_dir(&devices) else {
        return Err(missing());
    };
    let mut count = 0;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", devices.display()))?;
        if entry
            .path()
            .extension()
            .is_some_and(|extension| extension == "pem")
        {
            count += 1;
        }
    }
    if count == 0 {
        return Err(missing());
    }
    Ok(count)
}

fn parse_bridge(text: &str) -> Result<BridgeMode, String> {
    text.parse()
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (relative paths start at the current directory; the defaults assume the \
             repository root)",
            path.display()
        )
    })
}

/// The catalog as the cost model sees it: direction and consumers of each event.
pub(crate) fn event_routes(catalog: &Catalog) -> EventRoutes {
    catalog
        .events()
        .map(|event| {
            let direction = match event.direction {
                catalog::Direction::ActorToBackend => Direction::ActorToBackend,
                catalog::Direction::BackendToActor => Direction::BackendToActor,
                catalog::Direction::BackendToBackend => Direction::BackendToBackend,
            };
            let route = EventRoute {
                direction,
                producers: event.producers.clone(),
                consumers: event.consumers.clone(),
                collection_max_wait_s: event
                    .collection
                    .map(|collection| f64::from(collection.max_wait_s)),
            };
            (event.name.clone(), route)
        })
        .collect()
}
