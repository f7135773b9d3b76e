//! The device: its handle for the application, and the task that owns its connection, outbox
//! queue, requests and schedules.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use postoffice::envelope::Envelope;
use postoffice::topic::{self, Topic};
use rumqttc::Outgoing as Written;
use rumqttc::v5::Event;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PubAckReason, Publish, SubscribeReasonCode};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::config::DeviceConfig;
use crate::connection::{Connection, ConnectionEvent, DISCONNECT_TIMEOUT};
use crate::counters::{self, Cells, Counters};
use crate::error::DeviceError;
use crate::event::Event as DeviceEvent;
use crate::outbox::{Entry, Outbox, RefusedEvent};
use crate::queue::{Outgoing, Queue};
use crate::schedule::{poll_delay, random_unit};

/// Where the device's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connecting,
    Connected,
}

/// A message received on one of the device's topics: a reply or a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub topic: Topic,
    pub envelope: Envelope,
}

/// The messages addressed to the device, in arrival order. A message is acknowledged to the
/// broker when the application takes it, so one the application never read is delivered again by
/// the persistent session (at least once: recognise duplicates by event id).
pub struct Messages {
    deliveries: mpsc::UnboundedReceiver<Box<Delivery>>,
    commands: mpsc::UnboundedSender<Box<Command>>,
}

impl Messages {
    /// The next message; `None` once the device has stopped.
    pub async fn next(&mut self) -> Option<Received> {
        let delivery = self.deliveries.recv().await?;
        Some(self.taken(delivery))
    }

    /// The next message if one is already there.
    pub fn try_next(&mut self) -> Option<Received> {
        let delivery = self.deliveries.try_recv().ok()?;
        Some(self.taken(delivery))
    }

    fn taken(&self, delivery: Box<Delivery>) -> Received {
        if let Some(ack) = delivery.ack {
            let _ = self.commands.send(Box::new(Command::Ack(ack)));
        }
        delivery.received
    }
}

/// Waits for the broker's verdict on one published event.
#[derive(Debug)]
pub struct Receipt {
    event_id: Uuid,
    verdict: oneshot::Receiver<Result<(), DeviceError>>,
}

impl Receipt {
    pub fn event_id(&self) -> Uuid {
        self.event_id
    }

    /// Resolves when the broker acknowledged the event (it has left the outbox), or refused it.
    /// Dropping the receipt changes nothing: the event is sent all the same.
    pub async fn acknowledged(self) -> Result<(), DeviceError> {
        self.verdict.await.unwrap_or(Err(DeviceError::Closed))
    }
}

/// A device connected to AWS IoT Core (or the local post office's IoT gateway) with its X.509
/// certificate. Start it inside a Tokio runtime; it connects when it has something to do.
pub struct Device {
    household_id: String,
    device_id: String,
    commands: mpsc::UnboundedSender<Box<Command>>,
    outbox: Arc<Outbox>,
    counters: Arc<Cells>,
    state: watch::Receiver<ConnectionState>,
    messages: Mutex<Option<Messages>>,
}

#[derive(Debug, Clone, Copy)]
struct Ack {
    generation: u64,
    pkid: u16,
}

struct Delivery {
    received: Received,
    ack: Option<Ack>,
}

struct ReplyWaiter {
    reply_event: String,
    reply: oneshot::Sender<Envelope>,
}

enum Command {
    Enqueued {
        entry: Entry,
        verdict: Option<oneshot::Sender<Result<(), DeviceError>>>,
        reply: Option<(Uuid, ReplyWaiter)>,
    },
    Connect(oneshot::Sender<Result<(), DeviceError>>),
    Ack(Ack),
    Close {
        deadline: Instant,
        done: oneshot::Sender<()>,
    },
    LoseConnection {
        unreachable_until: Instant,
    },
    Shutdown,
}

impl Device {
    /// Opens the outbox (blocking: it reads every pending event) and starts the device's task;
    /// pending events from a previous run are sent as soon as it connects.
    pub fn start(config: DeviceConfig) -> Result<Self, DeviceError> {
        config.validate()?;
        let tls = config.credentials.tls_config()?;
        let (outbox, entries) = Outbox::open(&config.outbox_dir, config.outbox_limits)?;
        let outbox = Arc::new(outbox);
        let counters = Arc::new(Cells::default());
        let (commands, command_receiver) = mpsc::unbounded_channel();
        let (deliveries, delivery_receiver) = mpsc::unbounded_channel();
        let (state_sender, state) = watch::channel(ConnectionState::Disconnected);
        let now = Instant::now();
        let mut queue = Queue::new(config.collections.clone());
        let wall_now = Utc::now();
        for entry in entries {
            queue.push(entry, now, wall_now);
        }
        let device = Self {
            household_id: config.household_id.clone(),
            device_id: config.device_id.clone(),
            commands: commands.clone(),
            outbox: outbox.clone(),
            counters: counters.clone(),
            state,
            messages: Mutex::new(Some(Messages {
                deliveries: delivery_receiver,
                commands,
            })),
        };
        let runner = Runner {
            poll_at: config
                .poll_interval
                .map(|interval| now + poll_delay(interval, random_unit())),
            tls,
            outbox,
            counters,
            commands: command_receiver,
            state: state_sender,
            deliveries,
            queue,
            connection: None,
            phase: Phase::Down,
            generation: 0,
            writing: VecDeque::new(),
            in_flight: HashMap::new(),
            verdicts: HashMap::new(),
            requests: HashMap::new(),
            unacked: 0,
            connect_waiters: Vec::new(),
            failures: 0,
            throttles: 0,
            retry_at: None,
            throttled_until: None,
            last_activity: now,
            closing: None,
            unreachable_until: None,
            stop: false,
            config,
        };
        tokio::spawn(runner.run());
        Ok(device)
    }

    pub fn household_id(&self) -> &str {
        &self.household_id
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Publishes `payload` as a new `event` of this device; see [`Device::publish_event`].
    pub async fn publish(
        &self,
        event: &str,
        payload: serde_json::Value,
    ) -> Result<Receipt, DeviceError> {
        self.publish_event(DeviceEvent::new(event, payload)?).await
    }

    /// Accepts an event into the outbox (written and fsynced when this returns) to be published
    /// on `{EVENT}/{household}/{device}` with QoS 1, alone or in a collection as the collection
    /// policy says. It leaves the outbox when the broker acknowledges it; a broker refusal keeps
    /// it apart ([`Device::take_refused`]). Fails at once when the outbox is full.
    pub async fn publish_event(&self, event: DeviceEvent) -> Result<Receipt, DeviceError> {
        let event_id = event.event_id();
        let entry = self.accept(event, false).await?;
        let (verdict, receiver) = oneshot::channel();
        self.send(Command::Enqueued {
            entry,
            verdict: Some(verdict),
            reply: None,
        })?;
        Ok(Receipt {
            event_id,
            verdict: receiver,
        })
    }

    /// Publishes a new `event` that starts a conversation (its correlation id is its own event
    /// id) and resolves with the `reply_event` envelope carrying that correlation id, or fails with
    /// [`DeviceError::DeadlineExceeded`]. The request travels alone, and stays in the outbox until
    /// the broker acknowledges it whatever happens to the reply.
    pub async fn request(
        &self,
        event: &str,
        payload: serde_json::Value,
        reply_event: &str,
        deadline: Instant,
    ) -> Result<Envelope, DeviceError> {
        topic::validate_event_name(reply_event).map_err(DeviceError::EventName)?;
        let started = Instant::now();
        let request = DeviceEvent::new(event, payload)?.starting_conversation();
        let event_id = request.event_id();
        let entry = self.accept(request, true).await?;
        let (reply, receiver) = oneshot::channel();
        self.send(Command::Enqueued {
            entry,
            verdict: None,
            reply: Some((
                event_id,
                ReplyWaiter {
                    reply_event: reply_event.to_owned(),
                    reply,
                },
            )),
        })?;
        match tokio::time::timeout_at(deadline.into(), receiver).await {
            Ok(Ok(envelope)) => Ok(envelope),
            Ok(Err(_)) => Err(DeviceError::Closed),
            Err(_) => Err(DeviceError::DeadlineExceeded {
                event_id,
                reply_event: reply_event.to_owned(),
                waited: started.elapsed(),
            }),
        }
    }

    /// Connects now if not connected, and resolves once connected and subscribed, or with the
    /// failure of the attempt. Otherwise the device connects only when it has something to do.
    pub async fn connect(&self) -> Result<(), DeviceError> {
        let (done, receiver) = oneshot::channel();
        self.send(Command::Connect(done))?;
        receiver.await.unwrap_or(Err(DeviceError::Closed))
    }

    /// The messages addressed to this device (replies not claimed by a request, commands).
    /// Taken once; later calls return `None`.
    pub fn messages(&self) -> Option<Messages> {
        self.messages.lock().expect("messages lock").take()
    }

    pub fn counters(&self) -> Counters {
        self.counters
            .snapshot(self.outbox.pending(), Instant::now())
    }

    pub fn connection_state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    /// Changes of the connection state, for waiting on one.
    pub fn connection_states(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Drops the connection as a network failure would (no DISCONNECT) and fails every connect
    /// attempt for `unreachable_for`, as when the broker or the home network is down; the device
    /// then reconnects through its backoff, as after any lost connection. For fleet simulators
    /// injecting an outage: every device losing its connection at once.
    pub fn lose_connection(&self, unreachable_for: Duration) -> Result<(), DeviceError> {
        self.send(Command::LoseConnection {
            unreachable_until: Instant::now() + unreachable_for,
        })
    }

    /// Every event the broker refused, removed from the outbox (and from its limits).
    pub async fn take_refused(&self) -> Result<Vec<RefusedEvent>, DeviceError> {
        let outbox = self.outbox.clone();
        tokio::task::spawn_blocking(move || outbox.take_refused())
            .await
            .map_err(|_| DeviceError::Closed)?
    }

    /// Sends what the outbox holds (waiting collections included) for up to `grace`, then
    /// disconnects cleanly and stops. What is left stays in the outbox for the next start.
    pub async fn close(self, grace: Duration) {
        let (done, receiver) = oneshot::channel();
        if self
            .send(Command::Close {
                deadline: Instant::now() + grace,
                done,
            })
            .is_ok()
        {
            let _ = receiver.await;
        }
    }

    async fn accept(&self, event: DeviceEvent, alone: bool) -> Result<Entry, DeviceError> {
        if self.commands.is_closed() {
            return Err(DeviceError::Closed);
        }
        let outbox = self.outbox.clone();
        tokio::task::spawn_blocking(move || outbox.add(event, alone))
            .await
            .map_err(|_| DeviceError::Closed)?
    }

    fn send(&self, command: Command) -> Result<(), DeviceError> {
        self.commands
            .send(Box::new(command))
            .map_err(|_| DeviceError::Closed)
    }
}

impl Drop for Device {
    /// Stops the device at once, like a power cut: the connection is dropped without a
    /// DISCONNECT; the outbox keeps everything not yet acknowledged.
    fn drop(&mut self) {
        let _ = self.commands.send(Box::new(Command::Shutdown));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Down,
    Connecting,
    Subscribing,
    Up,
    Leaving { since: Instant },
}

enum Wakeup {
    Command(Option<Box<Command>>),
    Connection(ConnectionEvent),
    Timer,
}

struct Runner {
    config: DeviceConfig,
    tls: Arc<rustls::ClientConfig>,
    outbox: Arc<Outbox>,
    counters: Arc<Cells>,
    commands: mpsc::UnboundedReceiver<Box<Command>>,
    state: watch::Sender<ConnectionState>,
    deliveries: mpsc::UnboundedSender<Box<Delivery>>,
    queue: Queue,
    connection: Option<Connection>,
    phase: Phase,
    /// Incremented per connection: acknowledgements of messages received on an earlier one are
    /// not sent (the session delivers those messages again).
    generation: u64,
    /// Handed to the MQTT client, not yet written (no packet id yet), in order.
    writing: VecDeque<Outgoing>,
    /// Written, waiting for its PUBACK.
    in_flight: HashMap<u16, Outgoing>,
    verdicts: HashMap<u64, oneshot::Sender<Result<(), DeviceError>>>,
    requests: HashMap<Uuid, ReplyWaiter>,
    /// Messages handed to the application and not yet taken (so not acknowledged).
    unacked: usize,
    connect_waiters: Vec<oneshot::Sender<Result<(), DeviceError>>>,
    failures: u32,
    throttles: u32,
    retry_at: Option<Instant>,
    poll_at: Option<Instant>,
    throttled_until: Option<Instant>,
    last_activity: Instant,
    closing: Option<(Instant, oneshot::Sender<()>)>,
    /// Until then every connect attempt fails ([`Device::lose_connection`]).
    unreachable_until: Option<Instant>,
    stop: bool,
}

async fn next_connection_event(connection: &mut Option<Connection>) -> ConnectionEvent {
    match connection {
        Some(connection) => connection.next_event().await,
        None => std::future::pending().await,
    }
}

impl Runner {
    async fn run(mut self) {
        loop {
            let now = Instant::now();
            self.step(now);
            if self.stop {
                break;
            }
            let wake = self.next_wake(now);
            let wakeup = tokio::select! {
                command = self.commands.recv() => Wakeup::Command(command),
                event = next_connection_event(&mut self.connection) => Wakeup::Connection(event),
                () = sleep_until(wake) => Wakeup::Timer,
            };
            let now = Instant::now();
            match wakeup {
                Wakeup::Command(Some(command)) => self.on_command(*command, now),
                Wakeup::Command(None) => break,
                Wakeup::Connection(event) => self.on_connection_event(event, now),
                Wakeup::Timer => {}
            }
        }
        if self.connection.take().is_some() {
            self.connection_gone(Instant::now());
        }
        if let Some((_, done)) = self.closing.take() {
            let _ = done.send(());
        }
    }

    fn step(&mut self, now: Instant) {
        match self.phase {
            Phase::Down => {
                if self.closing.as_ref().is_some_and(|(deadline, _)| {
                    now >= *deadline || (self.queue.is_empty() && self.writing.is_empty())
                }) {
                    self.stop = true;
                } else if self.wants_connection(now)
                    && self.retry_at.is_none_or(|retry_at| retry_at <= now)
                {
                    if self.unreachable_until.is_some_and(|until| until > now) {
                        self.connect_failed("the broker is unreachable".into(), now);
                    } else {
                        self.open_connection(now);
                    }
                }
            }
            Phase::Up => {
                // Connected while idle-disconnecting: what waits in collections goes on this
                // connection rather than on one of its own later.
                self.send(
                    now,
                    self.closing.is_some() || self.config.idle_after.is_some(),
                );
                if self.closing.is_some() {
                    self.check_closing(now);
                } else {
                    self.check_idle(now);
                }
            }
            Phase::Leaving { since } => {
                if now >= since + DISCONNECT_TIMEOUT {
                    self.left(now, true);
                }
            }
            Phase::Connecting | Phase::Subscribing => {}
        }
    }

    fn wants_connection(&mut self, now: Instant) -> bool {
        self.closing.is_some()
            || self.config.idle_after.is_none()
            || !self.connect_waiters.is_empty()
            || self.queue.has_work(now)
            || self.waiting_for_replies()
            || self.poll_at.is_some_and(|poll_at| poll_at <= now)
    }

    fn waiting_for_replies(&mut self) -> bool {
        self.requests.retain(|_, waiter| !waiter.reply.is_closed());
        !self.requests.is_empty()
    }

    fn next_wake(&self, now: Instant) -> Option<Instant> {
        let idle = match (self.phase, self.config.idle_after) {
            (Phase::Up, Some(idle_after)) => Some(self.last_activity + idle_after),
            _ => None,
        };
        let leaving = match self.phase {
            Phase::Leaving { since } => Some(since + DISCONNECT_TIMEOUT),
            _ => None,
        };
        [
            self.retry_at,
            self.poll_at,
            self.queue.next_due(),
            self.throttled_until,
            self.closing.as_ref().map(|(deadline, _)| *deadline),
            idle,
            leaving,
        ]
        .into_iter()
        .flatten()
        // Anything due already was handled by the step before; waking for it again would spin.
        .filter(|at| *at > now)
        .min()
    }

    fn set_state(&self, state: ConnectionState) {
        self.state.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }

    fn open_connection(&mut self, now: Instant) {
        self.generation += 1;
        self.unacked = 0;
        self.connection = Some(Connection::open(&self.config, self.tls.clone()));
        self.phase = Phase::Connecting;
        self.poll_at = None;
        self.last_activity = now;
        self.set_state(ConnectionState::Connecting);
    }

    fn on_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Enqueued {
                entry,
                verdict,
                reply,
            } => {
                if let Some(verdict) = verdict {
                    self.verdicts.insert(entry.seq, verdict);
                }
                if let Some((event_id, waiter)) = reply {
                    self.requests.insert(event_id, waiter);
                }
                self.queue.push(entry, now, Utc::now());
                self.last_activity = now;
            }
            Command::Connect(done) => {
                if self.phase == Phase::Up {
                    let _ = done.send(Ok(()));
                } else {
                    self.connect_waiters.push(done);
                    self.retry_at = None;
                }
            }
            Command::Ack(ack) => {
                if ack.generation == self.generation {
                    self.unacked = self.unacked.saturating_sub(1);
                    self.last_activity = now;
                    if let Some(connection) = &self.connection {
                        let mut publish = Publish::new("", QoS::AtLeastOnce, Vec::new(), None);
                        publish.pkid = ack.pkid;
                        let _ = connection.client.try_ack(&publish);
                    }
                }
            }
            Command::Close { deadline, done } => {
                self.closing = Some((deadline, done));
            }
            Command::LoseConnection { unreachable_until } => {
                self.unreachable_until = Some(unreachable_until);
                if self.connection.is_some() {
                    self.ended("connection lost (simulated)".into(), now);
                }
            }
            Command::Shutdown => self.stop = true,
        }
    }

    fn on_connection_event(&mut self, event: ConnectionEvent, now: Instant) {
        let event = match event {
            ConnectionEvent::Ended(reason) => return self.ended(reason, now),
            ConnectionEvent::Mqtt(event) => *event,
        };
        match event {
            Event::Incoming(packet) => self.on_packet(packet, now),
            Event::Outgoing(Written::Publish(pkid)) => {
                if let Some(outgoing) = self.writing.pop_front() {
                    let topic_len = outgoing.event().len()
                        + self.config.household_id.len()
                        + self.config.device_id.len()
                        + 2;
                    let payload_len = match &outgoing {
                        Outgoing::Single(entry) => entry.message.len(),
                        Outgoing::Collection(collection) => collection.payload.len(),
                    };
                    self.counters.message_sent(topic_len, payload_len);
                    self.in_flight.insert(pkid, outgoing);
                }
            }
            Event::Outgoing(Written::Disconnect) => self.left(now, true),
            Event::Outgoing(_) => {}
        }
    }

    fn on_packet(&mut self, packet: Packet, now: Instant) {
        match packet {
            Packet::ConnAck(connack) => {
                self.counters.connected(now);
                self.failures = 0;
                self.retry_at = None;
                self.last_activity = now;
                if connack.session_present {
                    self.up();
                } else if let Some(connection) = &self.connection {
                    let mut filter = Filter::new(self.config.subscription(), QoS::AtLeastOnce);
                    // The device publishes on topics its filter matches: without No Local every
                    // event would come back to it, a metered message each way for nothing.
                    filter.nolocal = true;
                    let _ = connection.client.try_subscribe_many([filter]);
                    self.phase = Phase::Subscribing;
                }
            }
            Packet::SubAck(suback) if self.phase == Phase::Subscribing => {
                let refused = suback
                    .return_codes
                    .iter()
                    .find(|code| !matches!(code, SubscribeReasonCode::Success(_)));
                if let Some(code) = refused {
                    let filter = self.config.subscription();
                    tracing::warn!(%filter, ?code, "the broker refused the device's subscription");
                    for waiter in self.connect_waiters.drain(..) {
                        let _ = waiter.send(Err(DeviceError::SubscriptionRefused {
                            filter: filter.clone(),
                            reason: format!("{code:?}"),
                        }));
                    }
                }
                self.up();
            }
            Packet::PubAck(puback) => {
                self.last_activity = now;
                if let Some(outgoing) = self.in_flight.remove(&puback.pkid) {
                    self.acknowledged(outgoing, puback.reason, now);
                }
            }
            Packet::Publish(publish) => self.received(publish, now),
            Packet::Disconnect(disconnect) => {
                tracing::info!(reason = ?disconnect.reason_code, "the broker disconnects the device");
            }
            _ => {}
        }
    }

    fn up(&mut self) {
        self.phase = Phase::Up;
        self.set_state(ConnectionState::Connected);
        for waiter in self.connect_waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }

    fn send(&mut self, now: Instant, flush: bool) {
        if self.throttled_until.is_some_and(|until| until > now) {
            return;
        }
        let Some(connection) = &self.connection else {
            return;
        };
        let busy = self.writing.len() + self.in_flight.len();
        let room = usize::from(self.config.max_in_flight).saturating_sub(busy);
        if room == 0 {
            return;
        }
        let mut unsent = Vec::new();
        for outgoing in self.queue.take(now, room, flush) {
            if !unsent.is_empty() {
                unsent.push(outgoing);
                continue;
            }
            let topic = format!(
                "{}/{}/{}",
                outgoing.event(),
                self.config.household_id,
                self.config.device_id
            );
            match connection
                .client
                .try_publish(topic, QoS::AtLeastOnce, false, outgoing.payload())
            {
                Ok(()) => {
                    self.writing.push_back(outgoing);
                    self.last_activity = now;
                }
                Err(_) => unsent.push(outgoing),
            }
        }
        let entries = unsent
            .into_iter()
            .flat_map(Outgoing::into_entries)
            .collect();
        self.queue.retry(entries, now);
    }

    fn acknowledged(&mut self, outgoing: Outgoing, reason: PubAckReason, now: Instant) {
        match reason {
            PubAckReason::Success | PubAckReason::NoMatchingSubscribers => {
                self.throttles = 0;
                let collection = matches!(outgoing, Outgoing::Collection(_));
                let entries = outgoing.into_entries();
                counters::add(&self.counters.events_sent, entries.len() as u64);
                if collection {
                    counters::add(&self.counters.collections_sent, 1);
                }
                for entry in entries {
                    if let Err(error) = self.outbox.remove(&entry) {
                        tracing::error!(%error, event_id = %entry.event_id, "an acknowledged event stays in the outbox");
                    }
                    if let Some(verdict) = self.verdicts.remove(&entry.seq) {
                        let _ = verdict.send(Ok(()));
                    }
                }
            }
            // Not the message's fault: it goes again after a backoff.
            PubAckReason::QuotaExceeded | PubAckReason::PacketIdentifierInUse => {
                self.throttles += 1;
                let delay = self.config.backoff.delay(self.throttles, random_unit());
                self.throttled_until = Some(now + delay);
                tracing::warn!(?reason, ?delay, "the broker throttles the device");
                self.queue.retry(outgoing.into_entries(), now);
            }
            refusal => match outgoing {
                Outgoing::Collection(collection) => {
                    // The collection topic itself was refused (an IoT policy without
                    // EVENT_COLLECTION): each member gets its own verdict.
                    tracing::warn!(
                        ?refusal,
                        collection_id = %collection.id,
                        "the broker refused a collection; its events go alone"
                    );
                    self.queue.send_alone(collection.members);
                }
                Outgoing::Single(entry) => {
                    let reason = format!("{refusal:?}");
                    tracing::warn!(event = %entry.event, event_id = %entry.event_id, %reason, "the broker refused an event");
                    if let Err(error) = self.outbox.refuse(&entry, &reason) {
                        tracing::error!(%error, event_id = %entry.event_id, "a refused event stays pending");
                    }
                    counters::add(&self.counters.events_refused, 1);
                    if let Some(verdict) = self.verdicts.remove(&entry.seq) {
                        let _ = verdict.send(Err(DeviceError::Refused {
                            event_id: entry.event_id,
                            event: entry.event,
                            reason,
                        }));
                    }
                }
            },
        }
    }

    fn received(&mut self, publish: Publish, now: Instant) {
        counters::add(&self.counters.messages_received, 1);
        self.last_activity = now;
        let ack = (publish.qos == QoS::AtLeastOnce).then_some(Ack {
            generation: self.generation,
            pkid: publish.pkid,
        });
        let parsed = std::str::from_utf8(&publish.topic)
            .ok()
            .and_then(|topic| Topic::parse(topic).ok())
            .and_then(|topic| {
                Envelope::from_json(&publish.payload)
                    .ok()
                    .map(|envelope| (topic, envelope))
            });
        let Some((topic, envelope)) = parsed else {
            counters::add(&self.counters.malformed_received, 1);
            tracing::warn!(
                topic = %String::from_utf8_lossy(&publish.topic),
                "dropped a message that is not an envelope on a device topic"
            );
            self.acknowledge_now(ack);
            return;
        };
        let envelope = match self.requests.remove(&envelope.correlation_id) {
            Some(waiter) if waiter.reply_event == envelope.event => {
                match waiter.reply.send(envelope) {
                    Ok(()) => {
                        counters::add(&self.counters.replies_received, 1);
                        self.acknowledge_now(ack);
                        return;
                    }
                    // The request's deadline passed: the reply is an ordinary message.
                    Err(envelope) => envelope,
                }
            }
            Some(waiter) => {
                self.requests.insert(envelope.correlation_id, waiter);
                envelope
            }
            None => envelope,
        };
        let delivery = Delivery {
            received: Received { topic, envelope },
            ack,
        };
        if ack.is_some() {
            self.unacked += 1;
        }
        if let Err(mpsc::error::SendError(delivery)) = self.deliveries.send(Box::new(delivery)) {
            tracing::warn!(event_id = %delivery.received.envelope.event_id, "no one reads the device's messages: acknowledged unread");
            if ack.is_some() {
                self.unacked -= 1;
            }
            self.acknowledge_now(ack);
        }
    }

    fn acknowledge_now(&mut self, ack: Option<Ack>) {
        if let (Some(ack), Some(connection)) = (ack, &self.connection) {
            let mut publish = Publish::new("", QoS::AtLeastOnce, Vec::new(), None);
            publish.pkid = ack.pkid;
            let _ = connection.client.try_ack(&publish);
        }
    }

    fn check_idle(&mut self, now: Instant) {
        let Some(idle_after) = self.config.idle_after else {
            return;
        };
        if now < self.last_activity + idle_after {
            return;
        }
        let waiting = !self.writing.is_empty()
            || !self.in_flight.is_empty()
            || self.unacked > 0
            || self.waiting_for_replies()
            || (!self.queue.is_empty() && !self.queue.only_collecting());
        if waiting {
            self.last_activity = now;
        } else if self.queue.only_collecting() {
            // About to disconnect: waiting collections leave now rather than after a reconnect.
            self.send(now, true);
            self.last_activity = now;
        } else {
            self.disconnect(now);
        }
    }

    fn check_closing(&mut self, now: Instant) {
        let Some((deadline, _)) = &self.closing else {
            return;
        };
        let drained = self.queue.is_empty() && self.writing.is_empty() && self.in_flight.is_empty();
        if drained || now >= *deadline {
            self.disconnect(now);
        }
    }

    fn disconnect(&mut self, now: Instant) {
        let sent = self
            .connection
            .as_ref()
            .is_some_and(|connection| connection.client.try_disconnect().is_ok());
        if sent {
            self.phase = Phase::Leaving { since: now };
        } else {
            self.left(now, false);
        }
    }

    /// The connection is gone, after the device's DISCONNECT (`clean`) or not.
    fn left(&mut self, now: Instant, clean: bool) {
        match (clean, self.closing.is_some()) {
            (true, true) => self.stop = true,
            (true, false) => counters::add(&self.counters.idle_disconnects, 1),
            (false, _) => counters::add(&self.counters.error_disconnects, 1),
        }
        self.connection = None;
        self.connection_gone(now);
    }

    fn ended(&mut self, reason: String, now: Instant) {
        match self.phase {
            Phase::Connecting => self.connect_failed(reason, now),
            Phase::Leaving { .. } => self.left(now, true),
            Phase::Subscribing | Phase::Up => {
                tracing::info!(%reason, "connection lost");
                self.left(now, false);
                // A lost connection often means many devices lost theirs: spread the reconnects.
                self.failures = 1;
                self.retry_at = Some(now + self.config.backoff.delay(1, random_unit()));
            }
            Phase::Down => {}
        }
    }

    fn connect_failed(&mut self, reason: String, now: Instant) {
        self.connection = None;
        self.phase = Phase::Down;
        self.set_state(ConnectionState::Disconnected);
        counters::add(&self.counters.connect_failures, 1);
        self.failures = self.failures.saturating_add(1);
        let delay = self.config.backoff.delay(self.failures, random_unit());
        self.retry_at = Some(now + delay);
        tracing::info!(endpoint = %self.config.endpoint, %reason, ?delay, "connect failed");
        for waiter in self.connect_waiters.drain(..) {
            let _ = waiter.send(Err(DeviceError::Connect {
                endpoint: self.config.endpoint.to_string(),
                reason: reason.clone(),
            }));
        }
    }

    /// After any end of a connection: what was not acknowledged goes again on the next one.
    fn connection_gone(&mut self, now: Instant) {
        self.counters.disconnected(now);
        let unacknowledged: Vec<Entry> = self
            .writing
            .drain(..)
            .chain(self.in_flight.drain().map(|(_, outgoing)| outgoing))
            .flat_map(Outgoing::into_entries)
            .collect();
        self.queue.retry(unacknowledged, now);
        self.phase = Phase::Down;
        self.set_state(ConnectionState::Disconnected);
        self.unacked = 0;
        self.poll_at = self
            .config
            .poll_interval
            .map(|interval| now + poll_delay(interval, random_unit()));
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
