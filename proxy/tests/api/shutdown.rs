use sqlx::MySqlPool;

use crate::helpers::{fetch_logged_requests, spawn_app_with};

#[sqlx::test(migrations = false)]
async fn graceful_shutdown_writes_every_queued_record(pool: MySqlPool) {
    // A flush interval far longer than the test: only the shutdown drain can write these rows.
    let app =
        spawn_app_with(pool.clone(), &[("LOG_FLUSH_INTERVAL_MS", "3600000"), ("LOG_BATCH_MAX_ROWS", "1000")]).await;
    for i in 0..25 {
        let body = format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"n{i}"}}]}}"#);
        assert_eq!(app.post_json("/v1/chat/completions", &body, None).await.status(), 200);
    }
    assert_eq!(app.log.status().written, 0, "nothing is written before the batch is due");

    app.shut_down().await;

    let rows = fetch_logged_requests(&pool).await;
    assert_eq!(rows.len(), 25);
    let mut ids: Vec<Vec<u8>> = rows.iter().map(|r| r.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 25, "ids are unique");
}
