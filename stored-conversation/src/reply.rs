//! A reply's raw JSON (`requests.response_json`) as stored: without what its row holds already —
//! the reply's text (`reply_text`, written here as serde_json writes a string) and its tool calls
//! (`reply_tool_calls`, compact JSON) — where the reply holds those bytes as they are. An upstream
//! that writes them otherwise (`\u00e9` for `é`, other spacing or key order) keeps its reply whole.
//!
//! Each part is cut out at the first place its bytes appear, the text first, then the tool calls
//! from what is left; putting the same bytes back at the same places, in the reverse order, gives
//! the reply back byte for byte, whichever member held them.

use std::borrow::Cow;

use super::{cut_out, json_string, put_back};

/// Parts shorter than this (in bytes) stay in the reply: the search and the copy cost the writer
/// about a microsecond (callgrind: +3 k instructions a request for a 35-byte reply), which MariaDB
/// wins back at ~10 ns a byte not written (BENCHMARKS.md) only from about 100 bytes on.
pub const MIN_CUT_REPLY_LEN: usize = 128;

/// What a request's row holds of its reply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyParts<'a> {
    pub text: Option<&'a str>,
    /// As compact JSON, the way the row stores them.
    pub tool_calls: Option<&'a str>,
}

/// Where [`cut_reply`] cut each part out: the text at its offset in the reply, the tool calls at
/// theirs in the reply without the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyCuts {
    pub text: Option<usize>,
    pub tool_calls: Option<usize>,
}

impl ReplyCuts {
    /// The cuts from the row's offset columns (`INT UNSIGNED`).
    pub fn from_columns(text: Option<u32>, tool_calls: Option<u32>) -> Self {
        ReplyCuts { text: text.map(|at| at as usize), tool_calls: tool_calls.map(|at| at as usize) }
    }

    /// The cuts as the row's offset columns hold them; `None` when one does not fit (a reply over
    /// 4 GB, which is not stored anyway).
    pub fn to_columns(self) -> Option<(Option<u32>, Option<u32>)> {
        let column = |at: Option<usize>| at.map(u32::try_from).transpose().ok();
        Some((column(self.text)?, column(self.tool_calls)?))
    }
}

/// The reply without the parts found in it, and where they were; `None` when none was.
pub fn cut_reply(response: &[u8], parts: ReplyParts<'_>) -> Option<(Vec<u8>, ReplyCuts)> {
    let long = |part: &&str| part.len() >= MIN_CUT_REPLY_LEN;
    let mut cuts = ReplyCuts::default();
    let mut stored = None;
    if let Some(text) = parts.text.filter(long) {
        if let Some((rest, at)) = cut_first(response, json_string(text).as_bytes()) {
            (stored, cuts.text) = (Some(rest), Some(at));
        }
    }
    if let Some(calls) = parts.tool_calls.filter(long) {
        if let Some((rest, at)) = cut_first(stored.as_deref().unwrap_or(response), calls.as_bytes()) {
            (stored, cuts.tool_calls) = (Some(rest), Some(at));
        }
    }
    Some((stored?, cuts))
}

/// The reply as the upstream sent it (or as the proxy assembled a stream), from what [`cut_reply`]
/// stored; rows written before the cuts, or whose reply was kept whole, have no offsets.
pub fn response_json<'a>(stored: &'a [u8], cuts: ReplyCuts, parts: ReplyParts<'_>) -> Cow<'a, [u8]> {
    let mut json = Cow::Borrowed(stored);
    if let (Some(at), Some(calls)) = (cuts.tool_calls, parts.tool_calls) {
        json = put_back(json, at, calls.as_bytes());
    }
    if let (Some(at), Some(text)) = (cuts.text, parts.text) {
        json = put_back(json, at, json_string(text).as_bytes());
    }
    json
}

/// `json` without the first place `part` appears in it, and that place.
fn cut_first(json: &[u8], part: &[u8]) -> Option<(Vec<u8>, usize)> {
    let at = memchr::memmem::find(json, part)?;
    Some((cut_out(json, at..at + part.len()), at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn cuts_go_to_the_rows_columns_and_back_unless_an_offset_does_not_fit() {
        let cuts = ReplyCuts { text: Some(12), tool_calls: None };
        assert_eq!(cuts.to_columns(), Some((Some(12), None)));
        assert_eq!(ReplyCuts::from_columns(Some(12), None), cuts);
        let past_u32 = u32::MAX as usize + 1;
        assert_eq!(ReplyCuts { text: Some(1), tool_calls: Some(past_u32) }.to_columns(), None);
    }

    fn parts<'a>(text: &'a str, tool_calls: &'a str) -> ReplyParts<'a> {
        ReplyParts { text: Some(text), tool_calls: Some(tool_calls) }
    }

    #[test]
    fn a_reply_comes_back_byte_for_byte_from_what_is_stored_of_it() {
        let text = "Walk the list once, \"flip\" each pointer.\n\tDone: é ✓ ".repeat(4);
        let calls = json!([{"id": "call_1", "type": "function",
            "function": {"name": "write_file", "arguments": json!({"path": "src/list.rs", "body": "fn flip() {}\n".repeat(12)}).to_string()}}])
        .to_string();
        let response = format!(
            r#"{{"id":"c1","choices":[{{"index":0,"message":{{"role":"assistant","content":{},"tool_calls":{calls}}}}}]}}"#,
            json_string(&text)
        );

        let (stored, cuts) = cut_reply(response.as_bytes(), parts(&text, &calls)).expect("both written as stored");

        assert_eq!(stored.len(), response.len() - json_string(&text).len() - calls.len(), "each part stored once");
        assert!(cuts.text.is_some() && cuts.tool_calls.is_some());
        assert_eq!(response_json(&stored, cuts, parts(&text, &calls)), response.as_bytes());
        assert_eq!(response_json(response.as_bytes(), ReplyCuts::default(), parts(&text, &calls)), response.as_bytes());
    }

    #[test]
    fn parts_written_otherwise_or_short_stay_in_the_reply() {
        let (text, written) =
            ("café au lait, s'il vous plaît. ".repeat(5), r"caf\u00e9 au lait, s'il vous pla\u00eet. ");
        let escaped_otherwise = format!(r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#, written.repeat(5));
        assert_eq!(
            serde_json::from_str::<Value>(&escaped_otherwise).unwrap()["choices"][0]["message"]["content"],
            text
        );
        assert_eq!(cut_reply(escaped_otherwise.as_bytes(), ReplyParts { text: Some(&text), tool_calls: None }), None);
        let short = "x".repeat(MIN_CUT_REPLY_LEN - 1);
        let reply = format!(r#"{{"choices":[{{"text":"{short}"}}]}}"#);
        assert_eq!(cut_reply(reply.as_bytes(), ReplyParts { text: Some(&short), tool_calls: None }), None);
        let spaced = format!(r#"{{"tool_calls": [ {{"id": "{}"}} ]}}"#, "c".repeat(200));
        let compact = format!(r#"[{{"id":"{}"}}]"#, "c".repeat(200));
        assert_eq!(cut_reply(spaced.as_bytes(), ReplyParts { text: None, tool_calls: Some(&compact) }), None);
    }

    proptest! {
        #[test]
        fn a_reply_with_its_parts_anywhere_comes_back_exactly(
            before in "[ -~]{0,40}",
            text in "(?s).{0,200}",
            between in "[ -~]{0,40}",
            calls in "[ -~]{0,300}",
            after in "[ -~]{0,40}",
            calls_first in any::<bool>(),
        ) {
            let written = json_string(&text);
            let response = if calls_first {
                format!("{before}{calls}{between}{written}{after}")
            } else {
                format!("{before}{written}{between}{calls}{after}")
            };
            let parts = parts(&text, &calls);
            match cut_reply(response.as_bytes(), parts) {
                Some((stored, cuts)) => prop_assert_eq!(response_json(&stored, cuts, parts), response.as_bytes()),
                None => prop_assert!(text.len() < MIN_CUT_REPLY_LEN && calls.len() < MIN_CUT_REPLY_LEN),
            }
        }
    }
}
