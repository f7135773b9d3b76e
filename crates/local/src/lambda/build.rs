//! Building the Lambda binaries: the workspace's function packages and the `postoffice` CLI,
//! built as one package set exactly as `make e2e|demo|bench-e2e` prebuild them
//! (`LOCAL_BINARIES`): cargo unifies features per set of selected packages, so any other set
//! would compile every shared dependency a second time.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// The workspace packages built together: the CLI and every Lambda function.
pub const PACKAGES: &[&str] = &[
    "postoffice-cli",
    "sns-bridge",
    "iot-forwarder",
    "example-kitchen",
    "example-telemetry",
    "collection-unpacker",
    "mobile-sign-in",
    "onboarding",
];

/// The packages that are Lambda functions (each packaged as `<binary>/bootstrap.zip`).
pub const FUNCTIONS: &[&str] = &[
    "sns-bridge",
    "iot-forwarder",
    "example-kitchen",
    "example-telemetry",
    "collection-unpacker",
    "mobile-sign-in",
    "onboarding",
];

/// Builds the packages with `profile`; returns the directory holding the binaries.
pub async fn build(root: &Path, profile: &str, log: &Path) -> anyhow::Result<PathBuf> {
    let mut command = tokio::process::Command::new("cargo");
    command
        .current_dir(root)
        .args(["build", "--bins", "--profile", profile]);
    // Under `cargo run`/`cargo test` this process inherits the package variables of its own
    // crate; build scripts that watch them would rerun and rebuild their dependents.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if is_package_variable(&key) {
            command.env_remove(key.as_ref());
        }
    }
    for package in PACKAGES {
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
    Ok(target_dir.join(if profile == "dev" { "debug" } else { profile }))
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

#[cfg(test)]
mod tests {
    use super::{FUNCTIONS, PACKAGES, is_package_variable};

    fn makefile_packages(variable: &str) -> Vec<String> {
        let makefile = include_str!("../../../../Makefile");
        let line = makefile
            .lines()
            .find(|line| line.starts_with(&format!("{variable} :=")))
            .unwrap_or_else(|| panic!("the Makefile sets {variable}"));
        line.split_whitespace()
            .skip_while(|word| *word != "-p")
            .filter(|word| *word != "-p")
            .map(str::to_owned)
            .collect()
    }

    /// `make local-binaries` / `make package` and the local post office build the same set.
    #[test]
    fn the_packages_are_the_makefiles() {
        assert_eq!(makefile_packages("LOCAL_BINARIES"), PACKAGES);
        assert_eq!(makefile_packages("LAMBDAS"), FUNCTIONS);
    }

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
