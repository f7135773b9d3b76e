//! The environment an instance starts with: exactly what Lambda defines, plus the function's own
//! variables ([defined runtime environment variables](https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)).

use std::collections::BTreeMap;

use crate::function::{FunctionArn, FunctionConfig};

/// Keys Lambda sets and a function's configuration cannot
/// ([reserved](https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)).
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Lambda's runtime directory; it does not exist here, but runtimes may read the variable.
const RUNTIME_DIR: &str = "/var/runtime";
/// Lambda's total size quota for a function's variables.
const MAX_FUNCTION_ENVIRONMENT_BYTES: usize = 4 * 1024;

/// The reserved keys a function's variables try to set.
pub fn reserved_keys(environment: &BTreeMap<String, String>) -> Vec<&str> {
    environment
        .keys()
        .map(String::as_str)
        .filter(|key| RESERVED_VARIABLES.contains(key))
        .collect()
}

/// Lambda's rules for keys (a letter first, at least two of `A-Z a-z 0-9 _`) and the 4 KB total.
pub fn check_function_environment(environment: &BTreeMap<String, String>) -> Option<String> {
    for key in environment.keys() {
        let well_formed = key.len() >= 2
            && key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return Some(format!(
                "{key:?} is not a valid key: a letter first, then letters, digits or _, at least two characters"
            ));
        }
    }
    let size: usize = environment.iter().map(|(k, v)| k.len() + v.len()).sum();
    (size > MAX_FUNCTION_ENVIRONMENT_BYTES).then(|| {
        format!("the variables take {size} bytes, over Lambda's {MAX_FUNCTION_ENVIRONMENT_BYTES}")
    })
}

/// Everything an instance of `config` sees: Lambda's defined variables, then the function's,
/// which may extend the unreserved ones (`PATH`, `LANG`, `LD_LIBRARY_PATH`, `TZ`) but never
/// replace a reserved one.
pub fn instance_environment(
    config: &FunctionConfig,
    arn: &FunctionArn,
    runtime_api: &str,
    log_stream: &str,
) -> BTreeMap<String, String> {
    let task_root = config.code_dir.to_string_lossy().into_owned();
    let mut environment: BTreeMap<String, String> = [
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
        (
            "LD_LIBRARY_PATH",
            format!(
                "/lib64:/usr/lib64:{RUNTIME_DIR}:{RUNTIME_DIR}/lib:{task_root}:{task_root}/lib:/opt/lib"
            ),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in &config.environment {
        if !RESERVED_VARIABLES.contains(&key.as_str()) {
            environment.insert(key.clone(), value.clone());
        }
    }
    let mut reserved = vec![
        ("_HANDLER", config.handler.clone()),
        ("AWS_REGION", arn.region.clone()),
        ("AWS_DEFAULT_REGION", arn.region.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", config.version.clone()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", config.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_owned()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("LAMBDA_TASK_ROOT", task_root),
        ("LAMBDA_RUNTIME_DIR", RUNTIME_DIR.to_owned()),
    ];
    // OS-only runtimes have no runtime identifier; managed runtimes get `AWS_Lambda_<runtime>`.
    if !config.runtime.starts_with("provided") {
        reserved.push((
            "AWS_EXECUTION_ENV",
            format!("AWS_Lambda_{}", config.runtime),
        ));
    }
    if let Some(credentials) = &config.credentials {
        reserved.push(("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()));
        reserved.push((
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.clone(),
        ));
        if let Some(token) = &credentials.session_token {
            reserved.push(("AWS_SESSION_TOKEN", token.clone()));
        }
    }
    for (key, value) in reserved {
        environment.insert(key.to_owned(), value);
    }
    environment
}

/// A log stream name in Lambda's shape: `YYYY/MM/DD/[VERSION]<32 hex>`.
pub fn log_stream_name(version: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}/[{version}]{}",
        now.format("%Y/%m/%d"),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::function::Credentials;

    fn config() -> FunctionConfig {
        FunctionConfig {
            name: "kitchen".into(),
            arn: "arn:aws:lambda:eu-west-1:123456789012:function:kitchen".into(),
            version: "$LATEST".into(),
            code_dir: "/srv/task".into(),
            handler: "bootstrap".into(),
            runtime: "provided.al2023".into(),
            environment: BTreeMap::from([
                ("KITCHEN_RECIPES_DIR".into(), "/srv/recipes".into()),
                ("PATH".into(), "/srv/bin".into()),
                ("AWS_REGION".into(), "mars-1".into()),
            ]),
            timeout: Duration::from_secs(3),
            memory_mb: 256,
            reserved_concurrency: None,
            credentials: Some(Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "SECRET".into(),
                session_token: None,
            }),
            log_file: "/tmp/log".into(),
            log_format: crate::LogFormat::Text,
            tracing: crate::TracingMode::PassThrough,
        }
    }

    #[test]
    fn lambda_variables_win_over_the_function_and_unreserved_ones_can_be_extended() {
        let config = config();
        let arn = FunctionArn::parse(&config.arn).unwrap();
        let environment = instance_environment(&config, &arn, "127.0.0.1:9001", "stream");
        assert_eq!(environment["AWS_REGION"], "eu-west-1");
        assert_eq!(environment["AWS_DEFAULT_REGION"], "eu-west-1");
        assert_eq!(environment["PATH"], "/srv/bin");
        assert_eq!(environment["KITCHEN_RECIPES_DIR"], "/srv/recipes");
        assert_eq!(environment["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
        assert_eq!(environment["LAMBDA_TASK_ROOT"], "/srv/task");
        assert_eq!(environment["AWS_SECRET_ACCESS_KEY"], "SECRET");
        assert!(!environment.contains_key("AWS_SESSION_TOKEN"));
        assert!(!environment.contains_key("AWS_EXECUTION_ENV"));
        assert!(!environment.contains_key("_X_AMZN_TRACE_ID"));
    }

    #[test]
    fn keys_breaking_lambdas_rules_are_named() {
        let bad = BTreeMap::from([("1X".to_owned(), "v".to_owned())]);
        assert!(check_function_environment(&bad).unwrap().contains("\"1X\""));
        let big = BTreeMap::from([("BIG".to_owned(), "x".repeat(5000))]);
        assert!(
            check_function_environment(&big)
                .unwrap()
                .contains("5003 bytes")
        );
        assert_eq!(reserved_keys(&config().environment), vec!["AWS_REGION"]);
    }
}
