//! `postoffice local`: a whole post office on this machine (127.0.0.1 only).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use postoffice_local::{LocalPostOffice, Options};

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Start moto, mosquitto, the Lambdas and the local runtime; serve until Ctrl-C.
    Up {
        #[command(flatten)]
        run: RunArgs,
        /// Multiplies the delivery policy's retry delays (e.g. 0.1 for ten times faster).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
    },
    /// Start a post office, drive the scripted demo through it with a report, then stop it.
    Demo {
        #[command(flatten)]
        run: RunArgs,
        /// Multiplies the delivery policy's retry delays, so the outage fits in a demo.
        #[arg(long, default_value_t = 0.25)]
        time_scale: f64,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The repository root (event-catalog/, local/, .venv/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Directory for logs, generated configuration and the event store [default: ROOT/.run/<time>].
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// The cargo profile the Lambdas are built with (`release`: as deployed, slower to build).
    #[arg(long, default_value = "dev")]
    profile: String,
}

impl RunArgs {
    fn options(&self, time_scale: f64) -> Options {
        let mut options = Options::new(&self.root);
        options.run_dir = self.run_dir.clone();
        options.cargo_profile = self.profile.clone();
        options.time_scale = time_scale;
        options
    }
}

pub async fn run(command: LocalCommand) -> anyhow::Result<ExitCode> {
    match command {
        LocalCommand::Up { run, time_scale } => up(run.options(time_scale)).await,
        LocalCommand::Demo { run, time_scale } => {
            let _ = (run, time_scale);
            anyhow::bail!("the demo is being moved onto the Terraform-provisioned post office")
        }
    }
}

async fn up(options: Options) -> anyhow::Result<ExitCode> {
    let start = LocalPostOffice::start(options, |step| eprintln!("• {step}"));
    let mut post_office = tokio::select! {
        started = start => started?,
        _ = interrupted() => {
            eprintln!("\ninterrupted during start-up; everything started has been stopped");
            return Ok(ExitCode::from(130));
        }
    };
    println!("The local post office is up (Ctrl-C stops it).");
    println!("  AWS endpoint       {}", post_office.endpoints.aws);
    println!("  run directory      {}", post_office.run_dir().display());
    loop {
        tokio::select! {
            _ = interrupted() => {
                eprintln!("\nstopping the local post office");
                post_office.stop();
                return Ok(ExitCode::SUCCESS);
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Ctrl-C (SIGINT) or SIGTERM: either way every started process must be stopped, which only
/// happens if the signal is caught and the post office dropped.
async fn interrupted() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
