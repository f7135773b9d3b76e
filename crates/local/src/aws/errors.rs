//! AWS's error answers, in each protocol's shape, so SDK clients (and Terraform) see the typed
//! errors they would see from AWS.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::request::Protocol;

/// An error answer: HTTP status, the service's error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// The answer in `protocol`'s format.
    pub fn render(&self, protocol: Protocol, request_id: &str) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = match protocol {
            Protocol::Query => (
                status,
                [(header::CONTENT_TYPE, "text/xml")],
                format!(
                    "<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    if self.status >= 500 { "Receiver" } else { "Sender" },
                    xml_escape(&self.code),
                    xml_escape(&self.message),
                    request_id
                ),
            )
                .into_response(),
            Protocol::Json | Protocol::Cbor => (
                status,
                [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
                serde_json::json!({"__type": self.code, "message": self.message}).to_string(),
            )
                .into_response(),
            Protocol::Rest => (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::json!({"Type": "User", "message": self.message, "Message": self.message})
                    .to_string(),
            )
                .into_response(),
        };
        let headers = response.headers_mut();
        if let Ok(code) = HeaderValue::from_str(&self.code) {
            headers.insert("x-amzn-errortype", code);
        }
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        response
    }
}

pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn query_errors_are_xml_with_the_code() {
        let response = AwsError::new(403, "AuthorizationError", "not <allowed>")
            .render(Protocol::Query, "r-1");
        assert_eq!(response.status(), 403);
        assert_eq!(response.headers()["x-amzn-errortype"], "AuthorizationError");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("<Code>AuthorizationError</Code>"), "{body}");
        assert!(body.contains("not &lt;allowed&gt;"), "{body}");
    }
}
