//! `postoffice local fleet`: a simulated day of a fleet of households (an oven, and a phone with
//! the app when the profile has one) through a running local post office. The I/O adapter of
//! `postoffice-fleet`: registers the devices, runs each with the device library on its jittered
//! schedule, signs the phones in and opens their app sessions (`phones`), injects the outage,
//! samples counters and memory.

mod phones;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use postoffice::catalog::Catalog;
use postoffice_cost::measured::FLEET_RUNS_DIR;
use postoffice_cost::{FleetRun, Profile};
use postoffice_device::{
    CollectionPolicy, ConnectionState, Counters, Credentials, Device, DeviceConfig, DeviceError,
    Endpoint,
};
use postoffice_fleet::{
    DEVICE_ACTOR, DevicePlan, FleetDevice, HoldReport, IDLE_AFTER, Latencies, MOBILE_ACTOR, Memory,
    Outage, POLL_INTERVAL, PhonePlan, PhoneReport, REGISTRY_FILE, REPLY_DEADLINE, Registration,
    Report, Reuse, Settings, check_open_files, counters_since, device_schedule, hold_json,
    parse_duration, parse_load_average, parse_open_files_limit, parse_registry, phone_schedule,
    plan_registration, progress_line, render, render_hold, report_json,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::cost::event_routes;
use super::local::{self, Running};

#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// Devices to simulate: one oven in each of as many households.
    #[arg(long)]
    devices: usize,
    /// Usage profile: the device events and their rates per day.
    #[arg(long, default_value = "cost-profiles/kitchen-household.yaml")]
    profile: PathBuf,
    /// Simulated seconds per real second (1440: the day lasts a minute).
    #[arg(long, default_value_t = 1440.0, allow_negative_numbers = true)]
    time_scale: f64,
    /// Devices disconnect when idle and poll their persistent session, as the profile's
    /// `disconnect_when_idle` says (idle_after_s, poll_interval_s). Events the catalog allows to
    /// wait ride on the next session (each alone, or collected with --collections).
    #[arg(long)]
    idle_disconnect: bool,
    /// Events the catalog allows to wait (waits scaled like the day) travel in collections.
    #[arg(long)]
    collections: bool,
    /// Simulate the ovens only: no phone, even when the profile has a `mobile` actor.
    #[arg(long)]
    no_phones: bool,
    /// Every device loses its connection at this fraction of the day (0.5: noon).
    #[arg(long, requires = "outage_for", allow_negative_numbers = true)]
    outage_at: Option<f64>,
    /// How long connects fail after the outage starts, in real time (30s, 2m).
    #[arg(long, requires = "outage_at", value_parser = parse_duration)]
    outage_for: Option<Duration>,
    /// Connect every device, hold them connected and idle this long (60s, 5m), report the
    /// connect rate and memory per connection, and disconnect: no profile, no events.
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["idle_disconnect", "collections"])]
    hold: Option<Duration>,
    /// The devices' reconnect backoff doubles from 1 s up to this cap, with full jitter: after an
    /// outage every device is back within about one cap.
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    backoff_cap: Duration,
    /// Use only devices earlier fleet runs registered in the run directory (fleet/devices.tsv);
    /// without it they are reused first and the rest registered.
    #[arg(long)]
    reuse_only: bool,
    /// Registrations and connects in progress at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The running post office's directory [default: .run/latest].
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Print the report as JSON (progress goes to stderr either way).
    #[arg(long)]
    json: bool,
}

/// What the devices' tasks count while the day runs.
#[derive(Default)]
struct Tally {
    accepted: AtomicU64,
    not_accepted: AtomicU64,
    requests: AtomicU64,
    replies: Mutex<Latencies>,
}

impl Tally {
    fn replies(&self) -> usize {
        self.replies.lock().expect("replies lock").len()
    }
}

/// A registered device's identity and credentials.
struct Registered {
    household: String,
    device: String,
    certificate_pem: String,
    private_key_pem: String,
}

pub async fn run(args: FleetArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings {
        devices: args.devices,
        time_scale: args.time_scale,
        idle_disconnect: args.idle_disconnect,
        collections: args.collections,
        outage: args
            .outage_at
            .zip(args.outage_for)
            .map(|(at_fraction, duration)| Outage {
                at_fraction,
                duration,
            }),
        hold: args.hold,
        backoff_cap: args.backoff_cap,
    };
    settings.check()?;
    anyhow::ensure!(
        args.concurrency > 0,
        "--concurrency 0: at least one registration must run"
    );
    let catalog = Catalog::embedded();
    // A hold sends no events: it needs no profile.
    let profile = match settings.hold {
        Some(_) => None,
        None => Some(load_profile(&args.profile, catalog)?),
    };
    let plan = match &profile {
        Some(profile) => Arc::new(DevicePlan::from_profile(profile, catalog)?),
        None => Arc::new(DevicePlan { events: Vec::new() }),
    };
    let phone_plan = match &profile {
        Some(profile) if !args.no_phones => {
            PhonePlan::from_profile(profile, catalog, settings.idle_disconnect)?.map(Arc::new)
        }
        _ => None,
    };
    let running = local::running(args.run_dir.clone())?;
    check_open_files_limits(&running, settings.devices)?;
    let ca_pem = std::fs::read(&running.ca_bundle)
        .with_context(|| format!("reading the gateway CA {}", running.ca_bundle.display()))?;
    let endpoint = gateway_endpoint(&running)?;

    let reuse = if args.reuse_only {
        Reuse::Only
    } else {
        Reuse::ThenRegister
    };
    let (registered, registration) =
        fleet_devices(&running, settings.devices, reuse, args.concurrency).await?;
    eprintln!("{}", registration_line(&registration));

    let outboxes = running.dir.join("fleet").join(fleet_tag());
    let collections = collection_policy(&settings, catalog)?;
    let memory_before = (
        resident_bytes("self"),
        running.pid.and_then(post_office_rss),
    );
    // A hold has no profile: the simulator's idle defaults, and no run for `cost --measured`.
    let (idle_after, poll_interval) = profile
        .as_ref()
        .map_or((IDLE_AFTER, POLL_INTERVAL), idle_settings);
    let actors = simulated_actors(phone_plan.is_some());
    if let Some(profile) = &profile {
        record_run(&running, profile, &settings, &actors)?;
    }
    let households: Vec<(String, String)> = registered
        .iter()
        .map(|device| (device.household.clone(), device.device.clone()))
        .collect();
    let configs: Vec<DeviceConfig> = registered
        .into_iter()
        .map(|device| {
            let mut config = DeviceConfig::new(
                &device.household,
                &device.device,
                endpoint.clone(),
                Credentials {
                    certificate_pem: device.certificate_pem.into_bytes(),
                    private_key_pem: device.private_key_pem.into_bytes(),
                    ca_pem: ca_pem.clone(),
                },
                outboxes.join(&device.device),
            );
            if settings.idle_disconnect {
                config.idle_after = Some(settings.real(idle_after));
                config.poll_interval =
                    Some(settings.real(poll_interval).min(config.session_expiry));
            }
            if settings.collections {
                config.collections = collections.clone();
            } else if settings.idle_disconnect {
                // Readings that may wait ride on the sessions the device has anyway.
                config.collections = collections.clone().each_alone();
            }
            config.backoff.cap = settings.backoff_cap;
            config
        })
        .collect();
    let connecting = Instant::now();
    let devices = connect_fleet(configs, args.concurrency).await?;
    let connect_all = connecting.elapsed();
    eprintln!(
        "connected {} devices in {:.2} s",
        devices.len(),
        connect_all.as_secs_f64()
    );
    let late_replies = Arc::new(AtomicU64::new(0));
    let reply_events: Arc<Vec<String>> =
        Arc::new(plan.events.iter().filter_map(|e| e.reply.clone()).collect());
    let phone_requests = phones::PhoneRequests::default();
    for device in &devices {
        tokio::spawn(read_messages(
            device.clone(),
            reply_events.clone(),
            late_replies.clone(),
            phone_requests.clone(),
        ));
    }
    // Let the connections settle (TLS buffers, sessions) before measuring them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let memory_after = (
        resident_bytes("self"),
        running.pid.and_then(post_office_rss),
    );
    let memory = Memory {
        simulator: (memory_before.0, memory_after.0),
        post_office: memory_before.1.zip(memory_after.1),
    };
    let Some(profile) = profile else {
        let connected = Connected {
            devices,
            registration,
            connect_all,
            memory,
        };
        return hold(connected, settings, &outboxes, args.json).await;
    };

    let phones = match &phone_plan {
        Some(phone_plan) => {
            let signing_in = Instant::now();
            let phones =
                phones::sign_in(&running, &households, phone_plan, args.concurrency).await?;
            eprintln!(
                "signed in {} phones ({} app users created) in {:.1} s",
                phones.phones.len(),
                phones.users_created,
                signing_in.elapsed().as_secs_f64()
            );
            Some(phones)
        }
        None => None,
    };

    let tally = Arc::new(Tally::default());
    let phone_tally = Arc::new(Mutex::new(PhoneReport::default()));
    let day_started = Instant::now();
    let at_day_start = fleet_counters(&devices);
    let mut days = JoinSet::new();
    let mut rng = fastrand::Rng::new();
    for device in &devices {
        let schedule = device_schedule(&plan, settings.day(), &mut rng);
        days.spawn(live_day(
            device.clone(),
            plan.clone(),
            schedule,
            day_started,
            tally.clone(),
        ));
    }
    if let (Some(phones), Some(phone_plan)) = (&phones, &phone_plan) {
        let mut sessions_planned = 0;
        for phone in &phones.phones {
            let sessions = phone_schedule(phone_plan, settings.day(), &mut rng);
            sessions_planned += sessions.len() as u64;
            days.spawn(phones::phone_day(
                phones.app.clone(),
                phone.clone(),
                phone_plan.clone(),
                sessions,
                day_started,
                phone_tally.clone(),
                phone_requests.clone(),
            ));
        }
        let mut tally = phone_tally.lock().expect("phone tally");
        tally.phones = phones.phones.len();
        tally.users_created = phones.users_created;
        tally.sessions_planned = sessions_planned;
        tally.profile_hours_per_day =
            expected_hours(&profile, &settings, &actors, MOBILE_ACTOR).unwrap_or_default();
    }
    let outage = settings.outage.map(|outage| {
        let start = day_started + settings.outage_start().unwrap_or_default();
        tokio::spawn(injected_outage(devices.clone(), outage, start))
    });
    let progress = tokio::spawn(show_progress(
        devices.clone(),
        settings.clone(),
        tally.clone(),
        day_started,
    ));
    while let Some(finished) = days.join_next().await {
        finished?;
    }
    let herd_reconnect = match outage {
        Some(outage) => outage.await?,
        None => None,
    };
    drain(&devices).await;
    progress.abort();
    let day_elapsed = day_started.elapsed();
    let totals = fleet_counters(&devices);
    let report = Report {
        profile: profile.name.clone(),
        registration,
        connect_all,
        herd_reconnect,
        day_elapsed,
        day: counters_since(&totals, &at_day_start),
        totals,
        events_accepted: tally.accepted.load(Ordering::Relaxed),
        events_not_accepted: tally.not_accepted.load(Ordering::Relaxed),
        requests: tally.requests.load(Ordering::Relaxed),
        replies: tally.replies.lock().expect("replies lock").clone(),
        late_replies: late_replies.load(Ordering::Relaxed),
        memory,
        profile_hours_per_day: expected_hours(&profile, &settings, &actors, DEVICE_ACTOR),
        load_average: load_average(),
        phones: phones
            .is_some()
            .then(|| phone_tally.lock().expect("phone tally").clone()),
        settings,
    };
    if args.json {
        println!("{:#}", report_json(&report));
    } else {
        print!("{}", render(&report));
    }
    close_fleet(devices).await;
    let phones_failed = report.phones.as_ref().is_some_and(|phones| {
        phones.lost() != 0 || phones.not_accepted > 0 || phones.connect_failures > 0
    });
    if phones_failed {
        eprintln!("phones: a request was not sent or not answered, or an app could not connect");
    }
    if report.events_lost() == 0 {
        let _ = std::fs::remove_dir_all(&outboxes);
    } else {
        eprintln!("events lost: their outboxes stay in {}", outboxes.display());
    }
    Ok(if report.events_lost() == 0 && !phones_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn load_profile(path: &Path, catalog: &Catalog) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the profile {}", path.display()))?;
    Ok(Profile::from_yaml(
        &text,
        &path.display().to_string(),
        &event_routes(catalog),
    )?)
}

/// The gateway as a device reaches it: `localhost`, a name its certificate carries.
fn gateway_endpoint(running: &Running) -> anyhow::Result<Endpoint> {
    let port = running
        .mqtt
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .with_context(|| {
            format!(
                "running.json of {} names no MQTT gateway port (mqtt: {:?})",
                running.dir.display(),
                running.mqtt
            )
        })?;
    Ok(Endpoint::new("localhost", port))
}

/// Unique per run: things of an earlier run against the same post office keep their names.
fn fleet_tag() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("f{seconds:x}")
}

/// The fleet's devices: the first ones earlier runs registered in this run directory
/// (`fleet/devices.tsv`), then as many new ones as are missing, each recorded there once
/// registered.
async fn fleet_devices(
    running: &Running,
    count: usize,
    reuse: Reuse,
    concurrency: usize,
) -> anyhow::Result<(Vec<Registered>, Registration)> {
    let registry = running.dir.join(REGISTRY_FILE);
    let source = registry.display().to_string();
    let known = match std::fs::read_to_string(&registry) {
        Ok(text) => parse_registry(&text, &source)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error).with_context(|| format!("reading {source}")),
    };
    let plan = plan_registration(count, known.len(), reuse, &source)?;
    if let Some(last) = plan.reuse.checked_sub(1).and_then(|last| known.get(last)) {
        check_still_registered(&last.device, &source).await?;
    }
    let mut fleet = known
        .into_iter()
        .take(plan.reuse)
        .map(|device| load_registered(running, device))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    if plan.register > 0 {
        fleet.extend(register_fleet(running, plan.register, concurrency, &registry).await?);
    }
    let registration = Registration {
        registered: plan.register,
        reused: plan.reuse,
        elapsed: if plan.register > 0 {
            started.elapsed()
        } else {
            Duration::ZERO
        },
        concurrency,
    };
    Ok((fleet, registration))
}

/// The registry outlives the post office's control plane (moto keeps it in memory): a device
/// it lists must still be a thing, or the post office was restarted in this run directory.
async fn check_still_registered(device: &str, source: &str) -> anyhow::Result<()> {
    let iot = local::iot_client().await;
    match iot.describe_thing().thing_name(device).send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            anyhow::bail!(
                "{source} lists {device}, which the running post office does not know (was it \
                 restarted?): delete {source} to register the fleet again"
            )
        }
        Err(error) => Err(error).context("DescribeThing"),
    }
}

/// A device an earlier run registered, with the credentials its registration wrote.
fn load_registered(running: &Running, device: FleetDevice) -> anyhow::Result<Registered> {
    let read = |extension: &str| {
        let path = running
            .dir
            .join("devices")
            .join(format!("{}.{extension}", device.device));
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} lists {} but {} is unreadable",
                REGISTRY_FILE,
                device.device,
                path.display()
            )
        })
    };
    Ok(Registered {
        certificate_pem: read("pem")?,
        private_key_pem: read("key")?,
        household: device.household,
        device: device.device,
    })
}

fn registration_line(registration: &Registration) -> String {
    format!(
        "registered {} devices in {:.1} s, reused {}",
        registration.registered,
        registration.elapsed.as_secs_f64(),
        registration.reused
    )
}

/// Registers `count` devices, `concurrency` at a time, as `count` households of one oven each,
/// appending each to the registry once registered.
async fn register_fleet(
    running: &Running,
    count: usize,
    concurrency: usize,
    registry: &Path,
) -> anyhow::Result<Vec<Registered>> {
    let iot = local::iot_client().await;
    let policies = Arc::new(local::device_policies(&iot).await?);
    anyhow::ensure!(
        !policies.is_empty(),
        "the running post office has no device IoT policies (ListPolicies found none ending in -device)"
    );
    let factory = Arc::new(local::factory_ca(running)?);
    let running = Arc::new(Running {
        dir: running.dir.clone(),
        mqtt: running.mqtt.clone(),
        ca_bundle: running.ca_bundle.clone(),
        mobile: running.mobile.clone(),
        pid: running.pid,
    });
    if let Some(dir) = registry.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut recorded = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(registry)
        .with_context(|| format!("opening {}", registry.display()))?;
    let tag = fleet_tag();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut registrations = JoinSet::new();
    for index in 0..count {
        let household = format!("{tag}-h{index}");
        let device = format!("{tag}-oven{index}");
        let (iot, factory, running, policies, permits) = (
            iot.clone(),
            factory.clone(),
            running.clone(),
            policies.clone(),
            permits.clone(),
        );
        registrations.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let credentials =
                local::register_device(&iot, &factory, &running, &household, &device, &policies)
                    .await
                    .with_context(|| format!("registering {device}"))?;
            anyhow::Ok(Registered {
                household,
                device,
                certificate_pem: credentials.certificate.certificate_pem,
                private_key_pem: credentials.certificate.private_key_pem,
            })
        });
    }
    let mut registered = Vec::with_capacity(count);
    let mut last_shown = Instant::now();
    while let Some(done) = registrations.join_next().await {
        let device = done??;
        let line = FleetDevice {
            device: device.device.clone(),
            household: device.household.clone(),
        }
        .line();
        recorded
            .write_all(line.as_bytes())
            .with_context(|| format!("recording {} in {}", device.device, registry.display()))?;
        registered.push(device);
        if last_shown.elapsed() >= Duration::from_secs(1) {
            eprintln!("registering: {}/{count}", registered.len());
            last_shown = Instant::now();
        }
    }
    Ok(registered)
}

/// Raises this process's open-files limit to its hard limit and checks that `devices`
/// connections fit under it, and under the post office's: each holds one descriptor on each side.
fn check_open_files_limits(running: &Running, devices: usize) -> anyhow::Result<()> {
    let limit = postoffice_local::process::raise_open_files_limit()
        .context("reading this process's open-files limit (RLIMIT_NOFILE)")?;
    check_open_files("the simulator", devices, open_files("self"), limit)?;
    if let Some(pid) = running.pid
        && let Some(limit) = std::fs::read_to_string(format!("/proc/{pid}/limits"))
            .ok()
            .as_deref()
            .and_then(parse_open_files_limit)
    {
        check_open_files(
            &format!("the post office (pid {pid})"),
            devices,
            open_files(&pid.to_string()),
            limit,
        )?;
    }
    Ok(())
}

/// Descriptors a process (`self` or a pid) holds open; 0 when unreadable.
fn open_files(process: &str) -> u64 {
    std::fs::read_dir(format!("/proc/{process}/fd")).map_or(0, |entries| entries.count() as u64)
}

fn load_average() -> Option<[f64; 3]> {
    parse_load_average(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// A fleet connected, with what it took.
struct Connected {
    devices: Vec<Arc<Device>>,
    registration: Registration,
    connect_all: Duration,
    memory: Memory,
}

/// The idle hold: every device stays connected (keep-alives only) for the hold, through the
/// outage if there is one; then they disconnect cleanly.
async fn hold(
    connected: Connected,
    settings: Settings,
    outboxes: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Connected {
        devices,
        registration,
        connect_all,
        memory,
    } = connected;
    let load_connected = load_average();
    let at_start = fleet_counters(&devices);
    let started = Instant::now();
    let outage = settings.outage.map(|outage| {
        let start = started + settings.outage_start().unwrap_or_default();
        tokio::spawn(injected_outage(devices.clone(), outage, start))
    });
    let progress = tokio::spawn(show_hold_progress(devices.clone(), started));
    tokio::time::sleep(settings.span()).await;
    let herd_reconnect = match outage {
        Some(outage) => outage.await?,
        None => None,
    };
    progress.abort();
    let held = started.elapsed();
    let connected_at_end = connected_count(&devices);
    let lost = counters_since(&fleet_counters(&devices), &at_start).error_disconnects;
    let report = HoldReport {
        registration,
        connect_all,
        held,
        connected_at_end,
        connections_lost: lost,
        herd_reconnect,
        memory,
        load_connected,
        load_end: load_average(),
        settings,
    };
    if json {
        println!("{:#}", hold_json(&report));
    } else {
        print!("{}", render_hold(&report));
    }
    close_fleet(devices).await;
    let _ = std::fs::remove_dir_all(outboxes);
    Ok(if report.held_every_connection() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the catalog allows to wait in collections, the waits scaled like the day.
fn collection_policy(settings: &Settings, catalog: &Catalog) -> anyhow::Result<CollectionPolicy> {
    let allowed = CollectionPolicy::from_catalog(catalog);
    let mut scaled = CollectionPolicy::new();
    for event in catalog.collectable_events() {
        if let Some(wait) = allowed.max_wait(&event.name) {
            scaled = scaled.collect(&event.name, settings.real(wait))?;
        }
    }
    Ok(scaled)
}

/// How long a device may take to connect, its retries included.
const CONNECT_PATIENCE: Duration = Duration::from_secs(120);

/// Starts and connects every device, `concurrency` at a time: an always-connected device
/// connects as soon as it starts, so starting them all at once would be a herd of its own.
async fn connect_fleet(
    configs: Vec<DeviceConfig>,
    concurrency: usize,
) -> anyhow::Result<Vec<Arc<Device>>> {
    let started = Instant::now();
    let count = configs.len();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut connects = JoinSet::new();
    for config in configs {
        let permits = permits.clone();
        connects.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let device = Arc::new(Device::start(config)?);
            if device.connect().await.is_err() {
                // A failed attempt is retried by the device itself, through its backoff.
                let mut states = device.connection_states();
                let connected = states.wait_for(|state| *state == ConnectionState::Connected);
                tokio::time::timeout(CONNECT_PATIENCE, connected)
                    .await
                    .map(|_| ())
                    .with_context(|| {
                        format!(
                            "{} did not connect within {} s",
                            device.device_id(),
                            CONNECT_PATIENCE.as_secs()
                        )
                    })?;
            }
            anyhow::Ok(device)
        });
    }
    let mut devices = Vec::with_capacity(count);
    let mut last_shown = Instant::now();
    while let Some(connected) = connects.join_next().await {
        devices.push(connected??);
        if last_shown.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "connecting: {}/{count} ({:.1} s)",
                devices.len(),
                started.elapsed().as_secs_f64()
            );
            last_shown = Instant::now();
        }
    }
    Ok(devices)
}

/// One device's day: each scheduled event at its time; requests wait for their reply apart.
async fn live_day(
    device: Arc<Device>,
    plan: Arc<DevicePlan>,
    schedule: Vec<postoffice_fleet::Scheduled>,
    day_started: Instant,
    tally: Arc<Tally>,
) {
    let mut requests = JoinSet::new();
    for scheduled in schedule {
        tokio::time::sleep_until((day_started + scheduled.at).into()).await;
        let event = &plan.events[scheduled.event];
        match &event.reply {
            None => match device.publish(&event.event, event.payload.clone()).await {
                Ok(_receipt) => tally.accepted.fetch_add(1, Ordering::Relaxed),
                Err(_) => tally.not_accepted.fetch_add(1, Ordering::Relaxed),
            },
            Some(reply) => {
                tally.requests.fetch_add(1, Ordering::Relaxed);
                requests.spawn(request(
                    device.clone(),
                    event.event.clone(),
                    event.payload.clone(),
                    reply.clone(),
                    tally.clone(),
                ));
                0
            }
        };
    }
    requests.join_all().await;
}

async fn request(
    device: Arc<Device>,
    event: String,
    payload: serde_json::Value,
    reply: String,
    tally: Arc<Tally>,
) {
    let sent = Instant::now();
    let answer = device
        .request(&event, payload, &reply, sent + REPLY_DEADLINE)
        .await;
    let counter = match answer {
        Ok(_) => {
            tally
                .replies
                .lock()
                .expect("replies lock")
                .record(sent.elapsed());
            &tally.accepted
        }
        Err(DeviceError::DeadlineExceeded { .. }) => &tally.accepted,
        Err(_) => &tally.not_accepted,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Takes (and so acknowledges) what the backend sends a device besides replies in time (an
/// unread message would keep the device from going idle), counting replies come too late. The
/// replies to the household phone's requests come to the oven too (its topics): not its own.
async fn read_messages(
    device: Arc<Device>,
    reply_events: Arc<Vec<String>>,
    late_replies: Arc<AtomicU64>,
    phone_requests: phones::PhoneRequests,
) {
    let Some(mut messages) = device.messages() else {
        return;
    };
    drop(device);
    while let Some(message) = messages.next().await {
        let envelope = &message.envelope;
        if reply_events.contains(&envelope.event)
            && !phone_requests
                .lock()
                .expect("phone requests")
                .contains(&envelope.correlation_id)
        {
            late_replies.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Every device loses its connection at `start`; connects fail for the outage's duration.
/// Returns how long after the outage the last device connected at its start had reconnected.
async fn injected_outage(
    devices: Vec<Arc<Device>>,
    outage: Outage,
    start: Instant,
) -> Option<Duration> {
    tokio::time::sleep_until(start.into()).await;
    let connected: Vec<(Arc<Device>, u64)> = devices
        .iter()
        .filter(|device| device.connection_state() == ConnectionState::Connected)
        .map(|device| (device.clone(), device.counters().connects))
        .collect();
    for device in &devices {
        let _ = device.lose_connection(outage.duration);
    }
    eprintln!(
        "outage: {} devices dropped ({} connected), connects fail for {:.1} s",
        devices.len(),
        connected.len(),
        outage.duration.as_secs_f64()
    );
    let ended = start + outage.duration;
    tokio::time::sleep_until(ended.into()).await;
    let give_up = ended + Duration::from_secs(600);
    while Instant::now() < give_up {
        let back = connected
            .iter()
            .all(|(device, connects)| device.counters().connects > *connects);
        if back {
            return Some(ended.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn show_hold_progress(devices: Vec<Arc<Device>>, started: Instant) {
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        ticks.tick().await;
        eprintln!(
            "{:>6.1} s held  connected {}/{}",
            started.elapsed().as_secs_f64(),
            connected_count(&devices),
            devices.len()
        );
    }
}

fn connected_count(devices: &[Arc<Device>]) -> usize {
    devices
        .iter()
        .filter(|device| device.connection_state() == ConnectionState::Connected)
        .count()
}

async fn show_progress(
    devices: Vec<Arc<Device>>,
    settings: Settings,
    tally: Arc<Tally>,
    day_started: Instant,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let connected = connected_count(&devices);
        eprintln!(
            "{}",
            progress_line(
                day_started.elapsed(),
                &settings,
                connected,
                tally.accepted.load(Ordering::Relaxed),
                tally.replies(),
                &fleet_counters(&devices),
            )
        );
    }
}

/// Waits (at most 30 s) until every outbox is empty: what remains after counts as pending.
async fn drain(devices: &[Arc<Device>]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet_counters(devices).outbox_depth > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn close_fleet(devices: Vec<Arc<Device>>) {
    let mut closing = JoinSet::new();
    for device in devices {
        if let Some(device) = Arc::into_inner(device) {
            closing.spawn(device.close(Duration::from_secs(2)));
        }
    }
    closing.join_all().await;
}

fn fleet_counters(devices: &[Arc<Device>]) -> Counters {
    let mut fleet = Counters::default();
    for device in devices {
        fleet += device.counters();
    }
    fleet
}

/// Connected hours per `actor` per day the model gives for this run's scenario.
fn expected_hours(
    profile: &Profile,
    settings: &Settings,
    actors: &[String],
    actor: &str,
) -> Option<f64> {
    let plans = postoffice_cost::actor_plans(
        profile,
        &event_routes(Catalog::embedded()),
        fleet_record(profile, settings, actors).scenario(),
    );
    Some(plans.get(actor)?.minutes_per_day / 60.0)
}

/// How an idle-disconnecting device behaves (simulated time): the profile's device settings,
/// else the simulator's defaults.
fn idle_settings(profile: &Profile) -> (Duration, Duration) {
    let idle = profile
        .actors
        .get(DEVICE_ACTOR)
        .and_then(|actor| actor.connection.disconnect_when_idle.form());
    match idle {
        Some(postoffice_cost::Idle::Derived {
            idle_after_s,
            poll_interval_s,
        }) => (
            Duration::from_secs_f64(idle_after_s),
            Duration::from_secs_f64(poll_interval_s),
        ),
        _ => (IDLE_AFTER, POLL_INTERVAL),
    }
}

/// The profile's actor kinds this run simulates: the oven, and the phone unless left out.
fn simulated_actors(phones: bool) -> Vec<String> {
    let mut actors = vec![DEVICE_ACTOR.to_owned()];
    if phones {
        actors.push(MOBILE_ACTOR.to_owned());
    }
    actors
}

fn fleet_record(profile: &Profile, settings: &Settings, actors: &[String]) -> FleetRun {
    FleetRun {
        profile: profile.name.clone(),
        households: settings.devices as u64,
        actors: actors.to_vec(),
        time_scale: settings.time_scale,
        days: 1.0,
        idle_disconnect: settings.idle_disconnect,
        collections: settings.collections,
    }
}

/// Records what this run simulates in the post office's run directory, for `cost --measured`.
fn record_run(
    running: &Running,
    profile: &Profile,
    settings: &Settings,
    actors: &[String],
) -> anyhow::Result<()> {
    let dir = running.dir.join(FLEET_RUNS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}.json", fleet_tag()));
    let record = serde_json::to_string_pretty(&fleet_record(profile, settings, actors))?;
    std::fs::write(&path, record).with_context(|| format!("writing {}", path.display()))
}

/// The local post office's resident memory, when the process is still there.
fn post_office_rss(pid: u32) -> Option<u64> {
    Some(resident_bytes(&pid.to_string())).filter(|bytes| *bytes > 0)
}

/// Resident memory of a process (`self` or a pid) from /proc; 0 when unreadable.
fn resident_bytes(process: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kilobytes| kilobytes * 1024)
}
