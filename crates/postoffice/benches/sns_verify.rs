//! SNS signature verification cost per message with the signing key already cached.

use criterion::{Criterion, criterion_group, criterion_main};

fn verify(_: &mut Criterion) {}

criterion_group!(benches, verify);
criterion_main!(benches);
