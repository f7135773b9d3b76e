//! Runs a [`Handler`] as an HTTP service (the consumer module's `compute = "container"`): the
//! same [`Consumer`] as a Lambda, behind the same SNS endpoint ([`crate::endpoint`]), served on a
//! port instead of through a function URL. A load balancer's HTTPS listener (or, locally, the
//! local post office) terminates TLS in front of it.
//!
//! - every path but [`HEALTH_PATH`] is the SNS endpoint, so a shared listener may route any path
//!   prefix to it;
//! - `GET` [`HEALTH_PATH`] answers 200 while the process serves (the target group's health
//!   check);
//! - on SIGTERM (ECS stops a task with it, after draining it from the target group) or Ctrl-C it
//!   stops accepting connections and finishes the requests it holds, each bounded by the
//!   endpoint's [`RESPONSE_DEADLINE`](crate::endpoint::RESPONSE_DEADLINE).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use super::Handler;
use super::consumer::ConsumerService;
use super::lambda::{StartupError, consumer_from_env};
use crate::endpoint::aws::aws_endpoint;
use crate::endpoint::{EndpointConfig, ServiceHandler};

/// The address the service listens on; [`DEFAULT_LISTEN_ADDRESS`] when unset.
pub const LISTEN_ADDRESS_ENV: &str = "POSTOFFICE_LISTEN_ADDRESS";
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:8080";
/// The handler's name in the endpoint's logs and metrics (dimension `HandlerFunction`): the
/// module sets the ECS service's name; unset, the consumer's.
pub const HANDLER_NAME_ENV: &str = "POSTOFFICE_HANDLER_NAME";
/// The target group's health check path.
pub const HEALTH_PATH: &str = "/health";

/// Serves `handler` on [`LISTEN_ADDRESS_ENV`] until SIGTERM or Ctrl-C, loading the AWS
/// configuration from the environment (the task role's credentials in ECS).
pub async fn serve<H: Handler + 'static>(handler: H) -> Result<(), StartupError> {
    let address = listen_address(std::env::var(LISTEN_ADDRESS_ENV).ok())?;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|error| StartupError::Listen { address, error })?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::aws_http::http_client())
        .load()
        .await;
    serve_on(listener, &config, handler, shutdown_signal()).await
}

/// Like [`serve`], on a bound listener, until `shutdown` completes.
pub async fn serve_on<H: Handler + 'static>(
    listener: TcpListener,
    config: &SdkConfig,
    handler: H,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let consumer = Arc::new(consumer_from_env(config, handler)?);
    let name = std::env::var(HANDLER_NAME_ENV)
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| H::CONSUMER.to_owned());
    let endpoint = aws_endpoint(
        &EndpointConfig::from_env()?,
        config,
        ServiceHandler::new(name, ConsumerService::from(consumer)),
    )?;
    let router = Router::new()
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .fallback_service(endpoint.into_service());
    tracing::info!(
        consumer = H::CONSUMER,
        address = %listener.local_addr().map_err(StartupError::Serve)?,
        "handler service ready"
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(StartupError::Serve)?;
    tracing::info!(consumer = H::CONSUMER, "handler service stopped");
    Ok(())
}

fn listen_address(value: Option<String>) -> Result<SocketAddr, StartupError> {
    let value = value
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| DEFAULT_LISTEN_ADDRESS.to_owned());
    value
        .parse()
        .map_err(|_| StartupError::InvalidListenAddress {
            var: LISTEN_ADDRESS_ENV,
            value,
        })
}

/// SIGTERM (how ECS stops a task) or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "no SIGTERM handler; stopping on Ctrl-C only");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_address_defaults_and_is_checked() {
        assert_eq!(
            listen_address(None).unwrap(),
            DEFAULT_LISTEN_ADDRESS.parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            listen_address(Some("127.0.0.1:9000".into()))
                .unwrap()
                .port(),
            9000
        );
        let error = listen_address(Some("localhost".into())).unwrap_err();
        assert!(error.to_string().contains(LISTEN_ADDRESS_ENV), "{error}");
    }
}
