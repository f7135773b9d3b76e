//! Every HTTP(S) client of the platform starts here: reqwest over rustls with aws-lc-rs and the
//! Mozilla roots (webpki-roots), so a Lambda carries one crypto library, the one that verifies
//! SNS signatures, and no client depends on a process-wide default crypto provider.

use std::sync::Arc;

/// A reqwest client builder with the platform's TLS configuration; add timeouts and policies.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(tls_config())
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    // aws-lc-rs's default provider implements every safe default version by construction.
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports TLS 1.2 and 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth()
}
