//! Test infrastructure: a CA issuing broker and device certificates (rcgen, ECDSA P-256), a real
//! mosquitto broker over mutual TLS on a free port, a TCP relay between device and broker that
//! can cut the network, and a backend MQTT client that subscribes and publishes like the
//! platform (rule engine and iot-forwarder) does.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postoffice_device::{Backoff, Credentials, DeviceConfig, Endpoint};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

pub const TIMEOUT: Duration = Duration::from_secs(15);
pub const HOUSEHOLD: &str = "h-1";

/// A local CA and the certificates it issues, as PEM.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

pub struct Issued {
    pub certificate_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Post Office device test CA");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Self {
            ca: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        Issued {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    pub fn server(&self) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        self.issue(params)
    }

    /// A client certificate whose common name mosquitto takes as the username.
    pub fn client(&self, name: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        self.issue(params)
    }

    pub fn credentials(&self, name: &str) -> Credentials {
        let issued = self.client(name);
        Credentials {
            certificate_pem: issued.certificate_pem.into_bytes(),
            private_key_pem: issued.key_pem.into_bytes(),
            ca_pem: self.ca_pem().into_bytes(),
        }
    }

    fn client_tls(&self, name: &str) -> Arc<rustls::ClientConfig> {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let issued = self.client(name);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let chain =
            vec![CertificateDer::from_pem_slice(issued.certificate_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .unwrap(),
        )
    }
}

/// A mosquitto broker with a TLS listener requiring client certificates, the certificate's
/// common name as username, optionally an ACL file.
pub struct Broker {
    pub port: u16,
    config: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Broker {
    pub async fn start(pki: &Pki, acl: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = pki.server();
        let write = |name: &str, contents: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).unwrap();
            path
        };
        let ca = write("ca.pem", &pki.ca_pem());
        let certificate = write("server.pem", &server.certificate_pem);
        let key = write("server.key", &server.key_pem);
        let port = postoffice_test_support::free_port();
        let mut config = format!(
            "per_listener_settings false\n\
             allow_anonymous false\n\
             persistence false\n\
             max_queued_messages 1000\n\
             log_dest none\n\
             listener {port} 127.0.0.1\n\
             cafile {}\n\
             certfile {}\n\
             keyfile {}\n\
             require_certificate true\n\
             use_identity_as_username true\n",
            ca.display(),
            certificate.display(),
            key.display(),
        );
        if let Some(acl) = acl {
            let acl = write("acl", acl);
            config.push_str(&format!("acl_file {}\n", acl.display()));
        }
        let config = write("mosquitto.conf", &config);
        let mut broker = Self {
            port,
            config,
            child: None,
            _dir: dir,
        };
        broker.resume().await;
        broker
    }

    /// Starts mosquitto again on the same port, with the same configuration.
    pub async fn resume(&mut self) {
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("mosquitto runs (scripts/setup.sh installs it)");
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    /// Kills mosquitto (its sessions go with it: persistence is off).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

fn mosquitto() -> &'static Path {
    let installed = Path::new("/usr/sbin/mosquitto");
    if installed.exists() {
        installed
    } else {
        Path::new("mosquitto")
    }
}

async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Bytes flow both ways.
    Up,
    /// Connections stay open but every byte is lost, both ways.
    Blackhole,
    /// Every connection is dropped, new ones closed at once.
    Down,
}

/// A TCP relay from a local port to the broker, standing for the device's network.
pub struct Relay {
    pub port: u16,
    network: watch::Sender<Network>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (network, state) = watch::channel(Network::Up);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                if *state.borrow() == Network::Down {
                    continue;
                }
                let Ok(broker) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let (device_read, device_write) = socket.into_split();
                let (broker_read, broker_write) = broker.into_split();
                tokio::spawn(pipe(device_read, broker_write, state.clone()));
                tokio::spawn(pipe(broker_read, device_write, state.clone()));
            }
        });
        Self { port, network }
    }

    pub fn set(&self, network: Network) {
        self.network.send_replace(network);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut network: watch::Receiver<Network>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let now = *network.borrow();
                    match now {
                    Network::Up => {
                        if to.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                    Network::Blackhole => {}
                    Network::Down => return,
                    }
                }
            },
            changed = network.changed() => {
                if changed.is_err() || *network.borrow() == Network::Down {
                    return;
                }
            }
        }
    }
}

/// A message the backend received.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub topic: String,
    pub payload: Vec<u8>,
}

impl Delivered {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap()
    }
}

/// A backend MQTT 5 client over mutual TLS: what the IoT rule engine sees of devices' messages,
/// and the iot-forwarder's publishes towards them.
pub struct Backend {
    client: AsyncClient,
    received: mpsc::UnboundedReceiver<Delivered>,
    acks: mpsc::UnboundedReceiver<PubAckReason>,
}

impl Backend {
    pub async fn connect(pki: &Pki, port: u16, name: &str, filters: &[&str]) -> Self {
        let mut options = MqttOptions::new(name, "127.0.0.1", port);
        options
            .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                pki.client_tls(name),
            )))
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(Some(256 * 1024))
            .set_outgoing_inflight_upper_limit(100);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        for filter in filters {
            client.subscribe(*filter, QoS::AtLeastOnce).await.unwrap();
        }
        let (connected, mut connected_rx) = mpsc::unbounded_channel();
        let (deliver, received) = mpsc::unbounded_channel();
        let (ack, acks) = mpsc::unbounded_channel();
        let mut granted_needed = filters.len();
        tokio::spawn(async move {
            let mut signalled = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) if granted_needed == 0 => {
                        signalled = true;
                        let _ = connected.send(());
                    }
                    Ok(Event::Incoming(Packet::SubAck(suback))) => {
                        assert!(
                            suback
                                .return_codes
                                .iter()
                                .all(|code| matches!(code, SubscribeReasonCode::Success(_))),
                            "backend subscription refused: {suback:?}"
                        );
                        granted_needed = granted_needed.saturating_sub(1);
                        if granted_needed == 0 && !signalled {
                            signalled = true;
                            let _ = connected.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = deliver.send(Delivered {
                            topic: String::from_utf8(publish.topic.to_vec()).unwrap(),
                            payload: publish.payload.to_vec(),
                        });
                    }
                    Ok(Event::Incoming(Packet::PubAck(puback))) => {
                        let _ = ack.send(puback.reason);
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        tokio::time::timeout(TIMEOUT, connected_rx.recv())
            .await
            .expect("the backend connects and subscribes in time")
            .expect("the backend connects");
        Self {
            client,
            received,
            acks,
        }
    }

    /// The next message received, within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Delivered> {
        tokio::time::timeout(timeout, self.received.recv())
            .await
            .ok()
            .flatten()
    }

    /// Messages received until nothing more arrives for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Delivered> {
        let mut all = Vec::new();
        while let Some(delivered) = self.next(quiet).await {
            all.push(delivered);
        }
        all
    }

    /// Publishes with QoS 1 and waits for the broker's PUBACK.
    pub async fn publish(&mut self, topic: &str, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        let reason = tokio::time::timeout(TIMEOUT, self.acks.recv())
            .await
            .expect("a PUBACK in time")
            .unwrap();
        assert!(
            matches!(
                reason,
                PubAckReason::Success | PubAckReason::NoMatchingSubscribers
            ),
            "{reason:?}"
        );
    }
}

/// A device configuration for tests: short backoff, outbox in `outbox_dir`.
pub fn device_config(pki: &Pki, port: u16, device_id: &str, outbox_dir: &Path) -> DeviceConfig {
    let mut config = DeviceConfig::new(
        HOUSEHOLD,
        device_id,
        Endpoint::new("127.0.0.1", port),
        pki.credentials(device_id),
        outbox_dir,
    );
    config.backoff = Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(400),
    };
    config.connect_timeout = Duration::from_secs(5);
    config
}

/// Waits until `condition` holds, polling.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
