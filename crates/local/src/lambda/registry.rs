//! The functions as the Lambda host runs them, from the plan: each function's code extracted
//! from the zip Terraform uploaded, its applied environment, timeout and memory, and credentials
//! of its execution role, issued once the role's trust policy lets Lambda assume it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use postoffice_lambda_host::{Credentials, FunctionConfig, FunctionRef, FunctionRegistry};

use crate::aws::credentials::CredentialStore;
use crate::iam::Authorizer;
use crate::lambda::code::CodeStore;
use crate::plan::{FunctionPlan, Plan};

#[derive(Default)]
struct Registered {
    functions: BTreeMap<String, FunctionConfig>,
    /// Function → its log group.
    log_groups: BTreeMap<String, String>,
    url_ids: BTreeMap<String, String>,
    /// (role ARN, function) → credentials issued, kept across refreshes.
    credentials: BTreeMap<(String, String), Credentials>,
}

pub struct PlanRegistry {
    registered: RwLock<Registered>,
    code: Arc<CodeStore>,
    credentials: Arc<CredentialStore>,
    logs: PathBuf,
}

impl PlanRegistry {
    pub fn new(code: Arc<CodeStore>, credentials: Arc<CredentialStore>, logs: PathBuf) -> Self {
        Self {
            registered: RwLock::default(),
            code,
            credentials,
            logs,
        }
    }

    /// Takes the functions of a new plan; answers the functions that cannot run, and why.
    pub fn update(&self, plan: &Plan, authorizer: &Authorizer) -> Vec<String> {
        let mut problems = Vec::new();
        let snapshot = authorizer.snapshot();
        let mut registered = self.registered.write().unwrap_or_else(|p| p.into_inner());
        let mut functions = BTreeMap::new();
        let mut url_ids = BTreeMap::new();
        let mut log_groups = BTreeMap::new();
        for function in plan.functions.values() {
            let code_dir = match self.code.task_root(&function.code_sha256) {
                Ok(dir) => dir,
                Err(error) => {
                    problems.push(format!("function {}: {error}", function.name));
                    continue;
                }
            };
            // Lambda assumes the execution role; a trust policy that does not let it is
            // refused when the function is created in AWS, and here the function cannot run.
            let credentials = match authorizer.assume_role(
                &snapshot,
                "lambda.amazonaws.com",
                &function.role_arn,
                &function.arn,
            ) {
                Ok(_) => {
                    let key = (function.role_arn.clone(), function.name.clone());
                    Some(
                        registered
                            .credentials
                            .entry(key)
                            .or_insert_with(|| {
                                let issued = self
                                    .credentials
                                    .issue_role_session(&function.role_arn, &function.name);
                                Credentials {
                                    access_key_id: issued.access_key_id,
                                    secret_access_key: issued.secret_access_key,
                                    session_token: issued.session_token,
                                }
                            })
                            .clone(),
                    )
                }
                Err(denial) => {
                    problems.push(format!(
                        "function {}: Lambda cannot assume its role: {}",
                        function.name, denial.explanation
                    ));
                    None
                }
            };
            let config = FunctionConfig {
                name: function.name.clone(),
                arn: function.arn.clone(),
                version: host_version(function),
                code_dir,
                handler: "bootstrap".to_owned(),
                runtime: "provided.al2023".to_owned(),
                environment: function.environment.clone(),
                timeout: function.timeout,
                memory_mb: function.memory_mb,
                reserved_concurrency: function.reserved_concurrency,
                credentials,
                log_file: self.logs.join(format!("{}.log", function.name)),
                log_format: function.log_format,
                tracing: function.tracing,
            };
            if let Some((url_id, _)) = &function.url {
                url_ids.insert(url_id.clone(), function.name.clone());
            }
            functions.insert(function.name.clone(), config);
            log_groups.insert(function.name.clone(), function.log_group.clone());
        }
        registered.functions = functions;
        registered.log_groups = log_groups;
        registered.url_ids = url_ids;
        problems
    }

    /// Each function's log file and the log group Lambda would send its lines to.
    pub fn log_files(&self) -> Vec<(PathBuf, String)> {
        let registered = self.registered.read().unwrap_or_else(|p| p.into_inner());
        registered
            .functions
            .iter()
            .filter_map(|(name, config)| {
                let group = registered.log_groups.get(name)?;
                Some((config.log_file.clone(), group.clone()))
            })
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.registered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .functions
            .keys()
            .cloned()
            .collect()
    }
}

/// The version the host is told a function runs. The host resolves a qualifier only to the
/// configuration's version (or `$LATEST`): naming the alias that runs (which follows `$LATEST`,
/// `plan::served_alias`) lets invocations through it run, with the alias's ARN as their invoked
/// function ARN, as in Lambda.
fn host_version(function: &FunctionPlan) -> String {
    function
        .alias
        .clone()
        .unwrap_or_else(|| "$LATEST".to_owned())
}

impl FunctionRegistry for PlanRegistry {
    fn function(&self, reference: &FunctionRef) -> Option<FunctionConfig> {
        let registered = self.registered.read().unwrap_or_else(|p| p.into_inner());
        registered
            .functions
            .values()
            .find(|config| reference.matches(config))
            .cloned()
    }

    fn function_by_url_id(&self, url_id: &str) -> Option<FunctionConfig> {
        let registered = self.registered.read().unwrap_or_else(|p| p.into_inner());
        registered
            .url_ids
            .get(url_id)
            .and_then(|name| registered.functions.get(name))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:handler";

    fn config(alias: Option<&str>) -> FunctionConfig {
        let plan = FunctionPlan {
            name: "handler".to_owned(),
            arn: ARN.to_owned(),
            role_arn: String::new(),
            environment: BTreeMap::new(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            code_sha256: String::new(),
            reserved_concurrency: None,
            url: None,
            alias: alias.map(str::to_owned),
            log_format: postoffice_lambda_host::LogFormat::Json,
            log_group: "/aws/lambda/handler".to_owned(),
            tracing: postoffice_lambda_host::TracingMode::Active,
        };
        FunctionConfig {
            name: plan.name.clone(),
            arn: plan.arn.clone(),
            version: host_version(&plan),
            code_dir: PathBuf::from("/tmp"),
            handler: "bootstrap".to_owned(),
            runtime: "provided.al2023".to_owned(),
            environment: BTreeMap::new(),
            timeout: plan.timeout,
            memory_mb: plan.memory_mb,
            reserved_concurrency: None,
            credentials: None,
            log_file: PathBuf::from("/tmp/handler.log"),
            log_format: plan.log_format,
            tracing: plan.tracing,
        }
    }

    fn resolves(config: &FunctionConfig, function: &str, qualifier: Option<&str>) -> bool {
        FunctionRef::parse(function, qualifier).is_ok_and(|reference| reference.matches(config))
    }

    #[test]
    fn the_alias_that_runs_resolves_beside_the_function_itself() {
        let embedded = config(Some("sns-endpoint"));
        for (function, qualifier) in [
            ("handler", None),
            ("handler", Some("$LATEST")),
            ("handler", Some("sns-endpoint")),
            ("handler:sns-endpoint", None),
            (&*format!("{ARN}:sns-endpoint"), None),
        ] {
            assert!(
                resolves(&embedded, function, qualifier),
                "{function} {qualifier:?}"
            );
        }
        for (function, qualifier) in [("handler", Some("other")), ("handler", Some("1"))] {
            assert!(
                !resolves(&embedded, function, qualifier),
                "{function} {qualifier:?}"
            );
        }
        let plain = config(None);
        assert!(resolves(&plain, "handler", None));
        assert!(!resolves(&plain, "handler", Some("sns-endpoint")));
    }
}
