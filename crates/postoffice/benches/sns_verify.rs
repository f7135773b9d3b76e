//! SNS signature verification cost per message with the signing key already cached (the bridge's
//! steady state), for SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use postoffice::sns::{FixedClock, SnsMessage, StaticCertificateFetcher, Verifier};

fn vector(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sns-vectors");
    let read = |file: String| std::fs::read(dir.join(&file)).expect(&file);
    (read(format!("{name}.json")), read(format!("{name}.pem")))
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clock = FixedClock("2022-01-01T00:00:00Z".parse().unwrap());
    for (label, name) in [
        (
            "verify cached v1 (SHA1withRSA)",
            "php-2022-notification-subject-sha1",
        ),
        (
            "verify cached v2 (SHA256withRSA)",
            "php-2022-notification-subject-sha256",
        ),
    ] {
        let (body, pem) = vector(name);
        let message = SnsMessage::parse(&body).unwrap();
        let fetcher =
            StaticCertificateFetcher::new().with_certificate(&message.signing_cert_url, pem);
        let verifier = Verifier::new(fetcher, clock);
        runtime
            .block_on(verifier.verify(&message))
            .expect("vector verifies");
        c.bench_function(label, |b| {
            b.to_async(&runtime).iter(|| verifier.verify(&message));
        });
        c.bench_function(&format!("parse and {label}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let message = SnsMessage::parse(&body).unwrap();
                verifier.verify(&message).await
            });
        });
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
