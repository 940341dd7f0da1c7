//! Incremental Server-Sent Events framing. Fed the upstream's bytes in whatever pieces they arrive,
//! it yields each complete event with its exact raw bytes (so the relay can pass it on unchanged)
//! and its parsed `event`/`data` fields (so the log can assemble the reply). The result does not
//! depend on where the byte boundaries fall.
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
    /// The `data:` lines joined with `\n`, as the SSE specification says.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseFramer {
    buffer: BytesMut,
    /// Where the next line starts inside `buffer`; everything before it belongs to the current event.
    line_start: usize,
    event: Option<String>,
    data: Option<String>,
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
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some((line_end, next_line)) = self.find_line_end() {
            let line_is_empty = line_end == self.line_start;
            if line_is_empty {
                let raw = self.buffer.split_to(next_line).freeze();
                self.line_start = 0;
                let event = self.event.take();
                match self.data.take() {
                    Some(data) => events.push(SseEvent { raw, event, data }),
                    // An event without data lines (a comment or keep-alive) is still relayed; it
                    // carries nothing to log.
                    None => events.push(SseEvent { raw, event, data: String::new() }),
                }
            } else {
                // Borrowed unless the line is not UTF-8 (`from_utf8` checks far faster than the
                // lossy conversion, which is only needed then).
                let bytes = &self.buffer[self.line_start..line_end];
                let line = std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed);
                take_field(&mut self.event, &mut self.data, &line);
                self.line_start = next_line;
            }
        }
        events
    }

    /// Bytes of an event that never got its terminating blank line (the stream ended early).
    pub fn unfinished(&self) -> &[u8] {
        &self.buffer
    }

    /// Finds the end of the line starting at `line_start`: returns (end of content, start of next line).
    /// A `\r` at the very end of the buffer waits for the next byte, which may be the `\n` of a `\r\n`.
    fn find_line_end(&self) -> Option<(usize, usize)> {
        let rest = &self.buffer[self.line_start..];
        let offset = memchr::memchr2(b'\n', b'\r', rest)?;
        let end = self.line_start + offset;
        if rest[offset] == b'\n' {
            return Some((end, end + 1));
        }
        match rest.get(offset + 1) {
            None => None,
            Some(b'\n') => Some((end, end + 2)),
            Some(_) => Some((end, end + 1)),
        }
    }
}

/// Adds one field line to the event being read.
fn take_field(event: &mut Option<String>, data: &mut Option<String>, line: &str) {
    if line.starts_with(':') {
        return;
    }
    let (name, value) = match line.split_once(':') {
        Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
        None => (line, ""),
    };
    match name {
        "data" => match data {
            Some(data) => {
                data.push('\n');
                data.push_str(value);
            }
            None => *data = Some(value.to_string()),
        },
        "event" => *event = Some(value.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] =
        b"data: {\"a\":1}\n\n: keep-alive\r\rdata: z\r\revent: error\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\ndata:[DONE]\n\n";

    fn frame_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut framer = SseFramer::new();
        pieces.iter().flat_map(|p| framer.push(p)).collect()
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
    fn an_unterminated_event_is_kept_as_unfinished() {
        let mut framer = SseFramer::new();
        assert!(framer.push(b"data: {\"partial\"").is_empty());
        assert_eq!(framer.unfinished(), b"data: {\"partial\"");
    }
}
