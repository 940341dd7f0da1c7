//! Writes the text search's word index (crate `search-index`): a batch's block in the batch's
//! transaction, so the index covers exactly the rows MySQL holds, and the merge of recent blocks.

use search_index::{decode_block_postings, encode_block_postings, encode_positions, is_rare, rare_word_bucket};
use sqlx::{Acquire, MySql, MySqlPool, QueryBuilder, Transaction};

use super::{bind_all, MultiRowInsert};
use crate::search_block::{SearchBlock, FULL_BLOCK_REQUESTS};

static POSTINGS: MultiRowInsert =
    MultiRowInsert::new("INSERT INTO search_postings (word_hash, block_id, positions) ", "");
static RARE_POSTINGS: MultiRowInsert =
    MultiRowInsert::new("INSERT INTO search_rare_postings (bucket, block_id, postings) ", "");

/// A full block as posting rows (its rare words in shared rows by bucket, see
/// `search_index::rare_word_bucket`); a smaller one as one `search_recent` row.
#[tracing::instrument(skip_all, fields(requests = block.request_ids.len(), words = block.postings.len()))]
pub async fn insert_search_block(tx: &mut Transaction<'_, MySql>, block: &SearchBlock) -> sqlx::Result<()> {
    if !block.is_full() {
        sqlx::query("INSERT INTO search_recent (block_id, request_ids, postings) VALUES (?, ?, ?)")
            .bind(&block.block_id()[..])
            .bind(block.request_id_bytes())
            .bind(encode_block_postings(block.postings.iter()))
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    let block_id = block.block_id();
    sqlx::query("INSERT INTO search_blocks (block_id, request_ids) VALUES (?, ?)")
        .bind(&block_id[..])
        .bind(block.request_id_bytes())
        .execute(&mut **tx)
        .await?;
    let (rare, own): (Vec<Posting>, Vec<Posting>) =
        block.postings.iter().partition(|(_, positions)| is_rare(positions));
    for (chunk, sql) in POSTINGS.runs(&own) {
        // A position list encodes in about a byte per position, most often fewer.
        let bytes = chunk.iter().map(|(_, positions)| positions.len() + 40).sum();
        let mut arguments = POSTINGS.arguments(chunk.len(), bytes);
        for (word, positions) in chunk {
            bind_all!(arguments; *word, &block_id[..], encode_positions(positions));
        }
        sqlx::query_with(sql, arguments).execute(&mut **tx).await?;
    }
    // By bucket, each bucket's words still in hash order (the sort is stable).
    let mut rare: Vec<(u8, Posting)> = rare.into_iter().map(|posting| (rare_word_bucket(posting.0), posting)).collect();
    rare.sort_by_key(|(bucket, _)| *bucket);
    let shared: Vec<(u8, Vec<u8>)> = rare
        .chunk_by(|a, b| a.0 == b.0)
        .map(|words| (words[0].0, encode_block_postings(words.iter().map(|(_, posting)| *posting))))
        .collect();
    for (chunk, sql) in RARE_POSTINGS.runs(&shared) {
        let bytes = chunk.iter().map(|(_, postings)| postings.len() + 40).sum();
        let mut arguments = RARE_POSTINGS.arguments(chunk.len(), bytes);
        for (bucket, postings) in chunk {
            bind_all!(arguments; *bucket, &block_id[..], postings);
        }
        sqlx::query_with(sql, arguments).execute(&mut **tx).await?;
    }
    Ok(())
}

/// A word and the positions of the requests it finds in a block.
type Posting<'a> = (u64, &'a [u32]);

/// Requests waiting in `search_recent`.
pub async fn recent_requests(pool: &MySqlPool) -> sqlx::Result<usize> {
    let bytes: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(LENGTH(request_ids)), 0) AS SIGNED) FROM search_recent")
            .fetch_one(pool)
            .await?;
    Ok(bytes as usize / 16)
}

/// Merges the recent blocks into one full block once they hold [`FULL_BLOCK_REQUESTS`] requests.
/// Returns how many requests it moved. Two writers merging at once: the second waits for the
/// first's rows and finds none left. At READ COMMITTED the merge locks only the rows it reads, not
/// the gaps beside them, so that the log writer's batches add recent blocks meanwhile instead of
/// waiting for it; those are merged next time.
#[tracing::instrument(skip_all)]
pub async fn merge_recent_blocks(pool: &MySqlPool) -> sqlx::Result<usize> {
    let mut connection = pool.acquire().await?;
    // Applies to the connection's next transaction only.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(&mut *connection).await?;
    let mut tx = connection.begin().await?;
    let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT block_id, request_ids, postings FROM search_recent ORDER BY block_id FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    let blocks: Vec<SearchBlock> = rows
        .iter()
        .filter_map(|(block_id, ids, postings)| {
            let request_ids = ids.chunks_exact(16).map(|id| id.try_into().expect("16 bytes")).collect();
            let Some(postings) = decode_block_postings(postings) else {
                // Only a damaged row: its requests drop out of the search rather than stop every merge.
                tracing::error!(block = ?block_id, "text search: a recent block's postings cannot be read; dropped");
                return None;
            };
            Some(SearchBlock { request_ids, postings: postings.into_iter().collect() })
        })
        .filter(|block| !block.request_ids.is_empty())
        .collect();
    let merged = SearchBlock::merge(&blocks);
    if merged.request_ids.len() < FULL_BLOCK_REQUESTS {
        tx.rollback().await?;
        return Ok(0);
    }
    let mut delete = QueryBuilder::<MySql>::new("DELETE FROM search_recent WHERE block_id IN (");
    let mut list = delete.separated(", ");
    for (block_id, _, _) in &rows {
        list.push_bind(block_id);
    }
    delete.push(")");
    delete.build().execute(&mut *tx).await?;
    insert_search_block(&mut tx, &merged).await?;
    tx.commit().await?;
    Ok(merged.request_ids.len())
}
