use sqlx::MySqlPool;

use crate::helpers::{count, spawn_app};

#[sqlx::test(migrations = false)]
async fn the_root_names_the_service_version_and_upstream_host(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let body: serde_json::Value = app.get_json("/").await;

    assert_eq!(body["service"], "TokenSlipper proxy");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let upstream_port = app.upstream.base_url.split(':').nth(2).unwrap().trim_end_matches("/v1");
    assert_eq!(body["upstream_host"], format!("127.0.0.1:{upstream_port}"));
    assert_eq!(body["links"]["health"], "/health");
    assert_eq!(body["links"]["admin"], "http://127.0.0.1:8080/admin");
}

#[sqlx::test(migrations = false)]
async fn health_is_ok_once_migrations_are_applied_by_the_proxy_itself(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    app.flush().await;

    let response = app.client.get(app.url("/health")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["log_writer"]["migrations_applied"], true);
    assert_eq!(count(&pool, "requests").await, 0, "the proxy created the tables");
}

#[sqlx::test(migrations = false)]
async fn with_mysql_down_the_proxy_still_forwards_and_health_says_degraded(pool: MySqlPool) {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = proxy::db::lazy_pool(
        sqlx::mysql::MySqlConnectOptions::new().host("127.0.0.1").port(closed_port).username("root"),
    );
    drop(pool);
    let app = crate::helpers::spawn_app_with(unreachable, &[]).await;

    let forwarded = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
    assert_eq!(forwarded.status(), 200, "requests do not wait for or fail on the database");

    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "unreachable");
    assert!(body["reasons"][0].as_str().unwrap().contains("database unreachable"));
}

#[sqlx::test(migrations = false)]
async fn the_model_list_is_the_upstreams_plus_every_alias(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let list: serde_json::Value = app.get_json("/v1/models").await;

    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["claude-sonnet-4-20250514", "gpt-4", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini"]);
    assert_eq!(list["data"][3]["object"], "model");
    assert_eq!(list["data"][3]["upstream_model"], "claude-3-5-sonnet-20241022");
    let row = app.only_logged_request().await;
    assert_eq!(row.endpoint, "/v1/models");
}

#[sqlx::test(migrations = false)]
async fn a_model_is_retrieved_as_an_alias_or_from_the_upstream(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let alias: serde_json::Value = app.get_json("/v1/models/gpt-4o-mini").await;
    assert_eq!(alias["id"], "gpt-4o-mini");
    assert_eq!(alias["upstream_model"], "claude-3-5-haiku-20241022");
    assert!(app.upstream.received().is_empty(), "an alias is answered by the proxy");

    let other = app.client.get(app.url("/v1/models/claude-opus-4-1")).send().await.unwrap();
    assert_eq!(other.status(), 404, "the mock upstream does not know it; its answer passes through");
    let forwarded = app.upstream.last_received();
    assert_eq!((forwarded.method.as_str(), forwarded.path_and_query.as_str()), ("GET", "/v1/models/claude-opus-4-1"));
    assert_eq!(app.logged_requests().await.len(), 2);
}

/// The value of the one sample of `/metrics` whose line starts with `series`.
fn sample(text: &str, series: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[sqlx::test(migrations = false)]
async fn metrics_count_requests_tokens_and_cost_in_prometheus_format(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hello"}]}"#;
    for _ in 0..2 {
        assert_eq!(app.post_json("/v1/chat/completions", body, None).await.status(), 200);
    }
    assert_eq!(app.post_json("/v1/chat/completions", "{not json", None).await.status(), 400);
    app.flush().await;
    let rows = app.logged_requests().await;
    let ok: Vec<_> = rows.iter().filter(|r| r.outcome == "ok").collect();
    let (prompt, completion): (i64, i64) =
        ok.iter().fold((0, 0), |(p, c), r| (p + r.prompt_tokens.unwrap(), c + r.completion_tokens.unwrap()));
    let model = ok[0].upstream_model.clone().unwrap();
    assert_eq!(model, "claude-3-5-sonnet-20241022", "the default mapping");

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    assert_eq!(
        sample(&text, r#"tokenslipper_requests_total{model="gpt-4o",endpoint="/v1/chat/completions",outcome="ok"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, r#"tokenslipper_requests_total{model="",endpoint="/v1/chat/completions",outcome="error"}"#),
        1.0
    );
    assert_eq!(sample(&text, r#"tokenslipper_request_duration_seconds_count{stream="false"}"#), 3.0);
    let tokens = |kind: &str| {
        sample(&text, &format!(r#"tokenslipper_tokens_total{{model="{model}",kind="{kind}",source="measured"}}"#))
    };
    assert_eq!((tokens("prompt"), tokens("completion")), (prompt as f64, completion as f64));
    // claude-3-5-sonnet at the seeded $3 in / $15 out per 1M tokens.
    let expected = (prompt * 3 + completion * 15) as f64 / 1e6;
    let cost = sample(&text, &format!(r#"tokenslipper_cost_usd_total{{model="{model}",source="measured"}}"#));
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    assert_eq!(sample(&text, "tokenslipper_log_spooled_records"), 0.0);
    assert_eq!(sample(&text, "tokenslipper_log_written_total"), 3.0);
}
