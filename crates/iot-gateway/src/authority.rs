//! The embedder's side: who a client is and what it may do. The broker asks before every
//! action, as IoT Core evaluates the applied policies on every CONNECT, PUBLISH, SUBSCRIBE and
//! message delivery (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html>);
//! an implementation caches what it evaluates.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::codec::ProtocolVersion;

/// What a client proved about itself before sending CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCredentials {
    /// A TLS client certificate whose private key the client proved to hold in the handshake
    /// (CertificateVerify). Its chain was not validated: IoT Core accepts certificates registered
    /// without a CA, so whether it is registered and ACTIVE is the authority's decision.
    Certificate(ClientCertificate),
    /// The URL of a WebSocket upgrade to `/mqtt`, which IoT Core reads as a SigV4 presigned
    /// request (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders=host`,
    /// `X-Amz-Signature`, and `X-Amz-Security-Token` for temporary credentials). Nothing is
    /// verified yet: checking the signature and resolving the identity is the authority's job.
    SignedUrl(SignedUrl),
}

/// A WebSocket upgrade's host, path and query, exactly as the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    host: String,
    path: String,
    query: String,
}

impl SignedUrl {
    pub fn new(host: String, path: String, query: String) -> Self {
        Self { host, path, query }
    }

    /// The `Host` header, the one header IoT's presigned URLs sign.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string, still percent-encoded.
    pub fn query(&self) -> &str {
        &self.query
    }
}

/// A client certificate as IoT Core identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: CertificateDer<'static>,
    id: String,
}

impl ClientCertificate {
    pub fn new(der: CertificateDer<'static>) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
        let id = digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self { der, id }
    }

    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// IoT's certificate id: the SHA-256 of the DER certificate, in lower-case hex
    /// (<https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html>).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A CONNECT the authority decides on: the `iot:Connect` request, with what IoT's
/// `connectAttributes` condition keys look at (persistent session, last will).
#[derive(Debug, Clone)]
pub struct ConnectRequest<'a> {
    pub credentials: &'a ClientCredentials,
    pub client_id: &'a str,
    pub protocol: ProtocolVersion,
    /// The client asks for a session that outlives the connection.
    pub persistent_session: bool,
    /// The will's topic, if the client set one.
    pub will_topic: Option<&'a str>,
}

/// Decides who may connect. Called once per CONNECT, on the connection's own task, with no
/// broker lock held.
#[async_trait::async_trait]
pub trait Authority: Send + Sync {
    /// `Ok`: the client is authenticated and may connect with this client id; the returned
    /// authority answers for everything the connection then does.
    async fn connect(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<Arc<dyn ConnectionAuthority>, Refusal>;
}

/// Decides what one connected client may do. Called on the hot path for every publish,
/// subscription and delivery, with no broker lock held: answer from a cache.
pub trait ConnectionAuthority: Send + Sync {
    /// `iot:Publish` on the topic, and `iot:RetainPublish` too when `retain`.
    fn may_publish(&self, topic: &str, retain: bool) -> Verdict;
    /// `iot:Subscribe` on the topic filter.
    fn may_subscribe(&self, filter: &str) -> Verdict;
    /// `iot:Receive` on the topic, checked for each message before it is delivered.
    fn may_receive(&self, topic: &str) -> Verdict;
    /// Who the client is, for logs, events and the rule-engine tap (a certificate id, a
    /// Cognito identity, ...).
    fn principal(&self) -> &str;
}

/// An authorisation decision, with the reason for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny { reason: String },
}

impl Verdict {
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Deny {
            reason: reason.into(),
        }
    }

    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Why a CONNECT was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Unknown, inactive or revoked certificate, or `iot:Connect` denied for the client id:
    /// CONNACK "not authorized" (3.1.1 return code 5, MQTT 5 reason 0x87).
    NotAuthorized,
    /// The authority could not decide (its own failure): CONNACK "server unavailable".
    Unavailable,
}

impl Refusal {
    pub fn not_authorized(reason: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::NotAuthorized,
            reason: reason.into(),
        }
    }

    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::Unavailable,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_id_is_the_sha256_of_the_der() {
        let certificate = ClientCertificate::new(CertificateDer::from(b"abc".to_vec()));
        assert_eq!(
            certificate.id(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
