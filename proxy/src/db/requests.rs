//! Inserts into `requests`: multi-row statements of a few reused shapes (see `db`). A plain INSERT,
//! so that a batch holding an id that is already stored fails whole and is retried row by row (see
//! the writer).

use sqlx::{MySql, QueryBuilder, Transaction};

use crate::stored_request::StoredRequest;

#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn insert_request_batch(tx: &mut Transaction<'_, MySql>, rows: &[StoredRequest]) -> sqlx::Result<()> {
    for chunk in super::in_statement_shapes(rows) {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO requests (id, started_at, finished_at, method, endpoint, client_model, upstream_model, \
             is_stream, http_status, outcome, error_type, error_message, latency_us, ttfb_us, prompt_tokens, \
             completion_tokens, total_tokens, cached_tokens, usage_source, client_ip, user_agent, body_sha256, \
             conversation_id, last_message_id, message_count, last_user_message_preview, reply_text, \
             reply_tool_calls, finish_reason, request_envelope, messages_offset, response_json, cache_write_tokens, \
             client_key) ",
        );
        query.push_values(chunk, |mut row, r| {
            row.push_bind(&r.id[..])
                .push_bind(r.started_at)
                .push_bind(r.finished_at)
                .push_bind(&r.method)
                .push_bind(&r.endpoint)
                .push_bind(&r.client_model)
                .push_bind(&r.upstream_model)
                .push_bind(r.is_stream)
                .push_bind(r.http_status)
                .push_bind(r.outcome)
                .push_bind(&r.error_type)
                .push_bind(&r.error_message)
                .push_bind(r.latency_us)
                .push_bind(r.ttfb_us)
                .push_bind(r.prompt_tokens)
                .push_bind(r.completion_tokens)
                .push_bind(r.total_tokens)
                .push_bind(r.cached_tokens)
                .push_bind(r.usage_source)
                .push_bind(&r.client_ip)
                .push_bind(&r.user_agent)
                .push_bind(r.body_sha256.as_ref().map(|h| &h[..]))
                .push_bind(r.conversation_id.as_ref().map(|h| &h[..]))
                .push_bind(r.last_message_id.as_ref().map(|h| &h[..]))
                .push_bind(r.message_count)
                .push_bind(&r.last_user_message_preview)
                .push_bind(&r.reply_text)
                .push_bind(&r.reply_tool_calls)
                .push_bind(&r.finish_reason)
                .push_bind(&r.request_envelope)
                .push_bind(r.messages_offset)
                .push_bind(r.response_json.as_deref())
                .push_bind(r.cache_write_tokens)
                .push_bind(&r.client_key);
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
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
