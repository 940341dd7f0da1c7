//! The most expensive requests and conversations of a window. MySQL ranks the rows with the prices
//! written into the statement as `CASE` expressions (one branch per model and price period, built
//! from the price book, so snapshot names resolve exactly as everywhere else), reading only the
//! narrow `requests_cost` index; the exact figures are then computed from the returned rows' tokens
//! in Rust. Calls without a price cannot be ranked by cost and are left out.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pricing::PriceBook;
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::costing::priced_model;
use crate::time_window::Window;

/// The ranking reads `requests_cost` by name: left to itself the optimizer sometimes preferred the
/// wide rows (through the `started_at` index there was until migration 20261129000001), 1–4 s
/// instead of ~0.2–0.75 s (BENCHMARKS.md). FORCE INDEX is spelled the same in MySQL and MariaDB.
const FROM_COST_INDEX: &str = "FROM requests r FORCE INDEX (requests_cost) WHERE ";

/// The model a row is priced by.
const PRICED_MODEL: &str = "COALESCE(NULLIF(r.upstream_model, ''), r.client_model)";

/// One model's price over `[from, until)`, as the floating-point numbers ranking uses.
struct RankPrice {
    model: String,
    from: NaiveDateTime,
    until: NaiveDateTime,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
}

/// Ids of the `limit` costliest requests started in the window, costliest first.
pub async fn top_request_ids(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
    limit: u64,
) -> sqlx::Result<Vec<Vec<u8>>> {
    top_ids(pool, window, book, limit, Ranked::Requests).await
}

/// Conversation ids of the `limit` costliest conversations, by the cost of their requests in the window.
pub async fn top_conversation_ids(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
    limit: u64,
) -> sqlx::Result<Vec<Vec<u8>>> {
    top_ids(pool, window, book, limit, Ranked::Conversations).await
}

enum Ranked {
    Requests,
    Conversations,
}

async fn top_ids(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
    limit: u64,
    ranked: Ranked,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let prices = rank_prices(pool, window, book).await?;
    if prices.is_empty() {
        return Ok(Vec::new());
    }
    let key = match ranked {
        Ranked::Requests => "r.id",
        Ranked::Conversations => "r.conversation_id",
    };
    let mut query = QueryBuilder::<MySql>::new(format!("SELECT {key} {FROM_COST_INDEX}"));
    push_window_and_priced(&mut query, window, &prices);
    match ranked {
        Ranked::Requests => {
            query.push(" ORDER BY ");
            push_cost(&mut query, &prices);
            query.push(" DESC, r.id DESC LIMIT ");
        }
        Ranked::Conversations => {
            query.push(" AND r.conversation_id IS NOT NULL GROUP BY r.conversation_id ORDER BY SUM(");
            push_cost(&mut query, &prices);
            query.push(") DESC, r.conversation_id LIMIT ");
        }
    }
    query.push_bind(limit);
    query.build_query_scalar().fetch_all(pool).await
}

/// The price periods of every model recorded in the window (from the rollup, whose hours cover it).
async fn rank_prices(pool: &MySqlPool, window: &Window, book: &PriceBook) -> sqlx::Result<Vec<RankPrice>> {
    let mut names =
        QueryBuilder::<MySql>::new("SELECT DISTINCT client_model, upstream_model FROM billing_hourly WHERE hour < ");
    names.push_bind(window.to.naive_utc());
    if let Some(from) = window.from {
        names.push(" AND hour >= ").push_bind(crate::time_window::floor_hour(from).naive_utc());
    }
    let pairs: Vec<(String, String)> = names.build_query_as().fetch_all(pool).await?;
    let mut models: Vec<&str> = pairs.iter().map(|(client, upstream)| priced_model(client, upstream)).collect();
    models.sort_unstable();
    models.dedup();
    let mut prices = Vec::new();
    for model in models {
        for period in book.periods(model) {
            let price = period.price;
            prices.push(RankPrice {
                model: model.to_string(),
                from: day_start(period.from),
                until: period.until.map(day_start).unwrap_or(latest()),
                input: price.input as f64,
                output: price.output as f64,
                cache_read: price.cache_read.unwrap_or(price.input) as f64,
                cache_write: price.cache_write.unwrap_or(price.input) as f64,
            });
        }
    }
    Ok(prices)
}

/// The window's rows with usage and a price.
fn push_window_and_priced(query: &mut QueryBuilder<'_, MySql>, window: &Window, prices: &[RankPrice]) {
    query.push("r.usage_source IN ('upstream', 'estimated') AND r.started_at >= ");
    query.push_bind(window.from.map(|f| f.naive_utc()).unwrap_or(earliest()));
    query.push(" AND r.started_at < ").push_bind(window.to.naive_utc());
    query.push(" AND ");
    push_price(query, prices, |p| p.input);
    query.push(" IS NOT NULL");
}

/// The row's cost in picodollars, as a DOUBLE: for ordering only.
fn push_cost(query: &mut QueryBuilder<'_, MySql>, prices: &[RankPrice]) {
    query.push(
        "(GREATEST(COALESCE(r.prompt_tokens, 0) - COALESCE(r.cached_tokens, 0) - COALESCE(r.cache_write_tokens, 0), 0) * ",
    );
    push_price(query, prices, |p| p.input);
    query.push(" + COALESCE(r.cached_tokens, 0) * ");
    push_price(query, prices, |p| p.cache_read);
    query.push(" + COALESCE(r.cache_write_tokens, 0) * ");
    push_price(query, prices, |p| p.cache_write);
    query.push(" + COALESCE(r.completion_tokens, 0) * ");
    push_price(query, prices, |p| p.output);
    query.push(")");
}

/// `CASE WHEN <model and day match> THEN <price> … END`: NULL for a row without a price.
fn push_price(query: &mut QueryBuilder<'_, MySql>, prices: &[RankPrice], field: fn(&RankPrice) -> f64) {
    query.push("(CASE");
    for price in prices {
        query.push(format!(" WHEN {PRICED_MODEL} = ")).push_bind(price.model.clone());
        query.push(" AND r.started_at >= ").push_bind(price.from);
        query.push(" AND r.started_at < ").push_bind(price.until);
        query.push(" THEN ").push_bind(field(price));
    }
    query.push(" END)");
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
    // A compressed text comes whole (MySQL would have to inflate it to cut it) and is cut here.
    let mut query = QueryBuilder::<MySql>::new("SELECT id, LEFT(content_text, ");
    query.push_bind(chars).push("), content_compressed FROM message_nodes WHERE id IN (");
    let mut list = query.separated(", ");
    for id in conversation_ids {
        list.push_bind(id.clone());
    }
    query.push(")");
    // (id, the cut plain text, the whole compressed text)
    type Titled = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
    let rows: Vec<Titled> = query.build_query_as().fetch_all(pool).await?;
    let title = |text: Option<Vec<u8>>, compressed: Option<Vec<u8>>| match compressed {
        Some(compressed) => stored_conversation::decompress_text(&compressed)
            .map(|text| text.chars().take(usize::try_from(chars).unwrap_or(usize::MAX)).collect()),
        None => text.map(|t| String::from_utf8_lossy(&t).into_owned()),
    };
    Ok(rows.into_iter().map(|(id, text, compressed)| (id, title(text, compressed))).collect())
}
