//! `WrappedKek::from_bytes` over KEK records read back from the database. Properties:
//! no panic; a parse that succeeds re-encodes to the same bytes and keeps a non-empty
//! root ciphertext.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::fuzz_target;
use vault_kms::WrappedKek;

fn check(data: &[u8]) {
    if let Ok(record) = WrappedKek::from_bytes(data) {
        assert_eq!(
            record.to_bytes(),
            data,
            "a parsed record re-encodes to its bytes"
        );
        assert!(!record.root_wrapped().ciphertext.is_empty());
        assert_eq!(
            WrappedKek::from_bytes(&record.to_bytes()).as_ref(),
            Ok(&record)
        );
    }
}

fuzz_target!(|data: &[u8]| check(data));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("wrapped_kek_bytes", check);
}
