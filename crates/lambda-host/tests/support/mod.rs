//! A task root holding the test function as `bootstrap`, and its configuration.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postoffice_lambda_host::{
    Credentials, FunctionConfig, HostConfig, InMemoryRegistry, LambdaHost,
};

pub const TEST_FUNCTION: &str = env!("CARGO_BIN_EXE_lambda-host-test-function");
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

/// A deployment package: a directory with `bootstrap` linked to the test function.
pub struct TaskRoot {
    pub dir: tempfile::TempDir,
}

impl TaskRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(TEST_FUNCTION, dir.path().join("bootstrap")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("logs/function.log")
    }

    pub fn config(&self, name: &str) -> FunctionConfig {
        FunctionConfig {
            name: name.to_owned(),
            arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            version: "$LATEST".into(),
            code_dir: self.path().to_path_buf(),
            handler: "bootstrap".into(),
            runtime: "provided.al2023".into(),
            environment: BTreeMap::from([("POSTOFFICE_MARK".into(), "one".into())]),
            timeout: Duration::from_secs(10),
            memory_mb: 128,
            reserved_concurrency: None,
            credentials: Some(Credentials {
                access_key_id: "AKIDTEST".into(),
                secret_access_key: "secret-for-tests".into(),
                session_token: Some("token-for-tests".into()),
            }),
            log_file: self.log(),
            log_format: postoffice_lambda_host::LogFormat::Text,
            tracing: postoffice_lambda_host::TracingMode::PassThrough,
        }
    }
}

pub fn host_with(
    configs: Vec<FunctionConfig>,
    host_config: HostConfig,
) -> (LambdaHost, Arc<InMemoryRegistry>) {
    let registry = Arc::new(InMemoryRegistry::new());
    for config in configs {
        registry.put(config);
    }
    (LambdaHost::new(registry.clone(), host_config), registry)
}

pub fn host(configs: Vec<FunctionConfig>) -> (LambdaHost, Arc<InMemoryRegistry>) {
    host_with(configs, HostConfig::default())
}

pub fn process_alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split_whitespace().nth(2) == Some("Z"))
}

pub async fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// A plain HTTP/1.1 client (the workspace's reqwest wants a TLS provider even for http://).
pub type PlainClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    axum::body::Body,
>;

pub fn plain_client() -> PlainClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

pub async fn send(
    client: &PlainClient,
    request: http::Request<bytes::Bytes>,
) -> Result<http::Response<bytes::Bytes>, String> {
    let response = client
        .request(request.map(axum::body::Body::from))
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(axum::body::Body::new(body), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    Ok(http::Response::from_parts(parts, body))
}
