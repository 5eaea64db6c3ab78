//! Redaction of secret values from a process's output, as it streams.
//!
//! A [`Redactor`] is built once from the values injected into a process (each with the
//! name it was injected under). It replaces every occurrence of a value, and of the
//! forms programs print values in (see [`forms`]), with `[REDACTED:NAME]`. A
//! [`Stream`] applies it to output that arrives in chunks: an occurrence split across
//! reads is still found, because the stream holds back the few bytes at the end of a
//! chunk that could start one, and gives them up on [`Stream::flush`] (which a caller
//! runs when no output has come for a bounded time) or [`Stream::finish`].
//!
//! What a flush may show: when output pauses in the middle of a value, the stream
//! cannot wait forever, so it writes the held bytes out. A held tail that is the start
//! of a value (or of one of its forms) is written as `[REDACTED:NAME]` when it is at
//! least the minimum value length long, and as it is when shorter; either way the rest
//! of the value is still redacted when it comes. So at most `min_value_len - 1` leading
//! bytes of a value can show, and only when output stops in the middle of it.
//!
//! ```
//! use vault_redact::{Options, Redactor};
//!
//! let redactor = Redactor::new([("API_KEY", b"sk-live-0123456789".as_slice())], Options::default())?;
//! let mut stream = redactor.stream();
//! let mut out = Vec::new();
//! stream.push(b"key=sk-live-0123", &mut out);
//! stream.push(b"456789 and c2stbGl2ZS0wMTIzNDU2Nzg5 too\n", &mut out);
//! stream.finish(&mut out);
//! assert_eq!(out, b"key=[REDACTED:API_KEY] and [REDACTED:API_KEY] too\n");
//! # Ok::<(), vault_redact::RedactError>(())
//! ```

pub mod forms;

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// The forms' total length up to which they are matched by a DFA.
const DFA_MAX_FORM_BYTES: usize = 192 * 1024;
use thiserror::Error;
use zeroize::Zeroizing;

/// The one error of this crate.
#[derive(Debug, Error)]
pub enum RedactError {
    /// The values' forms are too many or too long for one matcher.
    #[error("the values to redact are too many or too large to match: {0}")]
    TooLarge(#[from] aho_corasick::BuildError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Values shorter than this are not redacted (`1`, `true` or a port number would
    /// blank out ordinary output); [`Redactor::too_short`] names them.
    pub min_value_len: usize,
}

impl Options {
    pub const DEFAULT_MIN_VALUE_LEN: usize = 6;
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_value_len: Self::DEFAULT_MIN_VALUE_LEN,
        }
    }
}

/// A matcher for a set of values and their forms. Holds copies of the values' forms
/// (zeroized on drop; the matcher's own tables are not), and shows none in `Debug`.
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    /// For each pattern of the matcher: the form, and the index of its name.
    patterns: Vec<(Zeroizing<Vec<u8>>, usize)>,
    names: Vec<String>,
    too_short: Vec<String>,
    longest: usize,
    min_value_len: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("names", &self.names)
            .field("forms", &self.patterns.len())
            .field(
                "form_bytes",
                &self.patterns.iter().map(|(f, _)| f.len()).sum::<usize>(),
            )
            .field("too_short", &self.too_short)
            .field(
                "matcher_bytes",
                &self.matcher.as_ref().map_or(0, AhoCorasick::memory_usage),
            )
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for `values`, each a name and the bytes injected under it.
    pub fn new<'a>(
        values: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        options: Options,
    ) -> Result<Redactor, RedactError> {
        let min_value_len = options.min_value_len.max(1);
        let mut names = Vec::new();
        let mut too_short = Vec::new();
        let mut patterns = Vec::new();
        for (name, value) in values {
            if value.len() < min_value_len {
                too_short.push(name.to_owned());
                continue;
            }
            let name_index = names.len();
            names.push(name.to_owned());
            for form in forms::forms_of(value, min_value_len) {
                // The same bytes under two names are redacted as the first.
                if !patterns.iter().any(|(known, _)| *known == form) {
                    patterns.push((form, name_index));
                }
            }
        }
        let total: usize = patterns.iter().map(|(form, _)| form.len()).sum();
        // A DFA scans output about 1.7 times as fast as the NFA (the README's figures)
        // but its tables grow with the forms' total length: the 100 values of 20–200
        // bytes of the benchmark make about 33 MiB. Past this size the NFA's few MiB
        // win.
        let kind = if total <= DFA_MAX_FORM_BYTES {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(kind))
                    .build(patterns.iter().map(|(form, _)| form.as_slice()))?,
            )
        };
        let longest = patterns
            .iter()
            .map(|(form, _)| form.len())
            .max()
            .unwrap_or(0);
        Ok(Redactor {
            matcher,
            patterns,
            names,
            too_short,
            longest,
            min_value_len,
        })
    }

    /// The names whose values are too short to redact.
    pub fn too_short(&self) -> &[String] {
        &self.too_short
    }

    /// A stream over output that arrives in chunks.
    pub fn stream(&self) -> Stream<'_> {
        Stream {
            redactor: self,
            pending: Zeroizing::new(Vec::new()),
            emitted: 0,
            emitted_as_label: false,
        }
    }

    /// `text`, whole, with every value and form replaced.
    pub fn redact(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let mut stream = self.stream();
        stream.push(text, &mut out);
        stream.finish(&mut out);
        out
    }

    fn write_label(&self, pattern: usize, out: &mut Vec<u8>) {
        let name = self
            .patterns
            .get(pattern)
            .and_then(|(_, name)| self.names.get(*name))
            .map_or("", String::as_str);
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(name.as_bytes());
        out.push(b']');
    }

    /// Where the longest suffix of `tail` that starts some form (without being one)
    /// begins, and that form's pattern index.
    fn partial_start(&self, tail: &[u8]) -> Option<(usize, usize)> {
        let from = tail.len().saturating_sub(self.longest.saturating_sub(1));
        (from..tail.len()).find_map(|start| {
            let suffix = &tail[start..];
            self.patterns
                .iter()
                .position(|(form, _)| form.len() > suffix.len() && form.starts_with(suffix))
                .map(|pattern| (start, pattern))
        })
    }
}

/// Output passing through a [`Redactor`] chunk by chunk.
pub struct Stream<'r> {
    redactor: &'r Redactor,
    /// Bytes that may still be part of an occurrence.
    pending: Zeroizing<Vec<u8>>,
    /// How many leading bytes of `pending` a flush already wrote out.
    emitted: usize,
    /// Whether those bytes went out as a label (the start of a form, held past a
    /// pause): an occurrence that completes them needs no second label.
    emitted_as_label: bool,
}

impl fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("pending_bytes", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Stream<'_> {
    /// Whether bytes are held back (a caller's cue to flush after a pause).
    pub fn has_pending(&self) -> bool {
        self.pending.len() > self.emitted
    }

    /// Whether an occurrence over `start..end` still needs its label written.
    fn needs_label(&self, start: usize, end: usize) -> bool {
        end > self.emitted && !(start < self.emitted && self.emitted_as_label)
    }

    /// Writes every occurrence in `pending` that starts before `settled`, and the
    /// bytes between them up to `settled`; returns where the written part ends.
    fn write_settled(&self, matcher: &AhoCorasick, settled: usize, out: &mut Vec<u8>) -> usize {
        let buffer = &self.pending[..];
        let mut position = 0;
        for found in matcher.find_iter(buffer) {
            if found.start() >= settled {
                break;
            }
            write_new(out, buffer, position, found.start(), self.emitted);
            if self.needs_label(found.start(), found.end()) {
                self.redactor.write_label(found.pattern().as_usize(), out);
            }
            position = found.end();
        }
        if position < settled {
            write_new(out, buffer, position, settled, self.emitted);
            position = settled;
        }
        position
    }

    /// Drops the first `written` bytes of `pending`.
    fn consume(&mut self, written: usize) {
        self.pending.drain(..written);
        self.emitted = self.emitted.saturating_sub(written);
        if self.emitted == 0 {
            self.emitted_as_label = false;
        }
    }

    /// Adds `chunk`, writing to `out` all that no later byte can change.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(matcher) = &self.redactor.matcher else {
            out.extend_from_slice(chunk);
            return;
        };
        self.pending.extend_from_slice(chunk);
        // An occurrence starting at `s` is settled once the buffer holds the longest
        // form's length from `s`: no later byte can make it longer or start one before.
        let settled = (self.pending.len() + 1).saturating_sub(self.redactor.longest);
        let written = self.write_settled(matcher, settled, out);
        self.consume(written);
    }

    /// Writes out everything held, as though the output ended here, but keeps the
    /// start of a form that may yet be completed, so its rest is still redacted.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        let Some(matcher) = &self.redactor.matcher else {
            return;
        };
        // Every occurrence held counts as settled now; what follows the last one may
        // be the start of another.
        let mut written = 0;
        for found in matcher.find_iter(&self.pending[..]) {
            write_new(out, &self.pending, written, found.start(), self.emitted);
            if self.needs_label(found.start(), found.end()) {
                self.redactor.write_label(found.pattern().as_usize(), out);
            }
            written = found.end();
        }
        let tail = &self.pending[written..];
        let Some((offset, pattern)) = self.redactor.partial_start(tail) else {
            write_new(
                out,
                &self.pending,
                written,
                self.pending.len(),
                self.emitted,
            );
            let all = self.pending.len();
            self.consume(all);
            return;
        };
        let start = written + offset;
        let length = self.pending.len();
        write_new(out, &self.pending, written, start, self.emitted);
        let already_labeled = start < self.emitted && self.emitted_as_label;
        let as_label = length - start >= self.redactor.min_value_len;
        if as_label {
            if self.needs_label(start, length) {
                self.redactor.write_label(pattern, out);
            }
        } else {
            write_new(out, &self.pending, start, length, self.emitted);
        }
        self.consume(start);
        self.emitted = self.pending.len();
        self.emitted_as_label = as_label || already_labeled;
    }

    /// Writes out everything held: the output has ended.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.flush(out);
    }
}

/// Writes `buffer[from..to]`, less what a flush already wrote (`buffer[..emitted]`).
fn write_new(out: &mut Vec<u8>, buffer: &[u8], from: usize, to: usize, emitted: usize) {
    let from = from.max(emitted);
    if from < to {
        out.extend_from_slice(&buffer[from..to]);
    }
}

#[cfg(test)]
mod tests;
