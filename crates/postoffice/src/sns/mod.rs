//! SNS HTTP(S) messages: parsing both delivery shapes, the exact string to sign, and signature
//! verification against the SNS signing certificate.
//!
//! Verification follows the AWS documentation ("Verifying the signatures of Amazon SNS messages"):
//! the `SigningCertURL` must be an SNS host before anything is fetched, the certificate must be
//! valid at the injected clock's time, and the signature (SignatureVersion 1 = SHA1withRSA,
//! 2 = SHA256withRSA) must match the string to sign of the message's type.

mod certificate;
mod certificate_cache;
mod certificate_url;
mod clock;
mod fetcher;
#[cfg(any(test, feature = "local-signing"))]
mod local_signing;
mod message;
mod verifier;

pub use certificate::{CertificateError, SignatureAlgorithm, SigningCertificate};
pub use certificate_cache::DEFAULT_CERTIFICATE_CACHE_CAPACITY;
pub use certificate_url::{CertificateUrl, CertificateUrlError};
pub use clock::{Clock, FixedClock, SystemClock};
#[cfg(feature = "cert-fetch")]
pub use fetcher::HttpsCertificateFetcher;
pub use fetcher::{CertificateFetcher, FetchError, StaticCertificateFetcher};
#[cfg(any(test, feature = "local-signing"))]
pub use local_signing::{LocalSigningAuthority, LocalSigningError};
pub use message::{MessageAttribute, MessageType, SnsError, SnsMessage};
pub use verifier::{Verifier, VerifyError};

/// The `SigningCertURL` of messages signed by the local runtime's [`LocalSigningAuthority`].
/// Only a verifier built with [`Verifier::with_local_certificate`] trusts it; the `.invalid`
/// top-level domain guarantees it can never resolve to a real host.
pub const LOCAL_SIGNING_CERT_URL: &str =
    "https://sns.local.postoffice.invalid/SimpleNotificationService-local.pem";
