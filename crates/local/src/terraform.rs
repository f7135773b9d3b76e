//! `terraform apply` of the project's own root module against the local AWS endpoint: the same
//! modules and inputs that go to AWS, with only the provider's endpoints, credentials and CA
//! bundle overridden (`local_override.tf`, which Terraform merges into the provider block) and
//! the inputs only a deployment knows (`local.auto.tfvars.json`). The state lives in the run
//! directory, with a copy of `terraform/` that a test may change first (a mutated copy).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::aws::credentials::Credentials;

/// Every AWS service the modules use; each gets the local endpoint.
const PROVIDER_SERVICES: &[&str] = &[
    "acm",
    "cloudwatch",
    "cloudwatchlogs",
    "cognitoidentity",
    "cognitoidp",
    "dynamodb",
    "ec2",
    "ecs",
    "elbv2",
    "firehose",
    "glue",
    "iam",
    "iot",
    "kms",
    "lambda",
    "s3",
    "sns",
    "sqs",
    "sts",
];

/// The root module to apply and what it needs.
#[derive(Debug, Clone)]
pub struct Apply {
    /// The copy of `terraform/` in the run directory.
    pub terraform_dir: PathBuf,
    /// The root module inside it (`examples/complete`).
    pub root_module: PathBuf,
    /// Inputs (`local.auto.tfvars.json`).
    pub variables: serde_json::Value,
    pub endpoint: String,
    pub ca_bundle: PathBuf,
    pub region: String,
    /// Where providers are found offline and cached between runs.
    pub provider_mirror: PathBuf,
    pub plugin_cache: PathBuf,
    pub log: PathBuf,
    pub parallelism: u32,
}

/// Copies `source` (the repository's `terraform/`) into `destination`, without local state.
pub fn copy_modules(source: &Path, destination: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(destination)?;
    for entry in
        std::fs::read_dir(source).with_context(|| format!("reading {}", source.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text == ".terraform"
            || name_text.ends_with(".tfstate")
            || name_text.contains(".tfstate.")
        {
            continue;
        }
        let target = destination.join(&name);
        if entry.file_type()?.is_dir() {
            copy_modules(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The provider override: every service at the local endpoint, trusting the local CA.
pub fn provider_override(endpoint: &str, ca_bundle: &Path) -> String {
    let endpoints: String = PROVIDER_SERVICES
        .iter()
        .map(|service| format!("    {service} = \"{endpoint}\"\n"))
        .collect();
    format!(
        "# Written by the local post office: the provider talks to the local AWS endpoint.\n\
         provider \"aws\" {{\n  \
           custom_ca_bundle            = \"{}\"\n  \
           skip_metadata_api_check     = true\n  \
           s3_use_path_style           = true\n  \
           endpoints {{\n{endpoints}  }}\n\
         }}\n",
        ca_bundle.display()
    )
}

impl Apply {
    fn cli_config(&self) -> String {
        format!(
            "plugin_cache_dir = \"{}\"\n\
             provider_installation {{\n  \
               filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n  \
               direct {{\n    exclude = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n\
             }}\n",
            self.plugin_cache.display(),
            self.provider_mirror.display()
        )
    }

    /// Runs `terraform init` and `terraform apply`; on failure, the error carries the end of
    /// Terraform's output.
    pub async fn run(&self, administrator: &Credentials) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.plugin_cache)?;
        let root = &self.root_module;
        std::fs::write(
            root.join("local_override.tf"),
            provider_override(&self.endpoint, &self.ca_bundle),
        )?;
        std::fs::write(
            root.join("local.auto.tfvars.json"),
            serde_json::to_string_pretty(&self.variables)?,
        )?;
        let cli_config = self.terraform_dir.join("terraformrc");
        std::fs::write(&cli_config, self.cli_config())?;
        self.terraform(
            &["init", "-input=false", "-no-color"],
            &cli_config,
            administrator,
        )
        .await?;
        self.terraform(
            &[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                &format!("-parallelism={}", self.parallelism),
            ],
            &cli_config,
            administrator,
        )
        .await
    }

    /// What a new `terraform plan` would change (`None` when nothing: the apply converged, as it
    /// does against AWS).
    pub async fn pending_changes(
        &self,
        administrator: &Credentials,
    ) -> anyhow::Result<Option<String>> {
        let cli_config = self.terraform_dir.join("terraformrc");
        let output = self
            .command(
                &[
                    "plan",
                    "-detailed-exitcode",
                    "-input=false",
                    "-no-color",
                    &format!("-parallelism={}", self.parallelism),
                ],
                &cli_config,
                administrator,
            )
            .output()
            .await?;
        match output.status.code() {
            Some(0) => Ok(None),
            Some(2) => Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned())),
            _ => bail!(
                "terraform plan failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    /// `terraform output -json`.
    pub async fn outputs(&self, administrator: &Credentials) -> anyhow::Result<serde_json::Value> {
        let cli_config = self.terraform_dir.join("terraformrc");
        let output = self
            .command(
                &["output", "-json", "-no-color"],
                &cli_config,
                administrator,
            )
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "terraform output failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    fn command(
        &self,
        arguments: &[&str],
        cli_config: &Path,
        administrator: &Credentials,
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("terraform");
        command
            .current_dir(&self.root_module)
            .args(arguments)
            .env("TF_CLI_CONFIG_FILE", cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_WORKSPACE")
            .env("AWS_REGION", &self.region)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .kill_on_drop(true);
        // Credentials through the environment, never on a command line.
        for (name, value) in administrator.environment() {
            command.env(name, value);
        }
        command
    }

    async fn terraform(
        &self,
        arguments: &[&str],
        cli_config: &Path,
        administrator: &Credentials,
    ) -> anyhow::Result<()> {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let written_before = log.metadata().map(|m| m.len()).unwrap_or_default();
        let status = self
            .command(arguments, cli_config, administrator)
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .await
            .context("running terraform (is it installed?)")?;
        if !status.success() {
            bail!(
                "terraform {} failed (log: {}):\n{}",
                arguments[0],
                self.log.display(),
                log_tail(&self.log, written_before, 60)
            );
        }
        Ok(())
    }
}

/// The inputs the local deployment gives the complete example.
pub fn local_variables(
    lambda_zips: &Path,
    prefix: &str,
    region: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut variables = json!({
        "region": region,
        "prefix": prefix,
        "lambda_zips": lambda_zips,
    });
    if let (Some(variables), Some(extra)) = (variables.as_object_mut(), extra.as_object()) {
        for (name, value) in extra {
            variables.insert(name.clone(), value.clone());
        }
    }
    variables
}

/// The last `lines` lines a command wrote to a log from byte `from` on, for error messages.
pub fn log_tail(path: &Path, from: u64, lines: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(from).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How long an apply may take before it is given up (SNS confirmations wait up to minutes in
/// AWS; locally everything answers at once or not at all).
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_points_at_the_local_endpoint() {
        let text = provider_override("https://127.0.0.1:4566", Path::new("/run/tls/ca.pem"));
        assert!(text.contains("custom_ca_bundle            = \"/run/tls/ca.pem\""));
        for service in PROVIDER_SERVICES {
            assert!(
                text.contains(&format!("    {service} = \"https://127.0.0.1:4566\"")),
                "{service}: {text}"
            );
        }
        assert!(!text.contains("secret"), "no credentials in files: {text}");
    }

    #[test]
    fn copies_leave_local_state_behind() {
        let source = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(source.path().join("examples/complete/.terraform")).unwrap();
        std::fs::write(source.path().join("examples/complete/main.tf"), "x").unwrap();
        std::fs::write(
            source.path().join("examples/complete/terraform.tfstate"),
            "{}",
        )
        .unwrap();
        let destination = tempfile::tempdir().unwrap();
        copy_modules(source.path(), destination.path()).unwrap();
        assert!(
            destination
                .path()
                .join("examples/complete/main.tf")
                .exists()
        );
        assert!(
            !destination
                .path()
                .join("examples/complete/.terraform")
                .exists()
        );
        assert!(
            !destination
                .path()
                .join("examples/complete/terraform.tfstate")
                .exists()
        );
    }
}
