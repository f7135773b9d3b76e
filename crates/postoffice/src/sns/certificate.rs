//! An SNS signing certificate reduced to what verification needs: the RSA public key and the
//! validity period.

use chrono::{DateTime, Utc};
use x509_parser::prelude::{FromDer, X509Certificate};

/// OID of rsaEncryption (RFC 8017): SNS signs with RSA only.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    /// DER `RSAPublicKey`, the form `ring` verifies with.
    rsa_public_key: Vec<u8>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate is not PEM: {0}")]
    NotPem(String),
    #[error("PEM block is {0:?}, expected CERTIFICATE")]
    NotACertificate(String),
    #[error("certificate is not valid X.509: {0}")]
    NotX509(String),
    #[error("certificate key is not RSA")]
    NotRsa,
    #[error("certificate validity is out of range")]
    ValidityOutOfRange,
}

impl SigningCertificate {
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertificateError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem)
            .map_err(|error| CertificateError::NotPem(error.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(CertificateError::NotACertificate(block.label));
        }
        Self::from_der(&block.contents)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (_, certificate) = X509Certificate::from_der(der)
            .map_err(|error| CertificateError::NotX509(error.to_string()))?;
        let key = certificate.public_key();
        if key.algorithm.algorithm.to_id_string() != RSA_ENCRYPTION_OID {
            return Err(CertificateError::NotRsa);
        }
        let validity = certificate.validity();
        let instant = |time: x509_parser::time::ASN1Time| {
            DateTime::from_timestamp(time.timestamp(), 0)
                .ok_or(CertificateError::ValidityOutOfRange)
        };
        Ok(Self {
            rsa_public_key: key.subject_public_key.data.to_vec(),
            not_before: instant(validity.not_before)?,
            not_after: instant(validity.not_after)?,
        })
    }

    pub fn rsa_public_key(&self) -> &[u8] {
        &self.rsa_public_key
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }
}
