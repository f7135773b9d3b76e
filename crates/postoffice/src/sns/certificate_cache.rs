//! Parsed signing certificates per URL: bounded, and fetched once per URL however many messages
//! arrive at the same time (single flight). Concurrent messages also share a failure, and a
//! failure is remembered for [`FAILURE_TTL`], so an SNS outage (or someone sending messages that
//! name a certificate that does not exist) costs one fetch per URL per interval, not one per
//! message.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::certificate::SigningCertificate;
use super::certificate_url::CertificateUrl;

/// SNS uses one certificate per region at a time, rotated rarely; 64 covers every region with
/// room for rotations.
pub const DEFAULT_CERTIFICATE_CACHE_CAPACITY: usize = 64;
/// How long a failed load answers for its URL without loading again: short, because a genuine
/// certificate that failed to load (a network blip) must be tried again soon.
pub const FAILURE_TTL: Duration = Duration::from_secs(10);
/// Failures remembered at most; apart from the certificates so that they never evict one.
const FAILURE_CAPACITY: usize = 256;

type Slot<E> = Arc<OnceCell<Result<Arc<SigningCertificate>, E>>>;

#[derive(Debug)]
pub(crate) struct CertificateCache<E> {
    capacity: usize,
    entries: Mutex<Entries<E>>,
}

#[derive(Debug)]
struct Entries<E> {
    slots: HashMap<String, (Slot<E>, u64)>,
    uses: u64,
    /// URL → the failure of its last load, and when it failed.
    failures: HashMap<String, (E, Instant)>,
}

impl<E: Clone> CertificateCache<E> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(Entries {
                slots: HashMap::new(),
                uses: 0,
                failures: HashMap::new(),
            }),
        }
    }

    /// The certificate for `url`, running `load` only if no other caller is already loading it
    /// and it did not fail within [`FAILURE_TTL`]. A failed load answers the callers that waited
    /// for it and, until the interval is over, the ones that come after.
    pub(crate) async fn get_or_load<Fut>(
        &self,
        url: &CertificateUrl,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<SigningCertificate>, E>
    where
        Fut: Future<Output = Result<SigningCertificate, E>>,
    {
        if let Some(error) = self.recent_failure(url.as_str()) {
            return Err(error);
        }
        let slot = self.slot(url);
        let outcome = slot
            .get_or_init(|| async { load().await.map(Arc::new) })
            .await;
        match outcome {
            Ok(certificate) => Ok(Arc::clone(certificate)),
            Err(error) => {
                self.forget_failed(url, &slot, error);
                Err(error.clone())
            }
        }
    }

    fn recent_failure(&self, url: &str) -> Option<E> {
        let entries = self.lock();
        let (error, failed_at) = entries.failures.get(url)?;
        (failed_at.elapsed() < FAILURE_TTL).then(|| error.clone())
    }

    /// The certificate already loaded under exactly `url`, if any: no load, no waiting.
    pub(crate) fn loaded(&self, url: &str) -> Option<Arc<SigningCertificate>> {
        let mut entries = self.lock();
        entries.uses += 1;
        let now = entries.uses;
        let (slot, last_used) = entries.slots.get_mut(url)?;
        let certificate = slot.get()?.as_ref().ok()?;
        *last_used = now;
        Some(Arc::clone(certificate))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().slots.len()
    }

    #[cfg(test)]
    fn failures(&self) -> usize {
        self.lock().failures.len()
    }

    fn slot(&self, url: &CertificateUrl) -> Slot<E> {
        let mut entries = self.lock();
        entries.uses += 1;
        let now = entries.uses;
        if let Some((slot, last_used)) = entries.slots.get_mut(url.as_str()) {
            *last_used = now;
            return Arc::clone(slot);
        }
        while entries.slots.len() >= self.capacity {
            let least_recent = entries
                .slots
                .iter()
                .min_by_key(|(_, (_, last_used))| *last_used)
                .map(|(url, _)| url.clone());
            match least_recent {
                Some(url) => entries.slots.remove(&url),
                None => break,
            };
        }
        let slot = Slot::default();
        entries
            .slots
            .insert(url.as_str().to_owned(), (Arc::clone(&slot), now));
        slot
    }

    /// Failed URLs must not occupy certificate capacity (they would evict good certificates),
    /// but only the slot that failed is removed: a later retry may already have replaced it. The
    /// failure goes to its own bounded table.
    fn forget_failed(&self, url: &CertificateUrl, failed: &Slot<E>, error: &E) {
        let mut entries = self.lock();
        if let Some((slot, _)) = entries.slots.get(url.as_str())
            && Arc::ptr_eq(slot, failed)
        {
            entries.slots.remove(url.as_str());
        }
        let failures = &mut entries.failures;
        failures.retain(|_, (_, failed_at)| failed_at.elapsed() < FAILURE_TTL);
        if failures.len() >= FAILURE_CAPACITY
            && let Some(oldest) = failures
                .iter()
                .min_by_key(|(_, (_, failed_at))| *failed_at)
                .map(|(url, _)| url.clone())
        {
            failures.remove(&oldest);
        }
        failures.insert(url.as_str().to_owned(), (error.clone(), Instant::now()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<E>> {
        // Entries stay consistent at every await-free step, so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const PEM: &[u8] =
        include_bytes!("../../../../../shared/sns-vectors/php-2022-notification-sha1.pem");

    fn url(id: &str) -> CertificateUrl {
        CertificateUrl::parse(&format!(
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-{id}.pem"
        ))
        .unwrap()
    }

    async fn load(cache: &CertificateCache<String>, id: &str, loads: &AtomicUsize) {
        cache
            .get_or_load(&url(id), || async {
                loads.fetch_add(1, Ordering::SeqCst);
                SigningCertificate::from_pem(PEM).map_err(|e| e.to_string())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
        let cache = CertificateCache::new(2);
        let loads = AtomicUsize::new(0);
        load(&cache, "a", &loads).await;
        load(&cache, "b", &loads).await;
        load(&cache, "a", &loads).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        load(&cache, "c", &loads).await;
        assert_eq!(cache.len(), 2);
        load(&cache, "a", &loads).await;
        assert_eq!(loads.load(Ordering::SeqCst), 3, "a was used recently: kept");
        load(&cache, "b", &loads).await;
        assert_eq!(
            loads.load(Ordering::SeqCst),
            4,
            "b was evicted: loaded again"
        );
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_certificate_loaded_under_exactly_that_url_is_known() {
        let cache = CertificateCache::new(2);
        let loads = AtomicUsize::new(0);
        assert!(
            cache.loaded(url("a").as_str()).is_none(),
            "nothing loaded yet"
        );
        let failed = cache
            .get_or_load(&url("a"), || async { Err("down".to_owned()) })
            .await;
        assert!(failed.is_err());
        assert!(
            cache.loaded(url("a").as_str()).is_none(),
            "a failure is not known"
        );
        tokio::time::advance(FAILURE_TTL).await;
        load(&cache, "a", &loads).await;
        assert!(cache.loaded(url("a").as_str()).is_some());
        assert!(cache.loaded(url("b").as_str()).is_none());
        assert!(
            cache
                .loaded("https://SNS.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem")
                .is_none(),
            "another spelling of the URL takes the policy's path"
        );

        load(&cache, "b", &loads).await;
        assert!(cache.loaded(url("a").as_str()).is_some(), "a used after b");
        load(&cache, "c", &loads).await;
        assert!(
            cache.loaded(url("b").as_str()).is_none(),
            "b least recent: evicted"
        );
        assert!(cache.loaded(url("a").as_str()).is_some());
    }

    #[tokio::test]
    async fn failures_take_no_room() {
        let cache = CertificateCache::new(4);
        for id in ["x", "y", "z"] {
            let result = cache.get_or_load(&url(id), || async { Err("down") }).await;
            assert_eq!(result.unwrap_err(), "down");
        }
        assert_eq!(cache.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_answers_for_its_url_for_a_while_without_loading_again() {
        let cache = CertificateCache::new(4);
        let loads = AtomicUsize::new(0);
        let failing = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Err::<SigningCertificate, _>("down".to_owned())
        };
        for _ in 0..3 {
            assert_eq!(
                cache.get_or_load(&url("a"), failing).await.unwrap_err(),
                "down"
            );
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one load per interval");
        tokio::time::advance(FAILURE_TTL).await;
        load(&cache, "a", &loads).await;
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "tried again after the interval"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn remembered_failures_are_bounded() {
        let cache = CertificateCache::<String>::new(4);
        for i in 0..FAILURE_CAPACITY + 10 {
            let _ = cache
                .get_or_load(&url(&format!("u{i}")), || async { Err("down".to_owned()) })
                .await;
        }
        assert_eq!(cache.failures(), FAILURE_CAPACITY);
        assert_eq!(cache.len(), 0);
    }
}
