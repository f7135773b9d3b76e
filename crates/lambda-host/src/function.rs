//! What the embedder tells the host about its functions: their configuration as Terraform
//! applied it, looked up by name, ARN, partial ARN or function URL id.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use crate::error::LambdaHostError;
use crate::system_log::LogFormat;

/// Lambda's timeout range ([quotas](https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// Lambda's memory range, in MB ([quotas](https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)).
pub const MEMORY_RANGE_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// One function's configuration. New configuration or code applies to instances started after
/// the registry returns it; running instances finish their invocation and retire.
#[derive(Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    pub name: String,
    /// Unqualified: `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
    pub arn: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// The extracted deployment package: the task root, where `bootstrap` is.
    pub code_dir: PathBuf,
    pub handler: String,
    /// `provided.al2023` (or `provided.al2`, `provided`): the only runtimes run here.
    pub runtime: String,
    /// The function's own variables; Lambda's reserved ones cannot be overridden.
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// `None`: the function uses the host's unreserved capacity.
    pub reserved_concurrency: Option<u32>,
    /// The execution role's credentials, given to instances only through their environment.
    pub credentials: Option<Credentials>,
    /// Where the instances' stdout and stderr, and the host's system log records, are appended.
    pub log_file: PathBuf,
    /// The format of the system log records (`LoggingConfig.LogFormat`).
    pub log_format: LogFormat,
    /// `TracingConfig.Mode`: whether the function samples requests that arrive undecided.
    pub tracing: crate::TracingMode,
}

impl fmt::Debug for FunctionConfig {
    // Environment values may be secrets: only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionConfig")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("version", &self.version)
            .field("code_dir", &self.code_dir)
            .field("handler", &self.handler)
            .field("runtime", &self.runtime)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("memory_mb", &self.memory_mb)
            .field("reserved_concurrency", &self.reserved_concurrency)
            .field("credentials", &self.credentials)
            .field("log_file", &self.log_file)
            .field("log_format", &self.log_format)
            .field("tracing", &self.tracing)
            .finish()
    }
}

impl FunctionConfig {
    /// The region and account of the function's ARN.
    pub fn parsed_arn(&self) -> Result<FunctionArn, LambdaHostError> {
        FunctionArn::parse(&self.arn)
            .filter(|arn| arn.name == self.name && arn.qualifier.is_none())
            .ok_or_else(|| {
                LambdaHostError::invalid(
                    format!("{}: arn", self.name),
                    format!(
                        "{:?} is not the unqualified ARN of function {} (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                        self.arn, self.name
                    ),
                )
            })
    }

    /// Checks the configuration against Lambda's rules, naming the first field that breaks one.
    pub fn validate(&self) -> Result<FunctionArn, LambdaHostError> {
        let field = |name: &str| format!("{}: {name}", self.name);
        let arn = self.parsed_arn()?;
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(LambdaHostError::invalid(
                field("timeout"),
                format!("{:?} is outside Lambda's 1-900 s", self.timeout),
            ));
        }
        if !MEMORY_RANGE_MB.contains(&self.memory_mb) {
            return Err(LambdaHostError::invalid(
                field("memory_mb"),
                format!("{} is outside Lambda's 128-10240 MB", self.memory_mb),
            ));
        }
        if let Some(problem) = crate::environment::check_function_environment(&self.environment) {
            return Err(LambdaHostError::invalid(field("environment"), problem));
        }
        if let Some(key) = crate::environment::reserved_keys(&self.environment).first() {
            return Err(LambdaHostError::invalid(
                field("environment"),
                format!("{key} is reserved by Lambda and cannot be set"),
            ));
        }
        Ok(arn)
    }
}

/// Role credentials. `Debug` never shows the secret or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A function ARN's parts: `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionArn {
    pub fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.split(':');
        let (Some("arn"), Some(partition), Some("lambda"), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let (Some("function"), Some(name)) = (parts.next(), parts.next()) else {
            return None;
        };
        let qualifier = parts.next().map(str::to_owned);
        if parts.next().is_some() || !is_function_name(name) || region.is_empty() {
            return None;
        }
        Some(Self {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
            qualifier,
        })
    }
}

/// How a caller named a function: a name, an ARN or a partial ARN
/// ([Invoke `FunctionName`](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_RequestParameters)),
/// possibly qualified by a version or alias (in the name or as `Qualifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    /// `my-function`, `my-function:v1`, `123456789012:function:my-function`,
    /// `arn:aws:lambda:us-west-2:123456789012:function:my-function[:v1]`.
    pub fn parse(function: &str, qualifier: Option<&str>) -> Result<Self, LambdaHostError> {
        let invalid = || {
            LambdaHostError::invalid(
                "FunctionName",
                format!(
                    "{function:?} is not a function name, ARN or partial ARN (ACCOUNT:function:NAME)"
                ),
            )
        };
        let mut reference = if function.starts_with("arn:") {
            let arn = FunctionArn::parse(function).ok_or_else(invalid)?;
            Self {
                name: arn.name,
                account: Some(arn.account),
                region: Some(arn.region),
                qualifier: arn.qualifier,
            }
        } else {
            let parts: Vec<&str> = function.split(':').collect();
            match parts.as_slice() {
                [name] => Self::named(name, None),
                [name, qualifier] => Self::named(name, Some(qualifier)),
                [account, "function", name] => Self {
                    account: Some((*account).to_owned()),
                    ..Self::named(name, None)
                },
                [account, "function", name, qualifier] => Self {
                    account: Some((*account).to_owned()),
                    ..Self::named(name, Some(qualifier))
                },
                _ => return Err(invalid()),
            }
        };
        if !is_function_name(&reference.name)
            || reference
                .account
                .as_deref()
                .is_some_and(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
            || reference.qualifier.as_deref() == Some("")
        {
            return Err(invalid());
        }
        if let Some(explicit) = qualifier {
            match &reference.qualifier {
                Some(in_name) if in_name != explicit => {
                    return Err(LambdaHostError::invalid(
                        "Qualifier",
                        format!(
                            "{explicit:?} differs from the qualifier {in_name:?} in the function name"
                        ),
                    ));
                }
                _ => reference.qualifier = Some(explicit.to_owned()),
            }
        }
        Ok(reference)
    }

    fn named(name: &str, qualifier: Option<&&str>) -> Self {
        Self {
            name: name.to_owned(),
            account: None,
            region: None,
            qualifier: qualifier.map(|q| (*q).to_owned()),
        }
    }

    /// Whether `config` is the function this reference names (account and region included
    /// when given; the qualifier must be `$LATEST` or the configuration's version).
    pub fn matches(&self, config: &FunctionConfig) -> bool {
        let Ok(arn) = config.parsed_arn() else {
            return false;
        };
        self.name == config.name
            && self.account.as_ref().is_none_or(|a| *a == arn.account)
            && self.region.as_ref().is_none_or(|r| *r == arn.region)
            && self
                .qualifier
                .as_ref()
                .is_none_or(|q| q == "$LATEST" || *q == config.version)
    }
}

fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where the host looks functions up, on every invocation: return the configuration as it is
/// now. Keep an in-memory view; this is called on the invoke path.
pub trait FunctionRegistry: Send + Sync + 'static {
    /// The function `reference` names, if it exists.
    fn function(&self, reference: &FunctionRef) -> Option<FunctionConfig>;
    /// The function whose URL has this id (`<url-id>.lambda-url.<region>.on.aws`).
    fn function_by_url_id(&self, url_id: &str) -> Option<FunctionConfig>;
}

/// A registry the embedder fills and updates: functions by name, and URL ids.
#[derive(Debug, Default)]
pub struct InMemoryRegistry {
    functions: RwLock<BTreeMap<String, FunctionConfig>>,
    url_ids: RwLock<BTreeMap<String, String>>,
}

impl InMemoryRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a function's configuration.
    pub fn put(&self, config: FunctionConfig) {
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(config.name.clone(), config);
    }

    pub fn remove(&self, name: &str) {
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// Gives function `name` a function URL with this id.
    pub fn put_url(&self, url_id: &str, name: &str) {
        self.url_ids
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url_id.to_owned(), name.to_owned());
    }
}

impl FunctionRegistry for InMemoryRegistry {
    fn function(&self, reference: &FunctionRef) -> Option<FunctionConfig> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&reference.name)
            .filter(|config| reference.matches(config))
            .cloned()
    }

    fn function_by_url_id(&self, url_id: &str) -> Option<FunctionConfig> {
        let name = self
            .url_ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(url_id)
            .cloned()?;
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FunctionConfig {
        FunctionConfig {
            name: "kitchen".into(),
            arn: "arn:aws:lambda:eu-west-1:123456789012:function:kitchen".into(),
            version: "$LATEST".into(),
            code_dir: "/tmp".into(),
            handler: "bootstrap".into(),
            runtime: "provided.al2023".into(),
            environment: BTreeMap::new(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            reserved_concurrency: None,
            credentials: None,
            log_file: "/tmp/log".into(),
            log_format: LogFormat::Text,
            tracing: crate::TracingMode::PassThrough,
        }
    }

    #[test]
    fn names_arns_and_partial_arns_name_the_same_function() {
        for name in [
            "kitchen",
            "kitchen:$LATEST",
            "123456789012:function:kitchen",
            "arn:aws:lambda:eu-west-1:123456789012:function:kitchen",
            "arn:aws:lambda:eu-west-1:123456789012:function:kitchen:$LATEST",
        ] {
            let reference = FunctionRef::parse(name, None).unwrap();
            assert!(reference.matches(&config()), "{name}");
        }
        for other in [
            "kitchen:7",
            "210987654321:function:kitchen",
            "arn:aws:lambda:us-east-1:123456789012:function:kitchen",
            "telemetry",
        ] {
            let reference = FunctionRef::parse(other, None).unwrap();
            assert!(!reference.matches(&config()), "{other}");
        }
    }

    #[test]
    fn malformed_function_names_are_refused_by_name() {
        for bad in [
            "",
            "a b",
            "1234:function:kitchen",
            "arn:aws:s3:::bucket",
            "x:y:z",
        ] {
            let error = FunctionRef::parse(bad, None).unwrap_err();
            assert_eq!(error.error_code(), "InvalidParameterValueException");
            assert!(error.to_string().contains("FunctionName"), "{error}");
        }
        let error = FunctionRef::parse("kitchen:1", Some("2")).unwrap_err();
        assert!(error.to_string().starts_with("Qualifier"), "{error}");
    }

    #[test]
    fn validation_names_the_field_that_breaks_a_rule() {
        let mut bad = config();
        bad.timeout = Duration::from_secs(901);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("kitchen: timeout")
        );
        let mut bad = config();
        bad.memory_mb = 64;
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("memory_mb")
        );
        let mut bad = config();
        bad.environment.insert("AWS_REGION".into(), "x".into());
        let error = bad.validate().unwrap_err().to_string();
        assert!(error.contains("AWS_REGION is reserved"), "{error}");
        let mut bad = config();
        bad.arn = "arn:aws:lambda:eu-west-1:123456789012:function:other".into();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("kitchen: arn")
        );
        assert_eq!(config().validate().unwrap().region, "eu-west-1");
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut with_secrets = config();
        with_secrets.credentials = Some(Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI".into(),
            session_token: Some("FwoGZXIvYXdzEXAMPLETOKEN".into()),
        });
        with_secrets
            .environment
            .insert("DB_PASSWORD".into(), "hunter2".into());
        let shown = format!("{with_secrets:?}");
        assert!(shown.contains("AKIDEXAMPLE") && shown.contains("DB_PASSWORD"));
        for secret in ["wJalrXUtnFEMI", "FwoGZXIvYXdzEXAMPLETOKEN", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
