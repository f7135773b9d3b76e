//! The local post office: a whole Post Office on 127.0.0.1, provisioned by the project's own
//! Terraform, for `postoffice local up`, `make demo` and the end-to-end tests.
//!
//! Start-up: build and package the Lambdas as `make package` does; start moto (the control
//! plane) behind the local AWS endpoint ([`aws`]), which authenticates every call and answers
//! what moto lacks; `terraform apply` the project's root module against it ([`terraform`]); then
//! read what was applied through the AWS APIs ([`applied`]) into a pure plan ([`plan`]) that the
//! local services execute: SNS delivery, Lambda, the IoT gateway and rules, the event store and
//! the alarms. Nothing is wired from the catalog or a local configuration.

pub mod activity;
pub mod applied;
pub mod aws;
pub mod cognito;
pub mod iot;
pub mod lambda;
pub mod process;
pub mod sts;
pub mod terraform;
pub mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::activity::ActivityLog;
use crate::aws::credentials::CredentialStore;
use crate::aws::{AwsEndpoint, ControlPlaneChanges, LocalService};
use crate::process::Supervisor;

/// moto's account, the account every local resource lives in.
pub const ACCOUNT: &str = "123456789012";

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
    /// Multiplies every delivery policy delay and alarm period (1.0 = as applied).
    pub time_scale: f64,
    /// Instances per function the Lambda host may run at once.
    pub concurrency: u32,
    /// The cargo profile the Lambdas are built with (`dev`, `release`, ...).
    pub cargo_profile: String,
    /// How long building, applying and starting may take.
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
            concurrency: 4,
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
    pub moto: Duration,
    pub apply: Duration,
    pub ready: Duration,
}

/// A running local post office. Dropping it stops every task and process it started.
pub struct LocalPostOffice {
    pub run_dir: PathBuf,
    pub aws_endpoint: String,
    pub startup: StartupTimes,
    credentials: Arc<CredentialStore>,
    activity: ActivityLog,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    supervisor: Supervisor,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl LocalPostOffice {
    /// Starts everything; `progress` hears each step.
    pub async fn start(options: Options, progress: impl Fn(&str)) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut startup = StartupTimes::default();
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

        progress("packaging the Lambda zips");
        let step = Instant::now();
        let zips = run_dir.join("lambda/packages");
        let metadata = lambda::packaging::workspace_metadata(&root)?;
        for contents in lambda::packaging::contents_from_metadata(&metadata, lambda::build::FUNCTIONS)? {
            lambda::packaging::package(&contents, &binaries.join(&contents.binary), &zips)?;
        }
        startup.package = step.elapsed();

        progress("starting moto and the local AWS endpoint");
        let step = Instant::now();
        let tls_dir = run_dir.join("tls");
        let ca = tls::LocalCa::generate("Post Office local CA")?;
        let ca_bundle = ca.write(&tls_dir)?;
        let server_certificate = ca.issue_server(&["127.0.0.1", "localhost"])?;
        let moto_port = free_port()?;
        supervisor.add(
            aws::moto::start(&root.join(".venv/bin/moto_server"), moto_port, &logs.join("moto.log"))
                .await?,
        );
        let moto = aws::moto::MotoClient::new(&format!("http://127.0.0.1:{moto_port}"))?;
        let credentials = Arc::new(CredentialStore::new(ACCOUNT));
        let https_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let https = https_listener.local_addr()?;
        let aws_endpoint = format!("https://{https}");
        let code = Arc::new(lambda::code::CodeStore::new(run_dir.join("lambda/code"))?);
        let mut services: HashMap<String, Arc<dyn LocalService>> = HashMap::new();
        services.insert("sts".to_owned(), Arc::new(sts::SecurityTokenService));
        services.insert(
            "iot".to_owned(),
            Arc::new(iot::control_plane::IotControlPlane::new(
                https.to_string(),
                &options.region,
                ACCOUNT,
            )),
        );
        services.insert(
            "cognito-identity".to_owned(),
            Arc::new(cognito::identity::CognitoIdentityStandIns::default()),
        );
        services.insert(
            "lambda".to_owned(),
            Arc::new(lambda::LambdaService { code: code.clone() }),
        );
        let changes = ControlPlaneChanges::default();
        let endpoint = AwsEndpoint::new(
            credentials.clone(),
            moto,
            services,
            Arc::new(AdministratorOnly),
            changes.clone(),
        );
        tasks.push(tokio::spawn(
            endpoint
                .clone()
                .serve_tls(https_listener, tls::server_config(&server_certificate)?),
        ));
        tasks.push(tokio::spawn(endpoint.serve_plain(http_listener)));
        startup.moto = step.elapsed();

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
                local_inputs(&options),
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
            terraform::APPLY_TIMEOUT,
            apply.run(credentials.administrator()),
        )
        .await
        .context("terraform apply did not finish in time")??;
        startup.apply = step.elapsed();
        startup.ready = started.elapsed() - startup.build;

        Ok(Self {
            run_dir,
            aws_endpoint,
            startup,
            credentials,
            activity,
            tasks,
            supervisor,
        })
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn activity(&self) -> tokio::sync::broadcast::Receiver<activity::Activity> {
        self.activity.subscribe()
    }

    /// Stops every task and process.
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.supervisor.stop();
    }

    /// The administrator's credentials (what `postoffice` tools run with).
    pub fn administrator(&self) -> &aws::credentials::Credentials {
        self.credentials.administrator()
    }
}

impl Drop for LocalPostOffice {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The root module's inputs only a deployment knows, for the local one; `options.variables`
/// adds to or replaces them.
fn local_inputs(options: &Options) -> serde_json::Value {
    let mut inputs = serde_json::json!({
        "mobile_identity_provider": {
            "provider_name": format!("cognito-idp.{}.amazonaws.com/{}_LocalPool1", options.region, options.region),
            "client_id": "localmobileclient",
        },
    });
    if let (Some(inputs), Some(extra)) = (inputs.as_object_mut(), options.variables.as_object()) {
        for (name, value) in extra {
            inputs.insert(name.clone(), value.clone());
        }
    }
    inputs
}

/// Until policies are evaluated, only the administrator is let through.
struct AdministratorOnly;

impl aws::Authorize for AdministratorOnly {
    fn authorize(&self, call: &aws::Call) -> Result<(), aws::errors::AwsError> {
        Err(aws::errors::AwsError::new(
            403,
            "AccessDenied",
            format!("{} may not call the local post office yet", call.caller.arn()),
        ))
    }
}
