//! Splits a request body into its conversation (one content-addressed node per message, chained to
//! the node before it) and an envelope (everything else), so that a conversation's history is
//! stored once however many turns repeat it. Runs in the log writer, never on the request path.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::request_body::{field, top_level_fields};
use crate::stored_request::clip;

pub type NodeId = [u8; 32];

#[derive(Debug, Clone, PartialEq)]
pub struct MessageNode {
    pub id: NodeId,
    pub parent_id: Option<NodeId>,
    /// The node of the first user message at or before this one; `None` before it.
    pub conversation_id: Option<NodeId>,
    pub position: u32,
    pub role: String,
    pub name: Option<String>,
    pub content_text: Option<String>,
    pub content_parts: Option<String>,
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
    /// The message as the client sent it, with the content string cut out at `content_offset`
    /// when `content_text` gives it back exactly (see `stored_conversation`), else whole.
    pub stored_json: Vec<u8>,
    pub content_offset: Option<u32>,
}

impl MessageNode {
    /// The message exactly as the client sent it; the node's id is derived from these bytes.
    pub fn raw_json(&self) -> Cow<'_, [u8]> {
        let offset = self.content_offset.map(|o| o as usize);
        stored_conversation::message_json(&self.stored_json, offset, self.content_text.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub nodes: Vec<MessageNode>,
    /// The body with the `messages` array cut out (the whole body when it cannot be cut exactly).
    pub envelope: Vec<u8>,
    /// Where the array was cut out; `None` when the envelope is the whole body.
    pub messages_offset: Option<usize>,
    pub last_user_message_preview: Option<String>,
}

impl Conversation {
    /// The node of the first user message. Most clients send the same system prompt with every
    /// chat, so the first node would join unrelated chats; the first question tells them apart.
    pub fn conversation_id(&self) -> Option<NodeId> {
        let last = self.nodes.last()?;
        Some(last.conversation_id.unwrap_or(last.id))
    }
    pub fn last_message_id(&self) -> Option<NodeId> {
        self.nodes.last().map(|n| n.id)
    }
}

pub fn node_id(parent: Option<&NodeId>, raw_json: &[u8]) -> NodeId {
    let mut hasher = Sha256::new();
    hasher.update(parent.unwrap_or(&[0u8; 32]));
    hasher.update(raw_json);
    hasher.finalize().into()
}

pub fn split(body: &[u8]) -> Conversation {
    let whole = |body: &[u8]| Conversation {
        nodes: Vec::new(),
        envelope: body.to_vec(),
        messages_offset: None,
        last_user_message_preview: None,
    };
    let Ok(fields) = top_level_fields(body) else {
        return whole(body);
    };
    let Some(messages_field) = field(&fields, "messages") else {
        return whole(body);
    };
    let Ok(raw_messages) = serde_json::from_str::<Vec<&RawValue>>(messages_field.value.get()) else {
        return whole(body);
    };

    let mut nodes: Vec<MessageNode> = Vec::with_capacity(raw_messages.len());
    for (position, raw) in raw_messages.iter().enumerate() {
        let parent_id = nodes.last().map(|n: &MessageNode| n.id);
        let mut node = node(parent_id, position as u32, raw.get().as_bytes());
        node.conversation_id = match nodes.last() {
            Some(MessageNode { conversation_id: Some(id), .. }) => Some(*id),
            _ => (node.role == "user").then_some(node.id),
        };
        nodes.push(node);
    }
    let last_user_message_preview =
        nodes.iter().rev().find(|n| n.role == "user").and_then(|n| n.content_text.as_deref()).map(preview);

    // Cutting is exact only when the array is written compactly: `[` + elements joined by `,` + `]`.
    let span = &messages_field.span;
    let compact_len =
        2 + raw_messages.iter().map(|m| m.get().len()).sum::<usize>() + raw_messages.len().saturating_sub(1);
    let (envelope, messages_offset) = if span.len() == compact_len {
        let mut envelope = Vec::with_capacity(body.len() - span.len());
        envelope.extend_from_slice(&body[..span.start]);
        envelope.extend_from_slice(&body[span.end..]);
        (envelope, Some(span.start))
    } else {
        (body.to_vec(), None)
    };
    Conversation { nodes, envelope, messages_offset, last_user_message_preview }
}

fn node(parent_id: Option<NodeId>, position: u32, raw: &[u8]) -> MessageNode {
    let value: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(String::from);
    let (content_text, content_parts) = match value.get("content") {
        Some(Value::String(text)) => (Some(text.clone()), None),
        Some(parts @ Value::Array(items)) => {
            let texts: Vec<&str> = items.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect();
            ((!texts.is_empty()).then(|| texts.join("\n")), Some(parts.to_string()))
        }
        _ => (None, None),
    };
    let cut = content_span(raw)
        .zip(content_text.as_deref())
        .and_then(|(span, text)| stored_conversation::cut_content(raw, span, text))
        .and_then(|(stored, at)| Some((stored, u32::try_from(at).ok()?)));
    let (stored_json, content_offset) = match cut {
        Some((stored, at)) => (stored, Some(at)),
        None => (raw.to_vec(), None),
    };
    MessageNode {
        id: node_id(parent_id.as_ref(), raw),
        parent_id,
        conversation_id: None,
        position,
        role: clip(text("role").unwrap_or_else(|| "unknown".into()), 32),
        name: text("name").map(|n| clip(n, 255)),
        content_text,
        content_parts,
        tool_calls: value.get("tool_calls").filter(|t| !t.is_null()).map(Value::to_string),
        tool_call_id: text("tool_call_id").map(|t| clip(t, 255)),
        stored_json,
        content_offset,
    }
}

/// Where a string `content` sits in the message, quotes included.
fn content_span(raw: &[u8]) -> Option<Range<usize>> {
    let fields = top_level_fields(raw).ok()?;
    let content = field(&fields, "content")?;
    content.value.get().starts_with('"').then(|| content.span.clone())
}

/// The first 200 characters, on a character boundary, with whitespace runs folded.
fn preview(text: &str) -> String {
    let folded: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    folded.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TURN_1: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true}"#;
    const TURN_2: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"42"}]}],"stream":true}"#;

    #[test]
    fn split_and_reassemble_give_back_the_exact_body() {
        for body in [TURN_1, TURN_2] {
            let conversation = split(body);
            let raws: Vec<_> = conversation.nodes.iter().map(MessageNode::raw_json).collect();
            assert_eq!(
                stored_conversation::reassemble(&conversation.envelope, conversation.messages_offset, &raws),
                body
            );
        }
    }

    #[test]
    fn a_later_turn_shares_the_earlier_turns_nodes() {
        let first = split(TURN_1);
        let second = split(TURN_2);
        assert_eq!(second.nodes[..2], first.nodes[..]);
        assert_eq!(second.conversation_id(), first.conversation_id());
        assert_eq!(second.nodes[3].parent_id, Some(second.nodes[2].id));
    }

    #[test]
    fn message_fields_are_read() {
        let nodes = split(TURN_2).nodes;
        assert_eq!(nodes[2].role, "assistant");
        assert!(nodes[2].tool_calls.as_deref().unwrap().contains("\"c1\""));
        assert_eq!(nodes[3].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(nodes[3].content_text.as_deref(), Some("42"));
        assert!(nodes[3].content_parts.is_some());
        assert_eq!(split(TURN_2).last_user_message_preview.as_deref(), Some("Hi"));
    }

    #[test]
    fn a_loosely_written_array_keeps_the_whole_body() {
        let body = br#"{"model":"m","messages": [ {"role":"user","content":"x"} ]}"#;
        let conversation = split(body);
        assert_eq!(conversation.messages_offset, None);
        assert_eq!(conversation.envelope, body);
        assert_eq!(conversation.nodes.len(), 1);
    }
}
