//! Lambda functions: configuration, code hash, reserved concurrency, function URL, the
//! resource-based policy, and the aliases with their own URL and policy.

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::lambda::alias_urls::AliasUrls;
use crate::lambda::permissions::FunctionPolicies;
use crate::lambda::qualified_name;

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
    /// `LoggingConfig.LogFormat`: `Text` or `JSON`.
    pub log_format: Option<String>,
    /// `TracingConfig.Mode`: `Active` or `PassThrough`.
    pub tracing_mode: Option<String>,
    /// The function URL and its auth type, when it has one.
    pub url: Option<FunctionUrl>,
    /// The resource-based policy (as `GetPolicy` answers it), when it has one.
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Alias name → alias.
    pub aliases: BTreeMap<String, Alias>,
}

/// An alias of a function: the version it points to, its function URL and its own policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    /// `arn:...:function:NAME:ALIAS`.
    pub arn: String,
    /// `$LATEST` or a version number.
    pub function_version: String,
    pub url: Option<FunctionUrl>,
    pub policy: Option<String>,
}

/// What a function URL invokes: the function, or one of its aliases.
#[derive(Debug, Clone, Copy)]
pub struct UrlTarget<'a> {
    pub function: &'a Function,
    pub alias: Option<&'a Alias>,
}

impl UrlTarget<'_> {
    /// The ARN invoked: the function's, or the alias's.
    pub fn arn(&self) -> &str {
        self.alias.map_or(&self.function.arn, |alias| &alias.arn)
    }

    pub fn url(&self) -> Option<&FunctionUrl> {
        self.alias
            .map_or(self.function.url.as_ref(), |alias| alias.url.as_ref())
    }

    /// The name of the policy that authorises it ([`qualified_name`]).
    pub fn qualified_name(&self) -> String {
        qualified_name(
            &self.function.name,
            self.alias.map(|alias| alias.name.as_str()),
        )
    }
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

    /// The function or alias whose function URL has this id.
    pub fn by_url_id(&self, id: &str) -> Option<UrlTarget<'_>> {
        let has_id = |url: &Option<FunctionUrl>| url.as_ref().is_some_and(|url| url.id() == id);
        self.functions.values().find_map(|function| {
            if has_id(&function.url) {
                return Some(UrlTarget {
                    function,
                    alias: None,
                });
            }
            function
                .aliases
                .values()
                .find(|alias| has_id(&alias.url))
                .map(|alias| UrlTarget {
                    function,
                    alias: Some(alias),
                })
        })
    }
}

pub async fn read(
    lambda: &aws_sdk_lambda::Client,
    policies: &FunctionPolicies,
    alias_urls: &AliasUrls,
    settings: &crate::lambda::settings::FunctionSettings,
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
            // moto drops LoggingConfig: the local post office keeps what Terraform set.
            let mut kept = serde_json::json!({ "FunctionName": name });
            settings.complete(&mut kept);
            let logging = &kept["LoggingConfig"];
            if function.log_format.is_none() {
                function.log_format = logging["LogFormat"].as_str().map(str::to_owned);
            }
            if function.log_group.is_none() {
                function.log_group = logging["LogGroup"].as_str().map(str::to_owned);
            }
            function.aliases = read_aliases(lambda, &name, policies, alias_urls).await?;
            applied.functions.insert(name, function);
        }
    }
    Ok(applied)
}

/// The function's aliases (moto's), with their URLs and policies (kept locally).
async fn read_aliases(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    policies: &FunctionPolicies,
    alias_urls: &AliasUrls,
) -> anyhow::Result<BTreeMap<String, Alias>> {
    let mut aliases = BTreeMap::new();
    let mut pages = lambda
        .list_aliases()
        .function_name(function)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("ListAliases {function}"))?;
        for listed in page.aliases.unwrap_or_default() {
            let Some(name) = listed.name else {
                continue;
            };
            let alias = Alias {
                arn: listed.alias_arn.unwrap_or_default(),
                function_version: listed.function_version.unwrap_or_default(),
                url: alias_urls.url(function, &name),
                policy: policies.policy(&qualified_name(function, Some(&name))),
                name: name.clone(),
            };
            aliases.insert(name, alias);
        }
    }
    Ok(aliases)
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
            .as_ref()
            .and_then(|logging| logging.log_group.clone()),
        log_format: configuration
            .logging_config
            .as_ref()
            .and_then(|logging| logging.log_format.as_ref())
            .map(|format| format.as_str().to_owned()),
        tracing_mode: configuration
            .tracing_config
            .as_ref()
            .and_then(|tracing| tracing.mode.as_ref())
            .map(|mode| mode.as_str().to_owned()),
        url,
        policy: None,
        tags: got.tags.unwrap_or_default().into_iter().collect(),
        aliases: BTreeMap::new(),
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
        let target = applied.by_url_id("abc123").unwrap();
        assert_eq!(target.function.name, "postoffice-kitchen-bridge");
        assert!(target.alias.is_none());
        assert_eq!(target.qualified_name(), "postoffice-kitchen-bridge");
    }

    #[test]
    fn an_alias_url_names_the_alias_its_arn_and_its_policy() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-handler";
        let alias = Alias {
            name: "sns-endpoint".to_owned(),
            arn: format!("{arn}:sns-endpoint"),
            function_version: "$LATEST".to_owned(),
            url: Some(FunctionUrl {
                url: "https://alias1.lambda-url.eu-west-1.on.aws/".to_owned(),
                auth_type: "NONE".to_owned(),
            }),
            policy: None,
        };
        let mut applied = AppliedLambda::default();
        applied.functions.insert(
            "postoffice-kitchen-handler".to_owned(),
            Function {
                name: "postoffice-kitchen-handler".to_owned(),
                arn: arn.to_owned(),
                aliases: BTreeMap::from([(alias.name.clone(), alias)]),
                ..Function::default()
            },
        );
        let target = applied.by_url_id("alias1").unwrap();
        assert_eq!(target.arn(), format!("{arn}:sns-endpoint"));
        assert_eq!(
            target.qualified_name(),
            "postoffice-kitchen-handler:sns-endpoint"
        );
        assert_eq!(target.url().unwrap().auth_type, "NONE");
        assert!(applied.by_url_id("abc123").is_none());
        assert!(
            applied
                .find(&format!("{arn}:sns-endpoint"))
                .is_some_and(|function| function.name == "postoffice-kitchen-handler")
        );
    }
}
