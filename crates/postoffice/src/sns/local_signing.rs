//! The local post office's stand-in for SNS's signing key: an RSA key and a self-signed
//! certificate that only verifiers built with [`Verifier::with_local_certificate`] trust.
//!
//! [`Verifier::with_local_certificate`]: super::Verifier::with_local_certificate

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Datelike, Duration, Utc};
use ring::rand::SystemRandom;
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};

use super::LOCAL_SIGNING_CERT_URL;
use super::certificate::{CertificateError, SigningCertificate};
use super::message::SnsMessage;

/// How long a generated local certificate is valid; local runs regenerate it when it expires.
const VALIDITY_DAYS: i64 = 3650;

pub struct LocalSigningAuthority {
    key: RsaKeyPair,
    certificate_pem: String,
    private_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalSigningError {
    #[error("generating the local signing key or certificate failed: {0}")]
    Generate(String),
    #[error("local signing key is unusable: {0}")]
    Key(String),
    #[error("local signing certificate is unusable: {0}")]
    Certificate(#[from] CertificateError),
    #[error("local signing certificate does not belong to the private key")]
    KeyMismatch,
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing the message failed")]
    Sign,
}

impl fmt::Debug for LocalSigningAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("LocalSigningAuthority")
            .finish_non_exhaustive()
    }
}

impl LocalSigningAuthority {
    /// A fresh RSA-2048 key and a self-signed certificate for `sns.local.postoffice.invalid`,
    /// valid from yesterday for ten years.
    pub fn generate() -> Result<Self, LocalSigningError> {
        let generate = |error: rcgen::Error| LocalSigningError::Generate(error.to_string());
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(generate)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["sns.local.postoffice.invalid".to_owned()])
                .map_err(generate)?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "Post Office local SNS signing (not AWS)",
        );
        let day = |date: chrono::DateTime<Utc>| {
            rcgen::date_time_ymd(date.year(), date.month() as u8, date.day() as u8)
        };
        let now = Utc::now();
        params.not_before = day(now - Duration::days(1));
        params.not_after = day(now + Duration::days(VALIDITY_DAYS));
        let certificate = params.self_signed(&key_pair).map_err(generate)?;
        Self::from_pem(&certificate.pem(), &key_pair.serialize_pem())
    }

    /// An authority from a PEM certificate and its PEM private key (PKCS#8 or PKCS#1).
    pub fn from_pem(
        certificate_pem: &str,
        private_key_pem: &str,
    ) -> Result<Self, LocalSigningError> {
        let certificate = SigningCertificate::from_pem(certificate_pem.as_bytes())?;
        let (_, block) = x509_parser::pem::parse_x509_pem(private_key_pem.as_bytes())
            .map_err(|error| LocalSigningError::Key(format!("not PEM: {error}")))?;
        let key = match block.label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&block.contents),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&block.contents),
            other => {
                return Err(LocalSigningError::Key(format!(
                    "PEM block is {other:?}, expected PRIVATE KEY or RSA PRIVATE KEY"
                )));
            }
        }
        .map_err(|error| LocalSigningError::Key(error.to_string()))?;
        if key.public_key().as_ref() != certificate.rsa_public_key() {
            return Err(LocalSigningError::KeyMismatch);
        }
        Ok(Self {
            key,
            certificate_pem: certificate_pem.to_owned(),
            private_key_pem: private_key_pem.to_owned(),
        })
    }

    pub fn load(
        certificate_path: &Path,
        private_key_path: &Path,
    ) -> Result<Self, LocalSigningError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| LocalSigningError::File {
                path: path.to_owned(),
                source,
            })
        };
        Self::from_pem(&read(certificate_path)?, &read(private_key_path)?)
    }

    /// Writes the certificate (what bridges trust, `POSTOFFICE_LOCAL_TRUSTED_CERT`) and the
    /// private key (owner-only permissions on Unix).
    pub fn write(
        &self,
        certificate_path: &Path,
        private_key_path: &Path,
    ) -> Result<(), LocalSigningError> {
        let file_error = |path: &Path| {
            let path = path.to_owned();
            move |source| LocalSigningError::File { path, source }
        };
        std::fs::write(certificate_path, &self.certificate_pem)
            .map_err(file_error(certificate_path))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(private_key_path)
            .map_err(file_error(private_key_path))?;
        std::io::Write::write_all(&mut file, self.private_key_pem.as_bytes())
            .map_err(file_error(private_key_path))
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Signs as SNS does with SignatureVersion 2, pointing at [`LOCAL_SIGNING_CERT_URL`].
    pub fn sign(&self, message: &mut SnsMessage) -> Result<(), LocalSigningError> {
        self.sign_with_url(message, LOCAL_SIGNING_CERT_URL)
    }

    /// Signs with an arbitrary SigningCertURL, e.g. an AWS-looking one served by a test fetcher.
    pub fn sign_with_url(
        &self,
        message: &mut SnsMessage,
        signing_cert_url: &str,
    ) -> Result<(), LocalSigningError> {
        message.signature_version = "2".to_owned();
        message.signing_cert_url = signing_cert_url.to_owned();
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.string_to_sign().as_bytes(),
                &mut signature,
            )
            .map_err(|_| LocalSigningError::Sign)?;
        message.signature = BASE64.encode(signature);
        Ok(())
    }
}
