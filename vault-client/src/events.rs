//! The change event stream as a client reads it: Server-Sent Events parsed as the
//! HTML standard defines them (fields `id`, `event`, `data`; comment lines; a blank
//! line ends an event), each event's data an [`EventView`]. The reader remembers the
//! last id it was handed, so a caller reconnects with it and misses nothing.

use crate::wire::EventView;
use crate::{ClientError, ClientResult};

/// What the stream hands over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamItem {
    Event(Box<EventView>),
    /// The vault closed the stream, saying why (the token was revoked, the session's
    /// user left the project). Reconnecting will not help.
    End(String),
}

/// One event as the wire frames it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Frames out of the bytes of a `text/event-stream` body, however they are split.
#[derive(Debug, Default)]
pub struct FrameParser {
    pending: Vec<u8>,
    current: Frame,
    has_data: bool,
}

/// The longest line the parser holds: an event is a few hundred bytes, so a line this
/// long is a broken or hostile stream, not an event.
const MAX_LINE: usize = 1 << 20;

impl FrameParser {
    /// Feeds `bytes`; returns the frames they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> ClientResult<Vec<Frame>> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // `\r\n` is one line end; a lone `\r` at the buffer's end may be the first
            // half of one, so it waits for the next byte.
            let skip = if self.pending[end] == b'\r' {
                match self.pending.get(end + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    None => break,
                }
            } else {
                1
            };
            let line: Vec<u8> = self.pending.drain(..end + skip).take(end).collect();
            let line = String::from_utf8(line).map_err(|_| unexpected("a line is not UTF-8"))?;
            if let Some(frame) = self.line(&line) {
                frames.push(frame);
            }
        }
        if self.pending.len() > MAX_LINE {
            return Err(unexpected("a line of the event stream is over 1 MiB"));
        }
        Ok(frames)
    }

    fn line(&mut self, line: &str) -> Option<Frame> {
        if line.is_empty() {
            // An `id` alone is dispatched too: it moves the reader's position.
            let dispatch =
                self.has_data || self.current.event.is_some() || self.current.id.is_some();
            let frame = std::mem::take(&mut self.current);
            self.has_data = false;
            return dispatch.then_some(frame);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.current.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.current.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

fn unexpected(detail: &str) -> ClientError {
    ClientError::UnexpectedAnswer {
        status: 200,
        detail: detail.to_owned(),
    }
}

/// What a frame read means, in the order it was read.
enum Pending {
    Item(StreamItem),
    /// A position past which nothing is left for this reader.
    Position(u64),
}

/// An open stream of change events.
pub struct EventStream {
    response: reqwest::Response,
    parser: FrameParser,
    ready: std::collections::VecDeque<Pending>,
    last_event_id: Option<u64>,
    address: String,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("last_event_id", &self.last_event_id)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    pub(crate) fn new(response: reqwest::Response, after: Option<u64>, address: String) -> Self {
        EventStream {
            response,
            parser: FrameParser::default(),
            ready: std::collections::VecDeque::new(),
            last_event_id: after,
            address,
        }
    }

    /// The position of the last event handed over: reconnect after it.
    pub fn last_event_id(&self) -> Option<u64> {
        self.last_event_id
    }

    /// The next event; `None` when the vault closed the stream (reconnect after
    /// `last_event_id`), an error when the connection broke.
    pub async fn next(&mut self) -> ClientResult<Option<StreamItem>> {
        loop {
            match self.ready.pop_front() {
                Some(Pending::Item(item)) => {
                    if let StreamItem::Event(event) = &item {
                        self.last_event_id = Some(event.seq);
                    }
                    return Ok(Some(item));
                }
                Some(Pending::Position(position)) => {
                    self.last_event_id = Some(position);
                    continue;
                }
                None => {}
            }
            let chunk = self
                .response
                .chunk()
                .await
                .map_err(|e| ClientError::Unreachable {
                    address: self.address.clone(),
                    detail: e.without_url().to_string(),
                })?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            for frame in self.parser.push(&chunk)? {
                match frame.event.as_deref() {
                    Some("end") => self
                        .ready
                        .push_back(Pending::Item(StreamItem::End(frame.data))),
                    // A position without an event: where the stream starts, or how far
                    // it has read past events this token may not see.
                    None if frame.data.is_empty() => {
                        if let Some(position) = frame.id.as_deref().and_then(|id| id.parse().ok()) {
                            self.ready.push_back(Pending::Position(position));
                        }
                    }
                    _ => {
                        let event: EventView = serde_json::from_str(&frame.data)
                            .map_err(|e| unexpected(&format!("an event's data: {e}")))?;
                        self.ready
                            .push_back(Pending::Item(StreamItem::Event(Box::new(event))));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Vec<Frame> {
        let mut parser = FrameParser::default();
        chunks
            .iter()
            .flat_map(|chunk| parser.push(chunk).expect("parses"))
            .collect()
    }

    #[test]
    fn frames_survive_any_split_and_any_line_end() {
        let text = b"id: 7\nevent: secret.rotated\ndata: {\"a\":1}\n\n: heartbeat\n\nid:8\r\ndata:x\r\ndata: y\r\n\r\n";
        let whole = frames(&[text]);
        let expected = vec![
            Frame {
                id: Some("7".into()),
                event: Some("secret.rotated".into()),
                data: "{\"a\":1}".into(),
            },
            Frame {
                id: Some("8".into()),
                event: None,
                data: "x\ny".into(),
            },
        ];
        assert_eq!(whole, expected);
        // Byte by byte, and split inside a CRLF: the same frames.
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(frames(&bytes), expected);
        let (head, tail) = text.split_at(text.len() - 3);
        assert_eq!(frames(&[head, tail]), expected);
    }

    #[test]
    fn comments_and_blank_lines_alone_are_no_event() {
        assert!(frames(&[b": heartbeat\n\n\n\n:x\n\n"]).is_empty());
        // A lone CR ends a line too.
        assert_eq!(
            frames(&[b"data: a\r\rdata: b\n\n"]),
            vec![
                Frame {
                    data: "a".into(),
                    ..Frame::default()
                },
                Frame {
                    data: "b".into(),
                    ..Frame::default()
                }
            ]
        );
    }

    #[test]
    fn an_id_alone_is_a_frame_of_its_own() {
        assert_eq!(
            frames(&[b"id: 41\n\n: heartbeat\n\n"]),
            vec![Frame {
                id: Some("41".into()),
                ..Frame::default()
            }]
        );
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut parser = FrameParser::default();
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(parser.push(&long).is_err());
    }
}
