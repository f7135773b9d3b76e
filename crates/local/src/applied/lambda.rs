//! Lambda functions: configuration, code hash, reserved concurrency, function URL and the
//! resource-based policy.

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::lambda::permissions::FunctionPolicies;

#[derive(Debug, Clone, Default)]
pub struct Function {
    pub name: String,
    pub arn: String,
    pub role: String,
    pub environment: BTreeMap<String, String>,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    pub code_sha256: String,
    pub handler: String,
    pub runtime: String,
    pub reserved_concurrency: Option<u32>,
    pub log_group: Option<String>,
    /// The function URL and its auth type, when it has one.
    pub url: Option<FunctionUrl>,
    /// The resource-based policy (as `GetPolicy` answers it), when it has one.
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionUrl {
    pub url: String,
    pub auth_type: String,
}

impl FunctionUrl {
    /// The URL id: the first label of the host (`<id>.lambda-url.<region>.on.aws`).
    pub fn id(&self) -> &str {
        self.url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split(['.', '/', ':'])
            .next()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default)]
pub struct AppliedLambda {
    /// Function name → function.
    pub functions: BTreeMap<String, Function>,
}

impl AppliedLambda {
    /// A function by name, ARN (with or without qualifier) or partial ARN.
    pub fn find(&self, reference: &str) -> Option<&Function> {
        let name = match reference.split(':').collect::<Vec<_>>()[..] {
            [.., "function", name] | [.., "function", name, _] => name,
            _ => reference,
        };
        self.functions.get(name)
    }

    pub fn by_url_id(&self, id: &str) -> Option<&Function> {
        self.functions
            .values()
            .find(|function| function.url.as_ref().is_some_and(|url| url.id() == id))
    }
}

pub async fn read(
    lambda: &aws_sdk_lambda::Client,
    policies: &FunctionPolicies,
) -> anyhow::Result<AppliedLambda> {
    let mut applied = AppliedLambda::default();
    let mut pages = lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        for listed in page.context("ListFunctions")?.functions.unwrap_or_default() {
            let Some(name) = listed.function_name else {
                continue;
            };
            let mut function = read_function(lambda, &name).await?;
            function.policy = policies.policy(&name);
            applied.functions.insert(name, function);
        }
    }
    Ok(applied)
}

pub async fn read_function(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> anyhow::Result<Function> {
    let got = lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .with_context(|| format!("GetFunction {name}"))?;
    let configuration = got
        .configuration
        .with_context(|| format!("GetFunction {name}: no configuration"))?;
    let url = match lambda
        .get_function_url_config()
        .function_name(name)
        .send()
        .await
    {
        Ok(config) => Some(FunctionUrl {
            url: config.function_url,
            auth_type: config.auth_type.as_str().to_owned(),
        }),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(error) => return Err(error).with_context(|| format!("GetFunctionUrlConfig {name}")),
    };
    Ok(Function {
        name: name.to_owned(),
        arn: configuration.function_arn.unwrap_or_default(),
        role: configuration.role.unwrap_or_default(),
        environment: configuration
            .environment
            .and_then(|environment| environment.variables)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        timeout_seconds: configuration.timeout.unwrap_or(3).max(1) as u32,
        memory_mb: configuration.memory_size.unwrap_or(128).max(128) as u32,
        code_sha256: configuration.code_sha256.unwrap_or_default(),
        handler: configuration.handler.unwrap_or_default(),
        runtime: configuration
            .runtime
            .map(|runtime| runtime.as_str().to_owned())
            .unwrap_or_default(),
        reserved_concurrency: got
            .concurrency
            .and_then(|concurrency| concurrency.reserved_concurrent_executions)
            .and_then(|reserved| u32::try_from(reserved).ok()),
        log_group: configuration
            .logging_config
            .and_then(|logging| logging.log_group),
        url,
        policy: None,
        tags: got.tags.unwrap_or_default().into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_found_by_name_arn_and_url_id() {
        let mut applied = AppliedLambda::default();
        applied.functions.insert(
            "postoffice-kitchen-bridge".to_owned(),
            Function {
                name: "postoffice-kitchen-bridge".to_owned(),
                url: Some(FunctionUrl {
                    url: "https://abc123.lambda-url.eu-west-1.on.aws/".to_owned(),
                    auth_type: "NONE".to_owned(),
                }),
                ..Function::default()
            },
        );
        for reference in [
            "postoffice-kitchen-bridge",
            "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-bridge",
            "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-bridge:$LATEST",
            "123456789012:function:postoffice-kitchen-bridge",
        ] {
            assert!(applied.find(reference).is_some(), "{reference}");
        }
        assert!(applied.find("postoffice-other").is_none());
        assert_eq!(
            applied.by_url_id("abc123").map(|f| f.name.as_str()),
            Some("postoffice-kitchen-bridge")
        );
    }
}
