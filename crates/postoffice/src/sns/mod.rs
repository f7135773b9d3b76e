//! SNS HTTP(S) messages: parsing both delivery shapes, the exact string to sign, and signature
//! verification against the SNS signing certificate.
//!
//! Verification follows the AWS documentation ("Verifying the signatures of Amazon SNS messages",
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>): the
//! `SigningCertURL` must be the SNS host of the topic's region before anything is fetched, the
//! certificate must chain to Amazon's roots and be valid at the injected clock's time, and the
//! signature (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA) must match the string to sign
//! of the message's type. `MessageAttributes` (like `UnsubscribeURL` and `SigningCertURL`) are
//! not part of the string to sign: nothing in them is authenticated.

mod certificate;
mod certificate_cache;
mod certificate_chain;
mod certificate_url;
mod clock;
mod fetcher;
#[cfg(any(test, feature = "local-signing"))]
mod local_signing;
mod message;
mod topic_arn;
mod verifier;

pub use certificate::{CertificateError, SignatureAlgorithm, SigningCertificate};
pub use certificate_cache::{DEFAULT_CERTIFICATE_CACHE_CAPACITY, FAILURE_TTL};
pub use certificate_url::{CertificateUrl, CertificateUrlError, IssuerUrl, check_topic_region};
pub use clock::{Clock, FixedClock, SystemClock};
#[cfg(feature = "cert-fetch")]
pub use fetcher::HttpsCertificateFetcher;
pub use fetcher::{CertificateFetcher, FetchError, StaticCertificateFetcher};
#[cfg(any(test, feature = "local-signing"))]
pub use local_signing::{LocalSigningAuthority, LocalSigningError};
pub use message::{MessageAttribute, MessageType, SnsError, SnsMessage};
pub use topic_arn::TopicArn;
pub use verifier::{MAX_CONCURRENT_CERTIFICATE_LOADS, SignatureVersion, Verifier, VerifyError};

/// The `SigningCertURL` of messages signed by the local runtime's [`LocalSigningAuthority`].
/// Only a verifier built with [`Verifier::with_local_certificate`] trusts it; the `.invalid`
/// top-level domain guarantees it can never resolve to a real host.
pub const LOCAL_SIGNING_CERT_URL: &str =
    "https://sns.local.postoffice.invalid/SimpleNotificationService-local.pem";
