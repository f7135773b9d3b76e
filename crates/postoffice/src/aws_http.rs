//! The HTTP client the AWS SDK clients of the Lambdas send their requests with: `reqwest` from
//! [`crate::https`] (rustls on aws-lc-rs, HTTP/1.1), the client the certificate fetcher already
//! uses. The SDK's own default client would add a second HTTP client stack and HTTP/2 to every
//! Lambda binary.
//!
//! Pass [`http_client`] to `aws_config::defaults(..).http_client(..)` (or to an SDK config
//! builder) wherever a Lambda builds an SDK configuration.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// A client for `aws_config::ConfigLoader::http_client` or an SDK config builder's `http_client`.
pub fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestHttpClient::default())
}

/// One `reqwest` client (and connection pool) per timeout setting: the SDK asks for a connector
/// on every attempt, and timeouts are fixed when a `reqwest` client is built.
#[derive(Debug, Default)]
struct ReqwestHttpClient {
    clients: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        };
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(timeouts)
            .or_insert_with(|| SharedHttpConnector::new(ReqwestConnector::new(timeouts)))
            .clone()
    }
}

#[derive(Debug)]
struct ReqwestConnector {
    /// Why no client could be built (an unreadable `AWS_CA_BUNDLE`), reported on every call.
    client: Result<reqwest::Client, String>,
}

impl ReqwestConnector {
    fn new(timeouts: Timeouts) -> Self {
        // The SDK's own clients neither follow redirects nor go through proxies.
        let mut builder = match crate::https::aws_client_builder() {
            Ok(builder) => builder,
            Err(error) => {
                return Self {
                    client: Err(error.to_string()),
                };
            }
        }
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
        if let Some(timeout) = timeouts.connect {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = timeouts.read {
            builder = builder.read_timeout(timeout);
        }
        Self {
            client: builder.build().map_err(|error| error.to_string()),
        }
    }
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|error| ConnectorError::other(error.into(), None))?;
            let request = to_reqwest(request)?;
            let response = client.execute(request).await.map_err(connector_error)?;
            from_reqwest(response).await
        })
    }
}

fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|error| ConnectorError::user(error.into()))?;
    let (parts, body) = request.into_parts();
    let Some(bytes) = body.bytes() else {
        return Err(ConnectorError::user(
            "streaming request bodies are not supported by postoffice::aws_http".into(),
        ));
    };
    let request = http::Request::from_parts(parts, bytes.to_vec());
    reqwest::Request::try_from(request).map_err(|error| ConnectorError::user(error.into()))
}

async fn from_reqwest(response: reqwest::Response) -> Result<HttpResponse, ConnectorError> {
    let mut builder = http::Response::builder().status(response.status());
    if let Some(headers) = builder.headers_mut() {
        *headers = response.headers().clone();
    }
    let body = response.bytes().await.map_err(connector_error)?;
    let response = builder
        .body(SdkBody::from(body))
        .map_err(|error| ConnectorError::other(error.into(), None))?;
    HttpResponse::try_from(response).map_err(|error| ConnectorError::other(error.into(), None))
}

/// Timeouts and connection failures are transient to the SDK's retry strategy; a request
/// `reqwest` cannot send at all is the caller's.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() {
        ConnectorError::io(error.into()).never_connected()
    } else if error.is_builder() {
        ConnectorError::user(error.into())
    } else {
        ConnectorError::io(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: SdkBody) -> HttpRequest {
        let request = http::Request::post(
            "http://127.0.0.1:9/2015-03-31/functions/kitchen/invocations?Qualifier=live",
        )
        .header("x-amz-target", "Invoke")
        .header("x-repeated", "one")
        .header("x-repeated", "two")
        .body(body)
        .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    #[test]
    fn an_in_memory_request_keeps_its_method_uri_headers_and_body() {
        let converted = to_reqwest(request(SdkBody::from(r#"{"envelope":{}}"#))).unwrap();
        assert_eq!(converted.method(), reqwest::Method::POST);
        assert_eq!(
            converted.url().as_str(),
            "http://127.0.0.1:9/2015-03-31/functions/kitchen/invocations?Qualifier=live"
        );
        assert_eq!(converted.headers()["x-amz-target"], "Invoke");
        let repeated: Vec<_> = converted.headers().get_all("x-repeated").iter().collect();
        assert_eq!(repeated, ["one", "two"]);
        assert_eq!(
            converted.body().and_then(reqwest::Body::as_bytes),
            Some(br#"{"envelope":{}}"#.as_slice())
        );
    }

    #[test]
    fn a_streaming_body_is_refused_as_the_callers_error() {
        let error = to_reqwest(request(SdkBody::taken())).unwrap_err();
        assert!(error.is_user(), "{error:?}");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("streaming request bodies"), "{source}");
    }
}
