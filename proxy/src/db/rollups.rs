//! Adds a batch's per-hour aggregates to `usage_hourly`, `latency_hourly` and `billing_hourly`.

use sqlx::{MySql, QueryBuilder, Transaction};

use crate::rollup::HourlyRollup;

#[tracing::instrument(skip_all, fields(usage_rows = rollup.usage.len()))]
pub async fn add_hourly_rollup(tx: &mut Transaction<'_, MySql>, rollup: &HourlyRollup<'_>) -> sqlx::Result<()> {
    if !rollup.usage.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO usage_hourly (hour, client_model, upstream_model, outcome, is_stream, requests, messages, \
             prompt_tokens, completion_tokens, total_tokens, cached_tokens, latency_us_sum) ",
        );
        query.push_values(&rollup.usage, |mut row, (key, sums)| {
            row.push_bind(key.hour.naive_utc())
                .push_bind(key.client_model)
                .push_bind(key.upstream_model)
                .push_bind(key.outcome)
                .push_bind(key.is_stream)
                .push_bind(sums.requests)
                .push_bind(sums.messages)
                .push_bind(sums.prompt_tokens)
                .push_bind(sums.completion_tokens)
                .push_bind(sums.total_tokens)
                .push_bind(sums.cached_tokens)
                .push_bind(sums.latency_us_sum);
        });
        // VALUES() is the spelling both MySQL 8 and MariaDB accept here.
        query.push(
            " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests), messages = messages + VALUES(messages), \
             prompt_tokens = prompt_tokens + VALUES(prompt_tokens), \
             completion_tokens = completion_tokens + VALUES(completion_tokens), \
             total_tokens = total_tokens + VALUES(total_tokens), cached_tokens = cached_tokens + VALUES(cached_tokens), \
             latency_us_sum = latency_us_sum + VALUES(latency_us_sum)",
        );
        query.build().persistent(false).execute(&mut **tx).await?;
    }
    if !rollup.latency.is_empty() {
        let mut query = QueryBuilder::<MySql>::new("INSERT INTO latency_hourly (hour, bucket, requests) ");
        query.push_values(&rollup.latency, |mut row, ((hour, bucket), count)| {
            row.push_bind(hour.naive_utc()).push_bind(*bucket).push_bind(*count);
        });
        query.push(" ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests)");
        query.build().persistent(false).execute(&mut **tx).await?;
    }
    if !rollup.billing.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO billing_hourly (hour, client_model, upstream_model, usage_source, endpoint, client_key, \
             requests, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens) ",
        );
        query.push_values(&rollup.billing, |mut row, (key, sums)| {
            row.push_bind(key.hour.naive_utc())
                .push_bind(key.client_model)
                .push_bind(key.upstream_model)
                .push_bind(key.usage_source)
                .push_bind(key.endpoint)
                .push_bind(key.client_key)
                .push_bind(sums.requests)
                .push_bind(sums.prompt_tokens)
                .push_bind(sums.completion_tokens)
                .push_bind(sums.cached_tokens)
                .push_bind(sums.cache_write_tokens);
        });
        query.push(
            " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests), \
             prompt_tokens = prompt_tokens + VALUES(prompt_tokens), \
             completion_tokens = completion_tokens + VALUES(completion_tokens), \
             cached_tokens = cached_tokens + VALUES(cached_tokens), \
             cache_write_tokens = cache_write_tokens + VALUES(cache_write_tokens)",
        );
        query.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}
