//! What a verifier trusts besides a matching signature: a certificate at the SNS host of the
//! topic's own region, chaining to a trusted root (Amazon's by default), fetched a bounded number
//! at a time, and a signature version no older than its minimum.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use postoffice::sns::{
    CertificateFetcher, CertificateUrl, FetchError, FixedClock, IssuerUrl,
    MAX_CONCURRENT_CERTIFICATE_LOADS, MessageType, SignatureVersion, SnsMessage,
    StaticCertificateFetcher, SystemClock, Verifier,
};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    PKCS_RSA_SHA256,
};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";
const CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000b.pem";
const ISSUER_URL: &str = "http://crt.test1.amazontrust.com/test1.cer";

/// A test PKI: a root, an intermediate it signed, and an SNS-like leaf the intermediate signed
/// whose "CA Issuers" address is `issuer_address`.
struct Pki {
    root_pem: String,
    intermediate_der: Vec<u8>,
    leaf_pem: String,
    leaf_key: RsaKeyPair,
}

fn rsa_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_RSA_SHA256).unwrap()
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

/// `AuthorityInfoAccessSyntax` with one `id-ad-caIssuers` URI (RFC 5280, 4.2.2.1).
fn authority_info_access(uri: &str) -> CustomExtension {
    let method = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut location = vec![0x86, uri.len() as u8];
    location.extend_from_slice(uri.as_bytes());
    let description = [
        &[0x30, (method.len() + location.len()) as u8][..],
        &method,
        &location,
    ]
    .concat();
    let syntax = [&[0x30, description.len() as u8][..], &description].concat();
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], syntax)
}

fn pki(issuer_address: &str) -> Pki {
    let root_key = rsa_key();
    let root_params = ca_params("Test Root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::from_params(&root_params, &root_key);

    let intermediate_key = rsa_key();
    let intermediate_params = ca_params("Test Intermediate");
    let intermediate = intermediate_params
        .signed_by(&intermediate_key, &root_issuer)
        .unwrap();
    let intermediate_issuer = Issuer::from_params(&intermediate_params, &intermediate_key);

    let leaf_key = rsa_key();
    let mut leaf_params = CertificateParams::new(vec!["sns.amazonaws.com".to_owned()]).unwrap();
    leaf_params
        .custom_extensions
        .push(authority_info_access(issuer_address));
    let leaf = leaf_params
        .signed_by(&leaf_key, &intermediate_issuer)
        .unwrap();
    Pki {
        root_pem: root.pem(),
        intermediate_der: intermediate.der().to_vec(),
        leaf_pem: leaf.pem(),
        leaf_key: RsaKeyPair::from_pkcs8(&leaf_key.serialize_der()).unwrap(),
    }
}

fn intermediate_pem(pki: &Pki) -> String {
    let encoded = BASE64.encode(&pki.intermediate_der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn message(pki: &Pki, cert_url: &str) -> SnsMessage {
    let mut message = SnsMessage {
        message_type: MessageType::Notification,
        message_id: "4f0b6a8e-1b1c-5d2e-8f3a-9b0c1d2e3f40".into(),
        topic_arn: TOPIC.into(),
        subject: None,
        message: "{}".into(),
        timestamp: "2026-11-23T20:00:00.000Z".into(),
        signature_version: "2".into(),
        signature: String::new(),
        signing_cert_url: cert_url.into(),
        subscribe_url: None,
        unsubscribe_url: None,
        token: None,
        message_attributes: Default::default(),
    };
    let mut signature = vec![0; pki.leaf_key.public_modulus_len()];
    pki.leaf_key
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message.string_to_sign().as_bytes(),
            &mut signature,
        )
        .unwrap();
    message.signature = BASE64.encode(signature);
    message
}

/// Serves documents by URL and counts the fetches of each kind.
#[derive(Default)]
struct Counting {
    inner: StaticCertificateFetcher,
    certificates: AtomicUsize,
    issuers: AtomicUsize,
}

impl Counting {
    fn serving(inner: StaticCertificateFetcher) -> Self {
        Self {
            inner,
            ..Self::default()
        }
    }
}

impl CertificateFetcher for Counting {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        self.certificates.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch(url).await
    }

    async fn fetch_issuer(&self, url: &IssuerUrl) -> Result<Vec<u8>, FetchError> {
        self.issuers.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch_issuer(url).await
    }
}

#[tokio::test]
async fn a_certificate_at_an_sns_url_that_does_not_chain_to_amazon_is_refused_for_good() {
    let pki = pki(ISSUER_URL);
    let fetcher = Counting::serving(
        StaticCertificateFetcher::new()
            .with_certificate(CERT_URL, pki.leaf_pem.clone())
            .with_certificate(ISSUER_URL, pki.intermediate_der.clone()),
    );
    let error = Verifier::new(&fetcher, SystemClock)
        .verify(&message(&pki, CERT_URL))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "untrusted-certificate", "{error}");
    assert!(!error.is_transient());
    assert_eq!(fetcher.issuers.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_missing_intermediate_is_fetched_once_from_its_amazon_trust_services_address() {
    let pki = pki(ISSUER_URL);
    let fetcher = Counting::serving(
        StaticCertificateFetcher::new()
            .with_certificate(CERT_URL, pki.leaf_pem.clone())
            .with_certificate(ISSUER_URL, pki.intermediate_der.clone()),
    );
    let verifier = Verifier::new(&fetcher, SystemClock)
        .with_trusted_root(pki.root_pem.as_bytes())
        .unwrap();
    for _ in 0..3 {
        verifier.verify(&message(&pki, CERT_URL)).await.unwrap();
    }
    assert_eq!(fetcher.certificates.load(Ordering::SeqCst), 1);
    assert_eq!(fetcher.issuers.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_intermediate_in_the_document_needs_no_fetch() {
    let pki = pki(ISSUER_URL);
    let bundle = format!("{}{}", pki.leaf_pem, intermediate_pem(&pki));
    let fetcher =
        Counting::serving(StaticCertificateFetcher::new().with_certificate(CERT_URL, bundle));
    Verifier::new(&fetcher, SystemClock)
        .with_trusted_root(pki.root_pem.as_bytes())
        .unwrap()
        .verify(&message(&pki, CERT_URL))
        .await
        .unwrap();
    assert_eq!(fetcher.issuers.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_issuer_address_outside_amazon_trust_services_is_never_fetched() {
    let elsewhere = "http://attacker.example/intermediate.cer";
    let pki = pki(elsewhere);
    let fetcher = Counting::serving(
        StaticCertificateFetcher::new()
            .with_certificate(CERT_URL, pki.leaf_pem.clone())
            .with_certificate(elsewhere, pki.intermediate_der.clone()),
    );
    let error = Verifier::new(&fetcher, SystemClock)
        .with_trusted_root(pki.root_pem.as_bytes())
        .unwrap()
        .verify(&message(&pki, CERT_URL))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "untrusted-certificate", "{error}");
    assert_eq!(fetcher.issuers.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unreachable_issuer_is_transient() {
    let pki = pki(ISSUER_URL);
    let fetcher = Counting::serving(
        StaticCertificateFetcher::new().with_certificate(CERT_URL, pki.leaf_pem.clone()),
    );
    let error = Verifier::new(&fetcher, SystemClock)
        .with_trusted_root(pki.root_pem.as_bytes())
        .unwrap()
        .verify(&message(&pki, CERT_URL))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "certificate-unavailable", "{error}");
    assert!(error.is_transient());
}

fn vector(name: &str) -> (SnsMessage, Vec<u8>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors");
    let body = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
    let pem = std::fs::read(dir.join(format!("{name}.pem"))).unwrap();
    (SnsMessage::parse(&body).unwrap(), pem)
}

fn in_validity() -> FixedClock {
    FixedClock("2022-07-28T21:30:00Z".parse().unwrap())
}

#[tokio::test]
async fn a_certificate_url_of_another_region_than_the_topic_is_never_fetched() {
    let (genuine, pem) = vector("php-2022-notification-sha256");
    let fetcher = Counting::serving(
        StaticCertificateFetcher::new().with_certificate(&genuine.signing_cert_url, pem),
    );
    let verifier = Verifier::new(&fetcher, in_validity());
    verifier.verify(&genuine).await.unwrap();

    // Any SNS host would do for the URL policy alone; the topic says which one it must be.
    for cert_url in [
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com.cn/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
    ] {
        let mut other = genuine.clone();
        other.signing_cert_url = cert_url.to_owned();
        other.topic_arn = genuine.topic_arn.replace("us-east-2", "us-west-1");
        let error = verifier.verify(&other).await.unwrap_err();
        assert_eq!(error.reason(), "untrusted-certificate-url", "{cert_url}");
    }
    assert_eq!(fetcher.certificates.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn version_1_signatures_are_refused_below_the_minimum() {
    let (v1, pem) = vector("php-2022-notification-sha1");
    let fetcher = StaticCertificateFetcher::new().with_certificate(&v1.signing_cert_url, pem);
    let verifier = Verifier::new(&fetcher, in_validity());
    verifier.verify(&v1).await.unwrap();

    let strict =
        Verifier::new(&fetcher, in_validity()).with_minimum_signature_version(SignatureVersion::V2);
    let error = strict.verify(&v1).await.unwrap_err();
    assert_eq!(error.reason(), "signature-version-below-minimum");
    assert_eq!(
        error.to_string(),
        "SignatureVersion 1 is refused: this verifier accepts 2 and above"
    );
    let (v2, pem) = vector("php-2022-notification-sha256");
    let fetcher = StaticCertificateFetcher::new().with_certificate(&v2.signing_cert_url, pem);
    Verifier::new(fetcher, in_validity())
        .with_minimum_signature_version(SignatureVersion::V2)
        .verify(&v2)
        .await
        .unwrap();
}

/// Counts fetches in flight at once; every fetch takes a while and then fails.
#[derive(Default)]
struct Slow {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    fetched: Mutex<HashMap<String, usize>>,
}

impl CertificateFetcher for Slow {
    async fn fetch(&self, url: &CertificateUrl) -> Result<Vec<u8>, FetchError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        *self
            .fetched
            .lock()
            .unwrap()
            .entry(url.as_str().to_owned())
            .or_default() += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Err(FetchError::new(url, "404"))
    }
}

#[tokio::test(start_paused = true)]
async fn certificate_fetches_are_bounded_however_many_urls_arrive() {
    let fetcher = Slow::default();
    let verifier = Verifier::new(&fetcher, FixedClock(Utc::now()));
    let pki = pki(ISSUER_URL);
    let messages: Vec<SnsMessage> = (0..40)
        .map(|i| {
            message(
                &pki,
                &format!("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-{i}.pem"),
            )
        })
        .collect();
    let outcomes = futures_join_all(messages.iter().map(|message| verifier.verify(message))).await;
    assert!(outcomes.iter().all(|outcome| {
        outcome
            .as_ref()
            .is_err_and(|error| error.reason() == "certificate-unavailable")
    }));
    assert_eq!(
        fetcher.most.load(Ordering::SeqCst),
        MAX_CONCURRENT_CERTIFICATE_LOADS
    );
    assert_eq!(fetcher.fetched.lock().unwrap().len(), 40, "each URL once");
}

/// Polls every future to completion on the current task.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).map(Some).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut done = true;
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}
