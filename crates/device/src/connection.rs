//! One MQTT 5 connection over mutual TLS (rumqttc): opened afresh for every connect, so nothing
//! of a previous connection is retransmitted behind the outbox's back. Its event loop runs in a
//! task of its own and reports every event on a channel, and stops at the first error instead of
//! reconnecting by itself: reconnecting is the device's decision (backoff, idle).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use rumqttc::{Outgoing, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::DeviceConfig;

/// The largest packet the device accepts: IoT Core's 128 KB payload plus topic and properties,
/// IoT's "maximum MQTT5 packet size" of 146 KB
/// (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits>).
/// A broker must not send a larger packet to a client that announced this.
const MAX_INCOMING_PACKET_BYTES: u32 = 146 * 1024;

pub(crate) enum ConnectionEvent {
    Mqtt(Box<Event>),
    /// The connection ended (or never came up); no further events follow.
    Ended(String),
}

pub(crate) struct Connection {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<ConnectionEvent>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Connection {
    pub fn open(config: &DeviceConfig, tls: Arc<rustls::ClientConfig>) -> Self {
        let mut options = MqttOptions::new(
            config.device_id.clone(),
            config.endpoint.host.clone(),
            config.endpoint.port,
        );
        let session_expiry = u32::try_from(config.session_expiry.as_secs()).unwrap_or(u32::MAX);
        let mut network = rumqttc::NetworkOptions::new();
        // A device sends few, small packets; Nagle would hold each until the previous is ACKed.
        network.set_tcp_nodelay(true);
        options
            .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)))
            .set_keep_alive(config.keep_alive)
            .set_clean_start(false)
            .set_session_expiry_interval(Some(session_expiry))
            .set_receive_maximum(Some(config.receive_maximum))
            .set_max_packet_size(Some(MAX_INCOMING_PACKET_BYTES))
            .set_manual_acks(true)
            .set_connection_timeout(config.connect_timeout.as_secs().max(1))
            // rumqttc sizes its in-flight table by this bound (65,536 slots when unset).
            .set_outgoing_inflight_upper_limit(config.max_in_flight)
            .set_network_options(network);
        let capacity = usize::from(config.max_in_flight) + usize::from(config.receive_maximum) + 8;
        let (client, mut eventloop) = AsyncClient::new(options, capacity);
        // rumqttc reserves room for 100 events (about 39 KB) per connection up front; a mostly
        // idle device seldom holds more than a few, and the queue grows when it must.
        eventloop.state.events = VecDeque::new();
        let (sender, events) = mpsc::unbounded_channel();
        let driver = tokio::spawn(drive(eventloop, sender));
        Self {
            client,
            events,
            driver,
        }
    }

    pub async fn next_event(&mut self) -> ConnectionEvent {
        self.events
            .recv()
            .await
            .unwrap_or_else(|| ConnectionEvent::Ended("the connection closed".into()))
    }
}

async fn drive(mut eventloop: EventLoop, events: mpsc::UnboundedSender<ConnectionEvent>) {
    loop {
        match eventloop.poll().await {
            Ok(event) => {
                let last = matches!(event, Event::Outgoing(Outgoing::Disconnect));
                if events.send(ConnectionEvent::Mqtt(Box::new(event))).is_err() || last {
                    return;
                }
            }
            Err(error) => {
                let _ = events.send(ConnectionEvent::Ended(describe(&error)));
                return;
            }
        }
    }
}

fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => format!("the broker refused: {code:?}"),
        ConnectionError::Timeout(_) => "no CONNACK in time".to_owned(),
        other => other.to_string(),
    }
}

/// How long a clean disconnect may take before the connection is dropped anyway.
pub(crate) const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);
