//! Signature verification of SNS messages.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::LOCAL_SIGNING_CERT_URL;
use super::certificate::{CertificateError, SignatureAlgorithm, SigningCertificate};
use super::certificate_cache::{CertificateCache, DEFAULT_CERTIFICATE_CACHE_CAPACITY};
use super::certificate_chain::{self, ChainFailure, TrustRoots};
use super::certificate_url::{self, CertificateUrl, CertificateUrlError, IssuerUrl};
use super::clock::Clock;
use super::fetcher::{CertificateFetcher, FetchError};
use super::message::SnsMessage;

/// Certificate loads (each one or two fetches) in flight at once, whatever the URLs: a burst of
/// messages naming certificates nobody has seen waits its turn instead of fanning out.
pub const MAX_CONCURRENT_CERTIFICATE_LOADS: usize = 4;

/// SNS's two signature versions. Post Office topics all sign with version 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignatureVersion {
    /// SHA1withRSA.
    V1,
    /// SHA256withRSA.
    V2,
}

impl SignatureVersion {
    /// `"1"` or `"2"`, as in the message's `SignatureVersion` field.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "1" => Some(Self::V1),
            "2" => Some(Self::V2),
            _ => None,
        }
    }

    fn algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::V1 => SignatureAlgorithm::Sha1WithRsa,
            Self::V2 => SignatureAlgorithm::Sha256WithRsa,
        }
    }
}

impl fmt::Display for SignatureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "1",
            Self::V2 => "2",
        })
    }
}

/// Why a message did not verify. [`VerifyError::reason`] is short and stable (logs, HTTP bodies,
/// metrics); `Display` adds the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("SignatureVersion {0:?} is not supported (1 = SHA1withRSA, 2 = SHA256withRSA)")]
    UnsupportedSignatureVersion(String),
    #[error("SignatureVersion {version} is refused: this verifier accepts {minimum} and above")]
    SignatureVersionBelowMinimum {
        version: SignatureVersion,
        minimum: SignatureVersion,
    },
    #[error("untrusted SigningCertURL: {0}")]
    UntrustedCertificateUrl(#[from] CertificateUrlError),
    #[error("Signature is not valid base64")]
    MalformedSignature,
    #[error("signing certificate unavailable: {0}")]
    CertificateFetch(#[from] FetchError),
    #[error("signing certificate unusable: {0}")]
    MalformedCertificate(#[from] CertificateError),
    #[error("signing certificate does not chain to a trusted root: {0}")]
    UntrustedCertificate(String),
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
            Self::SignatureVersionBelowMinimum { .. } => "signature-version-below-minimum",
            Self::UntrustedCertificateUrl(_) => "untrusted-certificate-url",
            Self::MalformedSignature => "malformed-signature",
            Self::CertificateFetch(_) => "certificate-unavailable",
            Self::MalformedCertificate(_) => "malformed-certificate",
            Self::UntrustedCertificate(_) => "untrusted-certificate",
            Self::CertificateNotYetValid { .. } => "certificate-not-yet-valid",
            Self::CertificateExpired { .. } => "certificate-expired",
            Self::SignatureMismatch => "signature-mismatch",
        }
    }

    /// Not the message's fault, and possibly gone on the next attempt: the certificate at an
    /// approved SNS URL could not be fetched, or what came back could not be read (a truncated
    /// download reads as a malformed certificate; nobody but SNS serves that URL, so garbage
    /// there is far likelier a broken transfer than a forgery). Everything else is permanent.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::CertificateFetch(_) | Self::MalformedCertificate(_)
        )
    }
}

/// Verifies SNS message signatures. Trusts certificates at the SNS URL of the message's topic
/// region that chain to Amazon's roots, unless built with [`Verifier::with_local_certificate`]
/// for a local post office (or [`Verifier::with_trusted_root`]).
#[derive(Debug)]
pub struct Verifier<F, C> {
    fetcher: F,
    clock: C,
    cache: CertificateCache<VerifyError>,
    local_certificate: Option<Arc<SigningCertificate>>,
    roots: TrustRoots,
    loads: Semaphore,
    minimum_signature_version: SignatureVersion,
}

impl<F: CertificateFetcher, C: Clock> Verifier<F, C> {
    /// Accepts both signature versions; see [`Verifier::with_minimum_signature_version`].
    pub fn new(fetcher: F, clock: C) -> Self {
        Self {
            fetcher,
            clock,
            cache: CertificateCache::new(DEFAULT_CERTIFICATE_CACHE_CAPACITY),
            local_certificate: None,
            roots: TrustRoots::amazon(),
            loads: Semaphore::new(MAX_CONCURRENT_CERTIFICATE_LOADS),
            minimum_signature_version: SignatureVersion::V1,
        }
    }

    /// Refuses messages signed with an older version (the bridge and redrive refuse version 1,
    /// SHA-1, unless configured otherwise).
    pub fn with_minimum_signature_version(mut self, minimum: SignatureVersion) -> Self {
        self.minimum_signature_version = minimum;
        self
    }

    /// Also trusts certificates at SNS URLs that chain to the root certificate(s) in `pem`:
    /// tests, or a partition whose signing certificates chain elsewhere. Never the local post
    /// office's certificate: that one is trusted at its own URL only.
    pub fn with_trusted_root(mut self, pem: &[u8]) -> Result<Self, CertificateError> {
        self.roots = self.roots.with_root(pem)?;
        Ok(self)
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
        let version = SignatureVersion::parse(&message.signature_version).ok_or_else(|| {
            VerifyError::UnsupportedSignatureVersion(bounded(&message.signature_version))
        })?;
        if version < self.minimum_signature_version {
            return Err(VerifyError::SignatureVersionBelowMinimum {
                version,
                minimum: self.minimum_signature_version,
            });
        }
        let algorithm = version.algorithm();
        let source = match self.local(&message.signing_cert_url) {
            Some(local) => Source::Known(local),
            None => {
                // Before the cache and any fetch: only the topic's own region's SNS host.
                certificate_url::check_topic_region(&message.signing_cert_url, &message.topic_arn)?;
                match self.cache.loaded(&message.signing_cert_url) {
                    Some(certificate) => Source::Known(certificate),
                    None => Source::Fetch(CertificateUrl::parse(&message.signing_cert_url)?),
                }
            }
        };
        // Before any fetch: a malformed message must not cost one.
        let signature = BASE64
            .decode(message.signature.as_bytes())
            .map_err(|_| VerifyError::MalformedSignature)?;
        let certificate = match source {
            Source::Known(certificate) => certificate,
            Source::Fetch(url) => self.fetch_certificate(&url).await?,
        };

        check_validity(&certificate, self.clock.now())?;
        if certificate.verifies(algorithm, message.string_to_sign().as_bytes(), &signature) {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    /// The local certificate, when trusted and named. Otherwise certificates are cached under
    /// the URL they were fetched from, which passed the URL policy then, so a message naming
    /// that URL needs no second look (parsing it again cost ~0.9 µs a message).
    fn local(&self, raw_url: &str) -> Option<Arc<SigningCertificate>> {
        match &self.local_certificate {
            Some(local) if raw_url == LOCAL_SIGNING_CERT_URL => Some(Arc::clone(local)),
            _ => None,
        }
    }

    async fn fetch_certificate(
        &self,
        url: &CertificateUrl,
    ) -> Result<Arc<SigningCertificate>, VerifyError> {
        self.cache.get_or_load(url, || self.load(url)).await
    }

    /// Fetches the certificate document, and checks its chain of trust (fetching the issuer
    /// when nothing at hand issued the certificate), at most [`MAX_CONCURRENT_CERTIFICATE_LOADS`]
    /// at a time.
    async fn load(&self, url: &CertificateUrl) -> Result<SigningCertificate, VerifyError> {
        let _permit = self
            .loads
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let document = self.fetcher.fetch(url).await?;
        let certificates = certificate_chain::certificates_in(&document)?;
        let (leaf, intermediates) = certificates
            .split_first()
            .expect("a document yields at least one certificate");
        let certificate = SigningCertificate::from_der(leaf)?;
        let now = self.clock.now();
        // The chain check would refuse these too; the specific reasons say more.
        check_validity(&certificate, now)?;
        match self.roots.verify(leaf, intermediates, now) {
            Ok(()) => return Ok(certificate),
            Err(ChainFailure::Untrusted(reason)) => {
                return Err(VerifyError::UntrustedCertificate(reason));
            }
            Err(ChainFailure::MissingIssuer) => {}
        }
        let address = certificate_chain::issuer_address(leaf).ok_or_else(|| {
            VerifyError::UntrustedCertificate(
                "no certificate at hand issued it and it names no issuer address".into(),
            )
        })?;
        let issuer_url = IssuerUrl::parse(&address).map_err(VerifyError::UntrustedCertificate)?;
        let issuer = self.fetcher.fetch_issuer(&issuer_url).await?;
        let mut chain = intermediates.to_vec();
        chain.extend(certificate_chain::certificates_in(&issuer)?);
        match self.roots.verify(leaf, &chain, now) {
            Ok(()) => Ok(certificate),
            Err(ChainFailure::MissingIssuer) => Err(VerifyError::UntrustedCertificate(
                "its issuer does not chain to a trusted root".into(),
            )),
            Err(ChainFailure::Untrusted(reason)) => Err(VerifyError::UntrustedCertificate(reason)),
        }
    }
}

fn check_validity(certificate: &SigningCertificate, now: DateTime<Utc>) -> Result<(), VerifyError> {
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
    Ok(())
}

/// Attacker-supplied text kept in an error: at most a few dozen characters.
fn bounded(value: &str) -> String {
    const MAX_CHARS: usize = 32;
    match value.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
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
