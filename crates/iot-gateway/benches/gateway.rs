//! Gateway capacity and latency, in release: `cargo bench -p postoffice-iot-gateway`.
//!
//! - connect storm: 1,000 TLS clients connecting at once, time until every CONNACK;
//! - idle memory: the gateway's RSS growth per idle connection with 10,000 connections;
//! - latency: QoS 1 publish to the rule-engine tap and to a subscriber, p50 and p99.
//!
//! Clients of the first two run in a child process (this binary, `--clients`), so the
//! gateway's RSS is measured alone; both processes share the machine's cores.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postoffice_iot_gateway::{
    Authority, ConnectRequest, ConnectionAuthority, Gateway, GatewayConfig, Refusal, TlsIdentity,
    Verdict,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STORM_CLIENTS: usize = 1_000;
const IDLE_CLIENTS: usize = 10_000;
const LATENCY_MESSAGES: usize = 2_000;

struct Everyone;

struct Allowed(String);

#[async_trait::async_trait]
impl Authority for Everyone {
    async fn connect(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<Arc<dyn ConnectionAuthority>, Refusal> {
        Ok(Arc::new(Allowed(request.client_id.to_owned())))
    }
}

impl ConnectionAuthority for Allowed {
    fn may_publish(&self, _topic: &str, _retain: bool) -> Verdict {
        Verdict::Allow
    }
    fn may_subscribe(&self, _filter: &str) -> Verdict {
        Verdict::Allow
    }
    fn may_receive(&self, _topic: &str) -> Verdict {
        Verdict::Allow
    }
    fn principal(&self) -> &str {
        &self.0
    }
}

fn raise_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// A CA, the gateway's certificate and one device certificate every bench client presents.
fn write_pki(dir: &Path) -> TlsIdentity {
    let p256 = &rcgen::PKCS_ECDSA_P256_SHA256;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate_for(p256).unwrap()).unwrap();
    let mut server_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    server_params.subject_alt_names = vec![SanType::IpAddress(Ipv4Addr::LOCALHOST.into())];
    let server_key = KeyPair::generate_for(p256).unwrap();
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    let device_key = KeyPair::generate_for(p256).unwrap();
    let device = CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .signed_by(&device_key, &ca)
        .unwrap();
    std::fs::write(dir.join("ca.der"), ca.der()).unwrap();
    std::fs::write(dir.join("device.der"), device.der()).unwrap();
    std::fs::write(dir.join("device.key"), device_key.serialize_der()).unwrap();
    TlsIdentity {
        certificate_chain: vec![server.der().clone()],
        private_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    }
}

fn client_config(dir: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(
            std::fs::read(dir.join("ca.der")).unwrap(),
        ))
        .unwrap();
    let certificate = CertificateDer::from(std::fs::read(dir.join("device.der")).unwrap());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        std::fs::read(dir.join("device.key")).unwrap(),
    ));
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![certificate], key)
        .unwrap(),
    )
}

fn connect_packet(client_id: &str) -> Vec<u8> {
    // MQTT 3.1.1, clean session, keep-alive 1200 s.
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b10, 0x04, 0xB0];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

type ClientStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect_client(
    addr: SocketAddr,
    connector: tokio_rustls::TlsConnector,
    client_id: String,
) -> ClientStream {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut tls = connector
        .connect(ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()), tcp)
        .await
        .unwrap();
    tls.write_all(&connect_packet(&client_id)).await.unwrap();
    let mut connack = [0u8; 4];
    tls.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "{client_id} was refused");
    tls
}

/// The child process: connects clients as the parent asks on stdin, reports on stdout.
fn run_clients(addr: SocketAddr, dir: PathBuf) {
    raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let connector = tokio_rustls::TlsConnector::from(client_config(&dir));
        let mut held = Vec::new();
        let mut next_id = 0usize;
        for line in std::io::stdin().lock().lines() {
            let line = line.unwrap();
            let mut words = line.split_whitespace();
            match (
                words.next(),
                words.next().map(|n| n.parse::<usize>().unwrap()),
            ) {
                (Some("storm"), Some(count)) => {
                    let started = Instant::now();
                    let clients: Vec<_> = (0..count)
                        .map(|index| {
                            tokio::spawn(connect_client(
                                addr,
                                connector.clone(),
                                format!("storm-{next_id}-{index}"),
                            ))
                        })
                        .collect();
                    next_id += 1;
                    let mut connected = Vec::new();
                    for client in clients {
                        connected.push(client.await.unwrap());
                    }
                    println!("connected {count} {}", started.elapsed().as_micros());
                    drop(connected);
                }
                (Some("hold"), Some(count)) => {
                    // In waves, so the listen backlog never overflows.
                    for wave in (0..count).collect::<Vec<_>>().chunks(500) {
                        let clients: Vec<_> = wave
                            .iter()
                            .map(|index| {
                                tokio::spawn(connect_client(
                                    addr,
                                    connector.clone(),
                                    format!("idle-{index}"),
                                ))
                            })
                            .collect();
                        for client in clients {
                            held.push(client.await.unwrap());
                        }
                    }
                    println!("holding {}", held.len());
                }
                (Some("release"), _) => {
                    held.clear();
                    println!("released");
                }
                _ => return,
            }
            std::io::stdout().flush().unwrap();
        }
    });
}

struct Clients {
    child: std::process::Child,
    to_child: std::process::ChildStdin,
    from_child: BufReader<std::process::ChildStdout>,
}

impl Clients {
    fn spawn(addr: SocketAddr, dir: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--clients")
            .arg(addr.to_string())
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let to_child = child.stdin.take().unwrap();
        let from_child = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            to_child,
            from_child,
        }
    }

    async fn ask(&mut self, command: &str) -> String {
        writeln!(self.to_child, "{command}").unwrap();
        self.to_child.flush().unwrap();
        let from_child = &mut self.from_child;
        tokio::task::block_in_place(|| {
            let mut line = String::new();
            from_child.read_line(&mut line).unwrap();
            line.trim().to_owned()
        })
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        let _ = writeln!(self.to_child, "quit");
        let _ = self.child.wait();
    }
}

async fn wait_for_connections(gateway: &Gateway, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while gateway.metrics().connected_clients != count {
        assert!(Instant::now() < deadline, "connections did not settle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 * fraction) as usize).min(sorted.len() - 1)]
}

async fn latency(gateway: &Gateway, dir: &Path) {
    let mut tap = gateway.accepted_messages().unwrap();
    let tls = rumqttc::TlsConfiguration::Rustls(client_config(dir));
    let options = |id: &str| {
        let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", gateway.local_addr().port());
        options.set_transport(rumqttc::Transport::tls_with_config(tls.clone()));
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        (options, network)
    };
    let (subscriber_options, network) = options("subscriber");
    let (subscriber, mut subscriber_loop) = rumqttc::AsyncClient::new(subscriber_options, 10);
    subscriber_loop.set_network_options(network.clone());
    let (publisher_options, _) = options("publisher");
    let (publisher, mut publisher_loop) = rumqttc::AsyncClient::new(publisher_options, 10);
    publisher_loop.set_network_options(network);
    let (received, mut receipts) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match subscriber_loop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) => {
                    let _ = received.send(Instant::now());
                }
                Ok(_) => {}
                // Ends with the bench's DISCONNECT.
                Err(_) => return,
            }
        }
    });
    tokio::spawn(async move {
        loop {
            if publisher_loop.poll().await.is_err() {
                return;
            }
        }
    });
    subscriber
        .subscribe("COOKING_REPLIED/+/+", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    wait_for_connections(gateway, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut to_tap = Vec::with_capacity(LATENCY_MESSAGES);
    let mut to_subscriber = Vec::with_capacity(LATENCY_MESSAGES);
    let payload = vec![b'x'; 512];
    for round in 0..LATENCY_MESSAGES + 100 {
        let sent = Instant::now();
        publisher
            .publish(
                "COOKING_REPLIED/h-1/oven-1",
                rumqttc::QoS::AtLeastOnce,
                false,
                payload.clone(),
            )
            .await
            .unwrap();
        let tapped = tap.recv().await.unwrap();
        let tapped_at = Instant::now();
        assert_eq!(&*tapped.topic, "COOKING_REPLIED/h-1/oven-1");
        let delivered_at = receipts.recv().await.unwrap();
        // The first 100 warm up connections and allocators.
        if round >= 100 {
            to_tap.push(tapped_at - sent);
            to_subscriber.push(delivered_at - sent);
        }
    }
    to_tap.sort();
    to_subscriber.sort();
    println!(
        "publish -> tap:        p50 {:>8.1?}  p99 {:>8.1?}  ({LATENCY_MESSAGES} QoS 1 messages of 512 bytes, one at a time)",
        percentile(&to_tap, 0.50),
        percentile(&to_tap, 0.99)
    );
    println!(
        "publish -> subscriber: p50 {:>8.1?}  p99 {:>8.1?}",
        percentile(&to_subscriber, 0.50),
        percentile(&to_subscriber, 0.99)
    );
    publisher.disconnect().await.unwrap();
    subscriber.disconnect().await.unwrap();
    wait_for_connections(gateway, 0).await;
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    if arguments.get(1).map(String::as_str) == Some("--clients") {
        run_clients(arguments[2].parse().unwrap(), PathBuf::from(&arguments[3]));
        return;
    }
    // `cargo bench` passes `--bench`; any filter argument is ignored.
    raise_file_limit();
    let dir = std::env::temp_dir().join(format!("iot-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let identity = write_pki(&dir);
        let gateway = Gateway::start(GatewayConfig::new(identity), Arc::new(Everyone))
            .await
            .unwrap();

        latency(&gateway, &dir).await;

        let mut clients = Clients::spawn(gateway.local_addr(), &dir);
        let mut storms = Vec::new();
        for _ in 0..3 {
            let answer = clients.ask(&format!("storm {STORM_CLIENTS}")).await;
            let micros: u64 = answer.split_whitespace().nth(2).unwrap().parse().unwrap();
            storms.push(Duration::from_micros(micros));
            wait_for_connections(&gateway, 0).await;
        }
        storms.sort();
        println!(
            "connect storm: {STORM_CLIENTS} TLS clients connecting at once, all CONNACKed in {:.2?} (median of 3; runs {:.2?})",
            storms[1], storms
        );

        // Let the storms' connections be freed before the baseline.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rss_bytes();
        let answer = clients.ask(&format!("hold {IDLE_CLIENTS}")).await;
        assert_eq!(answer, format!("holding {IDLE_CLIENTS}"));
        wait_for_connections(&gateway, IDLE_CLIENTS as u64).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_bytes();
        println!(
            "idle connections: {IDLE_CLIENTS}, gateway RSS {:.1} MiB -> {:.1} MiB, {:.1} KiB per connection",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            (after - before) as f64 / IDLE_CLIENTS as f64 / 1024.0
        );
        assert_eq!(clients.ask("release").await, "released");
        wait_for_connections(&gateway, 0).await;
        drop(clients);
        let metrics = gateway.metrics();
        println!(
            "gateway metrics: {} connects, {} TLS failures, {} publishes in, {} out",
            metrics.connect_success,
            metrics.tls_handshake_failures,
            metrics.publish_in_success,
            metrics.publish_out_success
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
