//! `postoffice cost`: what the platform costs per customer and for the fleet, by service, what
//! disconnecting idle actors and Event Collections save, and what each consumer deployment
//! (separate bridge, embedded bridge, container) costs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use postoffice::catalog::{self, Catalog};
use postoffice_cost::{
    BridgeMode, Direction, EventRoute, EventRoutes, PriceList, Profile, estimate, report,
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
    /// planned container deployment, whatever this says.
    #[arg(long, default_value = "separate", value_parser = parse_bridge)]
    pub bridge: BridgeMode,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
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
    let estimate = estimate(&profile, &routes, &prices, args.bridge, &args.customers)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&estimate)?);
    } else {
        print!("{}", report::render(&estimate));
    }
    Ok(ExitCode::SUCCESS)
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
