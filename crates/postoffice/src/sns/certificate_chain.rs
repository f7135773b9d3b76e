//! The chain of trust of a signing certificate fetched from an SNS URL: it must chain to Amazon's
//! root CAs ("Confirm that the certificate's chain of trust is valid",
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>).
//!
//! The roots are Amazon Trust Services' (Amazon Root CA 1–4, and Starfield Services Root
//! Certificate Authority - G2, which cross-signs them:
//! <https://docs.aws.amazon.com/iot/latest/developerguide/server-authentication.html>), taken
//! from the Mozilla root program as webpki-roots carries it. SNS serves the signing certificate
//! alone; intermediates come from the document itself when it carries any, from the ones
//! compiled in here, or else from the certificate's "CA Issuers" address (Amazon Trust Services
//! hosts only, see [`IssuerUrl`]): whatever is found there counts only if it chains to a root.
//!
//! [`IssuerUrl`]: super::IssuerUrl

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::certificate::CertificateError;

/// Common names of Amazon Trust Services' roots.
const AMAZON_ROOTS: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

/// Amazon intermediates SNS signing certificates were issued under; a chain through any other
/// fetches it from the leaf's issuer address once. Server CA 1B issued the certificates of the
/// genuine messages in `sns-vectors` (2021–2022); it expired on 2025-10-19 and so only helps
/// verify messages of its time (`postoffice sns verify --at`).
const KNOWN_INTERMEDIATES: &[&[u8]] = &[include_bytes!("amazon-intermediates/server-ca-1b.pem")];

/// `id-ad-caIssuers` (RFC 5280, 4.2.2.1).
const CA_ISSUERS_OID: &str = "1.3.6.1.5.5.7.48.2";

/// The largest certificate document (leaf plus intermediates) worth reading; an SNS one is ~2 KiB.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// More certificates than any real chain has.
const MAX_CERTIFICATES_PER_DOCUMENT: usize = 8;

static AMAZON_ANCHORS: LazyLock<Vec<TrustAnchor<'static>>> = LazyLock::new(|| {
    webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .filter(|anchor| AMAZON_ROOTS.iter().any(|name| names(anchor, name)))
        .cloned()
        .collect()
});

static KNOWN_INTERMEDIATE_CERTIFICATES: LazyLock<Vec<CertificateDer<'static>>> =
    LazyLock::new(|| {
        KNOWN_INTERMEDIATES
            .iter()
            .filter_map(|pem| certificates_in(pem).ok())
            .flatten()
            .map(CertificateDer::from)
            .collect()
    });

/// Whether the anchor's subject has the common name `name`: the name's bytes preceded by their
/// length, as DER writes a string of under 128 bytes.
fn names(anchor: &TrustAnchor<'_>, name: &str) -> bool {
    let mut encoded = vec![name.len() as u8];
    encoded.extend_from_slice(name.as_bytes());
    anchor
        .subject
        .as_ref()
        .windows(encoded.len())
        .any(|window| window == encoded.as_slice())
}

/// Why a chain did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainFailure {
    /// No certificate at hand issued the last one of the chain: fetching the issuer may help.
    MissingIssuer,
    /// The chain is broken, expired, misused or ends outside the roots.
    Untrusted(String),
}

/// The roots a verifier trusts for certificates fetched from SNS URLs.
#[derive(Debug, Clone)]
pub(crate) struct TrustRoots {
    anchors: Arc<Vec<TrustAnchor<'static>>>,
}

impl TrustRoots {
    pub(crate) fn amazon() -> Self {
        Self {
            anchors: Arc::new(AMAZON_ANCHORS.clone()),
        }
    }

    /// Adds a root (tests; a partition whose signing certificates chain elsewhere).
    pub(crate) fn with_root(mut self, pem: &[u8]) -> Result<Self, CertificateError> {
        let certificates = certificates_in(pem)?;
        let mut anchors = self.anchors.as_ref().clone();
        for der in certificates {
            let der = CertificateDer::from(der);
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|error| CertificateError::NotX509(format!("{error:?}")))?;
            anchors.push(anchor.to_owned());
        }
        self.anchors = Arc::new(anchors);
        Ok(self)
    }

    /// Verifies that `leaf` chains to a root through `intermediates` (and the known Amazon
    /// intermediates), every certificate valid at `at`, the leaf usable for server
    /// authentication if it says what it is for (SNS's say so).
    pub(crate) fn verify(
        &self,
        leaf: &[u8],
        intermediates: &[Vec<u8>],
        at: DateTime<Utc>,
    ) -> Result<(), ChainFailure> {
        let leaf = CertificateDer::from(leaf);
        let end_entity = EndEntityCert::try_from(&leaf)
            .map_err(|error| ChainFailure::Untrusted(format!("leaf certificate: {error:?}")))?;
        let mut chain: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        chain.extend(KNOWN_INTERMEDIATE_CERTIFICATES.iter().cloned());
        let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
        let time = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
        match end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &chain,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        ) {
            Ok(_) => Ok(()),
            Err(webpki::Error::UnknownIssuer) => Err(ChainFailure::MissingIssuer),
            Err(error) => Err(ChainFailure::Untrusted(format!("{error:?}"))),
        }
    }
}

/// The DER certificates of a PEM document (leaf first, as SNS and TLS order them), or of a DER
/// document holding one certificate (what "CA Issuers" addresses serve).
pub(crate) fn certificates_in(document: &[u8]) -> Result<Vec<Vec<u8>>, CertificateError> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(CertificateError::NotPem(format!(
            "{} bytes; a certificate document is at most {MAX_DOCUMENT_BYTES}",
            document.len()
        )));
    }
    if document.first() == Some(&0x30) {
        return Ok(vec![document.to_vec()]);
    }
    let mut certificates = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(document) {
        let block = block.map_err(|error| CertificateError::NotPem(error.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(CertificateError::NotACertificate(block.label));
        }
        if certificates.len() == MAX_CERTIFICATES_PER_DOCUMENT {
            return Err(CertificateError::NotPem(format!(
                "more than {MAX_CERTIFICATES_PER_DOCUMENT} certificates"
            )));
        }
        certificates.push(block.contents);
    }
    if certificates.is_empty() {
        return Err(CertificateError::NotPem("no PEM block".into()));
    }
    Ok(certificates)
}

/// The leaf's "CA Issuers" address, if it has one.
pub(crate) fn issuer_address(leaf: &[u8]) -> Option<String> {
    let (_, certificate) = X509Certificate::from_der(leaf).ok()?;
    certificate
        .extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(access) => {
                access.iter().find_map(|entry| {
                    match (&entry.access_location, entry.access_method.to_id_string()) {
                        (GeneralName::URI(uri), method) if method == CA_ISSUERS_OID => {
                            Some((*uri).to_owned())
                        }
                        _ => None,
                    }
                })
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNS_2022: &[u8] =
        include_bytes!("../../../../../shared/sns-vectors/php-2022-notification-sha256.pem");

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    #[test]
    fn the_amazon_roots_are_all_found() {
        assert_eq!(AMAZON_ANCHORS.len(), AMAZON_ROOTS.len());
        assert_eq!(
            KNOWN_INTERMEDIATE_CERTIFICATES.len(),
            KNOWN_INTERMEDIATES.len()
        );
    }

    #[test]
    fn a_genuine_sns_certificate_chains_to_amazon_root_ca_1_within_its_validity() {
        let leaf = certificates_in(SNS_2022).unwrap().remove(0);
        let roots = TrustRoots::amazon();
        assert_eq!(roots.verify(&leaf, &[], at("2022-07-28T21:30:00Z")), Ok(()));
        assert!(matches!(
            roots.verify(&leaf, &[], at("2023-01-01T00:00:00Z")),
            Err(ChainFailure::Untrusted(reason)) if reason.contains("Expired")
        ));
    }

    #[test]
    fn without_amazon_roots_the_same_certificate_is_not_trusted() {
        let leaf = certificates_in(SNS_2022).unwrap().remove(0);
        let strangers = TrustRoots {
            anchors: Arc::new(Vec::new()),
        };
        assert!(
            strangers
                .verify(&leaf, &[], at("2022-07-28T21:30:00Z"))
                .is_err()
        );
    }

    #[test]
    fn the_issuer_address_of_an_sns_certificate_is_amazon_trust_services() {
        let leaf = certificates_in(SNS_2022).unwrap().remove(0);
        assert_eq!(
            issuer_address(&leaf).as_deref(),
            Some("http://crt.sca1b.amazontrust.com/sca1b.crt")
        );
    }

    #[test]
    fn documents_are_pem_bundles_or_one_der_certificate() {
        let leaf = certificates_in(SNS_2022).unwrap();
        assert_eq!(leaf.len(), 1);
        assert_eq!(certificates_in(&leaf[0]).unwrap(), leaf);
        let bundle = [SNS_2022, KNOWN_INTERMEDIATES[0]].concat();
        assert_eq!(certificates_in(&bundle).unwrap().len(), 2);
        assert!(certificates_in(b"").is_err());
        assert!(
            certificates_in(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
        assert!(certificates_in(&vec![b'a'; MAX_DOCUMENT_BYTES + 1]).is_err());
        let truncated = &SNS_2022[..SNS_2022.len() / 2];
        assert!(certificates_in(truncated).is_err());
    }
}
