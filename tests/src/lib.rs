//! The end-to-end harness: one real local post office per test binary (provisioned by the
//! project's Terraform: moto, the local AWS endpoint, the Lambdas, the IoT gateway), started once
//! on its own runtime and shared by the binary's tests, which keep to their own households.
//! Every process is killed when the binary exits (`atexit`), also after a failed test.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use postoffice::Envelope;
use postoffice::sns::SnsMessage;
use postoffice_local::activity::Activity;
use postoffice_local::device::SimulatedDevice;
use postoffice_local::iot::devices::DeviceCredentials;
use postoffice_local::{LocalPostOffice, Options};
use serde_json::Value;
use tokio::sync::broadcast;

pub use postoffice_local::device::device_message;

pub mod load;

/// Delivery policy delays run at 1/100 of the configured ones.
pub const TIME_SCALE: f64 = 0.01;
/// How long any single expected thing may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(30);

struct Shared {
    // Owns the post office's background tasks; never dropped (statics are not).
    runtime: tokio::runtime::Runtime,
    post_office: LocalPostOffice,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// The post office of this test binary, started on first use.
pub fn post_office() -> &'static LocalPostOffice {
    let shared = SHARED.get_or_init(|| {
        let name = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "e2e".to_owned());
        let runs = repository_root().join("target/postoffice-e2e");
        remove_earlier_runs(&runs, &name);
        let mut options = Options::new(repository_root());
        options.run_dir = Some(
            repository_root()
                .join("target/postoffice-e2e")
                .join(format!(
                    "{name}-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis())
                        .unwrap_or_default()
                )),
        );
        options.time_scale = TIME_SCALE;
        // Started from a plain thread: tests may call this from inside their own runtime.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            let started = Instant::now();
            let post_office = runtime
                .block_on(LocalPostOffice::start(options, |step| {
                    eprintln!("[post office] {step}")
                }))
                .map_err(|error| format!("the local post office did not start: {error:#}"))?;
            post_office
                .write_tool_files()
                .map_err(|error| format!("describing the post office for tools: {error:#}"))?;
            eprintln!(
                "[post office] up in {:.1} s, run directory {}",
                started.elapsed().as_secs_f64(),
                post_office.run_dir().display()
            );
            Ok(Shared {
                runtime,
                post_office,
            })
        })
        .join()
        .unwrap_or_else(|_| Err("starting the local post office panicked".to_owned()))
    });
    match shared {
        Ok(shared) => &shared.post_office,
        Err(error) => panic!("{error}"),
    }
}

/// Each run directory holds a copy of every Lambda package (about 1 GB in debug builds): keep
/// only this binary's newest.
fn remove_earlier_runs(runs: &Path, binary: &str) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    let prefix = format!("{binary}-");
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One change to a file of the project's Terraform: `find` (which must occur) becomes `replace`.
pub struct Edit {
    pub file: &'static str,
    pub find: &'static str,
    pub replace: String,
}

impl Edit {
    pub fn new(file: &'static str, find: &'static str, replace: impl Into<String>) -> Self {
        Self {
            file,
            find,
            replace: replace.into(),
        }
    }
}

/// How the kitchen consumer is deployed: the consumer module's `bridge.mode` and `compute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KitchenDeployment {
    /// As the project has it: a bridge Lambda invokes the handler Lambda.
    SeparateBridge,
    /// `bridge = { mode = "embedded" }`: the handler Lambda is its own SNS endpoint.
    EmbeddedBridge,
    /// `compute = "container"`: `example-kitchen-service` on ECS behind a load balancer.
    Container,
}

/// The HTTPS address SNS delivers to when the kitchen is a container: a name that would point at
/// its load balancer in AWS.
pub const KITCHEN_SERVICE_URL: &str = "https://kitchen.events.postoffice.test/sns";

impl KitchenDeployment {
    pub const ALL: [KitchenDeployment; 3] = [
        KitchenDeployment::SeparateBridge,
        KitchenDeployment::EmbeddedBridge,
        KitchenDeployment::Container,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            KitchenDeployment::SeparateBridge => "separate bridge",
            KitchenDeployment::EmbeddedBridge => "embedded bridge",
            KitchenDeployment::Container => "container",
        }
    }

    /// The edits of the project's Terraform that deploy the kitchen this way; a container takes
    /// its recipes and its listener's certificate from `files` ([`container_files`]).
    pub fn edits(&self, files: &Path) -> Vec<Edit> {
        const KITCHEN_BRIDGE: &str = "  bridge   = local.kitchen_bridge\n";
        match self {
            KitchenDeployment::SeparateBridge => Vec::new(),
            KitchenDeployment::EmbeddedBridge => vec![Edit::new(
                "examples/complete/consumers.tf",
                KITCHEN_BRIDGE,
                "  bridge   = { mode = \"embedded\" }\n",
            )],
            // In the default VPC moto provides, with the endpoint's certificate imported into ACM.
            KitchenDeployment::Container => vec![
                Edit::new(
                    "examples/complete/consumers.tf",
                    "module \"kitchen\" {\n",
                    format!(
                        "data \"aws_vpc\" \"default\" {{\n  default = true\n}}\n\n\
                         data \"aws_subnets\" \"default\" {{\n  filter {{\n    name   = \"vpc-id\"\n    values = [data.aws_vpc.default.id]\n  }}\n}}\n\n\
                         resource \"aws_acm_certificate\" \"kitchen\" {{\n  \
                           certificate_body  = file(\"{dir}/kitchen.pem\")\n  \
                           private_key       = file(\"{dir}/kitchen.key\")\n  \
                           certificate_chain = file(\"{dir}/ca.pem\")\n\
                         }}\n\n\
                         module \"kitchen\" {{\n",
                        dir = files.display()
                    ),
                ),
                Edit::new(
                    "examples/complete/consumers.tf",
                    "  kitchen_container = var.kitchen_container\n",
                    format!(
                        "  kitchen_container = {{\n    \
                           image        = \"example-kitchen-service:local\"\n    \
                           endpoint_url = \"{KITCHEN_SERVICE_URL}\"\n    \
                           vpc_id       = data.aws_vpc.default.id\n    \
                           subnet_ids   = data.aws_subnets.default.ids\n    \
                           load_balancer = {{\n      \
                             subnet_ids          = data.aws_subnets.default.ids\n      \
                             certificate_arn     = aws_acm_certificate.kitchen.arn\n      \
                             deletion_protection = false\n    \
                           }}\n  \
                         }}\n",
                    ),
                ),
                Edit::new(
                    "examples/complete/consumers.tf",
                    "  handler = { zip = local.kitchen_container == null ? \"${var.lambda_zips}/example-kitchen/bootstrap.zip\" : null }\n",
                    format!(
                        "  handler = {{ environment = {{ KITCHEN_RECIPES_DIR = \"{}\" }} }}\n",
                        files.join("recipes").display()
                    ),
                ),
            ],
        }
    }
}

/// A copy of the project's Terraform with `edits` made.
pub fn edited_terraform(edits: &[Edit]) -> anyhow::Result<tempfile::TempDir> {
    let copy = tempfile::tempdir()?;
    let terraform = repository_root().join("terraform");
    postoffice_local::terraform::copy_modules(&terraform, copy.path())?;
    for edit in edits {
        let path = copy.path().join(edit.file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if !text.contains(edit.find) {
            bail!("{} does not contain {:?}", edit.file, edit.find);
        }
        std::fs::write(&path, text.replace(edit.find, &edit.replace))?;
    }
    Ok(copy)
}

/// What a kitchen deployed as a container takes from `dir`: a copy of the recipe library
/// (`recipes/`, returned; its image would carry it) and its endpoint's certificate, issued by
/// `post_office`'s CA for [`KITCHEN_SERVICE_URL`]'s host (`kitchen.pem`, `kitchen.key`,
/// `ca.pem`), which ACM must hold for the load balancer's HTTPS listener.
pub fn container_files(post_office: &LocalPostOffice, dir: &Path) -> anyhow::Result<PathBuf> {
    let tls = post_office.run_dir().join("tls");
    let ca = postoffice_local::tls::LocalCa::load(&tls)?;
    let host = KITCHEN_SERVICE_URL
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default();
    let issued = ca.issue_server(&[host])?;
    std::fs::write(dir.join("kitchen.pem"), &issued.certificate_pem)?;
    postoffice_local::tls::write_secret(&dir.join("kitchen.key"), &issued.private_key_pem)?;
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem())?;
    let recipes = dir.join("recipes");
    std::fs::create_dir_all(&recipes)?;
    for entry in std::fs::read_dir(repository_root().join("lambdas/example-kitchen/recipes"))? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, recipes.join(name))?;
        }
    }
    Ok(recipes)
}

/// Applies `terraform` to the running post office, on the post office's own runtime (the
/// runtime the tasks it starts must outlive a test's).
async fn reapply(terraform: PathBuf) -> anyhow::Result<()> {
    post_office();
    let Some(Ok(shared)) = SHARED.get() else {
        bail!("the local post office is not running")
    };
    shared
        .runtime
        .spawn(async move { post_office().reapply(&terraform).await })
        .await?
}

/// Applies a copy of the project's Terraform with `edits` made, runs `check` against what it
/// provisions, then applies the project's Terraform again, whatever `check` found. The apply of
/// the copy is `check`'s first step: its error (a refused apply) is passed to `check`.
pub async fn with_terraform_changed<T, F, Fut>(edits: &[Edit], check: F) -> anyhow::Result<T>
where
    F: FnOnce(anyhow::Result<()>) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let copy = edited_terraform(edits)?;
    let terraform = repository_root().join("terraform");
    let started = Instant::now();
    let applied = reapply(copy.path().to_owned()).await;
    eprintln!(
        "[terraform] changed copy applied in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let outcome = check(applied).await;
    let started = Instant::now();
    reapply(terraform)
        .await
        .context("re-applying the project's Terraform")?;
    eprintln!(
        "[terraform] project's Terraform re-applied in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    outcome
}

/// Runs a test body on a fresh runtime.
pub fn run<F: Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test)
}

/// A name no other test (or earlier run) uses: households and device ids must be unique, since
/// MQTT client ids are global to the broker.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Registers a device in a new household (a thing with the household attribute, a certificate
/// with the device policies attached) and connects it.
pub async fn household_with_device(
    household_prefix: &str,
) -> anyhow::Result<(SimulatedDevice, DeviceCredentials)> {
    let post_office = post_office();
    let household = unique(household_prefix);
    let credentials = post_office
        .register_device(&unique("oven"), Some(&household))
        .await?;
    let device = post_office.connect_device(&credentials, &household).await?;
    Ok((device, credentials))
}

/// Takes the kitchen's recipe store away until dropped: the kitchen then fails every recipe
/// request as a retryable outage.
pub struct RecipeStoreOutage {
    store: PathBuf,
    parked: PathBuf,
}

impl RecipeStoreOutage {
    pub fn begin() -> Self {
        let post_office = post_office();
        let task_root = post_office
            .task_root(&format!("{}-kitchen-handler", post_office.options.prefix))
            .expect("the kitchen handler's code is extracted");
        // Packaged in the function's zip (`recipes/`), as in AWS.
        let store = task_root.join("recipes");
        let parked = task_root.join("recipes.unavailable");
        std::fs::rename(&store, &parked).expect("taking the recipe store away");
        Self { store, parked }
    }
}

impl Drop for RecipeStoreOutage {
    fn drop(&mut self) {
        std::fs::rename(&self.parked, &self.store).expect("restoring the recipe store");
    }
}

/// The bridge function of a consumer, the endpoint its deliveries are recorded under.
pub fn bridge_of(consumer: &str) -> String {
    format!("{}-{consumer}-bridge", post_office().options.prefix)
}

/// The URL of a consumer's dead-letter queue (`{prefix}-{consumer}-dlq`).
pub fn dead_letter_queue(consumer: &str) -> Option<String> {
    let post_office = post_office();
    post_office.queue_url(&format!("{}-{consumer}-dlq", post_office.options.prefix))
}

/// The `postoffice` binary, built by `make e2e` before the tests.
pub fn postoffice_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/debug/deps/<test> → target/debug/postoffice
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("postoffice"))
        .expect("the test binary lives in target/<profile>/deps");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build -p postoffice-cli`, done by `make e2e`)",
        binary.display()
    );
    binary
}

/// Runs `postoffice ARGS` against the post office; (success, stdout + stderr).
pub async fn postoffice_command(args: &[&str]) -> anyhow::Result<(bool, String)> {
    let output = tokio::process::Command::new(postoffice_binary())
        // Where a user runs it: the defaults (profiles, price file) are relative to the root.
        .current_dir(repository_root())
        .args(args)
        .envs(post_office().tool_env())
        .output()
        .await?;
    Ok((
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

/// Polls `probe` until it yields a value, failing with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {} ms waiting for {what}",
            timeout.as_millis()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The envelope of a received MQTT message or stored line.
pub fn envelope(payload: &[u8]) -> anyhow::Result<Envelope> {
    Ok(Envelope::from_json(payload)?)
}

/// One message of a dead-letter queue, decoded.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub sqs_message_id: String,
    pub sns: SnsMessage,
    pub envelope: Envelope,
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// Every message currently in `queue_url`, read without consuming them (visibility timeout 0).
pub async fn peek_queue(queue_url: &str) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
    let sqs = post_office().control_plane().sqs.clone();
    let mut seen = std::collections::BTreeMap::new();
    let mut quiet_rounds = 0;
    while quiet_rounds < 3 {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .send()
            .await?;
        let before = seen.len();
        for message in output.messages.unwrap_or_default() {
            if let Some(id) = message.message_id.clone() {
                seen.entry(id).or_insert(message);
            }
        }
        if seen.len() == before {
            quiet_rounds += 1;
        } else {
            quiet_rounds = 0;
        }
    }
    Ok(seen.into_values().collect())
}

/// The consumer's dead-letter queue, decoded as SNS writes it.
pub async fn dead_letters(consumer: &str) -> anyhow::Result<Vec<DeadLetter>> {
    let queue = dead_letter_queue(consumer)
        .with_context(|| format!("no dead-letter queue for {consumer}"))?;
    let mut letters = Vec::new();
    for message in peek_queue(&queue).await? {
        let body = message.body.clone().unwrap_or_default();
        let sns = SnsMessage::parse(body.as_bytes())
            .with_context(|| format!("a dead letter is not an SNS message: {body}"))?;
        let envelope = Envelope::from_json(sns.message.as_bytes())?;
        let attributes = message
            .message_attributes
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, value)| value.string_value.map(|value| (name, value)))
            .collect();
        letters.push(DeadLetter {
            sqs_message_id: message.message_id.unwrap_or_default(),
            sns,
            envelope,
            attributes,
        });
    }
    Ok(letters)
}

/// Every envelope in the event store.
pub fn stored_envelopes() -> anyhow::Result<Vec<Value>> {
    Ok(
        postoffice_local::firehose::read_all(post_office().event_store_root())?
            .into_iter()
            .filter_map(|(_, line)| serde_json::from_str(&line).ok())
            .collect(),
    )
}

/// Follows the activity stream, keeping what it saw: the IoT rule records its SNS publish
/// after SNS answered, by which time delivery may already have begun, so tests match activities
/// in any order.
pub struct Follower {
    receiver: broadcast::Receiver<Activity>,
    pub seen: Vec<Activity>,
}

impl Follower {
    /// Starts following now; subscribe before publishing.
    pub fn start() -> Self {
        Self {
            receiver: post_office().activity(),
            seen: Vec::new(),
        }
    }

    /// Waits until `found` finds what it looks for among everything seen so far.
    pub async fn until<T>(
        &mut self,
        what: &str,
        found: impl FnMut(&[Activity]) -> Option<T>,
    ) -> anyhow::Result<T> {
        self.until_within(WAIT, what, found).await
    }

    /// As [`Follower::until`], waiting up to `timeout`.
    pub async fn until_within<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut found: impl FnMut(&[Activity]) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(value) = found(&self.seen) {
                return Ok(value);
            }
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Ok(activity)) => self.seen.push(activity),
                Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    bail!("missed {missed} activities while waiting for {what}")
                }
                Ok(Err(error)) => bail!("activity stream ended: {error}"),
                Err(_) => bail!("timed out waiting for {what}"),
            }
        }
    }

    /// The first refusal of `action` to a principal whose name contains `principal`:
    /// (principal, resource, explanation).
    pub async fn denial(
        &mut self,
        action: &str,
        principal: &str,
    ) -> anyhow::Result<(String, String, String)> {
        self.until(&format!("{action} denied to {principal}"), |seen| {
            seen.iter().find_map(|activity| match activity {
                Activity::Denied {
                    principal: who,
                    action: what,
                    resource,
                    explanation,
                } if what == action && who.contains(principal) => {
                    Some((who.clone(), resource.clone(), explanation.clone()))
                }
                _ => None,
            })
        })
        .await
    }

    /// The first refusal by the IoT gateway of what `client_id` asked for, whose description
    /// starts with `action`: (what, reason).
    pub async fn gateway_refusal(
        &mut self,
        client_id: &str,
        action: &str,
    ) -> anyhow::Result<(String, String)> {
        self.until(
            &format!("the gateway to refuse {action} to {client_id}"),
            |seen| {
                seen.iter().find_map(|activity| match activity {
                    Activity::GatewayRefused {
                        client_id: who,
                        what,
                        reason,
                    } if who == client_id && what.starts_with(action) => {
                        Some((what.clone(), reason.clone()))
                    }
                    _ => None,
                })
            },
        )
        .await
    }

    /// Whether anything seen so far was a refusal of `action`.
    pub fn saw_denial_of(&self, action: &str) -> bool {
        self.seen.iter().any(
            |activity| matches!(activity, Activity::Denied { action: what, .. } if what == action),
        )
    }

    /// The SNS message id the IoT rule gave the device event `event_id`.
    pub async fn sns_message_id_of(&mut self, event_id: &str) -> anyhow::Result<String> {
        self.until(&format!("the IoT rule to publish {event_id}"), |seen| {
            seen.iter().find_map(|activity| match activity {
                Activity::RulePublished {
                    event_id: Some(id),
                    sns_message_id,
                    ..
                } if id == event_id => Some(sns_message_id.clone()),
                _ => None,
            })
        })
        .await
    }

    /// How `consumer`'s delivery of `sns_message_id` ended, once it has.
    pub async fn delivery_of(
        &mut self,
        consumer: &str,
        sns_message_id: &str,
    ) -> anyhow::Result<DeliveryHistory> {
        self.delivery_to(&bridge_of(consumer), sns_message_id).await
    }

    /// How the delivery of `sns_message_id` to `endpoint` (the function, or `FUNCTION:ALIAS`,
    /// whose URL the subscription names) ended, once it has.
    pub async fn delivery_to(
        &mut self,
        endpoint: &str,
        sns_message_id: &str,
    ) -> anyhow::Result<DeliveryHistory> {
        let consumer = endpoint;
        // A delivery the retry policy keeps retrying lasts as long as the policy, time-scaled.
        let retries = post_office()
            .plan()
            .topics
            .values()
            .flat_map(|topic| &topic.subscriptions)
            .map(|subscription| {
                subscription
                    .retry_policy
                    .retry_delays()
                    .iter()
                    .sum::<Duration>()
            })
            .max()
            .unwrap_or_default()
            .mul_f64(TIME_SCALE);
        self.until_within(
            WAIT + retries,
            &format!("{consumer}'s delivery of {sns_message_id} to end"),
            |seen| {
                let mut history = DeliveryHistory {
                    statuses: Vec::new(),
                    retry_delays_ms: Vec::new(),
                    dead_lettered: false,
                };
                for activity in seen {
                    match activity {
                        Activity::DeliveryAttempt {
                            endpoint: c,
                            sns_message_id: id,
                            status,
                            retry_in_ms,
                            ..
                        } if c == consumer && id == sns_message_id => {
                            history.statuses.push(*status);
                            history.retry_delays_ms.extend(*retry_in_ms);
                        }
                        Activity::Delivered {
                            endpoint: c,
                            sns_message_id: id,
                            ..
                        } if c == consumer && id == sns_message_id => return Some(history),
                        Activity::DeadLettered {
                            endpoint: c,
                            sns_message_id: id,
                            ..
                        } if c == consumer && id == sns_message_id => {
                            history.dead_lettered = true;
                            return Some(history);
                        }
                        _ => {}
                    }
                }
                None
            },
        )
        .await
    }
}

/// How a consumer's delivery of one SNS message ended, with every attempt's status.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryHistory {
    pub statuses: Vec<Option<u16>>,
    pub retry_delays_ms: Vec<u64>,
    pub dead_lettered: bool,
}

/// Minimal MQTT 3.1.1 over mutual TLS, for what client libraries refuse to send (a publish to a
/// wildcard topic, an oversize packet). Returns the first byte the gateway sends after the
/// PUBLISH, or `None` when it closes the connection.
pub async fn raw_publish(
    device: &DeviceCredentials,
    topic: &str,
    payload: &[u8],
) -> anyhow::Result<Option<u8>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn string(field: &str, packet: &mut Vec<u8>) {
        packet.extend((field.len() as u16).to_be_bytes());
        packet.extend(field.as_bytes());
    }
    fn frame(first: u8, body: &[u8]) -> Vec<u8> {
        let mut packet = vec![first];
        let mut length = body.len();
        loop {
            let mut byte = (length % 128) as u8;
            length /= 128;
            if length > 0 {
                byte |= 0x80;
            }
            packet.push(byte);
            if length == 0 {
                break;
            }
        }
        packet.extend(body);
        packet
    }

    let post_office = post_office();
    let tls = post_office.device_tls(device)?;
    let connector = tokio_rustls::TlsConnector::from(tls.client_config()?);
    let tcp = tokio::net::TcpStream::connect(post_office.endpoints.mqtt).await?;
    let mut stream = connector
        .connect(
            tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1")?,
            tcp,
        )
        .await?;
    let mut connect = Vec::new();
    string("MQTT", &mut connect);
    connect.extend([4, 0x02, 0, 30]); // 3.1.1, clean session, keep-alive 30 s
    string(&device.thing, &mut connect);
    stream.write_all(&frame(0x10, &connect)).await?;
    let mut connack = [0u8; 4];
    tokio::time::timeout(WAIT, stream.read_exact(&mut connack)).await??;
    if connack != [0x20, 2, 0, 0] {
        bail!("the gateway refused the raw connection: {connack:?}");
    }
    let mut publish = Vec::new();
    string(topic, &mut publish);
    publish.extend(1u16.to_be_bytes());
    publish.extend(payload);
    stream.write_all(&frame(0x32, &publish)).await?; // PUBLISH, QoS 1
    let mut answer = [0u8; 1];
    match tokio::time::timeout(WAIT, stream.read(&mut answer)).await? {
        Ok(0) | Err(_) => Ok(None),
        Ok(_) => Ok(Some(answer[0])),
    }
}

/// Standard base64, as SQS bodies and IoT error actions carry payloads.
pub fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// p-th percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The first example payload of `event` in the event catalog.
pub fn example(event: &str) -> Value {
    postoffice::catalog::Catalog::embedded()
        .event(event)
        .and_then(|definition| definition.examples.first().cloned())
        .unwrap_or_else(|| panic!("the catalog has no example of {event}"))
}
