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
    serve_certificate(certified).await
}

async fn serve_certificate(
    certified: rcgen::CertifiedKey<rcgen::KeyPair>,
) -> (u16, tokio::task::JoinHandle<Result<(), String>>) {
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

/// `AWS_CA_BUNDLE` (the SDKs' variable) adds trust for AWS API clients only, which is how the
/// local post office's endpoint is reached; the platform's other clients keep Mozilla's roots.
#[tokio::test]
async fn aws_clients_trust_the_ca_bundle_and_other_clients_do_not() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let bundle = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bundle.path(), certified.cert.pem()).unwrap();
    // SAFETY: this test file's other test does not read the environment.
    unsafe { std::env::set_var("AWS_CA_BUNDLE", bundle.path()) };

    let (port, server) = serve_certificate(certified).await;
    let aws = postoffice::https::aws_client_builder()
        .unwrap()
        .build()
        .unwrap();
    let answer = aws.get(format!("https://localhost:{port}/")).send().await;
    // The server closes after the handshake: any answer but a TLS failure means it was trusted.
    if let Err(error) = &answer {
        assert!(!format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    }
    server
        .await
        .unwrap()
        .expect("the handshake completes with the bundle trusted");

    let (port, server) = self_signed_tls_server().await;
    let error = aws
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect_err("only the bundle's certificate is trusted");
    // Same subject as the trusted one, another key: rustls names it a bad signature.
    assert!(
        format!("{error:?}").contains("InvalidCertificate"),
        "{error:?}"
    );
    let _ = server.await;

    std::fs::write(bundle.path(), "not a certificate").unwrap();
    let unreadable = postoffice::https::aws_client_builder().unwrap_err();
    assert!(
        unreadable.to_string().contains("AWS_CA_BUNDLE"),
        "{unreadable}"
    );
    unsafe { std::env::remove_var("AWS_CA_BUNDLE") };
}
