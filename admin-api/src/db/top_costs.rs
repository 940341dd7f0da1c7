//! The most expensive requests and conversations of a window. MySQL ranks the rows with the prices
//! passed in as a small derived table (one row per model and price period, built from the price
//! book, so snapshot names resolve exactly as everywhere else); the exact figures are then
//! computed from the returned rows' tokens in Rust. Calls without a price cannot be ranked by cost
//! and are left out.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pricing::PriceBook;
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::costing::priced_model;
use crate::time_window::Window;

/// Picodollars of one row, in floating point: for ordering only.
const COST_EXPRESSION: &str = "(GREATEST(COALESCE(r.prompt_tokens, 0) - COALESCE(r.cached_tokens, 0) \
    - COALESCE(r.cache_write_tokens, 0), 0) * p.input + COALESCE(r.cached_tokens, 0) * p.cache_read \
    + COALESCE(r.cache_write_tokens, 0) * p.cache_write + COALESCE(r.completion_tokens, 0) * p.output)";

/// Ids of the `limit` costliest requests started in the window, costliest first.
pub async fn top_request_ids(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
    limit: u64,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let Some(mut query) = ranked_rows(pool, window, book, "SELECT r.id").await? else {
        return Ok(Vec::new());
    };
    query.push(format!(" ORDER BY {COST_EXPRESSION} DESC, r.id DESC LIMIT ")).push_bind(limit);
    query.build_query_scalar().fetch_all(pool).await
}

/// Conversation ids of the `limit` costliest conversations, by the cost of their requests in the window.
pub async fn top_conversation_ids(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
    limit: u64,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let Some(mut query) = ranked_rows(pool, window, book, "SELECT r.conversation_id").await? else {
        return Ok(Vec::new());
    };
    query.push(format!(
        " AND r.conversation_id IS NOT NULL GROUP BY r.conversation_id \
         ORDER BY SUM({COST_EXPRESSION}) DESC, r.conversation_id LIMIT "
    ));
    query.push_bind(limit);
    query.build_query_scalar().fetch_all(pool).await
}

/// `select` FROM the window's rows joined to their price periods, up to the WHERE clause; `None`
/// when no model of the window has a price.
async fn ranked_rows<'a>(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
    select: &str,
) -> sqlx::Result<Option<QueryBuilder<'a, MySql>>> {
    let from = window.from.map(|f| f.naive_utc()).unwrap_or(earliest());
    let to = window.to.naive_utc();
    // The recorded model names of the window, from the rollup (its hours cover the window).
    let mut names =
        QueryBuilder::<MySql>::new("SELECT DISTINCT client_model, upstream_model FROM billing_hourly WHERE hour < ");
    names.push_bind(to);
    if let Some(from) = window.from {
        names.push(" AND hour >= ").push_bind(crate::time_window::floor_hour(from).naive_utc());
    }
    let pairs: Vec<(String, String)> = names.build_query_as().fetch_all(pool).await?;
    let mut models: Vec<&str> = pairs.iter().map(|(client, upstream)| priced_model(client, upstream)).collect();
    models.sort_unstable();
    models.dedup();

    let mut query = QueryBuilder::<MySql>::new(format!("{select} FROM requests r JOIN ("));
    let mut periods = 0;
    for model in models {
        for period in book.periods(model) {
            let price = period.price;
            query.push(if periods == 0 { "SELECT " } else { " UNION ALL SELECT " });
            query.push_bind(model.to_string()).push(" AS model, ");
            query.push_bind(day_start(period.from)).push(" AS from_at, ");
            query.push_bind(period.until.map(day_start).unwrap_or(latest())).push(" AS until_at, ");
            query.push("CAST(").push_bind(price.input).push(" AS DECIMAL(20, 0)) AS input, CAST(");
            query.push_bind(price.output).push(" AS DECIMAL(20, 0)) AS output, CAST(");
            query.push_bind(price.cache_read.unwrap_or(price.input)).push(" AS DECIMAL(20, 0)) AS cache_read, CAST(");
            query.push_bind(price.cache_write.unwrap_or(price.input)).push(" AS DECIMAL(20, 0)) AS cache_write");
            periods += 1;
        }
    }
    if periods == 0 {
        return Ok(None);
    }
    query.push(
        ") p ON p.model = COALESCE(NULLIF(r.upstream_model, ''), r.client_model) \
         AND r.started_at >= p.from_at AND r.started_at < p.until_at \
         WHERE r.usage_source IN ('upstream', 'estimated') AND r.started_at >= ",
    );
    query.push_bind(from).push(" AND r.started_at < ").push_bind(to);
    Ok(Some(query))
}

/// The ends of MySQL's DATETIME range.
fn earliest() -> NaiveDateTime {
    day_start(NaiveDate::from_ymd_opt(1000, 1, 1).unwrap_or_default())
}

fn latest() -> NaiveDateTime {
    day_start(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default())
}

fn day_start(day: NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN)
}

/// What pricing needs of one request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PricedRow {
    pub id: Vec<u8>,
    pub conversation_id: Option<Vec<u8>>,
    pub started_at: DateTime<Utc>,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub usage_source: String,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub cached_tokens: Option<i32>,
    pub cache_write_tokens: Option<i32>,
}

/// The window's requests of these conversations.
pub async fn conversation_rows(
    pool: &MySqlPool,
    window: &Window,
    conversation_ids: &[Vec<u8>],
) -> sqlx::Result<Vec<PricedRow>> {
    if conversation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT id, conversation_id, started_at, client_model, upstream_model, usage_source, prompt_tokens, \
         completion_tokens, cached_tokens, cache_write_tokens FROM requests WHERE conversation_id IN (",
    );
    let mut list = query.separated(", ");
    for id in conversation_ids {
        list.push_bind(id.clone());
    }
    query.push(") AND started_at < ").push_bind(window.to.naive_utc());
    if let Some(from) = window.from {
        query.push(" AND started_at >= ").push_bind(from.naive_utc());
    }
    query.build_query_as().fetch_all(pool).await
}

/// The first user message of each conversation (its id is that message's node), cut to `chars`.
pub async fn conversation_titles(
    pool: &MySqlPool,
    conversation_ids: &[Vec<u8>],
    chars: u32,
) -> sqlx::Result<Vec<(Vec<u8>, Option<String>)>> {
    if conversation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<MySql>::new("SELECT id, LEFT(content_text, ");
    query.push_bind(chars).push(") FROM message_nodes WHERE id IN (");
    let mut list = query.separated(", ");
    for id in conversation_ids {
        list.push_bind(id.clone());
    }
    query.push(")");
    let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = query.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(id, text)| (id, text.map(|t| String::from_utf8_lossy(&t).into_owned()))).collect())
}
