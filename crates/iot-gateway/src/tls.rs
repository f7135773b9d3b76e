//! The MQTT-over-TLS transport (IoT's port 8883): mutual TLS whose client certificate is not
//! chain-validated but whose key possession is proven, then the MQTT connection.

use std::sync::Arc;
use std::time::Duration;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, ServerConfig, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::GatewayError;
use crate::authority::{ClientCertificate, ClientCredentials};
use crate::broker::Broker;
use crate::metrics::increment;

/// The broker's own certificate chain and key (issued by the embedder's local CA).
pub struct TlsIdentity {
    pub certificate_chain: Vec<CertificateDer<'static>>,
    pub private_key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsIdentity")
            .field("certificate_chain", &self.certificate_chain.len())
            .finish_non_exhaustive()
    }
}

/// Requires a client certificate and checks only that the client holds its private key (the
/// handshake's CertificateVerify): IoT Core accepts certificates registered without a CA and
/// then looks the certificate up
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html>), which is
/// the authority's job here.
#[derive(Debug)]
struct KeyPossession {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for KeyPossession {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

pub(crate) fn acceptor(identity: TlsIdentity) -> Result<TlsAcceptor, GatewayError> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = KeyPossession {
        algorithms: provider.signature_verification_algorithms,
    };
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(GatewayError::Tls)?
        .with_client_cert_verifier(Arc::new(verifier))
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
                // Out of file descriptors, typically: wait for some to be released.
                tracing::warn!(%error, "accepting an MQTT connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(tcp: TcpStream, acceptor: TlsAcceptor, broker: Arc<Broker>) {
    // Small MQTT packets must not wait for delayed ACKs.
    let _ = tcp.set_nodelay(true);
    let handshake =
        tokio::time::timeout(broker.limits.tls_handshake_timeout, acceptor.accept(tcp)).await;
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) | Err(_) => {
            increment(&broker.metrics.tls_handshake_failures);
            return;
        }
    };
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|certificate| certificate.clone().into_owned());
    let Some(certificate) = certificate else {
        // The verifier makes the certificate mandatory; a handshake without one cannot end here.
        increment(&broker.metrics.tls_handshake_failures);
        return;
    };
    let credentials = ClientCredentials::Certificate(ClientCertificate::new(certificate));
    crate::connection::serve(broker, stream, credentials).await;
}
