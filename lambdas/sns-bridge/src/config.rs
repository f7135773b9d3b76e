//! The bridge's configuration, read from the environment and validated once at cold start: the
//! SNS endpoint's ([`EndpointConfig`], the variables an embedded endpoint reads too) and the
//! handler Lambda to invoke.
//!
//! One bridge artifact serves every consumer; each deployed instance differs only in these
//! variables. A bad value stops the cold start with an error naming the variable.

use postoffice::endpoint::{ConfigError, EndpointConfig};

pub const HANDLER_FUNCTION: &str = "POSTOFFICE_HANDLER_FUNCTION";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The handler Lambda: function name, partial or full ARN, optionally with a qualifier.
    pub handler_function: String,
    pub endpoint: EndpointConfig,
}

impl BridgeConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (variable name → value), so tests need no
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let handler_function = lookup(HANDLER_FUNCTION)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .ok_or(ConfigError::Missing(HANDLER_FUNCTION))?;
        validate_function(&handler_function)?;
        Ok(Self {
            handler_function,
            endpoint: EndpointConfig::from_lookup(lookup)?,
        })
    }
}

/// Lambda accepts a function name (`my-function`), a partial ARN (`123456789012:function:name`)
/// or a full ARN, each optionally with a `:qualifier`.
fn validate_function(function: &str) -> Result<(), ConfigError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '$' | '.');
    if function.len() > 170 || !function.chars().all(allowed) {
        return Err(ConfigError::Invalid {
            var: HANDLER_FUNCTION,
            reason: "expected a Lambda function name or ARN (letters, digits, - _ : $ ., at most 170 characters)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use postoffice::endpoint::{ALLOWED_TOPIC_ARNS, DEFAULT_INVOKE_TIMEOUT};

    use super::*;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";

    fn config(vars: &[(&str, &str)]) -> Result<BridgeConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BridgeConfig::from_lookup(|name| vars.get(name).cloned())
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            (HANDLER_FUNCTION, "postoffice-kitchen-handler"),
            (ALLOWED_TOPIC_ARNS, TOPIC),
        ]
    }

    #[test]
    fn the_handler_function_and_the_endpoint_come_from_one_environment() {
        let config = config(&minimal()).unwrap();
        assert_eq!(config.handler_function, "postoffice-kitchen-handler");
        assert_eq!(config.endpoint.handler_timeout, DEFAULT_INVOKE_TIMEOUT);
        assert!(config.endpoint.allowed_topics.allows(TOPIC));
    }

    #[test]
    fn required_variables_are_named_when_missing() {
        assert_eq!(
            config(&[(ALLOWED_TOPIC_ARNS, TOPIC)]),
            Err(ConfigError::Missing(HANDLER_FUNCTION))
        );
        assert_eq!(
            config(&[(HANDLER_FUNCTION, "f"), (ALLOWED_TOPIC_ARNS, "  ")]),
            Err(ConfigError::Missing(ALLOWED_TOPIC_ARNS))
        );
    }

    #[test]
    fn handler_function_accepts_names_and_arns_only() {
        for good in [
            "kitchen",
            "arn:aws:lambda:eu-west-1:123456789012:function:kitchen:live",
            "kitchen:$LATEST",
        ] {
            let mut vars = minimal();
            vars[0] = (HANDLER_FUNCTION, good);
            assert!(config(&vars).is_ok(), "{good}");
        }
        for bad in ["kitchen handler", "kitchen/../x", "k\u{e9}"] {
            let mut vars = minimal();
            vars[0] = (HANDLER_FUNCTION, bad);
            assert!(
                matches!(
                    config(&vars),
                    Err(ConfigError::Invalid {
                        var: HANDLER_FUNCTION,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
