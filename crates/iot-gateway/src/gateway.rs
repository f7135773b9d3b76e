//! The embedder's handle: start the broker, publish as iot-data does, read the tap, the
//! lifecycle events and the metrics, disconnect clients.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::broker::{Broker, ConnectionInfo};
use crate::events::{AcceptedMessage, DisconnectReason, LifecycleEvent, Origin};
use crate::limits::Limits;
use crate::metrics::{MetricsSnapshot, increment};
use crate::session::lock;
use crate::tls::{TlsIdentity, accept_connections, acceptor};
use crate::topic::validate_topic_name_allowing_reserved;
use crate::{Authority, GatewayError, QoS, websocket};

/// How to start the gateway.
#[derive(Debug)]
pub struct GatewayConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub tls: TlsIdentity,
    /// MQTT over WebSocket (WSS, `/mqtt`) on this port of 127.0.0.1 (0 picks a free one), with
    /// the same certificate; `None`: no WebSocket listener.
    pub websocket_port: Option<u16>,
    pub limits: Limits,
}

impl GatewayConfig {
    /// A free port on 127.0.0.1 and IoT Core's default limits.
    pub fn new(tls: TlsIdentity) -> Self {
        Self {
            port: 0,
            tls,
            websocket_port: Some(0),
            limits: Limits::default(),
        }
    }
}

/// What became of an in-process publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The trace id the tap carries for it.
    pub trace_id: Uuid,
}

/// A running broker. Dropping it stops accepting and disconnects every client.
pub struct Gateway {
    broker: Arc<Broker>,
    local_addr: SocketAddr,
    websocket_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    accepted: Mutex<Option<mpsc::UnboundedReceiver<AcceptedMessage>>>,
}

impl Gateway {
    /// Binds 127.0.0.1 and starts accepting MQTT over TLS.
    pub async fn start(
        config: GatewayConfig,
        authority: Arc<dyn Authority>,
    ) -> Result<Self, GatewayError> {
        let websocket_tls = TlsIdentity {
            certificate_chain: config.tls.certificate_chain.clone(),
            private_key: config.tls.private_key.clone_key(),
        };
        let acceptor = acceptor(config.tls)?;
        let (listener, local_addr) = bind(config.port).await?;
        let websocket = match config.websocket_port {
            Some(port) => Some((bind(port).await?, websocket::acceptor(websocket_tls)?)),
            None => None,
        };
        let sweep_interval = config.limits.session_sweep_interval;
        let (broker, accepted) = Broker::new(config.limits, authority);
        let broker = Arc::new(broker);
        let mut tasks = vec![tokio::spawn(accept_connections(
            listener,
            acceptor,
            broker.clone(),
        ))];
        let websocket_addr = websocket.as_ref().map(|((_, addr), _)| *addr);
        if let Some(((listener, _), acceptor)) = websocket {
            tasks.push(tokio::spawn(websocket::accept_connections(
                listener,
                acceptor,
                broker.clone(),
            )));
        }
        let sweeper = {
            let broker = Arc::downgrade(&broker);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(sweep_interval);
                loop {
                    ticks.tick().await;
                    let Some(broker) = broker.upgrade() else {
                        return;
                    };
                    broker.discard_expired_sessions();
                }
            })
        };
        tasks.push(sweeper);
        Ok(Self {
            broker,
            local_addr,
            websocket_addr,
            tasks,
            accepted: Mutex::new(Some(accepted)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where MQTT over WebSocket is served (`wss://ADDR/mqtt`), if it is.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// The iot-data Publish API: the embedder has authorised the caller. Same topic and
    /// payload limits as clients, except that reserved `$` topics are allowed (the embedder
    /// implements the features behind them). Returns once the message is routed: handed to
    /// every subscriber's queue, stored for offline persistent sessions, and tapped.
    pub fn publish(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<Published, GatewayError> {
        let payload = payload.into();
        let limits = &self.broker.limits;
        validate_topic_name_allowing_reserved(topic, limits).map_err(|source| {
            GatewayError::InvalidTopic {
                topic: topic.to_owned(),
                source,
            }
        })?;
        if retain && topic.starts_with('$') {
            // https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain
            return Err(GatewayError::RetainOnReservedTopic(topic.to_owned()));
        }
        if payload.len() > limits.max_payload_bytes {
            return Err(GatewayError::PayloadTooLarge {
                size: payload.len(),
                maximum: limits.max_payload_bytes,
            });
        }
        increment(&self.broker.metrics.api_publish_success);
        let trace_id = self.broker.accept(
            topic.into(),
            payload,
            Bytes::new(),
            qos,
            retain,
            Origin::Api,
        );
        Ok(Published { trace_id })
    }

    /// The accepted messages, for the rule engine. Once only: the stream has one consumer.
    pub fn accepted_messages(&self) -> Option<mpsc::UnboundedReceiver<AcceptedMessage>> {
        lock(&self.accepted).take()
    }

    /// Lifecycle events from now on. A receiver that falls more than 16,384 events behind
    /// loses the oldest (they are for logs; the metrics count everything).
    pub fn lifecycle_events(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.broker.lifecycle_events()
    }

    /// IoT's DeleteConnection: ends the client's connection (its will is published) and, with
    /// `clean_session`, its persistent session too, subscriptions and queued messages with it;
    /// otherwise the session is kept. Whether it was connected.
    pub fn disconnect(&self, client_id: &str, clean_session: bool) -> bool {
        self.broker.disconnect(
            client_id,
            DisconnectReason::ApiInitiatedDisconnect,
            clean_session,
        )
    }

    /// Connected clients, by client id.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.broker.connections()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.broker.metrics()
    }

    /// Stops accepting and disconnects every client (SERVER_INITIATED_DISCONNECT).
    pub fn shutdown(&self) {
        for task in &self.tasks {
            task.abort();
        }
        self.broker
            .disconnect_all(DisconnectReason::ServerInitiatedDisconnect);
    }
}

async fn bind(port: u16) -> Result<(tokio::net::TcpListener, SocketAddr), GatewayError> {
    let bind_error = |source| GatewayError::Bind { port, source };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    Ok((listener, address))
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown();
    }
}
