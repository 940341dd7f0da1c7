//! Sums over a time window, read from the per-hour rollups for whole hours and from the request
//! rows for the partial hours at the ends (see `time_window`). Each function costs one query per
//! part, however many requests the window holds.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::time_window::Split;

/// The counters every aggregate is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub requests: i64,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub latency_us_sum: i64,
    pub errors: i64,
    pub cancelled: i64,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.requests += other.requests;
        self.messages += other.messages;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.cached_tokens += other.cached_tokens;
        self.latency_us_sum += other.latency_us_sum;
        self.errors += other.errors;
        self.cancelled += other.cancelled;
    }

    pub fn average_latency_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.latency_us_sum as f64 / self.requests as f64 / 1000.0)
    }
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Nothing,
    /// Per hour (UTC).
    Hour,
    ClientModel,
    /// Per hour (UTC) and client model.
    HourAndModel,
    /// Per day (UTC) and client model.
    DayAndModel,
}

/// Optional filters that both the rollups and the rows can apply.
#[derive(Debug, Clone, Default)]
pub struct RollupFilter {
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    /// Matches either the client or the upstream model.
    pub any_model: Option<String>,
    pub outcome: Option<&'static str>,
    pub is_stream: Option<bool>,
}

/// One group's key: the bucket start (for time groupings) and the client model (for model grouping).
pub type GroupKey = (Option<DateTime<Utc>>, Option<String>);

pub async fn sums(
    pool: &MySqlPool,
    split: &Split,
    group_by: GroupBy,
    filter: &RollupFilter,
) -> sqlx::Result<BTreeMap<GroupKey, Sums>> {
    let mut groups: BTreeMap<GroupKey, Sums> = BTreeMap::new();
    if let Some((from, to)) = split.whole_hours {
        let mut query = QueryBuilder::<MySql>::new("SELECT ");
        push_key(&mut query, group_by, Source::Rollup);
        query.push(
            ", CAST(SUM(requests) AS SIGNED), CAST(SUM(messages) AS SIGNED), CAST(SUM(prompt_tokens) AS SIGNED), \
             CAST(SUM(completion_tokens) AS SIGNED), CAST(SUM(total_tokens) AS SIGNED), \
             CAST(SUM(cached_tokens) AS SIGNED), CAST(SUM(latency_us_sum) AS SIGNED), \
             CAST(SUM(CASE WHEN outcome = 'error' THEN requests ELSE 0 END) AS SIGNED), \
             CAST(SUM(CASE WHEN outcome = 'cancelled' THEN requests ELSE 0 END) AS SIGNED) \
             FROM usage_hourly WHERE hour < ",
        );
        query.push_bind(to.naive_utc());
        if let Some(from) = from {
            query.push(" AND hour >= ").push_bind(from.naive_utc());
        }
        push_filter(&mut query, filter, "client_model", "upstream_model");
        push_group(&mut query, group_by);
        merge(&mut groups, query.build_query_as::<SumsRow>().fetch_all(pool).await?);
    }
    for (from, to) in &split.partial {
        let mut query = QueryBuilder::<MySql>::new("SELECT ");
        push_key(&mut query, group_by, Source::Rows);
        query.push(
            ", COUNT(*), CAST(SUM(message_count) AS SIGNED), CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED), CAST(COALESCE(SUM(total_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(cached_tokens), 0) AS SIGNED), CAST(SUM(latency_us) AS SIGNED), \
             CAST(SUM(outcome = 'error') AS SIGNED), CAST(SUM(outcome = 'cancelled') AS SIGNED) \
             FROM requests WHERE started_at >= ",
        );
        query.push_bind(from.naive_utc()).push(" AND started_at < ").push_bind(to.naive_utc());
        push_filter(&mut query, filter, "COALESCE(client_model, '')", "COALESCE(upstream_model, '')");
        push_group(&mut query, group_by);
        merge(&mut groups, query.build_query_as::<SumsRow>().fetch_all(pool).await?);
    }
    groups.retain(|_, sums| sums.requests > 0);
    Ok(groups)
}

/// Requests per latency bucket (`FLOOR(8 * LOG2(latency_us))`, as the proxy's writer files them).
pub async fn latency_histogram(pool: &MySqlPool, split: &Split) -> sqlx::Result<BTreeMap<i64, i64>> {
    let mut histogram: BTreeMap<i64, i64> = BTreeMap::new();
    if let Some((from, to)) = split.whole_hours {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT bucket, CAST(SUM(requests) AS SIGNED) FROM latency_hourly WHERE hour < ",
        );
        query.push_bind(to.naive_utc());
        if let Some(from) = from {
            query.push(" AND hour >= ").push_bind(from.naive_utc());
        }
        query.push(" GROUP BY bucket");
        for (bucket, count) in query.build_query_as::<(i16, i64)>().fetch_all(pool).await? {
            *histogram.entry(i64::from(bucket)).or_default() += count;
        }
    }
    for (from, to) in &split.partial {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT CAST(FLOOR(8 * LOG2(GREATEST(latency_us, 1))) AS SIGNED) AS bucket, COUNT(*) \
             FROM requests WHERE started_at >= ",
        );
        query.push_bind(from.naive_utc()).push(" AND started_at < ").push_bind(to.naive_utc());
        query.push(" GROUP BY bucket");
        for (bucket, count) in query.build_query_as::<(i64, i64)>().fetch_all(pool).await? {
            *histogram.entry(bucket).or_default() += count;
        }
    }
    Ok(histogram)
}

/// The latency (ms) below which `fraction` of the requests fall, as the upper edge of the histogram
/// bucket that holds that rank: at most 9 % (one eighth of a doubling) above the exact value.
pub fn percentile_ms(histogram: &BTreeMap<i64, i64>, fraction: f64) -> Option<f64> {
    let total: i64 = histogram.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((fraction * total as f64).ceil() as i64).max(1);
    let mut seen = 0;
    for (bucket, count) in histogram {
        seen += count;
        if seen >= rank {
            return Some(2f64.powf((*bucket + 1) as f64 / 8.0) / 1000.0);
        }
    }
    None
}

/// bucket, model, then the nine sums in the order of [`Sums`].
type SumsRow = (
    Option<NaiveDateTime>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The group key columns. Buckets are DATETIME values: the rollups' `hour` as it is (so grouping
/// follows the primary key), the rows' `started_at` cut to its hour or day.
fn push_key(query: &mut QueryBuilder<'_, MySql>, group_by: GroupBy, source: Source) {
    let bucket = match (group_by, source) {
        (GroupBy::Hour | GroupBy::HourAndModel, Source::Rollup) => "hour",
        (GroupBy::DayAndModel, Source::Rollup) => "CAST(DATE(hour) AS DATETIME)",
        (GroupBy::Hour | GroupBy::HourAndModel, Source::Rows) => {
            "CAST(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00') AS DATETIME)"
        }
        (GroupBy::DayAndModel, Source::Rows) => "CAST(DATE(started_at) AS DATETIME)",
        (GroupBy::Nothing | GroupBy::ClientModel, _) => "CAST(NULL AS DATETIME)",
    };
    let model = match (group_by, source) {
        (GroupBy::Nothing | GroupBy::Hour, _) => "CAST(NULL AS CHAR)",
        (_, Source::Rollup) => "client_model",
        (_, Source::Rows) => "COALESCE(client_model, '')",
    };
    // Fixed strings from this file, never user input.
    query.push(format!("{bucket} AS bucket, {model} AS model"));
}

#[derive(Clone, Copy)]
enum Source {
    Rollup,
    Rows,
}

fn push_group(query: &mut QueryBuilder<'_, MySql>, group_by: GroupBy) {
    if group_by != GroupBy::Nothing {
        query.push(" GROUP BY bucket, model");
    }
}

/// ` AND …` for each filter that is set; the model columns are named by the caller, the rollups'
/// and the rows' spellings differ. Column names are fixed strings, never user input.
pub fn push_filter(
    query: &mut QueryBuilder<'_, MySql>,
    filter: &RollupFilter,
    client_column: &str,
    upstream_column: &str,
) {
    if let Some(model) = &filter.client_model {
        query.push(format!(" AND {client_column} = ")).push_bind(model.clone());
    }
    if let Some(model) = &filter.upstream_model {
        query.push(format!(" AND {upstream_column} = ")).push_bind(model.clone());
    }
    if let Some(model) = &filter.any_model {
        query.push(format!(" AND ({client_column} = ")).push_bind(model.clone());
        query.push(format!(" OR {upstream_column} = ")).push_bind(model.clone()).push(")");
    }
    if let Some(outcome) = filter.outcome {
        query.push(" AND outcome = ").push_bind(outcome);
    }
    if let Some(is_stream) = filter.is_stream {
        query.push(" AND is_stream = ").push_bind(is_stream);
    }
}

fn merge(groups: &mut BTreeMap<GroupKey, Sums>, rows: Vec<SumsRow>) {
    for (bucket, model, requests, messages, prompt, completion, total, cached, latency, errors, cancelled) in rows {
        let bucket = bucket.map(|b| b.and_utc());
        let sums = Sums {
            requests: requests.unwrap_or(0),
            messages: messages.unwrap_or(0),
            prompt_tokens: prompt.unwrap_or(0),
            completion_tokens: completion.unwrap_or(0),
            total_tokens: total.unwrap_or(0),
            cached_tokens: cached.unwrap_or(0),
            latency_us_sum: latency.unwrap_or(0),
            errors: errors.unwrap_or(0),
            cancelled: cancelled.unwrap_or(0),
        };
        groups.entry((bucket, model)).or_default().add(&sums);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_is_the_upper_edge_of_the_bucket_holding_its_rank() {
        // 19 requests in bucket 80 (1024–1117 µs), 1 in bucket 104 (~8 ms).
        let histogram = BTreeMap::from([(80, 19), (104, 1)]);
        let p95 = percentile_ms(&histogram, 0.95).unwrap();
        assert!((p95 - 2f64.powf(81.0 / 8.0) / 1000.0).abs() < 1e-9);
        let p100 = percentile_ms(&histogram, 1.0).unwrap();
        assert!(p100 > 8.0 && p100 < 9.0);
        assert_eq!(percentile_ms(&BTreeMap::new(), 0.95), None);
    }
}
