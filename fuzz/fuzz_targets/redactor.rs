//! The redactor `vaultctl run` puts between a process and its terminal. The input
//! chooses the values, the output and how it is cut into reads. Properties: no panic;
//! streamed in any chunking without pauses, the output is what redacting the whole
//! text gives; and no value survives in it. Values are drawn from lowercase letters
//! and digits, which the `[REDACTED:NAME]` labels cannot spell, so a value found in the
//! output can only have come through unredacted.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use vault_redact::{Options, Redactor};

#[derive(Arbitrary, Debug)]
struct Input {
    values: Vec<Vec<u8>>,
    /// Output pieces: raw bytes, or the value with that index.
    pieces: Vec<Piece>,
    cuts: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum Piece {
    Text(Vec<u8>),
    Value(usize),
}

/// A value of 6 to 40 characters of `[a-z0-9]` made from arbitrary bytes.
fn value_of(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut value: Vec<u8> = bytes
        .iter()
        .take(40)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
        .collect();
    while value.len() < Options::DEFAULT_MIN_VALUE_LEN {
        value.push(b'q');
    }
    value
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn check(input: Input) {
    let values: Vec<Vec<u8>> = input.values.iter().take(8).map(|v| value_of(v)).collect();
    let names: Vec<String> = (0..values.len()).map(|n| format!("V{n}")).collect();
    let Ok(redactor) = Redactor::new(
        names
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(Vec::as_slice)),
        Options::default(),
    ) else {
        return;
    };
    let mut text = Vec::new();
    for piece in &input.pieces {
        match piece {
            Piece::Text(bytes) => text.extend_from_slice(bytes),
            Piece::Value(n) if !values.is_empty() => {
                text.extend_from_slice(&values[n % values.len()])
            }
            Piece::Value(_) => {}
        }
    }
    let whole = redactor.redact(&text);

    let mut stream = redactor.stream();
    let mut streamed = Vec::new();
    let mut rest = text.as_slice();
    for cut in &input.cuts {
        let (chunk, after) = rest.split_at(usize::from(*cut).min(rest.len()));
        stream.push(chunk, &mut streamed);
        rest = after;
    }
    stream.push(rest, &mut streamed);
    stream.finish(&mut streamed);
    assert!(streamed == whole, "streaming changed what redaction gives");

    for (name, value) in names.iter().zip(&values) {
        assert!(!contains(&whole, value), "{name} survived redaction");
    }
}

fuzz_target!(|input: Input| check(input));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("redactor", |bytes| {
        if let Some(input) = vault_fuzz::typed(bytes) {
            check(input);
        }
    });
}
