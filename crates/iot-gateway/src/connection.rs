//! One client connection speaking MQTT over any byte stream (TLS today, WebSocket later): reads
//! packets, asks the authority, calls the broker core, writes answers and deliveries. One task
//! per connection; nothing here waits on another client.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::QoS;
use crate::authority::{
    ClientCredentials, ConnectRequest, ConnectionAuthority, RefusalKind, Verdict,
};
use crate::broker::{Broker, Detachment, Will};
use crate::codec::{
    self, ConnAck, Connect, DecodeError, Packet, ProtocolVersion, Publish, Subscribe, Unsubscribe,
    WireQoS, reason, return_code,
};
use crate::events::{DisconnectReason, LifecycleEvent, Origin, PublishRefusal};
use crate::metrics::{add, increment};
use crate::session::{Delivery, Session, SubscriptionOptions};
use crate::topic::{is_exact_filter, validate_topic_filter, validate_topic_name};

/// Read buffer kept by an idle connection; grows to one packet at most while one arrives.
const IDLE_READ_CAPACITY: usize = 512;
/// Buffers larger than this are released once empty, so idle connections stay small.
const RETAINED_BUFFER_CAPACITY: usize = 16 * 1024;
/// Deliveries taken from the outbound queue per wake-up, so writes are batched.
const DELIVERY_BATCH: usize = 64;
/// Time allowed for a farewell DISCONNECT and the TLS close.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one client from its first byte to its last.
pub(crate) async fn serve<S>(broker: Arc<Broker>, mut stream: S, credentials: ClientCredentials)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut read_buffer = BytesMut::with_capacity(IDLE_READ_CAPACITY);
    let connect = match tokio::time::timeout(
        broker.limits.connect_timeout,
        read_connect(&mut stream, &mut read_buffer, &broker),
    )
    .await
    {
        Ok(Ok(connect)) => connect,
        Ok(Err(detail)) => {
            refuse_connect(&broker, "", detail);
            return;
        }
        Err(_) => {
            refuse_connect(&broker, "", "no CONNECT in time".to_owned());
            return;
        }
    };
    let Some(mut connection) =
        admit(&broker, &mut stream, read_buffer, connect, &credentials).await
    else {
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, stream.shutdown()).await;
        return;
    };
    let ending = connection.run(&mut stream).await;
    connection.finish(stream, ending).await;
}

fn refuse_connect(broker: &Broker, client_id: &str, reason: String) {
    increment(&broker.metrics.connect_client_error);
    broker.emit(LifecycleEvent::ConnectRefused {
        client_id: client_id.to_owned(),
        reason,
        at: SystemTime::now(),
    });
}

async fn read_connect<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    broker: &Broker,
) -> Result<Connect, String> {
    loop {
        match codec::decode(buffer, None, broker.limits.max_packet_bytes) {
            Ok(Some(Packet::Connect(connect))) => return Ok(*connect),
            Ok(Some(_)) => return Err("the first packet is not CONNECT".to_owned()),
            Ok(None) => {}
            Err(error) => {
                count_decode_error(broker, &error);
                return Err(error.to_string());
            }
        }
        if buffer.capacity() - buffer.len() < 64 {
            buffer.reserve(IDLE_READ_CAPACITY);
        }
        match stream.read_buf(buffer).await {
            Ok(0) | Err(_) => return Err("the connection closed before CONNECT".to_owned()),
            Ok(_) => {}
        }
    }
}

/// Counts an unreadable packet; a PUBLISH among them is also a refused publish.
fn count_decode_error(broker: &Broker, error: &DecodeError) {
    let packet_type = match error {
        DecodeError::TooLarge { packet_type, .. } => {
            increment(&broker.metrics.oversize_packets);
            *packet_type
        }
        DecodeError::Malformed { packet_type, .. } => {
            increment(&broker.metrics.malformed_packets);
            *packet_type
        }
    };
    if packet_type == codec::packet_type::PUBLISH {
        increment(&broker.metrics.publish_in_client_error);
    }
}

/// Checks the CONNECT, asks the authority, attaches the session and answers CONNACK.
async fn admit<S: AsyncWrite + Unpin>(
    broker: &Arc<Broker>,
    stream: &mut S,
    read_buffer: BytesMut,
    connect: Connect,
    credentials: &ClientCredentials,
) -> Option<Connection> {
    let limits = &broker.limits;
    let Some(version) = connect.protocol else {
        // IoT speaks MQTT 3.1.1 and 5; an MQTT 3.1 client gets the 3.1.1 refusal.
        if connect.protocol_level == 3 {
            let connack = ConnAck {
                code: return_code::UNACCEPTABLE_PROTOCOL_VERSION,
                ..ConnAck::default()
            };
            send_connack(stream, &connack, ProtocolVersion::V311).await;
        }
        refuse_connect(
            broker,
            &connect.client_id,
            format!("unsupported protocol level {}", connect.protocol_level),
        );
        return None;
    };
    let refusal_code = |v311: u8, v5: u8| match version {
        ProtocolVersion::V311 => v311,
        ProtocolVersion::V5 => v5,
    };
    let refuse = |code: u8, reason: String| {
        let connack = ConnAck {
            code,
            reason_string: (version == ProtocolVersion::V5).then(|| reason.clone()),
            ..ConnAck::default()
        };
        (connack, reason)
    };
    let mut client_id = connect.client_id.clone();
    let mut assigned_client_id = None;
    let problem = if connect.authentication_method.is_some() {
        Some(refuse(
            reason::BAD_AUTHENTICATION_METHOD,
            "enhanced authentication is not supported".to_owned(),
        ))
    } else if client_id.is_empty() && version == ProtocolVersion::V5 {
        client_id = uuid::Uuid::new_v4().to_string();
        assigned_client_id = Some(client_id.clone());
        None
    } else if client_id.is_empty() {
        Some(refuse(
            return_code::IDENTIFIER_REJECTED,
            "the client id is empty".to_owned(),
        ))
    } else if client_id.len() > limits.max_client_id_bytes {
        Some(refuse(
            refusal_code(
                return_code::IDENTIFIER_REJECTED,
                reason::CLIENT_IDENTIFIER_NOT_VALID,
            ),
            format!(
                "the client id has {} bytes, over the {} byte limit",
                client_id.len(),
                limits.max_client_id_bytes
            ),
        ))
    } else if client_id.starts_with('$') {
        Some(refuse(
            refusal_code(
                return_code::IDENTIFIER_REJECTED,
                reason::CLIENT_IDENTIFIER_NOT_VALID,
            ),
            "client ids beginning with $ are reserved".to_owned(),
        ))
    } else {
        None
    };
    if let Some((connack, reason)) = problem {
        send_connack(stream, &connack, version).await;
        refuse_connect(broker, &client_id, reason);
        return None;
    }

    let expiry_seconds = match version {
        ProtocolVersion::V311 if connect.clean_start => 0,
        // MQTT 3.1.1 has no expiry of its own: IoT applies its persistent session expiry.
        ProtocolVersion::V311 => limits.session_expiry_for(u32::MAX),
        ProtocolVersion::V5 => limits.session_expiry_for(connect.session_expiry_seconds),
    };
    let request = ConnectRequest {
        credentials,
        client_id: &client_id,
        protocol: version,
        persistent_session: expiry_seconds > 0,
        will_topic: connect.will.as_ref().map(|will| will.topic.as_str()),
    };
    let authority = match broker.authority.connect(&request).await {
        Ok(authority) => authority,
        Err(refusal) => {
            let (code, counter) = match refusal.kind {
                RefusalKind::NotAuthorized => (
                    refusal_code(return_code::NOT_AUTHORIZED, reason::NOT_AUTHORIZED),
                    &broker.metrics.connect_auth_error,
                ),
                RefusalKind::Unavailable => (
                    refusal_code(return_code::SERVER_UNAVAILABLE, reason::SERVER_UNAVAILABLE),
                    &broker.metrics.connect_server_error,
                ),
            };
            let (connack, _) = refuse(code, refusal.reason.clone());
            send_connack(stream, &connack, version).await;
            increment(counter);
            broker.emit(LifecycleEvent::ConnectRefused {
                client_id: client_id.clone(),
                reason: refusal.reason,
                at: SystemTime::now(),
            });
            return None;
        }
    };

    let client_id: Arc<str> = client_id.into();
    let principal: Arc<str> = authority.principal().into();
    let keep_alive = limits.keep_alive_for(connect.keep_alive_seconds);
    let attachment = broker
        .attach(
            &client_id,
            authority.clone(),
            connect.clean_start,
            expiry_seconds,
        )
        .await;
    let v5 = version == ProtocolVersion::V5;
    let connack = ConnAck {
        session_present: attachment.session_present,
        code: 0,
        session_expiry_seconds: (v5 && expiry_seconds != connect.session_expiry_seconds)
            .then_some(expiry_seconds),
        receive_maximum: Some(limits.receive_maximum),
        maximum_qos: Some(1),
        retain_available: Some(true),
        maximum_packet_size: Some(limits.max_packet_bytes as u32),
        assigned_client_id,
        topic_alias_maximum: Some(limits.topic_alias_maximum),
        reason_string: None,
        wildcard_subscription_available: Some(true),
        subscription_identifiers_available: Some(false),
        shared_subscription_available: Some(false),
        server_keep_alive: (u64::from(connect.keep_alive_seconds) != keep_alive.as_secs())
            .then_some(keep_alive.as_secs() as u16),
    };
    let will = connect.will.map(|will| Will {
        topic: will.topic.into(),
        payload: will.payload,
        forwarded_properties: will.forwarded_properties,
        qos: if will.qos == WireQoS::AtMostOnce {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        },
        retain: will.retain,
    });
    let silence_allowed = limits.silence_allowed(keep_alive);
    let mut connection = Connection {
        broker: broker.clone(),
        version,
        client_id: client_id.clone(),
        principal: principal.clone(),
        authority,
        session: attachment.session,
        link_id: attachment.link_id,
        connected_at: Instant::now(),
        read_buffer,
        write_buffer: BytesMut::new(),
        inflight: VecDeque::new(),
        inflight_limit: usize::from(
            connect
                .receive_maximum
                .min(limits.max_inflight_outbound)
                .max(1),
        ),
        replay: attachment.replay,
        outbound: attachment.outbound,
        kick: attachment.kick,
        _finished: attachment.finished,
        next_packet_id: 1,
        client_maximum_packet_size: connect.maximum_packet_size.map(|size| size as usize),
        silence_allowed,
        deadline: tokio::time::Instant::now() + silence_allowed,
        topic_aliases: HashMap::new(),
        will,
        expiry_at_connect: expiry_seconds,
    };
    codec::encode_connack(&mut connection.write_buffer, &connack, version);
    increment(&broker.metrics.connect_success);
    broker.emit(LifecycleEvent::Connected {
        client_id,
        principal,
        protocol: version,
        session_present: connack.session_present,
        at: SystemTime::now(),
    });
    Some(connection)
}

async fn send_connack<S: AsyncWrite + Unpin>(
    stream: &mut S,
    connack: &ConnAck,
    version: ProtocolVersion,
) {
    let mut out = BytesMut::new();
    codec::encode_connack(&mut out, connack, version);
    let _ = tokio::time::timeout(FAREWELL_TIMEOUT, async {
        stream.write_all(&out).await?;
        stream.flush().await
    })
    .await;
}

/// Why the connection ends.
struct Ending {
    reason: DisconnectReason,
    /// The MQTT 5 DISCONNECT reason code to send, if the broker ends it.
    disconnect_code: Option<u8>,
    detail: String,
    publish_will: bool,
    session_expiry_seconds: Option<u32>,
}

impl Ending {
    fn server(reason: DisconnectReason, code: u8, detail: impl Into<String>) -> Self {
        Self {
            reason,
            disconnect_code: Some(code),
            detail: detail.into(),
            publish_will: reason.publishes_will(),
            session_expiry_seconds: None,
        }
    }

    fn client_error(code: u8, detail: impl Into<String>) -> Self {
        Self::server(DisconnectReason::ClientError, code, detail)
    }

    fn connection_lost() -> Self {
        Self {
            reason: DisconnectReason::ConnectionLost,
            disconnect_code: None,
            detail: String::new(),
            publish_will: true,
            session_expiry_seconds: None,
        }
    }

    fn kicked(reason: Result<DisconnectReason, oneshot::error::RecvError>) -> Self {
        let reason = reason.unwrap_or(DisconnectReason::ServerInitiatedDisconnect);
        let (code, detail) = match reason {
            DisconnectReason::DuplicateClientid => (
                reason::SESSION_TAKEN_OVER,
                "another connection uses this client id",
            ),
            DisconnectReason::Throttled => (
                reason::QUOTA_EXCEEDED,
                "the client does not keep up with its messages",
            ),
            DisconnectReason::ApiInitiatedDisconnect => {
                (reason::ADMINISTRATIVE_ACTION, "disconnected by the service")
            }
            _ => (reason::UNSPECIFIED_ERROR, "the server is shutting down"),
        };
        Self::server(reason, code, detail)
    }
}

struct Connection {
    broker: Arc<Broker>,
    version: ProtocolVersion,
    client_id: Arc<str>,
    principal: Arc<str>,
    authority: Arc<dyn ConnectionAuthority>,
    session: Arc<Session>,
    link_id: u64,
    connected_at: Instant,
    read_buffer: BytesMut,
    write_buffer: BytesMut,
    /// QoS 1 deliveries written and not yet acknowledged, in the order written.
    inflight: VecDeque<(u16, Delivery)>,
    inflight_limit: usize,
    /// Deliveries to write before the outbound queue: stored while offline, retained on
    /// subscription.
    replay: VecDeque<Delivery>,
    outbound: mpsc::Receiver<Delivery>,
    kick: oneshot::Receiver<DisconnectReason>,
    /// Dropped with the connection, which tells a connection taking over that it is done.
    _finished: tokio::sync::watch::Sender<()>,
    next_packet_id: u16,
    client_maximum_packet_size: Option<usize>,
    silence_allowed: Duration,
    deadline: tokio::time::Instant,
    topic_aliases: HashMap<u16, String>,
    will: Option<Will>,
    expiry_at_connect: u32,
}

impl Connection {
    async fn run<S>(&mut self, stream: &mut S) -> Ending
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Packets that arrived with CONNECT, in the same read.
        if let Err(ending) = self.handle_received() {
            return ending;
        }
        loop {
            while self.inflight.len() < self.inflight_limit {
                let Some(delivery) = self.replay.pop_front() else {
                    break;
                };
                self.write_delivery(delivery);
            }
            if let Err(ending) = self.flush(stream).await {
                return ending;
            }
            if self.read_buffer.capacity() - self.read_buffer.len() < 64 {
                self.read_buffer.reserve(IDLE_READ_CAPACITY);
            }
            let can_send = self.inflight.len() < self.inflight_limit && self.replay.is_empty();
            tokio::select! {
                biased;
                reason = &mut self.kick => return Ending::kicked(reason),
                () = tokio::time::sleep_until(self.deadline) => {
                    return Ending::server(
                        DisconnectReason::MqttKeepAliveTimeout,
                        reason::KEEP_ALIVE_TIMEOUT,
                        "no packet within 1.5 times the keep-alive",
                    );
                }
                read = stream.read_buf(&mut self.read_buffer) => match read {
                    Ok(0) | Err(_) => return Ending::connection_lost(),
                    Ok(_) => {
                        self.deadline = tokio::time::Instant::now() + self.silence_allowed;
                        if let Err(ending) = self.handle_received() {
                            return ending;
                        }
                    }
                },
                delivery = self.outbound.recv(), if can_send => {
                    let Some(delivery) = delivery else {
                        return Ending::kicked(Ok(DisconnectReason::ServerInitiatedDisconnect));
                    };
                    self.write_delivery(delivery);
                    let mut batch = 1;
                    while batch < DELIVERY_BATCH && self.inflight.len() < self.inflight_limit {
                        let Ok(delivery) = self.outbound.try_recv() else {
                            break;
                        };
                        self.write_delivery(delivery);
                        batch += 1;
                    }
                }
            }
        }
    }

    /// Writes what is buffered; a kick ends the wait even if the client reads nothing.
    async fn flush<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> Result<(), Ending> {
        if self.write_buffer.is_empty() {
            return Ok(());
        }
        let written = tokio::select! {
            biased;
            reason = &mut self.kick => return Err(Ending::kicked(reason)),
            written = async {
                stream.write_all(&self.write_buffer).await?;
                stream.flush().await
            } => written,
        };
        if written.is_err() {
            return Err(Ending::connection_lost());
        }
        self.write_buffer.clear();
        if self.write_buffer.capacity() > RETAINED_BUFFER_CAPACITY {
            self.write_buffer = BytesMut::new();
        }
        Ok(())
    }

    /// Handles every complete packet in the read buffer.
    fn handle_received(&mut self) -> Result<(), Ending> {
        loop {
            let decoded = codec::decode(
                &mut self.read_buffer,
                Some(self.version),
                self.broker.limits.max_packet_bytes,
            );
            match decoded {
                Ok(Some(packet)) => self.handle(packet)?,
                Ok(None) => break,
                Err(error) => {
                    count_decode_error(&self.broker, &error);
                    let (code, packet_type, refusal) = match error {
                        DecodeError::TooLarge { packet_type, .. } => (
                            reason::PACKET_TOO_LARGE,
                            packet_type,
                            PublishRefusal::PacketTooLarge,
                        ),
                        DecodeError::Malformed { packet_type, .. } => (
                            reason::MALFORMED_PACKET,
                            packet_type,
                            PublishRefusal::MalformedPacket,
                        ),
                    };
                    if packet_type == codec::packet_type::PUBLISH {
                        // Counted with the packet; reported like every refused publish.
                        self.emit_publish_refused(String::new(), refusal, error.to_string());
                    }
                    return Err(Ending::client_error(code, error.to_string()));
                }
            }
        }
        if self.read_buffer.is_empty() && self.read_buffer.capacity() > RETAINED_BUFFER_CAPACITY {
            self.read_buffer = BytesMut::with_capacity(IDLE_READ_CAPACITY);
        }
        Ok(())
    }

    fn handle(&mut self, packet: Packet) -> Result<(), Ending> {
        match packet {
            Packet::Publish(publish) => self.handle_publish(publish),
            Packet::PubAck { packet_id } => {
                if let Some(position) = self.inflight.iter().position(|(id, _)| *id == packet_id) {
                    self.inflight.remove(position);
                }
                Ok(())
            }
            Packet::Subscribe(subscribe) => self.handle_subscribe(subscribe),
            Packet::Unsubscribe(unsubscribe) => {
                self.handle_unsubscribe(unsubscribe);
                Ok(())
            }
            Packet::PingReq => {
                codec::encode_pingresp(&mut self.write_buffer);
                Ok(())
            }
            Packet::Disconnect(disconnect) => Err(Ending {
                reason: DisconnectReason::ClientInitiatedDisconnect,
                disconnect_code: None,
                detail: String::new(),
                publish_will: disconnect.reason_code == reason::DISCONNECT_WITH_WILL_MESSAGE,
                // MQTT 5: a session that was to end with its connection cannot be extended.
                session_expiry_seconds: disconnect
                    .session_expiry_seconds
                    .filter(|_| self.expiry_at_connect > 0),
            }),
            // IoT: "sending more than one CONNECT on the same connection" is a CLIENT_ERROR.
            Packet::Connect(_) => Err(Ending::client_error(
                reason::PROTOCOL_ERROR,
                "a second CONNECT",
            )),
            Packet::QoS2Flow { packet_type } => Err(Ending::client_error(
                reason::PROTOCOL_ERROR,
                format!("QoS 2 flow packet type {packet_type}: QoS 2 is not supported"),
            )),
            Packet::Auth => Err(Ending::client_error(
                reason::PROTOCOL_ERROR,
                "enhanced authentication is not supported",
            )),
            Packet::ServerOnly { packet_type } => Err(Ending::client_error(
                reason::PROTOCOL_ERROR,
                format!("packet type {packet_type} is sent only by servers"),
            )),
        }
    }

    fn refused_publish(&self, topic: String, refusal: PublishRefusal, detail: String) {
        let counter = match refusal {
            PublishRefusal::NotAuthorized => &self.broker.metrics.publish_in_auth_error,
            _ => &self.broker.metrics.publish_in_client_error,
        };
        increment(counter);
        self.emit_publish_refused(topic, refusal, detail);
    }

    fn emit_publish_refused(&self, topic: String, refusal: PublishRefusal, detail: String) {
        self.broker.emit(LifecycleEvent::PublishRefused {
            client_id: self.client_id.clone(),
            principal: self.principal.clone(),
            topic,
            refusal,
            detail,
            at: SystemTime::now(),
        });
    }

    fn handle_publish(&mut self, mut publish: Publish) -> Result<(), Ending> {
        let v5 = self.version == ProtocolVersion::V5;
        if publish.qos == WireQoS::ExactlyOnce {
            self.refused_publish(
                publish.topic,
                PublishRefusal::QoS2Unsupported,
                "QoS 2 is not supported".to_owned(),
            );
            // IoT: no PUBACK for a QoS 2 publish. MQTT 5: the CONNACK said Maximum QoS 1, so
            // QoS 2 is a protocol violation (MQTT 5 section 3.2.2.3.4).
            return if v5 {
                Err(Ending::client_error(
                    reason::QOS_NOT_SUPPORTED,
                    "QoS 2 is not supported",
                ))
            } else {
                Ok(())
            };
        }
        if let Some(alias) = publish.topic_alias {
            if alias == 0 || alias > self.broker.limits.topic_alias_maximum {
                let detail = format!("topic alias {alias} is out of range");
                self.refused_publish(publish.topic, PublishRefusal::InvalidTopic, detail.clone());
                return Err(Ending::client_error(reason::TOPIC_ALIAS_INVALID, detail));
            }
            if publish.topic.is_empty() {
                match self.topic_aliases.get(&alias) {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        let detail = format!("topic alias {alias} was never set");
                        self.refused_publish(
                            String::new(),
                            PublishRefusal::InvalidTopic,
                            detail.clone(),
                        );
                        return Err(Ending::client_error(reason::PROTOCOL_ERROR, detail));
                    }
                }
            } else {
                self.topic_aliases.insert(alias, publish.topic.clone());
            }
        }
        let limits = &self.broker.limits;
        if publish.payload.len() > limits.max_payload_bytes {
            let detail = format!(
                "the payload has {} bytes, over the {} byte limit",
                publish.payload.len(),
                limits.max_payload_bytes
            );
            self.refused_publish(
                publish.topic,
                PublishRefusal::PayloadTooLarge,
                detail.clone(),
            );
            return Err(Ending::client_error(reason::PACKET_TOO_LARGE, detail));
        }
        if let Err(error) = validate_topic_name(&publish.topic, limits) {
            self.refused_publish(
                publish.topic,
                PublishRefusal::InvalidTopic,
                error.to_string(),
            );
            return Err(Ending::client_error(
                reason::TOPIC_NAME_INVALID,
                error.to_string(),
            ));
        }
        let qos = if publish.qos == WireQoS::AtLeastOnce {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        if let Verdict::Deny { reason: why } =
            self.authority.may_publish(&publish.topic, publish.retain)
        {
            self.refused_publish(publish.topic, PublishRefusal::NotAuthorized, why.clone());
            return match self.version {
                // MQTT 3.1.1 has no way to refuse a publish: IoT disconnects (AUTH_ERROR).
                ProtocolVersion::V311 => Err(Ending {
                    reason: DisconnectReason::AuthError,
                    disconnect_code: None,
                    detail: why,
                    publish_will: true,
                    session_expiry_seconds: None,
                }),
                ProtocolVersion::V5 => {
                    if qos == QoS::AtLeastOnce {
                        codec::encode_puback(
                            &mut self.write_buffer,
                            publish.packet_id,
                            reason::NOT_AUTHORIZED,
                            self.version,
                        );
                    }
                    Ok(())
                }
            };
        }
        self.broker.accept(
            publish.topic.into(),
            publish.payload,
            publish.forwarded_properties,
            qos,
            publish.retain,
            Origin::Client {
                client_id: self.client_id.clone(),
                principal: self.principal.clone(),
            },
        );
        increment(&self.broker.metrics.publish_in_success);
        if qos == QoS::AtLeastOnce {
            codec::encode_puback(
                &mut self.write_buffer,
                publish.packet_id,
                reason::SUCCESS,
                self.version,
            );
        }
        Ok(())
    }

    fn handle_subscribe(&mut self, subscribe: Subscribe) -> Result<(), Ending> {
        let v5 = self.version == ProtocolVersion::V5;
        let limits = &self.broker.limits;
        let metrics = &self.broker.metrics;
        if subscribe.requests.len() > limits.max_filters_per_subscribe {
            add(
                &metrics.subscribe_client_error,
                subscribe.requests.len() as u64,
            );
            return Err(Ending::client_error(
                reason::QUOTA_EXCEEDED,
                format!(
                    "{} topic filters in one SUBSCRIBE, over the limit of {}",
                    subscribe.requests.len(),
                    limits.max_filters_per_subscribe
                ),
            ));
        }
        if !v5
            && subscribe
                .requests
                .iter()
                .any(|request| request.qos == WireQoS::ExactlyOnce)
        {
            // IoT: "When QoS level 2 is requested, the message broker doesn't send a PUBACK or
            // SUBACK." None of the packet's filters is subscribed.
            add(
                &metrics.subscribe_client_error,
                subscribe.requests.len() as u64,
            );
            for request in subscribe.requests {
                self.subscribe_refused(request.filter, "QoS 2 is not supported".to_owned());
            }
            return Ok(());
        }
        let failure = |v5_code: u8| if v5 { v5_code } else { 0x80 };
        let mut codes = Vec::with_capacity(subscribe.requests.len());
        for request in subscribe.requests {
            if let Err(error) = validate_topic_filter(&request.filter, limits) {
                increment(&metrics.subscribe_client_error);
                codes.push(failure(reason::TOPIC_FILTER_INVALID));
                self.subscribe_refused(request.filter, error.to_string());
                continue;
            }
            if let Verdict::Deny { reason: why } = self.authority.may_subscribe(&request.filter) {
                increment(&metrics.subscribe_auth_error);
                codes.push(failure(reason::NOT_AUTHORIZED));
                self.subscribe_refused(request.filter, why);
                continue;
            }
            if !self.broker.has_room_for(&self.session, &request.filter) {
                increment(&metrics.subscribe_client_error);
                codes.push(failure(reason::QUOTA_EXCEEDED));
                self.subscribe_refused(
                    request.filter,
                    format!(
                        "over the limit of {} subscriptions",
                        limits.max_subscriptions_per_session
                    ),
                );
                continue;
            }
            let qos = if request.qos == WireQoS::AtMostOnce {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            let options = SubscriptionOptions {
                qos,
                no_local: request.no_local,
                // MQTT 3.1.1: IoT clears RETAIN on messages routed to existing subscribers.
                retain_as_published: request.retain_as_published,
            };
            let is_new = self
                .broker
                .subscribe(&self.session, &request.filter, options);
            increment(&metrics.subscribe_success);
            codes.push(qos as u8);
            let wants_retained = match request.retain_handling {
                0 => true,
                1 => is_new,
                _ => false,
            };
            // IoT delivers a retained message on subscription only to a filter naming its
            // topic exactly (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences).
            if wants_retained
                && is_exact_filter(&request.filter)
                && let Some((message, retained_qos)) = self.broker.retained(&request.filter)
            {
                if self.authority.may_receive(&message.topic).is_allowed() {
                    self.replay.push_back(Delivery {
                        message,
                        qos: retained_qos.min(qos),
                        retain: true,
                        dup: false,
                    });
                } else {
                    increment(&metrics.publish_out_receive_denied);
                }
            }
        }
        codec::encode_suback(
            &mut self.write_buffer,
            subscribe.packet_id,
            &codes,
            self.version,
        );
        Ok(())
    }

    fn subscribe_refused(&self, filter: String, detail: String) {
        self.broker.emit(LifecycleEvent::SubscribeRefused {
            client_id: self.client_id.clone(),
            principal: self.principal.clone(),
            filter,
            detail,
            at: SystemTime::now(),
        });
    }

    fn handle_unsubscribe(&mut self, unsubscribe: Unsubscribe) {
        let codes: Vec<u8> = unsubscribe
            .filters
            .iter()
            .map(|filter| {
                if self.broker.unsubscribe(&self.session, filter) {
                    increment(&self.broker.metrics.unsubscribe_success);
                    reason::SUCCESS
                } else {
                    reason::NO_SUBSCRIPTION_EXISTED
                }
            })
            .collect();
        codec::encode_unsuback(
            &mut self.write_buffer,
            unsubscribe.packet_id,
            &codes,
            self.version,
        );
    }

    fn write_delivery(&mut self, delivery: Delivery) {
        let message = &delivery.message;
        let qos = delivery.qos as u8;
        let properties: &[u8] = match self.version {
            ProtocolVersion::V5 => &message.forwarded_properties,
            ProtocolVersion::V311 => &[],
        };
        if let Some(maximum) = self.client_maximum_packet_size {
            let size = codec::publish_size(
                &message.topic,
                message.payload.len(),
                qos,
                properties.len(),
                self.version,
            );
            // MQTT 5 section 3.1.2.11.4: the server discards what the client cannot take.
            if size > maximum {
                increment(&self.broker.metrics.publish_out_dropped);
                self.broker.emit(LifecycleEvent::MessageDropped {
                    client_id: self.client_id.clone(),
                    topic: message.topic.clone(),
                    qos: delivery.qos,
                    detail: "larger than the client's Maximum Packet Size",
                    at: SystemTime::now(),
                });
                return;
            }
        }
        let packet_id = if delivery.qos == QoS::AtLeastOnce {
            self.take_packet_id()
        } else {
            0
        };
        codec::encode_publish(
            &mut self.write_buffer,
            &message.topic,
            &message.payload,
            qos,
            delivery.retain,
            delivery.dup,
            packet_id,
            properties,
            self.version,
        );
        increment(&self.broker.metrics.publish_out_success);
        if delivery.qos == QoS::AtLeastOnce {
            self.inflight.push_back((
                packet_id,
                Delivery {
                    dup: true,
                    ..delivery
                },
            ));
        }
    }

    fn take_packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if !self.inflight.iter().any(|(used, _)| *used == id) {
                return id;
            }
        }
    }

    /// Says goodbye (MQTT 5 DISCONNECT when the broker ends it), closes the stream and hands
    /// the session back.
    async fn finish<S: AsyncWrite + Unpin>(mut self, mut stream: S, ending: Ending) {
        tracing::debug!(
            client_id = %self.client_id,
            reason = %ending.reason,
            detail = %ending.detail,
            "MQTT connection ended"
        );
        let farewell = match (self.version, ending.disconnect_code) {
            (ProtocolVersion::V5, Some(code)) => {
                let mut out = BytesMut::new();
                codec::encode_disconnect(&mut out, code, &ending.detail);
                Some(out)
            }
            _ => None,
        };
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, async {
            if let Some(farewell) = farewell {
                stream.write_all(&farewell).await?;
            }
            stream.shutdown().await
        })
        .await;
        drop(stream);

        let mut unacknowledged: Vec<Delivery> = self
            .inflight
            .drain(..)
            .map(|(_, delivery)| delivery)
            .collect();
        unacknowledged.extend(self.replay.drain(..));
        self.outbound.close();
        while let Ok(delivery) = self.outbound.try_recv() {
            unacknowledged.push(delivery);
        }
        let will = if ending.publish_will {
            self.will.take()
        } else {
            None
        };
        self.broker.detach(
            &self.session,
            self.link_id,
            Detachment {
                reason: ending.reason,
                connected_for: self.connected_at.elapsed(),
                unacknowledged,
                will,
                session_expiry_seconds: ending.session_expiry_seconds,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_client_disconnect_spares_the_will() {
        assert!(!DisconnectReason::ClientInitiatedDisconnect.publishes_will());
        for reason in [
            DisconnectReason::ConnectionLost,
            DisconnectReason::DuplicateClientid,
            DisconnectReason::MqttKeepAliveTimeout,
            DisconnectReason::ApiInitiatedDisconnect,
        ] {
            assert!(reason.publishes_will(), "{reason}");
        }
    }
}
