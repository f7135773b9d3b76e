//! Function settings moto accepts but never returns (`KMSKeyArn`, `LoggingConfig`). Kept here
//! as `CreateFunction` and `UpdateFunctionConfiguration` set them and added to the function
//! configurations moto answers, as Lambda returns them; without them Terraform would update
//! every function on every apply.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

const KEPT: [&str; 2] = ["KMSKeyArn", "LoggingConfig"];

#[derive(Default)]
pub struct FunctionSettings {
    functions: Mutex<HashMap<String, Map<String, Value>>>,
}

impl FunctionSettings {
    /// Records what a `CreateFunction` or `UpdateFunctionConfiguration` body sets for `function`
    /// (a name); an empty `KMSKeyArn` goes back to Lambda's own key.
    pub fn set_from(&self, function: &str, request: &Value) {
        let mut functions = self.functions.lock().unwrap_or_else(|p| p.into_inner());
        let settings = functions.entry(function.to_owned()).or_default();
        for name in KEPT {
            match request.get(name) {
                Some(Value::String(text)) if text.is_empty() => {
                    settings.remove(name);
                }
                Some(value) if !value.is_null() => {
                    settings.insert(name.to_owned(), value.clone());
                }
                _ => {}
            }
        }
    }

    pub fn forget(&self, function: &str) {
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(function);
    }

    /// Adds the kept settings to a function configuration moto answered, and Lambda's default
    /// `LoggingConfig` (text logs to `/aws/lambda/NAME`) where none was set.
    pub fn complete(&self, configuration: &mut Value) {
        let Some(name) = configuration["FunctionName"].as_str().map(str::to_owned) else {
            return;
        };
        let Some(fields) = configuration.as_object_mut() else {
            return;
        };
        if let Some(kept) = self
            .functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&name)
        {
            for (key, value) in kept {
                fields.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        fields.entry("LoggingConfig").or_insert_with(|| {
            serde_json::json!({ "LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}") })
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kept_settings_complete_a_configuration() {
        let settings = FunctionSettings::default();
        settings.set_from(
            "f",
            &json!({"FunctionName": "f", "KMSKeyArn": "arn:aws:kms:eu-west-1:1:key/k",
                    "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/custom"}}),
        );
        let mut configuration = json!({"FunctionName": "f", "Timeout": 3});
        settings.complete(&mut configuration);
        assert_eq!(configuration["KMSKeyArn"], "arn:aws:kms:eu-west-1:1:key/k");
        assert_eq!(configuration["LoggingConfig"]["LogFormat"], "JSON");

        settings.set_from("f", &json!({"KMSKeyArn": ""}));
        let mut configuration = json!({"FunctionName": "f"});
        settings.complete(&mut configuration);
        assert!(configuration.get("KMSKeyArn").is_none());
        assert_eq!(configuration["LoggingConfig"]["LogGroup"], "/custom");
    }

    #[test]
    fn a_function_without_logging_config_has_lambdas_default() {
        let settings = FunctionSettings::default();
        let mut configuration = json!({"FunctionName": "g"});
        settings.complete(&mut configuration);
        assert_eq!(
            configuration["LoggingConfig"],
            json!({"LogFormat": "Text", "LogGroup": "/aws/lambda/g"})
        );
    }
}
