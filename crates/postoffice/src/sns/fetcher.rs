//! Where signing certificates come from: a port with an HTTPS adapter for production and an
//! in-memory adapter for `--cert` and tests.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;

use super::certificate_url::CertificateUrl;

/// Fetches the PEM bytes at a `SigningCertURL` that already passed the policy.
pub trait CertificateFetcher: Send + Sync {
    fn fetch(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

impl<T: CertificateFetcher> CertificateFetcher for &T {
    fn fetch(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch(url)
    }
}

impl<T: CertificateFetcher> CertificateFetcher for std::sync::Arc<T> {
    fn fetch(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch(url)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fetching {url} failed: {detail}")]
pub struct FetchError {
    pub url: String,
    pub detail: String,
}

impl FetchError {
    pub fn new(url: &CertificateUrl, detail: impl Into<String>) -> Self {
        Self {
            url: url.as_str().to_owned(),
            detail: detail.into(),
        }
    }
}

/// Certificates held in memory, keyed by `SigningCertURL`. Unknown URLs fail like a 404.
#[derive(Debug, Clone, Default)]
pub struct StaticCertificateFetcher {
    certificates: HashMap<String, Vec<u8>>,
}

impl StaticCertificateFetcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `pem` for `url` (compared after the URL's normalisation when it is an SNS URL).
    pub fn with_certificate(mut self, url: &str, pem: impl Into<Vec<u8>>) -> Self {
        let key = CertificateUrl::parse(url)
            .map(|url| url.as_str().to_owned())
            .unwrap_or_else(|_| url.to_owned());
        self.certificates.insert(key, pem.into());
        self
    }

    /// Serves the PEM file at `path` for `url`.
    pub fn with_certificate_file(self, url: &str, path: &Path) -> std::io::Result<Self> {
        let pem = std::fs::read(path)?;
        Ok(self.with_certificate(url, pem))
    }
}

impl CertificateFetcher for StaticCertificateFetcher {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        self.certificates
            .get(url.as_str())
            .cloned()
            .ok_or_else(|| FetchError::new(url, "no certificate configured for this URL"))
    }
}

#[cfg(feature = "cert-fetch")]
pub use https::HttpsCertificateFetcher;

#[cfg(feature = "cert-fetch")]
mod https {
    use std::time::Duration;

    use super::{CertificateFetcher, CertificateUrl, FetchError};

    /// SNS signing certificates are ~2 KiB; anything far larger is not one.
    const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
    const ATTEMPTS: u32 = 3;
    const FIRST_BACKOFF: Duration = Duration::from_millis(100);

    /// Fetches certificates from SNS over HTTPS: short timeouts, no redirects (a redirect could
    /// leave the SNS host the policy approved), a few retries with exponential backoff.
    #[derive(Debug, Clone)]
    pub struct HttpsCertificateFetcher {
        client: reqwest::Client,
    }

    impl HttpsCertificateFetcher {
        pub fn new() -> Result<Self, reqwest::Error> {
            let client = crate::https::client_builder()
                .https_only(true)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(5))
                .build()?;
            Ok(Self { client })
        }

        async fn fetch_once(&self, url: &CertificateUrl) -> Result<Vec<u8>, (FetchError, bool)> {
            let response = self
                .client
                .get(url.as_str())
                .send()
                .await
                .map_err(|error| (FetchError::new(url, with_causes(&error)), true))?;
            let status = response.status();
            if !status.is_success() {
                let retryable = status.is_server_error() || status.as_u16() == 429;
                return Err((FetchError::new(url, format!("HTTP {status}")), retryable));
            }
            if response
                .content_length()
                .is_some_and(|length| length > MAX_CERTIFICATE_BYTES as u64)
            {
                return Err((FetchError::new(url, "certificate too large"), false));
            }
            let body = response
                .bytes()
                .await
                .map_err(|error| (FetchError::new(url, with_causes(&error)), true))?;
            if body.len() > MAX_CERTIFICATE_BYTES {
                return Err((FetchError::new(url, "certificate too large"), false));
            }
            Ok(body.to_vec())
        }
    }

    /// reqwest's own message hides the cause (DNS, TLS, timeout) in its source chain.
    fn with_causes(error: &dyn std::error::Error) -> String {
        let mut detail = error.to_string();
        let mut cause = error.source();
        while let Some(error) = cause {
            detail.push_str(": ");
            detail.push_str(&error.to_string());
            cause = error.source();
        }
        detail
    }

    impl CertificateFetcher for HttpsCertificateFetcher {
        async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
            let mut backoff = FIRST_BACKOFF;
            let mut attempt = 1;
            loop {
                match self.fetch_once(url).await {
                    Ok(pem) => return Ok(pem),
                    Err((error, retryable)) if !retryable || attempt == ATTEMPTS => {
                        return Err(error);
                    }
                    Err((error, _)) => {
                        tracing::warn!(%error, attempt, "retrying SNS certificate fetch");
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                        attempt += 1;
                    }
                }
            }
        }
    }
}
