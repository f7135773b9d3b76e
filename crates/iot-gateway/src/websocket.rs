//! The MQTT-over-WebSocket transport (IoT's `wss://ENDPOINT/mqtt` on port 443): server-only TLS,
//! an HTTP upgrade to `/mqtt` offering the `mqtt` subprotocol, then the same MQTT connection
//! code as the TLS transport over the WebSocket's binary frames. The upgrade request's URL is
//! the client's credentials: a SigV4 presigned URL that the authority verifies at CONNECT
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html>, "MQTT over the
//! WebSocket protocol").

use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use ws_stream_tungstenite::WsStream;

use crate::GatewayError;
use crate::authority::{ClientCredentials, SignedUrl};
use crate::broker::Broker;
use crate::metrics::increment;
use crate::tls::TlsIdentity;

/// The only path IoT serves MQTT on over WebSocket.
pub const MQTT_PATH: &str = "/mqtt";
/// The WebSocket subprotocol an MQTT client must offer.
pub const MQTT_SUBPROTOCOL: &str = "mqtt";

pub(crate) fn acceptor(identity: TlsIdentity) -> Result<TlsAcceptor, GatewayError> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(GatewayError::Tls)?
        .with_no_client_auth()
        .with_single_cert(identity.certificate_chain, identity.private_key)
        .map_err(GatewayError::Tls)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until the task is aborted; each gets its own task.
pub(crate) async fn accept_connections(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    broker: Arc<Broker>,
) {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(serve(tcp, acceptor.clone(), broker.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "accepting an MQTT-over-WebSocket connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What the upgrade request may be: a GET of `/mqtt` offering the `mqtt` subprotocol. Anything
/// else is answered with an HTTP error and never reaches MQTT.
pub(crate) fn check_upgrade(request: &Request) -> Result<SignedUrl, (StatusCode, String)> {
    let uri = request.uri();
    if uri.path() != MQTT_PATH {
        return Err((
            StatusCode::NOT_FOUND,
            format!(
                "MQTT over WebSocket is served on {MQTT_PATH}, not {}",
                uri.path()
            ),
        ));
    }
    let offers_mqtt = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim() == MQTT_SUBPROTOCOL);
    if !offers_mqtt {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("the WebSocket upgrade must offer the subprotocol {MQTT_SUBPROTOCOL}"),
        ));
    }
    let host = request
        .headers()
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(SignedUrl::new(
        host,
        uri.path().to_owned(),
        uri.query().unwrap_or_default().to_owned(),
    ))
}

async fn serve(tcp: TcpStream, acceptor: TlsAcceptor, broker: Arc<Broker>) {
    let _ = tcp.set_nodelay(true);
    let timeout = broker.limits.tls_handshake_timeout;
    let Ok(Ok(tls)) = tokio::time::timeout(timeout, acceptor.accept(tcp)).await else {
        increment(&broker.metrics.tls_handshake_failures);
        return;
    };
    let mut signed_url = None;
    // The error type is tungstenite's (`Callback`), an HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| match check_upgrade(request) {
        Ok(url) => {
            signed_url = Some(url);
            response.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_static(MQTT_SUBPROTOCOL),
            );
            Ok(response)
        }
        Err((status, reason)) => {
            let mut refusal = ErrorResponse::new(Some(reason));
            *refusal.status_mut() = status;
            Err(refusal)
        }
    };
    let upgrade = tokio::time::timeout(
        timeout,
        async_tungstenite::tokio::accept_hdr_async(tls, callback),
    )
    .await;
    let websocket = match upgrade {
        Ok(Ok(websocket)) => websocket,
        Ok(Err(error)) => {
            tracing::debug!(%error, "a WebSocket upgrade was refused");
            return;
        }
        Err(_) => return,
    };
    let Some(signed_url) = signed_url else {
        return;
    };
    let stream = WsStream::new(websocket);
    crate::connection::serve(broker, stream, ClientCredentials::SignedUrl(signed_url)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(path_and_query: &str, protocols: Option<&str>) -> Request {
        let mut builder = Request::builder()
            .uri(path_and_query)
            .header("host", "127.0.0.1:8443");
        if let Some(protocols) = protocols {
            builder = builder.header("sec-websocket-protocol", protocols);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_upgrade_keeps_the_signed_url_as_sent() {
        let url = check_upgrade(&upgrade(
            "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab",
            Some("mqtt"),
        ))
        .unwrap();
        assert_eq!(url.host(), "127.0.0.1:8443");
        assert_eq!(url.path(), "/mqtt");
        assert_eq!(
            url.query(),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab"
        );
    }

    #[test]
    fn another_path_or_no_mqtt_subprotocol_is_refused() {
        let (status, reason) = check_upgrade(&upgrade("/ws", Some("mqtt"))).unwrap_err();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(reason.contains("/mqtt"), "{reason}");
        let (status, reason) = check_upgrade(&upgrade("/mqtt", None)).unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(reason.contains("subprotocol mqtt"), "{reason}");
        assert!(check_upgrade(&upgrade("/mqtt", Some("wamp, mqtt"))).is_ok());
    }
}
