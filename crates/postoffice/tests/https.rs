//! The platform's HTTPS clients (`postoffice::https`) against a real TLS server on 127.0.0.1:
//! the handshake runs on aws-lc-rs without any process-wide crypto provider, and a certificate
//! that does not chain to the Mozilla roots is refused.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS server with a self-signed certificate for `localhost`; answers with what its one
/// handshake ended in.
async fn self_signed_tls_server() -> (u16, tokio::task::JoinHandle<Result<(), String>>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        TlsAcceptor::from(Arc::new(config))
            .accept(stream)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    });
    (port, server)
}

#[tokio::test]
async fn a_certificate_outside_the_trusted_roots_is_refused_during_the_handshake() {
    let (port, server) = self_signed_tls_server().await;
    let client = postoffice::https::client_builder().build().unwrap();

    let error = client
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect_err("a self-signed certificate must not be trusted");

    // Debug carries the whole source chain, down to rustls's reason.
    let error = format!("{error:?}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    let server_saw = server
        .await
        .unwrap()
        .expect_err("the client aborts the handshake");
    assert!(server_saw.contains("UnknownCA"), "{server_saw}");
}
