use sha2::Digest;
use sqlx::{Column, MySqlPool, Row};

use crate::helpers::{spawn_app_with, UPSTREAM_KEY};

const CLIENT_KEY: &str = "sk-client-test-secret-1a2b3c";

/// Every text and binary value stored in the request tables, for secret scans.
async fn everything_stored(pool: &MySqlPool) -> String {
    let mut all = String::new();
    for table in ["SELECT * FROM requests", "SELECT * FROM message_nodes"] {
        for row in sqlx::query(table).fetch_all(pool).await.unwrap() {
            for column in row.columns() {
                if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(column.ordinal()) {
                    all.push_str(&String::from_utf8_lossy(&bytes));
                    all.push('\n');
                }
            }
        }
    }
    all
}

#[sqlx::test(migrations = false)]
async fn with_client_auth_on_only_listed_keys_pass_and_no_key_is_stored(pool: MySqlPool) {
    let keys = format!("sk-other,{CLIENT_KEY}");
    let app = spawn_app_with(pool.clone(), &[("VERIFY_CLIENT_AUTH", "true"), ("PROXY_API_KEYS", keys.as_str())]).await;
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    let send = |key: Option<&str>| {
        let mut request = app.client.post(app.url("/v1/chat/completions")).body(body);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.send()
    };

    let missing = send(None).await.unwrap();
    assert_eq!(missing.status(), 401);
    let error: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_api_key");
    let wrong = send(Some("sk-wrong-key")).await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains("sk-wrong-key"), "the error does not echo the key");
    let models = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(models.status(), 401);

    let right = send(Some(CLIENT_KEY)).await.unwrap();
    assert_eq!(right.status(), 200);
    assert_eq!(app.upstream.received().len(), 1, "rejected calls never reach the upstream");
    let upstream = app.upstream.last_received();
    assert_eq!(upstream.headers["authorization"], format!("Bearer {UPSTREAM_KEY}").as_str());

    let rows = app.logged_requests().await;
    let statuses: Vec<i64> = rows.iter().map(|r| r.http_status).collect();
    assert_eq!(statuses, [401, 401, 401, 200], "rejected calls are recorded too");
    let stored = everything_stored(&pool).await;
    assert!(stored.contains("hi"), "the scan sees stored content");
    for secret in [CLIENT_KEY, "sk-wrong-key", UPSTREAM_KEY] {
        assert!(!stored.contains(secret), "{secret} reached the database");
    }
    // The accepted call is known by its key's label (for cost reports); refused ones by none.
    let labels: Vec<Option<String>> =
        sqlx::query_scalar("SELECT client_key FROM requests ORDER BY id").fetch_all(&pool).await.unwrap();
    let digest = sha2::Sha256::digest(CLIENT_KEY.as_bytes());
    let label = format!("key-{:02x}{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2], digest[3]);
    assert_eq!(labels, [None, None, None, Some(label)]);
}

#[sqlx::test(migrations = false)]
async fn with_client_auth_off_any_key_is_accepted_and_replaced_by_the_upstream_key(pool: MySqlPool) {
    let app = spawn_app_with(pool, &[]).await;

    let response = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("authorization", "Bearer anything-goes")
        .header("x-api-key", "anything-goes")
        .body(r#"{"model":"gpt-4o","messages":[]}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let upstream = app.upstream.last_received();
    assert_eq!(upstream.headers["authorization"], format!("Bearer {UPSTREAM_KEY}").as_str());
    assert!(upstream.headers.get("x-api-key").is_none());
}
