//! AWS Lambda, locally: the functions Terraform created run from the code it uploaded, with the
//! environment, timeout and memory it set, under the credentials of their execution role.

pub mod build;
pub mod code;
pub mod packaging;

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::aws::errors::AwsError;
use crate::aws::{Call, LocalService};
use code::{CodeStore, MAX_DIRECT_UPLOAD_BYTES};

/// The Lambda API as the local post office serves it: code uploads are kept (and refused over
/// Lambda's limits), everything else of the control plane is moto's.
pub struct LambdaService {
    pub code: Arc<CodeStore>,
}

#[async_trait]
impl LocalService for LambdaService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let action = call.action()?;
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
        if let Err(error) = self.code.save(&bytes) {
            return Some(call.error(&AwsError::new(
                500,
                "ServiceException",
                format!("keeping the function's code failed: {error}"),
            )));
        }
        None
    }
}
