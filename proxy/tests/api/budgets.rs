//! Budgets across proxies: two proxies on one database, a token budget crossed by concurrent
//! requests through both. Each threshold fires exactly once, the hard limit holds on both (and on
//! a proxy started afterwards), and the webhook gets each alert once, retried while it fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use sqlx::MySqlPool;

use crate::helpers::{migrated, spawn_app_with, TestApp};

/// A webhook receiver that answers 503 to its first call, then 200; it keeps what it accepted.
struct Receiver {
    url: String,
    accepted: Arc<Mutex<Vec<serde_json::Value>>>,
    calls: Arc<AtomicUsize>,
}

async fn receiver() -> Receiver {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (kept, counted) = (accepted.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let (kept, counted) = (kept.clone(), counted.clone());
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                kept.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, accepted, calls }
}

const BODY: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hello"}]}"#;
/// Each mocked answer reports 20 prompt + 2 completion tokens; 20 calls use the budget up.
const BUDGET_TOKENS: i64 = 440;

async fn proxy(pool: &MySqlPool) -> TestApp {
    spawn_app_with(pool.clone(), &[("BUDGET_CHECK_INTERVAL_MS", "100"), ("LOG_FLUSH_INTERVAL_MS", "20")]).await
}

async fn alerts(pool: &MySqlPool) -> Vec<(i32, String)> {
    sqlx::query_as("SELECT threshold, delivery FROM budget_alerts ORDER BY threshold").fetch_all(pool).await.unwrap()
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 15 s");
}

#[sqlx::test(migrations = false)]
async fn a_budget_crossed_through_two_proxies_fires_once_and_its_hard_limit_holds(pool: MySqlPool) {
    let hook = receiver().await;
    let (a, b) = (proxy(&pool).await, proxy(&pool).await);
    migrated(&[&a, &b]).await;
    sqlx::query(
        "INSERT INTO budgets (name, metric, period, model, client_key, amount, thresholds, hard_limit, webhook_url, \
         webhook_format) VALUES ('team tokens', 'tokens', 'day', NULL, NULL, ?, '50,100', TRUE, ?, 'generic')",
    )
    .bind(BUDGET_TOKENS)
    .bind(&hook.url)
    .execute(&pool)
    .await
    .unwrap();

    // Eight clients at once, half through each proxy, until both refuse.
    let mut refused_by = [false, false];
    for _round in 0..40 {
        let calls = (0..8).map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            async move { (i % 2, app.post_json("/v1/chat/completions", BODY, None).await) }
        });
        for (which, response) in futures_util::future::join_all(calls).await {
            if response.status() == 429 {
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "insufficient_quota");
                assert_eq!(body["error"]["type"], "insufficient_quota");
                assert!(body["error"]["message"].as_str().unwrap().contains("team tokens"));
                refused_by[which] = true;
            } else {
                assert_eq!(response.status(), 200);
            }
        }
        if refused_by == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused_by, [true, true], "both proxies enforce the limit");

    // The limit holds: nothing more reaches either upstream.
    let forwarded = (a.upstream.received().len(), b.upstream.received().len());
    for app in [&a, &b] {
        for _ in 0..5 {
            assert_eq!(app.post_json("/v1/chat/completions", BODY, None).await.status(), 429);
        }
    }
    assert_eq!((a.upstream.received().len(), b.upstream.received().len()), forwarded);
    let served = forwarded.0 + forwarded.1;
    assert!(served as i64 * 22 >= BUDGET_TOKENS, "refused only once the budget was used: {served} calls");

    // Each threshold once, whoever saw it first; the webhook got each once after a failed attempt.
    wait_for("both alerts delivered", async || alerts(&pool).await.iter().all(|(_, d)| d == "delivered")).await;
    assert_eq!(alerts(&pool).await, [(50, "delivered".to_string()), (100, "delivered".to_string())]);
    let accepted = hook.accepted.lock().unwrap().clone();
    let mut thresholds: Vec<i64> = accepted.iter().map(|a| a["threshold"].as_i64().unwrap()).collect();
    thresholds.sort();
    assert_eq!(thresholds, [50, 100], "{accepted:?}");
    assert_eq!(hook.calls.load(Ordering::SeqCst), 3, "one refused attempt, then one delivery each");
    assert!(accepted[0]["text"].as_str().unwrap().contains("team tokens"), "a Slack-style text field");
    let attempts: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(attempts) AS SIGNED) FROM budget_alerts").fetch_one(&pool).await.unwrap();
    assert_eq!(attempts, 3);

    // A proxy started now reads the same state: it refuses at once and fires nothing again.
    let c = proxy(&pool).await;
    wait_for("the new proxy's first check", async || {
        c.post_json("/v1/chat/completions", BODY, None).await.status() == 429
    })
    .await;
    assert!(c.upstream.received().len() <= 1, "at most the call made before its first check");
    assert_eq!(alerts(&pool).await.len(), 2);
}

#[sqlx::test(migrations = false)]
async fn a_model_budget_without_hard_limit_only_alerts_and_spares_other_models(pool: MySqlPool) {
    let app = proxy(&pool).await;
    migrated(&[&app]).await;
    // Cost: claude-3-5-sonnet (what gpt-4o maps to) at $3/$15: 20 × 3 + 2 × 15 = 90 µ$ a call.
    sqlx::query(
        "INSERT INTO budgets (name, metric, period, model, client_key, amount, thresholds, hard_limit, webhook_url, \
         webhook_format) VALUES ('sonnet', 'cost', 'month', 'claude-3-5-sonnet-20241022', NULL, 270, '100', FALSE, \
         NULL, 'generic')",
    )
    .execute(&pool)
    .await
    .unwrap();
    for _ in 0..3 {
        assert_eq!(app.post_json("/v1/chat/completions", BODY, None).await.status(), 200);
    }
    wait_for("the alert", async || alerts(&pool).await.len() == 1).await;
    assert_eq!(alerts(&pool).await, [(100, "none".to_string())], "no webhook: recorded only");
    assert_eq!(app.post_json("/v1/chat/completions", BODY, None).await.status(), 200, "no hard limit");
    let other = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}"#;
    assert_eq!(app.post_json("/v1/chat/completions", other, None).await.status(), 200);
}
