//! The SNS bridge Lambda behind a function URL. Everything but wiring lives in the library.

use std::convert::Infallible;

use bytes::Bytes;
use lambda_http::{Body, Request, Response, service_fn};
use postoffice::sns::{SystemClock, Verifier};
use sns_bridge::aws::{LambdaInvoker, SnsConfirmer};
use sns_bridge::{Bridge, BridgeConfig, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_logging();
    let config = BridgeConfig::from_env().inspect_err(|error| {
        tracing::error!(%error, "invalid bridge configuration");
    })?;

    let mut verifier = Verifier::aws()?;
    if let Some(path) = &config.local_trusted_cert {
        let pem = std::fs::read(path).map_err(|error| {
            format!("POSTOFFICE_LOCAL_TRUSTED_CERT {}: {error}", path.display())
        })?;
        verifier = verifier.with_local_certificate(&pem)?;
        tracing::warn!(path = %path.display(), "trusting a local SNS signing certificate: for local runs only");
    }

    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let bridge = Bridge::new(
        &config,
        verifier,
        SystemClock,
        LambdaInvoker::new(&sdk_config, config.invoke_timeout),
        SnsConfirmer::new(&sdk_config),
    );
    let bridge = &bridge;

    lambda_http::run(service_fn(move |request: Request| async move {
        let (parts, body) = request.into_parts();
        let body = match body {
            Body::Empty => Bytes::new(),
            Body::Text(text) => Bytes::from(text),
            Body::Binary(bytes) => Bytes::from(bytes),
            _ => Bytes::new(),
        };
        let response = bridge
            .handle(http::Request::from_parts(parts, body))
            .await
            .map(|body| Body::Text(String::from_utf8_lossy(&body).into_owned()));
        Ok::<Response<Body>, Infallible>(response)
    }))
    .await
}
