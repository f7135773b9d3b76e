//! A simulated device: an MQTT 5 client that connects over mutual TLS with its certificate and
//! its thing name as client id, subscribes to its own topics and publishes device messages, as
//! the IoT policy lets it. The demo, the end-to-end tests and the benchmark drive the post
//! office through it; the device library (`postoffice-device`) is what firmware uses.

use std::time::{Duration, Instant};

use anyhow::bail;
use postoffice::envelope::DeviceMessage;
use tokio::sync::mpsc;

use crate::mqtt::{DeviceTls, MqttSession, Received};

pub struct SimulatedDevice {
    pub household_id: String,
    pub device_id: String,
    session: MqttSession,
    incoming: mpsc::UnboundedReceiver<Received>,
}

impl SimulatedDevice {
    /// Connects and subscribes to `+/HOUSEHOLD/DEVICE`, the replies and commands for it.
    pub async fn connect(
        gateway: std::net::SocketAddr,
        tls: &DeviceTls,
        household_id: &str,
        device_id: &str,
    ) -> anyhow::Result<Self> {
        let household_id = household_id.to_owned();
        let (session, incoming) = MqttSession::connect(
            gateway,
            device_id,
            tls,
            &[format!("+/{household_id}/{device_id}")],
            Duration::from_secs(10),
        )
        .await?;
        Ok(Self {
            household_id,
            device_id: device_id.to_owned(),
            session,
            incoming,
        })
    }

    pub fn topic(&self, event: &str) -> String {
        format!("{event}/{}/{}", self.household_id, self.device_id)
    }

    /// Publishes a device message on its own topic of `event` (QoS 1, waits for the PUBACK).
    /// Like device firmware, it publishes again when the connection dropped before the PUBACK
    /// (same event id: at least once).
    pub async fn publish(&self, event: &str, message: &DeviceMessage) -> anyhow::Result<()> {
        let payload = serde_json::to_vec(message)?;
        let mut attempt = 1;
        loop {
            match self.publish_to(&self.topic(event), payload.clone()).await {
                Err(error) if attempt < 5 && error.to_string().contains("connection lost") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                result => return result,
            }
        }
    }

    /// Publishes any payload on any topic, as a misbehaving device would.
    pub async fn publish_to(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.session.publish(topic, payload).await
    }

    /// The next message on the device's topics matching `accept`, within `timeout`.
    pub async fn receive(
        &mut self,
        timeout: Duration,
        accept: impl Fn(&Received) -> bool,
    ) -> anyhow::Result<Received> {
        let deadline = Instant::now() + timeout;
        let mut passed_over = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some(message)) if accept(&message) => return Ok(message),
                Ok(Some(message)) => passed_over.push(message.topic),
                Ok(None) => bail!("the MQTT session of {} ended", self.device_id),
                Err(_) => bail!(
                    "{}/{} received nothing matching within {} ms (received meanwhile: {passed_over:?})",
                    self.household_id,
                    self.device_id,
                    timeout.as_millis()
                ),
            }
        }
    }

    /// Takes every message already received, without waiting.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut drained = Vec::new();
        while let Ok(message) = self.incoming.try_recv() {
            drained.push(message);
        }
        drained
    }
}

/// A device message with a fresh event id, `payload` as given.
pub fn device_message(payload: serde_json::Value) -> DeviceMessage {
    let event_id = uuid::Uuid::new_v4();
    DeviceMessage {
        event_id: Some(event_id),
        occurred_at: Some(postoffice::envelope::now_millis()),
        correlation_id: Some(event_id),
        causation_id: None,
        schema_version: Some(1),
        payload,
    }
}

/// The event answering pairing requests (the catalog's DEVICE_PAIRING_REPLIED).
pub const PAIRING_ANSWER_EVENT: &str = "DEVICE_PAIRING_REPLIED";

/// An appliance in no household, as it leaves the factory or after it was unpaired: connected
/// and subscribed to its pairing answers in any household (`DEVICE_PAIRING_REPLIED/+/DEVICE`),
/// the only thing the base device policy lets it do before its thing has a household.
pub struct UnpairedDevice {
    pub device_id: String,
    session: MqttSession,
    incoming: mpsc::UnboundedReceiver<Received>,
}

impl UnpairedDevice {
    pub async fn connect(
        gateway: std::net::SocketAddr,
        tls: &DeviceTls,
        device_id: &str,
    ) -> anyhow::Result<Self> {
        let (session, incoming) = MqttSession::connect(
            gateway,
            device_id,
            tls,
            &[format!("{PAIRING_ANSWER_EVENT}/+/{device_id}")],
            Duration::from_secs(10),
        )
        .await?;
        Ok(Self {
            device_id: device_id.to_owned(),
            session,
            incoming,
        })
    }

    /// Waits for a `paired` answer and returns the household its topic names: the device
    /// connects again with it, and that connection's policy variables resolve to it. Refusals
    /// (another household's wrong code) are passed over.
    pub async fn wait_until_paired(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some(message)) => message,
                Ok(None) => bail!("the MQTT session of {} ended", self.device_id),
                Err(_) => bail!(
                    "{} was not paired within {} ms",
                    self.device_id,
                    timeout.as_millis()
                ),
            };
            let answer: serde_json::Value =
                serde_json::from_slice(&message.payload).unwrap_or_default();
            let topic = postoffice::Topic::parse(&message.topic)?;
            if topic.event() == PAIRING_ANSWER_EVENT
                && topic.device_id() == self.device_id
                && answer["payload"]["status"] == "paired"
            {
                return Ok(topic.household_id().to_owned());
            }
        }
    }

    /// Publishes any payload on any topic (the base policy allows no publish).
    pub async fn publish_to(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.session.publish(topic, payload).await
    }
}
