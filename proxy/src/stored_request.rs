//! The row the log writer stores, derived from a [`RequestRecord`]: messages split into nodes, the
//! reply assembled, usage and its source settled, the forwarded body fingerprinted. This is where
//! the parsing the request path skipped happens.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::conversation::{self, Conversation};
use crate::record::{Outcome, RequestRecord};
use crate::reply::{self, AssembledReply, Usage};
use crate::request_body::{self, TopLevelField};
use crate::sha256::Sha256;
use crate::token_estimate;
use stored_conversation::ReplyParts;

#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub id: [u8; 16],
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub method: String,
    pub endpoint: String,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub is_stream: bool,
    pub http_status: u16,
    pub outcome: &'static str,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub latency_us: i64,
    pub ttfb_us: Option<i64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub usage_source: &'static str,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub client_key: Option<String>,
    pub body_sha256: Option<[u8; 32]>,
    pub conversation_id: Option<[u8; 32]>,
    pub last_message_id: Option<[u8; 32]>,
    pub message_count: u32,
    pub last_user_message_preview: Option<String>,
    pub reply_text: Option<String>,
    pub reply_tool_calls: Option<String>,
    pub finish_reason: Option<String>,
    pub request_envelope: Vec<u8>,
    pub messages_offset: Option<u32>,
    /// The reply's raw JSON, without its text and tool calls where the offsets say (see
    /// [`stored_response`]).
    pub response_json: Option<Bytes>,
    pub response_reply_offset: Option<u32>,
    pub response_tool_calls_offset: Option<u32>,
    /// Hashes of the words the text search finds this request by, from its reply and attributes
    /// (see `search_block`); filled in by the writer.
    pub search_words: Vec<u64>,
    /// The words of each message this request may have sent first (the writer did not know it as
    /// stored); credited to it when MySQL did not hold the message before.
    pub sent_message_words: Vec<(crate::conversation::NodeId, Vec<u64>)>,
    /// The conversation's nodes, written to `message_nodes` in the same transaction.
    pub conversation: Conversation,
}

/// Usage source labels; a row's counts come from exactly one of these.
pub const USAGE_FROM_UPSTREAM: &str = "upstream";
pub const USAGE_ESTIMATED: &str = "estimated";
pub const USAGE_NONE: &str = "none";

impl StoredRequest {
    pub fn from_record(record: RequestRecord) -> Self {
        // One pass: the body's messages for the conversation, the rest for the forwarded form.
        let (fields, messages) = match request_body::top_level_fields_and_array(&record.request_body, Some("messages"))
        {
            Ok((fields, messages)) => (Some(fields), messages),
            Err(_) => (None, None),
        };
        let mut conversation = conversation::split_fields(&record.request_body, messages.as_ref());
        let reply: AssembledReply = reply::assemble(&record.response);

        // The proxy's own error wins; otherwise an error the upstream reported, in its body or mid-stream.
        let upstream_error = reply.error.clone();
        let (error_type, error_message) = match (&record.error, &upstream_error) {
            (Some(own), _) => (Some(own.error_type.clone()), Some(own.message.clone())),
            (None, Some(theirs)) => (Some(theirs.error_type.clone()), Some(theirs.message.clone())),
            (None, None) if record.http_status >= 400 => (Some(format!("http_{}", record.http_status)), None),
            (None, None) => (None, None),
        };
        let outcome = match record.outcome {
            Outcome::Ok if error_type.is_some() => Outcome::Error,
            other => other,
        };
        // A call the upstream answered but did not count is billed all the same: estimate it.
        let answered = (200..400).contains(&record.http_status) && record.client_model.is_some();
        let (usage, usage_source) = match reply.usage {
            Some(usage) => (usage, USAGE_FROM_UPSTREAM),
            None if answered => {
                (token_estimate::estimate(&conversation, &record.request_body, &reply), USAGE_ESTIMATED)
            }
            None => (Usage::default(), USAGE_NONE),
        };

        let body_sha256 = (!record.request_body.is_empty()).then(|| forwarded_body_sha256(&record, fields.as_deref()));
        let messages_offset = conversation.messages_offset.and_then(|o| u32::try_from(o).ok());
        if conversation.messages_offset.is_some() && messages_offset.is_none() {
            conversation.envelope = record.request_body.to_vec();
            conversation.messages_offset = None;
        }
        let reply_tool_calls = reply.tool_calls.map(|t| t.to_string());
        let parts = ReplyParts { text: reply.text.as_deref(), tool_calls: reply_tool_calls.as_deref() };
        let (response_json, response_reply_offset, response_tool_calls_offset) =
            stored_response(reply.response_json, parts);
        StoredRequest {
            id: *record.id.as_bytes(),
            started_at: record.started_at,
            finished_at: record.finished_at,
            method: clip(record.method, 16),
            endpoint: clip(record.endpoint, 255),
            client_model: record.client_model.map(|m| clip(m, 255)),
            upstream_model: record.upstream_model.map(|m| clip(m, 255)),
            is_stream: record.is_stream,
            http_status: record.http_status,
            outcome: outcome.as_str(),
            error_type: error_type.map(|t| clip(t, 128)),
            error_message,
            latency_us: record.latency.as_micros() as i64,
            ttfb_us: record.time_to_first_byte.map(|d| d.as_micros() as i64),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            cached_tokens: usage.cached_tokens,
            cache_write_tokens: usage.cache_write_tokens,
            usage_source,
            client_ip: record.client_ip,
            user_agent: record.user_agent.map(|ua| clip(ua, 512)),
            client_key: record.client_key.map(|k| clip(k, 64)),
            body_sha256,
            conversation_id: conversation.conversation_id(),
            last_message_id: conversation.last_message_id(),
            message_count: conversation.nodes.len() as u32,
            last_user_message_preview: conversation.last_user_message_preview.clone(),
            reply_text: reply.text,
            reply_tool_calls,
            finish_reason: reply.finish_reason.map(|r| clip(r, 64)),
            request_envelope: std::mem::take(&mut conversation.envelope),
            messages_offset,
            response_json,
            response_reply_offset,
            response_tool_calls_offset,
            search_words: Vec::new(),
            sent_message_words: Vec::new(),
            conversation,
        }
    }

    /// Bytes this row adds to an INSERT statement, roughly.
    pub fn approximate_size(&self) -> usize {
        512 + self.request_envelope.len()
            + self.response_json.as_ref().map_or(0, Bytes::len)
            + self.reply_text.as_ref().map_or(0, String::len)
            + self.conversation.nodes.iter().map(|n| n.raw_json().len()).sum::<usize>()
    }
}

/// The reply's raw JSON as stored, and where its text and tool calls were cut out (the columns'
/// offsets): the row holds them already, and a row's every byte costs MariaDB ~10 ns to write
/// (BENCHMARKS.md). Kept whole where they cannot be put back byte for byte (see
/// `stored_conversation::cut_reply`), and when an offset would not fit the column (a reply over
/// 4 GB is not stored anyway).
fn stored_response(response: Option<Bytes>, parts: ReplyParts<'_>) -> (Option<Bytes>, Option<u32>, Option<u32>) {
    let cut = response.as_deref().and_then(|json| stored_conversation::cut_reply(json, parts));
    match cut.and_then(|(stored, cuts)| Some((stored, cuts.to_columns()?))) {
        Some((stored, (text, tool_calls))) => (Some(Bytes::from(stored)), text, tool_calls),
        None => (response, None, None),
    }
}

/// Cuts `text` to the `VARCHAR(max_chars)` it is stored in; strict SQL modes reject longer values.
pub fn clip(mut text: String, max_chars: usize) -> String {
    if let Some((byte_index, _)) = text.char_indices().nth(max_chars) {
        text.truncate(byte_index);
    }
    text
}

/// SHA-256 of the body exactly as it was forwarded. The rewrite is deterministic, so it is redone
/// here rather than hashed on the request path; its pieces are hashed in turn, not copied together.
fn forwarded_body_sha256(record: &RequestRecord, fields: Option<&[TopLevelField<'_>]>) -> [u8; 32] {
    let body = &record.request_body;
    let edits = fields.map(request_body::forward_fields_of).map_or_else(Vec::new, |fields| {
        let upstream_model = record.upstream_model.as_deref().unwrap_or_default();
        request_body::edits(body, &fields, upstream_model, record.usage_requested_by_proxy)
    });
    let mut hasher = Sha256::new();
    for piece in request_body::rewritten_pieces(body, &edits) {
        hasher.update(piece);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ResponseCapture, StreamEvent};
    use stored_conversation::ReplyCuts;

    #[test]
    fn a_streamed_replys_text_and_tool_calls_are_stored_once_and_the_assembled_json_comes_back_exactly() {
        let text = "Walk the list once and flip each \"next\" pointer; é ✓\n".repeat(4);
        let (first, second) = text.split_at(text.find(';').unwrap());
        let arguments = serde_json::json!({"path": "src/list.rs", "body": "fn flip() {}\n".repeat(12)}).to_string();
        let chunk = |delta: serde_json::Value| StreamEvent {
            event: None,
            data: serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
            .to_string(),
        };
        let call =
            |function: serde_json::Value| serde_json::json!({"tool_calls": [{"index": 0, "function": function}]});
        let mut record = RequestRecord::new("POST", "/v1/chat/completions");
        record.http_status = 200;
        record.is_stream = true;
        record.response = ResponseCapture::stream_of(&[
            chunk(serde_json::json!({"content": first})),
            chunk(serde_json::json!({"content": second})),
            chunk(serde_json::json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "write_file", "arguments": ""}}]})),
            chunk(call(serde_json::json!({"arguments": &arguments[..20]}))),
            chunk(call(serde_json::json!({"arguments": &arguments[20..]}))),
        ]);
        let assembled = reply::assemble(&record.response).response_json.unwrap();

        let row = StoredRequest::from_record(record);

        assert_eq!(row.reply_text.as_deref(), Some(text.as_str()));
        let calls = row.reply_tool_calls.as_deref().unwrap();
        assert!(calls.contains("write_file"));
        let stored = row.response_json.as_deref().unwrap();
        let text_written = serde_json::to_string(&text).unwrap();
        assert_eq!(stored.len(), assembled.len() - text_written.len() - calls.len(), "each part stored once");
        let cuts = ReplyCuts::from_columns(row.response_reply_offset, row.response_tool_calls_offset);
        let parts = ReplyParts { text: Some(&text), tool_calls: Some(calls) };
        assert_eq!(stored_conversation::response_json(stored, cuts, parts), &assembled[..]);
    }
}
