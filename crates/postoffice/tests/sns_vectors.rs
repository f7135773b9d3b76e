//! Genuine SNS messages (../shared/sns-vectors) through the verifier: they verify, any change to a
//! signed field breaks them, and untrusted certificate locations are refused before any fetch.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use postoffice::sns::{
    CertificateFetcher, CertificateUrl, CertificateUrlError, FAILURE_TTL, FetchError, FixedClock,
    MessageType, SnsMessage, StaticCertificateFetcher, SystemClock, Verifier, VerifyError,
};

const VECTORS: [&str; 5] = [
    "php-2022-lambda-subjectnull-sha256",
    "php-2022-notification-sha1",
    "php-2022-notification-sha256",
    "php-2022-notification-subject-sha1",
    "php-2022-notification-subject-sha256",
];

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors")
}

struct Vector {
    name: &'static str,
    message: SnsMessage,
    pem: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    VECTORS
        .iter()
        .map(|name| {
            let read = |extension: &str| {
                let path = vectors_dir().join(format!("{name}.{extension}"));
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            };
            Vector {
                name,
                message: SnsMessage::parse(&read("json")).expect(name),
                pem: read("pem"),
            }
        })
        .collect()
}

/// Inside the vectors' certificate validity (2021-09-07 to 2022-08-17).
fn in_validity() -> FixedClock {
    FixedClock("2022-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap())
}

/// Serves the vectors' certificates and counts how often it is asked; can be slowed down and
/// made to fail a number of times.
#[derive(Default)]
struct CountingFetcher {
    certificates: StaticCertificateFetcher,
    calls: AtomicUsize,
    delay: Duration,
    failures_left: AtomicUsize,
}

impl CountingFetcher {
    fn serving(vector: &Vector) -> Self {
        Self {
            certificates: StaticCertificateFetcher::new()
                .with_certificate(&vector.message.signing_cert_url, vector.pem.clone()),
            ..Self::default()
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl CertificateFetcher for CountingFetcher {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if failing {
            return Err(FetchError::new(url, "simulated outage"));
        }
        self.certificates.fetch(url).await
    }
}

#[tokio::test]
async fn every_vector_verifies() {
    for vector in vectors() {
        let fetcher = CountingFetcher::serving(&vector);
        let verifier = Verifier::new(&fetcher, in_validity());
        verifier
            .verify(&vector.message)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", vector.name));
        assert_eq!(fetcher.calls(), 1, "{}", vector.name);
        assert_eq!(vector.message.message_type, MessageType::Notification);
    }
}

#[tokio::test]
async fn changing_any_signed_field_fails() {
    type Tamper = fn(&mut SnsMessage);
    let tampers: [(&str, Tamper); 7] = [
        ("Message", |m| m.message.push('!')),
        ("MessageId", |m| m.message_id.replace_range(0..1, "0")),
        ("Subject", |m| {
            m.subject = Some(format!("{}!", m.subject.clone().unwrap_or_default()))
        }),
        ("Subject removed or added", |m| {
            m.subject = match m.subject {
                Some(_) => None,
                None => Some(String::new()),
            }
        }),
        ("Timestamp", |m| {
            m.timestamp = m.timestamp.replace("2022", "2023")
        }),
        ("TopicArn", |m| m.topic_arn.push('x')),
        ("Type", |m| {
            m.message_type = MessageType::UnsubscribeConfirmation
        }),
    ];
    for vector in vectors() {
        let fetcher = CountingFetcher::serving(&vector);
        let verifier = Verifier::new(&fetcher, in_validity());
        for (field, tamper) in tampers {
            let mut message = vector.message.clone();
            tamper(&mut message);
            assert_ne!(message, vector.message, "{field} must change something");
            let error = verifier.verify(&message).await.expect_err(field);
            assert_eq!(
                error,
                VerifyError::SignatureMismatch,
                "{} with changed {field}",
                vector.name
            );
            assert_eq!(error.reason(), "signature-mismatch");
        }
    }
}

#[tokio::test]
async fn unsigned_fields_do_not_affect_verification() {
    for vector in vectors() {
        let fetcher = CountingFetcher::serving(&vector);
        let verifier = Verifier::new(&fetcher, in_validity());
        let mut message = vector.message.clone();
        message.unsubscribe_url = None;
        message.message_attributes.insert(
            "event".to_owned(),
            postoffice::sns::MessageAttribute {
                data_type: "String".to_owned(),
                value: "COOKING_REQUESTED".to_owned(),
            },
        );
        verifier.verify(&message).await.expect(vector.name);
    }
}

#[tokio::test]
async fn non_sns_certificate_hosts_are_rejected_before_any_fetch() {
    for vector in vectors() {
        let fetcher = CountingFetcher::serving(&vector);
        let verifier = Verifier::new(&fetcher, in_validity());
        // With the genuine certificate cached: a known certificate must not open a shortcut.
        verifier.verify(&vector.message).await.unwrap();
        for url in [
            "https://evil.example.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            postoffice::sns::LOCAL_SIGNING_CERT_URL,
        ] {
            let mut message = vector.message.clone();
            message.signing_cert_url = url.to_owned();
            let error = verifier.verify(&message).await.expect_err(url);
            assert!(
                matches!(error, VerifyError::UntrustedCertificateUrl(_)),
                "{url}: {error:?}"
            );
            assert_eq!(error.reason(), "untrusted-certificate-url");
        }
        assert_eq!(
            fetcher.calls(),
            1,
            "{}: the genuine fetch only",
            vector.name
        );
    }
}

#[tokio::test]
async fn unknown_signature_versions_are_rejected_with_a_reason() {
    let vector = &vectors()[2];
    let fetcher = CountingFetcher::serving(vector);
    let verifier = Verifier::new(&fetcher, in_validity());
    for version in ["3", "", "02", "1 "] {
        let mut message = vector.message.clone();
        message.signature_version = version.to_owned();
        let error = verifier.verify(&message).await.expect_err(version);
        assert_eq!(
            error,
            VerifyError::UnsupportedSignatureVersion(version.to_owned())
        );
        assert_eq!(error.reason(), "unsupported-signature-version");
        assert!(error.to_string().contains("SignatureVersion"));
    }
    assert_eq!(fetcher.calls(), 0);
}

#[tokio::test]
async fn a_v1_signature_does_not_verify_as_v2() {
    let vector = &vectors()[1];
    let fetcher = CountingFetcher::serving(vector);
    let verifier = Verifier::new(&fetcher, in_validity());
    let mut message = vector.message.clone();
    message.signature_version = "2".to_owned();
    assert_eq!(
        verifier.verify(&message).await,
        Err(VerifyError::SignatureMismatch)
    );
}

#[tokio::test]
async fn malformed_signatures_are_rejected() {
    let vector = &vectors()[2];
    let fetcher = CountingFetcher::serving(vector);
    let verifier = Verifier::new(&fetcher, in_validity());
    let mut message = vector.message.clone();
    message.signature = "not base64!".to_owned();
    let error = verifier.verify(&message).await.unwrap_err();
    assert_eq!(error.reason(), "malformed-signature");
}

#[tokio::test]
async fn expired_certificates_are_rejected_at_real_time() {
    for vector in vectors() {
        let fetcher = CountingFetcher::serving(&vector);
        let verifier = Verifier::new(&fetcher, SystemClock);
        let error = verifier.verify(&vector.message).await.unwrap_err();
        assert!(
            matches!(error, VerifyError::CertificateExpired { .. }),
            "{}: {error:?}",
            vector.name
        );
        assert_eq!(error.reason(), "certificate-expired");
    }
}

#[tokio::test]
async fn certificates_are_not_trusted_before_their_validity() {
    let vector = &vectors()[0];
    let fetcher = CountingFetcher::serving(vector);
    let early = FixedClock("2021-09-01T00:00:00Z".parse().unwrap());
    let error = Verifier::new(&fetcher, early)
        .verify(&vector.message)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "certificate-not-yet-valid");
}

#[tokio::test]
async fn a_certificate_that_is_not_pem_is_an_error() {
    let vector = &vectors()[0];
    let fetcher = StaticCertificateFetcher::new().with_certificate(
        &vector.message.signing_cert_url,
        b"<html>not found</html>".to_vec(),
    );
    let error = Verifier::new(fetcher, in_validity())
        .verify(&vector.message)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "malformed-certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifies_share_one_fetch() {
    let vector = &vectors()[3];
    let fetcher: &'static CountingFetcher = Box::leak(Box::new(CountingFetcher {
        delay: Duration::from_millis(50),
        ..CountingFetcher::serving(vector)
    }));
    let verifier = Arc::new(Verifier::new(fetcher, in_validity()));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let verifier = Arc::clone(&verifier);
            let message = vector.message.clone();
            tokio::spawn(async move { verifier.verify(&message).await })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("every concurrent verify succeeds");
    }
    assert_eq!(fetcher.calls(), 1);
    verifier.verify(&vector.message).await.unwrap();
    assert_eq!(fetcher.calls(), 1, "later messages use the cached key");
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_is_an_error_remembered_briefly_then_retried() {
    let vector = &vectors()[4];
    let fetcher = CountingFetcher {
        failures_left: AtomicUsize::new(1),
        ..CountingFetcher::serving(vector)
    };
    let verifier = Verifier::new(&fetcher, in_validity());

    let error = verifier.verify(&vector.message).await.unwrap_err();
    assert!(
        matches!(error, VerifyError::CertificateFetch(_)),
        "{error:?}"
    );
    assert_eq!(error.reason(), "certificate-unavailable");
    assert!(error.to_string().contains("simulated outage"));
    assert!(error.is_transient(), "not the message's fault: SNS retries");

    let remembered = verifier.verify(&vector.message).await.unwrap_err();
    assert_eq!(remembered.reason(), "certificate-unavailable");
    assert_eq!(fetcher.calls(), 1, "a failure is not fetched again at once");

    tokio::time::advance(FAILURE_TTL).await;
    verifier
        .verify(&vector.message)
        .await
        .expect("retry succeeds");
    verifier.verify(&vector.message).await.expect("cached");
    assert_eq!(fetcher.calls(), 2);
}

#[tokio::test]
async fn an_unknown_certificate_url_fails_without_panicking() {
    let vector = &vectors()[0];
    let verifier = Verifier::new(StaticCertificateFetcher::new(), in_validity());
    let error = verifier.verify(&vector.message).await.unwrap_err();
    assert_eq!(error.reason(), "certificate-unavailable");
}

#[test]
fn the_lambda_shape_parses_to_the_same_message_as_the_http_shape() {
    let all = vectors();
    let lambda = &all[0].message;
    let http = &all[2].message;
    assert_eq!(lambda, http);
    assert_eq!(lambda.subject, None);
}

#[test]
fn certificate_url_errors_name_the_problem() {
    let error = CertificateUrl::parse("https://evilamazonaws.com/SimpleNotificationService-a.pem")
        .unwrap_err();
    assert_eq!(
        error,
        CertificateUrlError::NotSnsHost("evilamazonaws.com".to_owned())
    );
    assert!(error.to_string().contains("evilamazonaws.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifies_share_one_failed_fetch() {
    let vector = &vectors()[1];
    let fetcher: &'static CountingFetcher = Box::leak(Box::new(CountingFetcher {
        // Long enough for all 20 tasks to wait on the same fetch even on a busy machine.
        delay: Duration::from_millis(300),
        failures_left: AtomicUsize::new(1),
        ..CountingFetcher::serving(vector)
    }));
    let verifier = Arc::new(Verifier::new(fetcher, in_validity()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let verifier = Arc::clone(&verifier);
            let message = vector.message.clone();
            tokio::spawn(async move { verifier.verify(&message).await })
        })
        .collect();
    for task in tasks {
        let error = task.await.unwrap().unwrap_err();
        assert_eq!(error.reason(), "certificate-unavailable");
    }
    assert_eq!(fetcher.calls(), 1, "one outage, one fetch");
    let error = verifier.verify(&vector.message).await.unwrap_err();
    assert_eq!(error.reason(), "certificate-unavailable");
    assert_eq!(fetcher.calls(), 1, "the failure answers for a while");
}
