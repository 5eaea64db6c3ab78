//! The forms a value takes when a program prints it: as it is, and in the encodings
//! programs and their libraries apply on the way out (base64 in both alphabets, with
//! and without padding and at each of the three byte alignments inside a longer
//! encoded blob; hex in both cases; percent-encoding; JSON string escaping).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use zeroize::Zeroizing;

/// What RFC 3986 leaves unescaped (Python's `quote_plus`, Go's `QueryEscape`);
/// everything else is `%XX`.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Python's `quote` keeps `/` as well.
const URL_PATH: &AsciiSet = &URL_COMPONENT.remove(b'/');
/// JavaScript's `encodeURIComponent` keeps `!*'()` as well.
const JS_COMPONENT: &AsciiSet = &URL_COMPONENT
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Every form of `value` at least `min_len` bytes long, the value itself first.
pub fn forms_of(value: &[u8], min_len: usize) -> Vec<Zeroizing<Vec<u8>>> {
    let mut forms: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut add = |form: Vec<u8>| {
        let form = Zeroizing::new(form);
        if form.len() >= min_len && !forms.contains(&form) {
            forms.push(form);
        }
    };
    add(value.to_vec());
    add(hex::encode(value).into_bytes());
    add(hex::encode_upper(value).into_bytes());
    for (padded, unpadded) in [(&STANDARD, &STANDARD_NO_PAD), (&URL_SAFE, &URL_SAFE_NO_PAD)] {
        // The value encoded alone, as `base64 <<< value` prints it, with its padding
        // or without.
        add(padded.encode(value).into_bytes());
        add(unpadded.encode(value).into_bytes());
        for offset in 0..3 {
            add(aligned_core(unpadded, value, offset).into_bytes());
        }
    }
    for set in [URL_COMPONENT, URL_PATH, JS_COMPONENT, NON_ALPHANUMERIC] {
        let percent = Zeroizing::new(percent_encode(value, set).to_string());
        add(lowercase_escapes(&percent).into_bytes());
        // Form encoding writes a space as `+`.
        add(percent.replace("%20", "+").into_bytes());
        add(percent.as_bytes().to_vec());
    }
    if let Ok(text) = std::str::from_utf8(value) {
        let escaped = json_escaped(text);
        add(escaped.as_bytes().to_vec());
        // Python's `json.dumps` and others escape every non-ASCII character.
        add(ascii_only(&escaped).into_bytes());
    }
    forms
}

/// The characters of the base64 encoding of `value` that depend on the value alone,
/// when the value starts `offset` bytes (mod 3) into a longer encoded blob: the
/// characters at either end that share bits with the bytes around it are left out.
pub fn aligned_core(engine: &impl Engine, value: &[u8], offset: usize) -> String {
    let mut shifted = Zeroizing::new(vec![0u8; offset]);
    shifted.extend_from_slice(value);
    let encoded = Zeroizing::new(engine.encode(shifted.as_slice()));
    // Character i holds bits 6i..6i+6; the value's bits are 8·offset..8·(offset+len).
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + value.len())) / 6;
    encoded.get(first..end.max(first)).unwrap_or("").to_owned()
}

/// `text` as it appears between the quotes of a JSON string.
fn json_escaped(text: &str) -> Zeroizing<String> {
    let quoted = Zeroizing::new(serde_json::Value::String(text.to_owned()).to_string());
    Zeroizing::new(quoted[1..quoted.len() - 1].to_owned())
}

/// `escaped` with every non-ASCII character as `\uXXXX` (UTF-16, lowercase hex).
fn ascii_only(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    for c in escaped.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `%2F` → `%2f`: some encoders write lowercase hex digits.
fn lowercase_escapes(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut digits_left = 0;
    for c in percent.chars() {
        if digits_left > 0 {
            out.push(c.to_ascii_lowercase());
            digits_left -= 1;
        } else {
            if c == '%' {
                digits_left = 2;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(forms: &[Zeroizing<Vec<u8>>], form: &str) -> bool {
        forms.iter().any(|f| f.as_slice() == form.as_bytes())
    }

    #[test]
    fn each_encoding_of_a_value_is_a_form() {
        let value = "pa ss/wörd\"\n?";
        let forms = forms_of(value.as_bytes(), 4);
        assert_eq!(forms[0].as_slice(), value.as_bytes());
        for expected in [
            hex::encode(value),
            hex::encode_upper(value),
            STANDARD.encode(value),
            URL_SAFE.encode(value),
            "pa%20ss%2Fw%C3%B6rd%22%0A%3F".to_owned(),
            "pa%20ss%2fw%c3%b6rd%22%0a%3f".to_owned(),
            "pa+ss%2Fw%C3%B6rd%22%0A%3F".to_owned(),
            "pa ss/wörd\\\"\\n?".to_owned(),
            "pa ss/w\\u00f6rd\\\"\\n?".to_owned(),
        ] {
            assert!(has(&forms, &expected), "{expected} missing");
        }
    }

    #[test]
    fn a_value_inside_a_longer_blob_is_found_at_each_alignment() {
        let value = b"0123456789abcdef";
        for offset in 0..3 {
            for engine in [&STANDARD, &URL_SAFE] {
                let mut blob = b"xyz"[..offset].to_vec();
                blob.extend_from_slice(value);
                blob.extend_from_slice(b"tail");
                let encoded = engine.encode(&blob);
                let core = aligned_core(engine, value, offset);
                assert!(core.len() >= 19, "{offset}: {core}");
                assert!(encoded.contains(&core), "{offset}: {core} not in {encoded}");
            }
        }
    }

    #[test]
    fn the_core_leaves_out_exactly_the_shared_characters() {
        // 3 bytes at offset 0 are 4 whole characters; at offset 1 the first character
        // is shared with the byte before and the last with the byte after.
        assert_eq!(aligned_core(&STANDARD_NO_PAD, b"abc", 0), "YWJj");
        // [0, a, b, c] is "AGFiYw": characters 2..5 hold bits of a, b and c alone.
        assert_eq!(aligned_core(&STANDARD_NO_PAD, b"abc", 1), "FiY");
        // [0, 0, a, b, c] is "AABhYmM": characters 3..6.
        assert_eq!(aligned_core(&STANDARD_NO_PAD, b"abc", 2), "hYm");
        assert_eq!(aligned_core(&STANDARD_NO_PAD, b"", 1), "");
    }

    #[test]
    fn forms_shorter_than_the_minimum_and_repeats_are_left_out() {
        let forms = forms_of(b"abcdefgh", 12);
        assert!(forms.iter().all(|f| f.len() >= 12));
        assert!(!has(&forms, "abcdefgh"));
        let forms = forms_of(b"abcdefgh", 1);
        let mut unique = forms.clone();
        unique.dedup();
        assert_eq!(unique.len(), forms.len());
    }

    #[test]
    fn a_character_beyond_the_basic_plane_escapes_as_a_surrogate_pair() {
        assert_eq!(ascii_only("a😀"), "a\\ud83d\\ude00");
    }
}
