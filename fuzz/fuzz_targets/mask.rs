//! The masking function: the only view of a value listings and people get. Properties:
//! no panic; a mask is `prefix + "****" + suffix` where the prefix starts the value and
//! ends at a `-` or `_` within its first 4 characters, the suffix is empty or the
//! value's last 3 characters, together they show at most a quarter of the value's
//! characters, and nothing shown holds whitespace or a control character. The length
//! of the value never shows: the stars are always four.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::fuzz_target;
use vault_core::mask;

fn printable(part: &str) -> bool {
    part.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

fn check(value: &str) {
    let masked = mask(value);
    let text = masked.as_str();
    let (prefix, suffix) = text
        .split_once("****")
        .unwrap_or_else(|| panic!("no stars in {text:?}"));
    // The stars are the first four in the mask: a prefix never holds a `*` run.
    assert!(
        value.starts_with(prefix),
        "the prefix is not the value's start"
    );
    assert!(value.ends_with(suffix), "the suffix is not the value's end");
    let chars = value.chars().count();
    let shown = prefix.chars().count() + suffix.chars().count();
    assert!(shown <= chars / 4, "{shown} of {chars} characters shown");
    if !prefix.is_empty() {
        assert!(prefix.chars().count() <= 4);
        assert!(prefix.ends_with(['-', '_']));
        assert_eq!(
            prefix.chars().filter(|c| *c == '-' || *c == '_').count(),
            1,
            "the prefix runs past the first separator"
        );
    }
    assert!(suffix.is_empty() || suffix.chars().count() == 3);
    assert!(printable(prefix) && printable(suffix));
    assert_eq!(text.len(), prefix.len() + 4 + suffix.len());
}

fuzz_target!(|value: &str| check(value));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("mask", |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            check(text);
        }
    });
}
