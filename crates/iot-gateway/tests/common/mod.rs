//! Test support: a local CA with device certificates (rcgen, ECDSA P-256), an authority with
//! IoT-like per-device rules, the gateway started on a free port, rumqttc clients over TLS, and
//! raw TLS sockets for what a well-behaved client never sends.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postoffice_iot_gateway::{
    Authority, ClientCredentials, ConnectRequest, ConnectionAuthority, Gateway, GatewayConfig,
    Limits, Refusal, TlsIdentity, Verdict,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;

pub const TIMEOUT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate and its key.
#[derive(Clone)]
pub struct Credential {
    pub certificate: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Credential {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    pub fn certificate_id(&self) -> String {
        postoffice_iot_gateway::ClientCertificate::new(self.certificate.clone())
            .id()
            .to_owned()
    }
}

/// A local CA issuing the broker's and the devices' certificates.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Post Office local CA");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Self {
            ca: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    pub fn ca_certificate(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    fn issue(&self, params: CertificateParams) -> Credential {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        Credential {
            certificate: certificate.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    pub fn server(&self) -> Credential {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        self.issue(params)
    }

    pub fn device(&self, name: &str) -> Credential {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        self.issue(params)
    }

    pub fn server_identity(&self) -> TlsIdentity {
        let server = self.server();
        TlsIdentity {
            certificate_chain: vec![server.certificate.clone()],
            private_key: server.key(),
        }
    }

    pub fn client_config(&self, device: &Credential) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_certificate()).unwrap();
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_client_auth_cert(vec![device.certificate.clone()], device.key())
                .unwrap(),
        )
    }
}

/// What one registered certificate may do, with MQTT filters as resources: a small stand-in
/// for the IoT policies the embedder evaluates.
#[derive(Clone, Debug, Default)]
pub struct DevicePolicy {
    pub thing: String,
    pub client_ids: Vec<String>,
    pub publish: Vec<String>,
    pub retain: Vec<String>,
    pub subscribe: Vec<String>,
    pub receive: Vec<String>,
}

impl DevicePolicy {
    /// A device of a household: connects as itself, publishes `EVENT/household/device`,
    /// reads its own topics.
    pub fn device(thing: &str, household: &str) -> Self {
        Self {
            thing: thing.to_owned(),
            client_ids: vec![thing.to_owned()],
            publish: vec![format!("+/{household}/{thing}")],
            retain: vec![format!("+/{household}/{thing}")],
            subscribe: vec![format!("+/{household}/{thing}")],
            receive: vec![format!("+/{household}/{thing}")],
        }
    }

    /// Everything allowed, for a backend-like client.
    pub fn everything(thing: &str) -> Self {
        Self {
            thing: thing.to_owned(),
            client_ids: vec![thing.to_owned()],
            publish: vec!["#".to_owned()],
            retain: vec!["#".to_owned()],
            subscribe: vec!["#".to_owned()],
            receive: vec!["#".to_owned()],
        }
    }
}

/// MQTT filter matching, the test's own (the gateway's is private to it).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        if level == "#" {
            return true;
        }
        match topic_levels.next() {
            Some(topic_level) if level == "+" || level == topic_level => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

fn verdict(filters: &[String], topic: &str, action: &str) -> Verdict {
    if filters.iter().any(|filter| filter_matches(filter, topic)) {
        Verdict::Allow
    } else {
        Verdict::deny(format!("no statement allows {action} on {topic}"))
    }
}

/// Registered certificates (by certificate id) and their policies; for WebSocket clients, the
/// policy of each accepted `X-Amz-Signature` (a stand-in for the embedder's SigV4 check).
#[derive(Default)]
pub struct TestAuthority {
    devices: Mutex<HashMap<String, DevicePolicy>>,
    signatures: Mutex<HashMap<String, DevicePolicy>>,
}

impl TestAuthority {
    pub fn register_signature(&self, signature: &str, policy: DevicePolicy) {
        self.signatures
            .lock()
            .unwrap()
            .insert(signature.to_owned(), policy);
    }

    pub fn register(&self, device: &Credential, policy: DevicePolicy) {
        self.devices
            .lock()
            .unwrap()
            .insert(device.certificate_id(), policy);
    }
}

#[async_trait::async_trait]
impl Authority for TestAuthority {
    async fn connect(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<Arc<dyn ConnectionAuthority>, Refusal> {
        let certificate = match request.credentials {
            ClientCredentials::Certificate(certificate) => certificate,
            ClientCredentials::SignedUrl(url) => {
                let signature = url
                    .query()
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
                    .unwrap_or_default();
                let policy = self.signatures.lock().unwrap().get(signature).cloned();
                return match policy {
                    Some(policy) if url.path() == "/mqtt" => Ok(Arc::new(policy)),
                    _ => Err(Refusal::not_authorized(format!(
                        "signature {signature:?} is not valid"
                    ))),
                };
            }
            _ => return Err(Refusal::not_authorized("unknown credentials")),
        };
        let policy = self
            .devices
            .lock()
            .unwrap()
            .get(certificate.id())
            .cloned()
            .ok_or_else(|| {
                Refusal::not_authorized(format!(
                    "certificate {} is not registered",
                    certificate.id()
                ))
            })?;
        if !policy.client_ids.iter().any(|id| id == request.client_id) {
            return Err(Refusal::not_authorized(format!(
                "iot:Connect is not allowed for client id {}",
                request.client_id
            )));
        }
        Ok(Arc::new(policy))
    }
}

impl ConnectionAuthority for DevicePolicy {
    fn may_publish(&self, topic: &str, retain: bool) -> Verdict {
        match verdict(&self.publish, topic, "iot:Publish") {
            Verdict::Allow if retain => verdict(&self.retain, topic, "iot:RetainPublish"),
            other => other,
        }
    }

    fn may_subscribe(&self, filter: &str) -> Verdict {
        // As in IoT policies, a wildcard filter must be granted literally; a filter naming a
        // topic may also fall under a granted wildcard filter.
        let exact = !filter.contains(['+', '#']);
        if self.subscribe.iter().any(|allowed| {
            allowed == filter || allowed == "#" || (exact && filter_matches(allowed, filter))
        }) {
            Verdict::Allow
        } else {
            Verdict::deny(format!("no statement allows iot:Subscribe on {filter}"))
        }
    }

    fn may_receive(&self, topic: &str) -> Verdict {
        verdict(&self.receive, topic, "iot:Receive")
    }

    fn principal(&self) -> &str {
        &self.thing
    }
}

pub struct Harness {
    pub pki: Pki,
    pub authority: Arc<TestAuthority>,
    pub gateway: Gateway,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> Self {
        let pki = Pki::new();
        let authority = Arc::new(TestAuthority::default());
        let mut config = GatewayConfig::new(pki.server_identity());
        config.limits = limits;
        let gateway = Gateway::start(config, authority.clone()).await.unwrap();
        Self {
            pki,
            authority,
            gateway,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    /// A registered device certificate with this policy.
    pub fn device(&self, policy: DevicePolicy) -> Credential {
        let credential = self.pki.device(&policy.thing);
        self.authority.register(&credential, policy);
        credential
    }

    pub fn tls(&self, device: &Credential) -> rumqttc::TlsConfiguration {
        rumqttc::TlsConfiguration::Rustls(self.pki.client_config(device))
    }

    pub fn v4_options(&self, device: &Credential, client_id: &str) -> rumqttc::MqttOptions {
        let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", self.addr().port());
        options
            .set_transport(rumqttc::Transport::tls_with_config(self.tls(device)))
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(256 * 1024, 256 * 1024);
        options
    }

    pub fn v5_options(&self, device: &Credential, client_id: &str) -> rumqttc::v5::MqttOptions {
        let mut options = rumqttc::v5::MqttOptions::new(client_id, "127.0.0.1", self.addr().port());
        options
            .set_transport(rumqttc::Transport::tls_with_config(self.tls(device)))
            .set_keep_alive(Duration::from_secs(30));
        options
    }

    /// MQTT 3.1.1 over WSS to `path_and_query`, trusting the local CA, with no client certificate.
    pub fn websocket_options(&self, path_and_query: &str, client_id: &str) -> rumqttc::MqttOptions {
        let port = self.gateway.websocket_addr().unwrap().port();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.pki.ca_certificate()).unwrap();
        let tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut options = rumqttc::MqttOptions::new(
            client_id,
            format!("wss://127.0.0.1:{port}{path_and_query}"),
            port,
        );
        options
            .set_transport(rumqttc::Transport::wss_with_config(
                rumqttc::TlsConfiguration::Rustls(Arc::new(tls)),
            ))
            .set_keep_alive(Duration::from_secs(30));
        options
    }

    /// A raw TLS connection with this device's certificate, for bytes no client library sends.
    pub async fn raw(&self, device: &Credential) -> TlsStream<TcpStream> {
        let connector = tokio_rustls::TlsConnector::from(self.pki.client_config(device));
        let tcp = TcpStream::connect(self.addr()).await.unwrap();
        connector
            .connect(ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()), tcp)
            .await
            .unwrap()
    }
}

/// An MQTT 3.1.1 CONNECT.
pub fn connect_packet(client_id: &str, keep_alive_seconds: u16) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b0000_0010];
    body.extend_from_slice(&keep_alive_seconds.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

/// Connects a raw stream as `client_id` and reads the CONNACK (4 bytes for MQTT 3.1.1).
pub async fn raw_connect(
    stream: &mut TlsStream<TcpStream>,
    client_id: &str,
    keep_alive: u16,
) -> [u8; 4] {
    stream
        .write_all(&connect_packet(client_id, keep_alive))
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut connack))
        .await
        .unwrap()
        .unwrap();
    connack
}

/// Reads until the server closes the connection; how many bytes came first.
pub async fn read_until_closed(stream: &mut TlsStream<TcpStream>) -> usize {
    let mut total = 0;
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return total,
            Ok(read) => total += read,
        }
    }
}

/// What an MQTT 3.1.1 client saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    ConnAck {
        session_present: bool,
    },
    Refused(String),
    Publish {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
        qos: u8,
    },
    PubAck {
        packet_id: u16,
        reason: String,
    },
    SubAck(Vec<String>),
    Disconnect(String),
    Closed(String),
}

/// Runs a rumqttc 3.1.1 event loop, reporting what it sees; stops at the first error.
pub fn drive_v4(mut eventloop: rumqttc::EventLoop) -> mpsc::UnboundedReceiver<Seen> {
    use rumqttc::{ConnectionError, Event, Packet};
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let seen = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(connack))) => Seen::ConnAck {
                    session_present: connack.session_present,
                },
                Ok(Event::Incoming(Packet::Publish(publish))) => Seen::Publish {
                    topic: publish.topic,
                    payload: publish.payload.to_vec(),
                    retain: publish.retain,
                    qos: publish.qos as u8,
                },
                Ok(Event::Incoming(Packet::PubAck(puback))) => Seen::PubAck {
                    packet_id: puback.pkid,
                    reason: "Success".to_owned(),
                },
                Ok(Event::Incoming(Packet::SubAck(suback))) => Seen::SubAck(
                    suback
                        .return_codes
                        .iter()
                        .map(|code| format!("{code:?}"))
                        .collect(),
                ),
                Ok(_) => continue,
                Err(ConnectionError::ConnectionRefused(code)) => Seen::Refused(format!("{code:?}")),
                Err(error) => Seen::Closed(error.to_string()),
            };
            let last = matches!(seen, Seen::Refused(_) | Seen::Closed(_));
            if sender.send(seen).is_err() || last {
                return;
            }
        }
    });
    receiver
}

/// Runs a rumqttc MQTT 5 event loop, reporting what it sees; stops at the first error.
pub fn drive_v5(mut eventloop: rumqttc::v5::EventLoop) -> mpsc::UnboundedReceiver<Seen> {
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{ConnectionError, Event};
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let seen = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(connack))) => Seen::ConnAck {
                    session_present: connack.session_present,
                },
                Ok(Event::Incoming(Packet::Publish(publish))) => Seen::Publish {
                    topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                    payload: publish.payload.to_vec(),
                    retain: publish.retain,
                    qos: publish.qos as u8,
                },
                Ok(Event::Incoming(Packet::PubAck(puback))) => Seen::PubAck {
                    packet_id: puback.pkid,
                    reason: format!("{:?}", puback.reason),
                },
                Ok(Event::Incoming(Packet::SubAck(suback))) => Seen::SubAck(
                    suback
                        .return_codes
                        .iter()
                        .map(|code| format!("{code:?}"))
                        .collect(),
                ),
                Ok(Event::Incoming(Packet::Disconnect(disconnect))) => {
                    Seen::Disconnect(format!("{:?}", disconnect.reason_code))
                }
                Ok(_) => continue,
                Err(ConnectionError::ConnectionRefused(code)) => Seen::Refused(format!("{code:?}")),
                Err(error) => Seen::Closed(error.to_string()),
            };
            let last = matches!(seen, Seen::Refused(_) | Seen::Closed(_));
            if sender.send(seen).is_err() || last {
                return;
            }
        }
    });
    receiver
}

/// The next thing seen, or a failure after [`TIMEOUT`].
pub async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(TIMEOUT, seen.recv())
        .await
        .expect("nothing seen in time")
        .expect("the event loop ended")
}

/// The next thing seen that `pick` accepts, skipping the rest.
pub async fn next_where(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    mut pick: impl FnMut(&Seen) -> bool,
) -> Seen {
    loop {
        let item = next(seen).await;
        if pick(&item) {
            return item;
        }
    }
}

/// Nothing more is seen within `wait` (or only what `ignore` accepts).
pub async fn nothing_within(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    wait: Duration,
) -> Option<Seen> {
    tokio::time::timeout(wait, seen.recv()).await.ok().flatten()
}

/// The next lifecycle event `pick` accepts.
pub async fn next_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<postoffice_iot_gateway::LifecycleEvent>,
    mut pick: impl FnMut(&postoffice_iot_gateway::LifecycleEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let event = events.recv().await.expect("lifecycle events ended");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("no such lifecycle event in time")
}
