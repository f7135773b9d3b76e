//! The transport-independent core: sessions, subscriptions, retained messages and routing.
//! Connections (whatever carries them) call in; nothing here does I/O or waits on a client.
//!
//! Locks: the session map, the subscription tree, the retained store and each session's state
//! are separate, held briefly, and never across an authority call. The only nesting is session
//! map, then one session's state.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::QoS;
use crate::authority::{Authority, ConnectionAuthority, Verdict};
use crate::events::{AcceptedMessage, DisconnectReason, LifecycleEvent, Origin};
use crate::limits::Limits;
use crate::metrics::{Metrics, MetricsSnapshot, increment};
use crate::session::{
    Delivery, DeliveryOutcome, Link, RoutedMessage, Session, SessionState, SubscriptionOptions,
    lock,
};
use crate::topic::TopicTree;

/// A connected client, as [`crate::Gateway::connections`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub client_id: String,
    pub principal: String,
    pub connected_at: SystemTime,
}

struct Retained {
    message: Arc<RoutedMessage>,
    qos: QoS,
}

pub(crate) struct Broker {
    pub limits: Limits,
    pub authority: Arc<dyn Authority>,
    pub metrics: Metrics,
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    subscriptions: RwLock<TopicTree<(Arc<Session>, SubscriptionOptions)>>,
    retained: RwLock<HashMap<Arc<str>, Retained>>,
    tap: mpsc::UnboundedSender<AcceptedMessage>,
    events: broadcast::Sender<LifecycleEvent>,
    next_link_id: AtomicU64,
}

/// A connection's hold on its session.
pub(crate) struct Attachment {
    pub session: Arc<Session>,
    pub session_present: bool,
    pub link_id: u64,
    /// Messages kept while the client was offline, to send first.
    pub replay: VecDeque<Delivery>,
    pub outbound: mpsc::Receiver<Delivery>,
    pub kick: oneshot::Receiver<DisconnectReason>,
    /// Dropped once the connection has handed its session back.
    pub finished: watch::Sender<()>,
}

/// How a connection ended, for [`Broker::detach`].
pub(crate) struct Detachment {
    pub reason: DisconnectReason,
    pub connected_for: Duration,
    /// Sent and unacknowledged, then queued and unsent: kept if the session persists.
    pub unacknowledged: Vec<Delivery>,
    pub will: Option<Will>,
    /// An MQTT 5 DISCONNECT's new session expiry.
    pub session_expiry_seconds: Option<u32>,
}

pub(crate) struct Will {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub forwarded_properties: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

/// How long a new connection waits for the one it takes over to hand its session back.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

impl Broker {
    pub fn new(
        limits: Limits,
        authority: Arc<dyn Authority>,
    ) -> (Self, mpsc::UnboundedReceiver<AcceptedMessage>) {
        let (tap, accepted) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(16 * 1024);
        let broker = Self {
            limits,
            authority,
            metrics: Metrics::default(),
            sessions: Mutex::new(HashMap::new()),
            subscriptions: RwLock::new(TopicTree::default()),
            retained: RwLock::new(HashMap::new()),
            tap,
            events,
            next_link_id: AtomicU64::new(1),
        };
        (broker, accepted)
    }

    pub fn emit(&self, event: LifecycleEvent) {
        // No listener: nobody wants the event.
        let _ = self.events.send(event);
    }

    pub fn lifecycle_events(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.events.subscribe()
    }

    /// Gives a connection its session: takes over any connection with the same client id
    /// (IoT disconnects the earlier one: DUPLICATE_CLIENTID), then resumes the session or
    /// starts a new one.
    pub async fn attach(
        &self,
        client_id: &Arc<str>,
        authority: Arc<dyn ConnectionAuthority>,
        clean_start: bool,
        expiry_seconds: u32,
    ) -> Attachment {
        let previous = lock(&self.sessions).get(client_id).cloned();
        if let Some(previous) = previous {
            let finished = previous.state().link.take().map(|mut link| {
                link.kick(DisconnectReason::DuplicateClientid);
                link.finished
            });
            if let Some(mut finished) = finished {
                let _ = tokio::time::timeout(TAKEOVER_WAIT, finished.changed()).await;
            }
        }

        let (outbound_sender, outbound) = mpsc::channel(self.limits.max_outbound_queue.max(1));
        let (kick_sender, kick) = oneshot::channel();
        let (finished, finished_receiver) = watch::channel(());
        let link_id = self.next_link_id.fetch_add(1, Ordering::Relaxed);
        let mut link = Link {
            id: link_id,
            outbound: outbound_sender,
            kick: Some(kick_sender),
            finished: finished_receiver,
            connected_at: SystemTime::now(),
            connected_instant: Instant::now(),
        };
        let principal: Arc<str> = authority.principal().into();
        let now = Instant::now();
        let mut discarded = None;
        let mut sessions = lock(&self.sessions);
        if let Some(existing) = sessions.get(client_id).cloned() {
            let mut state = existing.state();
            // A connection that attached while this one waited loses the race.
            if let Some(mut racing) = state.link.take() {
                racing.kick(DisconnectReason::DuplicateClientid);
            }
            if !clean_start && !state.is_expired(now) {
                link.connected_at = SystemTime::now();
                state.link = Some(link);
                state.authority = authority;
                state.principal = principal;
                state.expiry_seconds = expiry_seconds;
                state.disconnected_at = None;
                let replay = std::mem::take(&mut state.offline);
                drop(state);
                return Attachment {
                    session: existing.clone(),
                    session_present: true,
                    link_id,
                    replay,
                    outbound,
                    kick,
                    finished,
                };
            }
            state.ended = true;
            discarded = Some(std::mem::take(&mut state.subscriptions));
        }
        let session = Arc::new(Session::new(
            client_id.clone(),
            SessionState {
                ended: false,
                link: Some(link),
                authority,
                principal,
                expiry_seconds,
                disconnected_at: None,
                subscriptions: HashMap::new(),
                offline: VecDeque::new(),
            },
        ));
        sessions.insert(client_id.clone(), session.clone());
        drop(sessions);
        if let Some(filters) = discarded {
            self.forget_subscriptions(client_id, filters.keys());
        }
        Attachment {
            session,
            session_present: false,
            link_id,
            replay: VecDeque::new(),
            outbound,
            kick,
            finished,
        }
    }

    fn forget_subscriptions<'a>(&self, client_id: &str, filters: impl Iterator<Item = &'a String>) {
        let mut tree = self
            .subscriptions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for filter in filters {
            tree.remove(filter, client_id);
        }
    }

    /// A connection hands its session back: the session persists (keeping unacknowledged QoS 1
    /// messages) or ends; the will, if due, is published.
    pub fn detach(&self, session: &Arc<Session>, link_id: u64, detachment: Detachment) {
        let now = Instant::now();
        let (ended_subscriptions, principal, authority) = {
            let mut state = session.state();
            // The will is authorised as the connection that set it, even if its session ends.
            let authority = state.authority.clone();
            if state.link.as_ref().is_some_and(|link| link.id == link_id) {
                state.link = None;
            }
            if let Some(expiry) = detachment.session_expiry_seconds
                && state.expiry_seconds > 0
            {
                state.expiry_seconds = self.limits.session_expiry_for(expiry);
            }
            let principal = state.principal.clone();
            let mut ended = None;
            if let Some(link) = state.link.as_ref() {
                // A newer connection took over a persistent session before this one finished
                // handing it back: it gets the unacknowledged messages.
                for delivery in detachment.unacknowledged {
                    if delivery.qos == QoS::AtLeastOnce && link.outbound.try_send(delivery).is_err()
                    {
                        increment(&self.metrics.queued_messages_dropped);
                    }
                }
            } else if state.expiry_seconds == 0 || state.ended {
                state.ended = true;
                ended = Some(std::mem::take(&mut state.subscriptions));
            } else {
                state.disconnected_at = Some(now);
                let mut kept: VecDeque<Delivery> = detachment
                    .unacknowledged
                    .into_iter()
                    .filter(|delivery| delivery.qos == QoS::AtLeastOnce)
                    .collect();
                kept.extend(state.offline.drain(..));
                let limit = self.limits.max_queued_messages_per_session;
                if kept.len() > limit {
                    let dropped = kept.len() - limit;
                    kept.truncate(limit);
                    crate::metrics::add(&self.metrics.queued_messages_dropped, dropped as u64);
                }
                state.offline = kept;
            }
            (ended, principal, authority)
        };
        if let Some(filters) = ended_subscriptions {
            {
                let mut sessions = lock(&self.sessions);
                if sessions
                    .get(&session.client_id)
                    .is_some_and(|current| Arc::ptr_eq(current, session))
                {
                    sessions.remove(&session.client_id);
                }
            }
            self.forget_subscriptions(&session.client_id, filters.keys());
        }
        crate::metrics::add(
            &self.metrics.closed_connection_micros,
            detachment.connected_for.as_micros() as u64,
        );
        self.emit(LifecycleEvent::Disconnected {
            client_id: session.client_id.clone(),
            principal: principal.clone(),
            reason: detachment.reason,
            client_initiated: detachment.reason == DisconnectReason::ClientInitiatedDisconnect,
            connected_for: detachment.connected_for,
            at: SystemTime::now(),
        });
        if let Some(will) = detachment.will {
            self.publish_will(session, principal, authority.as_ref(), will);
        }
    }

    fn publish_will(
        &self,
        session: &Arc<Session>,
        principal: Arc<str>,
        authority: &dyn ConnectionAuthority,
        will: Will,
    ) {
        match authority.may_publish(&will.topic, will.retain) {
            Verdict::Allow => {
                increment(&self.metrics.will_published);
                self.accept(
                    will.topic,
                    will.payload,
                    will.forwarded_properties,
                    will.qos,
                    will.retain,
                    Origin::Will {
                        client_id: session.client_id.clone(),
                        principal,
                    },
                );
            }
            Verdict::Deny { reason } => {
                increment(&self.metrics.will_refused);
                self.emit(LifecycleEvent::PublishRefused {
                    client_id: session.client_id.clone(),
                    principal,
                    topic: will.topic.to_string(),
                    refusal: crate::events::PublishRefusal::NotAuthorized,
                    detail: format!("last will: {reason}"),
                    at: SystemTime::now(),
                });
            }
        }
    }

    /// Accepts a message: counted, tapped for the rule engine, retained if asked, routed.
    pub fn accept(
        &self,
        topic: Arc<str>,
        payload: Bytes,
        forwarded_properties: Bytes,
        qos: QoS,
        retain: bool,
        origin: Origin,
    ) -> Uuid {
        let trace_id = Uuid::new_v4();
        self.metrics.count_inbound(payload.len());
        let publisher = match &origin {
            Origin::Client { client_id, .. } | Origin::Will { client_id, .. } => {
                Some(client_id.clone())
            }
            Origin::Api => None,
        };
        let message = Arc::new(RoutedMessage {
            topic: topic.clone(),
            payload: payload.clone(),
            forwarded_properties,
            publisher,
        });
        // The embedder may have stopped consuming: then nobody runs rules.
        let _ = self.tap.send(AcceptedMessage {
            topic: topic.clone(),
            payload,
            qos,
            retain,
            origin,
            trace_id,
            received_at: SystemTime::now(),
        });
        if retain {
            let mut retained = self
                .retained
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // An empty retained payload deletes the retained message and is not kept
            // (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain).
            if message.payload.is_empty() {
                retained.remove(&topic);
            } else {
                retained.insert(
                    topic,
                    Retained {
                        message: message.clone(),
                        qos,
                    },
                );
            }
        }
        self.route(&message, qos, retain);
        trace_id
    }

    fn route(&self, message: &Arc<RoutedMessage>, qos: QoS, retain: bool) {
        let mut targets = self
            .subscriptions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .matches(&message.topic);
        if targets.len() > 1 {
            // Overlapping subscriptions of one session: one delivery, at the highest QoS.
            targets.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.1.qos.cmp(&a.1.1.qos)));
            targets.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        for (client_id, (session, options)) in targets {
            if options.no_local && message.publisher.as_deref() == Some(&*client_id) {
                continue;
            }
            let Some(authority) = session.authority() else {
                continue;
            };
            if !authority.may_receive(&message.topic).is_allowed() {
                increment(&self.metrics.publish_out_receive_denied);
                continue;
            }
            let delivery = Delivery {
                message: message.clone(),
                qos: qos.min(options.qos),
                retain: retain && options.retain_as_published,
                dup: false,
            };
            self.deliver(&session, delivery);
        }
    }

    fn deliver(&self, session: &Session, delivery: Delivery) {
        let topic = delivery.message.topic.clone();
        let qos = delivery.qos;
        let outcome = session.deliver(delivery, self.limits.max_queued_messages_per_session);
        let detail = match outcome {
            DeliveryOutcome::Queued
            | DeliveryOutcome::Stored
            | DeliveryOutcome::NotConnected
            | DeliveryOutcome::Ended => return,
            DeliveryOutcome::DroppedQueueFull => {
                increment(&self.metrics.publish_out_dropped);
                "QoS 0 message dropped: the client's outbound queue is full"
            }
            DeliveryOutcome::DroppedStoreFull => {
                increment(&self.metrics.queued_messages_dropped);
                "QoS 1 message dropped: the offline session's queue is full"
            }
            DeliveryOutcome::Throttled { stored } => {
                increment(&self.metrics.throttled_disconnects);
                if stored {
                    return;
                }
                increment(&self.metrics.publish_out_dropped);
                "QoS 1 message dropped: the client's outbound queue is full and its session ends"
            }
        };
        self.emit(LifecycleEvent::MessageDropped {
            client_id: session.client_id.clone(),
            topic,
            qos,
            detail,
            at: SystemTime::now(),
        });
    }

    /// Records a granted subscription; whether it is new (MQTT 5 retain handling 1).
    pub fn subscribe(
        &self,
        session: &Arc<Session>,
        filter: &str,
        options: SubscriptionOptions,
    ) -> bool {
        let is_new = session
            .state()
            .subscriptions
            .insert(filter.to_owned(), options)
            .is_none();
        self.subscriptions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                filter,
                session.client_id.clone(),
                (session.clone(), options),
            );
        is_new
    }

    /// Whether the session may add a subscription to `filter` within its quota.
    pub fn has_room_for(&self, session: &Session, filter: &str) -> bool {
        let state = session.state();
        state.subscriptions.contains_key(filter)
            || state.subscriptions.len() < self.limits.max_subscriptions_per_session
    }

    /// Removes a subscription; whether there was one.
    pub fn unsubscribe(&self, session: &Session, filter: &str) -> bool {
        let existed = session.state().subscriptions.remove(filter).is_some();
        if existed {
            self.subscriptions
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(filter, &session.client_id);
        }
        existed
    }

    /// The retained message of exactly `topic`.
    pub fn retained(&self, topic: &str) -> Option<(Arc<RoutedMessage>, QoS)> {
        self.retained
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(topic)
            .map(|retained| (retained.message.clone(), retained.qos))
    }

    /// Ends a client's connection, and with `end_session` its session once the connection has
    /// handed it back (as a session expiring at disconnect does); whether it was connected.
    pub fn disconnect(&self, client_id: &str, reason: DisconnectReason, end_session: bool) -> bool {
        let session = lock(&self.sessions).get(client_id).cloned();
        let Some(session) = session else {
            return false;
        };
        let mut state = session.state();
        match state.link.as_mut() {
            Some(link) if link.kick.is_some() => {
                link.kick(reason);
                if end_session {
                    state.expiry_seconds = 0;
                }
                true
            }
            _ => false,
        }
    }

    /// Ends every connection.
    pub fn disconnect_all(&self, reason: DisconnectReason) {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        for session in sessions {
            if let Some(link) = session.state().link.as_mut() {
                link.kick(reason);
            }
        }
    }

    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        let mut connections: Vec<ConnectionInfo> = sessions
            .iter()
            .filter_map(|session| {
                let state = session.state();
                state.link.as_ref().map(|link| ConnectionInfo {
                    client_id: session.client_id.to_string(),
                    principal: state.principal.to_string(),
                    connected_at: link.connected_at,
                })
            })
            .collect();
        connections.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        connections
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        let (mut open_micros, mut connected) = (0u64, 0u64);
        for session in sessions {
            if let Some(link) = session.state().link.as_ref() {
                open_micros += link.connected_instant.elapsed().as_micros() as u64;
                connected += 1;
            }
        }
        self.metrics.snapshot(open_micros, connected)
    }

    /// Discards persistent sessions whose expiry has passed since their client disconnected.
    pub fn discard_expired_sessions(&self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        {
            let mut sessions = lock(&self.sessions);
            sessions.retain(|_, session| {
                let mut state = session.state();
                if !state.is_expired(now) {
                    return true;
                }
                state.ended = true;
                let dropped = state.offline.len() as u64;
                expired.push((
                    session.client_id.clone(),
                    std::mem::take(&mut state.subscriptions),
                    dropped,
                ));
                false
            });
        }
        for (client_id, filters, dropped) in expired {
            crate::metrics::add(&self.metrics.queued_messages_dropped, dropped);
            self.forget_subscriptions(&client_id, filters.keys());
        }
    }
}
