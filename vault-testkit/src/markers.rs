//! Marker scans: a test stores a recognisable value, then proves that a response, a
//! log, an error or a file on disk never carries it, in any of the spellings a leak
//! could take (as is, base64, hex).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The spellings under which `marker` could leak: itself, standard and URL-safe
/// base64 of it (every alignment, so a marker inside a longer encoded value is still
/// found), and lower-case hex.
pub fn spellings(marker: &str) -> Vec<String> {
    let bytes = marker.as_bytes();
    let mut found = vec![marker.to_owned(), crate::db::hex_of(bytes)];
    for skip in 0..3 {
        let Some(rest) = bytes.get(skip..) else {
            continue;
        };
        // Bytes cut at a multiple of three encode the same whatever precedes them.
        let whole = rest.len() / 3 * 3;
        if whole >= 6 {
            let cut = &rest[..whole];
            found.push(STANDARD.encode(cut));
            found.push(URL_SAFE_NO_PAD.encode(cut));
        }
    }
    found
}

/// Panics naming `context` when `text` carries `marker` in any spelling.
pub fn assert_absent(context: &str, text: &str, marker: &str) {
    for spelling in spellings(marker) {
        assert!(
            !text.contains(&spelling),
            "{context} disclosed the marker (as {spelling:?})"
        );
    }
}

/// Every file under `dir` whose bytes hold `marker` in any spelling.
pub fn files_holding(dir: &Path, marker: &str) -> Vec<PathBuf> {
    let spellings = spellings(marker);
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && spellings
                    .iter()
                    .any(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_found_in_every_spelling_a_leak_takes() {
        let marker = "ghp_markerValue1234";
        assert!(spellings(marker).contains(&"Z2hwX21hcmtlclZhbHVlMTIz".to_owned()));
        for leak in [
            format!("value={marker}"),
            "b64=Z2hwX21hcmtlclZhbHVlMTIzNA==".to_owned(),
            format!("hex={}", crate::db::hex_of(marker.as_bytes())),
        ] {
            let caught = std::panic::catch_unwind(|| assert_absent("a log", &leak, marker));
            assert!(caught.is_err(), "{leak} was not caught");
        }
        assert_absent("a clean log", "nothing to see", marker);
    }

    #[test]
    fn files_holding_the_marker_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("nested")).expect("mkdir");
        std::fs::write(
            dir.path().join("nested/leak.log"),
            b"x ghp_markerValue1234 y",
        )
        .expect("write");
        std::fs::write(dir.path().join("clean.log"), b"nothing").expect("write");
        assert_eq!(
            files_holding(dir.path(), "ghp_markerValue1234"),
            [dir.path().join("nested/leak.log")]
        );
    }
}
