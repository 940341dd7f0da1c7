//! Reading request rows: one page of summaries, the total behind a filter, one request in full with
//! its conversation. A page costs three queries whatever its size.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{MySql, MySqlPool, QueryBuilder};

use std::collections::BTreeMap;

use crate::db::aggregates::{self, GroupBy, GroupKey, RollupFilter, Sums};
use crate::db::search;
use crate::time_window::Window;

/// Filters of the request list. Everything but `search` is answered by the rollups for counting.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub rollup: RollupFilter,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Words to find in the reply or the messages a request sent first (see `db::search`).
    pub search: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummaryRow {
    pub id: Vec<u8>,
    pub started_at: DateTime<Utc>,
    pub method: String,
    pub endpoint: String,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub is_stream: bool,
    pub http_status: i16,
    pub outcome: String,
    pub error_type: Option<String>,
    pub latency_us: i64,
    pub ttfb_us: Option<i64>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub total_tokens: Option<i32>,
    pub cached_tokens: Option<i32>,
    pub cache_write_tokens: Option<i32>,
    pub usage_source: String,
    pub message_count: i32,
    pub last_user_message_preview: Option<String>,
    pub client_key: Option<String>,
}

const SUMMARY_COLUMNS: &str = "id, started_at, method, endpoint, client_model, upstream_model, is_stream, \
    http_status, outcome, error_type, latency_us, ttfb_us, prompt_tokens, completion_tokens, total_tokens, \
    cached_tokens, cache_write_tokens, usage_source, message_count, last_user_message_preview, client_key";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DetailRow {
    #[sqlx(flatten)]
    pub summary: SummaryRow,
    pub finished_at: DateTime<Utc>,
    pub error_message: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub body_sha256: Option<Vec<u8>>,
    pub conversation_id: Option<Vec<u8>>,
    pub last_message_id: Option<Vec<u8>>,
    pub reply_text: Option<String>,
    pub reply_tool_calls: Option<String>,
    pub finish_reason: Option<String>,
    pub request_envelope: Vec<u8>,
    pub messages_offset: Option<i32>,
    pub response_json: Option<Vec<u8>>,
    /// Where the reply's text and tool calls were cut out of `response_json` (see
    /// `stored_conversation::cut_reply`).
    pub response_reply_offset: Option<u32>,
    pub response_tool_calls_offset: Option<u32>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub position: i32,
    pub role: String,
    pub name: Option<String>,
    /// The message's text, inflated by [`fetch_conversation`] when it was stored compressed.
    pub content_text: Option<String>,
    /// A long text as stored (`stored_conversation::compress_text`), instead of `content_text`.
    pub content_compressed: Option<Vec<u8>>,
    pub content_parts: Option<String>,
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
    /// The message as sent, its content string cut out at `content_offset` when set (see `raw_json`);
    /// inflated by [`fetch_conversation`] when it was stored compressed.
    pub raw_json: Vec<u8>,
    /// A long `raw_json` as stored (`stored_conversation::compress`), instead of `raw_json`.
    pub raw_compressed: Option<Vec<u8>>,
    pub content_offset: Option<i32>,
}

impl MessageRow {
    /// The message exactly as the client sent it.
    pub fn raw_json(&self) -> std::borrow::Cow<'_, [u8]> {
        let offset = self.content_offset.and_then(|o| usize::try_from(o).ok());
        stored_conversation::message_json(&self.raw_json, offset, self.content_text.as_deref())
    }
}

fn push_where(query: &mut QueryBuilder<'_, MySql>, filter: &RequestFilter) {
    query.push(" WHERE 1 = 1");
    aggregates::push_filter(query, &filter.rollup, "r.client_model", "r.upstream_model");
    if let Some(from) = filter.from {
        query.push(" AND r.started_at >= ").push_bind(from.naive_utc());
    }
    if let Some(to) = filter.to {
        query.push(" AND r.started_at < ").push_bind(to.naive_utc());
    }
}

/// One page of the request list.
pub struct RequestsPage {
    /// How many requests match in all; with a text search, at most `search::MAX_MATCHES`.
    pub total: i64,
    /// True when a text search stopped early: more requests may match than `total`.
    pub total_is_lower_bound: bool,
    pub rows: Vec<SummaryRow>,
}

/// One page of summaries, newest first, and how many requests match in all.
///
/// A deep `OFFSET` makes MySQL step over every row before the page. Without a text search the
/// hourly rollups say how many matching requests each hour holds: they give the total, and they
/// name the hours that hold the page's rows, so that only those hours' rows are read. A text
/// search lists its matches (at most `search::MAX_MATCHES`) by id and pages through them.
#[tracing::instrument(skip_all)]
pub async fn fetch_requests_page(
    pool: &MySqlPool,
    filter: &RequestFilter,
    offset: u64,
    limit: u64,
) -> sqlx::Result<RequestsPage> {
    if let Some(text) = &filter.search {
        let hits = search::find(pool, &search::search_words(text), filter).await?;
        let page: Vec<Vec<u8>> =
            hits.ids.iter().skip(offset as usize).take(limit as usize).map(|id| id.to_vec()).collect();
        return Ok(RequestsPage {
            total: hits.ids.len() as i64,
            total_is_lower_bound: !hits.complete,
            rows: fetch_summaries(pool, &page).await?,
        });
    }
    let window = Window { from: filter.from, to: filter.to.unwrap_or_else(far_future) };
    let hours = aggregates::sums(pool, &window.split(), GroupBy::Hour, &filter.rollup).await?;
    let total = hours.values().map(|s| s.requests).sum();
    let rows = match hours_of_page(&hours, offset, limit) {
        Some(page) => fetch_summaries(pool, &page_ids(pool, filter, &page, limit).await?).await?,
        None => Vec::new(),
    };
    Ok(RequestsPage { total, total_is_lower_bound: false, rows })
}

/// Where a page lies: the hours that hold its rows, newest first, each by its start, and the
/// page's offset from the newest end of the first of them.
#[derive(Debug, PartialEq)]
struct PageHours {
    hours: Vec<DateTime<Utc>>,
    offset: u64,
}

/// Ids of one page, newest first, read from `requests_cost` — which begins with (started_at, id) and
/// holds every column a filter names — in the page's hours only: a filter matching few requests
/// needs no index of its own, as the rollups say which hours to read.
async fn page_ids(
    pool: &MySqlPool,
    filter: &RequestFilter,
    page: &PageHours,
    limit: u64,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let mut ids = QueryBuilder::<MySql>::new("SELECT r.id FROM requests r FORCE INDEX (requests_cost)");
    push_where(&mut ids, filter);
    ids.push(" AND (");
    let mut hours = ids.separated(" OR ");
    for hour in &page.hours {
        hours.push("(r.started_at >= ").push_bind_unseparated(hour.naive_utc());
        hours.push_unseparated(" AND r.started_at < ").push_bind_unseparated((*hour + TimeDelta::hours(1)).naive_utc());
        hours.push_unseparated(")");
    }
    ids.push(") ORDER BY r.started_at DESC, r.id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(page.offset);
    ids.build_query_scalar().fetch_all(pool).await
}

/// Given matching requests per hour, the hours that hold the `offset`-th to the `offset + limit`-th
/// of them (newest first); `None` when the offset is past them all.
fn hours_of_page(hours: &BTreeMap<GroupKey, Sums>, offset: u64, limit: u64) -> Option<PageHours> {
    let mut counted = hours.iter().rev().filter_map(|((hour, _), sums)| Some((hour.as_ref()?, sums.requests as u64)));
    // Requests newer than the hour being looked at.
    let mut newer = 0u64;
    let (first, in_first) = counted.find_map(|(hour, count)| {
        newer += count;
        (offset < newer).then(|| (*hour, offset - (newer - count)))
    })?;
    let mut page = PageHours { hours: vec![first], offset: in_first };
    let mut held = newer - offset;
    for (hour, count) in counted {
        if held >= limit {
            break;
        }
        if count > 0 {
            page.hours.push(*hour);
            held += count;
        }
    }
    Some(page)
}

/// The newest requests of a window.
pub async fn fetch_recent(pool: &MySqlPool, window: &Window, limit: u64) -> sqlx::Result<Vec<SummaryRow>> {
    let filter = RequestFilter { from: window.from, to: Some(window.to), ..Default::default() };
    let mut ids = QueryBuilder::<MySql>::new("SELECT r.id FROM requests r");
    push_where(&mut ids, &filter);
    ids.push(" ORDER BY r.started_at DESC, r.id DESC LIMIT ").push_bind(limit);
    let ids: Vec<Vec<u8>> = ids.build_query_scalar().fetch_all(pool).await?;
    fetch_summaries(pool, &ids).await
}

/// Summaries of these requests, in the order given.
pub async fn fetch_summaries(pool: &MySqlPool, ids: &[Vec<u8>]) -> sqlx::Result<Vec<SummaryRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<MySql>::new(format!("SELECT {SUMMARY_COLUMNS} FROM requests WHERE id IN ("));
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.clone());
    }
    query.push(")");
    let mut rows: Vec<SummaryRow> = query.build_query_as().fetch_all(pool).await?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}

/// An end for open ranges that lies beyond any stored row (rows are stamped by the proxy's clock).
fn far_future() -> DateTime<Utc> {
    Utc::now() + chrono::TimeDelta::days(365)
}

pub async fn fetch_request(pool: &MySqlPool, id: &[u8]) -> sqlx::Result<Option<DetailRow>> {
    sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS}, finished_at, error_message, client_ip, user_agent, body_sha256, conversation_id, \
         last_message_id, reply_text, reply_tool_calls, finish_reason, request_envelope, messages_offset, \
         response_json, response_reply_offset, response_tool_calls_offset FROM requests WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The conversation ending at `last_message_id`, oldest first, by walking parent links; every
/// message's text in `content_text` and its stored JSON in `raw_json`.
pub async fn fetch_conversation(pool: &MySqlPool, last_message_id: &[u8]) -> sqlx::Result<Vec<MessageRow>> {
    let mut rows: Vec<MessageRow> = sqlx::query_as(
        "WITH RECURSIVE chain AS ( \
           SELECT id, parent_id FROM message_nodes WHERE id = ? \
           UNION ALL \
           SELECT n.id, n.parent_id FROM message_nodes n JOIN chain c ON n.id = c.parent_id) \
         SELECT m.position, m.role, m.name, m.content_text, m.content_compressed, m.content_parts, m.tool_calls, \
         m.tool_call_id, m.raw_json, m.content_offset, m.raw_compressed \
         FROM chain JOIN message_nodes m ON m.id = chain.id ORDER BY m.position",
    )
    .bind(last_message_id)
    .fetch_all(pool)
    .await?;
    for row in &mut rows {
        if let Some(compressed) = row.content_compressed.take() {
            row.content_text = inflate(&compressed, row.position, "text").and_then(|text| String::from_utf8(text).ok());
        }
        if let Some(compressed) = row.raw_compressed.take() {
            row.raw_json = inflate(&compressed, row.position, "JSON").unwrap_or_default();
        }
    }
    Ok(rows)
}

/// A message's part stored compressed, inflated; `None` (and a warning) when the bytes are damaged:
/// the message is then shown without that part.
fn inflate(compressed: &[u8], position: i32, part: &str) -> Option<Vec<u8>> {
    let inflated = stored_conversation::decompress(compressed);
    if inflated.is_none() {
        tracing::warn!(position, part, "a stored message part does not inflate; shown without it");
    }
    inflated
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matching requests per hour, as the rollups give them: (hour of 2026-05-01, count).
    fn counts(hours: &[(u32, i64)]) -> BTreeMap<GroupKey, Sums> {
        hours
            .iter()
            .map(|&(hour, requests)| {
                let start = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap().and_hms_opt(hour, 0, 0).unwrap();
                ((Some(start.and_utc()), None), Sums { requests, ..Sums::default() })
            })
            .collect()
    }

    fn page(hours: &[u32], offset: u64) -> Option<PageHours> {
        let start = |hour| chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap().and_hms_opt(hour, 0, 0).unwrap();
        Some(PageHours { hours: hours.iter().map(|&hour| start(hour).and_utc()).collect(), offset })
    }

    #[test]
    fn a_page_reads_the_hours_that_hold_its_rows_and_skips_empty_ones() {
        // Newest first: 9 requests at 20:00, none at 19:00, 1 at 12:00, 30 at 03:00.
        let hours = counts(&[(3, 30), (12, 1), (19, 0), (20, 9)]);

        assert_eq!(hours_of_page(&hours, 0, 5), page(&[20], 0), "within the newest hour");
        assert_eq!(hours_of_page(&hours, 5, 5), page(&[20, 12], 5), "over an empty hour, ending with the 12:00 one");
        assert_eq!(hours_of_page(&hours, 5, 6), page(&[20, 12, 3], 5));
        assert_eq!(hours_of_page(&hours, 9, 20), page(&[12, 3], 0), "from the start of an hour");
        assert_eq!(hours_of_page(&hours, 12, 20), page(&[3], 2));
        assert_eq!(hours_of_page(&hours, 39, 20), page(&[3], 29), "the last row");
        assert_eq!(hours_of_page(&hours, 40, 20), None, "past the end");
        assert_eq!(hours_of_page(&BTreeMap::new(), 0, 20), None, "nothing matches");
    }
}
