//! The token parser: the `Authorization` header's credential and the kind a token
//! claims, both read before any lookup. Properties: no panic; a kind is claimed only
//! by the exact issued shape (its prefix, then 43 URL-safe base64 characters); a
//! credential is never empty or padded; any non-blank credential behind `Bearer ` is
//! found again, and a claimed token inside a header claims the same kind.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::fuzz_target;
use vault_core::{TOKEN_RANDOM_CHARS, TokenKind, bearer_credential};

fn check(text: &str) {
    if let Some(kind) = TokenKind::claimed_by(text) {
        let random = text
            .strip_prefix(kind.prefix())
            .unwrap_or_else(|| panic!("{kind} claimed without its prefix"));
        assert_eq!(random.len(), TOKEN_RANDOM_CHARS);
        assert!(
            random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(TokenKind::of_prefixed(text), Some(kind));
    }
    if let Some(credential) = bearer_credential(text) {
        assert!(!credential.is_empty());
        assert_eq!(credential, credential.trim());
        let scheme = text.get(..7).unwrap_or_default();
        assert!(scheme.eq_ignore_ascii_case("bearer "), "{text:?}");
    }
    let header = format!("Bearer {text}");
    let trimmed = text.trim();
    assert_eq!(
        bearer_credential(&header),
        (!trimmed.is_empty()).then_some(trimmed)
    );
    if let Some(kind) = TokenKind::claimed_by(trimmed) {
        assert_eq!(
            bearer_credential(&header).and_then(TokenKind::claimed_by),
            Some(kind)
        );
    }
}

fuzz_target!(|text: &str| check(text));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("token", |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            check(text);
        }
    });
}
