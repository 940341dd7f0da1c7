//! The price table, `model_prices`: the one table of the cost feature the admin API writes. It is
//! configuration, not a record of traffic.

use chrono::{DateTime, NaiveDate, Utc};
use pricing::{Price, PriceBook};
use sqlx::{MySql, MySqlPool, QueryBuilder};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrice {
    pub price: Price,
    pub updated_at: DateTime<Utc>,
}

type Row = (String, NaiveDate, i64, i64, Option<i64>, Option<i64>, DateTime<Utc>);

/// Every entry, by model and effective date.
pub async fn all(pool: &MySqlPool) -> sqlx::Result<Vec<StoredPrice>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT model, effective_from, input_per_mtok_micros, output_per_mtok_micros, cache_read_per_mtok_micros, \
         cache_write_per_mtok_micros, updated_at FROM model_prices ORDER BY model, effective_from",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(model, effective_from, input, output, cache_read, cache_write, updated_at)| StoredPrice {
            price: Price { model, effective_from, input, output, cache_read, cache_write },
            updated_at,
        })
        .collect())
}

pub async fn book(pool: &MySqlPool) -> sqlx::Result<PriceBook> {
    Ok(PriceBook::new(all(pool).await?.into_iter().map(|stored| stored.price)))
}

/// Adds or replaces entries (same model and effective date), all or none.
pub async fn upsert(pool: &MySqlPool, prices: &[Price]) -> sqlx::Result<()> {
    if prices.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for chunk in prices.chunks(1_000) {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO model_prices (model, effective_from, input_per_mtok_micros, output_per_mtok_micros, \
             cache_read_per_mtok_micros, cache_write_per_mtok_micros, updated_at) ",
        );
        query.push_values(chunk, |mut row, price| {
            row.push_bind(&price.model)
                .push_bind(price.effective_from)
                .push_bind(price.input)
                .push_bind(price.output)
                .push_bind(price.cache_read)
                .push_bind(price.cache_write)
                .push("CURRENT_TIMESTAMP(6)");
        });
        query.push(
            " ON DUPLICATE KEY UPDATE input_per_mtok_micros = VALUES(input_per_mtok_micros), \
             output_per_mtok_micros = VALUES(output_per_mtok_micros), \
             cache_read_per_mtok_micros = VALUES(cache_read_per_mtok_micros), \
             cache_write_per_mtok_micros = VALUES(cache_write_per_mtok_micros), updated_at = VALUES(updated_at)",
        );
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Removes one entry; whether there was one.
pub async fn delete(pool: &MySqlPool, model: &str, effective_from: NaiveDate) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM model_prices WHERE model = ? AND effective_from = ?")
        .bind(model)
        .bind(effective_from)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
