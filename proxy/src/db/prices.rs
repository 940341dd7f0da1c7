//! The price table (owned by the admin API), read for the cost figures of `/metrics`.

use chrono::NaiveDate;
use pricing::{Price, PriceBook};
use sqlx::MySqlPool;

/// model, effective_from, input, output, cache read, cache write (µ$ per 1M tokens).
type PriceRow = (String, NaiveDate, i64, i64, Option<i64>, Option<i64>);

pub async fn load_price_book(pool: &MySqlPool) -> sqlx::Result<PriceBook> {
    let rows: Vec<PriceRow> = sqlx::query_as(
        "SELECT model, effective_from, input_per_mtok_micros, output_per_mtok_micros, cache_read_per_mtok_micros, \
         cache_write_per_mtok_micros FROM model_prices",
    )
    .fetch_all(pool)
    .await?;
    Ok(PriceBook::new(rows.into_iter().map(|(model, effective_from, input, output, cache_read, cache_write)| Price {
        model,
        effective_from,
        input,
        output,
        cache_read,
        cache_write,
    })))
}
