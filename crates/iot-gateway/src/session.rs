//! A client's session: its subscriptions, its link to the live connection (if any), and the
//! QoS 1 messages kept for it while it is offline.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use crate::QoS;
use crate::authority::ConnectionAuthority;
use crate::events::DisconnectReason;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A message as routed to subscribers; shared by every delivery of it.
#[derive(Debug)]
pub(crate) struct RoutedMessage {
    pub topic: Arc<str>,
    pub payload: Bytes,
    /// MQTT 5 properties passed on to MQTT 5 receivers.
    pub forwarded_properties: Bytes,
    /// The publishing client, for MQTT 5's No Local option.
    pub publisher: Option<Arc<str>>,
}

/// One message for one client.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub message: Arc<RoutedMessage>,
    pub qos: QoS,
    pub retain: bool,
    /// Sent before and not acknowledged: resent with DUP.
    pub dup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriptionOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
}

/// The live connection of a session.
pub(crate) struct Link {
    pub id: u64,
    pub outbound: mpsc::Sender<Delivery>,
    /// Ends the connection: takeover, the embedder's disconnect, a full outbound queue.
    pub kick: Option<oneshot::Sender<DisconnectReason>>,
    /// Changes (closes) once the connection has handed its session back.
    pub finished: watch::Receiver<()>,
    pub connected_at: SystemTime,
    pub connected_instant: Instant,
}

impl Link {
    pub fn kick(&mut self, reason: DisconnectReason) {
        if let Some(kick) = self.kick.take() {
            let _ = kick.send(reason);
        }
    }
}

pub(crate) struct Session {
    pub client_id: Arc<str>,
    state: Mutex<SessionState>,
}

pub(crate) struct SessionState {
    /// Discarded (clean session ended, expired, replaced): deliveries are ignored.
    pub ended: bool,
    pub link: Option<Link>,
    pub authority: Arc<dyn ConnectionAuthority>,
    pub principal: Arc<str>,
    /// 0: the session ends with its connection.
    pub expiry_seconds: u32,
    pub disconnected_at: Option<Instant>,
    pub subscriptions: HashMap<String, SubscriptionOptions>,
    /// QoS 1 messages for the client while it is offline, in order.
    pub offline: VecDeque<Delivery>,
}

impl SessionState {
    pub fn is_expired(&self, now: Instant) -> bool {
        self.ended
            || (self.link.is_none()
                && self.disconnected_at.is_some_and(|at| {
                    now.duration_since(at) >= Duration::from_secs(u64::from(self.expiry_seconds))
                }))
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryOutcome {
    /// In the connection's outbound queue.
    Queued,
    /// Kept for the offline session.
    Stored,
    /// The session has no connection and does not keep QoS 0.
    NotConnected,
    /// QoS 0 to a full outbound queue.
    DroppedQueueFull,
    /// QoS 1 to an offline session whose store is full.
    DroppedStoreFull,
    /// QoS 1 to a full outbound queue: the client is disconnected (THROTTLED); the message is
    /// stored if the session persists, dropped otherwise.
    Throttled { stored: bool },
    /// The session is gone.
    Ended,
}

impl Session {
    pub fn new(client_id: Arc<str>, state: SessionState) -> Self {
        Self {
            client_id,
            state: Mutex::new(state),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, SessionState> {
        lock(&self.state)
    }

    /// The authority of the session's latest connection, if the session is alive.
    pub fn authority(&self) -> Option<Arc<dyn ConnectionAuthority>> {
        let state = self.state();
        (!state.ended).then(|| state.authority.clone())
    }

    /// Hands a delivery to the connection without waiting: a slow reader never holds the
    /// publisher.
    pub fn deliver(&self, delivery: Delivery, max_stored: usize) -> DeliveryOutcome {
        let mut state = self.state();
        if state.ended {
            return DeliveryOutcome::Ended;
        }
        let delivery = match state.link.as_mut() {
            Some(link) => match link.outbound.try_send(delivery) {
                Ok(()) => return DeliveryOutcome::Queued,
                Err(mpsc::error::TrySendError::Full(delivery)) => {
                    if delivery.qos == QoS::AtMostOnce {
                        return DeliveryOutcome::DroppedQueueFull;
                    }
                    link.kick(DisconnectReason::Throttled);
                    let stored =
                        state.expiry_seconds > 0 && store(&mut state, delivery, max_stored);
                    return DeliveryOutcome::Throttled { stored };
                }
                // The connection has ended and not yet handed the session back.
                Err(mpsc::error::TrySendError::Closed(delivery)) => delivery,
            },
            None => delivery,
        };
        if delivery.qos == QoS::AtMostOnce || state.expiry_seconds == 0 {
            return DeliveryOutcome::NotConnected;
        }
        if store(&mut state, delivery, max_stored) {
            DeliveryOutcome::Stored
        } else {
            DeliveryOutcome::DroppedStoreFull
        }
    }
}

fn store(state: &mut SessionState, delivery: Delivery, max_stored: usize) -> bool {
    if state.offline.len() >= max_stored {
        return false;
    }
    state.offline.push_back(delivery);
    true
}
