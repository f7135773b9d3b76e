//! Signature verification of SNS messages.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};

use super::LOCAL_SIGNING_CERT_URL;
use super::certificate::{CertificateError, SignatureAlgorithm, SigningCertificate};
use super::certificate_cache::{CertificateCache, DEFAULT_CERTIFICATE_CACHE_CAPACITY};
use super::certificate_url::{CertificateUrl, CertificateUrlError};
use super::clock::Clock;
use super::fetcher::{CertificateFetcher, FetchError};
use super::message::SnsMessage;

/// Why a message did not verify. [`VerifyError::reason`] is short and stable (logs, HTTP bodies,
/// metrics); `Display` adds the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("SignatureVersion {0:?} is not supported (1 = SHA1withRSA, 2 = SHA256withRSA)")]
    UnsupportedSignatureVersion(String),
    #[error("untrusted SigningCertURL: {0}")]
    UntrustedCertificateUrl(#[from] CertificateUrlError),
    #[error("Signature is not valid base64")]
    MalformedSignature,
    #[error("signing certificate unavailable: {0}")]
    CertificateFetch(#[from] FetchError),
    #[error("signing certificate unusable: {0}")]
    MalformedCertificate(#[from] CertificateError),
    #[error("signing certificate is not valid before {not_before} (now {now})")]
    CertificateNotYetValid {
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("signing certificate expired at {not_after} (now {now})")]
    CertificateExpired {
        not_after: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("signature does not match the message")]
    SignatureMismatch,
}

impl VerifyError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnsupportedSignatureVersion(_) => "unsupported-signature-version",
            Self::UntrustedCertificateUrl(_) => "untrusted-certificate-url",
            Self::MalformedSignature => "malformed-signature",
            Self::CertificateFetch(_) => "certificate-unavailable",
            Self::MalformedCertificate(_) => "malformed-certificate",
            Self::CertificateNotYetValid { .. } => "certificate-not-yet-valid",
            Self::CertificateExpired { .. } => "certificate-expired",
            Self::SignatureMismatch => "signature-mismatch",
        }
    }
}

/// Verifies SNS message signatures. Trusts certificates at SNS URLs only, unless built with
/// [`Verifier::with_local_certificate`] for a local post office.
#[derive(Debug)]
pub struct Verifier<F, C> {
    fetcher: F,
    clock: C,
    cache: CertificateCache<VerifyError>,
    local_certificate: Option<Arc<SigningCertificate>>,
}

impl<F: CertificateFetcher, C: Clock> Verifier<F, C> {
    pub fn new(fetcher: F, clock: C) -> Self {
        Self {
            fetcher,
            clock,
            cache: CertificateCache::new(DEFAULT_CERTIFICATE_CACHE_CAPACITY),
            local_certificate: None,
        }
    }

    /// Keeps at most `capacity` certificates (least recently used goes first).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = CertificateCache::new(capacity);
        self
    }

    /// Also trusts `pem` for messages whose SigningCertURL is exactly
    /// [`LOCAL_SIGNING_CERT_URL`]. For bridges run against the local post office only.
    pub fn with_local_certificate(mut self, pem: &[u8]) -> Result<Self, CertificateError> {
        self.local_certificate = Some(Arc::new(SigningCertificate::from_pem(pem)?));
        Ok(self)
    }

    pub async fn verify(&self, message: &SnsMessage) -> Result<(), VerifyError> {
        let algorithm = algorithm(&message.signature_version)?;
        let source = match self.known_certificate(&message.signing_cert_url) {
            Some(certificate) => Source::Known(certificate),
            None => Source::Fetch(CertificateUrl::parse(&message.signing_cert_url)?),
        };
        // Before any fetch: a malformed message must not cost one.
        let signature = BASE64
            .decode(message.signature.as_bytes())
            .map_err(|_| VerifyError::MalformedSignature)?;
        let certificate = match source {
            Source::Known(certificate) => certificate,
            Source::Fetch(url) => self.fetch_certificate(&url).await?,
        };

        let now = self.clock.now();
        if now < certificate.not_before() {
            return Err(VerifyError::CertificateNotYetValid {
                not_before: certificate.not_before(),
                now,
            });
        }
        if now > certificate.not_after() {
            return Err(VerifyError::CertificateExpired {
                not_after: certificate.not_after(),
                now,
            });
        }

        if certificate.verifies(algorithm, message.string_to_sign().as_bytes(), &signature) {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    /// The local certificate, or one already fetched from exactly `raw_url`. Certificates are
    /// cached under the URL they were fetched from, which passed the URL policy then, so a
    /// message naming that URL needs no second look (parsing it again cost ~0.9 µs a message).
    fn known_certificate(&self, raw_url: &str) -> Option<Arc<SigningCertificate>> {
        match &self.local_certificate {
            Some(local) if raw_url == LOCAL_SIGNING_CERT_URL => Some(Arc::clone(local)),
            _ => self.cache.loaded(raw_url),
        }
    }

    async fn fetch_certificate(
        &self,
        url: &CertificateUrl,
    ) -> Result<Arc<SigningCertificate>, VerifyError> {
        self.cache
            .get_or_load(url, || async {
                let pem = self.fetcher.fetch(url).await?;
                Ok::<_, VerifyError>(SigningCertificate::from_pem(&pem)?)
            })
            .await
    }
}

#[cfg(feature = "cert-fetch")]
impl Verifier<super::fetcher::HttpsCertificateFetcher, super::clock::SystemClock> {
    /// The production verifier: certificates fetched from SNS over HTTPS, real time.
    pub fn aws() -> Result<Self, reqwest::Error> {
        Ok(Self::new(
            super::fetcher::HttpsCertificateFetcher::new()?,
            super::clock::SystemClock,
        ))
    }
}

enum Source {
    Known(Arc<SigningCertificate>),
    Fetch(CertificateUrl),
}

fn algorithm(signature_version: &str) -> Result<SignatureAlgorithm, VerifyError> {
    match signature_version {
        "1" => Ok(SignatureAlgorithm::Sha1WithRsa),
        "2" => Ok(SignatureAlgorithm::Sha256WithRsa),
        other => Err(VerifyError::UnsupportedSignatureVersion(other.to_owned())),
    }
}
