//! Inserts into `requests`: multi-row statements of a few reused shapes (see `db`). A plain INSERT,
//! so that a batch holding an id that is already stored fails whole and is retried row by row (see
//! the writer).

use sqlx::{MySql, Transaction};

use super::{bind_all, MultiRowInsert};
use crate::stored_request::StoredRequest;

static INSERT: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO requests (id, started_at, finished_at, method, endpoint, client_model, upstream_model, is_stream, \
     http_status, outcome, error_type, error_message, latency_us, ttfb_us, prompt_tokens, completion_tokens, \
     total_tokens, cached_tokens, usage_source, client_ip, user_agent, body_sha256, conversation_id, \
     last_message_id, message_count, last_user_message_preview, reply_text, reply_tool_calls, finish_reason, \
     request_envelope, messages_offset, response_json, cache_write_tokens, client_key, response_reply_offset, \
     response_tool_calls_offset) ",
    "",
);

/// Inserts the rows in id order. Ids are UUIDv7s, ordered as the requests started; a batch holds
/// them as the requests finished, a few dozen places apart at c=32. InnoDB fills the primary key's
/// last page while rows arrive in key order, but splits a full page in the middle for a row that
/// lands before the last one: inserted as they finished, rows took ~28 % more room and MariaDB
/// ~3 µs more CPU each (BENCHMARKS.md, "What each optimisation bought").
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn insert_request_batch(tx: &mut Transaction<'_, MySql>, rows: &[StoredRequest]) -> sqlx::Result<()> {
    let mut rows: Vec<&StoredRequest> = rows.iter().collect();
    rows.sort_unstable_by_key(|row| row.id);
    for (chunk, sql) in INSERT.runs(&rows) {
        let bytes = chunk.iter().map(|r| value_bytes(r)).sum();
        let mut arguments = INSERT.arguments(chunk.len(), bytes);
        for r in chunk {
            bind_all!(arguments;
                &r.id[..],
                r.started_at,
                r.finished_at,
                &r.method,
                &r.endpoint,
                &r.client_model,
                &r.upstream_model,
                r.is_stream,
                r.http_status,
                r.outcome,
                &r.error_type,
                &r.error_message,
                r.latency_us,
                r.ttfb_us,
                r.prompt_tokens,
                r.completion_tokens,
                r.total_tokens,
                r.cached_tokens,
                r.usage_source,
                &r.client_ip,
                &r.user_agent,
                r.body_sha256.as_ref().map(|h| &h[..]),
                r.conversation_id.as_ref().map(|h| &h[..]),
                r.last_message_id.as_ref().map(|h| &h[..]),
                r.message_count,
                &r.last_user_message_preview,
                &r.reply_text,
                &r.reply_tool_calls,
                &r.finish_reason,
                &r.request_envelope,
                r.messages_offset,
                r.response_json.as_deref(),
                r.cache_write_tokens,
                &r.client_key,
                r.response_reply_offset,
                r.response_tool_calls_offset,
            );
        }
        sqlx::query_with(sql, arguments).execute(&mut **tx).await?;
    }
    Ok(())
}

/// About the bytes a row's values take encoded: its long values and room for the rest.
fn value_bytes(r: &StoredRequest) -> usize {
    let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    r.request_envelope.len()
        + r.response_json.as_ref().map_or(0, |b| b.len())
        + text(&r.reply_text)
        + text(&r.reply_tool_calls)
        + text(&r.last_user_message_preview)
        + text(&r.user_agent)
        + 384
}

/// Inserts one row unless a row with its id exists (a batch replayed after a lost acknowledgement).
/// Returns whether it was inserted, so that aggregates count it once.
pub async fn insert_request_if_absent(tx: &mut Transaction<'_, MySql>, row: &StoredRequest) -> sqlx::Result<bool> {
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM requests WHERE id = ?").bind(&row.id[..]).fetch_optional(&mut **tx).await?;
    if exists.is_some() {
        return Ok(false);
    }
    insert_request_batch(tx, std::slice::from_ref(row)).await?;
    Ok(true)
}
