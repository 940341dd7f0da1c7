//! Incremental Server-Sent Events framing. Fed the upstream's bytes in whatever pieces they arrive,
//! it yields each complete event with its exact raw bytes (so the relay can pass it on unchanged)
//! and its parsed `event`/`data` fields (so the log can assemble the reply), both slices of the
//! chunk they arrived in unless they began in an earlier one. The result does not depend on where
//! the byte boundaries fall.
//!
//! Written here rather than taken from a crate because the relay needs the raw bytes of every event
//! as well as its fields; the event-stream crates hand out parsed fields only.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event exactly as received, blank-line terminator included.
    pub raw: Bytes,
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`, as the SSE specification says; a slice of `raw` when
    /// the event has one `data:` line. Not checked for UTF-8 until read as text (`data_text`).
    pub data: Bytes,
}

impl SseEvent {
    /// The data as text; bytes that are not UTF-8 become U+FFFD.
    pub fn data_text(&self) -> Cow<'_, str> {
        // `from_utf8` checks far faster than the lossy conversion, which is only needed then.
        std::str::from_utf8(&self.data).map_or_else(|_| String::from_utf8_lossy(&self.data), Cow::Borrowed)
    }
}

/// Splits a stream into events. The bytes of a chunk are read where they are: an event that lies
/// whole in one chunk is a slice of it, and only an event begun in an earlier chunk is copied.
#[derive(Debug, Default)]
pub struct SseFramer {
    /// The unfinished event's bytes, carried over to the next chunk.
    buffer: BytesMut,
    /// Where the next line starts inside `buffer`; everything before it belongs to that event.
    line_start: usize,
    event: Option<String>,
    data: DataLines,
}

/// The `data:` lines of the event being read, as ranges of its bytes until a second one comes.
#[derive(Debug, Default)]
enum DataLines {
    #[default]
    None,
    One(std::ops::Range<usize>),
    Joined(BytesMut),
}

/// Writes one event as SSE: its `event:` line when it has a name, each line of `data` as a
/// `data:` line, and the blank line that ends it.
pub fn write_event(event: Option<&str>, data: &str, out: &mut Vec<u8>) {
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

impl SseFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event they complete.
    pub fn push(&mut self, chunk: &Bytes) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut rest = chunk.clone();
        if !self.buffer.is_empty() {
            // The event begun earlier is finished in the carried-over copy; what follows it is
            // read in place.
            self.buffer.extend_from_slice(chunk);
            let carried = std::mem::take(&mut self.buffer).freeze();
            let (from, line_start) = self.read_events(&carried, self.line_start, &mut events, 1);
            if events.is_empty() {
                self.buffer = carried.try_into_mut().unwrap_or_else(|bytes| BytesMut::from(&bytes[..]));
                self.line_start = line_start;
                return events;
            }
            let left = carried.len() - from;
            rest = chunk.slice(chunk.len() - left..);
        }
        let (from, line_start) = self.read_events(&rest, 0, &mut events, usize::MAX);
        self.buffer.extend_from_slice(&rest[from..]);
        self.line_start = line_start - from;
        if let DataLines::One(range) = &mut self.data {
            *range = range.start - from..range.end - from;
        }
        events
    }

    /// Reads up to `limit` events from `bytes`, the current event's next line starting at
    /// `line_start`; returns where the unfinished event starts and where its next line does.
    fn read_events(
        &mut self,
        bytes: &Bytes,
        mut line_start: usize,
        events: &mut Vec<SseEvent>,
        limit: usize,
    ) -> (usize, usize) {
        let mut event_start = 0;
        let before = events.len();
        while events.len() - before < limit {
            let Some((line_end, next_line)) = find_line_end(bytes, line_start) else { break };
            if line_end == line_start {
                let raw = bytes.slice(event_start..next_line);
                let data = match std::mem::take(&mut self.data) {
                    DataLines::None => Bytes::new(),
                    DataLines::One(range) => bytes.slice(range),
                    DataLines::Joined(joined) => joined.freeze(),
                };
                // An event without data lines (a comment or keep-alive) is still relayed; it
                // carries nothing to log.
                events.push(SseEvent { raw, event: self.event.take(), data });
                event_start = next_line;
            } else {
                self.take_field(bytes, line_start..line_end);
            }
            line_start = next_line;
        }
        (event_start, line_start)
    }

    /// Adds one field line, `bytes[line]`, to the event being read.
    fn take_field(&mut self, bytes: &[u8], line: std::ops::Range<usize>) {
        let text = &bytes[line.clone()];
        if text.starts_with(b":") {
            return;
        }
        let (name, value) = match text.iter().position(|&b| b == b':') {
            Some(colon) => {
                let skip = if text.get(colon + 1) == Some(&b' ') { 2 } else { 1 };
                (&text[..colon], line.start + colon + skip..line.end)
            }
            None => (text, line.end..line.end),
        };
        match name {
            b"data" => {
                let mut joined = match std::mem::take(&mut self.data) {
                    DataLines::None => {
                        self.data = DataLines::One(value);
                        return;
                    }
                    DataLines::One(first) => BytesMut::from(&bytes[first]),
                    DataLines::Joined(joined) => joined,
                };
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(&bytes[value]);
                self.data = DataLines::Joined(joined);
            }
            b"event" => self.event = Some(String::from_utf8_lossy(&bytes[value]).into_owned()),
            _ => {}
        }
    }

    /// Bytes of an event that never got its terminating blank line (the stream ended early).
    pub fn unfinished(&self) -> &[u8] {
        &self.buffer
    }
}

/// Finds the end of the line starting at `line_start`: returns (end of content, start of next line).
/// A `\r` at the very end of the bytes waits for the next byte, which may be the `\n` of a `\r\n`.
fn find_line_end(bytes: &[u8], line_start: usize) -> Option<(usize, usize)> {
    let rest = &bytes[line_start..];
    let offset = memchr::memchr2(b'\n', b'\r', rest)?;
    let end = line_start + offset;
    if rest[offset] == b'\n' {
        return Some((end, end + 1));
    }
    match rest.get(offset + 1) {
        None => None,
        Some(b'\n') => Some((end, end + 2)),
        Some(_) => Some((end, end + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] =
        b"data: {\"a\":1}\n\n: keep-alive\r\rdata: z\r\revent: error\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\ndata:[DONE]\n\n";

    fn frame_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut framer = SseFramer::new();
        pieces.iter().flat_map(|p| framer.push(&Bytes::copy_from_slice(p))).collect()
    }

    #[test]
    fn events_are_split_with_their_raw_bytes_and_fields() {
        let events = frame_all(&[STREAM]);
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(&events[0].raw[..], b"data: {\"a\":1}\n\n");
        assert_eq!(events[1].data, "");
        assert_eq!(events[2].data, "z");
        assert_eq!(events[3].event.as_deref(), Some("error"));
        assert_eq!(events[3].data, "{\"b\":\n2}");
        assert_eq!(events[4].data, "[DONE]");
        let joined: Vec<u8> = events.iter().flat_map(|e| e.raw.to_vec()).collect();
        assert_eq!(joined, STREAM);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = frame_all(&[STREAM]);
        for i in 0..=STREAM.len() {
            for j in i..=STREAM.len() {
                let pieces = [&STREAM[..i], &STREAM[i..j], &STREAM[j..]];
                assert_eq!(frame_all(&pieces), whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn events_whole_in_a_chunk_are_slices_of_it_and_only_one_begun_earlier_is_copied() {
        let mut framer = SseFramer::new();
        let first = Bytes::from_static(b"data: {\"a\":1}\n\ndata: {\"b\"");
        let events = framer.push(&first);
        assert_eq!(events[0].raw.as_ptr(), first.as_ptr());
        assert_eq!(events[0].data.as_ptr(), first[6..].as_ptr());
        let second = Bytes::from_static(b":2}\n\ndata: {\"c\":3}\n\n");
        let events = framer.push(&second);
        assert_eq!(events[0].raw, &b"data: {\"b\":2}\n\n"[..]);
        assert_eq!(events[1].raw.as_ptr(), second[5..].as_ptr(), "read in place after the carried event");
        assert_eq!(events[1].data, "{\"c\":3}");
    }

    #[test]
    fn an_unterminated_event_is_kept_as_unfinished() {
        let mut framer = SseFramer::new();
        assert!(framer.push(&Bytes::from_static(b"data: {\"partial\"")).is_empty());
        assert_eq!(framer.unfinished(), b"data: {\"partial\"");
    }
}
