//! The local post office's stand-in for SNS's signing key: an RSA key and a self-signed
//! certificate that only verifiers built with [`Verifier::with_local_certificate`] trust.
//!
//! [`Verifier::with_local_certificate`]: super::Verifier::with_local_certificate

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Datelike, Duration, Utc};

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
        let mut signature = vec![0; self.key.public_modulus_len()];
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

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::sns::{
        FixedClock, MessageType, StaticCertificateFetcher, SystemClock, Verifier, VerifyError,
    };

    /// RSA key generation is slow in debug builds; one authority serves every test.
    fn authority() -> &'static LocalSigningAuthority {
        static AUTHORITY: OnceLock<LocalSigningAuthority> = OnceLock::new();
        AUTHORITY.get_or_init(|| LocalSigningAuthority::generate().unwrap())
    }

    fn unsigned(message_type: MessageType) -> SnsMessage {
        let confirmation = message_type != MessageType::Notification;
        SnsMessage {
            message_type,
            message_id: "6a0c2a4e-2b7b-4a53-8f55-0d5b0a4b2f3a".to_owned(),
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED".to_owned(),
            subject: None,
            message: r#"{"event":"COOKING_REQUESTED"}"#.to_owned(),
            timestamp: "2026-11-23T20:00:00.000Z".to_owned(),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: confirmation.then(|| {
                "http://127.0.0.1:4000/?Action=ConfirmSubscription&Token=t0k3n".to_owned()
            }),
            unsubscribe_url: None,
            token: confirmation.then(|| "t0k3n".to_owned()),
            message_attributes: Default::default(),
        }
    }

    fn local_verifier() -> Verifier<StaticCertificateFetcher, SystemClock> {
        Verifier::new(StaticCertificateFetcher::new(), SystemClock)
            .with_local_certificate(authority().certificate_pem().as_bytes())
            .unwrap()
    }

    const TYPES: [MessageType; 3] = [
        MessageType::Notification,
        MessageType::SubscriptionConfirmation,
        MessageType::UnsubscribeConfirmation,
    ];

    #[tokio::test]
    async fn every_message_type_signed_locally_verifies() {
        let verifier = local_verifier();
        for message_type in TYPES {
            let mut message = unsigned(message_type);
            authority().sign(&mut message).unwrap();
            assert_eq!(message.signature_version, "2");
            assert_eq!(message.signing_cert_url, LOCAL_SIGNING_CERT_URL);
            verifier
                .verify(&message)
                .await
                .unwrap_or_else(|e| panic!("{message_type}: {e}"));
            // What the local runtime POSTs parses back to the same, still valid, message.
            let delivered = SnsMessage::parse(message.to_http_json().as_bytes()).unwrap();
            verifier.verify(&delivered).await.unwrap();
        }
    }

    #[tokio::test]
    async fn tampering_with_a_locally_signed_message_fails() {
        let verifier = local_verifier();
        type Tamper = fn(&mut SnsMessage);
        let tampers: [Tamper; 6] = [
            |m| m.message.push(' '),
            |m| m.message_id.push('0'),
            |m| m.timestamp = "2026-11-23T20:00:00.001Z".to_owned(),
            |m| m.topic_arn.push('X'),
            |m| m.subscribe_url = Some("https://evil.example.com/".to_owned()),
            |m| m.token = Some("other".to_owned()),
        ];
        for message_type in TYPES {
            let mut signed = unsigned(message_type);
            authority().sign(&mut signed).unwrap();
            for tamper in tampers {
                let mut message = signed.clone();
                tamper(&mut message);
                let signed_field_changed = message.string_to_sign() != signed.string_to_sign();
                let result = verifier.verify(&message).await;
                if signed_field_changed {
                    assert_eq!(
                        result,
                        Err(VerifyError::SignatureMismatch),
                        "{message_type}"
                    );
                } else {
                    // SubscribeURL and Token are not signed in notifications.
                    assert_eq!(result, Ok(()), "{message_type}");
                }
            }
        }
    }

    #[tokio::test]
    async fn the_default_verifier_does_not_trust_the_local_certificate() {
        let mut message = unsigned(MessageType::Notification);
        authority().sign(&mut message).unwrap();
        let fetcher = StaticCertificateFetcher::new()
            .with_certificate(LOCAL_SIGNING_CERT_URL, authority().certificate_pem());
        let error = Verifier::new(fetcher, SystemClock)
            .verify(&message)
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "untrusted-certificate-url");
    }

    #[tokio::test]
    async fn a_different_local_certificate_does_not_verify() {
        let other = LocalSigningAuthority::generate().unwrap();
        let mut message = unsigned(MessageType::Notification);
        other.sign(&mut message).unwrap();
        assert_eq!(
            local_verifier().verify(&message).await,
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[tokio::test]
    async fn at_an_aws_looking_url_it_verifies_only_as_an_explicitly_trusted_root() {
        let url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem";
        let mut message = unsigned(MessageType::SubscriptionConfirmation);
        authority().sign_with_url(&mut message, url).unwrap();
        let fetcher =
            StaticCertificateFetcher::new().with_certificate(url, authority().certificate_pem());
        let error = Verifier::new(fetcher.clone(), SystemClock)
            .verify(&message)
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "untrusted-certificate", "{error}");
        Verifier::new(fetcher, SystemClock)
            .with_trusted_root(authority().certificate_pem().as_bytes())
            .unwrap()
            .verify(&message)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_generated_certificate_expires() {
        let mut message = unsigned(MessageType::Notification);
        authority().sign(&mut message).unwrap();
        let far_future = FixedClock(Utc::now() + Duration::days(VALIDITY_DAYS + 2));
        let error = Verifier::new(StaticCertificateFetcher::new(), far_future)
            .with_local_certificate(authority().certificate_pem().as_bytes())
            .unwrap()
            .verify(&message)
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "certificate-expired");
    }

    #[tokio::test]
    async fn written_files_load_back_into_the_same_authority() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = (dir.path().join("local.pem"), dir.path().join("local.key"));
        authority().write(&certificate, &key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = LocalSigningAuthority::load(&certificate, &key).unwrap();
        let mut message = unsigned(MessageType::Notification);
        loaded.sign(&mut message).unwrap();
        local_verifier().verify(&message).await.unwrap();
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let other = LocalSigningAuthority::generate().unwrap();
        let error =
            LocalSigningAuthority::from_pem(authority().certificate_pem(), &other.private_key_pem)
                .unwrap_err();
        assert!(matches!(error, LocalSigningError::KeyMismatch), "{error}");
        let error =
            LocalSigningAuthority::from_pem(authority().certificate_pem(), "garbage").unwrap_err();
        assert!(matches!(error, LocalSigningError::Key(_)), "{error}");
        let missing =
            LocalSigningAuthority::load(Path::new("/nonexistent/cert.pem"), Path::new("k"))
                .unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/cert.pem"));
    }

    #[test]
    fn debug_output_never_shows_the_private_key() {
        let debug = format!("{:?}", authority());
        assert!(!debug.contains("PRIVATE"));
    }
}
