//! The per-version open's cryptography alone, RustCrypto's AES-256-GCM against
//! AWS-LC's (through aws-lc-rs), to decide which one the envelope uses: a resolution
//! opens 75 envelopes, each with a key set-up for its own data key, so both the
//! set-up and the short decryption count.
//!
//! - `dek_open_100`: a fresh key from 32 bytes, then a 100-byte value decrypted in place
//!   (what each envelope's value costs);
//! - `kek_unwrap_32`: a 32-byte data key decrypted under a key set up once (the cached
//!   KEK's part of every open).

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use criterion::{Criterion, criterion_group, criterion_main};

const KEY: [u8; 32] = [7; 32];
const NONCE: [u8; 12] = [9; 12];
const AAD: &[u8] = b"vault/v1/value\0sec_0123456789abcdef\0\0\0\0\x01user:bench\0BENCH_SECRET";

fn sealed(len: usize) -> (Vec<u8>, [u8; 16]) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("32 bytes"));
    let mut buffer = vec![b'v'; len];
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(NONCE),
            Aad::from(AAD),
            &mut buffer,
        )
        .expect("seals");
    let mut tag_bytes = [0u8; 16];
    tag_bytes.copy_from_slice(tag.as_ref());
    (buffer, tag_bytes)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("aead");
    for (name, len, fresh_key) in [("dek_open_100", 100, true), ("kek_unwrap_32", 32, false)] {
        let (ciphertext, tag) = sealed(len);
        let rust_crypto_key = Aes256Gcm::new(&KEY.into());
        group.bench_function(format!("{name}/rustcrypto"), |b| {
            b.iter(|| {
                let mut buffer = ciphertext.clone();
                let fresh;
                let key = if fresh_key {
                    fresh = Aes256Gcm::new(&KEY.into());
                    &fresh
                } else {
                    &rust_crypto_key
                };
                key.decrypt_inout_detached(
                    &NONCE.into(),
                    AAD,
                    buffer.as_mut_slice().into(),
                    &tag.into(),
                )
                .expect("opens");
                buffer
            })
        });
        let aws_lc_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("32 bytes"));
        group.bench_function(format!("{name}/aws-lc-rs"), |b| {
            b.iter(|| {
                let mut buffer = ciphertext.clone();
                let fresh;
                let key = if fresh_key {
                    fresh =
                        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("32 bytes"));
                    &fresh
                } else {
                    &aws_lc_key
                };
                key.open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(NONCE),
                    Aad::from(AAD),
                    &tag,
                    &mut buffer,
                )
                .expect("opens");
                buffer
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
