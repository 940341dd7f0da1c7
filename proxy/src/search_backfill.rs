//! Indexes the requests logged before the text search's index existed (migration
//! `20261127000001` noted the newest of them in `search_backfill`), newest first, a chunk at a time,
//! in the background of a running proxy. Several proxies on one database take turns: a chunk is
//! indexed under a lock on the progress row.
//!
//! The writer credits a request with the messages it sent first because it knows which messages it
//! had stored before; here the same is read from the rows: a message is credited to the oldest
//! request of its conversation whose chain (walked from its last message by parent links, by id, as
//! the admin API reads a conversation) holds it. As in the writer, messages before the first user
//! message are not credited.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use search_index::{word_hashes, WordSet};
use sqlx::{MySql, MySqlPool};

use crate::conversation::{NodeId, NodeIdSet};
use crate::db;
use crate::search_block::{attribute_words, SearchBlock, FULL_BLOCK_REQUESTS};

/// Requests indexed per transaction (a full block when all have words).
const CHUNK: u32 = FULL_BLOCK_REQUESTS as u32;
/// Ids or conversations named in one `IN` list.
const IDS_PER_QUERY: usize = 500;
/// Pause between chunks, so that the log writer keeps most of MySQL.
const PAUSE: Duration = Duration::from_millis(200);

/// Runs until no request is left to index. Errors (MySQL down) are retried after a pause.
pub async fn run(pool: MySqlPool) {
    let mut indexed = 0usize;
    loop {
        match index_next_chunk(&pool).await {
            Ok(Some(count)) => {
                indexed += count;
                tokio::time::sleep(PAUSE).await;
            }
            Ok(None) => {
                if indexed > 0 {
                    tracing::info!(requests = indexed, "text search: requests logged before the index are indexed");
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "text search: cannot index older requests yet; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct ChunkRow {
    id: Vec<u8>,
    reply_text: Option<String>,
    conversation_id: Option<Vec<u8>>,
    client_model: Option<String>,
    upstream_model: Option<String>,
    outcome: String,
    is_stream: bool,
}

/// Indexes the next chunk; `None` when nothing is left.
pub async fn index_next_chunk(pool: &MySqlPool) -> sqlx::Result<Option<usize>> {
    let mut tx = pool.begin().await?;
    let up_to: Option<Vec<u8>> = sqlx::query_scalar("SELECT up_to FROM search_backfill WHERE id = 1 FOR UPDATE")
        .fetch_optional(&mut *tx)
        .await?;
    let Some(up_to) = up_to else { return Ok(None) };
    let rows: Vec<ChunkRow> = sqlx::query_as(
        "SELECT id, reply_text, conversation_id, client_model, upstream_model, outcome, is_stream FROM requests \
          WHERE id <= ? ORDER BY id DESC LIMIT ?",
    )
    .bind(&up_to)
    .bind(CHUNK)
    .fetch_all(&mut *tx)
    .await?;
    let Some(oldest) = rows.last().and_then(|row| <[u8; 16]>::try_from(row.id.as_slice()).ok()) else {
        sqlx::query("DELETE FROM search_backfill WHERE id = 1").execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(None);
    };
    let sent = sent_messages(&mut tx, &rows, &up_to).await?;
    let texts = message_texts(&mut tx, sent.iter().flatten()).await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (row, sent) in rows.iter().zip(&sent) {
        let Ok(id) = <[u8; 16]>::try_from(row.id.as_slice()) else { continue };
        let mut words: WordSet =
            attribute_words(row.client_model.as_deref(), row.upstream_model.as_deref(), &row.outcome, row.is_stream)
                .into_iter()
                .collect();
        if let Some(reply) = &row.reply_text {
            word_hashes(reply, &mut words);
        }
        for text in sent.iter().filter_map(|node| texts.get(node)) {
            word_hashes(text, &mut words);
        }
        entries.push((id, words.into_iter().collect::<Vec<u64>>()));
    }
    if let Some(block) = SearchBlock::from_entries(entries) {
        db::search_index::insert_search_block(&mut tx, &block).await?;
    }
    match u128::from_be_bytes(oldest).checked_sub(1) {
        Some(next) => {
            sqlx::query("UPDATE search_backfill SET up_to = ? WHERE id = 1")
                .bind(&next.to_be_bytes()[..])
                .execute(&mut *tx)
                .await?
        }
        None => sqlx::query("DELETE FROM search_backfill WHERE id = 1").execute(&mut *tx).await?,
    };
    tx.commit().await?;
    Ok(Some(rows.len()))
}

/// For each row, the messages it sent first: walking each request of the rows' conversations up to
/// `up_to` from the oldest, the nodes of its chain that no older request's chain held.
async fn sent_messages(
    tx: &mut sqlx::Transaction<'_, MySql>,
    rows: &[ChunkRow],
    up_to: &[u8],
) -> sqlx::Result<Vec<Vec<NodeId>>> {
    let conversations: Vec<&Vec<u8>> =
        rows.iter().filter_map(|row| row.conversation_id.as_ref()).collect::<HashSet<_>>().into_iter().collect();
    let mut turns: Vec<(Vec<u8>, NodeId)> = Vec::new();
    for chunk in conversations.chunks(IDS_PER_QUERY) {
        let mut query = db::in_list("SELECT id, last_message_id FROM requests WHERE conversation_id IN (", chunk);
        query.push(" AND id <= ").push_bind(up_to).push(" AND last_message_id IS NOT NULL");
        let read: Vec<(Vec<u8>, Vec<u8>)> = query.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
        turns.extend(read.into_iter().filter_map(|(id, last)| Some((id, NodeId::try_from(last.as_slice()).ok()?))));
    }
    turns.sort_unstable();
    let parents = chains(tx, turns.iter().map(|(_, last)| *last)).await?;
    let row_of: HashMap<&[u8], usize> = rows.iter().enumerate().map(|(i, row)| (row.id.as_slice(), i)).collect();
    let mut held = NodeIdSet::default();
    let mut sent = vec![Vec::new(); rows.len()];
    for (id, last) in &turns {
        let row = row_of.get(id.as_slice()).copied();
        let mut next = Some(*last);
        // A node missing from `parents` is before the first user message (or not stored): the walk
        // ends there, as it does at the first node an older request held.
        while let Some(node) = next.filter(|node| parents.contains_key(node) && held.insert(*node)) {
            if let Some(row) = row {
                sent[row].push(node);
            }
            next = parents[&node];
        }
    }
    Ok(sent)
}

/// The parent of every node on the chains ending at `lasts`, from each last node down to the first
/// user message: one `IN` list per step down, all chains stepping together.
async fn chains(
    tx: &mut sqlx::Transaction<'_, MySql>,
    lasts: impl Iterator<Item = NodeId>,
) -> sqlx::Result<HashMap<NodeId, Option<NodeId>>> {
    let mut parents = HashMap::new();
    let mut asked: NodeIdSet = lasts.collect();
    let mut wanted: Vec<NodeId> = asked.iter().copied().collect();
    while !wanted.is_empty() {
        let mut below = Vec::new();
        for chunk in wanted.chunks(IDS_PER_QUERY) {
            let mut query = db::in_list("SELECT id, parent_id FROM message_nodes WHERE id IN (", chunk);
            query.push(" AND conversation_id IS NOT NULL");
            let read: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                query.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
            for (id, parent) in read {
                let Ok(id) = NodeId::try_from(id.as_slice()) else { continue };
                let parent = parent.and_then(|parent| NodeId::try_from(parent.as_slice()).ok());
                below.extend(parent.filter(|parent| asked.insert(*parent)));
                parents.insert(id, parent);
            }
        }
        wanted = below;
    }
    Ok(parents)
}

/// A node's id and its text, plain or compressed.
type NodeText = (Vec<u8>, Option<String>, Option<Vec<u8>>);

/// The text of these messages, by node id (a message without text has no entry).
async fn message_texts(
    tx: &mut sqlx::Transaction<'_, MySql>,
    nodes: impl Iterator<Item = &NodeId>,
) -> sqlx::Result<HashMap<NodeId, String>> {
    let nodes: Vec<&NodeId> = nodes.collect();
    let mut texts = HashMap::new();
    for chunk in nodes.chunks(IDS_PER_QUERY) {
        let mut query =
            db::in_list("SELECT id, content_text, content_compressed FROM message_nodes WHERE id IN (", chunk);
        let read: Vec<NodeText> = query.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
        for (id, text, compressed) in read {
            let text = text.or_else(|| stored_conversation::decompress_text(&compressed?));
            if let (Ok(id), Some(text)) = (NodeId::try_from(id.as_slice()), text) {
                texts.insert(id, text);
            }
        }
    }
    Ok(texts)
}
