//! How a request's conversation is stored, shared by the proxy (which writes it) and the admin API
//! (which reads it back), so that both sides agree on every byte:
//!
//! - the request body is kept as an envelope with its `messages` array cut out at `messages_offset`;
//! - each message is a node whose `raw_json` is the message as the client sent it, except that a
//!   string `content` is cut out at `content_offset` when it is exactly `content_text` written as a
//!   JSON string, so that a message's text is stored once (it is also `content_text`, for search);
//! - a reply's raw JSON (`response_json`) is kept without the reply's text and tool calls where it
//!   holds them byte for byte ([`cut_reply`]): the row has them already;
//! - a long text is stored compressed, in `content_compressed` instead of `content_text`, and so is
//!   a long `raw_json` (what is left once the text is cut out), in `raw_compressed`
//!   ([`compressed_text`]).

mod compressed_text;
mod reply;

pub use compressed_text::{compress, compress_text, decompress, decompress_text, MIN_COMPRESSED_LEN};
pub use reply::{cut_reply, response_json, ReplyCuts, ReplyParts, MIN_CUT_REPLY_LEN};

use std::borrow::Cow;
use std::ops::Range;

/// A message's raw JSON as stored: without its content string when that string can be written back
/// from `text` byte for byte. `content` is where the string sits in `raw`, quotes included, and
/// `text` is what it holds, as parsed. `None` keeps the message whole (another escaping than ours,
/// e.g. `\u00e9` for `é`).
pub fn cut_content(raw: &[u8], content: Range<usize>, text: &str) -> Option<(Vec<u8>, usize)> {
    let written = raw.get(content.clone())?;
    // Reading the escapes is enough: writing the text again to compare was ~4 % of the log
    // writer's instructions. The length guards against a `text` that is not the one parsed.
    if written_as_serde_json_writes(written)? != text.len() {
        return None;
    }
    debug_assert_eq!(written, json_string(text).as_bytes());
    Some((cut_out(raw, content.clone()), content.start))
}

/// `json` without the bytes in `range`: what [`put_back`] takes to give `json` back.
fn cut_out(json: &[u8], range: Range<usize>) -> Vec<u8> {
    let mut rest = Vec::with_capacity(json.len() - range.len());
    rest.extend_from_slice(&json[..range.start]);
    rest.extend_from_slice(&json[range.end..]);
    rest
}

/// The message as the client sent it, from what [`cut_content`] stored.
pub fn message_json<'a>(stored: &'a [u8], content_offset: Option<usize>, text: Option<&str>) -> Cow<'a, [u8]> {
    match (content_offset, text) {
        (Some(offset), Some(text)) => put_back(Cow::Borrowed(stored), offset, json_string(text).as_bytes()),
        _ => Cow::Borrowed(stored),
    }
}

/// `piece` put back at `offset` of `json`; `json` as it is when the offset lies past its end.
fn put_back<'a>(json: Cow<'a, [u8]>, offset: usize, piece: &[u8]) -> Cow<'a, [u8]> {
    if offset > json.len() {
        return json;
    }
    let mut whole = Vec::with_capacity(json.len() + piece.len());
    whole.extend_from_slice(&json[..offset]);
    whole.extend_from_slice(piece);
    whole.extend_from_slice(&json[offset..]);
    Cow::Owned(whole)
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

/// The length of the text a JSON string (quotes included) holds, if the string is written exactly
/// as serde_json writes that text: every character as it is except `"`, `\` and those below
/// U+0020, which are escaped as `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, or else `\u00xx` in
/// lowercase (serde_json's `format_escaped_str`). `written` must be a valid JSON string, as parsed:
/// then only its escapes can differ from ours, and they are found by a SIMD search for `\`.
fn written_as_serde_json_writes(written: &[u8]) -> Option<usize> {
    let inner = written.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut text_len = inner.len();
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'\\', &inner[from..]) {
        let at = from + found;
        let escape_len = match inner.get(at + 1..)? {
            [b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't', ..] => 2,
            [b'u', b'0', b'0', high @ (b'0' | b'1'), low @ (b'0'..=b'9' | b'a'..=b'f'), ..]
                if !matches!((high, low), (b'0', b'8' | b'9' | b'a' | b'c' | b'd')) =>
            {
                6
            }
            _ => return None,
        };
        // An escape stands for one byte of text.
        text_len -= escape_len - 1;
        from = at + escape_len;
    }
    Some(text_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A piece of a JSON string's text as a client may write it: a character as it is (a quote, a
    /// backslash or a control character now and then, which end or break the string), or an
    /// escape, ours or another (`\/`, uppercase hex, `\u` for what has a short escape or none).
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => any::<char>().prop_filter("a character that needs no escape", |c| *c >= ' ' && !"\"\\".contains(*c))
                .prop_map(String::from),
            1 => prop::sample::select(vec!['"', '\\', '\0', '\u{1f}', '\n']).prop_map(String::from),
            2 => prop::sample::select(vec!["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])
                .prop_map(String::from),
            4 => (0u32..0x20, any::<bool>()).prop_map(|(code, upper)| {
                let hex = format!("{code:04x}");
                format!("\\u{}", if upper { hex.to_uppercase() } else { hex })
            }),
            1 => any::<u16>().prop_map(|code| format!("\\u{code:04x}")),
        ]
    }

    proptest! {
        #[test]
        fn a_string_reads_as_ours_exactly_when_serde_json_writes_its_text_so(
            pieces in prop::collection::vec(piece(), 0..12),
        ) {
            let written = format!("\"{}\"", pieces.concat());
            if let Ok(text) = serde_json::from_str::<String>(&written) {
                let ours = json_string(&text) == written;
                prop_assert_eq!(written_as_serde_json_writes(written.as_bytes()), ours.then_some(text.len()));
            }
        }

        #[test]
        fn every_text_as_serde_json_writes_it_reads_as_ours(text in any::<String>()) {
            prop_assert_eq!(written_as_serde_json_writes(json_string(&text).as_bytes()), Some(text.len()));
        }
    }

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
        let (stored, offset) = cut_content(raw, content.clone(), text).unwrap();
        assert_eq!(stored, br#"{"content":,"role":"user"}"#);
        assert_eq!(message_json(&stored, Some(offset), Some(text)), raw);
        // A text that is not the one the string holds leaves the message whole.
        assert_eq!(cut_content(raw, content, "line"), None);
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
