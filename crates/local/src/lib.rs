//! The local post office: a whole Post Office on 127.0.0.1, provisioned by the project's own
//! Terraform, for `postoffice local up`, `make demo` and the end-to-end tests.
//!
//! Start-up: build and package the Lambdas as `make package` does; start moto (the control
//! plane) behind the local AWS endpoint ([`aws`]), which authenticates every call and answers
//! what moto lacks; `terraform apply` the project's root module against it ([`terraform`]);
//! read what was applied through the AWS APIs ([`applied`]) into a pure plan ([`plan`]) and
//! execute it ([`runtime`]): Lambda ([`lambda`]), SNS delivery ([`sns`]), the IoT gateway and
//! rules ([`iot`]), the event store ([`firehose`]) and the alarms ([`cloudwatch`]) — every call
//! inside the chain authorised as AWS authorises it ([`iam`]). Nothing is wired from the
//! catalog or a local configuration.

pub mod activity;
pub mod app;
pub mod applied;
pub mod aws;
pub mod cloudwatch;
pub mod cognito;
pub mod device;
pub mod dynamodb;
pub mod ecs;
pub mod firehose;
pub mod iam;
pub mod iot;
pub mod lambda;
pub mod metering;
pub mod mqtt;
pub mod plan;
pub mod process;
pub mod runtime;
pub mod sns;
pub mod sts;
pub mod terraform;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use postoffice::sns::LocalSigningAuthority;
use postoffice_iot_gateway::{Gateway, GatewayConfig, TlsIdentity};
use postoffice_lambda_host::{HostConfig, LambdaHost};

use crate::activity::ActivityLog;
use crate::applied::ControlPlane;
use crate::aws::credentials::{CredentialStore, Credentials};
use crate::aws::{AwsEndpoint, ControlPlaneChanges, LocalService};
use crate::cloudwatch::alarms::Alarms;
use crate::cloudwatch::metrics::Metrics;
use crate::firehose::EventStore;
use crate::iam::Authorizer;
use crate::iam::calls::CallAuthorizer;
use crate::iot::devices::{DeviceCredentials, Registration};
use crate::iot::rules::RuleEngine;
use crate::lambda::code::CodeStore;
use crate::lambda::registry::PlanRegistry;
use crate::lambda::{Lambda, LambdaService};
use crate::metering::{Meter, Metering};
use crate::plan::Platform;
use crate::process::Supervisor;
use crate::runtime::Runtime;
use crate::sns::delivery_policy::TimeScale;
use crate::sns::{Ports, Sns, SnsService};
use crate::tls::LocalCa;

/// moto's account, the account every local resource lives in.
pub const ACCOUNT: &str = "123456789012";

/// What [`LocalPostOffice::write_tool_files`] writes in the run directory.
pub const TOOL_ENV_FILE: &str = "postoffice.env";
pub const RUNNING_FILE: &str = "running.json";

/// How to start a local post office.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository root (workspace, `.venv`, `terraform/`).
    pub root: PathBuf,
    /// Where logs, state and the event store go; default `.run/<timestamp>`.
    pub run_dir: Option<PathBuf>,
    /// The Terraform to apply (a directory laid out like `terraform/`); default `ROOT/terraform`.
    /// Tests pass a changed copy.
    pub terraform: Option<PathBuf>,
    /// Extra root-module inputs, on top of the local deployment's.
    pub variables: serde_json::Value,
    /// Multiplies every retry delay and alarm period (1.0 = as applied).
    pub time_scale: f64,
    /// Simulated seconds per real second the meter bills time-based usage in (connection
    /// minutes, Firehose buffer intervals): a fleet's `--time-scale`; 1.0 = the wall clock.
    pub metered_time_scale: f64,
    /// Lambda instances the host may run at once, over all functions: this machine's limit
    /// (processes, memory), not the account's concurrency. SNS keeps its function URL requests
    /// to half of it, so it shows as queueing, never as throttles AWS would not answer.
    pub max_instances: usize,
    /// The cargo profile the Lambdas are built with (`dev`, `release`, ...).
    pub cargo_profile: String,
    /// How long the apply and the subscriptions' confirmation may take.
    pub startup_timeout: Duration,
    pub region: String,
    pub prefix: String,
}

impl Options {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            run_dir: None,
            terraform: None,
            variables: serde_json::json!({}),
            time_scale: 1.0,
            metered_time_scale: 1.0,
            max_instances: 64,
            cargo_profile: "dev".to_owned(),
            startup_timeout: Duration::from_secs(600),
            region: "eu-west-1".to_owned(),
            prefix: "postoffice".to_owned(),
        }
    }
}

/// How long each start-up step took.
#[derive(Debug, Clone, Default)]
pub struct StartupTimes {
    pub build: Duration,
    pub package: Duration,
    pub services: Duration,
    pub apply: Duration,
    /// From the end of the build to ready (packaging, services, apply, plan).
    pub ready: Duration,
}

/// Where a running post office listens.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The local AWS endpoint (`AWS_ENDPOINT_URL`), HTTPS.
    pub aws: String,
    /// The same endpoint over plain HTTP (`aws:SecureTransport` is false there).
    pub aws_plain: String,
    /// The IoT gateway: MQTT over TLS with client certificates.
    pub mqtt: SocketAddr,
    /// The IoT gateway's MQTT over WebSocket (`wss://ADDR/mqtt`, SigV4 presigned URLs).
    pub mqtt_websocket: SocketAddr,
    /// The CA every local endpoint's certificate comes from (`AWS_CA_BUNDLE`).
    pub ca_bundle: PathBuf,
    /// The local SNS signing certificate (`POSTOFFICE_LOCAL_TRUSTED_CERT`).
    pub signing_certificate: PathBuf,
}

/// A running local post office. Dropping it stops every task and process it started.
pub struct LocalPostOffice {
    pub run_dir: PathBuf,
    pub endpoints: Endpoints,
    pub startup: StartupTimes,
    pub options: Options,
    credentials: Arc<CredentialStore>,
    factory_ca: LocalCa,
    activity: ActivityLog,
    runtime: Arc<Runtime>,
    gateway: Arc<Gateway>,
    apply: terraform::Apply,
    /// `terraform output -json`, read after every apply.
    outputs: std::sync::RwLock<serde_json::Value>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    supervisor: Supervisor,
    meter: Arc<Meter>,
    metrics: Arc<Metrics>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl LocalPostOffice {
    /// Starts everything; `progress` hears each step.
    pub async fn start(options: Options, progress: impl Fn(&str)) -> anyhow::Result<Self> {
        let mut startup = StartupTimes::default();
        if let Err(error) = process::raise_open_files_limit() {
            tracing::warn!(%error, "could not raise the open-files limit: the gateway may refuse connections early");
        }
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
        let logs = run_dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        let activity = ActivityLog::create(&run_dir.join("activity.jsonl"))?;
        let mut supervisor = Supervisor::default();
        let mut tasks = Vec::new();

        progress("building the Lambdas (cargo build)");
        let step = Instant::now();
        let binaries =
            lambda::build::build(&root, &options.cargo_profile, &logs.join("build.log")).await?;
        startup.build = step.elapsed();
        let ready = Instant::now();

        progress("packaging the Lambda zips");
        let step = Instant::now();
        let zips = run_dir.join("lambda/packages");
        let metadata = lambda::packaging::workspace_metadata(&root)?;
        for contents in
            lambda::packaging::contents_from_metadata(&metadata, lambda::build::FUNCTIONS)?
        {
            lambda::packaging::package(&contents, &binaries.join(&contents.binary), &zips)?;
        }
        startup.package = step.elapsed();

        progress("starting moto, the local AWS endpoint, the Lambda host and the IoT gateway");
        let step = Instant::now();
        let tls_dir = run_dir.join("tls");
        let ca = LocalCa::generate("Post Office local CA")?;
        let ca_bundle = ca.write(&tls_dir)?;
        let factory_ca = LocalCa::generate("Post Office local device factory")?;
        factory_ca.write(&tls_dir.join("factory"))?;
        let server_certificate = ca.issue_server(&["127.0.0.1", "localhost"])?;
        let signing = Arc::new(LocalSigningAuthority::generate()?);
        let signing_certificate = run_dir.join("local-signing.pem");
        signing.write(&signing_certificate, &run_dir.join("local-signing.key"))?;

        let moto_port = free_port()?;
        supervisor.add(
            aws::moto::start(
                &root.join(".venv/bin/moto_server"),
                moto_port,
                &logs.join("moto.log"),
            )
            .await?,
        );
        let moto_url = format!("http://127.0.0.1:{moto_port}");
        let control = ControlPlane::new(&moto_url, &options.region)?;
        let topic_attributes = control.topic_attributes.clone();
        let credentials = Arc::new(CredentialStore::new(ACCOUNT));
        let https_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let https = https_listener.local_addr()?;
        let aws_endpoint = format!("https://{https}");
        let aws_plain = format!("http://{}", http_listener.local_addr()?);

        let metrics = Arc::new(Metrics::default());
        let meter = Arc::new(Meter::new(options.metered_time_scale));
        let changes = ControlPlaneChanges::default();
        let authorizer = Arc::new(Authorizer::new(ACCOUNT, &options.region, activity.clone()));
        authorizer.meter_with(meter.clone());
        let code = Arc::new(CodeStore::new(run_dir.join("lambda/code"))?);
        let registry = Arc::new(PlanRegistry::new(
            code.clone(),
            credentials.clone(),
            logs.join("lambda"),
        ));
        std::fs::create_dir_all(logs.join("lambda"))?;
        let host = LambdaHost::new(
            registry.clone(),
            HostConfig {
                max_instances: options.max_instances,
                // Lambda keeps every recently used environment warm; instances are stopped
                // only to make room for another function's.
                idle_instances_per_function: options.max_instances,
                time_scale: options.metered_time_scale,
                ..HostConfig::default()
            },
        );
        let lambda = Arc::new(Lambda {
            host: host.clone(),
            registry,
            code,
            authorizer: authorizer.clone(),
            policies: control.lambda_policies.clone(),
            alias_urls: control.alias_urls.clone(),
            settings: control.function_settings.clone(),
            control: control.lambda.clone(),
            metrics: metrics.clone(),
        });

        let gateway_tls = tls_identity(&ca.issue_server(&["127.0.0.1", "localhost"])?)?;
        let gateway = Arc::new(
            Gateway::start(
                GatewayConfig::new(gateway_tls),
                Arc::new(iot::authority::IotAuthority {
                    authorizer: authorizer.clone(),
                    directory: Arc::new(iot::directory::Directory::new(
                        control.iot.clone(),
                        changes.subscribe(),
                    )),
                    credentials: credentials.clone(),
                    activity: activity.clone(),
                }),
            )
            .await
            .context("starting the IoT gateway")?,
        );

        let event_store = Arc::new(EventStore::new(
            run_dir.join("event-store"),
            authorizer.clone(),
            activity.clone(),
            metrics.clone(),
            meter.clone(),
        ));
        let time_scale = TimeScale(options.time_scale);
        let services = Arc::new(ecs::Services::new(
            binaries.clone(),
            logs.join("ecs"),
            credentials.clone(),
        )?);
        let sns = Sns::new(Arc::new(Ports {
            services: services.clone(),
            lambda: lambda.clone(),
            function_url_requests: Arc::new(tokio::sync::Semaphore::new(
                (options.max_instances / 2).max(1),
            )),
            authorizer: authorizer.clone(),
            signing: signing.clone(),
            http: postoffice::https::client_builder()
                .pool_max_idle_per_host(16)
                .build()?,
            sqs: control.sqs.clone(),
            event_store: event_store.clone(),
            activity: activity.clone(),
            metrics: metrics.clone(),
            meter: meter.clone(),
            time_scale,
            endpoint: aws_endpoint.clone(),
        }));
        let rules = Arc::new(RuleEngine::new(
            sns.clone(),
            authorizer.clone(),
            control.sqs.clone(),
            gateway.clone(),
            metrics.clone(),
            activity.clone(),
            meter.clone(),
        ));
        if let Some(accepted) = gateway.accepted_messages() {
            tasks.push(tokio::spawn(rules.clone().run(accepted)));
        }
        tasks.push(tokio::spawn(meter_connections(
            gateway.lifecycle_events(),
            meter.clone(),
        )));
        let alarms = Arc::new(Alarms::new(
            metrics.clone(),
            sns.clone(),
            host,
            control.sqs.clone(),
            control.cloudwatch.clone(),
            activity.clone(),
            ACCOUNT,
            &options.region,
            options.time_scale,
        )?);
        tasks.push(tokio::spawn(alarms.clone().run()));

        let runtime = Runtime::new(
            control,
            Platform {
                account: ACCOUNT.to_owned(),
                region: options.region.clone(),
                aws_endpoint: aws_endpoint.clone(),
                ca_bundle: ca_bundle.clone(),
                signing_certificate: signing_certificate.clone(),
            },
            authorizer.clone(),
            lambda.clone(),
            services.clone(),
            sns.clone(),
            rules,
            event_store,
            alarms,
            changes.subscribe(),
        );
        tasks.push(tokio::spawn(runtime.clone().follow()));

        let ecs_services = services;
        let mut services: HashMap<String, Arc<dyn LocalService>> = HashMap::new();
        services.insert("sts".to_owned(), Arc::new(sts::SecurityTokenService));
        services.insert(
            "dynamodb".to_owned(),
            Arc::new(dynamodb::DynamoDbMeter::new(meter.clone())),
        );
        services.insert(
            "ecs".to_owned(),
            Arc::new(ecs::control_plane::EcsControlPlane {
                services: ecs_services,
            }),
        );
        services.insert(
            "iam".to_owned(),
            Arc::new(iam::control_plane::IamControlPlane),
        );
        services.insert(
            "iot".to_owned(),
            Arc::new(iot::control_plane::IotControlPlane::new(
                https.to_string(),
                &options.region,
                ACCOUNT,
            )),
        );
        // The iot-data API's signing name: `iotdata` for the SDKs, `iotdevicegateway` in
        // IAM-era clients; both reach the same API.
        let iot_data: Arc<dyn LocalService> = Arc::new(iot::data::IotDataService {
            gateway: gateway.clone(),
            activity: activity.clone(),
        });
        services.insert("iotdata".to_owned(), iot_data.clone());
        services.insert("iotdevicegateway".to_owned(), iot_data);
        let moto = aws::moto::MotoClient::new(&moto_url)?;
        services.insert(
            "cognito-identity".to_owned(),
            Arc::new(cognito::federation::IdentityPoolService::new(
                Arc::new(cognito::identity::CognitoIdentityStandIns::default()),
                moto.clone(),
                credentials.clone(),
                authorizer.clone(),
                &options.region,
            )),
        );
        services.insert(
            "cognito-idp".to_owned(),
            Arc::new(cognito::user_pool::UserPoolService {
                moto: moto.clone(),
                region: options.region.clone(),
            }),
        );
        services.insert(
            "lambda".to_owned(),
            Arc::new(LambdaService {
                lambda: lambda.clone(),
                changes: changes.clone(),
            }),
        );
        services.insert(
            "sns".to_owned(),
            Arc::new(SnsService {
                sns: sns.clone(),
                topic_attributes: topic_attributes.clone(),
                filter_policy_scopes: Default::default(),
            }),
        );
        let endpoint = AwsEndpoint::new(
            credentials.clone(),
            moto,
            services,
            Arc::new(CallAuthorizer {
                authorizer: authorizer.clone(),
            }),
            changes,
        )
        .with_function_urls(lambda);
        tasks.push(tokio::spawn(endpoint.clone().serve_tls(
            https_listener,
            tls::server_config(&server_certificate)?,
        )));
        tasks.push(tokio::spawn(endpoint.serve_plain(http_listener)));
        startup.services = step.elapsed();

        progress("terraform apply (the project's root module, against the local endpoint)");
        let step = Instant::now();
        let terraform_dir = run_dir.join("terraform");
        let source = options
            .terraform
            .clone()
            .unwrap_or_else(|| root.join("terraform"));
        terraform::copy_modules(&source, &terraform_dir)?;
        let apply = terraform::Apply {
            root_module: terraform_dir.join("examples/complete"),
            terraform_dir: terraform_dir.clone(),
            variables: terraform::local_variables(
                &zips,
                &options.prefix,
                &options.region,
                local_inputs(&options, &root),
            ),
            endpoint: aws_endpoint.clone(),
            ca_bundle: ca_bundle.clone(),
            region: options.region.clone(),
            provider_mirror: PathBuf::from(
                std::env::var("POSTOFFICE_TF_PROVIDER_MIRROR")
                    .unwrap_or_else(|_| "/opt/tf-plugins".to_owned()),
            ),
            plugin_cache: root.join("target/terraform-plugin-cache"),
            log: logs.join("terraform.log"),
            parallelism: 16,
        };
        tokio::time::timeout(
            options.startup_timeout,
            apply.run(credentials.administrator()),
        )
        .await
        .context("terraform apply did not finish in time")??;
        startup.apply = step.elapsed();

        progress("reading what was applied and running it");
        runtime.refresh_all().await?;
        for problem in runtime.problems() {
            progress(&format!("not run locally: {problem}"));
        }
        let post_office = Self {
            run_dir,
            endpoints: Endpoints {
                aws: aws_endpoint,
                aws_plain,
                mqtt: gateway.local_addr(),
                mqtt_websocket: gateway
                    .websocket_addr()
                    .context("the IoT gateway serves no WebSocket listener")?,
                ca_bundle,
                signing_certificate,
            },
            startup,
            options,
            credentials,
            factory_ca,
            activity,
            runtime,
            gateway,
            apply,
            outputs: std::sync::RwLock::new(serde_json::Value::Null),
            tasks,
            supervisor,
            meter,
            metrics,
        };
        post_office.read_outputs().await?;
        post_office.prewarm().await;
        let mut post_office = post_office;
        post_office.write_metering_every(METERING_INTERVAL);
        post_office.startup.ready = ready.elapsed();
        Ok(post_office)
    }

    /// Starts a warm instance of every function, so first deliveries do not wait for a cold
    /// start.
    async fn prewarm(&self) {
        for name in self.runtime.lambda.registry.names() {
            if let Err(error) = self.runtime.lambda.host.prewarm(&name).await {
                tracing::warn!(function = name, %error, "could not start a warm instance");
            }
        }
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.run_dir.join("logs")
    }

    pub fn activity(&self) -> tokio::sync::broadcast::Receiver<activity::Activity> {
        self.activity.subscribe()
    }

    /// What the local post office cannot run of the applied resources.
    pub fn problems(&self) -> Vec<String> {
        self.runtime.problems()
    }

    /// The current plan: functions, topics and their subscriptions, rules, streams.
    pub fn plan(&self) -> Arc<plan::Plan> {
        self.runtime.plan()
    }

    /// The administrator's credentials (what `postoffice` tools run with).
    pub fn administrator(&self) -> &Credentials {
        self.credentials.administrator()
    }

    /// The control-plane clients (straight to moto, as the post office itself reads it).
    pub fn control_plane(&self) -> &ControlPlane {
        &self.runtime.control
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Messages published but not yet delivered, parked or given up.
    pub fn pending_deliveries(&self) -> usize {
        self.runtime.sns.pending_deliveries()
    }

    pub fn event_store_root(&self) -> &Path {
        self.runtime.event_store.root()
    }

    /// The alarms and their states.
    pub fn alarms(
        &self,
    ) -> Vec<(
        String,
        postoffice_alarms::AlarmState,
        String,
        Option<String>,
    )> {
        self.runtime.alarms.states()
    }

    /// The root module's outputs (`terraform output -json`) of the last apply.
    pub fn outputs(&self) -> serde_json::Value {
        self.outputs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A simulated mobile app for this post office (the `mobile` output of the Terraform).
    pub fn mobile_app(&self) -> anyhow::Result<app::MobileApp> {
        app::MobileApp::new(app::AppConfig::from_output(
            &self.endpoints.aws,
            self.endpoints.ca_bundle.clone(),
            &self.options.region,
            self.endpoints.mqtt_websocket,
            &self.outputs()["mobile"]["value"],
        )?)
    }

    /// Creates an app user in `household` (`postoffice local user add`).
    pub async fn add_user(
        &self,
        household: &str,
        email: &str,
    ) -> anyhow::Result<cognito::users::AppUser> {
        let pool = self.outputs()["mobile"]["value"]["user_pool_id"]
            .as_str()
            .context("the Terraform output mobile.user_pool_id is missing")?
            .to_owned();
        let administrator = self.administrator();
        let config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoints.aws_plain)
            .region(aws_config::Region::new(self.options.region.clone()))
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                &administrator.access_key_id,
                &administrator.secret_access_key,
                administrator.session_token.clone(),
                None,
                "postoffice-local-administrator",
            ))
            .http_client(postoffice::aws_http::http_client())
            .build();
        let idp = aws_sdk_cognitoidentityprovider::Client::from_conf(config);
        cognito::users::add(&idp, &pool, household, email).await
    }

    async fn read_outputs(&self) -> anyhow::Result<()> {
        let outputs = self.apply.outputs(self.credentials.administrator()).await?;
        *self.outputs.write().unwrap_or_else(|p| p.into_inner()) = outputs;
        Ok(())
    }

    /// Applies another version of the Terraform to this post office (a test's changed copy,
    /// or the original again) and runs what it applied.
    pub async fn reapply(&self, terraform: &Path) -> anyhow::Result<()> {
        terraform::copy_modules(terraform, &self.apply.terraform_dir)?;
        tokio::time::timeout(
            self.options.startup_timeout,
            self.apply.run(self.credentials.administrator()),
        )
        .await
        .context("terraform apply did not finish in time")??;
        self.read_outputs().await?;
        self.runtime.refresh_all().await
    }

    /// What `terraform plan` would still change in the applied Terraform (`None`: nothing, as
    /// against AWS, where a second plan of an applied configuration is empty).
    pub async fn pending_terraform_changes(&self) -> anyhow::Result<Option<String>> {
        self.apply
            .pending_changes(self.credentials.administrator())
            .await
    }

    /// Registers a device as IoT Core would have it after provisioning: a certificate from the
    /// factory CA, a thing named `thing` with the household attribute (none when `household` is
    /// `None`), and the platform's device policies attached.
    pub async fn register_device(
        &self,
        thing: &str,
        household: Option<&str>,
    ) -> anyhow::Result<DeviceCredentials> {
        let outputs = self.outputs();
        let policies = device_policies(&outputs);
        if policies.is_empty() {
            bail!("the applied Terraform has no device policy (output device_policy_name(s))");
        }
        let attribute = outputs["household_thing_attribute"]["value"]
            .as_str()
            .unwrap_or("household")
            .to_owned();
        let attributes: Vec<(&str, &str)> = household
            .map(|household| vec![(attribute.as_str(), household)])
            .unwrap_or_default();
        let credentials = iot::devices::register(
            &self.runtime.control.iot,
            &self.factory_ca,
            &Registration {
                thing,
                attributes: &attributes,
                policies: &policies,
            },
            &self.run_dir.join("devices"),
        )
        .await?;
        Ok(credentials)
    }

    /// Registers an appliance as the factory does: certificate, thing with its pairing claim,
    /// the base device policy, no household (`iot::factory`). Its label (the pairing code) is
    /// returned and written beside its key.
    pub async fn manufacture_device(
        &self,
        thing: &str,
    ) -> anyhow::Result<iot::factory::Manufactured> {
        let outputs = self.outputs();
        let policy = outputs["factory_device_policy_name"]["value"]
            .as_str()
            .context("the applied Terraform has no output factory_device_policy_name")?;
        iot::factory::manufacture(
            &self.runtime.control.iot,
            &self.factory_ca,
            thing,
            policy,
            &self.run_dir.join("devices"),
        )
        .await
    }

    /// Connects a registered device to the gateway, as its firmware would.
    pub async fn connect_device(
        &self,
        credentials: &DeviceCredentials,
        household: &str,
    ) -> anyhow::Result<device::SimulatedDevice> {
        let tls = self.device_tls(credentials)?;
        device::SimulatedDevice::connect(self.endpoints.mqtt, &tls, household, &credentials.thing)
            .await
    }

    /// What a device with `credentials` connects to the gateway with.
    pub fn device_tls(&self, credentials: &DeviceCredentials) -> anyhow::Result<mqtt::DeviceTls> {
        Ok(mqtt::DeviceTls {
            ca_pem: std::fs::read_to_string(&self.endpoints.ca_bundle)?,
            certificate_pem: credentials.certificate.certificate_pem.clone(),
            private_key_pem: credentials.certificate.private_key_pem.clone(),
        })
    }

    /// The URL of the queue named `name`, as applied.
    pub fn queue_url(&self, name: &str) -> Option<String> {
        self.runtime
            .authorizer
            .snapshot()
            .applied
            .sqs
            .queues
            .values()
            .find(|queue| queue.name == name)
            .map(|queue| queue.url.clone())
    }

    /// Where a function's code is extracted (its `LAMBDA_TASK_ROOT`).
    pub fn task_root(&self, function: &str) -> Option<PathBuf> {
        let plan = self.plan();
        let code = &plan.functions.get(function)?.code_sha256;
        self.runtime.lambda.code.task_root(code).ok()
    }

    /// A Lambda client of the local AWS endpoint (plain HTTP), as the administrator.
    pub fn lambda_client(&self) -> aws_sdk_lambda::Client {
        let administrator = self.administrator();
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoints.aws_plain)
            .region(aws_config::Region::new(self.options.region.clone()))
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                &administrator.access_key_id,
                &administrator.secret_access_key,
                administrator.session_token.clone(),
                None,
                "postoffice-local-administrator",
            ))
            .http_client(postoffice::aws_http::http_client())
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    /// Credentials of a session of the applied role named `role`, as the Lambda host gets them
    /// for a function that runs as it: what that role may do, asked directly.
    pub fn role_session(&self, role: &str) -> Credentials {
        self.credentials.issue_role_session(
            &format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
            "postoffice-local-check",
        )
    }

    /// The SDK configuration of a client of the local AWS endpoint (plain HTTP) signing with
    /// `credentials` (the administrator's, or a [`LocalPostOffice::role_session`]).
    pub fn sdk_config(&self, credentials: &Credentials) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoints.aws_plain)
            .region(aws_config::Region::new(self.options.region.clone()))
            .credentials_provider(aws_sdk_sns::config::SharedCredentialsProvider::new(
                aws_sdk_sns::config::Credentials::new(
                    &credentials.access_key_id,
                    &credentials.secret_access_key,
                    credentials.session_token.clone(),
                    None,
                    "postoffice-local",
                ),
            ))
            .http_client(postoffice::aws_http::http_client())
            .build()
    }

    /// What anyone on the internet gets for POSTing `body` with `headers` to a function URL
    /// (`https://ID.lambda-url.REGION.on.aws/`): (status, body), answered as Lambda answers it,
    /// the resource policy included.
    pub async fn post_to_function_url(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<(u16, String)> {
        let url_id =
            plan::function_url_id(url).with_context(|| format!("{url} is not a function URL"))?;
        let mut request = http::Request::builder().method("POST").uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(axum::body::Bytes::from(body.to_owned()))?;
        let response = self.runtime.lambda.invoke_url(url_id, request).await;
        Ok((
            response.status().as_u16(),
            String::from_utf8_lossy(response.body()).into_owned(),
        ))
    }

    /// The environment `postoffice` commands (e.g. `dlq redrive`) reach this post office with.
    pub fn tool_env(&self) -> Vec<(String, String)> {
        let mut variables = vec![
            ("AWS_ENDPOINT_URL".to_owned(), self.endpoints.aws.clone()),
            (
                "AWS_CA_BUNDLE".to_owned(),
                self.endpoints.ca_bundle.display().to_string(),
            ),
            ("AWS_REGION".to_owned(), self.options.region.clone()),
            ("AWS_DEFAULT_REGION".to_owned(), self.options.region.clone()),
            (
                "POSTOFFICE_TOPIC_ARN_PREFIX".to_owned(),
                format!(
                    "arn:aws:sns:{}:{ACCOUNT}:{}-",
                    self.options.region, self.options.prefix
                ),
            ),
            (
                "POSTOFFICE_LOCAL_TRUSTED_CERT".to_owned(),
                self.endpoints.signing_certificate.display().to_string(),
            ),
        ];
        variables.extend(self.administrator().environment());
        variables
    }

    /// Describes this post office for the `postoffice` commands run against it (`dlq`,
    /// `local device add`, `local fleet`, ... with `--run-dir`): `<run>/postoffice.env` (0600:
    /// endpoint, CA bundle, the administrator's credentials) and `<run>/running.json` (the
    /// gateway, the CA, this process).
    pub fn write_tool_files(&self) -> anyhow::Result<()> {
        let env_file = self.run_dir().join(TOOL_ENV_FILE);
        let exports: String = self
            .tool_env()
            .into_iter()
            .map(|(key, value)| format!("export {key}={value}\n"))
            .collect();
        tls::write_secret(&env_file, &exports)?;
        let running = serde_json::json!({
            "mqtt": self.endpoints.mqtt.to_string(),
            "mqtt_websocket": self.endpoints.mqtt_websocket.to_string(),
            "mobile": self.outputs()["mobile"]["value"].clone(),
            "ca_bundle": self.endpoints.ca_bundle,
            "env_file": env_file,
            "pid": std::process::id(),
            "metered_time_scale": self.meter.time_scale(),
        });
        std::fs::write(self.run_dir().join(RUNNING_FILE), running.to_string())?;
        Ok(())
    }

    /// The billable usage since start-up, counted in AWS's units (`<run>/metering.json`).
    pub fn metering(&self) -> Metering {
        metering_snapshot(&self.meter, &self.gateway, &self.runtime, &self.metrics)
    }

    /// Writes `<run>/metering.json` every `interval`, until stopped.
    fn write_metering_every(&mut self, interval: Duration) {
        let meter = self.meter.clone();
        let gateway = self.gateway.clone();
        let runtime = self.runtime.clone();
        let metrics = self.metrics.clone();
        let path = self.run_dir.join("metering.json");
        self.tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            loop {
                ticks.tick().await;
                let metering = metering_snapshot(&meter, &gateway, &runtime, &metrics);
                if let Err(error) = metering::write(&path, &metering) {
                    tracing::warn!(%error, "could not write metering.json");
                }
            }
        }));
    }

    /// Stops every task and process.
    pub fn stop(&mut self) {
        if let Err(error) = metering::write(&self.run_dir.join("metering.json"), &self.metering()) {
            tracing::warn!(%error, "could not write metering.json");
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.gateway.shutdown();
        self.runtime.lambda.host.shutdown();
        self.supervisor.stop();
    }
}

impl Drop for LocalPostOffice {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often `<run>/metering.json` is rewritten.
const METERING_INTERVAL: Duration = Duration::from_secs(5);

/// The meter's counts with what the gateway, the Lambda host, the alarms and the metrics report.
fn metering_snapshot(
    meter: &Meter,
    gateway: &Gateway,
    runtime: &Runtime,
    metrics: &Metrics,
) -> Metering {
    let now = std::time::SystemTime::now();
    meter.snapshot(&metering::Readings {
        gateway: gateway.metrics(),
        open_connections: gateway
            .connections()
            .iter()
            .map(|connection| {
                now.duration_since(connection.connected_at)
                    .unwrap_or_default()
            })
            .collect(),
        functions: runtime.lambda.host.all_metrics(),
        alarms: runtime.alarms.states().len() as u64,
        metrics: metrics.distinct(),
        log_files: runtime.lambda.registry.log_files(),
    })
}

/// Counts each connection's minutes when it ends (open ones are counted at each snapshot).
async fn meter_connections(
    mut events: tokio::sync::broadcast::Receiver<postoffice_iot_gateway::LifecycleEvent>,
    meter: Arc<Meter>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(postoffice_iot_gateway::LifecycleEvent::Disconnected { connected_for, .. }) => {
                meter.iot_disconnected(connected_for)
            }
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the meter missed connection events");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// The device policy names among the root module's outputs.
fn device_policies(outputs: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    for key in ["device_policy_names", "device_policy_name"] {
        match &outputs[key]["value"] {
            serde_json::Value::String(name) => names.push(name.clone()),
            serde_json::Value::Array(list) => names.extend(
                list.iter()
                    .filter_map(|name| name.as_str().map(str::to_owned)),
            ),
            _ => {}
        }
    }
    names
}

fn tls_identity(issued: &tls::IssuedCertificate) -> anyhow::Result<TlsIdentity> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    Ok(TlsIdentity {
        certificate_chain: vec![CertificateDer::from_pem_slice(
            issued.certificate_pem.as_bytes(),
        )?],
        private_key: PrivateKeyDer::from_pem_slice(issued.private_key_pem.as_bytes())?,
    })
}

/// The root module's inputs only a deployment knows, for the local one; `options.variables`
/// adds to or replaces them.
fn local_inputs(options: &Options, root: &Path) -> serde_json::Value {
    let mut inputs = serde_json::json!({
        "event_catalog": root.join("event-catalog"),
    });
    if let (Some(inputs), Some(extra)) = (inputs.as_object_mut(), options.variables.as_object()) {
        for (name, value) in extra {
            inputs.insert(name.clone(), value.clone());
        }
    }
    inputs
}
