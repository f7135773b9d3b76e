//! SNS's data plane, run in-process: `Publish` fans a message out to the topic's subscriptions
//! (the bridges' HTTP/S deliverers and the event store feed), and `ConfirmSubscription` completes
//! the handshake a deliverer started.
//!
//! Why not moto's: moto cannot push HTTP/S with signatures, so every message took a detour
//! through an SQS queue per subscription (publish, receive, delete: several moto requests per
//! delivery, ~10 ms each), which put moto on the critical path of every round trip. moto remains
//! the control plane: topics and queues are created there, every other SNS action is passed on
//! to it, and the dead-letter and rule-errors queues live in its SQS. Like moto, this keeps
//! messages in memory; both live and die with the local post office.

pub mod query;
pub mod server;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use postoffice::envelope::{format_time, now_millis};
use postoffice::sns::{MessageType, SnsMessage};
use tokio::sync::{mpsc, oneshot};

use query::{ApiError, PublishRequest};

/// One message on its way to one subscription; dropping it counts it as settled.
#[derive(Debug)]
pub struct Pending {
    pub message: SnsMessage,
    counter: Arc<AtomicUsize>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The receiving end a subscription's deliverer reads.
pub type Inbox = mpsc::UnboundedReceiver<Pending>;

#[derive(Debug)]
struct Subscription {
    arn: String,
    sender: mpsc::UnboundedSender<Pending>,
    pending: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct Topic {
    subscriptions: Vec<Subscription>,
    /// Firehose's subscription: raw message delivery of every envelope into the event store.
    event_store: Option<mpsc::UnboundedSender<String>>,
}

struct ExpectedConfirmation {
    topic_arn: String,
    subscription_arn: String,
    /// Taken by the first confirmation; later ones with the same token answer the same ARN, as
    /// SNS tokens stay valid for three days.
    confirmed: Option<oneshot::Sender<()>>,
}

/// Built once at start-up (`subscribe*`), then shared read-only except for confirmations.
#[derive(Default)]
pub struct SnsDataPlane {
    topics: HashMap<String, Topic>,
    confirmations: std::sync::Mutex<HashMap<String, ExpectedConfirmation>>,
}

impl SnsDataPlane {
    pub fn add_topic(&mut self, topic_arn: &str) {
        self.topics.entry(topic_arn.to_owned()).or_default();
    }

    /// Subscribes an HTTP/S endpoint; returns its subscription ARN and the inbox its deliverer
    /// drains.
    pub fn subscribe(&mut self, topic_arn: &str) -> (String, Inbox) {
        let (sender, inbox) = mpsc::unbounded_channel();
        let arn = format!("{topic_arn}:{}", uuid::Uuid::new_v4());
        self.topics
            .entry(topic_arn.to_owned())
            .or_default()
            .subscriptions
            .push(Subscription {
                arn: arn.clone(),
                sender,
                pending: Arc::default(),
            });
        (arn, inbox)
    }

    /// Subscribes the event store with raw message delivery: it receives the bare messages.
    pub fn subscribe_event_store(&mut self, topic_arn: &str) -> mpsc::UnboundedReceiver<String> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.topics
            .entry(topic_arn.to_owned())
            .or_default()
            .event_store = Some(sender);
        receiver
    }

    /// Publishes to every subscription of the topic; returns the SNS message id.
    pub fn publish(&self, request: PublishRequest) -> Result<String, ApiError> {
        let topic = self
            .topics
            .get(&request.topic_arn)
            .ok_or_else(|| ApiError::not_found("Topic does not exist"))?;
        let message_id = uuid::Uuid::new_v4().to_string();
        let notification = SnsMessage {
            message_type: MessageType::Notification,
            message_id: message_id.clone(),
            topic_arn: request.topic_arn,
            subject: request.subject,
            message: request.message,
            timestamp: format_time(&now_millis()),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: None,
            unsubscribe_url: None,
            token: None,
            message_attributes: request.message_attributes,
        };
        for subscription in &topic.subscriptions {
            subscription.pending.fetch_add(1, Ordering::SeqCst);
            let pending = Pending {
                message: notification.clone(),
                counter: subscription.pending.clone(),
            };
            // A deliverer only stops when the post office does; if one has, say so rather than
            // accept a message nobody will deliver.
            subscription.sender.send(pending).map_err(|_| {
                ApiError::internal(format!(
                    "subscription {} is no longer delivered",
                    subscription.arn
                ))
            })?;
        }
        if let Some(event_store) = &topic.event_store {
            event_store
                .send(notification.message)
                .map_err(|_| ApiError::internal("the event store feed has stopped"))?;
        }
        Ok(message_id)
    }

    /// Messages accepted but not yet delivered or dead-lettered, over all subscriptions.
    pub fn pending_deliveries(&self) -> usize {
        self.topics
            .values()
            .flat_map(|topic| &topic.subscriptions)
            .map(|subscription| subscription.pending.load(Ordering::SeqCst))
            .sum()
    }

    /// Registers the token a deliverer is about to send in a `SubscriptionConfirmation`; the
    /// receiver fires when an endpoint confirms with it.
    pub fn expect_confirmation(
        &self,
        token: &str,
        topic_arn: &str,
        subscription_arn: &str,
    ) -> oneshot::Receiver<()> {
        let (confirmed, receiver) = oneshot::channel();
        self.confirmations.lock().expect("not poisoned").insert(
            token.to_owned(),
            ExpectedConfirmation {
                topic_arn: topic_arn.to_owned(),
                subscription_arn: subscription_arn.to_owned(),
                confirmed: Some(confirmed),
            },
        );
        receiver
    }

    /// `ConfirmSubscription`: the token must be one this topic sent.
    pub fn confirm_subscription(
        &self,
        request: &query::ConfirmSubscriptionRequest,
    ) -> Result<String, ApiError> {
        if !self.topics.contains_key(&request.topic_arn) {
            return Err(ApiError::not_found("Topic does not exist"));
        }
        let mut confirmations = self.confirmations.lock().expect("not poisoned");
        match confirmations.get_mut(&request.token) {
            Some(expected) if expected.topic_arn == request.topic_arn => {
                if let Some(confirmed) = expected.confirmed.take() {
                    let _ = confirmed.send(());
                }
                Ok(expected.subscription_arn.clone())
            }
            _ => Err(ApiError::invalid_parameter("Token")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::query::ConfirmSubscriptionRequest;
    use super::*;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";

    fn publish(message: &str) -> PublishRequest {
        PublishRequest {
            topic_arn: TOPIC.to_owned(),
            message: message.to_owned(),
            subject: None,
            message_attributes: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_publish_reaches_every_subscription_and_the_event_store() {
        let mut plane = SnsDataPlane::default();
        let (first_arn, mut first) = plane.subscribe(TOPIC);
        let (_, mut second) = plane.subscribe(TOPIC);
        let mut store = plane.subscribe_event_store(TOPIC);
        assert!(first_arn.starts_with(&format!("{TOPIC}:")));

        let message_id = plane.publish(publish("{\"n\":1}")).unwrap();
        assert_eq!(plane.pending_deliveries(), 2);
        for inbox in [&mut first, &mut second] {
            let pending = inbox.recv().await.unwrap();
            assert_eq!(pending.message.message_id, message_id);
            assert_eq!(pending.message.message, "{\"n\":1}");
            assert_eq!(pending.message.message_type, MessageType::Notification);
        }
        assert_eq!(store.recv().await.unwrap(), "{\"n\":1}");
        // Received and dropped (delivered or dead-lettered): settled.
        assert_eq!(plane.pending_deliveries(), 0);
    }

    #[test]
    fn an_unknown_topic_is_not_found_and_nothing_is_counted() {
        let mut plane = SnsDataPlane::default();
        let _inbox = plane.subscribe(TOPIC);
        let mut request = publish("x");
        request.topic_arn = format!("{TOPIC}-nope");
        let error = plane.publish(request).unwrap_err();
        assert_eq!((error.status, error.code), (404, "NotFound"));
        assert_eq!(plane.pending_deliveries(), 0);
    }

    #[test]
    fn a_stopped_deliverer_makes_publish_fail_instead_of_dropping() {
        let mut plane = SnsDataPlane::default();
        let (_, inbox) = plane.subscribe(TOPIC);
        drop(inbox);
        let error = plane.publish(publish("x")).unwrap_err();
        assert_eq!(error.code, "InternalError");
    }

    #[tokio::test]
    async fn only_the_token_sent_for_the_topic_confirms() {
        let mut plane = SnsDataPlane::default();
        plane.add_topic("arn:other");
        let (arn, _inbox) = plane.subscribe(TOPIC);
        let confirmed = plane.expect_confirmation("token-1", TOPIC, &arn);
        let confirm = |topic: &str, token: &str| ConfirmSubscriptionRequest {
            topic_arn: topic.to_owned(),
            token: token.to_owned(),
        };
        assert_eq!(
            plane
                .confirm_subscription(&confirm(TOPIC, "token-2"))
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        assert_eq!(
            plane
                .confirm_subscription(&confirm("arn:other", "token-1"))
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        assert_eq!(
            plane
                .confirm_subscription(&confirm("arn:none", "token-1"))
                .unwrap_err()
                .code,
            "NotFound"
        );
        assert_eq!(
            plane
                .confirm_subscription(&confirm(TOPIC, "token-1"))
                .unwrap(),
            arn
        );
        confirmed.await.unwrap();
        // Confirming again (a retry after a lost answer) answers the same subscription.
        assert_eq!(
            plane
                .confirm_subscription(&confirm(TOPIC, "token-1"))
                .unwrap(),
            arn
        );
    }
}
