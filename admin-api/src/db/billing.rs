//! Token sums by the dimensions pricing and cost reports need, over a split window: `billing_hourly`
//! for whole hours, the request rows for the partial hours at the ends. Rows are bucketed by day
//! at the coarsest — prices change at day boundaries, so a day's sums are priced exactly.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::time_window::Split;

/// Which dimensions beyond the ones pricing needs (bucket, models, usage source) to keep apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detail {
    /// Hour buckets instead of day buckets.
    pub hourly: bool,
    pub endpoint: bool,
    pub client_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingGroup {
    /// Start of the hour or day (UTC).
    pub bucket: DateTime<Utc>,
    pub client_model: String,
    pub upstream_model: String,
    pub usage_source: String,
    /// "" unless `Detail::endpoint`.
    pub endpoint: String,
    /// "" unless `Detail::client_key`, and for calls made without client authentication.
    pub client_key: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
}

type Row = (NaiveDateTime, String, String, String, String, String, i64, i64, i64, i64, i64);

pub async fn groups(pool: &MySqlPool, split: &Split, detail: Detail) -> sqlx::Result<Vec<BillingGroup>> {
    let mut out = Vec::new();
    if let Some((from, to)) = split.whole_hours {
        let bucket = if detail.hourly { "hour" } else { "CAST(DATE(hour) AS DATETIME)" };
        let mut query = QueryBuilder::<MySql>::new(format!(
            // The ASCII columns are cast: sqlx reads a binary collation as bytes.
            "SELECT {bucket} AS bucket, client_model, upstream_model, CAST(usage_source AS CHAR), {}, {}, \
             CAST(SUM(requests) AS SIGNED), CAST(SUM(prompt_tokens) AS SIGNED), \
             CAST(SUM(completion_tokens) AS SIGNED), CAST(SUM(cached_tokens) AS SIGNED), \
             CAST(SUM(cache_write_tokens) AS SIGNED) FROM billing_hourly WHERE hour < ",
            if detail.endpoint { "CAST(endpoint AS CHAR)" } else { "''" },
            if detail.client_key { "CAST(client_key AS CHAR)" } else { "''" },
        ));
        query.push_bind(to.naive_utc());
        if let Some(from) = from {
            query.push(" AND hour >= ").push_bind(from.naive_utc());
        }
        query.push(" GROUP BY 1, 2, 3, 4, 5, 6");
        out.extend(query.build_query_as::<Row>().fetch_all(pool).await?.into_iter().map(group));
    }
    for (from, to) in &split.partial {
        let bucket = if detail.hourly {
            "CAST(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00') AS DATETIME)"
        } else {
            "CAST(DATE(started_at) AS DATETIME)"
        };
        let mut query = QueryBuilder::<MySql>::new(format!(
            "SELECT {bucket} AS bucket, COALESCE(client_model, ''), COALESCE(upstream_model, ''), usage_source, \
             {}, {}, COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED), CAST(COALESCE(SUM(cached_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(cache_write_tokens), 0) AS SIGNED) FROM requests WHERE started_at >= ",
            if detail.endpoint { "endpoint" } else { "''" },
            if detail.client_key { "COALESCE(client_key, '')" } else { "''" },
        ));
        query.push_bind(from.naive_utc()).push(" AND started_at < ").push_bind(to.naive_utc());
        query.push(" GROUP BY 1, 2, 3, 4, 5, 6");
        out.extend(query.build_query_as::<Row>().fetch_all(pool).await?.into_iter().map(group));
    }
    Ok(out)
}

fn group(row: Row) -> BillingGroup {
    let (
        bucket,
        client_model,
        upstream_model,
        usage_source,
        endpoint,
        client_key,
        requests,
        prompt,
        completion,
        cached,
        cache_write,
    ) = row;
    BillingGroup {
        bucket: bucket.and_utc(),
        client_model,
        upstream_model,
        usage_source,
        endpoint,
        client_key,
        requests,
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cache_write_tokens: cache_write,
    }
}
