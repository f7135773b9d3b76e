//! ECS services behind load balancers (`compute = "container"`), run locally as the plan says:
//! each service is one process of the workspace binary its image names, with the task
//! definition's environment and its task role's credentials, listening on a free port; the
//! load balancer in front of it is [`Services::forward`] (its health check, 502/503 when no
//! healthy target answers), and [`control_plane`] answers ECS for the tasks moto cannot run.

pub mod control_plane;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;

use crate::aws::credentials::CredentialStore;
use crate::iam::Authorizer;
use crate::plan::{Plan, ServicePlan};
use crate::process::ChildProcess;

/// How often the local load balancer checks a service's health path.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// An ALB answers 504 when the target takes longer than its idle timeout (60 s by default);
/// SNS gives up after 15 s anyway.
const TARGET_TIMEOUT: Duration = Duration::from_secs(60);

struct Running {
    plan: ServicePlan,
    address: String,
    healthy: Arc<AtomicBool>,
    health_checks: tokio::task::JoinHandle<()>,
    // Dropped last: SIGTERM, then SIGKILL, as ECS stops a task.
    _process: ChildProcess,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.health_checks.abort();
    }
}

pub struct Services {
    binaries: PathBuf,
    logs: PathBuf,
    credentials: Arc<CredentialStore>,
    http: reqwest::Client,
    running: Mutex<BTreeMap<String, Running>>,
}

impl Services {
    /// `binaries`: where the workspace binaries are built (`target/<profile>`).
    pub fn new(
        binaries: PathBuf,
        logs: PathBuf,
        credentials: Arc<CredentialStore>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&logs)?;
        Ok(Self {
            binaries,
            logs,
            credentials,
            http: postoffice::https::client_builder().no_proxy().build()?,
            running: Mutex::default(),
        })
    }

    /// Takes the services of a new plan: starts new and changed ones, stops removed ones;
    /// answers the services that cannot run, and why.
    pub fn update(&self, plan: &Plan, authorizer: &Authorizer) -> Vec<String> {
        let mut problems = Vec::new();
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|name, service| plan.services.get(name) == Some(&service.plan));
        let snapshot = authorizer.snapshot();
        for service in plan.services.values() {
            if running.contains_key(&service.name) {
                continue;
            }
            // ECS assumes the task role for the task; a trust policy that does not let it
            // leaves the task without credentials.
            let credentials = match &service.role_arn {
                None => None,
                Some(role) => match authorizer.assume_role(
                    &snapshot,
                    "ecs-tasks.amazonaws.com",
                    role,
                    &service.arn,
                ) {
                    Ok(_) => Some(self.credentials.issue_role_session(role, &service.name)),
                    Err(denial) => {
                        problems.push(format!(
                            "ECS service {}: ECS cannot assume its task role: {}",
                            service.name, denial.explanation
                        ));
                        None
                    }
                },
            };
            match self.start(service, credentials) {
                Ok(started) => {
                    running.insert(service.name.clone(), started);
                }
                Err(error) => problems.push(format!("ECS service {}: {error:#}", service.name)),
            }
        }
        problems
    }

    fn start(
        &self,
        service: &ServicePlan,
        credentials: Option<crate::aws::credentials::Credentials>,
    ) -> anyhow::Result<Running> {
        let binary = self.binaries.join(&service.binary);
        anyhow::ensure!(
            binary.is_file(),
            "its image names {}, which is not a binary of the workspace ({} does not exist)",
            service.binary,
            binary.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let mut command = std::process::Command::new(&binary);
        command
            .env_clear()
            .envs(&service.environment)
            .envs(credentials.iter().flat_map(|c| c.environment()))
            .env("POSTOFFICE_LISTEN_ADDRESS", &address);
        let process = ChildProcess::spawn(
            &service.name,
            command,
            &self.logs.join(format!("{}.log", service.name)),
        )?;
        let healthy = Arc::new(AtomicBool::new(false));
        let health_checks = tokio::spawn(check_health(
            self.http.clone(),
            format!("http://{address}{}", service.health_check_path),
            healthy.clone(),
        ));
        Ok(Running {
            plan: service.clone(),
            address,
            healthy,
            health_checks,
            _process: process,
        })
    }

    /// Whether `service` has a healthy target (what ECS reports as running tasks).
    pub fn is_healthy(&self, service: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(service)
            .is_some_and(|running| running.healthy.load(Ordering::Relaxed))
    }

    /// The load balancer: `request` to a healthy target of `service`, as an ALB answers it.
    pub async fn forward(
        &self,
        service: &str,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let target = {
            let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running
                .get(service)
                .filter(|running| running.healthy.load(Ordering::Relaxed))
                .map(|running| running.address.clone())
        };
        let Some(address) = target else {
            return load_balancer_error(503, "Service Temporarily Unavailable");
        };
        let (parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let mut outgoing = self
            .http
            .request(parts.method.clone(), format!("http://{address}{path}"))
            .timeout(TARGET_TIMEOUT)
            .body(body);
        for (name, value) in &parts.headers {
            outgoing = outgoing.header(name, value);
        }
        match outgoing.send().await {
            Ok(response) => {
                let mut answer = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    answer = answer.header(name, value);
                }
                let body = response.bytes().await.unwrap_or_default();
                answer
                    .body(body)
                    .unwrap_or_else(|_| load_balancer_error(502, "Bad Gateway"))
            }
            Err(error) if error.is_timeout() => load_balancer_error(504, "Gateway Time-out"),
            Err(_) => load_balancer_error(502, "Bad Gateway"),
        }
    }
}

fn load_balancer_error(status: u16, text: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/html")
        .body(Bytes::from(format!(
            "<html><body><center><h1>{status} {text}</h1></center></body></html>"
        )))
        .expect("a static response")
}

async fn check_health(http: reqwest::Client, url: String, healthy: Arc<AtomicBool>) {
    loop {
        let ok = http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        healthy.store(ok, Ordering::Relaxed);
        tokio::time::sleep(HEALTH_CHECK_INTERVAL).await;
    }
}
