//! `postoffice cost`: what the platform costs per customer and for the fleet, by service, what
//! disconnecting idle actors and Event Collections save, and what each consumer deployment
//! (separate bridge, embedded bridge, container) costs. With `--measured RUN_DIR`: what a local
//! run metered, priced line by line beside the model for the same households and days.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use postoffice::catalog::{self, Catalog};
use postoffice_cost::measured::METERING_FILE;
use postoffice_cost::{
    BridgeMode, Connectivity, Direction, EventRoute, EventRoutes, Messaging, Metering, PriceList,
    Profile, Run, Scenario, estimate, measured_bill, report,
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
    /// With --measured: how many households the run simulated. Default: the devices registered
    /// in RUN_DIR/devices (`local fleet` registers one oven per household).
    #[arg(long, requires = "measured")]
    pub households: Option<u64>,
    /// With --measured: how many simulated days the run covered (`local fleet` drives one day,
    /// whatever its --time-scale). Required: metering.json only knows wall-clock time.
    #[arg(long, requires = "measured")]
    pub days: Option<f64>,
    /// With --measured: the run's devices disconnected when idle (`local fleet
    /// --idle-disconnect`); the model then prices that scenario.
    #[arg(long, requires = "measured")]
    pub idle_disconnect: bool,
    /// With --measured: the run's devices sent Event Collections (`local fleet --collections`).
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
    let households = match args.households {
        Some(households) => households as f64,
        None => registered_devices(run_dir)? as f64,
    };
    let Some(days) = args.days else {
        anyhow::bail!(
            "--measured needs --days: metering.json counts usage since start-up in wall-clock \
             time ({} s), not how many simulated days the run covered (`local fleet` drives one \
             day of 86400 / --time-scale seconds: --days 1)",
            metering.elapsed_seconds
        );
    };
    let scenario = Scenario {
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
    let run = Run {
        households,
        days,
        scenario,
        bridge: args.bridge,
    };
    let bill = measured_bill(&metering, profile, routes, prices, run)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&bill)?);
    } else {
        print!("{}", report::render_measured(&bill));
    }
    Ok(ExitCode::SUCCESS)
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
                consumers: event.consumers.clone(),
            };
            (event.name.clone(), route)
        })
        .collect()
}
