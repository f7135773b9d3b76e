//! The Lambdas, run for real: `cargo lambda watch -A 127.0.0.1 --only-lambda-apis` serves the
//! Lambda Invoke API and function URLs, and the post office runs the function binaries itself
//! against its runtime API.
//!
//! Why not let `cargo lambda watch` start them: it gives every function of one watch process the
//! same environment, while each consumer's bridge needs its own `POSTOFFICE_HANDLER_FUNCTION`
//! and `POSTOFFICE_ALLOWED_TOPIC_ARNS`; and it starts each instance with `cargo run`, which
//! waits for the build lock and rebuilds whatever changed in the tree since. So: one watch
//! process serves the handlers (their environment is common), one more per consumer serves that
//! consumer's bridge, and every instance runs a binary built once at start-up and hard-linked
//! into the run directory, unaffected by later builds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::process::{ChildProcess, Supervisor};

/// The workspace packages whose binaries the local post office runs, plus the `postoffice` CLI
/// its users run against it. Built as one set, exactly as `make e2e|demo|bench-e2e` prebuild
/// them (`LOCAL_BINARIES`): cargo unifies features per set of selected packages, so any other
/// set would compile every shared dependency a second time.
pub const LAMBDA_PACKAGES: &[&str] = &[
    "postoffice-cli",
    "sns-bridge",
    "iot-forwarder",
    "example-kitchen",
    "example-telemetry",
];
pub const BRIDGE_BINARY: &str = "sns-bridge";

/// Builds the Lambda binaries and links them into `bin_dir`.
pub async fn build(
    root: &Path,
    profile: &str,
    binaries: &[String],
    bin_dir: &Path,
    log: &Path,
) -> anyhow::Result<()> {
    let mut command = tokio::process::Command::new("cargo");
    command
        .current_dir(root)
        .args(["build", "--bins", "--profile", profile]);
    // Under `cargo run`/`cargo test` this process inherits the package variables of its own
    // crate; build scripts that watch them (ring's does) would rerun and rebuild their dependents.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if is_package_variable(&key) {
            command.env_remove(key.as_ref());
        }
    }
    for package in LAMBDA_PACKAGES {
        command.args(["-p", package]);
    }
    let out = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)?;
    let status = command
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .await
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the Lambdas failed (log: {})", log.display());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    std::fs::create_dir_all(bin_dir)?;
    for binary in binaries {
        let profile_dir = if profile == "dev" { "debug" } else { profile };
        let built = target_dir.join(profile_dir).join(binary);
        let linked = bin_dir.join(binary);
        if std::fs::hard_link(&built, &linked).is_err() {
            std::fs::copy(&built, &linked).with_context(|| {
                format!(
                    "{} was not built; is it a binary of {LAMBDA_PACKAGES:?}?",
                    built.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Variables cargo sets for the crate it builds or runs, not for the cargo it is run by.
fn is_package_variable(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_MANIFEST_")
        || key.starts_with("CARGO_BIN_")
        || matches!(
            key,
            "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
        )
}

/// A Lambda function: its binary and its configuration.
pub struct Function {
    /// The binary, which is also the name it is invoked by.
    pub binary: String,
    /// The function name in AWS (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    pub env: BTreeMap<String, String>,
}

/// One `cargo lambda watch --only-lambda-apis` and the function instances it serves.
pub struct LambdaHost {
    pub name: String,
    pub port: u16,
    pub functions: Vec<Function>,
    pub concurrency: u32,
}

impl LambdaHost {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn start(
        &self,
        supervisor: &mut Supervisor,
        cargo_lambda: &Path,
        root: &Path,
        run_dir: &Path,
    ) -> anyhow::Result<()> {
        let logs = run_dir.join("logs");
        let mut command = std::process::Command::new(cargo_lambda);
        command
            .current_dir(root)
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
            .arg("-P")
            .arg(self.port.to_string());
        supervisor.add(ChildProcess::spawn(
            &self.name,
            command,
            &logs.join(format!("{}.log", self.name)),
        )?);
        wait_for_port(self.port, Duration::from_secs(60))
            .await
            .with_context(|| format!("{} did not start listening", self.name))?;
        for function in &self.functions {
            for instance in 1..=self.concurrency {
                let mut command =
                    std::process::Command::new(run_dir.join("bin").join(&function.binary));
                command
                    .current_dir(run_dir)
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .envs(&function.env)
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("{}/.rt/{}", self.endpoint(), function.binary),
                    )
                    .env("AWS_LAMBDA_FUNCTION_NAME", &function.name)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
                supervisor.add(ChildProcess::spawn(
                    &format!("{} #{instance}", function.name),
                    command,
                    &logs.join(format!("{}.log", function.name)),
                )?);
            }
        }
        Ok(())
    }
}

async fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("nothing listens on 127.0.0.1:{port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Invokes `function` with an empty event until an instance answers (a handler rejects the
/// empty event; any answer means it runs).
pub async fn warm_up(
    http: &reqwest::Client,
    endpoint: &str,
    function: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let url = format!("{endpoint}/2015-03-31/functions/{function}/invocations");
    let deadline = Instant::now() + timeout;
    loop {
        let answer = http
            .post(&url)
            .timeout(Duration::from_secs(30))
            .body("{}")
            .send()
            .await;
        match answer {
            Ok(response) if response.status().as_u16() != 404 => return Ok(()),
            Ok(response) if Instant::now() >= deadline => {
                bail!(
                    "{function} is not served at {endpoint}: {}",
                    response.status()
                )
            }
            Err(error) if Instant::now() >= deadline => {
                return Err(error).with_context(|| format!("{function} never answered"));
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub fn cargo_lambda(root: &Path) -> PathBuf {
    root.join(".venv/bin/cargo-lambda")
}

#[cfg(test)]
mod tests {
    use super::is_package_variable;

    #[test]
    fn only_the_variables_of_the_running_crate_are_dropped() {
        for key in [
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
            "CARGO_CRATE_NAME",
            "OUT_DIR",
        ] {
            assert!(is_package_variable(key), "{key}");
        }
        for key in ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_TERM_COLOR", "PATH"] {
            assert!(!is_package_variable(key), "{key}");
        }
    }
}
