//! The local AWS endpoint: the one address every AWS client of a local post office talks to
//! (Terraform's provider `endpoints {}`, the Lambdas' and tools' `AWS_ENDPOINT_URL`), over TLS as
//! AWS's endpoints are.
//!
//! Each request is read the way AWS reads it ([`request`]), authenticated by its SigV4 signature
//! against the credentials the post office issued ([`credentials`], [`sigv4`]), authorised for
//! anyone but the administrator (the [`Authorize`] port, AWS's policy evaluation), then either
//! answered by the local service that stands in for AWS where moto does not (data planes, and the
//! few control-plane actions moto lacks), or passed on to moto, the control plane. Local services
//! also see moto's answers to the calls they care about (a new subscription, a new function's
//! code), and every change of control-plane state is announced ([`ControlPlaneChanges`]) so the
//! runtime re-reads what was applied.

pub mod credentials;
pub mod errors;
pub mod moto;
pub mod request;
pub mod sigv4;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use credentials::{Caller, CredentialStore};
use errors::AwsError;
use request::{AwsRequest, Protocol};

/// Largest request body the endpoint reads: Lambda's direct zip upload limit (50 MB), base64
/// encoded inside a JSON document.
const MAX_BODY_BYTES: usize = 80 * 1024 * 1024;

/// One authenticated call.
#[derive(Debug)]
pub struct Call {
    pub request: AwsRequest,
    pub caller: Caller,
    pub request_id: String,
}

impl Call {
    pub fn protocol(&self) -> Protocol {
        self.request.protocol()
    }

    pub fn action(&self) -> Option<String> {
        self.request.action()
    }

    pub fn error(&self, error: &AwsError) -> Response {
        error.render(self.protocol(), &self.request_id)
    }
}

/// moto's answer to a call passed on to it.
#[derive(Debug, Clone)]
pub struct ControlPlaneAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl IntoResponse for ControlPlaneAnswer {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        for (name, value) in &self.headers {
            if !is_hop_by_hop(name.as_str()) {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        response
    }
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "content-length" | "transfer-encoding" | "connection" | "keep-alive" | "server" | "date"
    )
}

/// What a local service does with a call for its AWS service.
#[async_trait]
pub trait LocalService: Send + Sync {
    /// Answers the call itself, or `None` to pass it on to moto.
    async fn serve(&self, call: &Call) -> Option<Response>;

    /// Sees (and may change) moto's answer to a call it passed on.
    async fn observe(&self, _call: &Call, answer: ControlPlaneAnswer) -> ControlPlaneAnswer {
        answer
    }
}

/// Decides whether a caller other than the administrator may make a call (AWS's policy
/// evaluation); a refusal is the AWS error to answer.
pub trait Authorize: Send + Sync {
    fn authorize(&self, call: &Call) -> Result<(), AwsError>;
}

/// A signed caller of a function URL, as authenticated.
#[derive(Debug, Clone)]
pub struct UrlCaller {
    pub caller: Caller,
    pub access_key_id: String,
}

/// Function URLs (`https://ID.lambda-url.REGION.on.aws/`): requests to the local endpoint whose
/// `Host` names one are served by Lambda, signed (auth type `AWS_IAM`) or not (`NONE`).
#[async_trait]
pub trait FunctionUrls: Send + Sync {
    async fn invoke(
        &self,
        url_id: &str,
        caller: Option<UrlCaller>,
        request: Request<Bytes>,
    ) -> axum::http::Response<Bytes>;
}

/// The URL id of a function URL host (`ID.lambda-url.REGION.on.aws`, with or without a port).
fn function_url_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get("host")?.to_str().ok()?;
    let host = host.split(':').next()?;
    let (id, rest) = host.split_once('.')?;
    (rest.starts_with("lambda-url.") && rest.ends_with(".on.aws") && !id.is_empty())
        .then(|| id.to_owned())
}

/// Announces control-plane changes, per service (signing name), as a generation number.
#[derive(Clone)]
pub struct ControlPlaneChanges {
    sender: Arc<watch::Sender<BTreeMap<String, u64>>>,
}

impl Default for ControlPlaneChanges {
    fn default() -> Self {
        Self {
            sender: Arc::new(watch::channel(BTreeMap::new()).0),
        }
    }
}

impl ControlPlaneChanges {
    pub fn changed(&self, service: &str) {
        self.sender.send_modify(|generations| {
            *generations.entry(service.to_owned()).or_default() += 1;
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<BTreeMap<String, u64>> {
        self.sender.subscribe()
    }
}

/// The endpoint's parts; cheap to clone.
#[derive(Clone)]
pub struct AwsEndpoint {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: Arc<CredentialStore>,
    moto: moto::MotoClient,
    services: HashMap<String, Arc<dyn LocalService>>,
    authorize: Arc<dyn Authorize>,
    changes: ControlPlaneChanges,
    function_urls: Option<Arc<dyn FunctionUrls>>,
}

impl AwsEndpoint {
    /// Serves function URL requests too (by `Host`).
    pub fn with_function_urls(self, urls: Arc<dyn FunctionUrls>) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                credentials: inner.credentials.clone(),
                moto: inner.moto.clone(),
                services: inner.services.clone(),
                authorize: inner.authorize.clone(),
                changes: inner.changes.clone(),
                function_urls: Some(urls),
            }),
        }
    }

    pub fn new(
        credentials: Arc<CredentialStore>,
        moto: moto::MotoClient,
        services: HashMap<String, Arc<dyn LocalService>>,
        authorize: Arc<dyn Authorize>,
        changes: ControlPlaneChanges,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                credentials,
                moto,
                services,
                authorize,
                changes,
                function_urls: None,
            }),
        }
    }

    /// Serves one HTTP request; `secure` says whether it arrived over TLS.
    pub async fn handle(&self, request: Request<Body>, secure: bool) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = request.into_parts();
        let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(_) => {
                return AwsError::new(413, "RequestEntityTooLargeException", "Request too large")
                    .render(Protocol::Rest, &request_id);
            }
        };
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &parts.headers {
            headers
                .entry(name.as_str().to_owned())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        let mut request = AwsRequest {
            method: parts.method.clone(),
            raw_path: parts.uri.path().to_owned(),
            raw_query: parts.uri.query().map(str::to_owned),
            headers,
            body,
            authorization: None,
            secure,
        };
        if let Some(url_id) = function_url_host(&parts.headers)
            && let Some(urls) = &self.inner.function_urls
        {
            let caller = match request.header("authorization") {
                None => None,
                Some(_) => match self.authenticate(&mut request) {
                    Ok(caller) if request.service() == Some("lambda") => {
                        let access_key_id = request
                            .authorization
                            .as_ref()
                            .map(|authorization| authorization.access_key_id.clone())
                            .unwrap_or_default();
                        Some(UrlCaller {
                            caller,
                            access_key_id,
                        })
                    }
                    // Lambda answers a bad signature on a function URL with a bare 403.
                    _ => {
                        return (StatusCode::FORBIDDEN, "{\"Message\":\"Forbidden\"}")
                            .into_response();
                    }
                },
            };
            let mut forwarded = Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone())
                .body(request.body.clone())
                .expect("the request's own parts");
            *forwarded.headers_mut() = parts.headers.clone();
            let response = urls.invoke(&url_id, caller, forwarded).await;
            let (response_parts, body) = response.into_parts();
            return Response::from_parts(response_parts, Body::from(body));
        }
        let unsigned =
            request.header("authorization").is_none() && request.unsigned_service().is_some();
        let caller = if unsigned {
            Caller::Anonymous {
                account: self.inner.credentials.account().to_owned(),
            }
        } else {
            match self.authenticate(&mut request) {
                Ok(caller) => caller,
                Err(error) => return error.render(request.protocol(), &request_id),
            }
        };
        let call = Call {
            request,
            caller,
            request_id,
        };
        if !matches!(
            call.caller,
            Caller::Administrator { .. } | Caller::Anonymous { .. }
        ) && let Err(denied) = self.inner.authorize.authorize(&call)
        {
            return call.error(&denied);
        }
        let service = call.request.service().unwrap_or_default().to_owned();
        let local = self.inner.services.get(&service).cloned();
        if let Some(local) = &local
            && let Some(answer) = local.serve(&call).await
        {
            return answer;
        }
        let answer = match self.inner.moto.forward(&call.request).await {
            Ok(answer) => answer,
            Err(error) => {
                tracing::error!(%error, service, "moto did not answer");
                return call.error(&AwsError::new(
                    500,
                    "InternalFailure",
                    format!("the control plane (moto) did not answer: {error}"),
                ));
            }
        };
        if answer.status.is_success() && call.request.is_mutation() {
            self.inner.changes.changed(&service);
        }
        match local {
            Some(local) => local.observe(&call, answer).await.into_response(),
            None => answer.into_response(),
        }
    }

    fn authenticate(&self, request: &mut AwsRequest) -> Result<Caller, AwsError> {
        let protocol = request.protocol();
        let refuse = |error: sigv4::SignatureError| {
            let (status, code) = match (&error, protocol) {
                (sigv4::SignatureError::Missing, Protocol::Query) => {
                    (403, "MissingAuthenticationToken")
                }
                (sigv4::SignatureError::Missing, _) => (403, "MissingAuthenticationTokenException"),
                (sigv4::SignatureError::UnknownAccessKey, Protocol::Query) => {
                    (403, "InvalidClientTokenId")
                }
                (sigv4::SignatureError::UnknownAccessKey, _) => {
                    (403, "UnrecognizedClientException")
                }
                (_, Protocol::Query) => (403, "SignatureDoesNotMatch"),
                (_, _) => (403, "InvalidSignatureException"),
            };
            AwsError::new(status, code, error.to_string())
        };
        let header = request
            .header("authorization")
            .ok_or(sigv4::SignatureError::Missing)
            .map_err(refuse)?
            .to_owned();
        let authorization = sigv4::Authorization::parse(&header).map_err(refuse)?;
        let (secret, caller) = self
            .inner
            .credentials
            .lookup(
                &authorization.access_key_id,
                request.header("x-amz-security-token"),
            )
            .ok_or(sigv4::SignatureError::UnknownAccessKey)
            .map_err(refuse)?;
        let signed = sigv4::SignedRequest {
            method: request.method.as_str(),
            raw_path: &request.raw_path,
            raw_query: request.raw_query.as_deref(),
            headers: &request.headers,
            body: &request.body,
        };
        sigv4::verify(&signed, &authorization, &secret, chrono::Utc::now()).map_err(refuse)?;
        request.authorization = Some(authorization);
        Ok(caller)
    }

    /// Serves HTTPS on `listener` until the task is aborted.
    pub async fn serve_tls(self, listener: tokio::net::TcpListener, tls: rustls::ServerConfig) {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let endpoint = self.clone();
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    endpoint.serve_connection(stream, true).await;
                }
            });
        }
    }

    /// Serves plain HTTP on `listener` (AWS endpoints accept it too; `aws:SecureTransport` is
    /// false there).
    pub async fn serve_plain(self, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let endpoint = self.clone();
            tokio::spawn(async move { endpoint.serve_connection(stream, false).await });
        }
    }

    async fn serve_connection<S>(self, stream: S, secure: bool)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let endpoint = self.clone();
            async move {
                Ok::<_, std::convert::Infallible>(
                    endpoint.handle(request.map(Body::new), secure).await,
                )
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await;
    }
}

/// Where a started endpoint listens.
#[derive(Debug, Clone)]
pub struct EndpointAddresses {
    pub https: SocketAddr,
    pub http: SocketAddr,
}

impl EndpointAddresses {
    pub fn https_url(&self) -> String {
        format!("https://{}", self.https)
    }
}
