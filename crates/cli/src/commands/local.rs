//! `postoffice local`: a whole post office on this machine (127.0.0.1 only), provisioned by the
//! project's Terraform.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use postoffice_local::activity::Activity;
use postoffice_local::{LocalPostOffice, Options};

use super::{demo, fleet};

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Build, apply the Terraform against the local endpoints, run it; serve until Ctrl-C.
    Up {
        #[command(flatten)]
        run: RunArgs,
        /// Multiplies the applied retry delays and alarm periods (0.01: a minute in 0.6 s).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Simulated seconds per real second the meter bills connection minutes and Firehose
        /// buffer intervals in: give the `local fleet --time-scale` of the run to be priced
        /// (`cost --measured`); 1 bills the wall clock.
        #[arg(long, default_value_t = 1.0)]
        metered_time_scale: f64,
    },
    /// Start a post office, drive the scripted tour through it with a report, then stop it.
    Demo {
        #[command(flatten)]
        run: RunArgs,
        /// Multiplies the applied retry delays and alarm periods, so the outage fits in a demo.
        #[arg(long, default_value_t = 0.01)]
        time_scale: f64,
    },
    /// Devices of a running post office (`postoffice local up`).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Mobile app users of a running post office (`postoffice local up`).
    #[command(subcommand)]
    User(UserCommand),
    /// Manufacture appliances for a running post office, as the factory does: each registered
    /// with a certificate from the factory CA, the SHA-256 of its pairing code and the base
    /// device policy, in no household until onboarding pairs it. Prints each label and the rate.
    Factory {
        /// How many appliances.
        #[arg(long, default_value_t = 1)]
        devices: usize,
        /// Thing names are PREFIX-<hex time>-<i>.
        #[arg(long, default_value = "appliance")]
        prefix: String,
        /// Registrations at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// The running post office's directory [default: ROOT/.run/latest].
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
    /// Drive a simulated day of a fleet of ovens through a running post office and report
    /// connect rates, throughput, reply latency, connection minutes, messages and memory.
    Fleet(fleet::FleetArgs),
    /// The alarms of a running post office and their states, with runbook links.
    Alarms {
        /// The running post office's directory [default: ROOT/.run/latest].
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// Register a device in a household (certificate from the local factory CA, thing with the
    /// household attribute, device policies attached) and print how to connect a real client.
    Add {
        household: String,
        device: String,
        /// The running post office's directory [default: ROOT/.run/latest].
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user of the mobile app in a household (user pool attribute custom:household)
    /// and print its email and generated password (on stdout only).
    Add {
        household: String,
        email: String,
        /// The running post office's directory [default: ROOT/.run/latest].
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The repository root (terraform/, event-catalog/, .venv/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Directory for logs, state and the event store [default: ROOT/.run/<time>].
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
        LocalCommand::Up {
            run,
            time_scale,
            metered_time_scale,
        } => {
            anyhow::ensure!(
                metered_time_scale.is_finite() && metered_time_scale > 0.0,
                "--metered-time-scale {metered_time_scale}: must be a positive number of simulated \
                 seconds per real second (the fleet's --time-scale)"
            );
            let mut options = run.options(time_scale);
            options.metered_time_scale = metered_time_scale;
            up(options).await
        }
        LocalCommand::Demo { run, time_scale } => {
            let postoffice = std::env::current_exe()?;
            let demo = demo::run(run.options(time_scale), postoffice);
            tokio::select! {
                passed = demo => Ok(if passed? { ExitCode::SUCCESS } else { ExitCode::FAILURE }),
                _ = interrupted() => {
                    eprintln!("\ninterrupted: every process the demo started has been stopped");
                    Ok(ExitCode::from(130))
                }
            }
        }
        LocalCommand::Device(DeviceCommand::Add {
            household,
            device,
            run_dir,
        }) => device_add(&household, &device, run_dir).await,
        LocalCommand::User(UserCommand::Add {
            household,
            email,
            run_dir,
        }) => user_add(&household, &email, run_dir).await,
        LocalCommand::Factory {
            devices,
            prefix,
            concurrency,
            run_dir,
        } => factory(devices, &prefix, concurrency, run_dir).await,
        LocalCommand::Fleet(args) => fleet::run(args).await,
        LocalCommand::Alarms { run_dir } => alarms(run_dir).await,
    }
}

async fn up(options: Options) -> anyhow::Result<ExitCode> {
    let root = options.root.clone();
    let start = LocalPostOffice::start(options, |step| eprintln!("• {step}"));
    let mut post_office = tokio::select! {
        started = start => started?,
        _ = interrupted() => {
            eprintln!("\ninterrupted during start-up; everything started has been stopped");
            return Ok(ExitCode::from(130));
        }
    };
    post_office.write_tool_files()?;
    let latest = root.join(".run/latest");
    let _ = std::fs::remove_file(&latest);
    let _ = std::os::unix::fs::symlink(post_office.run_dir(), &latest);

    let times = &post_office.startup;
    println!(
        "The local post office is up (ready {:.1} s after the build; terraform apply {:.1} s). Ctrl-C stops it.",
        times.ready.as_secs_f64(),
        times.apply.as_secs_f64()
    );
    println!("  AWS endpoint (HTTPS)  {}", post_office.endpoints.aws);
    println!(
        "  IoT gateway (MQTT/TLS with client certificates)  {}",
        post_office.endpoints.mqtt
    );
    println!(
        "  CA of every local endpoint  {}",
        post_office.endpoints.ca_bundle.display()
    );
    println!("  run directory  {}", post_office.run_dir().display());
    for problem in post_office.problems() {
        println!("  not run locally: {problem}");
    }
    println!("Environment for postoffice and AWS tools against it (secrets inside, mode 0600):");
    println!(
        "  source {}",
        post_office
            .run_dir()
            .join(postoffice_local::TOOL_ENV_FILE)
            .display()
    );
    println!("Add a device:  postoffice local device add HOUSEHOLD DEVICE");
    println!("Add an app user:  postoffice local user add HOUSEHOLD EMAIL");
    println!(
        "  IoT gateway (MQTT over WebSocket, SigV4 presigned)  wss://{}/mqtt",
        post_office.endpoints.mqtt_websocket
    );
    let mut activity = post_office.activity();
    loop {
        tokio::select! {
            _ = interrupted() => {
                eprintln!("\nstopping the local post office");
                post_office.stop();
                return Ok(ExitCode::SUCCESS);
            }
            seen = activity.recv() => match seen {
                Ok(Activity::AlarmChanged { alarm, to, runbook, .. }) if to != "INSUFFICIENT_DATA" => {
                    println!("{to:>5} {alarm} → {}", runbook.unwrap_or_default());
                }
                Ok(Activity::Denied { principal, action, resource, explanation }) => {
                    println!("DENIED {principal} {action} {resource}: {explanation}");
                }
                Ok(Activity::DeliveryLost { topic, reason, .. }) => {
                    println!("LOST   a message of {topic}: {reason}");
                }
                _ => {}
            }
        }
    }
}

/// A running post office, as `up` described it.
pub(crate) struct Running {
    pub dir: PathBuf,
    pub mqtt: String,
    pub ca_bundle: PathBuf,
    /// The `mobile` output of the applied Terraform (user pool, app client, identity pool, ...).
    pub mobile: serde_json::Value,
    /// The `local up` process (absent from the files of older runs).
    pub pid: Option<u32>,
}

/// The post office running in `run_dir` (default `.run/latest`), with its tools' environment
/// (endpoint, CA bundle, administrator's credentials) set in this process.
pub(crate) fn running(run_dir: Option<PathBuf>) -> anyhow::Result<Running> {
    let dir = run_dir.unwrap_or_else(|| PathBuf::from(".run/latest"));
    let described = std::fs::read_to_string(dir.join(postoffice_local::RUNNING_FILE))
        .with_context(|| {
            format!(
                "no running post office in {} (start one with `postoffice local up`)",
                dir.display()
            )
        })?;
    let described: serde_json::Value = serde_json::from_str(&described)?;
    // The tools' environment: endpoint, CA bundle and the administrator's credentials.
    let env = std::fs::read_to_string(dir.join(postoffice_local::TOOL_ENV_FILE))?;
    for line in env.lines() {
        if let Some((key, value)) = line.trim_start_matches("export ").split_once('=') {
            // SAFETY: set before any other thread of this command starts reading the
            // environment (the SDK reads it when its configuration is loaded, after this).
            unsafe { std::env::set_var(key, value) };
        }
    }
    Ok(Running {
        mqtt: described["mqtt"].as_str().unwrap_or_default().to_owned(),
        ca_bundle: PathBuf::from(described["ca_bundle"].as_str().unwrap_or_default()),
        mobile: described["mobile"].clone(),
        pid: described["pid"]
            .as_u64()
            .and_then(|pid| u32::try_from(pid).ok()),
        dir,
    })
}

/// The IoT client of the running post office's administrator.
pub(crate) async fn iot_client() -> aws_sdk_iot::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    aws_sdk_iot::Client::new(&config)
}

/// The applied IoT policies a device's certificate gets: the device policy and the publish
/// policies.
pub(crate) async fn device_policies(iot: &aws_sdk_iot::Client) -> anyhow::Result<Vec<String>> {
    Ok(iot
        .list_policies()
        .send()
        .await
        .context("ListPolicies")?
        .policies
        .unwrap_or_default()
        .into_iter()
        .filter_map(|policy| policy.policy_name)
        .filter(|name| name.ends_with("-device") || name.contains("-device-publish-"))
        .collect())
}

/// Registers a device as onboarding would: a key and certificate from the factory CA, a thing
/// with the household attribute, the certificate attached to it and to `policies`.
pub(crate) async fn register_device(
    iot: &aws_sdk_iot::Client,
    factory: &postoffice_local::tls::LocalCa,
    running: &Running,
    household: &str,
    device: &str,
    policies: &[String],
) -> anyhow::Result<postoffice_local::iot::devices::DeviceCredentials> {
    postoffice_local::iot::devices::register(
        iot,
        factory,
        &postoffice_local::iot::devices::Registration {
            thing: device,
            attributes: &[("household", household)],
            policies,
        },
        &running.dir.join("devices"),
    )
    .await
}

/// The device factory CA of the running post office.
pub(crate) fn factory_ca(running: &Running) -> anyhow::Result<postoffice_local::tls::LocalCa> {
    postoffice_local::tls::LocalCa::load(&running.dir.join("tls/factory"))
}

async fn device_add(
    household: &str,
    device: &str,
    run_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let running = running(run_dir)?;
    let iot = iot_client().await;
    let policies = device_policies(&iot).await?;
    let factory = factory_ca(&running)?;
    let credentials =
        register_device(&iot, &factory, &running, household, device, &policies).await?;
    let (host, port) = running
        .mqtt
        .rsplit_once(':')
        .unwrap_or((&running.mqtt, "8883"));
    println!(
        "Registered {device} in household {household} (certificate {}).",
        credentials.certificate_id
    );
    println!("  certificate  {}", credentials.certificate_file.display());
    println!("  private key  {}", credentials.key_file.display());
    println!("  gateway CA   {}", running.ca_bundle.display());
    println!("  policies     {}", policies.join(", "));
    println!("Publish a cooking request as this device:");
    println!(
        "  mosquitto_pub -V mqttv5 -h {host} -p {port} --cafile {} --cert {} --key {} -i {device} -q 1 \\\n    -t COOKING_REQUESTED/{household}/{device} \\\n    -m '{{\"payload\":{{\"recipe_id\":\"sourdough-loaf\",\"program\":\"bake\",\"temperature_c\":230,\"duration_s\":2700}}}}'",
        running.ca_bundle.display(),
        credentials.certificate_file.display(),
        credentials.key_file.display(),
    );
    println!("Receive its replies:");
    println!(
        "  mosquitto_sub -V mqttv5 -h {host} -p {port} --cafile {} --cert {} --key {} -i {device} -q 1 -t '+/{household}/{device}'",
        running.ca_bundle.display(),
        credentials.certificate_file.display(),
        credentials.key_file.display(),
    );
    Ok(ExitCode::SUCCESS)
}

async fn user_add(
    household: &str,
    email: &str,
    run_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let running = running(run_dir)?;
    let pool = running.mobile["user_pool_id"]
        .as_str()
        .context(
            "the running post office describes no mobile user pool (restart it with this version)",
        )?
        .to_owned();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let user = postoffice_local::cognito::users::add(&idp, &pool, household, email).await?;
    // The password goes to stdout only: never to a log.
    println!("Created {} in household {household}.", user.email);
    println!("  email     {}", user.email);
    println!("  password  {}", user.password);
    println!(
        "  user pool {pool}, app client {}, identity pool {}, sign-in function {}",
        running.mobile["user_pool_client_id"]
            .as_str()
            .unwrap_or_default(),
        running.mobile["identity_pool_id"]
            .as_str()
            .unwrap_or_default(),
        running.mobile["sign_in_url"].as_str().unwrap_or_default(),
    );
    Ok(ExitCode::SUCCESS)
}

async fn factory(
    count: usize,
    prefix: &str,
    concurrency: usize,
    run_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(count >= 1, "--devices must be at least 1");
    anyhow::ensure!(concurrency >= 1, "--concurrency must be at least 1");
    let running = running(run_dir)?;
    let iot = iot_client().await;
    // The base device policy (`<prefix>-device`); the publish policies come with pairing.
    let policy = device_policies(&iot)
        .await?
        .into_iter()
        .find(|name| name.ends_with("-device"))
        .context("the running post office has no base device policy (ListPolicies found none ending in -device)")?;
    let factory = std::sync::Arc::new(factory_ca(&running)?);
    let dir = running.dir.join("devices");
    let batch = format!(
        "{prefix}-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = std::time::Instant::now();
    let mut manufacturing = tokio::task::JoinSet::new();
    for index in 0..count {
        let thing = format!("{batch}-{index}");
        let (iot, factory, dir, permits, policy) = (
            iot.clone(),
            factory.clone(),
            dir.clone(),
            permits.clone(),
            policy.clone(),
        );
        manufacturing.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            postoffice_local::iot::factory::manufacture(&iot, &factory, &thing, &policy, &dir)
                .await
                .with_context(|| format!("manufacturing {thing}"))
        });
    }
    let mut made = Vec::with_capacity(count);
    while let Some(done) = manufacturing.join_next().await {
        made.push(done??);
    }
    let elapsed = started.elapsed();
    made.sort_by(|a, b| a.credentials.thing.cmp(&b.credentials.thing));
    for appliance in made.iter().take(20) {
        println!(
            "{}  label {}",
            appliance.credentials.thing,
            appliance.label_file.display()
        );
    }
    if made.len() > 20 {
        println!("… and {} more in {}", made.len() - 20, dir.display());
    }
    println!(
        "Manufactured {count} appliances in {:.1} s ({:.0} per second, {concurrency} at once): registered in no household, able only to wait for their pairing.",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "Pair one: its household's app publishes DEVICE_PAIRING_REQUESTED/<household>/<thing> with {{\"payload\":{{\"pairing_code\":\"<label>\"}}}}."
    );
    Ok(ExitCode::SUCCESS)
}

async fn alarms(run_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let _running = running(run_dir)?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let mut pages = cloudwatch.describe_alarms().into_paginator().send();
    let mut firing = 0;
    while let Some(page) = pages.next().await {
        for alarm in page
            .context("DescribeAlarms")?
            .metric_alarms
            .unwrap_or_default()
        {
            let state = alarm
                .state_value
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            if state == "ALARM" {
                firing += 1;
            }
            let runbook =
                postoffice_local::cloudwatch::alarms::runbook(alarm.alarm_description.as_deref())
                    .unwrap_or_default();
            println!(
                "{state:<17} {} {runbook}",
                alarm.alarm_name.unwrap_or_default()
            );
        }
    }
    println!("{firing} alarm(s) in ALARM");
    Ok(if firing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
