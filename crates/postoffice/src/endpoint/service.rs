//! The endpoint as tower middleware. [`SnsEndpointService`] answers `http::Request`s with any
//! body (axum: `Router::route_service("/sns", service)`; hyper: hyper-util's
//! `TowerToHyperService`); [`SnsEndpointLayer`] puts an endpoint in front of a tower service of
//! [`HandlerInvocation`]s.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::config::EndpointConfig;
use super::decision::Decision;
use super::handling::{MAX_BODY_BYTES, Report, SnsEndpoint};
use super::ports::{HandlerPort, ServiceHandler, SubscriptionConfirmer};
use crate::handler::HandlerError;
use crate::invocation::HandlerInvocation;
use crate::sns::{CertificateFetcher, Clock, Verifier};

/// An [`SnsEndpoint`] as a tower service; clones share the endpoint.
pub struct SnsEndpointService<F, C, H, S> {
    endpoint: Arc<SnsEndpoint<F, C, H, S>>,
}

impl<F, C, H, S> Clone for SnsEndpointService<F, C, H, S> {
    fn clone(&self) -> Self {
        Self {
            endpoint: Arc::clone(&self.endpoint),
        }
    }
}

impl<F, C, H, S> SnsEndpointService<F, C, H, S> {
    pub fn endpoint(&self) -> &SnsEndpoint<F, C, H, S> {
        &self.endpoint
    }
}

impl<F, C, H, S> SnsEndpoint<F, C, H, S> {
    pub fn into_service(self) -> SnsEndpointService<F, C, H, S> {
        SnsEndpointService {
            endpoint: Arc::new(self),
        }
    }
}

impl<F, C, H, S, B> Service<Request<B>> for SnsEndpointService<F, C, H, S>
where
    F: CertificateFetcher + 'static,
    C: Clock + Clone + 'static,
    H: HandlerPort + 'static,
    S: SubscriptionConfirmer + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let endpoint = Arc::clone(&self.endpoint);
        Box::pin(async move {
            let arrived = Instant::now();
            let (parts, body) = request.into_parts();
            let refuse = |decision, detail: String| {
                let mut report = Report::new(decision);
                report.detail = Some(detail);
                endpoint.answer(&report, arrived)
            };
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
            let response = match declared {
                // Refused before reading a byte of it.
                Some(length) if length > MAX_BODY_BYTES as u64 => {
                    refuse(Decision::BodyTooLarge, format!("{length} bytes"))
                }
                _ => match Limited::new(body, MAX_BODY_BYTES).collect().await {
                    Ok(body) => {
                        let request = Request::from_parts(parts, body.to_bytes());
                        endpoint.handle_from(request, arrived).await
                    }
                    Err(error) if error.is::<LengthLimitError>() => refuse(
                        Decision::BodyTooLarge,
                        format!("over {MAX_BODY_BYTES} bytes"),
                    ),
                    Err(error) => refuse(
                        Decision::MalformedMessage,
                        format!("body unreadable: {error}"),
                    ),
                },
            };
            Ok(response.map(Full::new))
        })
    }
}

/// Puts an SNS endpoint in front of a tower service of [`HandlerInvocation`]s (for a Post
/// Office handler, [`crate::handler::Consumer::into_service`]); every service it wraps shares
/// the one verifier and its certificate cache.
pub struct SnsEndpointLayer<F, C, S> {
    config: EndpointConfig,
    verifier: Arc<Verifier<F, C>>,
    clock: C,
    confirmer: S,
    name: String,
}

impl<F: CertificateFetcher, C: Clock, S> SnsEndpointLayer<F, C, S> {
    /// `name` is the handler's name in logs and metrics. As for [`SnsEndpoint::new`], `verifier`
    /// must use `clock`; the configuration's minimum signature version applies to it.
    pub fn new(
        config: &EndpointConfig,
        verifier: Verifier<F, C>,
        clock: C,
        confirmer: S,
        name: impl Into<String>,
    ) -> Self {
        Self {
            config: config.clone(),
            verifier: Arc::new(
                verifier.with_minimum_signature_version(config.min_signature_version),
            ),
            clock,
            confirmer,
            name: name.into(),
        }
    }
}

impl<F, C, S, Svc> Layer<Svc> for SnsEndpointLayer<F, C, S>
where
    F: CertificateFetcher,
    C: Clock + Clone,
    S: SubscriptionConfirmer + Clone,
    Svc: Service<HandlerInvocation, Error = HandlerError> + Clone + Send + Sync,
    Svc::Future: Send,
{
    type Service = SnsEndpointService<F, C, ServiceHandler<Svc>, S>;

    fn layer(&self, inner: Svc) -> Self::Service {
        SnsEndpoint::sharing_verifier(
            &self.config,
            Arc::clone(&self.verifier),
            self.clock.clone(),
            ServiceHandler::new(self.name.clone(), inner),
            self.confirmer.clone(),
        )
        .into_service()
    }
}
