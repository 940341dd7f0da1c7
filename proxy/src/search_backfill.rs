//! Indexes the requests logged before the text search's index existed (migration
//! `20261127000001` noted the newest of them in `search_backfill`), newest first, a chunk at a time,
//! in the background of a running proxy. Several proxies on one database take turns: a chunk is
//! indexed under a lock on the progress row.
//!
//! The writer credits a request with the messages it sent first because it knows which messages it
//! had stored before; here that is read from the rows: a request sent the messages at positions from
//! the longest older request of its chat that is not longer than it, up to its own length. Exact for
//! chats that grow turn by turn; for a chat edited midway, the messages of a sibling branch at those
//! positions are credited too.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use search_index::{word_hashes, WordSet};
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::db;
use crate::search_block::{attribute_words, SearchBlock, FULL_BLOCK_REQUESTS};

/// Requests indexed per transaction (a full block when all have words).
const CHUNK: u32 = FULL_BLOCK_REQUESTS as u32;
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
    message_count: i32,
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
        "SELECT id, reply_text, conversation_id, message_count, client_model, upstream_model, outcome, is_stream \
         FROM requests WHERE id <= ? ORDER BY id DESC LIMIT ?",
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
    let sent = sent_positions(&mut tx, &rows).await?;
    let texts = message_texts(&mut tx, &sent).await?;
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
        if let Some((conversation, from, to)) = sent {
            for position in *from..*to {
                for text in texts.get(&(conversation.clone(), position)).into_iter().flatten() {
                    word_hashes(text, &mut words);
                }
            }
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

/// For each row: its conversation and the positions of the messages it sent first, `[from, to)`.
async fn sent_positions(
    tx: &mut sqlx::Transaction<'_, MySql>,
    rows: &[ChunkRow],
) -> sqlx::Result<Vec<Option<(Vec<u8>, i32, i32)>>> {
    let conversations: HashSet<&Vec<u8>> = rows.iter().filter_map(|row| row.conversation_id.as_ref()).collect();
    let mut chats: HashMap<Vec<u8>, Vec<(Vec<u8>, i32)>> = HashMap::new();
    if !conversations.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT conversation_id, id, message_count FROM requests WHERE conversation_id IN (",
        );
        let mut list = query.separated(", ");
        for conversation in &conversations {
            list.push_bind(conversation.as_slice());
        }
        query.push(")");
        let turns: Vec<(Vec<u8>, Vec<u8>, i32)> = query.build_query_as().fetch_all(&mut **tx).await?;
        for (conversation, id, count) in turns {
            chats.entry(conversation).or_default().push((id, count));
        }
    }
    Ok(rows
        .iter()
        .map(|row| {
            let conversation = row.conversation_id.as_ref()?;
            let from = chats[conversation]
                .iter()
                .filter(|(other, other_count)| *other < row.id && *other_count <= row.message_count)
                .map(|(_, other_count)| *other_count)
                .max()
                .unwrap_or(0);
            Some((conversation.clone(), from, row.message_count))
        })
        .collect())
}

/// A node's id, conversation, position, and its text: plain or compressed.
type NodeText = (Vec<u8>, Vec<u8>, i32, Option<String>, Option<Vec<u8>>);

/// The text of the messages at those positions of those conversations, by (conversation, position).
async fn message_texts(
    tx: &mut sqlx::Transaction<'_, MySql>,
    sent: &[Option<(Vec<u8>, i32, i32)>],
) -> sqlx::Result<HashMap<(Vec<u8>, i32), Vec<String>>> {
    let ranges: Vec<&(Vec<u8>, i32, i32)> = sent.iter().flatten().filter(|(_, from, to)| from < to).collect();
    let mut texts: HashMap<(Vec<u8>, i32), Vec<String>> = HashMap::new();
    for chunk in ranges.chunks(500) {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT DISTINCT id, conversation_id, position, content_text, content_compressed FROM message_nodes \
             WHERE (content_text IS NOT NULL OR content_compressed IS NOT NULL) AND (",
        );
        let mut first = true;
        for (conversation, from, to) in chunk {
            if !std::mem::take(&mut first) {
                query.push(" OR ");
            }
            query
                .push("(conversation_id = ")
                .push_bind(conversation.as_slice())
                .push(" AND position >= ")
                .push_bind(*from)
                .push(" AND position < ")
                .push_bind(*to)
                .push(")");
        }
        query.push(")");
        let rows: Vec<NodeText> = query.build_query_as().fetch_all(&mut **tx).await?;
        for (_, conversation, position, text, compressed) in rows {
            let text = text.or_else(|| stored_conversation::decompress_text(&compressed?));
            texts.entry((conversation, position)).or_default().extend(text);
        }
    }
    Ok(texts)
}
