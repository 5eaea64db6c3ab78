//! Seal and open of one secret version with a warm KEK (the resolution hot path
//! opens; writes seal), for a typical 100-byte value and the 64 KiB maximum.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use vault_core::{MAX_VALUE_BYTES, Owner, SecretId, SecretName, SecretValue, UserId, Version};
use vault_kms::{
    Keyring, KeyringConfig, LocalRootProvider, MemoryKekRepository, RootKey, SealBinding,
    VaultInstanceId,
};

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let keyring = Keyring::new(
        VaultInstanceId::parse("bench").expect("valid"),
        Arc::new(LocalRootProvider::new(
            RootKey::from_bytes(&[7; 32]),
            vec![],
        )),
        Arc::new(MemoryKekRepository::new()),
        KeyringConfig::default(),
    );
    let id = SecretId::generate();
    let owner = Owner::User(UserId::parse("bench-user").expect("valid"));
    let name = SecretName::parse("BENCH_SECRET").expect("valid");
    let binding = SealBinding {
        secret_id: &id,
        version: Version::FIRST,
        owner: &owner,
        name: &name,
    };

    let mut group = c.benchmark_group("envelope");
    for size in [100, MAX_VALUE_BYTES] {
        let value = SecretValue::new("v".repeat(size)).expect("fits");
        let sealed = runtime
            .block_on(keyring.seal(&binding, &value))
            .expect("seals");
        runtime
            .block_on(keyring.open(&binding, &sealed))
            .expect("warms the KEK cache");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &value, |b, value| {
            b.to_async(&runtime)
                .iter(|| async { keyring.seal(&binding, value).await.expect("seals") })
        });
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, sealed| {
            b.to_async(&runtime)
                .iter(|| async { keyring.open(&binding, sealed).await.expect("opens") })
        });
    }
    group.finish();
    let metrics = keyring.metrics();
    assert_eq!(
        metrics.root_unwraps, 1,
        "only the new KEK's self-check reached the root"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
