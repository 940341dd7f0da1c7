use chrono::{TimeDelta, Utc};
use proxy::record::Outcome;
use serde_json::{json, Value};
use sqlx::MySqlPool;

use crate::helpers::{at, seed, spawn_admin, Seed};

/// Three days of traffic with partial hours at both ends of the ranges the tests ask for.
fn traffic() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let start = at("2026-03-10T08:00:00Z");
    let models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4"];
    for i in 0..120i64 {
        let mut s = Seed::new(start + TimeDelta::minutes(i * 37) + TimeDelta::seconds(i % 7), models[(i % 3) as usize]);
        s.latency_ms = 50 + (i as u64 * 97) % 3000;
        s.stream = i % 2 == 0;
        s.usage = if i % 11 == 0 { None } else { Some((100 + i, 20 + i % 9, i % 4)) };
        if i % 13 == 0 {
            (s.status, s.outcome) = (429, Outcome::Error);
        }
        if i % 17 == 0 {
            (s.status, s.outcome) = (499, Outcome::Cancelled);
        }
        seeds.push(s);
    }
    seeds
}

const FROM: &str = "2026-03-10T09:25:00Z";
const TO: &str = "2026-03-11T20:40:00Z";

/// The same numbers computed straight from the request rows.
async fn sql_totals(pool: &MySqlPool) -> (i64, i64, i64, i64, i64, i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(message_count) AS SIGNED), CAST(COALESCE(SUM(prompt_tokens),0) AS SIGNED), \
         CAST(COALESCE(SUM(completion_tokens),0) AS SIGNED), CAST(COALESCE(SUM(total_tokens),0) AS SIGNED), \
         CAST(COALESCE(SUM(cached_tokens),0) AS SIGNED), CAST(SUM(latency_us) AS SIGNED), \
         CAST(SUM(outcome = 'error') AS SIGNED), CAST(SUM(outcome = 'cancelled') AS SIGNED) \
         FROM requests WHERE started_at >= ? AND started_at < ?",
    )
    .bind(at(FROM).naive_utc())
    .bind(at(TO).naive_utc())
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn overview_totals_match_sql_over_the_rows_for_a_range_with_partial_hours(pool: MySqlPool) {
    seed(&pool, &traffic()).await;
    let admin = spawn_admin(pool.clone()).await;

    let data = admin
        .data(
            "query($range: TimeRange) { overview(range: $range, recentLimit: 5) { range { from to } totals { requests \
             messages promptTokens completionTokens totalTokens cachedTokens averageLatencyMs p95LatencyMs errors \
             cancelled errorRate } recentRequests { id startedAt } models { model requests totalTokens errors \
             averageLatencyMs } } }",
            json!({"range": {"from": FROM, "to": TO}}),
        )
        .await;

    let totals = &data["overview"]["totals"];
    let (requests, messages, prompt, completion, total, cached, latency, errors, cancelled) = sql_totals(&pool).await;
    assert!(requests > 40, "the range holds a good part of the traffic: {requests}");
    assert_eq!(totals["requests"], requests);
    assert_eq!(totals["messages"], messages);
    assert_eq!(totals["promptTokens"], prompt);
    assert_eq!(totals["completionTokens"], completion);
    assert_eq!(totals["totalTokens"], total);
    assert_eq!(totals["cachedTokens"], cached);
    assert_eq!(totals["errors"], errors);
    assert_eq!(totals["cancelled"], cancelled);
    let average = latency as f64 / requests as f64 / 1000.0;
    assert!((totals["averageLatencyMs"].as_f64().unwrap() - average).abs() < 1e-6);
    assert!((totals["errorRate"].as_f64().unwrap() - errors as f64 / requests as f64).abs() < 1e-9);

    // p95 from the histogram lies between the exact value and one bucket (9 %) above it.
    let latencies: Vec<i64> = sqlx::query_scalar(
        "SELECT latency_us FROM requests WHERE started_at >= ? AND started_at < ? ORDER BY latency_us",
    )
    .bind(at(FROM).naive_utc())
    .bind(at(TO).naive_utc())
    .fetch_all(&pool)
    .await
    .unwrap();
    let exact_p95_ms = latencies[(0.95 * latencies.len() as f64).ceil() as usize - 1] as f64 / 1000.0;
    let p95 = totals["p95LatencyMs"].as_f64().unwrap();
    assert!(p95 >= exact_p95_ms && p95 <= exact_p95_ms * 1.0906, "p95 {p95} vs exact {exact_p95_ms}");

    let newest: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT id FROM requests WHERE started_at >= ? AND started_at < ? ORDER BY started_at DESC LIMIT 5",
    )
    .bind(at(FROM).naive_utc())
    .bind(at(TO).naive_utc())
    .fetch_all(&pool)
    .await
    .unwrap();
    let recent: Vec<String> = data["overview"]["recentRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    let expected: Vec<String> = newest.iter().map(|id| uuid::Uuid::from_slice(id).unwrap().to_string()).collect();
    assert_eq!(recent, expected);

    assert_models_match_sql(&pool, &data["overview"]["models"]).await;
}

async fn assert_models_match_sql(pool: &MySqlPool, models: &Value) {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT client_model, COUNT(*), CAST(COALESCE(SUM(total_tokens),0) AS SIGNED), \
         CAST(SUM(outcome = 'error') AS SIGNED), CAST(SUM(latency_us) AS SIGNED) FROM requests \
         WHERE started_at >= ? AND started_at < ? GROUP BY client_model ORDER BY COUNT(*) DESC, client_model",
    )
    .bind(at(FROM).naive_utc())
    .bind(at(TO).naive_utc())
    .fetch_all(pool)
    .await
    .unwrap();
    let models = models.as_array().unwrap();
    assert_eq!(models.len(), rows.len());
    for (stats, (model, requests, tokens, errors, latency)) in models.iter().zip(rows) {
        assert_eq!(stats["model"], model);
        assert_eq!(stats["requests"], requests);
        assert_eq!(stats["totalTokens"], tokens);
        assert_eq!(stats["errors"], errors);
        let average = latency as f64 / requests as f64 / 1000.0;
        assert!((stats["averageLatencyMs"].as_f64().unwrap() - average).abs() < 1e-6);
    }
}

#[sqlx::test(migrations = false)]
async fn model_stats_match_sql(pool: MySqlPool) {
    seed(&pool, &traffic()).await;
    let admin = spawn_admin(pool.clone()).await;

    let data = admin
        .data(
            "query($range: TimeRange) { modelStats(range: $range) { model requests totalTokens errors averageLatencyMs } }",
            json!({"range": {"from": FROM, "to": TO}}),
        )
        .await;

    assert_models_match_sql(&pool, &data["modelStats"]).await;
}

#[sqlx::test(migrations = false)]
async fn usage_series_per_hour_and_per_day_match_sql(pool: MySqlPool) {
    seed(&pool, &traffic()).await;
    let admin = spawn_admin(pool.clone()).await;
    let query = "query($bucket: TimeBucket!, $range: TimeRange, $model: String) { usageSeries(bucket: $bucket, \
                 range: $range, model: $model) { bucketStart model requests totalTokens promptTokens errors } }";

    for (bucket, format) in [("HOUR", "%Y-%m-%dT%H:00:00Z"), ("DAY", "%Y-%m-%dT00:00:00Z")] {
        for model in [None, Some("gpt-4o-mini")] {
            let data =
                admin.data(query, json!({"bucket": bucket, "range": {"from": FROM, "to": TO}, "model": model})).await;
            let points: Vec<(String, String, i64, i64)> = data["usageSeries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let start = chrono::DateTime::parse_from_rfc3339(p["bucketStart"].as_str().unwrap()).unwrap();
                    (
                        start.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        p["model"].as_str().unwrap().to_string(),
                        p["requests"].as_i64().unwrap(),
                        p["totalTokens"].as_i64().unwrap(),
                    )
                })
                .collect();
            let expected: Vec<(String, String, i64, i64)> = sqlx::query_as(
                "SELECT CAST(DATE_FORMAT(started_at, ?) AS CHAR) AS b, client_model, COUNT(*), \
                 CAST(COALESCE(SUM(total_tokens),0) AS SIGNED) FROM requests WHERE started_at >= ? AND started_at < ? \
                 AND (? IS NULL OR client_model = ?) GROUP BY b, client_model ORDER BY b, client_model",
            )
            .bind(format)
            .bind(at(FROM).naive_utc())
            .bind(at(TO).naive_utc())
            .bind(model)
            .bind(model)
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(points, expected, "{bucket} {model:?}");
        }
    }
}

#[sqlx::test(migrations = false)]
async fn without_a_range_aggregates_cover_the_last_30_days(pool: MySqlPool) {
    let now = Utc::now();
    let mut seeds = vec![
        Seed::new(now - TimeDelta::days(40), "old-model"),
        Seed::new(now - TimeDelta::days(2), "gpt-4o"),
        Seed::new(now - TimeDelta::minutes(3), "gpt-4o"),
    ];
    seeds[1].usage = Some((1000, 100, 0));
    seed(&pool, &seeds).await;
    let admin = spawn_admin(pool).await;

    let data = admin
        .data(
            "{ overview { totals { requests promptTokens } models { model requests } } modelStats { model } }",
            json!({}),
        )
        .await;

    assert_eq!(data["overview"]["totals"]["requests"], 2);
    assert_eq!(data["overview"]["totals"]["promptTokens"], 1010);
    assert_eq!(data["overview"]["models"], json!([{"model": "gpt-4o", "requests": 2}]));
    assert_eq!(data["modelStats"], json!([{"model": "gpt-4o"}]));
    let all = admin.data("{ overview(range: {}) { totals { requests } } }", json!({})).await;
    assert_eq!(all["overview"]["totals"]["requests"], 3, "an empty range means all time");
}

#[sqlx::test(migrations = false)]
async fn an_empty_database_gives_zeroes_not_errors(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    let data = admin
        .data(
            "{ overview { totals { requests averageLatencyMs p95LatencyMs errorRate } recentRequests { id } models { model } } \
             usageSeries(bucket: DAY) { requests } }",
            json!({}),
        )
        .await;

    assert_eq!(
        data,
        json!({"overview": {"totals": {"requests": 0, "averageLatencyMs": null, "p95LatencyMs": null, "errorRate": 0.0},
               "recentRequests": [], "models": []}, "usageSeries": []})
    );
}
