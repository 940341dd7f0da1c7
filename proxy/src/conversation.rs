//! Splits a request body into its conversation (one content-addressed node per message, chained to
//! the node before it) and an envelope (everything else), so that a conversation's history is
//! stored once however many turns repeat it. Runs in the log writer, never on the request path.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::request_body::{field, top_level_fields, top_level_fields_and_array, ArrayMember, TopLevelField};
use crate::sha256::Sha256;
use crate::stored_request::clip;
use crate::stream_chunk::Text;

pub type NodeId = [u8; 32];

/// A set of node ids, placed by a keyed folded multiply (`search_index::WordHashMixer`, eight bytes
/// at a time) instead of std's SipHash, which was 2–4 % of the log writer's store thread: ids are
/// SHA-256 output, but a client can grind messages whose ids agree in chosen bits, hence the key.
pub type NodeIdSet = std::collections::HashSet<NodeId, std::hash::BuildHasherDefault<search_index::WordHashMixer>>;

#[derive(Debug, Clone)]
pub struct MessageNode {
    pub id: NodeId,
    pub parent_id: Option<NodeId>,
    /// The node of the first user message at or before this one; `None` before it.
    pub conversation_id: Option<NodeId>,
    pub position: u32,
    pub role: String,
    /// The message exactly as the client sent it; the node's id is derived from these bytes. A
    /// slice of the request body: a turn's history is most of its body, and copying it message by
    /// message cost an allocation and a copy of the whole body per record.
    raw: Bytes,
    /// Read from `raw` when first asked for: a turn repeats its whole history, and the log writer
    /// stores only the nodes it has not stored before, so most nodes are never read further.
    fields: OnceLock<NodeFields>,
}

/// What is stored of a message besides its place in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFields {
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
    /// The message exactly as the client sent it.
    pub fn raw_json(&self) -> &[u8] {
        &self.raw
    }

    pub fn fields(&self) -> &NodeFields {
        self.fields.get_or_init(|| node_fields(&self.raw))
    }
}

/// Nodes are equal when they are the same message at the same place; whether their fields have
/// been read yet does not matter.
impl PartialEq for MessageNode {
    fn eq(&self, other: &Self) -> bool {
        (self.id, self.parent_id, self.conversation_id, self.position, &self.role, &self.raw)
            == (other.id, other.parent_id, other.conversation_id, other.position, &other.role, &other.raw)
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
    hasher.finish()
}

pub fn split(body: &[u8]) -> Conversation {
    let body = Bytes::copy_from_slice(body);
    let messages = top_level_fields_and_array(&body, Some("messages")).ok().and_then(|(_, messages)| messages);
    split_fields(&body, messages.as_ref())
}

/// [`split`] with the body's `messages` already read (`None`: the body is not a JSON object, or
/// its `messages` is missing or not an array).
pub fn split_fields(body: &Bytes, messages: Option<&ArrayMember<'_>>) -> Conversation {
    let Some(messages) = messages else {
        return Conversation {
            nodes: Vec::new(),
            envelope: body.to_vec(),
            messages_offset: None,
            last_user_message_preview: None,
        };
    };
    let mut nodes: Vec<MessageNode> = Vec::with_capacity(messages.elements.len());
    for (position, raw) in messages.elements.iter().enumerate() {
        let parent_id = nodes.last().map(|n: &MessageNode| n.id);
        let raw = body.slice_ref(raw.get().as_bytes());
        let role = clip(first_role(&raw).unwrap_or_else(|| "unknown".into()), 32);
        let id = node_id(parent_id.as_ref(), &raw);
        let conversation_id = match nodes.last() {
            Some(MessageNode { conversation_id: Some(id), .. }) => Some(*id),
            _ => (role == "user").then_some(id),
        };
        let position = position as u32;
        nodes.push(MessageNode { id, parent_id, conversation_id, position, role, raw, fields: OnceLock::new() });
    }
    let last_user_message_preview =
        nodes.iter().rev().find(|n| n.role == "user").and_then(content_text).map(|text| preview(&text));

    // Cutting is exact only when the array is written compactly (see `ArrayMember`).
    let (envelope, messages_offset) = match &messages.compact_span {
        Some(span) => {
            let mut envelope = Vec::with_capacity(body.len() - span.len());
            envelope.extend_from_slice(&body[..span.start]);
            envelope.extend_from_slice(&body[span.end..]);
            (envelope, Some(span.start))
        }
        None => (body.to_vec(), None),
    };
    Conversation { nodes, envelope, messages_offset, last_user_message_preview }
}

fn node_fields(raw: &[u8]) -> NodeFields {
    // One pass over the message's top level; only the members read below are parsed further (a
    // whole `Value` tree of each message cost as much again, for every message of every turn).
    let fields = top_level_fields(raw).unwrap_or_default();
    let member = |key: &str| field(&fields, key).map(|f| f.value.get());
    let text = |key: &str| member(key).and_then(|json| serde_json::from_str::<String>(json).ok());
    let content = string_content(&fields);
    let (content_text, content_parts) = match (content, member("content")) {
        (Some(content), _) => (serde_json::from_str::<String>(content.value.get()).ok(), None),
        (None, Some(json)) if json.starts_with('[') => {
            let parts: Value = serde_json::from_str(json).unwrap_or(Value::Null);
            let texts: Vec<&str> =
                parts.as_array().into_iter().flatten().filter_map(|p| p.get("text").and_then(Value::as_str)).collect();
            ((!texts.is_empty()).then(|| texts.join("\n")), Some(parts.to_string()))
        }
        _ => (None, None),
    };
    let cut = content
        .map(|f| f.span.clone())
        .zip(content_text.as_deref())
        .and_then(|(span, text)| stored_conversation::cut_content(raw, span, text))
        .and_then(|(stored, at)| Some((stored, u32::try_from(at).ok()?)));
    let (stored_json, content_offset) = match cut {
        Some((stored, at)) => (stored, Some(at)),
        None => (raw.to_vec(), None),
    };
    let tool_calls = member("tool_calls")
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .filter(|calls| !calls.is_null())
        .map(|calls| calls.to_string());
    NodeFields {
        name: text("name").map(|n| clip(n, 255)),
        content_text,
        content_parts,
        tool_calls,
        tool_call_id: text("tool_call_id").map(|t| clip(t, 255)),
        stored_json,
        content_offset,
    }
}

/// The node's `content_text` as [`node_fields`] reads it, without reading the rest of the message
/// when its content is a string: the preview needs only the last user message's text, and that
/// message is usually stored already (its fields are then never read).
fn content_text(node: &MessageNode) -> Option<Cow<'_, str>> {
    if let Some(fields) = node.fields.get() {
        return fields.content_text.as_deref().map(Cow::Borrowed);
    }
    let members = top_level_fields(&node.raw).unwrap_or_default();
    match string_content(&members) {
        Some(content) => serde_json::from_str::<Text>(content.value.get()).ok()?.0,
        // Content parts are joined into a text: the full reading.
        None => node.fields().content_text.as_deref().map(Cow::Borrowed),
    }
}

/// The message's `content` member when it is a string (the last one, if repeated).
fn string_content<'f, 'a>(members: &'f [TopLevelField<'a>]) -> Option<&'f TopLevelField<'a>> {
    field(members, "content").filter(|f| f.value.get().starts_with('"'))
}

/// The message's `role`, read from its first members only: most clients write `role` first, so the
/// rest of the message — its content, often kilobytes — is not scanned for every message of every
/// turn. Some write it after the content (the Go client recorded in `../shared/data/wire` does);
/// their content is skipped over, not parsed. The first `role` key counts; `None` when there is
/// none or it is not a string.
fn first_role(raw: &[u8]) -> Option<String> {
    struct RoleVisitor<'r>(&'r mut Option<String>);
    impl<'de> Visitor<'de> for RoleVisitor<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a message object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if key == "role" {
                    *self.0 = map.next_value::<Text>()?.0.map(Cow::into_owned);
                    // Stopping here leaves the object unfinished, which the deserializer reports
                    // as an error; the role is already read.
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }
    let mut role = None;
    let _ = serde_json::Deserializer::from_slice(raw).deserialize_map(RoleVisitor(&mut role));
    role
}

const PREVIEW_CHARS: usize = 200;

/// The first 200 characters, on a character boundary, with whitespace runs folded. It stops at the
/// 200th character: folding the whole text first took 3 % of the writer's CPU with 1 KB bodies.
fn preview(text: &str) -> String {
    let mut preview = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            if chars == PREVIEW_CHARS {
                break;
            }
            preview.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == PREVIEW_CHARS {
                return preview;
            }
            preview.push(c);
            chars += 1;
        }
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;

    const TURN_1: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true}"#;
    const TURN_2: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"42"}]}],"stream":true}"#;

    #[test]
    fn a_preview_is_the_first_200_characters_with_whitespace_folded() {
        let folded_then_cut =
            |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect::<String>();
        let long_word = "é".repeat(199);
        for text in [
            String::new(),
            "  \n\t ".into(),
            "  Hi\n\n  there  ".into(),
            "word ".repeat(100),
            format!("{long_word} x"),
            format!("{long_word}  \n xy"),
            format!("{long_word}z tail"),
        ] {
            assert_eq!(preview(&text), folded_then_cut(&text), "{text:?}");
        }
        assert_eq!(preview(&"ab ".repeat(100)).chars().count(), 200);
    }

    #[test]
    fn split_and_reassemble_give_back_the_exact_body() {
        let loose: [&[u8]; 4] = [
            br#"{"model":"m","messages":[ {"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
            br#"{"model":"m","messages":[{"role":"user","content":"a"} ,{"role":"assistant","content":"b"}]}"#,
            b"{\"messages\":\n  [{\"role\":\"user\",\"content\":\"a\"}\n]\n}",
            br#"{"model":"m","messages":[],"n":1}"#,
        ];
        for body in [TURN_1, TURN_2].into_iter().chain(loose) {
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
        assert!(nodes[2].fields().tool_calls.as_deref().unwrap().contains("\"c1\""));
        assert_eq!(nodes[3].fields().tool_call_id.as_deref(), Some("c1"));
        assert_eq!(nodes[3].fields().content_text.as_deref(), Some("42"));
        assert!(nodes[3].fields().content_parts.is_some());
        assert_eq!(split(TURN_2).last_user_message_preview.as_deref(), Some("Hi"));
    }

    #[test]
    fn the_preview_reads_the_text_the_messages_fields_give() {
        let bodies: [&[u8]; 3] = [
            br#"{"messages":[{"role":"user","content":"caf\u00e9\n  two\tlines","content":"last \"wins\""}]}"#,
            br#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#,
            br#"{"messages":[{"role":"user","content":7},{"role":"assistant","content":"not a question"}]}"#,
        ];
        for body in bodies {
            let conversation = split(body);
            let user = conversation.nodes.iter().rev().find(|n| n.role == "user").unwrap();
            let read_fully = split(body).nodes[user.position as usize].fields().content_text.clone();
            assert_eq!(conversation.last_user_message_preview, read_fully.as_deref().map(preview));
        }
        assert_eq!(split(bodies[0]).last_user_message_preview.as_deref(), Some("last \"wins\""));
        assert_eq!(split(bodies[1]).last_user_message_preview.as_deref(), Some("a b"));
    }

    #[test]
    fn members_of_another_kind_are_read_as_absent_and_the_last_of_a_repeated_key_wins() {
        let body = br#"{"messages":["hello",{"role":"user","content":5,"name":7,"tool_calls":null},{"role":"user","content":"a","content":"b"}]}"#;
        let conversation = split(body);
        let [odd, numbers, repeated] = &conversation.nodes[..] else { panic!("three nodes") };
        assert_eq!((odd.role.as_str(), &odd.fields().content_text), ("unknown", &None));
        let read = numbers.fields();
        assert_eq!((numbers.role.as_str(), &read.content_text, &read.content_parts), ("user", &None, &None));
        assert_eq!((&read.name, &read.tool_calls), (&None, &None));
        assert_eq!(repeated.fields().content_text.as_deref(), Some("b"));
        let raws: Vec<_> = conversation.nodes.iter().map(MessageNode::raw_json).collect();
        assert_eq!(stored_conversation::reassemble(&conversation.envelope, conversation.messages_offset, &raws), body);
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
