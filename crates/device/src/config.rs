//! How a device connects and behaves: identity, endpoint, credentials, outbox, schedules.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use postoffice::topic;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::collection::CollectionPolicy;
use crate::error::DeviceError;
use crate::outbox::OutboxLimits;
use crate::schedule::Backoff;

/// IoT Core keeps a persistent session for one hour after a disconnect unless the account's
/// quota was raised: <https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-persistent-sessions.html>.
pub const DEFAULT_SESSION_EXPIRY: Duration = Duration::from_secs(3600);

/// The broker: IoT Core's `iot:Data-ATS` endpoint on port 8883, or the local post office's IoT
/// gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The device's X.509 certificate and private key, and the CA certificates to trust for the
/// broker, all PEM.
#[derive(Clone)]
pub struct Credentials {
    pub certificate_pem: Vec<u8>,
    pub private_key_pem: Vec<u8>,
    pub ca_pem: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

impl Credentials {
    /// A rustls client configuration (aws-lc-rs) presenting the device certificate.
    pub(crate) fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, DeviceError> {
        let chain = CertificateDer::pem_slice_iter(&self.certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DeviceError::Credentials(format!("device certificate: {e}")))?;
        if chain.is_empty() {
            return Err(DeviceError::Credentials(
                "no certificate in the device certificate PEM".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.private_key_pem)
            .map_err(|e| DeviceError::Credentials(format!("device private key: {e}")))?;
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let ca = ca.map_err(|e| DeviceError::Credentials(format!("CA certificate: {e}")))?;
            roots.add(ca)?;
        }
        if roots.is_empty() {
            return Err(DeviceError::Credentials(
                "no certificate in the CA PEM".into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        // One server: room for its tickets, not for the default 32 servers' (kilobytes per
        // device in a fleet simulator).
        config.resumption = rustls::client::Resumption::in_memory_sessions(8);
        Ok(Arc::new(config))
    }
}

/// Everything a [`crate::Device`] needs. [`DeviceConfig::new`] sets the defaults.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    pub household_id: String,
    /// The device id: its IoT thing name and MQTT client id (the platform's device policy lets
    /// a certificate connect only as its own thing).
    pub device_id: String,
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    /// The outbox directory, owned by this device alone.
    pub outbox_dir: PathBuf,
    pub outbox_limits: OutboxLimits,
    /// Which events may wait to travel in event collections.
    pub collections: CollectionPolicy,
    /// Disconnect after this long with nothing to send or wait for; `None` stays connected.
    pub idle_after: Option<Duration>,
    /// While idle-disconnected, connect about this often to receive what the persistent
    /// session queued; `None` connects only to send. At most the session expiry.
    pub poll_interval: Option<Duration>,
    /// Reconnect schedule after failed connects and lost connections.
    pub backoff: Backoff,
    /// MQTT keep-alive: 30 s to 1200 s, IoT Core's range.
    pub keep_alive: Duration,
    /// How long the broker keeps the session (subscriptions and QoS 1 messages) after a
    /// disconnect.
    pub session_expiry: Duration,
    /// Time for TCP, TLS and CONNACK together.
    pub connect_timeout: Duration,
    /// Messages published and not yet acknowledged, at most.
    pub max_in_flight: u16,
    /// Messages the broker may send before the device acknowledges them (MQTT 5 Receive
    /// Maximum): the bound on received messages the application has not read yet.
    pub receive_maximum: u16,
}

impl DeviceConfig {
    pub fn new(
        household_id: impl Into<String>,
        device_id: impl Into<String>,
        endpoint: Endpoint,
        credentials: Credentials,
        outbox_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            household_id: household_id.into(),
            device_id: device_id.into(),
            endpoint,
            credentials,
            outbox_dir: outbox_dir.into(),
            outbox_limits: OutboxLimits::default(),
            collections: CollectionPolicy::default(),
            idle_after: None,
            poll_interval: None,
            backoff: Backoff::default(),
            keep_alive: Duration::from_secs(300),
            session_expiry: DEFAULT_SESSION_EXPIRY,
            connect_timeout: Duration::from_secs(10),
            max_in_flight: 10,
            // IoT Core sends at most 100 unacknowledged messages to a client anyway.
            receive_maximum: 100,
        }
    }

    /// The filter of every topic addressed to this device: `+/{household}/{device}`, what the
    /// platform's device policy lets it subscribe to (`terraform/modules/platform/devices.tf`).
    pub fn subscription(&self) -> String {
        format!("+/{}/{}", self.household_id, self.device_id)
    }

    pub(crate) fn validate(&self) -> Result<(), DeviceError> {
        topic::validate_household_id(&self.household_id).map_err(DeviceError::Identity)?;
        topic::validate_device_id(&self.device_id).map_err(DeviceError::Identity)?;
        let config = |message: String| Err(DeviceError::Config(message));
        if !(Duration::from_secs(30)..=Duration::from_secs(1200)).contains(&self.keep_alive) {
            return config(format!(
                "keep-alive {:?} is outside IoT Core's 30 s to 1200 s",
                self.keep_alive
            ));
        }
        if self.session_expiry.is_zero() || self.session_expiry.as_secs() > u64::from(u32::MAX) {
            return config(format!(
                "session expiry {:?} must be between 1 s and u32::MAX s: the device relies on a persistent session",
                self.session_expiry
            ));
        }
        if let Some(poll) = self
            .poll_interval
            .filter(|poll| poll.is_zero() || *poll > self.session_expiry)
        {
            return config(format!(
                "poll interval {poll:?} must be positive and at most the session expiry {:?}, or the broker discards what it queued",
                self.session_expiry
            ));
        }
        if self.idle_after.is_some_and(|idle| idle.is_zero()) {
            return config("idle time must be positive".into());
        }
        if self.backoff.base.is_zero() || self.backoff.cap < self.backoff.base {
            return config(format!(
                "backoff base {:?} must be positive and at most the cap {:?}",
                self.backoff.base, self.backoff.cap
            ));
        }
        if self.connect_timeout < Duration::from_secs(1) {
            return config("connect timeout must be at least 1 s".into());
        }
        if self.max_in_flight == 0 || self.receive_maximum == 0 {
            return config("in-flight and receive maximums must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DeviceConfig {
        let credentials = Credentials {
            certificate_pem: Vec::new(),
            private_key_pem: Vec::new(),
            ca_pem: Vec::new(),
        };
        DeviceConfig::new(
            "h-1",
            "oven-1",
            Endpoint::new("example-ats.iot.eu-west-1.amazonaws.com", 8883),
            credentials,
            "/var/lib/oven/outbox",
        )
    }

    #[test]
    fn the_defaults_are_valid_and_follow_iot_core() {
        let config = config();
        config.validate().unwrap();
        assert_eq!(config.session_expiry, Duration::from_secs(3600));
        assert_eq!(config.subscription(), "+/h-1/oven-1");
    }

    #[test]
    fn refuses_what_iot_core_or_the_session_would_not_honour() {
        let mut polls_too_seldom = config();
        polls_too_seldom.poll_interval = Some(Duration::from_secs(3601));
        let mut keep_alive = config();
        keep_alive.keep_alive = Duration::from_secs(10);
        let mut backoff = config();
        backoff.backoff.cap = Duration::from_millis(1);
        for config in [polls_too_seldom, keep_alive, backoff] {
            assert!(matches!(config.validate(), Err(DeviceError::Config(_))));
        }
        let mut household = config();
        household.household_id = "h/1".into();
        assert!(matches!(
            household.validate(),
            Err(DeviceError::Identity(_))
        ));
    }

    #[test]
    fn credentials_must_hold_a_certificate_a_key_and_a_ca() {
        let error = config().credentials.tls_config().unwrap_err();
        assert!(matches!(error, DeviceError::Credentials(_)), "{error}");
    }
}
