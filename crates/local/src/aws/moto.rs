//! moto server, the control plane: where every resource Terraform creates lives. It is started
//! with AWS's managed policies loaded (roles attach `AWSXRayDaemonWriteAccess`) and with IoT
//! certificate ids computed as AWS computes them (SHA-256 of the DER), which the gateway
//! recomputes from the certificate a device presents.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::ControlPlaneAnswer;
use super::request::AwsRequest;
use crate::process::ChildProcess;

/// Passes requests on to moto, unchanged. moto serves requests on threads, and its service
/// backends are not thread-safe: a lookup that scans a service's registry while another request
/// adds to it fails with a 500 ("OrderedDict mutated during iteration", seen registering a fleet
/// of 10,000 devices 16 at a time). So a mutation of a service waits for that service's other
/// requests and runs alone; reads run together.
#[derive(Clone)]
pub struct MotoClient {
    base_url: String,
    http: reqwest::Client,
    services: Arc<Mutex<HashMap<String, Arc<tokio::sync::RwLock<()>>>>>,
}

impl MotoClient {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: postoffice::https::client_builder()
                .no_proxy()
                .pool_max_idle_per_host(32)
                .timeout(Duration::from_secs(120))
                .build()?,
            services: Arc::default(),
        })
    }

    /// The lock of one service's backend in moto.
    fn service_lock(&self, service: &str) -> Arc<tokio::sync::RwLock<()>> {
        self.services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(service.to_owned())
            .or_default()
            .clone()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Calls a JSON-protocol action of moto as the account (moto reads the service and region
    /// from the credential scope and checks no signature): for local services that need
    /// moto's state (a user pool client's settings, an identity pool's providers).
    pub async fn json_action(
        &self,
        service: &str,
        region: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(StatusCode, serde_json::Value)> {
        let date = chrono::Utc::now().format("%Y%m%d");
        let response = self
            .http
            .post(format!("{}/", self.base_url))
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=local/{date}/{region}/{service}/aws4_request, SignedHeaders=host, Signature=local"
                ),
            )
            .body(body.to_string())
            .send()
            .await?;
        let status = StatusCode::from_u16(response.status().as_u16())?;
        let answer = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, answer))
    }

    /// A JSON document moto serves by path (a user pool's `/.well-known/jwks.json`).
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    pub async fn forward(&self, request: &AwsRequest) -> anyhow::Result<ControlPlaneAnswer> {
        let mut url = format!("{}{}", self.base_url, request.raw_path);
        if let Some(query) = &request.raw_query {
            url.push('?');
            url.push_str(query);
        }
        let mut outgoing = self
            .http
            .request(request.method.clone(), url)
            .body(request.body.clone());
        for (name, values) in &request.headers {
            if matches!(
                name.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            ) {
                continue;
            }
            for value in values {
                outgoing = outgoing.header(name, value);
            }
        }
        let lock = self.service_lock(request.service().unwrap_or_default());
        let (_read, _write) = if request.is_mutation() {
            (None, Some(lock.write().await))
        } else {
            (Some(lock.read().await), None)
        };
        let response = outgoing.send().await?;
        let status = StatusCode::from_u16(response.status().as_u16())?;
        let mut headers = HeaderMap::new();
        for (name, value) in response.headers() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(name, value);
            }
        }
        let body = response.bytes().await?;
        Ok(ControlPlaneAnswer {
            status,
            headers,
            body,
        })
    }
}

/// Starts `moto_server` on 127.0.0.1:`port` and waits until it answers and is configured.
pub async fn start(moto_server: &Path, port: u16, log: &Path) -> anyhow::Result<ChildProcess> {
    if !moto_server.exists() {
        bail!(
            "{} is missing: run `make setup` (it installs moto into .venv)",
            moto_server.display()
        );
    }
    // moto's configuration API cannot switch IoT to AWS's certificate ids; its Python can,
    // before the server starts. The interpreter is the one moto_server's script runs with.
    let python = moto_server.with_file_name("python3");
    let mut command = std::process::Command::new(&python);
    command
        .args([
            "-c",
            "import sys\n\
             from moto.core.config import default_user_config\n\
             default_user_config['iot']['use_valid_cert'] = True\n\
             from moto.server import main\n\
             main(sys.argv[1:])",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
    let mut child = ChildProcess::spawn("moto", command, log)?;
    let http = postoffice::https::client_builder().no_proxy().build()?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match http.get(format!("{base}/moto-api/")).send().await {
            Ok(response) if response.status().is_success() => break,
            _ if Instant::now() > deadline => {
                bail!("moto did not start within 60 s (log: {})", log.display())
            }
            _ => {
                if let Some(status) = child.exited() {
                    bail!("moto exited with {status} (log: {})", log.display());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(child)
}
