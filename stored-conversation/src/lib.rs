//! How a request's conversation is stored, shared by the proxy (which writes it) and the admin API
//! (which reads it back), so that both sides agree on every byte:
//!
//! - the request body is kept as an envelope with its `messages` array cut out at `messages_offset`;
//! - each message is a node whose `raw_json` is the message as the client sent it, except that a
//!   string `content` is cut out at `content_offset` when it is exactly `content_text` written as a
//!   JSON string, so that a message's text is stored once (it is also `content_text`, for search);
//! - a long text is stored compressed, in `content_compressed` instead of `content_text`, and so is
//!   a long `raw_json` (what is left once the text is cut out), in `raw_compressed`
//!   ([`compressed_text`]).

mod compressed_text;

pub use compressed_text::{compress, compress_text, decompress, decompress_text, MIN_COMPRESSED_LEN};

use std::borrow::Cow;
use std::ops::Range;

/// A message's raw JSON as stored: without its content string when that string can be written back
/// from `text` byte for byte. `content` is where the string sits in `raw`, quotes included.
/// `None` keeps the message whole (another escaping than ours, e.g. `\u00e9` for `é`).
pub fn cut_content(raw: &[u8], content: Range<usize>, text: &str) -> Option<(Vec<u8>, usize)> {
    let written = raw.get(content.clone())?;
    if written != json_string(text).as_bytes() {
        return None;
    }
    let mut stored = Vec::with_capacity(raw.len() - written.len());
    stored.extend_from_slice(&raw[..content.start]);
    stored.extend_from_slice(&raw[content.end..]);
    Some((stored, content.start))
}

/// The message as the client sent it, from what [`cut_content`] stored.
pub fn message_json<'a>(stored: &'a [u8], content_offset: Option<usize>, text: Option<&str>) -> Cow<'a, [u8]> {
    let (Some(offset), Some(text)) = (content_offset.filter(|o| *o <= stored.len()), text) else {
        return Cow::Borrowed(stored);
    };
    let text = json_string(text);
    let mut raw = Vec::with_capacity(stored.len() + text.len());
    raw.extend_from_slice(&stored[..offset]);
    raw.extend_from_slice(text.as_bytes());
    raw.extend_from_slice(&stored[offset..]);
    Cow::Owned(raw)
}

/// The raw request from its envelope and its messages' raw JSON.
pub fn reassemble<M: AsRef<[u8]>>(envelope: &[u8], messages_offset: Option<usize>, raw_messages: &[M]) -> Vec<u8> {
    let Some(offset) = messages_offset.filter(|o| *o <= envelope.len()) else {
        return envelope.to_vec();
    };
    let messages_len = raw_messages.iter().map(|m| m.as_ref().len() + 1).sum::<usize>();
    let mut body = Vec::with_capacity(envelope.len() + messages_len + 2);
    body.extend_from_slice(&envelope[..offset]);
    body.push(b'[');
    for (i, raw) in raw_messages.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(raw.as_ref());
    }
    body.push(b']');
    body.extend_from_slice(&envelope[offset..]);
    body
}

/// serde_json's escaping: `"` `\` and control characters, everything else as UTF-8. Both sides
/// must use this one, or a stored message would come back different.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span_of(raw: &[u8], needle: &[u8]) -> Range<usize> {
        let start = raw.windows(needle.len()).position(|w| w == needle).unwrap();
        start..start + needle.len()
    }

    #[test]
    fn content_written_our_way_is_cut_out_and_put_back_exactly() {
        let raw = br#"{"role":"user","content":"line\n\"quoted\" \u001b caf\u00e9? no: caf"}"#;
        let text = "line\n\"quoted\" \u{1b} caf\u{e9}? no: caf";
        // `\u00e9` is not how serde_json writes `é`: that message stays whole.
        assert_eq!(cut_content(raw, span_of(raw, br#""line"#).start..raw.len() - 1, text), None);

        let raw = "{\"content\":\"line\\n\\\"quoted\\\" \\u001b café\",\"role\":\"user\"}".as_bytes();
        let text = "line\n\"quoted\" \u{1b} café";
        let content = span_of(raw, br#""line"#).start..span_of(raw, br#","role""#).start;
        let (stored, offset) = cut_content(raw, content, text).unwrap();
        assert_eq!(stored, br#"{"content":,"role":"user"}"#);
        assert_eq!(message_json(&stored, Some(offset), Some(text)), raw);
    }

    #[test]
    fn a_message_kept_whole_comes_back_as_stored() {
        assert_eq!(message_json(b"{\"role\":\"tool\"}", None, Some("x")), &b"{\"role\":\"tool\"}"[..]);
    }

    #[test]
    fn messages_are_put_back_at_their_offset() {
        let envelope = br#"{"model":"m","messages":,"stream":true}"#;
        let body = reassemble(envelope, Some(24), &[&br#"{"role":"user"}"#[..], br#"{"role":"x"}"#]);
        assert_eq!(body, br#"{"model":"m","messages":[{"role":"user"},{"role":"x"}],"stream":true}"#);
        assert_eq!(reassemble::<&[u8]>(b"{}", None, &[]), b"{}");
    }
}
