//! The local certificate authority: what makes the local endpoints speak TLS, as AWS's do, so
//! that policies conditioned on `aws:SecureTransport` hold for real, and what issues the X.509
//! certificates devices present to the local IoT gateway.
//!
//! One CA per run (ECDSA P-256), kept in the run directory: `tls/ca.pem` is what clients trust
//! (`AWS_CA_BUNDLE`, the Terraform provider's `custom_ca_bundle`); its key never leaves the
//! process except into `tls/ca.key` (mode 0600), for `postoffice local device add` run against a
//! running post office.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// A certificate with its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

pub struct LocalCa {
    certificate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl LocalCa {
    pub fn generate(name: &str) -> anyhow::Result<Self> {
        let key = KeyPair::generate().context("generating the local CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let certificate = params.self_signed(&key).context("signing the local CA")?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA written by [`LocalCa::write`].
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let certificate_pem = std::fs::read_to_string(dir.join("ca.pem"))
            .with_context(|| format!("reading {}", dir.join("ca.pem").display()))?;
        let key_pem = std::fs::read_to_string(dir.join("ca.key"))
            .with_context(|| format!("reading {}", dir.join("ca.key").display()))?;
        let key = KeyPair::from_pem(&key_pem).context("parsing the local CA key")?;
        let issuer = Issuer::from_ca_cert_pem(&certificate_pem, key)
            .context("parsing the local CA certificate")?;
        Ok(Self {
            certificate_pem,
            issuer,
        })
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Writes `ca.pem` and `ca.key` (0600) into `dir`; returns the certificate's path.
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let certificate = dir.join("ca.pem");
        std::fs::write(&certificate, &self.certificate_pem)?;
        write_secret(&dir.join("ca.key"), &self.issuer_key_pem())?;
        Ok(certificate)
    }

    fn issuer_key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A server certificate for the local endpoints (`127.0.0.1`, `localhost`).
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<IssuedCertificate> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(names.first().copied().unwrap_or("local"));
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*name).try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, key)
    }

    /// A device certificate, as a factory issues one: subject CN = `common_name`.
    pub fn issue_client(&self, common_name: &str) -> anyhow::Result<IssuedCertificate> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, key)
    }

    /// Signs `params` for `key` with this CA, valid for the life of any local run.
    fn sign(
        &self,
        mut params: CertificateParams,
        key: KeyPair,
    ) -> anyhow::Result<IssuedCertificate> {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            certificate_pem: certificate.pem(),
            private_key_pem: key.serialize_pem(),
        })
    }
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Post Office local");
    name.push(DnType::CommonName, common_name);
    name
}

/// Writes a file only its owner can read.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// A rustls server configuration for an issued certificate.
pub fn server_config(issued: &IssuedCertificate) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_slice(
        issued.certificate_pem.as_bytes(),
    )?];
    let key = PrivateKeyDer::from_pem_slice(issued.private_key_pem.as_bytes())?;
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_ca_loads_back_and_still_issues() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::generate("test CA").unwrap();
        ca.write(dir.path()).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("ca.key"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let loaded = LocalCa::load(dir.path()).unwrap();
        assert_eq!(loaded.certificate_pem(), ca.certificate_pem());
        let device = loaded.issue_client("oven-1").unwrap();
        assert!(
            device
                .certificate_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        server_config(&loaded.issue_server(&["127.0.0.1", "localhost"]).unwrap()).unwrap();
    }
}
