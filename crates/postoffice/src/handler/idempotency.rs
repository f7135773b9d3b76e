//! The idempotency guard: at-least-once delivery means duplicates, so a consumer can remember
//! which event ids it has handled and skip them the second time.
//!
//! A key is claimed before the handler runs, marked complete after it succeeds, and released
//! when it fails so that SNS's retry runs it again. A claim that is never completed or released
//! (the Lambda died mid-way) lapses after [`IdempotencyPolicy::claim_timeout`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use uuid::Uuid;

/// Environment variable naming the DynamoDB table of the guard; unset means no guard.
pub const IDEMPOTENCY_TABLE_ENV: &str = "POSTOFFICE_IDEMPOTENCY_TABLE";

/// How long claims and completion records live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyPolicy {
    /// A claim older than this is considered abandoned and can be taken again. Longer than the
    /// handler Lambda's timeout.
    pub claim_timeout: Duration,
    /// How long a handled event id is remembered. Longer than SNS retries and DLQ redrives.
    pub remember_for: Duration,
}

impl Default for IdempotencyPolicy {
    fn default() -> Self {
        Self {
            claim_timeout: Duration::from_secs(15 * 60),
            remember_for: Duration::from_secs(14 * 24 * 60 * 60),
        }
    }
}

/// The key of one event for one consumer: two consumers of the same event may share a table
/// and must not skip each other's work. Devices choose their own event ids, so the key is also
/// scoped by household and device: a device reusing another household's event id (by accident,
/// or to have that household's event skipped as a duplicate) only collides with itself. `#`
/// never occurs in consumer names or ids, so the key is unambiguous.
pub fn idempotency_key(
    consumer: &str,
    household_id: &str,
    device_id: &str,
    event_id: Uuid,
) -> String {
    format!("{consumer}#{household_id}#{device_id}#{event_id}")
}

/// What claiming a key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody handled it yet: go ahead.
    Acquired,
    /// Handled before: skip, answer success.
    AlreadyHandled,
    /// Another delivery is handling it right now: retry later.
    InProgress,
}

#[derive(Debug, thiserror::Error)]
#[error("idempotency store: {0}")]
pub struct IdempotencyError(pub String);

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim(&self, key: &str, now: SystemTime) -> Result<Claim, IdempotencyError>;
    async fn complete(&self, key: &str, now: SystemTime) -> Result<(), IdempotencyError>;
    async fn release(&self, key: &str) -> Result<(), IdempotencyError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Claimed { until: SystemTime },
    Handled { until: SystemTime },
}

/// An in-process store: for tests and local runs of a single handler process.
#[derive(Debug, Default)]
pub struct InMemoryIdempotencyStore {
    policy: IdempotencyPolicy,
    records: Mutex<HashMap<String, Record>>,
}

impl InMemoryIdempotencyStore {
    pub fn new(policy: IdempotencyPolicy) -> Self {
        Self {
            policy,
            records: Mutex::default(),
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(&self, key: &str, now: SystemTime) -> Result<Claim, IdempotencyError> {
        let mut records = self.records();
        match records.get(key) {
            Some(Record::Handled { until }) if *until > now => Ok(Claim::AlreadyHandled),
            Some(Record::Claimed { until }) if *until > now => Ok(Claim::InProgress),
            _ => {
                let until = now + self.policy.claim_timeout;
                records.insert(key.to_owned(), Record::Claimed { until });
                Ok(Claim::Acquired)
            }
        }
    }

    async fn complete(&self, key: &str, now: SystemTime) -> Result<(), IdempotencyError> {
        let until = now + self.policy.remember_for;
        self.records()
            .insert(key.to_owned(), Record::Handled { until });
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let mut records = self.records();
        if matches!(records.get(key), Some(Record::Claimed { .. })) {
            records.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> IdempotencyPolicy {
        IdempotencyPolicy {
            claim_timeout: Duration::from_secs(60),
            remember_for: Duration::from_secs(3600),
        }
    }

    #[tokio::test]
    async fn claims_completes_and_forgets() {
        let store = InMemoryIdempotencyStore::new(policy());
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(store.claim("k", t0).await.unwrap(), Claim::Acquired);
        assert_eq!(store.claim("k", t0).await.unwrap(), Claim::InProgress);
        store.complete("k", t0).await.unwrap();
        assert_eq!(store.claim("k", t0).await.unwrap(), Claim::AlreadyHandled);
        // Releasing a handled key must not forget it.
        store.release("k").await.unwrap();
        assert_eq!(store.claim("k", t0).await.unwrap(), Claim::AlreadyHandled);
        let later = t0 + Duration::from_secs(3601);
        assert_eq!(store.claim("k", later).await.unwrap(), Claim::Acquired);
    }

    #[tokio::test]
    async fn a_released_or_abandoned_claim_can_be_taken_again() {
        let store = InMemoryIdempotencyStore::new(policy());
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(store.claim("a", t0).await.unwrap(), Claim::Acquired);
        store.release("a").await.unwrap();
        assert_eq!(store.claim("a", t0).await.unwrap(), Claim::Acquired);
        let after_timeout = t0 + Duration::from_secs(61);
        assert_eq!(
            store.claim("a", after_timeout).await.unwrap(),
            Claim::Acquired
        );
    }

    #[test]
    fn keys_are_per_consumer_household_and_device() {
        let id = Uuid::nil();
        let key = idempotency_key("kitchen", "h-1", "oven-1", id);
        assert_eq!(key, format!("kitchen#h-1#oven-1#{id}"));
        for other in [
            idempotency_key("telemetry", "h-1", "oven-1", id),
            idempotency_key("kitchen", "h-2", "oven-1", id),
            idempotency_key("kitchen", "h-1", "oven-2", id),
        ] {
            assert_ne!(key, other);
        }
    }
}
