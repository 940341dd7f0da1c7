use sqlx::MySqlPool;

use crate::helpers::{count, index_parts, spawn_app};

/// The requests a coding assistant sends: each turn repeats the whole conversation so far.
fn turn(messages: &[serde_json::Value]) -> String {
    serde_json::json!({"model": "gpt-4o", "messages": messages, "temperature": 0}).to_string()
}

#[sqlx::test(migrations = false)]
async fn a_conversations_history_is_stored_once_however_many_turns_repeat_it(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    let mut messages = vec![serde_json::json!({"role": "system", "content": "You are a coding agent. ".repeat(50)})];
    let mut bodies = Vec::new();
    for i in 0..10 {
        messages.push(serde_json::json!({"role": "user", "content": format!("step {i}: run the tests")}));
        let body = turn(&messages);
        app.post_json("/v1/chat/completions", &body, None).await;
        bodies.push(body);
        messages.push(serde_json::json!({"role": "assistant", "content": format!("ran step {i}")}));
    }

    let rows = app.logged_requests().await;
    assert_eq!(rows.len(), 10);
    // 1 system message + 10 user messages + 9 assistant messages in between: 20 distinct nodes, not 1+3+5+...+19.
    assert_eq!(count(&pool, "message_nodes").await, 20);
    for (row, body) in rows.iter().zip(&bodies) {
        assert_eq!(row.raw_request, body.as_bytes(), "each raw request is rebuilt exactly");
    }
    assert_eq!(rows[9].message_count, 20);
    assert_eq!(rows[9].last_user_message_preview.as_deref(), Some("step 9: run the tests"));

    let stored_envelopes: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(LENGTH(request_envelope)) AS SIGNED) FROM requests")
            .fetch_one(&pool)
            .await
            .unwrap();
    let raw_total: usize = bodies.iter().map(String::len).sum();
    assert!((stored_envelopes as usize) < raw_total / 10, "envelopes {stored_envelopes} of {raw_total} raw bytes");
}

/// The hash indexes are by prefix (`20261129000007`), so that they take less of InnoDB's buffer pool:
/// a node's id by its first 16 bytes, still unique, so that a proxy that never saw a node (another
/// proxy wrote it) stores nothing twice; a request's conversation id by its first 8.
#[sqlx::test(migrations = false)]
async fn nodes_are_stored_once_by_every_proxy_through_a_unique_index_of_their_ids_first_16_bytes(pool: MySqlPool) {
    let (first, second) = (spawn_app(pool.clone()).await, spawn_app(pool.clone()).await);
    let system = serde_json::json!({"role": "system", "content": "Be brief."});
    let body = turn(&[system, serde_json::json!({"role": "user", "content": "the same question"})]);
    first.post_json("/v1/chat/completions", &body, None).await;
    assert_eq!(first.logged_requests().await.len(), 1);
    second.post_json("/v1/chat/completions", &body, None).await;
    let rows = second.logged_requests().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(count(&pool, "message_nodes").await, 2);
    assert!(rows.iter().all(|row| row.raw_request == body.as_bytes()));

    assert_eq!(index_parts(&pool, "message_nodes", "message_nodes_id").await, [("id".to_string(), Some(16), 0)]);
    assert_eq!(
        index_parts(&pool, "requests", "requests_conversation").await,
        [("conversation_id".to_string(), Some(8), 1)]
    );
}

#[sqlx::test(migrations = false)]
async fn two_conversations_that_differ_only_later_share_their_common_start(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    let system = serde_json::json!({"role": "system", "content": "Be brief."});
    let a = turn(&[system.clone(), serde_json::json!({"role": "user", "content": "A"})]);
    let b = turn(&[system, serde_json::json!({"role": "user", "content": "B"})]);

    app.post_json("/v1/chat/completions", &a, None).await;
    app.post_json("/v1/chat/completions", &b, None).await;
    let rows = app.logged_requests().await;

    assert_eq!(count(&pool, "message_nodes").await, 3);
    assert_eq!(rows[0].messages[1].content_text.as_deref(), Some("A"));
    assert_eq!(rows[1].messages[1].content_text.as_deref(), Some("B"));
}

#[sqlx::test(migrations = false)]
async fn multimodal_parts_and_names_are_kept(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","name":"ana","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}"#;

    app.post_json("/v1/chat/completions", body, None).await;

    let row = app.only_logged_request().await;
    let message = &row.messages[0];
    assert_eq!(message.name.as_deref(), Some("ana"));
    assert_eq!(message.content_text.as_deref(), Some("What is this?"));
    let parts: serde_json::Value = serde_json::from_str(message.content_parts.as_deref().unwrap()).unwrap();
    assert_eq!(parts[1]["type"], "image_url");
    assert_eq!(row.raw_request, body.as_bytes());
}

#[sqlx::test(migrations = false)]
async fn a_messages_text_is_stored_once_and_the_request_still_comes_back_exactly(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    // The first message is escaped as serde_json would write it; the second as Python's json.dumps
    // does by default (`\u00e9`), which the writer cannot reproduce, so that one is kept whole.
    let text = "Fix the \"parser\":\n\tit drops the last line of café.txt".repeat(20);
    let ours = serde_json::json!({"role": "user", "content": text}).to_string();
    let body = format!(r#"{{"model":"gpt-4o","messages":[{ours},{{"role":"user","content":"caf\u00e9"}}]}}"#);

    app.post_json("/v1/chat/completions", &body, None).await;

    let row = app.only_logged_request().await;
    assert_eq!(row.raw_request, body.as_bytes());
    assert_eq!(row.messages[0].content_text.as_deref(), Some(text.as_str()));
    let stored: Vec<(Vec<u8>, Option<i32>)> =
        sqlx::query_as("SELECT raw_json, content_offset FROM message_nodes ORDER BY position")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored[0], (br#"{"content":,"role":"user"}"#.to_vec(), Some(11)));
    assert_eq!(stored[1], (br#"{"role":"user","content":"caf\u00e9"}"#.to_vec(), None));
}

#[sqlx::test(migrations = false)]
async fn a_long_text_is_stored_compressed_in_a_form_mysql_itself_can_uncompress(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    let long = "$ cargo test\n   Compiling parser v0.1.0\ntest parse_last_line ... FAILED\n".repeat(30);
    let short = "x".repeat(stored_conversation::MIN_COMPRESSED_LEN - 1);
    let body = serde_json::json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": short},
        {"role": "assistant", "content": "Running the tests."},
        {"role": "user", "content": long},
    ]})
    .to_string();

    app.post_json("/v1/chat/completions", &body, None).await;

    let row = app.only_logged_request().await;
    assert_eq!(row.raw_request, body.as_bytes());
    assert_eq!(row.messages[2].content_text.as_deref(), Some(long.as_str()));
    // Per node: content_text, the compressed bytes' length, and what MySQL's UNCOMPRESS() makes of them.
    type Stored = (Option<Vec<u8>>, Option<i64>, Option<Vec<u8>>);
    let stored: Vec<Stored> = sqlx::query_as(
        "SELECT content_text, LENGTH(content_compressed), CONVERT(UNCOMPRESS(content_compressed) USING utf8mb4) \
         FROM message_nodes ORDER BY position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored[0], (Some(short.into_bytes()), None, None), "a short text is kept as it is");
    let (text, compressed_len, uncompressed) = &stored[2];
    assert_eq!(text, &None);
    assert!(compressed_len.unwrap() < long.len() as i64 / 4, "{compressed_len:?} bytes for {}", long.len());
    assert_eq!(uncompressed.as_deref(), Some(long.as_bytes()), "MySQL's UNCOMPRESS() gives the text back");
}

#[sqlx::test(migrations = false)]
async fn a_long_message_json_is_stored_compressed_in_a_form_mysql_itself_can_uncompress(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    // An assistant message that wrote a whole file through a tool call: its JSON, text cut out, is long.
    let file = "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n".repeat(30);
    let arguments = serde_json::json!({"path": "src/lib.rs", "content": file}).to_string();
    let body = serde_json::json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Write the adder"},
        {"role": "assistant", "content": "Writing it.", "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "write_file", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "written"},
    ]})
    .to_string();

    app.post_json("/v1/chat/completions", &body, None).await;

    let row = app.only_logged_request().await;
    assert_eq!(row.raw_request, body.as_bytes());
    // Per node: raw_json, the compressed bytes' length, and what MySQL's UNCOMPRESS() makes of them.
    type Stored = (Vec<u8>, Option<i64>, Option<Vec<u8>>);
    let stored: Vec<Stored> = sqlx::query_as(
        "SELECT raw_json, LENGTH(raw_compressed), UNCOMPRESS(raw_compressed) FROM message_nodes ORDER BY position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored[0].1, None, "a short message's JSON is kept as it is");
    assert_eq!(stored[2].1, None);
    let (raw_json, compressed_len, uncompressed) = &stored[1];
    assert!(raw_json.is_empty());
    let uncompressed = uncompressed.as_deref().expect("MySQL's UNCOMPRESS() reads it");
    assert!(compressed_len.unwrap() < uncompressed.len() as i64 / 4, "{compressed_len:?} bytes");
    // What MySQL gives back is the message with its text cut out, the tool call whole.
    let text = serde_json::to_string("Writing it.").unwrap();
    let cut = body.replacen(&text, "", 1);
    assert!(cut.contains(std::str::from_utf8(uncompressed).unwrap()), "the stored JSON is the message as sent");
    assert_eq!(row.messages[1].content_text.as_deref(), Some("Writing it."));
}
