//! AWS Lambda, locally: the functions Terraform created run from the code it uploaded, with the
//! environment, timeout and memory it set, under the credentials of their execution role.

pub mod alias_urls;
pub mod build;
pub mod code;
pub mod packaging;
pub mod permissions;
pub mod registry;
pub mod settings;

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice_lambda_host::invoke_api::{parse_request, render_error, render_outcome};
use postoffice_lambda_host::{
    CognitoIdentityContext, FunctionArn, FunctionRef, FunctionUrlCaller, InvocationType,
    InvokeOutcome, InvokeRequest, LambdaHost, LambdaHostError, MAX_SYNC_PAYLOAD_BYTES,
    function_url,
};
use postoffice_policy::Principal;

use crate::applied::lambda::UrlTarget;
use crate::aws::credentials::Caller;
use crate::aws::errors::AwsError;
use crate::aws::{Call, ControlPlaneChanges, FunctionUrls, LocalService, UrlCaller};
use crate::cloudwatch::metrics::Metrics;
use crate::iam::{Authorizer, Check, Snapshot, Target, base_context, with_session_keys};
use code::{CodeStore, MAX_DIRECT_UPLOAD_BYTES};
use registry::PlanRegistry;

/// How Lambda names a function or one of its aliases: `NAME`, or `NAME:ALIAS` (`$LATEST` is the
/// function itself). Each has a resource policy of its own, and its own `Resource` dimension.
pub fn qualified_name(function: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(qualifier) if qualifier != "$LATEST" => format!("{function}:{qualifier}"),
        _ => function.to_owned(),
    }
}

/// Lambda, locally: the host that runs the functions, and their code.
pub struct Lambda {
    pub host: LambdaHost,
    pub registry: Arc<PlanRegistry>,
    pub code: Arc<CodeStore>,
    pub authorizer: Arc<Authorizer>,
    /// The functions' resource-based policies (moto's are not AWS's).
    pub policies: Arc<permissions::FunctionPolicies>,
    /// Function URLs of aliases (moto ignores qualifiers).
    pub alias_urls: Arc<alias_urls::AliasUrls>,
    /// Settings moto drops (`KMSKeyArn`, `LoggingConfig`).
    pub settings: Arc<settings::FunctionSettings>,
    /// The control plane's Lambda (moto), to tell whether a function exists.
    pub control: aws_sdk_lambda::Client,
    /// Where the metrics of invocations through aliases go (the host counts per function).
    pub metrics: Arc<Metrics>,
}

impl Lambda {
    /// A request to a function URL, as Lambda serves it: the resource policy of what the URL
    /// invokes (the function, or the alias for a URL with a qualifier) must allow the caller both
    /// `lambda:InvokeFunctionUrl` and, since October 2025, `lambda:InvokeFunction` through the
    /// URL (<https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>); a refusal is a 403.
    /// The caller of a `NONE` URL is anonymous.
    pub async fn invoke_url(
        &self,
        url_id: &str,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        self.invoke_url_as(url_id, None, request).await
    }

    /// A request to a function URL by `caller` (SigV4-signed, for `AWS_IAM` URLs): authorised
    /// with the caller's identity policies and the URL's resource policy, and named in the
    /// event's `requestContext.authorizer.iam` (with `cognitoIdentity` for an identity pool's
    /// credentials).
    pub async fn invoke_url_as(
        &self,
        url_id: &str,
        caller: Option<UrlCaller>,
        mut request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let snapshot = self.authorizer.snapshot();
        let Some(target) = snapshot.applied.lambda.by_url_id(url_id) else {
            return plain(404, "Not Found");
        };
        let signed_by = caller.as_ref().map(|caller| &caller.caller);
        if authorize_url(&self.authorizer, &snapshot, target, signed_by).is_err() {
            return plain(403, "Forbidden");
        }
        if let Some(caller) = &caller
            && target.url().is_some_and(|url| url.auth_type == "AWS_IAM")
        {
            request.extensions_mut().insert(url_caller(caller));
        }
        let name = target.function.name.clone();
        let function_arn = target.function.arn.clone();
        let alias = target.alias.map(|alias| alias.name.clone());
        drop(snapshot);
        match alias {
            None => self.host.invoke_url(url_id, request).await,
            Some(alias) => {
                self.invoke_alias_url(url_id, &name, &function_arn, &alias, request)
                    .await
            }
        }
    }

    /// What the function URL of an alias answers: the payload format 2.0 event of the request,
    /// invoked through the alias (the function sees the alias's ARN as its invoked ARN), and
    /// the answer turned into the HTTP response, as the host does for a function's own URL.
    async fn invoke_alias_url(
        &self,
        url_id: &str,
        function: &str,
        function_arn: &str,
        alias: &str,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        if request.body().len() > MAX_SYNC_PAYLOAD_BYTES {
            return plain(413, "Request Entity Too Large");
        }
        let Some(arn) = FunctionArn::parse(function_arn) else {
            return plain(404, "Not Found");
        };
        let event = function_url::request_event(
            &function_url::UrlContext {
                url_id,
                region: &arn.region,
                account_id: &arn.account,
                request_id: &uuid::Uuid::new_v4().to_string(),
                now: chrono::Utc::now(),
            },
            &request,
        );
        let payload = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        if payload.len() > MAX_SYNC_PAYLOAD_BYTES {
            return plain(413, "Request Entity Too Large");
        }
        let mut invocation = InvokeRequest::new(function, payload, InvocationType::RequestResponse);
        invocation.qualifier = Some(alias.to_owned());
        match self.invoke(invocation).await {
            Ok(outcome) if outcome.function_error.is_some() => {
                function_url::function_error_response()
            }
            Ok(outcome) => {
                function_url::response_from_answer(&outcome.payload).unwrap_or_else(|error| {
                    tracing::warn!(url_id, reason = %error.0, "function URL answer is malformed");
                    function_url::function_error_response()
                })
            }
            Err(LambdaHostError::TooManyRequests { .. }) => plain(429, "Rate Exceeded."),
            Err(error) => plain(error.status(), &error.to_string()),
        }
    }

    /// Invokes as the Invoke API does; an invocation through an alias is also counted under
    /// the alias's `Resource` dimension, as Lambda counts it besides the function's own.
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeOutcome, LambdaHostError> {
        let resource = alias_resource(&request);
        let synchronous = request.invocation_type == InvocationType::RequestResponse;
        let result = self.host.invoke_request(request).await;
        if let Some((function, resource)) = resource.filter(|_| synchronous) {
            self.record_alias_metrics(&function, &resource, &result);
        }
        result.map(|mut outcome| {
            // The host reports the alias the registry names as the version; Lambda reports the
            // version the alias points to, which is always $LATEST locally.
            if outcome.executed_version.is_some() {
                outcome.executed_version = Some("$LATEST".to_owned());
            }
            outcome
        })
    }

    fn record_alias_metrics(
        &self,
        function: &str,
        resource: &str,
        result: &Result<InvokeOutcome, LambdaHostError>,
    ) {
        let dimensions = [("FunctionName", function), ("Resource", resource)];
        let (invocations, errors, throttles) = match result {
            Ok(outcome) => (
                1.0,
                f64::from(u8::from(outcome.function_error.is_some())),
                0.0,
            ),
            Err(LambdaHostError::TooManyRequests { .. }) => (0.0, 0.0, 1.0),
            Err(_) => return,
        };
        self.metrics
            .record("AWS/Lambda", "Invocations", &dimensions, invocations);
        self.metrics
            .record("AWS/Lambda", "Errors", &dimensions, errors);
        self.metrics
            .record("AWS/Lambda", "Throttles", &dimensions, throttles);
    }
}

#[async_trait]
impl FunctionUrls for Lambda {
    async fn invoke(
        &self,
        url_id: &str,
        caller: Option<UrlCaller>,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        self.invoke_url_as(url_id, caller, request).await
    }
}

/// How the caller of an `AWS_IAM` function URL appears in the event
/// (`requestContext.authorizer.iam`).
fn url_caller(caller: &UrlCaller) -> FunctionUrlCaller {
    let (caller_id, cognito_identity) = match &caller.caller {
        Caller::RoleSession {
            session_name,
            web_identity,
            ..
        } => (
            format!("AROALOCAL:{session_name}"),
            web_identity
                .as_ref()
                .map(|identity| CognitoIdentityContext {
                    amr: identity.amr.clone(),
                    identity_id: identity.identity_id.clone(),
                    identity_pool_id: identity.identity_pool_id.clone(),
                }),
        ),
        other => (other.account().to_owned(), None),
    };
    FunctionUrlCaller {
        access_key: caller.access_key_id.clone(),
        account_id: caller.caller.account().to_owned(),
        caller_id: caller_id.clone(),
        user_arn: caller.caller.arn(),
        user_id: caller_id,
        principal_org_id: None,
        cognito_identity,
    }
}

/// Whether the caller of a function URL may invoke what it targets: anonymous for auth type
/// `NONE`; for `AWS_IAM` a signed caller, whose identity policies (same account) or the
/// target's resource policy must allow both actions, under the URL's auth type
/// (<https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>).
pub fn authorize_url(
    authorizer: &Authorizer,
    snapshot: &Snapshot,
    target: UrlTarget<'_>,
    caller: Option<&Caller>,
) -> Result<(), String> {
    let policy = target.qualified_name();
    let auth_type = target
        .url()
        .map(|url| url.auth_type.as_str())
        .unwrap_or_default();
    let base = base_context(true, &authorizer.region).with("aws:SourceIp", "127.0.0.1");
    let (principal, context) = match (auth_type, caller) {
        ("NONE", _) => (
            Principal::anonymous(),
            base.with("lambda:FunctionUrlAuthType", "NONE"),
        ),
        ("AWS_IAM", Some(Caller::Administrator { .. })) => return Ok(()),
        (
            "AWS_IAM",
            Some(
                caller @ Caller::RoleSession {
                    role_arn,
                    session_name,
                    ..
                },
            ),
        ) => (
            Principal::role_session(role_arn, session_name).map_err(|error| error.to_string())?,
            with_session_keys(base.with("lambda:FunctionUrlAuthType", "AWS_IAM"), caller),
        ),
        ("AWS_IAM", _) => {
            tracing::warn!(
                function = policy,
                "an unsigned request to an AWS_IAM function URL"
            );
            return Err("the function URL's auth type is AWS_IAM: sign the request".to_owned());
        }
        (other, _) => {
            tracing::warn!(
                function = policy,
                auth_type = other,
                "unknown function URL auth type"
            );
            return Err(format!("auth type {other} is not served locally"));
        }
    };
    for (action, context) in [
        ("lambda:InvokeFunctionUrl", context.clone()),
        (
            "lambda:InvokeFunction",
            context.with("lambda:InvokedViaFunctionUrl", true),
        ),
    ] {
        authorizer
            .check(
                snapshot,
                Check {
                    principal: principal.clone(),
                    action,
                    resource: target.arn(),
                    target: Target::Function(&policy),
                    context,
                },
            )
            .map_err(|denial| denial.explanation)?;
    }
    Ok(())
}

/// The function and `Resource` dimension (`NAME:ALIAS`) of an invocation through an alias;
/// `None` for the function itself, `$LATEST` or a version number.
pub fn alias_resource(request: &InvokeRequest) -> Option<(String, String)> {
    let reference = FunctionRef::parse(&request.function, request.qualifier.as_deref()).ok()?;
    let qualifier = reference.qualifier.as_deref()?;
    if qualifier == "$LATEST" || qualifier.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((
        reference.name.clone(),
        qualified_name(&reference.name, Some(qualifier)),
    ))
}

fn plain(status: u16, message: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::from(
            serde_json::json!({ "Message": message }).to_string(),
        ))
        .expect("a static response")
}

/// The Lambda API as the local post office serves it: Invoke runs the function in the host;
/// code uploads are kept (and refused over Lambda's limits); resource policies and the function
/// URLs of aliases are kept here; everything else of the control plane is moto's.
pub struct LambdaService {
    pub lambda: Arc<Lambda>,
    /// What is kept here changes the applied state too: announced as moto's changes are.
    pub changes: ControlPlaneChanges,
}

fn json_answer(status: u16, value: serde_json::Value) -> Response {
    (
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK),
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// The function a control-plane call names, as moto has it: (name, unqualified ARN).
type FoundFunction = (String, String);

impl LambdaService {
    async fn invoke(&self, call: &Call) -> Response {
        let segments = call.request.path_segments();
        let function = segments.get(2).cloned().unwrap_or_default();
        let qualifier = call.request.parameters().get("Qualifier").cloned();
        let mut headers = http::HeaderMap::new();
        for (name, values) in &call.request.headers {
            if let (Ok(name), Some(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                values
                    .first()
                    .and_then(|value| http::HeaderValue::from_str(value).ok()),
            ) {
                headers.insert(name, value);
            }
        }
        let answer = match parse_request(&function, qualifier, &headers, call.request.body.clone())
        {
            Ok(request) => match self.lambda.invoke(request).await {
                Ok(outcome) => render_outcome(&outcome),
                Err(error) => render_error(&error),
            },
            Err(error) => render_error(&error),
        };
        answer.map(axum::body::Body::from).into_response()
    }

    /// The function the call's path names, and the qualifier it names in the path or with
    /// `Qualifier` (`$LATEST` is no qualifier).
    async fn named_function(
        &self,
        call: &Call,
    ) -> Result<(FoundFunction, Option<String>), AwsError> {
        let reference = call
            .request
            .path_segments()
            .get(2)
            .cloned()
            .unwrap_or_default();
        let parameters = call.request.parameters();
        let parsed =
            FunctionRef::parse(&reference, parameters.get("Qualifier").map(String::as_str))
                .map_err(|error| {
                    AwsError::new(400, "InvalidParameterValueException", error.to_string())
                })?;
        let found = match self
            .lambda
            .control
            .get_function()
            .function_name(&parsed.name)
            .send()
            .await
        {
            Ok(found) => found.configuration,
            Err(_) => None,
        };
        let Some(function) = found else {
            return Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("Function not found: {reference}"),
            ));
        };
        let qualifier = parsed.qualifier.filter(|qualifier| qualifier != "$LATEST");
        Ok((
            (
                function.function_name.unwrap_or_default(),
                function.function_arn.unwrap_or_default(),
            ),
            qualifier,
        ))
    }

    /// Whether the function has the alias (moto's).
    async fn alias_exists(&self, function: &str, alias: &str) -> bool {
        self.lambda
            .control
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
            .is_ok()
    }

    /// `AddPermission`, `RemovePermission`, `GetPolicy`, on the policies kept here: the
    /// function's own, or with a qualifier the alias's.
    async fn permission(&self, call: &Call, action: &str) -> Response {
        let ((name, function_arn), qualifier) = match self.named_function(call).await {
            Ok(found) => found,
            Err(error) => return call.error(&error),
        };
        if let Some(alias) = &qualifier {
            if action == "AddPermission" && alias.bytes().all(|b| b.is_ascii_digit()) {
                return call.error(&AwsError::new(
                    400,
                    "InvalidParameterValueException",
                    "Versions are not published locally; only aliases of $LATEST take permissions",
                ));
            }
            if !self.alias_exists(&name, alias).await {
                return call.error(&AwsError::new(
                    404,
                    "ResourceNotFoundException",
                    format!("Alias not found: {function_arn}:{alias}"),
                ));
            }
        }
        let key = qualified_name(&name, qualifier.as_deref());
        let arn = match &qualifier {
            Some(alias) => format!("{function_arn}:{alias}"),
            None => function_arn,
        };
        match action {
            "AddPermission" => {
                let body = call.request.json().unwrap_or_default();
                let account = self.lambda.authorizer.account.clone();
                match permissions::statement(&arn, &body, &account)
                    .and_then(|statement| self.lambda.policies.add(&key, statement))
                {
                    Ok(statement) => {
                        self.changes.changed("lambda");
                        json_answer(
                            201,
                            serde_json::json!({ "Statement": statement.to_string() }),
                        )
                    }
                    Err(error) => call.error(&error),
                }
            }
            "RemovePermission" => {
                let segments = call.request.path_segments();
                let sid = segments.get(4).cloned().unwrap_or_default();
                match self.lambda.policies.remove(&key, &sid) {
                    Ok(()) => {
                        self.changes.changed("lambda");
                        (axum::http::StatusCode::NO_CONTENT, "").into_response()
                    }
                    Err(error) => call.error(&error),
                }
            }
            _ => match self.lambda.policies.policy(&key) {
                Some(policy) => json_answer(
                    200,
                    serde_json::json!({ "Policy": policy, "RevisionId": uuid::Uuid::new_v4().to_string() }),
                ),
                None => call.error(&AwsError::new(
                    404,
                    "ResourceNotFoundException",
                    "The resource you requested does not exist.",
                )),
            },
        }
    }

    /// `Create`/`Get`/`Update`/`DeleteFunctionUrlConfig` of an alias (with a qualifier);
    /// `None` leaves the function's own URL to moto.
    async fn alias_url(&self, call: &Call, action: &str) -> Option<Response> {
        let ((name, function_arn), qualifier) = match self.named_function(call).await {
            Ok(found) => found,
            Err(error) => return Some(call.error(&error)),
        };
        let alias = qualifier?;
        if !self.alias_exists(&name, &alias).await {
            return Some(call.error(&AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("Alias not found: {function_arn}:{alias}"),
            )));
        }
        let urls = &self.lambda.alias_urls;
        let body = call.request.json().unwrap_or_default();
        let answer = match action {
            "CreateFunctionUrlConfig" => urls
                .create(
                    &name,
                    &alias,
                    &format!("{function_arn}:{alias}"),
                    &self.lambda.authorizer.region,
                    &body,
                )
                .map(|created| json_answer(201, created)),
            "UpdateFunctionUrlConfig" => urls
                .update(&name, &alias, &body)
                .map(|updated| json_answer(200, updated)),
            "DeleteFunctionUrlConfig" => urls
                .delete(&name, &alias)
                .map(|()| (axum::http::StatusCode::NO_CONTENT, "").into_response()),
            _ => {
                return Some(
                    urls.get(&name, &alias)
                        .map_or_else(|e| call.error(&e), |got| json_answer(200, got)),
                );
            }
        };
        Some(match answer {
            Ok(answer) => {
                self.changes.changed("lambda");
                answer
            }
            Err(error) => call.error(&error),
        })
    }
}

/// moto's JSON answer with the kept settings added to the configuration `at` finds in it.
fn complete_configuration(
    answer: crate::aws::ControlPlaneAnswer,
    settings: &settings::FunctionSettings,
    at: impl FnOnce(&mut serde_json::Value) -> &mut serde_json::Value,
) -> crate::aws::ControlPlaneAnswer {
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
        return answer;
    };
    settings.complete(at(&mut body));
    crate::aws::ControlPlaneAnswer {
        body: body.to_string().into(),
        ..answer
    }
}

#[async_trait]
impl LocalService for LambdaService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let action = call.action()?;
        match action.as_str() {
            "Invoke" => return Some(self.invoke(call).await),
            "AddPermission" | "RemovePermission" | "GetPolicy" => {
                return Some(self.permission(call, &action).await);
            }
            "CreateFunctionUrlConfig"
            | "GetFunctionUrlConfig"
            | "UpdateFunctionUrlConfig"
            | "DeleteFunctionUrlConfig" => return self.alias_url(call, &action).await,
            // moto deletes an alias that does not exist without a word; Lambda answers 404.
            "DeleteAlias" => {
                let segments = call.request.path_segments();
                let (function, alias) = (segments.get(2)?, segments.get(4)?);
                if !self.alias_exists(function, alias).await {
                    return Some(call.error(&AwsError::new(
                        404,
                        "ResourceNotFoundException",
                        format!("Alias not found: {function}:{alias}"),
                    )));
                }
                return None;
            }
            _ => {}
        }
        let zip = match action.as_str() {
            "CreateFunction" => call.request.json()?["Code"]["ZipFile"].as_str()?.to_owned(),
            "UpdateFunctionCode" => call.request.json()?["ZipFile"].as_str()?.to_owned(),
            _ => return None,
        };
        let bytes = match BASE64.decode(zip.as_bytes()) {
            Ok(bytes) => bytes,
            Err(error) => {
                return Some(call.error(&AwsError::new(
                    400,
                    "InvalidParameterValueException",
                    format!("Code.ZipFile is not base64: {error}"),
                )));
            }
        };
        if bytes.len() > MAX_DIRECT_UPLOAD_BYTES {
            return Some(call.error(&AwsError::new(
                413,
                "RequestEntityTooLargeException",
                format!(
                    "Request must be smaller than {MAX_DIRECT_UPLOAD_BYTES} bytes for the {action} operation (the zip has {} bytes)",
                    bytes.len()
                ),
            )));
        }
        if let Err(error) = self.lambda.code.save(&bytes) {
            return Some(call.error(&AwsError::new(
                500,
                "ServiceException",
                format!("keeping the function's code failed: {error}"),
            )));
        }
        None
    }

    async fn observe(
        &self,
        call: &Call,
        answer: crate::aws::ControlPlaneAnswer,
    ) -> crate::aws::ControlPlaneAnswer {
        if !answer.status.is_success() {
            return answer;
        }
        let Some(action) = call.action() else {
            return answer;
        };
        let segments = call.request.path_segments();
        let named = segments
            .get(2)
            .map(|name| name.rsplit(':').next().unwrap_or(name).to_owned());
        let settings = &self.lambda.settings;
        match (action.as_str(), named) {
            ("DeleteFunction", Some(name)) => {
                self.lambda.policies.forget_function(&name);
                self.lambda.alias_urls.forget_function(&name);
                settings.forget(&name);
                answer
            }
            // A deleted alias takes its function URL and its policy with it.
            ("DeleteAlias", Some(name)) => {
                if let Some(alias) = segments.get(4) {
                    self.lambda.alias_urls.forget_alias(&name, alias);
                    self.lambda
                        .policies
                        .forget(&qualified_name(&name, Some(alias)));
                }
                answer
            }
            ("CreateFunction", _) => {
                if let Some(request) = call.request.json()
                    && let Some(name) = request["FunctionName"].as_str()
                {
                    settings.set_from(name.rsplit(':').next().unwrap_or(name), &request);
                }
                complete_configuration(answer, settings, |answer| answer)
            }
            ("UpdateFunctionConfiguration", Some(name)) => {
                if let Some(request) = call.request.json() {
                    settings.set_from(&name, &request);
                }
                complete_configuration(answer, settings, |answer| answer)
            }
            ("GetFunctionConfiguration", _) => {
                complete_configuration(answer, settings, |answer| answer)
            }
            ("GetFunction", _) => {
                complete_configuration(answer, settings, |answer| &mut answer["Configuration"])
            }
            _ => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::activity::ActivityLog;
    use crate::applied::Applied;
    use crate::applied::lambda::{Alias, Function, FunctionUrl};

    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:handler";

    /// The two statements the consumer module adds for an `AuthType NONE` function URL, on the
    /// resource `arn` (the function's, or an alias's with a `Qualifier`).
    fn public_url_policy(arn: &str) -> String {
        let policies = permissions::FunctionPolicies::default();
        for request in [
            json!({"StatementId": "Url", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"}),
            json!({"StatementId": "Invoke", "Action": "lambda:InvokeFunction", "Principal": "*"}),
        ] {
            let statement = permissions::statement(arn, &request, "123456789012").unwrap();
            policies.add("handler", statement).unwrap();
        }
        policies.policy("handler").unwrap()
    }

    fn url(id: &str) -> Option<FunctionUrl> {
        Some(FunctionUrl {
            url: format!("https://{id}.lambda-url.eu-west-1.on.aws/"),
            auth_type: "NONE".to_owned(),
        })
    }

    /// A handler with a URL of its own and an alias `live` with another, each with the policies
    /// given.
    fn authorizer(function_policy: Option<String>, alias_policy: Option<String>) -> Authorizer {
        let dir = tempfile::tempdir().unwrap();
        let activity = ActivityLog::create(&dir.path().join("activity.jsonl")).unwrap();
        let authorizer = Authorizer::new("123456789012", "eu-west-1", activity);
        let alias = Alias {
            name: "live".to_owned(),
            arn: format!("{ARN}:live"),
            function_version: "$LATEST".to_owned(),
            url: url("aliasurl"),
            policy: alias_policy,
        };
        let mut applied = Applied::default();
        applied.lambda.functions.insert(
            "handler".to_owned(),
            Function {
                name: "handler".to_owned(),
                arn: ARN.to_owned(),
                url: url("functionurl"),
                policy: function_policy,
                aliases: BTreeMap::from([("live".to_owned(), alias)]),
                ..Function::default()
            },
        );
        assert!(authorizer.update(Arc::new(applied)).is_empty());
        authorizer
    }

    fn allowed(authorizer: &Authorizer, url_id: &str) -> bool {
        let snapshot = authorizer.snapshot();
        let target = snapshot.applied.lambda.by_url_id(url_id).unwrap();
        authorize_url(authorizer, &snapshot, target, None).is_ok()
    }

    #[test]
    fn an_alias_url_is_allowed_only_by_the_alias_policy() {
        let on_alias = authorizer(None, Some(public_url_policy(&format!("{ARN}:live"))));
        assert!(allowed(&on_alias, "aliasurl"));
        assert!(
            !allowed(&on_alias, "functionurl"),
            "a permission on the alias does not open the function"
        );

        let on_function = authorizer(Some(public_url_policy(ARN)), None);
        assert!(allowed(&on_function, "functionurl"));
        assert!(
            !allowed(&on_function, "aliasurl"),
            "a permission on the function does not open its alias"
        );
    }

    #[test]
    fn a_statement_for_another_resource_on_the_alias_policy_allows_nothing() {
        // The alias's policy holding a statement on the unqualified ARN (which AddPermission
        // never writes) still does not match the alias's ARN.
        let misplaced = authorizer(None, Some(public_url_policy(ARN)));
        assert!(!allowed(&misplaced, "aliasurl"));
        assert!(!allowed(&misplaced, "functionurl"));
    }

    #[test]
    fn invocations_through_an_alias_are_counted_under_its_resource() {
        let through = |function: &str, qualifier: Option<&str>| {
            let mut request =
                InvokeRequest::new(function, Bytes::new(), InvocationType::RequestResponse);
            request.qualifier = qualifier.map(str::to_owned);
            alias_resource(&request)
        };
        let expected = Some(("handler".to_owned(), "handler:live".to_owned()));
        assert_eq!(through("handler", Some("live")), expected);
        assert_eq!(through("handler:live", None), expected);
        assert_eq!(through(&format!("{ARN}:live"), None), expected);
        assert_eq!(through("handler", None), None);
        assert_eq!(through("handler", Some("$LATEST")), None);
        assert_eq!(through("handler", Some("3")), None);
        assert_eq!(qualified_name("handler", Some("$LATEST")), "handler");
    }
}
