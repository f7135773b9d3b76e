//! The local post office: a whole Post Office on 127.0.0.1, for `postoffice local up`,
//! `make demo` and the end-to-end tests.
//!
//! Supervised processes: moto server (SQS, and SNS's control plane), mosquitto (the MQTT gateway)
//! and `cargo lambda watch` (bridges, forwarder and handlers, unchanged). In-process, local-only
//! stand-ins for what no emulator does, each following the AWS documentation: the IoT rules
//! ([`rule_engine`]), SNS's data plane ([`sns`]: Publish, ConfirmSubscription) and its HTTP/S
//! delivery to the bridges ([`delivery`]), the iot-data Publish endpoint ([`iot_data`]) and the
//! Firehose/S3 event store ([`event_store`]).

pub mod activity;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod device;
pub mod emulator;
pub mod event_store;
pub mod gateway;
pub mod iot_data;
pub mod lambdas;
pub mod mqtt;
pub mod process;
pub mod provision;
pub mod rule_engine;
pub mod sns;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use postoffice::catalog::Catalog;
use postoffice::sns::LocalSigningAuthority;
use tokio::task::JoinHandle;

use crate::activity::{Activity, ActivityLog};
use crate::config::LocalConfig;
use crate::delivery::Deliverer;
use crate::delivery::policy::TimeScale;
use crate::gateway::Gateway;
use crate::lambdas::{Function, LambdaHost};
use crate::mqtt::{Credentials, MqttSession};
use crate::process::Supervisor;
use crate::provision::Provisioned;
use crate::sns::SnsDataPlane;

/// How to start a local post office.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository root (workspace, `.venv`, `event-catalog/`, `local/`).
    pub root: PathBuf,
    /// Where logs, generated configuration and the event store go; default `.run/<timestamp>`.
    pub run_dir: Option<PathBuf>,
    /// The local configuration; default `ROOT/local/postoffice.local.yaml`.
    pub config: Option<PathBuf>,
    /// Multiplies every delivery policy delay (1.0 = as configured).
    pub time_scale: f64,
    /// Concurrent instances per function under `cargo lambda watch`.
    pub concurrency: u32,
    /// The cargo profile the Lambdas are built with (`dev`, `release`, ...).
    pub cargo_profile: String,
    /// How long bridges and handlers may take to build and start.
    pub startup_timeout: Duration,
}

impl Options {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            run_dir: None,
            config: None,
            time_scale: 1.0,
            concurrency: 4,
            cargo_profile: "dev".to_owned(),
            startup_timeout: Duration::from_secs(600),
        }
    }
}

/// Where each part of a running local post office listens.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// moto server: SQS and SNS's control plane (`AWS_ENDPOINT_URL`).
    pub aws: String,
    /// The local SNS endpoint: Publish and ConfirmSubscription served by the data plane, other
    /// actions passed on to moto (`AWS_ENDPOINT_URL_SNS`).
    pub sns: String,
    /// The MQTT gateway (plain MQTT on 127.0.0.1).
    pub mqtt_port: u16,
    /// The iot-data endpoint (`AWS_ENDPOINT_URL_IOT_DATA_PLANE`).
    pub iot_data: String,
    /// `cargo lambda watch` serving the handlers (`AWS_ENDPOINT_URL_LAMBDA` of bridges and
    /// `postoffice dlq redrive`).
    pub handlers: String,
    /// Consumer → its bridge's function URL.
    pub bridges: BTreeMap<String, String>,
}

/// A running local post office. Dropping it stops every task and process it started.
pub struct LocalPostOffice {
    pub run_dir: PathBuf,
    pub config: LocalConfig,
    pub provisioned: Provisioned,
    pub endpoints: Endpoints,
    gateway: Gateway,
    activity: ActivityLog,
    sns: Arc<SnsDataPlane>,
    sdk: aws_config::SdkConfig,
    tasks: Vec<JoinHandle<()>>,
    supervisor: Supervisor,
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl LocalPostOffice {
    /// Starts everything; `progress` hears each step.
    pub async fn start(options: Options, progress: impl Fn(&str)) -> anyhow::Result<Self> {
        let root = options
            .root
            .canonicalize()
            .with_context(|| format!("repository root {}", options.root.display()))?;
        let run_dir = match &options.run_dir {
            Some(dir) => dir.clone(),
            None => root
                .join(".run")
                .join(chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()),
        };
        std::fs::create_dir_all(run_dir.join("logs"))?;
        let logs = run_dir.join("logs");
        let activity = ActivityLog::create(&run_dir.join("activity.jsonl"))?;
        let mut supervisor = Supervisor::default();
        let mut tasks = Vec::new();

        let catalog = Catalog::load(&root.join("event-catalog"))?;
        let config = LocalConfig::load(
            &options
                .config
                .clone()
                .unwrap_or_else(|| root.join("local/postoffice.local.yaml")),
        )?;
        config.check_against(&catalog)?;
        let events: Vec<String> = catalog.events().map(|event| event.name.clone()).collect();
        let subscriptions = config::subscriptions(&catalog);

        progress("building the Lambdas (cargo build)");
        let mut binaries: Vec<String> = config
            .consumers
            .values()
            .map(|consumer| consumer.handler.clone())
            .collect();
        binaries.push(lambdas::BRIDGE_BINARY.to_owned());
        binaries.sort();
        binaries.dedup();
        lambdas::build(
            &root,
            &options.cargo_profile,
            &binaries,
            &run_dir.join("bin"),
            &logs.join("build.log"),
        )
        .await?;

        progress("starting moto server and mosquitto");
        let moto_port = free_port()?;
        let mqtt_port = free_port()?;
        let moto_server = root.join(".venv/bin/moto_server");
        let (moto_log, mosquitto_dir, mosquitto_log) = (
            logs.join("moto.log"),
            run_dir.join("mosquitto"),
            logs.join("mosquitto.log"),
        );
        let (moto, gateway) = tokio::join!(
            emulator::start_moto(&moto_server, moto_port, &config.region, &moto_log),
            Gateway::start(&catalog, mqtt_port, &mosquitto_dir, &mosquitto_log),
        );
        supervisor.add(moto?);
        let (gateway, mosquitto) = gateway?;
        supervisor.add(mosquitto);
        let aws_endpoint = format!("http://127.0.0.1:{moto_port}");
        let sdk = emulator::sdk_config(&aws_endpoint, &config.region);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);

        progress("provisioning topics and queues in moto, subscriptions in the SNS data plane");
        let mut plane = SnsDataPlane::default();
        let (provisioned, feeds) =
            provision::provision(&sns, &sqs, &mut plane, &config, &events, &subscriptions).await?;
        let plane = Arc::new(plane);
        let http = postoffice::https::client_builder()
            .pool_max_idle_per_host(64)
            .build()?;
        let sns_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sns_endpoint = format!("http://{}", sns_listener.local_addr()?);
        let sns_router = sns::server::router(plane.clone(), aws_endpoint.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(error) = axum::serve(sns_listener, sns_router).await {
                tracing::error!(%error, "the local SNS endpoint stopped");
            }
        }));

        let authority = Arc::new(LocalSigningAuthority::generate()?);
        let certificate = run_dir.join("local-signing.pem");
        authority.write(&certificate, &run_dir.join("local-signing.key"))?;

        progress("starting the IoT rules, the iot-data endpoint and the event store");
        let (iot_data_session, _) = MqttSession::connect(
            mqtt_port,
            "postoffice-iot-data",
            &gateway.gateway_credentials(),
            &[],
            Duration::from_secs(10),
        )
        .await?;
        let iot_data_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let iot_data = format!("http://{}", iot_data_listener.local_addr()?);
        let router = iot_data::router(iot_data_session, activity.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(error) = axum::serve(iot_data_listener, router).await {
                tracing::error!(%error, "the iot-data endpoint stopped");
            }
        }));

        let rules = config::actor_published_events(&catalog)
            .into_iter()
            .map(|event| {
                let rule = rule_engine::Rule {
                    name: config.rule_name(&event),
                    topic_arn: provisioned.topics[&event].clone(),
                    event: event.clone(),
                };
                (event, rule)
            })
            .collect();
        let engine = rule_engine::RuleEngine {
            rules,
            sns: plane.clone(),
            sqs: sqs.clone(),
            rule_errors_queue_url: provisioned.rule_errors.url.clone(),
            activity: activity.clone(),
        };
        tasks.push(tokio::spawn(
            engine.run(mqtt_port, gateway.gateway_credentials()),
        ));

        let object_name = format!(
            "postoffice-local-{}.jsonl",
            chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S")
        );
        for (event, feed) in feeds.event_store {
            let writer = event_store::EventStoreWriter {
                event,
                feed,
                root: run_dir.join("event-store"),
                object_name: object_name.clone(),
                activity: activity.clone(),
            };
            tasks.push(tokio::spawn(writer.run()));
        }

        progress("starting the Lambdas (cargo lambda watch serves their APIs)");
        let common_env = |extra: &[(&str, String)]| {
            let mut env: BTreeMap<String, String> = [
                ("AWS_ENDPOINT_URL", aws_endpoint.clone()),
                ("AWS_ENDPOINT_URL_SNS", sns_endpoint.clone()),
                ("AWS_ENDPOINT_URL_IOT_DATA_PLANE", iot_data.clone()),
                ("AWS_REGION", config.region.clone()),
                ("AWS_DEFAULT_REGION", config.region.clone()),
                ("AWS_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID.to_owned()),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    emulator::SECRET_ACCESS_KEY.to_owned(),
                ),
                ("AWS_MAX_ATTEMPTS", "1".to_owned()),
                ("POSTOFFICE_TOPIC_ARN_PREFIX", config.topic_arn_prefix()),
                ("RUST_LOG", "info".to_owned()),
            ]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
            for (key, value) in extra {
                env.insert((*key).to_owned(), value.clone());
            }
            env
        };
        let run_text = run_dir.display().to_string();
        let mut handler_env = common_env(&[]);
        for consumer in config.consumers.values() {
            for (destination, source) in &consumer.data {
                copy_dir(
                    &root.join(source),
                    Path::new(&destination.replace("{run}", &run_text)),
                )?;
            }
        }
        for consumer in config.consumers.values() {
            for (key, value) in &consumer.env {
                let value = value.replace("{run}", &run_text);
                handler_env.insert(key.clone(), value);
            }
        }
        let mut handler_names: Vec<String> = config
            .consumers
            .values()
            .map(|consumer| consumer.handler.clone())
            .collect();
        handler_names.sort();
        handler_names.dedup();
        let handlers = LambdaHost {
            name: "lambda-handlers".to_owned(),
            port: free_port()?,
            functions: handler_names
                .iter()
                .map(|handler| Function {
                    binary: handler.clone(),
                    name: handler.clone(),
                    env: handler_env.clone(),
                })
                .collect(),
            concurrency: options.concurrency,
        };
        let cargo_lambda = lambdas::cargo_lambda(&root);
        handlers
            .start(&mut supervisor, &cargo_lambda, &root, &run_dir)
            .await?;

        let mut bridges = BTreeMap::new();
        for (consumer, consumer_events) in &subscriptions {
            let allowed: Vec<String> = consumer_events
                .iter()
                .map(|event| provisioned.topics[event].clone())
                .collect();
            let function_name = config.bridge_function_name(consumer);
            let bridge = LambdaHost {
                name: format!("lambda-{function_name}"),
                port: free_port()?,
                functions: vec![Function {
                    binary: lambdas::BRIDGE_BINARY.to_owned(),
                    name: function_name,
                    env: common_env(&[
                        ("AWS_ENDPOINT_URL_LAMBDA", handlers.endpoint()),
                        (
                            "POSTOFFICE_HANDLER_FUNCTION",
                            config.consumers[consumer].handler.clone(),
                        ),
                        ("POSTOFFICE_ALLOWED_TOPIC_ARNS", allowed.join(",")),
                        (
                            "POSTOFFICE_LOCAL_TRUSTED_CERT",
                            certificate.display().to_string(),
                        ),
                    ]),
                }],
                concurrency: options.concurrency,
            };
            bridge
                .start(&mut supervisor, &cargo_lambda, &root, &run_dir)
                .await?;
            bridges.insert(
                consumer.clone(),
                format!(
                    "{}/lambda-url/{}/",
                    bridge.endpoint(),
                    lambdas::BRIDGE_BINARY
                ),
            );
        }

        progress("confirming the bridges' subscriptions");
        let mut confirmations = activity.subscribe();
        let bridge_instances: BTreeMap<&String, Arc<tokio::sync::Semaphore>> = bridges
            .keys()
            .map(|consumer| {
                let permits = options.concurrency.max(1) as usize;
                (consumer, Arc::new(tokio::sync::Semaphore::new(permits)))
            })
            .collect();
        for (subscription, inbox) in provisioned.subscriptions.iter().zip(feeds.inboxes) {
            let deliverer = Deliverer {
                subscription: subscription.clone(),
                endpoint: bridges[&subscription.consumer].clone(),
                sns_endpoint: sns_endpoint.clone(),
                plane: plane.clone(),
                bridge_instances: bridge_instances[&subscription.consumer].clone(),
                policy: config.delivery_policy.clone(),
                time_scale: TimeScale(options.time_scale),
                authority: authority.clone(),
                http: http.clone(),
                sqs: sqs.clone(),
                activity: activity.clone(),
            };
            tasks.push(tokio::spawn(deliverer.run(inbox, options.startup_timeout)));
        }
        let mut post_office = Self {
            run_dir,
            config,
            provisioned,
            endpoints: Endpoints {
                aws: aws_endpoint,
                sns: sns_endpoint,
                mqtt_port,
                iot_data,
                handlers: handlers.endpoint(),
                bridges,
            },
            gateway,
            activity,
            sns: plane,
            sdk: sdk.clone(),
            tasks,
            supervisor,
        };
        let expected = post_office.provisioned.subscriptions.len();
        let mut confirmed = 0;
        let deadline = tokio::time::Instant::now() + options.startup_timeout;
        while confirmed < expected {
            match tokio::time::timeout_at(deadline, confirmations.recv()).await {
                Ok(Ok(Activity::SubscriptionConfirmed { .. })) => confirmed += 1,
                Ok(_) => {}
                Err(_) => anyhow::bail!(
                    "only {confirmed} of {expected} subscriptions were confirmed in time; see {}",
                    post_office.run_dir.join("logs").display()
                ),
            }
            if let Some((name, status)) = post_office.supervisor.first_exited() {
                anyhow::bail!(
                    "{name} exited with {status}; see {}",
                    post_office.run_dir.join("logs").display()
                );
            }
        }

        progress("starting the handlers");
        for handler in &handler_names {
            lambdas::warm_up(
                &http,
                &post_office.endpoints.handlers,
                handler,
                options.startup_timeout,
            )
            .await?;
        }
        Ok(post_office)
    }

    /// Registers a household with the MQTT gateway; its devices connect with these
    /// credentials (user = household) and their device id as client id.
    pub async fn register_household(&self, household_id: &str) -> anyhow::Result<Credentials> {
        self.gateway.register_household(household_id).await
    }

    /// Credentials that read every topic: for observers in tests and the demo.
    pub fn gateway_credentials(&self) -> Credentials {
        self.gateway.gateway_credentials()
    }

    pub fn activity(&self) -> tokio::sync::broadcast::Receiver<Activity> {
        self.activity.subscribe()
    }

    /// An SQS client of the emulator, for inspecting queues.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// Messages in a queue: (visible, in flight), as SQS approximates them.
    pub async fn queue_depth(&self, queue_url: &str) -> anyhow::Result<(u64, u64)> {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        let count = |name: &Name| {
            attributes
                .get(name)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            count(&Name::ApproximateNumberOfMessages),
            count(&Name::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Messages published but not yet delivered to a bridge or parked in a DLQ.
    pub fn pending_deliveries(&self) -> usize {
        self.sns.pending_deliveries()
    }

    /// The consumer's dead-letter queue.
    pub fn dead_letter_queue(&self, consumer: &str) -> Option<&provision::Queue> {
        self.provisioned.consumer_dlqs.get(consumer)
    }

    pub fn event_store_root(&self) -> PathBuf {
        self.run_dir.join("event-store")
    }

    /// The environment under which `postoffice` commands (e.g. `dlq redrive`) reach this post
    /// office.
    pub fn tool_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoints.aws.clone()),
            ("AWS_ENDPOINT_URL_SNS", self.endpoints.sns.clone()),
            ("AWS_ENDPOINT_URL_LAMBDA", self.endpoints.handlers.clone()),
            ("AWS_REGION", self.config.region.clone()),
            ("AWS_DEFAULT_REGION", self.config.region.clone()),
            ("AWS_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID.to_owned()),
            (
                "AWS_SECRET_ACCESS_KEY",
                emulator::SECRET_ACCESS_KEY.to_owned(),
            ),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            (
                "POSTOFFICE_TOPIC_ARN_PREFIX",
                self.config.topic_arn_prefix(),
            ),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// A supervised process that has died, if any.
    pub fn dead_process(&mut self) -> Option<(String, std::process::ExitStatus)> {
        self.supervisor.first_exited()
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.run_dir.join("logs")
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Stops every task and process.
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.supervisor.stop();
    }
}

impl Drop for LocalPostOffice {
    fn drop(&mut self) {
        self.stop();
    }
}
