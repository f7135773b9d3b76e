//! AWS Lambda, locally: the functions Terraform created run from the code it uploaded, with the
//! environment, timeout and memory it set, under the credentials of their execution role.

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
use postoffice_lambda_host::LambdaHost;
use postoffice_lambda_host::invoke_api::{parse_request, render_error, render_outcome};
use postoffice_policy::Principal;

use crate::aws::errors::AwsError;
use crate::aws::{Call, LocalService};
use crate::iam::{Authorizer, Check, Target, base_context};
use code::{CodeStore, MAX_DIRECT_UPLOAD_BYTES};
use registry::PlanRegistry;

/// Lambda, locally: the host that runs the functions, and their code.
pub struct Lambda {
    pub host: LambdaHost,
    pub registry: Arc<PlanRegistry>,
    pub code: Arc<CodeStore>,
    pub authorizer: Arc<Authorizer>,
    /// The functions' resource-based policies (moto's are not AWS's).
    pub policies: Arc<permissions::FunctionPolicies>,
    /// Settings moto drops (`KMSKeyArn`, `LoggingConfig`).
    pub settings: Arc<settings::FunctionSettings>,
    /// The control plane's Lambda (moto), to tell whether a function exists.
    pub control: aws_sdk_lambda::Client,
}

impl Lambda {
    /// A request to a function URL, as Lambda serves it: the function's resource policy must
    /// allow the caller both `lambda:InvokeFunctionUrl` and, since October 2025,
    /// `lambda:InvokeFunction` through the URL
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>); a refusal is a 403.
    /// Only the `NONE` auth type is served: its caller is anonymous.
    pub async fn invoke_url(
        &self,
        url_id: &str,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let snapshot = self.authorizer.snapshot();
        let Some(function) = snapshot.applied.lambda.by_url_id(url_id).map(|function| {
            (
                function.name.clone(),
                function.arn.clone(),
                function.url.clone(),
            )
        }) else {
            return plain(404, "Not Found");
        };
        let (name, arn, url) = function;
        let auth_type = url.map(|url| url.auth_type).unwrap_or_default();
        if auth_type != "NONE" {
            tracing::warn!(
                function = name,
                auth_type,
                "only NONE function URLs are served locally"
            );
            return plain(403, "Forbidden");
        }
        let context = base_context(true, &self.authorizer.region)
            .with("lambda:FunctionUrlAuthType", "NONE")
            .with("aws:SourceIp", "127.0.0.1");
        for (action, context) in [
            ("lambda:InvokeFunctionUrl", context.clone()),
            (
                "lambda:InvokeFunction",
                context.with("lambda:InvokedViaFunctionUrl", true),
            ),
        ] {
            let allowed = self.authorizer.check(
                &snapshot,
                Check {
                    principal: Principal::anonymous(),
                    action,
                    resource: &arn,
                    target: Target::Function(&name),
                    context,
                },
            );
            if allowed.is_err() {
                return plain(403, "Forbidden");
            }
        }
        self.host.invoke_url(url_id, request).await
    }
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
/// code uploads are kept (and refused over Lambda's limits); everything else of the control
/// plane is moto's.
pub struct LambdaService {
    pub lambda: Arc<Lambda>,
}

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
            Ok(request) => match self.lambda.host.invoke_request(request).await {
                Ok(outcome) => render_outcome(&outcome),
                Err(error) => render_error(&error),
            },
            Err(error) => render_error(&error),
        };
        answer.map(axum::body::Body::from).into_response()
    }
}

impl LambdaService {
    /// `AddPermission`, `RemovePermission`, `GetPolicy`, on the policies kept here.
    async fn permission(&self, call: &Call, action: &str) -> Response {
        let segments = call.request.path_segments();
        let reference = segments.get(2).cloned().unwrap_or_default();
        let function = match self
            .lambda
            .control
            .get_function()
            .function_name(&reference)
            .send()
            .await
        {
            Ok(found) => found.configuration,
            Err(_) => None,
        };
        let Some(function) = function else {
            return call.error(&AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("Function not found: {reference}"),
            ));
        };
        let name = function.function_name.unwrap_or_default();
        let mut arn = function.function_arn.unwrap_or_default();
        if let Some(qualifier) = call.request.parameters().get("Qualifier") {
            arn = format!("{arn}:{qualifier}");
        }
        let json = |status: u16, value: serde_json::Value| {
            (
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK),
                [("content-type", "application/json")],
                value.to_string(),
            )
                .into_response()
        };
        match action {
            "AddPermission" => {
                let body = call.request.json().unwrap_or_default();
                let account = self.lambda.authorizer.account.clone();
                match permissions::statement(&arn, &body, &account)
                    .and_then(|statement| self.lambda.policies.add(&name, statement))
                {
                    Ok(statement) => json(
                        201,
                        serde_json::json!({ "Statement": statement.to_string() }),
                    ),
                    Err(error) => call.error(&error),
                }
            }
            "RemovePermission" => {
                let sid = segments.get(4).cloned().unwrap_or_default();
                match self.lambda.policies.remove(&name, &sid) {
                    Ok(()) => (axum::http::StatusCode::NO_CONTENT, "").into_response(),
                    Err(error) => call.error(&error),
                }
            }
            _ => match self.lambda.policies.policy(&name) {
                Some(policy) => json(
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
                self.lambda.policies.forget(&name);
                settings.forget(&name);
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
