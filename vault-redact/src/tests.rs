//! The redactor's rules, one test each, and the properties over random values and chunkings:
//! no value, and no encoded form of one, ever reaches the output.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;

use super::*;

fn redactor(values: &[(&str, &str)]) -> Redactor {
    Redactor::new(
        values.iter().map(|(name, value)| (*name, value.as_bytes())),
        Options::default(),
    )
    .expect("builds")
}

/// A redactor over generated values, named `V0`, `V1`, … in order.
fn redactor_of_numbered(values: &[String]) -> Redactor {
    let named: Vec<(String, &str)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("V{i}"), v.as_str()))
        .collect();
    Redactor::new(
        named
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        Options::default(),
    )
    .expect("builds")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

/// `input` fed in chunks of the given sizes (cycled), with a flush after each chunk
/// whose index is in `flush_after`.
fn streamed(redactor: &Redactor, input: &[u8], sizes: &[usize], flush_after: &[bool]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = redactor.stream();
    let mut rest = input;
    let mut index = 0;
    while !rest.is_empty() {
        let size = sizes[index % sizes.len()].clamp(1, rest.len());
        let (chunk, after) = rest.split_at(size);
        stream.push(chunk, &mut out);
        if flush_after.get(index % flush_after.len().max(1)) == Some(&true) {
            stream.flush(&mut out);
        }
        rest = after;
        index += 1;
    }
    stream.finish(&mut out);
    out
}

#[test]
fn a_value_and_each_of_its_forms_is_replaced_by_its_name() {
    let value = "s3cr3t/v@lue+\"q\"";
    let r = redactor(&[("TOKEN", value)]);
    let json = serde_json::Value::String(value.into()).to_string();
    let printed = format!(
        "raw {value} | json {json} | b64 {} | url {} | hex {} | HEX {} | pct {}",
        STANDARD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        hex::encode(value),
        hex::encode_upper(value),
        "s3cr3t%2Fv%40lue%2B%22q%22",
    );
    let out = text(r.redact(printed.as_bytes()));
    assert_eq!(
        out,
        "raw [REDACTED:TOKEN] | json \"[REDACTED:TOKEN]\" | b64 [REDACTED:TOKEN] | url \
         [REDACTED:TOKEN] | hex [REDACTED:TOKEN] | HEX [REDACTED:TOKEN] | pct [REDACTED:TOKEN]"
    );
}

#[test]
fn a_value_inside_a_larger_base64_blob_is_replaced_at_every_alignment() {
    let value = "ghp_0123456789abcdefghij";
    let r = redactor(&[("GH", value)]);
    for prefix in ["", "a", "ab"] {
        let blob = STANDARD.encode(format!("{prefix}{{\"token\":\"{value}\"}}"));
        let out = text(r.redact(blob.as_bytes()));
        assert!(out.contains("[REDACTED:GH]"), "{prefix:?}: {out}");
    }
}

#[test]
fn output_without_values_passes_unchanged_through_any_chunking() {
    let r = redactor(&[("A", "correct-horse-battery")]);
    let input = b"correct horse, battery staple; correct-horse-batter\nlast".to_vec();
    for size in 1..input.len() {
        assert_eq!(streamed(&r, &input, &[size], &[false]), input, "{size}");
    }
    // With a pause after every read, too, while no held start of the value reaches
    // the minimum length (a longer one goes out as the name: see below).
    let input = b"corre horse, battery staple; corre-horse-batter\nlast".to_vec();
    for size in 1..input.len() {
        assert_eq!(streamed(&r, &input, &[size], &[true]), input, "{size}");
    }
}

#[test]
fn a_value_split_across_writes_is_still_replaced() {
    let r = redactor(&[("A", "correct-horse-battery")]);
    let input = b"x correct-horse-battery y";
    for size in 1..input.len() {
        assert_eq!(
            text(streamed(&r, input, &[size], &[false])),
            "x [REDACTED:A] y",
            "{size}"
        );
    }
}

#[test]
fn a_pause_inside_a_value_shows_less_than_the_minimum_and_redacts_the_rest() {
    let r = redactor(&[("A", "correct-horse-battery")]);
    let mut out = Vec::new();
    let mut stream = r.stream();
    stream.push(b"key: corr", &mut out);
    stream.flush(&mut out);
    // Four bytes are shorter than the minimum: they show; the rest never does.
    assert_eq!(text(out.clone()), "key: corr");
    stream.push(b"ect-horse-battery.\n", &mut out);
    stream.finish(&mut out);
    assert_eq!(text(out), "key: corr[REDACTED:A].\n");

    // A held start at least the minimum long is written as the name.
    let mut out = Vec::new();
    let mut stream = r.stream();
    stream.push(b"key: correct-ho", &mut out);
    stream.flush(&mut out);
    assert_eq!(text(out.clone()), "key: [REDACTED:A]");
    assert!(!stream.has_pending());
    stream.flush(&mut out);
    assert_eq!(
        text(out.clone()),
        "key: [REDACTED:A]",
        "a second flush adds nothing"
    );
    stream.push(b"rse-batt", &mut out);
    stream.flush(&mut out);
    assert_eq!(
        text(out.clone()),
        "key: [REDACTED:A]",
        "one label while it grows"
    );
    stream.push(b"ery!", &mut out);
    stream.finish(&mut out);
    assert_eq!(
        text(out),
        "key: [REDACTED:A]!",
        "and none again when it completes"
    );

    // Output that only started like the value: over-redacted from the pause on,
    // never shown in part.
    let mut out = Vec::new();
    let mut stream = r.stream();
    stream.push(b"correct-", &mut out);
    stream.flush(&mut out);
    stream.push(b"ly done\n", &mut out);
    stream.finish(&mut out);
    assert_eq!(text(out), "[REDACTED:A]ly done\n");
}

#[test]
fn a_start_of_a_value_that_never_completes_is_given_back() {
    let r = redactor(&[("A", "correct-horse-battery")]);
    let mut out = Vec::new();
    let mut stream = r.stream();
    stream.push(b"cor", &mut out);
    assert!(stream.has_pending());
    stream.flush(&mut out);
    stream.push(b"rection\n", &mut out);
    stream.finish(&mut out);
    assert_eq!(text(out), "correction\n");
}

#[test]
fn values_shorter_than_the_minimum_are_named_and_left_alone() {
    let r = Redactor::new(
        [
            ("PORT", b"8080".as_slice()),
            ("KEY", b"abcdefgh".as_slice()),
        ],
        Options { min_value_len: 5 },
    )
    .expect("builds");
    assert_eq!(r.too_short(), ["PORT"]);
    assert_eq!(text(r.redact(b"8080 abcdefgh")), "8080 [REDACTED:KEY]");
}

#[test]
fn the_longest_form_wins_where_two_overlap() {
    let r = redactor(&[("SHORT", "abcdefgh"), ("LONG", "abcdefghijkl")]);
    assert_eq!(
        text(r.redact(b"abcdefghijkl abcdefgh")),
        "[REDACTED:LONG] [REDACTED:SHORT]"
    );
}

#[test]
fn no_values_means_output_passes_through() {
    let r = Redactor::new(std::iter::empty(), Options::default()).expect("builds");
    let mut out = Vec::new();
    let mut stream = r.stream();
    stream.push(b"anything", &mut out);
    assert!(!stream.has_pending());
    stream.flush(&mut out);
    stream.finish(&mut out);
    assert_eq!(out, b"anything");
}

#[test]
fn debug_names_the_values_and_shows_none() {
    let r = redactor(&[("TOKEN", "hunter2-hunter2")]);
    let shown = format!("{r:?} {:?}", r.stream());
    assert!(shown.contains("TOKEN"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains(&hex::encode("hunter2-hunter2")), "{shown}");
}

/// The forms a test expects gone, computed here rather than by `forms`.
fn printed_forms(value: &str) -> Vec<String> {
    let json = serde_json::Value::String(value.into()).to_string();
    vec![
        value.to_owned(),
        json[1..json.len() - 1].to_owned(),
        STANDARD.encode(value),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        hex::encode(value),
        hex::encode_upper(value),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ]
}

/// The base64 characters of a blob that carry only the value's bits, when the value
/// starts `offset` bytes in.
fn inner_characters(blob: &str, offset: usize, len: usize) -> &str {
    &blob[(8 * offset).div_ceil(6)..(8 * (offset + len)) / 6]
}

fn value_strategy() -> impl Strategy<Value = String> {
    // Letters, digits, the characters encoders escape, whitespace and non-ASCII.
    "[a-zA-Z0-9 \"\\\\/+=%$#&?\n\té€😀-]{6,48}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_value_or_encoded_form_survives_any_chunking(
        values in prop::collection::vec(value_strategy(), 1..5),
        filler in "[a-z .,:\n]{0,24}",
        prefix_len in 0usize..3,
        sizes in prop::collection::vec(1usize..64, 1..8),
        flushes in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let r = redactor_of_numbered(&values);
        let mut printed = String::new();
        let mut blobs = Vec::new();
        for value in &values {
            for form in printed_forms(value) {
                printed.push_str(&filler);
                printed.push_str(&form);
            }
            printed.push_str(&format!("{{\"key\": {}}}", serde_json::Value::String(value.clone())));
            let mut inner = "xy"[..prefix_len].to_owned();
            inner.push_str(value);
            inner.push_str("-tail");
            for blob in [STANDARD.encode(&inner), URL_SAFE_NO_PAD.encode(&inner)] {
                printed.push_str(&filler);
                printed.push_str(&blob);
                blobs.push((blob, value.len()));
            }
        }
        let out = String::from_utf8_lossy(&streamed(&r, printed.as_bytes(), &sizes, &flushes))
            .into_owned();
        for value in &values {
            for form in printed_forms(value) {
                prop_assert!(!out.contains(&form), "{form:?} in {out:?}");
            }
        }
        for (blob, len) in &blobs {
            let inner = inner_characters(blob, prefix_len, *len);
            prop_assert!(!out.contains(inner), "{inner:?} in {out:?}");
        }
    }

    #[test]
    fn streaming_without_pauses_writes_what_the_whole_text_gives(
        values in prop::collection::vec(value_strategy(), 1..4),
        pieces in prop::collection::vec(("[a-z \n]{0,12}", 0usize..4), 1..12),
        sizes in prop::collection::vec(1usize..40, 1..6),
    ) {
        let r = redactor_of_numbered(&values);
        let mut input = String::new();
        for (text, pick) in &pieces {
            input.push_str(text);
            if let Some(value) = values.get(*pick) {
                input.push_str(value);
            }
        }
        let whole = r.redact(input.as_bytes());
        prop_assert_eq!(streamed(&r, input.as_bytes(), &sizes, &[false]), whole);
    }

    #[test]
    fn text_without_values_is_never_changed(
        input in "[ -~\n]{0,300}",
        sizes in prop::collection::vec(1usize..50, 1..6),
        flushes in prop::collection::vec(any::<bool>(), 1..6),
    ) {
        // Values drawn from characters the input never holds.
        let r = redactor(&[("A", "ÄÖÜäöüß-one"), ("B", "€€€-two-€€€")]);
        prop_assert_eq!(streamed(&r, input.as_bytes(), &sizes, &flushes), input.as_bytes());
    }
}
