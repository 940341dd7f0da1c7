//! Inserts into `message_nodes`. A node's id is derived from its content and its parent, so
//! writing one that already exists is a no-op. A long text goes into `content_compressed` instead of
//! `content_text`, a long raw JSON into `raw_compressed` instead of `raw_json` (see
//! `stored_conversation::compress`).

use sqlx::{MySql, Transaction};

use super::{bind_all, MultiRowInsert};
use crate::conversation::{MessageNode, NodeId, NodeIdSet};

static INSERT: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO message_nodes (id, parent_id, conversation_id, position, role, name, content_text, content_parts, \
     tool_calls, tool_call_id, raw_json, content_offset, content_compressed, raw_compressed) ",
    " ON DUPLICATE KEY UPDATE id = id",
);

// MySQL allows 65,535 placeholders per statement; one id a row.
const IDS_PER_STATEMENT: usize = 5_000;

#[tracing::instrument(skip_all, fields(nodes = nodes.len()))]
pub async fn insert_message_nodes(tx: &mut Transaction<'_, MySql>, nodes: &[&MessageNode]) -> sqlx::Result<()> {
    for (chunk, sql) in INSERT.runs(nodes) {
        // Compressed here, on the log writer's thread, and only for nodes MySQL does not hold yet.
        let compressed: Vec<Compressed> = chunk
            .iter()
            .map(|node| {
                let fields = node.fields();
                Compressed {
                    text: fields.content_text.as_deref().and_then(stored_conversation::compress_text),
                    raw: stored_conversation::compress(&fields.stored_json),
                }
            })
            .collect();
        let bytes = chunk.iter().zip(&compressed).map(|(node, compressed)| value_bytes(node, compressed)).sum();
        let mut arguments = INSERT.arguments(chunk.len(), bytes);
        for (node, compressed) in chunk.iter().zip(&compressed) {
            let fields = node.fields();
            let text = if compressed.text.is_some() { &None } else { &fields.content_text };
            let raw: &[u8] = if compressed.raw.is_some() { &[] } else { &fields.stored_json };
            bind_all!(arguments;
                &node.id[..],
                node.parent_id.as_ref().map(|p| &p[..]),
                node.conversation_id.as_ref().map(|c| &c[..]),
                node.position,
                &node.role,
                &fields.name,
                text,
                &fields.content_parts,
                &fields.tool_calls,
                &fields.tool_call_id,
                raw,
                fields.content_offset,
                compressed.text.as_deref(),
                compressed.raw.as_deref(),
            );
        }
        sqlx::query_with(sql, arguments).execute(&mut **tx).await?;
    }
    Ok(())
}

/// About the bytes a node's values take encoded: what it stores of its text and raw JSON, and room
/// for the rest.
fn value_bytes(node: &MessageNode, compressed: &Compressed) -> usize {
    let fields = node.fields();
    let text = compressed.text.as_ref().map_or_else(|| fields.content_text.as_ref().map_or(0, String::len), Vec::len);
    let raw = compressed.raw.as_ref().map_or(fields.stored_json.len(), Vec::len);
    text + raw + fields.tool_calls.as_ref().map_or(0, String::len) + 256
}

/// A node's long text and long raw JSON, deflated (`None`: stored as they are).
struct Compressed {
    text: Option<Vec<u8>>,
    raw: Option<Vec<u8>>,
}

/// Which of these nodes MySQL holds already.
pub async fn stored_ids(tx: &mut Transaction<'_, MySql>, ids: &[NodeId]) -> sqlx::Result<NodeIdSet> {
    let mut stored = NodeIdSet::default();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut query = super::in_list("SELECT id FROM message_nodes WHERE id IN (", chunk);
        let rows: Vec<Vec<u8>> = query.build_query_scalar().persistent(false).fetch_all(&mut **tx).await?;
        stored.extend(rows.into_iter().filter_map(|id| NodeId::try_from(id.as_slice()).ok()));
    }
    Ok(stored)
}
