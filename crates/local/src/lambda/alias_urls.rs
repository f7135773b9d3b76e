//! Function URLs of aliases (`CreateFunctionUrlConfig` and the others with a `Qualifier`,
//! <https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html>). moto ignores the
//! qualifier and would give the function itself the URL, so the URLs of aliases are kept here;
//! the function's own URL stays moto's.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::applied::lambda::FunctionUrl;
use crate::aws::errors::AwsError;

#[derive(Debug, Clone, PartialEq)]
struct AliasUrl {
    /// The alias's ARN (`arn:...:function:NAME:ALIAS`), as `FunctionArn` answers it.
    alias_arn: String,
    url: String,
    auth_type: String,
    cors: Value,
    invoke_mode: String,
    created: String,
    last_modified: String,
}

impl AliasUrl {
    fn answer(&self) -> Value {
        let mut answer = json!({
            "FunctionUrl": self.url,
            "FunctionArn": self.alias_arn,
            "AuthType": self.auth_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified,
            "InvokeMode": self.invoke_mode,
        });
        if !self.cors.is_null() {
            answer["Cors"] = self.cors.clone();
        }
        answer
    }
}

#[derive(Default)]
pub struct AliasUrls {
    /// (function name, alias) → its URL.
    urls: Mutex<BTreeMap<(String, String), AliasUrl>>,
}

fn not_found() -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
}

fn auth_type(request: &Value) -> Result<Option<String>, AwsError> {
    match request.get("AuthType").and_then(Value::as_str) {
        None => Ok(None),
        Some(auth @ ("NONE" | "AWS_IAM")) => Ok(Some(auth.to_owned())),
        Some(other) => Err(AwsError::new(
            400,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{other}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_IAM, NONE]"
            ),
        )),
    }
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

impl AliasUrls {
    /// `CreateFunctionUrlConfig` with a `Qualifier`: answers the configuration (201).
    pub fn create(
        &self,
        function: &str,
        alias: &str,
        alias_arn: &str,
        region: &str,
        request: &Value,
    ) -> Result<Value, AwsError> {
        let auth_type = auth_type(request)?
            .ok_or_else(|| AwsError::new(400, "ValidationException", "AuthType is required"))?;
        let mut urls = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        let key = (function.to_owned(), alias.to_owned());
        if urls.contains_key(&key) {
            return Err(AwsError::new(
                409,
                "ResourceConflictException",
                format!(
                    "Failed to create function url config for [functionArn = {alias_arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
                ),
            ));
        }
        let created = now();
        let url = AliasUrl {
            alias_arn: alias_arn.to_owned(),
            url: format!(
                "https://{}.lambda-url.{region}.on.aws/",
                uuid::Uuid::new_v4().simple()
            ),
            auth_type,
            cors: request.get("Cors").cloned().unwrap_or(Value::Null),
            invoke_mode: request
                .get("InvokeMode")
                .and_then(Value::as_str)
                .unwrap_or("BUFFERED")
                .to_owned(),
            last_modified: created.clone(),
            created,
        };
        let mut answer = url.answer();
        if let Some(fields) = answer.as_object_mut() {
            fields.remove("LastModifiedTime");
        }
        urls.insert(key, url);
        Ok(answer)
    }

    /// `GetFunctionUrlConfig` with a `Qualifier`.
    pub fn get(&self, function: &str, alias: &str) -> Result<Value, AwsError> {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(function.to_owned(), alias.to_owned()))
            .map(AliasUrl::answer)
            .ok_or_else(not_found)
    }

    /// `UpdateFunctionUrlConfig` with a `Qualifier`: what the request sets is replaced.
    pub fn update(&self, function: &str, alias: &str, request: &Value) -> Result<Value, AwsError> {
        let auth_type = auth_type(request)?;
        let mut urls = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        let url = urls
            .get_mut(&(function.to_owned(), alias.to_owned()))
            .ok_or_else(not_found)?;
        if let Some(auth_type) = auth_type {
            url.auth_type = auth_type;
        }
        if let Some(cors) = request.get("Cors") {
            url.cors = cors.clone();
        }
        if let Some(mode) = request.get("InvokeMode").and_then(Value::as_str) {
            url.invoke_mode = mode.to_owned();
        }
        url.last_modified = now();
        Ok(url.answer())
    }

    /// `DeleteFunctionUrlConfig` with a `Qualifier`.
    pub fn delete(&self, function: &str, alias: &str) -> Result<(), AwsError> {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(function.to_owned(), alias.to_owned()))
            .map(|_| ())
            .ok_or_else(not_found)
    }

    /// The alias's URL, for the applied state.
    pub fn url(&self, function: &str, alias: &str) -> Option<FunctionUrl> {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(function.to_owned(), alias.to_owned()))
            .map(|url| FunctionUrl {
                url: url.url.clone(),
                auth_type: url.auth_type.clone(),
            })
    }

    /// A deleted alias takes its URL with it.
    pub fn forget_alias(&self, function: &str, alias: &str) {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(function.to_owned(), alias.to_owned()));
    }

    /// A deleted function takes its aliases' URLs with it.
    pub fn forget_function(&self, function: &str) {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(name, _), _| name != function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIAS_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:f:live";

    #[test]
    fn an_alias_url_is_created_once_read_updated_and_deleted() {
        let urls = AliasUrls::default();
        let created = urls
            .create(
                "f",
                "live",
                ALIAS_ARN,
                "eu-west-1",
                &json!({"AuthType": "NONE"}),
            )
            .unwrap();
        assert_eq!(created["FunctionArn"], ALIAS_ARN);
        assert_eq!(created["InvokeMode"], "BUFFERED");
        let url = created["FunctionUrl"].as_str().unwrap();
        assert!(url.ends_with(".lambda-url.eu-west-1.on.aws/"), "{url}");
        assert_eq!(
            crate::plan::function_url_id(url),
            urls.url("f", "live").as_ref().map(FunctionUrl::id)
        );
        assert_eq!(
            urls.create(
                "f",
                "live",
                ALIAS_ARN,
                "eu-west-1",
                &json!({"AuthType": "NONE"})
            )
            .unwrap_err()
            .code,
            "ResourceConflictException"
        );
        assert!(urls.url("f", "other").is_none() && urls.url("g", "live").is_none());

        let updated = urls
            .update("f", "live", &json!({"AuthType": "AWS_IAM"}))
            .unwrap();
        assert_eq!(updated["AuthType"], "AWS_IAM");
        assert_eq!(updated["FunctionUrl"], url);
        assert_eq!(urls.get("f", "live").unwrap()["AuthType"], "AWS_IAM");

        urls.delete("f", "live").unwrap();
        assert_eq!(
            urls.get("f", "live").unwrap_err().code,
            "ResourceNotFoundException"
        );
        assert!(urls.delete("f", "live").is_err());
    }

    #[test]
    fn an_unknown_auth_type_is_refused_and_deletions_take_urls_along() {
        let urls = AliasUrls::default();
        assert_eq!(
            urls.create(
                "f",
                "a",
                ALIAS_ARN,
                "eu-west-1",
                &json!({"AuthType": "OPEN"})
            )
            .unwrap_err()
            .code,
            "ValidationException"
        );
        for alias in ["a", "b"] {
            urls.create(
                "f",
                alias,
                ALIAS_ARN,
                "eu-west-1",
                &json!({"AuthType": "NONE"}),
            )
            .unwrap();
        }
        urls.forget_alias("f", "a");
        assert!(urls.url("f", "a").is_none() && urls.url("f", "b").is_some());
        urls.forget_function("f");
        assert!(urls.url("f", "b").is_none());
    }
}
