//! `Envelope::from_bytes` over bytes read back from the database, which someone with
//! write access to it controls. Properties: no panic; a parse that succeeds re-encodes
//! to the same bytes; bytes the vault did not seal never open, even when they name the
//! vault's active KEK.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::fuzz_target;
use vault_fuzz::sealer;
use vault_kms::{Envelope, KekId};

fn check(data: &[u8]) {
    let sealer = sealer();
    if let Ok(envelope) = Envelope::from_bytes(data) {
        assert_eq!(
            envelope.to_bytes(),
            data,
            "a parsed envelope re-encodes to its bytes"
        );
        assert!(
            sealer.open(&sealer.row, &envelope).is_none(),
            "bytes nobody sealed opened"
        );
    }
    // The same bytes pointed at the KEK the vault holds, so opening reaches both
    // AES-GCM layers rather than stopping at an unknown KEK id.
    if data.len() > KekId::LEN {
        let mut aimed = data.to_vec();
        aimed[1..=KekId::LEN].copy_from_slice(sealer.active_kek.as_bytes());
        if let Ok(envelope) = Envelope::from_bytes(&aimed) {
            assert_eq!(envelope.kek_id(), &sealer.active_kek);
            assert!(
                sealer.open(&sealer.row, &envelope).is_none(),
                "forged bytes opened under the active KEK"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| check(data));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("envelope_bytes", check);
}
