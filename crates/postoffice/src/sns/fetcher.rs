//! Where signing certificates come from: a port with an HTTPS adapter for production and an
//! in-memory adapter for `--cert` and tests.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::Path;

use super::certificate_url::{CertificateUrl, IssuerUrl};

/// Fetches the PEM bytes at a `SigningCertURL` that already passed the policy, and the
/// intermediate certificates its chain of trust may need.
pub trait CertificateFetcher: Send + Sync {
    fn fetch(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;

    /// The certificate (DER or PEM) at an issuer address that passed the policy. Fetchers that
    /// do not reach the network have none to give.
    fn fetch_issuer(
        &self,
        url: &IssuerUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        let error = FetchError::new(url, "this fetcher does not fetch issuer certificates");
        async move { Err(error) }
    }
}

impl<T: CertificateFetcher> CertificateFetcher for &T {
    fn fetch(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch(url)
    }

    fn fetch_issuer(
        &self,
        url: &IssuerUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch_issuer(url)
    }
}

impl<T: CertificateFetcher> CertificateFetcher for std::sync::Arc<T> {
    fn fetch(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch(url)
    }

    fn fetch_issuer(
        &self,
        url: &IssuerUrl,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch_issuer(url)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fetching {url} failed: {detail}")]
pub struct FetchError {
    pub url: String,
    pub detail: String,
}

impl FetchError {
    /// `url` is a [`CertificateUrl`] or an [`IssuerUrl`]: both passed a policy, so they are
    /// short and safe to log.
    pub fn new(url: &impl fmt::Display, detail: impl Into<String>) -> Self {
        Self {
            url: url.to_string(),
            detail: detail.into(),
        }
    }
}

/// Certificates held in memory, keyed by `SigningCertURL` (or issuer URL). Unknown URLs fail
/// like a 404.
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

    async fn fetch_issuer(&self, url: &IssuerUrl) -> Result<Vec<u8>, FetchError> {
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
    use std::fmt;
    use std::time::Duration;

    use super::{CertificateFetcher, CertificateUrl, FetchError, IssuerUrl};
    use crate::sns::certificate_chain::MAX_DOCUMENT_BYTES;

    const ATTEMPTS: u32 = 3;
    const FIRST_BACKOFF: Duration = Duration::from_millis(100);

    /// Fetches certificates over HTTPS from SNS (and, for a chain through an intermediate it
    /// does not know, from Amazon Trust Services): short timeouts, no redirects (a redirect could
    /// leave the host the policy approved), a few retries with exponential backoff.
    #[derive(Debug, Clone)]
    pub struct HttpsCertificateFetcher {
        client: reqwest::Client,
        /// Amazon Trust Services serves issuer certificates over plain HTTP; they are trusted
        /// for chaining to Amazon's roots, not for where they came from.
        issuer_client: reqwest::Client,
    }

    impl HttpsCertificateFetcher {
        pub fn new() -> Result<Self, reqwest::Error> {
            let builder = || {
                crate::https::client_builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(Duration::from_secs(2))
                    .timeout(Duration::from_secs(5))
            };
            Ok(Self {
                client: builder().https_only(true).build()?,
                issuer_client: builder().build()?,
            })
        }
    }

    async fn fetch_once(
        client: &reqwest::Client,
        url: &(impl fmt::Display + Sync),
    ) -> Result<Vec<u8>, (FetchError, bool)> {
        let response = client
            .get(url.to_string())
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
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err((FetchError::new(url, "certificate too large"), false));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| (FetchError::new(url, with_causes(&error)), true))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err((FetchError::new(url, "certificate too large"), false));
        }
        Ok(body.to_vec())
    }

    async fn fetch_with_retries(
        client: &reqwest::Client,
        url: &(impl fmt::Display + Sync),
    ) -> Result<Vec<u8>, FetchError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match fetch_once(client, url).await {
                Ok(document) => return Ok(document),
                Err((error, retryable)) if !retryable || attempt == ATTEMPTS => {
                    return Err(error);
                }
                Err((error, _)) => {
                    tracing::warn!(%error, attempt, "retrying certificate fetch");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
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
            fetch_with_retries(&self.client, url).await
        }

        async fn fetch_issuer(&self, url: &IssuerUrl) -> Result<Vec<u8>, FetchError> {
            fetch_with_retries(&self.issuer_client, url).await
        }
    }
}
