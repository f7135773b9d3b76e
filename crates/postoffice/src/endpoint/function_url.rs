//! The endpoint behind a Lambda function URL: the invocation event (payload format 2.0) as an
//! HTTP request, and the HTTP response as the function's answer
//! (<https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>). The bridge and a
//! handler that embeds the endpoint both answer function URL events through
//! [`SnsEndpoint::handle_function_url`].

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::decision::Decision;
use super::handling::{Report, SnsEndpoint};
use super::ports::{HandlerPort, SubscriptionConfirmer};
use crate::sns::{CertificateFetcher, Clock};

/// Whether a Lambda payload is a function URL event (and not, say, a handler invocation).
pub fn is_event(payload: &Value) -> bool {
    payload
        .get("requestContext")
        .and_then(|context| context.get("http"))
        .is_some_and(Value::is_object)
}

/// Absent and `null` alike (Lambda leaves fields out, emulators such as `cargo lambda watch` send
/// `null`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    raw_path: Option<String>,
    raw_query_string: Option<String>,
    /// Function URLs join repeated headers with commas, one entry per name.
    headers: Option<BTreeMap<String, String>>,
    request_context: RequestContext,
    body: Option<String>,
    is_base64_encoded: Option<bool>,
}

#[derive(Deserialize)]
struct RequestContext {
    http: Http,
}

#[derive(Deserialize)]
struct Http {
    method: String,
}

/// The HTTP request a function URL event carries.
pub fn request(payload: Value) -> Result<Request<Bytes>, String> {
    let event: Event = serde_json::from_value(payload)
        .map_err(|error| format!("not a function URL event: {error}"))?;
    let body = match event.body {
        None => Bytes::new(),
        Some(body) if event.is_base64_encoded == Some(true) => Bytes::from(
            BASE64
                .decode(body)
                .map_err(|error| format!("body is not valid base64: {error}"))?,
        ),
        Some(body) => Bytes::from(body),
    };
    let path = match event.raw_path.as_deref() {
        None | Some("") => "/",
        Some(path) => path,
    };
    let uri = match event.raw_query_string.as_deref() {
        None | Some("") => path.to_owned(),
        Some(query) => format!("{path}?{query}"),
    };
    let mut request = Request::builder()
        .method(event.request_context.http.method.as_str())
        .uri(uri)
        .body(body)
        .map_err(|error| format!("not an HTTP request: {error}"))?;
    for (name, value) in event.headers.unwrap_or_default() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            request.headers_mut().append(name, value);
        }
    }
    Ok(request)
}

/// The function's answer that makes the function URL send `response` (text bodies: the
/// endpoint's are short JSON).
pub fn answer(response: Response<Bytes>) -> Value {
    let headers: BTreeMap<&str, String> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    json!({
        "statusCode": response.status().as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(response.body()),
        "isBase64Encoded": false,
    })
}

impl<F, C, H, S> SnsEndpoint<F, C, H, S>
where
    F: CertificateFetcher,
    C: Clock + Clone,
    H: HandlerPort,
    S: SubscriptionConfirmer,
{
    /// Answers one function URL event. Never a function error: the function URL would turn it
    /// into a 502 without the endpoint's reason.
    pub async fn handle_function_url(&self, payload: Value) -> Value {
        let arrived = Instant::now();
        let response = match request(payload) {
            Ok(request) => self.handle_from(request, arrived).await,
            Err(detail) => {
                let mut report = Report::new(Decision::MalformedMessage);
                report.detail = Some(detail);
                self.answer(&report, arrived)
            }
        };
        answer(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: Option<&str>, base64: bool) -> Value {
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "a=1",
            "headers": {
                "content-type": "text/plain; charset=UTF-8",
                "x-amz-sns-message-type": "Notification",
            },
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "body": body,
            "isBase64Encoded": base64,
        })
    }

    #[test]
    fn an_event_becomes_the_request_it_carries() {
        let request = request(event(Some("{\"Type\":\"Notification\"}"), false)).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "/?a=1");
        assert_eq!(request.headers()["x-amz-sns-message-type"], "Notification");
        assert_eq!(
            request.body(),
            &Bytes::from_static(b"{\"Type\":\"Notification\"}")
        );

        let binary = super::request(event(Some("aGVsbG8="), true)).unwrap();
        assert_eq!(binary.body(), &Bytes::from_static(b"hello"));
        assert!(super::request(event(Some("%%%"), true)).is_err());
        assert!(
            super::request(event(None, false))
                .unwrap()
                .body()
                .is_empty()
        );
    }

    /// `cargo lambda watch`, which the local post office runs the bridge under, sends `null` for
    /// what Lambda leaves out.
    #[test]
    fn null_fields_read_as_absent() {
        let mut event = event(Some("{}"), false);
        for field in [
            "rawPath",
            "rawQueryString",
            "headers",
            "isBase64Encoded",
            "cookies",
        ] {
            event[field] = Value::Null;
        }
        let request = super::request(event).unwrap();
        assert_eq!(request.uri(), "/");
        assert!(request.headers().is_empty());
        assert_eq!(request.body(), &Bytes::from_static(b"{}"));
    }

    #[test]
    fn only_function_url_events_are_recognised() {
        assert!(is_event(&event(None, false)));
        assert!(!is_event(&json!({"envelope": {}, "delivery": {}})));
        assert!(!is_event(&json!({"requestContext": {"http": "GET"}})));
        assert!(super::request(json!({"envelope": {}})).is_err());
    }

    #[test]
    fn a_response_becomes_the_answer_the_function_url_sends() {
        let response = Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .body(Bytes::from_static(b"{\"reason\":\"topic_not_allowed\"}"))
            .unwrap();
        assert_eq!(
            answer(response),
            json!({
                "statusCode": 403,
                "headers": {"content-type": "application/json"},
                "body": "{\"reason\":\"topic_not_allowed\"}",
                "isBase64Encoded": false,
            })
        );
    }
}
