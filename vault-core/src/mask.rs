//! Masking: the only view of a value that people and listings ever get (`sk-****abc`).
//!
//! The rule, in characters (not bytes): a known prefix (up to and including the first
//! `-` or `_`, when that falls within the first 4 characters) and the last 3
//! characters may be shown, but together they must stay within a quarter of the
//! value; the prefix is given up first, then the suffix. A part holding whitespace or
//! a control character is never shown (a PEM's trailing newline, say), so a mask is
//! always one printable line. The stars have a fixed width, so the length stays hidden.

use std::fmt;

use serde::Serialize;

const STARS: &str = "****";
const SUFFIX_CHARS: usize = 3;
const PREFIX_WINDOW: usize = 4;

/// A masked rendering of a value; safe to print, log and serialize.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Masked(String);

impl Masked {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masked({})", self.0)
    }
}

fn printable(part: &str) -> bool {
    part.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

/// Byte offset of the start of the `n`th character counted from the end.
fn start_of_last_chars(value: &str, n: usize) -> usize {
    value
        .char_indices()
        .rev()
        .nth(n - 1)
        .map_or(0, |(offset, _)| offset)
}

pub fn mask(value: &str) -> Masked {
    let chars = value.chars().count();
    let budget = chars / 4;

    let prefix_end = value
        .char_indices()
        .take(PREFIX_WINDOW)
        .find(|&(_, c)| c == '-' || c == '_')
        .map(|(offset, c)| offset + c.len_utf8());
    let prefix_chars = prefix_end.map_or(0, |end| value[..end].chars().count());

    let show_suffix = SUFFIX_CHARS <= budget;
    // Without a prefix (`prefix_end` is `None`) nothing shows, whatever this says.
    let show_prefix = prefix_chars + SUFFIX_CHARS <= budget;

    let prefix = match prefix_end {
        Some(end) if show_prefix && printable(&value[..end]) => &value[..end],
        _ => "",
    };
    let suffix = if show_suffix {
        let tail = &value[start_of_last_chars(value, SUFFIX_CHARS)..];
        if printable(tail) { tail } else { "" }
    } else {
        ""
    };
    Masked(format!("{prefix}{STARS}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expected: &str) {
        assert_eq!(mask(value).as_str(), expected, "mask of {value:?}");
    }

    /// Characters of the mask other than the fixed stars.
    fn revealed(value: &str) -> usize {
        mask(value).as_str().chars().count() - STARS.len()
    }

    #[test]
    fn a_mask_prints_as_itself_and_debugs_by_its_type() {
        let masked = mask("sk-live-0123456789abcdef");
        assert_eq!(masked.to_string(), masked.as_str());
        assert_eq!(
            format!("{masked:?}"),
            format!("Masked({})", masked.as_str())
        );
        assert_eq!(masked.as_str(), "sk-****def");
    }

    #[test]
    fn short_values_are_plain_stars() {
        check("", "****");
        check("a", "****");
        check("sk-abcdefgh", "****"); // 11 characters
        check("abcdefghijk", "****");
    }

    #[test]
    fn twelve_characters_reveal_only_the_suffix() {
        check("abcdefghijkl", "****jkl");
        check("sk-abcdefghi", "****ghi"); // the prefix would break the quarter
        check("abcdefghijklm", "****klm"); // 13
    }

    #[test]
    fn known_prefixes_appear_once_the_value_is_long_enough() {
        check("sk-abcdefghijklmnopqrstu", "sk-****stu"); // 24: 6 of 24 revealed
        check("sk-abcdefghijklmnopqrst", "****rst"); // 23: the prefix no longer fits
        check("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_****789");
        check("sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-****xyz");
        check("xoxb-123456789012-abcdefghijkl", "****jkl"); // '-' is the 5th character
    }

    #[test]
    fn separators_beyond_the_fourth_character_are_not_prefixes() {
        check("whsec_abcdefghijklmnopqrstuvwxyz", "****xyz");
        check("AKIA_ABCDEFGHIJKLMNOPQRSTUV", "****TUV");
        check("AKI_ABCDEFGHIJKLMNOPQRSTUVWXYZ", "AKI_****XYZ");
    }

    #[test]
    fn multi_byte_characters_are_counted_and_cut_as_characters() {
        // 12 characters, 36 bytes: the quarter is counted in characters.
        check("日本語日本語日本語日本語", "****日本語");
        let twelve_with_tail = "ééééééééé日本語";
        check(twelve_with_tail, "****日本語");
        // Every cut point lands on a character boundary, whatever the widths around it.
        let widths = ["a", "é", "€", "😀"];
        for first in widths {
            for sep in ["-", "_"] {
                for last in widths {
                    let value =
                        format!("{first}{first}{sep}{}{last}{last}{last}", first.repeat(18));
                    let masked = mask(&value);
                    assert_eq!(
                        masked.as_str(),
                        format!("{first}{first}{sep}****{last}{last}{last}"),
                        "{value:?}"
                    );
                }
            }
        }
        check("é-éééééééééééééééééééé😀😀😀", "é-****😀😀😀");
    }

    #[test]
    fn multi_line_pem_masks_to_one_printable_line() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
        let masked = mask(pem);
        assert_eq!(masked.as_str(), "-****");
        let without_newline = pem.trim_end();
        assert_eq!(mask(without_newline).as_str(), "-****---");
        assert!(!masked.as_str().contains('\n'));
    }

    #[test]
    fn whitespace_or_control_characters_are_never_revealed() {
        check("abcdefghij\tk\u{7}", "****");
        check("sk- bcdefghijklmnopqrstuvwxyz", "sk-****xyz");
        check(" k-abcdefghijklmnopqrstuvwxyz", "****xyz");
    }

    #[test]
    fn the_mask_never_reveals_more_than_a_quarter_nor_the_length() {
        let alphabet = ["a", "-", "_", "é", "日", "😀", "\n"];
        for len in 0..80 {
            for (i, ch) in alphabet.iter().enumerate() {
                let value: String = (0..len)
                    .map(|j| alphabet[(i + j * 7 + len) % alphabet.len()])
                    .chain(std::iter::once(*ch))
                    .collect();
                let chars = value.chars().count();
                assert!(
                    revealed(&value) * 4 <= chars,
                    "{value:?} reveals {} of {chars}",
                    revealed(&value)
                );
                assert!(mask(&value).as_str().contains(STARS));
            }
        }
        // Two values of very different lengths but the same ends mask identically.
        assert_eq!(
            mask(&format!("sk-{}xyz", "a".repeat(30))),
            mask(&format!("sk-{}xyz", "b".repeat(3000)))
        );
    }

    #[test]
    fn the_readme_masking_examples_are_true() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Masking")
            .nth(1)
            .expect("README has a Masking section");
        let rows: Vec<(&str, &str)> = section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                match cells.as_slice() {
                    ["", value, masked, ""] if value.starts_with('`') => {
                        Some((value.trim_matches('`'), masked.trim_matches('`')))
                    }
                    _ => None,
                }
            })
            .collect();
        assert!(rows.len() >= 5, "the README table lost its rows");
        for (value, masked) in rows {
            check(value, masked);
        }
    }

    #[test]
    fn revealed_parts_are_real_prefix_and_suffix_of_the_value() {
        for value in [
            "sk-abcdefghijklmnopqrstuvwxyz",
            "ghp_0123456789abcdefghijklmnop",
            "plain-value-without-known-prefix-but-long",
        ] {
            let masked = mask(value);
            let (head, tail) = masked.as_str().split_once(STARS).expect("stars present");
            assert!(value.starts_with(head));
            assert!(value.ends_with(tail));
        }
    }
}
