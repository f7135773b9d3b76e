//! An MQTT 5 session over mutual TLS whose publishes complete when the broker acknowledges them
//! (QoS 1 PUBACK), used by simulated devices in the demo and the tests. MQTT 5 because its
//! PUBACK carries a reason code: a publish the IoT policy denies fails with "not authorized".
//!
//! rumqttc reports packet ids only as events of its event loop, so one task owns the event loop
//! and issues every publish itself: publishes leave in request order, and their packet ids
//! (`Outgoing::Publish`) come back in that order, which pairs each with its waiter.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::sync::{mpsc, oneshot};

/// A message the session received on one of its subscriptions.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub at: Instant,
}

struct PublishRequest {
    topic: String,
    payload: Vec<u8>,
    acked: oneshot::Sender<Result<(), String>>,
}

/// A device's TLS identity: its certificate and key, and the CA the gateway's certificate
/// comes from (all PEM).
#[derive(Clone)]
pub struct DeviceTls {
    pub ca_pem: String,
    pub certificate_pem: String,
    pub private_key_pem: String,
}

impl std::fmt::Debug for DeviceTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceTls").finish_non_exhaustive()
    }
}

impl DeviceTls {
    pub fn client_config(&self) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes())?)?;
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(
                self.certificate_pem.as_bytes(),
            )?],
            PrivateKeyDer::from_pem_slice(self.private_key_pem.as_bytes())?,
        )?;
        Ok(std::sync::Arc::new(config))
    }
}

#[derive(Debug, Clone)]
pub struct MqttSession {
    requests: mpsc::Sender<PublishRequest>,
}

impl MqttSession {
    /// Connects as `client_id`, subscribes to `subscriptions` (QoS 1) and returns once the
    /// broker has granted them, with the stream of received messages.
    pub async fn connect(
        gateway: std::net::SocketAddr,
        client_id: &str,
        tls: &DeviceTls,
        subscriptions: &[String],
        timeout: Duration,
    ) -> anyhow::Result<(Self, mpsc::UnboundedReceiver<Received>)> {
        let mut options = MqttOptions::new(client_id, gateway.ip().to_string(), gateway.port());
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.client_config()?),
        ));
        Self::connect_with(options, subscriptions, timeout).await
    }

    /// As [`MqttSession::connect`], over the transport `options` set (a presigned WebSocket
    /// URL, for the simulated app).
    pub async fn connect_with(
        mut options: MqttOptions,
        subscriptions: &[String],
        timeout: Duration,
    ) -> anyhow::Result<(Self, mpsc::UnboundedReceiver<Received>)> {
        let client_id = options.client_id();
        options
            .set_keep_alive(Duration::from_secs(30))
            // A persistent session keeps subscriptions and queued QoS 1 messages across a
            // reconnect, as IoT Core may close the connection after refusing a publish.
            .set_clean_start(false)
            .set_session_expiry_interval(Some(3600))
            .set_request_channel_capacity(4096)
            .set_max_packet_size(Some(256 * 1024))
            .set_network_options(no_delay());
        let (client, mut eventloop) = AsyncClient::new(options, 4096);

        let deadline = Instant::now() + timeout;
        wait_for_connack(&mut eventloop, deadline)
            .await
            .with_context(|| format!("MQTT client {client_id} could not connect"))?;
        for filter in subscriptions {
            client.try_subscribe(filter, QoS::AtLeastOnce)?;
        }
        let mut granted = 0;
        while granted < subscriptions.len() {
            match poll_until(&mut eventloop, deadline).await? {
                Event::Incoming(Packet::SubAck(suback)) => {
                    if suback
                        .return_codes
                        .iter()
                        .any(|code| !matches!(code, SubscribeReasonCode::Success(_)))
                    {
                        bail!("the broker refused a subscription of {client_id}");
                    }
                    granted += 1;
                }
                _ => continue,
            }
        }

        let (incoming_tx, incoming_rx) = mpsc::unbounded_channel();
        let (requests, request_rx) = mpsc::channel(4096);
        tokio::spawn(run_session(
            client,
            eventloop,
            subscriptions.to_vec(),
            request_rx,
            incoming_tx,
        ));
        Ok((Self { requests }, incoming_rx))
    }

    /// Publishes with QoS 1 and waits for the broker's PUBACK. A refused publish fails with
    /// the broker's reason, and so does one whose connection was lost before the PUBACK.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        let (acked, ack) = oneshot::channel();
        self.requests
            .send(PublishRequest {
                topic: topic.to_owned(),
                payload,
                acked,
            })
            .await
            .map_err(|_| anyhow!("the MQTT session has ended"))?;
        match ack.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => bail!("publishing to {topic} failed: {error}"),
            Err(_) => bail!("the MQTT session ended before {topic} was acknowledged"),
        }
    }
}

async fn wait_for_connack(eventloop: &mut EventLoop, deadline: Instant) -> anyhow::Result<()> {
    loop {
        if let Event::Incoming(Packet::ConnAck(_)) = poll_until(eventloop, deadline).await? {
            return Ok(());
        }
    }
}

async fn poll_until(eventloop: &mut EventLoop, deadline: Instant) -> anyhow::Result<Event> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, eventloop.poll()).await {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(ConnectionError::ConnectionRefused(code))) => {
            bail!("the broker refused the connection: {code:?}")
        }
        Ok(Err(error)) => Err(error.into()),
        Err(_) => bail!("no answer from the broker in time"),
    }
}

async fn run_session(
    client: AsyncClient,
    mut eventloop: EventLoop,
    subscriptions: Vec<String>,
    mut requests: mpsc::Receiver<PublishRequest>,
    incoming: mpsc::UnboundedSender<Received>,
) {
    let mut sent: VecDeque<oneshot::Sender<Result<(), String>>> = VecDeque::new();
    let mut inflight: HashMap<u16, oneshot::Sender<Result<(), String>>> = HashMap::new();
    let mut requests_open = true;
    loop {
        tokio::select! {
            request = requests.recv(), if requests_open => match request {
                Some(request) => {
                    match client.try_publish(request.topic, QoS::AtLeastOnce, false, request.payload) {
                        Ok(()) => sent.push_back(request.acked),
                        Err(error) => {
                            let _ = request.acked.send(Err(error.to_string()));
                        }
                    }
                }
                None => {
                    requests_open = false;
                    if incoming.is_closed() {
                        return;
                    }
                }
            },
            event = eventloop.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(connack))) if !connack.session_present => {
                    for filter in &subscriptions {
                        let _ = client.try_subscribe(filter, QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    if let Some(waiter) = sent.pop_front() {
                        inflight.insert(pkid, waiter);
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    if let Some(waiter) = inflight.remove(&ack.pkid) {
                        let _ = waiter.send(match ack.reason {
                            PubAckReason::Success | PubAckReason::NoMatchingSubscribers => Ok(()),
                            refused => Err(format!("the broker refused it: {refused:?}")),
                        });
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let received = Received {
                        topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                        payload: publish.payload.to_vec(),
                        at: Instant::now(),
                    };
                    if incoming.send(received).is_err() && !requests_open {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    // The gateway may close the connection after refusing a publish,
                    // and a lost connection leaves the fate of unacknowledged publishes open:
                    // fail their waiters so callers decide (retry: at least once).
                    for (_, waiter) in inflight.drain() {
                        let _ = waiter.send(Err(format!("connection lost: {error}")));
                    }
                    for waiter in sent.drain(..) {
                        let _ = waiter.send(Err(format!("connection lost: {error}")));
                    }
                    // Nor does the session retransmit them on reconnect: a refused publish would
                    // close the connection again and again. Whoever waited decides.
                    eventloop.pending.clear();
                    if !requests_open && incoming.is_closed() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

/// Nagle's algorithm holding a small MQTT packet until the peer's delayed ACK (40 ms on Linux)
/// would dominate every local round trip; IoT Core's latency has no such stall.
pub fn no_delay() -> rumqttc::NetworkOptions {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network
}
