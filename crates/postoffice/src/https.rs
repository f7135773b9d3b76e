//! Every HTTP(S) client of the platform starts here: reqwest over rustls with aws-lc-rs and the
//! Mozilla roots (webpki-roots), so a Lambda carries one crypto library, the one that verifies
//! SNS signatures, and no client depends on a process-wide default crypto provider.

use std::sync::Arc;

/// A reqwest client builder with the platform's TLS configuration; add timeouts and policies.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(tls_config(&[]))
}

/// The builder for AWS API clients: as [`client_builder`], also trusting the certificates of
/// the PEM file named by `AWS_CA_BUNDLE` (the AWS SDKs' and CLI's variable), which is how the
/// local post office's endpoint is trusted. Unset in AWS. An unreadable bundle is an error, not
/// a silent fallback.
pub fn aws_client_builder() -> Result<reqwest::ClientBuilder, std::io::Error> {
    let extra = match std::env::var_os("AWS_CA_BUNDLE") {
        Some(path) if !path.is_empty() => certificates(std::path::Path::new(&path))?,
        _ => Vec::new(),
    };
    Ok(reqwest::Client::builder().use_preconfigured_tls(tls_config(&extra)))
}

fn certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, std::io::Error> {
    use rustls::pki_types::pem::PemObject as _;
    let pem = std::fs::read(path).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("AWS_CA_BUNDLE {}: {error}", path.display()),
        )
    })?;
    let certificates: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("AWS_CA_BUNDLE {}: {error}", path.display()),
            )
        })?;
    if certificates.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("AWS_CA_BUNDLE {} holds no certificate", path.display()),
        ));
    }
    Ok(certificates)
}

fn tls_config(extra_roots: &[rustls::pki_types::CertificateDer<'static>]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for certificate in extra_roots {
        // A bundle certificate that is not a usable trust anchor is skipped, as the SDKs do.
        let _ = roots.add(certificate.clone());
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    // aws-lc-rs's default provider implements every safe default version by construction.
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports TLS 1.2 and 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth()
}
