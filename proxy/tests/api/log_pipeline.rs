use futures_util::StreamExt;
use sqlx::MySqlPool;

use crate::helpers::{count, fetch_logged_requests, migrated, spawn_app, spawn_app_with};

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

#[sqlx::test(migrations = false)]
async fn a_batchs_worth_of_records_is_written_without_waiting_for_the_flush_interval(pool: MySqlPool) {
    // The journal waits out the flush interval before taking what queued meanwhile, unless a
    // batch's worth has queued: these three rows must not wait an hour.
    let app = spawn_app_with(pool.clone(), &[("LOG_FLUSH_INTERVAL_MS", "3600000"), ("LOG_BATCH_MAX_ROWS", "3")]).await;
    for i in 0..3 {
        let body = format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"n{i}"}}]}}"#);
        assert_eq!(app.post_json("/v1/chat/completions", &body, None).await.status(), 200);
    }
    for _ in 0..400 {
        if app.log.status().written == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(app.log.status().written, 3, "written once the batch was full, before any flush");
    assert_eq!(count(&pool, "requests").await, 3);
}

#[sqlx::test(migrations = false)]
async fn a_record_the_database_refuses_is_given_up_alone_and_the_rest_of_its_batch_is_written(pool: MySqlPool) {
    let app = spawn_app_with(pool.clone(), &[("LOG_FLUSH_INTERVAL_MS", "3600000")]).await;
    app.flush().await;
    // Stands for any row the server will never take (a value it rejects, a row over max_allowed_packet).
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON requests FOR EACH ROW \
         IF NEW.client_model = 'poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF",
    )
    .execute(&pool)
    .await
    .unwrap();

    for model in ["good-1", "poison", "good-2"] {
        let body = format!(r#"{{"model":"{model}","messages":[]}}"#);
        assert_eq!(app.post_json("/v1/chat/completions", &body, None).await.status(), 200);
    }

    let models: Vec<String> = app.logged_requests().await.into_iter().map(|r| r.client_model.unwrap()).collect();
    assert_eq!(models, ["good-1", "good-2"]);
    let status = app.log.status();
    assert_eq!((status.written, status.rejected_by_database), (2, 1));
}

#[sqlx::test(migrations = false)]
async fn overlong_names_are_cut_to_their_columns_instead_of_failing_the_insert(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let model = "m".repeat(300);
    let body = format!(r#"{{"model":"{model}","messages":[{{"role":"{}","content":"x"}}]}}"#, "r".repeat(40));

    app.post_json("/v1/chat/completions", &body, None).await;

    let row = app.only_logged_request().await;
    assert_eq!(row.client_model.unwrap().len(), 255);
    assert_eq!(row.messages[0].role.len(), 32);
    assert_eq!(row.raw_request, body.as_bytes(), "the raw request keeps the full names");
}

#[sqlx::test(migrations = false)]
async fn when_mysql_is_stuck_requests_pass_records_wait_in_the_spool_and_none_is_lost(pool: MySqlPool) {
    let app = spawn_app_with(pool.clone(), &[("LOG_BATCH_MAX_ROWS", "1")]).await;
    app.flush().await;
    // Another session holds the tables, so the writer's INSERT waits as it would on a stuck server.
    let mut locker = pool.acquire().await.unwrap();
    sqlx::raw_sql("LOCK TABLES requests WRITE, message_nodes WRITE").execute(&mut *locker).await.unwrap();

    for _ in 0..6 {
        let response = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
        assert_eq!(response.status(), 200, "the request path does not wait for the database");
    }
    // Nothing waits in memory for MySQL: the journal puts every record on disk.
    let mut body = serde_json::Value::Null;
    for _ in 0..100 {
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        body = health.json().await.unwrap();
        if body["log_writer"]["spooled"].as_u64() >= Some(5) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(body["log_writer"]["spooled"].as_u64() >= Some(5), "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "reachable");
    assert!(body["reasons"][0].as_str().unwrap().contains("waiting in the spool"), "{body}");

    sqlx::raw_sql("UNLOCK TABLES").execute(&mut *locker).await.unwrap();
    assert_eq!(app.logged_requests().await.len(), 6, "every request is written once MySQL moves again");
    let status = app.log.status();
    assert_eq!((status.dropped, status.spooled), (0, 0));
}

/// The hourly aggregates recomputed from the rows, in the shape of `usage_hourly`, `latency_hourly`
/// and `billing_hourly`, must equal the rollups. Returns how many billing rows there are.
pub async fn rollups_match_rows(pool: &MySqlPool) -> usize {
    let from_rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT CONCAT(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00'), '|', COALESCE(client_model, ''), '|', \
         COALESCE(upstream_model, ''), '|', outcome, '|', is_stream), COUNT(*), CAST(SUM(message_count) AS SIGNED), \
         CAST(COALESCE(SUM(total_tokens), 0) AS SIGNED), CAST(SUM(latency_us) AS SIGNED) \
         FROM requests GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let from_rollup: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT CONCAT(DATE_FORMAT(hour, '%Y-%m-%d %H:00:00'), '|', client_model, '|', upstream_model, '|', outcome, \
         '|', is_stream), requests, messages, total_tokens, latency_us_sum FROM usage_hourly ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(from_rollup, from_rows);
    let histogram_rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT CONCAT(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00'), '|', FLOOR(8 * LOG2(GREATEST(latency_us, 1)))), \
         COUNT(*) FROM requests GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let histogram: Vec<(String, i64)> = sqlx::query_as(
        "SELECT CONCAT(DATE_FORMAT(hour, '%Y-%m-%d %H:00:00'), '|', bucket), requests FROM latency_hourly ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(histogram, histogram_rows);
    let billing_rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT CONCAT(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00'), '|', COALESCE(client_model, ''), '|', \
         COALESCE(upstream_model, ''), '|', usage_source, '|', endpoint, '|', COALESCE(client_key, '')), COUNT(*), \
         CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED), \
         CAST(COALESCE(SUM(cached_tokens), 0) AS SIGNED), CAST(COALESCE(SUM(cache_write_tokens), 0) AS SIGNED) \
         FROM requests GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let billing: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT CONCAT(DATE_FORMAT(hour, '%Y-%m-%d %H:00:00'), '|', client_model, '|', upstream_model, '|', \
         usage_source, '|', endpoint, '|', client_key), requests, prompt_tokens, completion_tokens, cached_tokens, \
         cache_write_tokens FROM billing_hourly ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(billing, billing_rows);
    billing.len()
}

#[sqlx::test(migrations = false)]
async fn hourly_rollups_count_exactly_the_stored_rows_even_when_a_record_is_replayed(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[{"role":"user","content":"a"}]}"#, None)
        .await;
    app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o-mini","stream":true,"messages":[]}"#, None).await;
    app.post_json("/v1/chat/completions", r#"{"messages":[]}"#, None).await;
    app.post_json("/v1/embeddings", r#"{"model":"text-embedding-3-small","input":"x"}"#, None).await;

    // The same record twice, in separate batches: the second is a replay of a stored row.
    let mut record = proxy::record::RequestRecord::new("POST", "/v1/chat/completions");
    record.client_model = Some("replayed".into());
    record.request_body = bytes::Bytes::from_static(br#"{"model":"replayed","messages":[]}"#);
    record.http_status = 200;
    record.response = proxy::record::ResponseCapture::Body(bytes::Bytes::from_static(
        br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"replayed once"}}]}"#,
    ));
    app.log.submit(record.clone());
    app.flush().await;
    let other = proxy::record::RequestRecord::new("POST", "/v1/chat/completions");
    app.log.submit(record);
    app.log.submit(other);
    app.flush().await;

    assert_eq!(count(&pool, "requests").await, 6);
    assert!(rollups_match_rows(&pool).await >= 4, "the four kinds of call are billed apart");
    assert!(
        crate::word_index::search_blocks_hold_each_stored_request_once(&pool).await >= 2,
        "the answered requests are indexed"
    );
}

/// The store task turns records into rows and writes them on a thread of its own at nice 10, so
/// that the cores go to requests first (log_writer.rs).
#[cfg(target_os = "linux")]
#[sqlx::test(migrations = false)]
async fn records_are_written_from_a_thread_of_lower_priority(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
    app.flush().await;
    assert_eq!(count(&pool, "requests").await, 1);

    // Other tests in this process start and stop writers too: a thread just started may not have
    // lowered its priority yet, so a thread found at another nice is read again a moment later.
    let nice_of = |task: &std::path::Path| -> Option<i32> {
        let stat = std::fs::read_to_string(task.join("stat")).ok()?;
        // The fields after the parenthesised name: state is field 3, nice field 19.
        stat[stat.rfind(')')? + 2..].split(' ').nth(16)?.parse().ok()
    };
    let mut store_threads = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        if std::fs::read_to_string(task.join("comm")).is_ok_and(|name| name.trim() == "log-store") {
            store_threads += 1;
            if nice_of(&task).is_some_and(|nice| nice != 10) {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let nice = nice_of(&task);
                assert!(nice.is_none_or(|nice| nice == 10), "{} runs at nice {nice:?}", task.display());
            }
        }
    }
    assert!(store_threads >= 1, "no thread named log-store");
}

#[sqlx::test(migrations = false)]
async fn a_batchs_rows_are_inserted_in_id_order_though_their_requests_finished_in_another(pool: MySqlPool) {
    // The three records in one batch, written when the test asks for them.
    let app = spawn_app_with(pool.clone(), &[("LOG_FLUSH_INTERVAL_MS", "3600000")]).await;
    // Not `flush`: a flush while nothing waits leaves the journal a wake-up that would write the
    // next record alone.
    migrated(&[&app]).await;
    // MySQL notes each row as it is inserted: InnoDB keeps its pages full only while rows come in
    // key order (db/requests.rs).
    sqlx::raw_sql(
        "CREATE TABLE insert_order (seq INT AUTO_INCREMENT PRIMARY KEY, id BINARY(16) NOT NULL); \
         CREATE TRIGGER note_insert_order BEFORE INSERT ON requests FOR EACH ROW \
         INSERT INTO insert_order (id) VALUES (NEW.id)",
    )
    .execute(&pool)
    .await
    .unwrap();

    // The first request to start is the last to finish: its stream runs until the client leaves.
    let mut first = app.stream_chat("endless").await.bytes_stream();
    first.next().await.unwrap().unwrap();
    for n in ["second", "third"] {
        let body = format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{n}"}}]}}"#);
        assert_eq!(app.post_json("/v1/chat/completions", &body, None).await.status(), 200);
    }
    drop(first);
    app.upstream.wait_for_dropped_streams(1).await;

    let rows = app.logged_requests().await;
    assert_eq!(rows.len(), 3);
    let started_first = rows.iter().find(|r| r.outcome == "cancelled").unwrap().id.clone();
    let mut by_id: Vec<Vec<u8>> = rows.iter().map(|r| r.id.clone()).collect();
    by_id.sort();
    assert_eq!(by_id[0], started_first, "UUIDv7 ids are in start order");
    let inserted: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT id FROM insert_order ORDER BY seq").fetch_all(&pool).await.unwrap();
    assert_eq!(inserted, by_id, "inserted in id order, not as the requests finished");
}
