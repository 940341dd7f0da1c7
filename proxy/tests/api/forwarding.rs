use sqlx::MySqlPool;

use crate::helpers::{spawn_app, spawn_app_with, UPSTREAM_KEY};
use crate::mock_upstream::fixture;

#[sqlx::test(migrations = false)]
async fn a_chat_completion_is_forwarded_with_only_the_model_changed_and_recorded_whole(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    // Unknown fields, key order, spacing and number formatting must survive the rewrite.
    let body = r#"{"messages":[{"content":"You are a helpful assistant","role":"system"},{"content":"Say hi in Portuguese","role":"user"}],"model":"gpt-4o" ,"max_tokens":4000,"temperature":1.0e0,"x_vendor_field":{"z":1,"a":[1.50,2]}}"#;

    let response = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-client-whatever")
        .header("user-agent", "tokenslipper-test/1.0")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let received_by_client = response.bytes().await.unwrap();
    assert_eq!(received_by_client, fixture("openai_simple_0.json"), "the client gets the upstream's bytes");

    let upstream = app.upstream.last_received();
    assert_eq!(upstream.path_and_query, "/v1/chat/completions");
    assert_eq!(
        String::from_utf8(upstream.body.to_vec()).unwrap(),
        body.replace(r#""gpt-4o""#, r#""claude-3-5-sonnet-20241022""#)
    );
    assert_eq!(upstream.headers["authorization"], format!("Bearer {UPSTREAM_KEY}").as_str());

    let row = app.only_logged_request().await;
    assert_eq!(row.method, "POST");
    assert_eq!(row.endpoint, "/v1/chat/completions");
    assert_eq!(row.client_model.as_deref(), Some("gpt-4o"));
    assert_eq!(row.upstream_model.as_deref(), Some("claude-3-5-sonnet-20241022"));
    assert!(!row.is_stream);
    assert_eq!(row.http_status, 200);
    assert_eq!(row.outcome, "ok");
    assert_eq!(row.error_type, None);
    assert_eq!(
        (row.prompt_tokens, row.completion_tokens, row.total_tokens, row.cached_tokens),
        (Some(20), Some(2), Some(22), Some(0))
    );
    assert_eq!(row.usage_source, "upstream");
    assert_eq!(row.reply_text.as_deref(), Some("Olá!"));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert_eq!(row.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(row.user_agent.as_deref(), Some("tokenslipper-test/1.0"));
    assert!(row.latency_us > 0 && row.ttfb_us.unwrap() <= row.latency_us);
    assert_eq!(row.raw_request, body.as_bytes(), "the raw request is the client's body, byte for byte");
    use sha2::Digest;
    assert_eq!(
        row.body_sha256.unwrap(),
        sha2::Sha256::digest(&upstream.body).to_vec(),
        "fingerprint of the forwarded body"
    );
    assert_eq!(row.response_json.unwrap()["id"], "chatcmpl-DuLdOKeSvJ2ah93ut8DRAVP44PlmE");
    assert_eq!(row.message_count, 2);
    assert_eq!(row.messages[0].role, "system");
    assert_eq!(row.messages[1].content_text.as_deref(), Some("Say hi in Portuguese"));
    assert_eq!(row.last_user_message_preview.as_deref(), Some("Say hi in Portuguese"));
}

#[sqlx::test(migrations = false)]
async fn a_tool_call_reply_and_tool_messages_are_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let request = String::from_utf8(fixture("openai_tool_1.request.json")).unwrap();

    let response = app.post_json("/v1/chat/completions", &request, Some("json:openai_tool_0.json")).await;
    assert_eq!(response.status(), 200);

    let row = app.only_logged_request().await;
    let calls = row.reply_tool_calls.unwrap();
    assert_eq!(calls[0]["function"]["name"], "weather");
    assert_eq!(row.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(row.messages.len(), 4);
    assert_eq!(row.messages[2].role, "assistant");
    assert_eq!(row.messages[2].tool_calls.as_ref().unwrap()[0]["function"]["name"], "weather");
    assert_eq!(row.messages[3].role, "tool");
    assert_eq!(row.messages[3].tool_call_id.as_deref(), Some("call_15X0Q2MmkK1IeFfiol9LFlqb"));
    assert_eq!(row.raw_request, request.as_bytes());
}

#[sqlx::test(migrations = false)]
async fn extra_model_mapping_overrides_the_defaults(pool: MySqlPool) {
    let app = spawn_app_with(
        pool,
        &[("EXTRA_MODEL_MAPPING", r#"{"gpt-4o":"claude-sonnet-4-20250514","house":"claude-3-5-haiku-20241022"}"#)],
    )
    .await;

    app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
    app.post_json("/v1/chat/completions", r#"{"model":"house","messages":[]}"#, None).await;
    app.post_json("/v1/chat/completions", r#"{"model":"gpt-4","messages":[]}"#, None).await;
    app.post_json("/v1/chat/completions", r#"{"model":"claude-opus-4-1","messages":[]}"#, None).await;

    let models: Vec<String> = app
        .upstream
        .received()
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        models,
        ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022", "claude-3-opus-20240229", "claude-opus-4-1"]
    );
    let rows = app.logged_requests().await;
    let pairs: Vec<(String, String)> =
        rows.iter().map(|r| (r.client_model.clone().unwrap(), r.upstream_model.clone().unwrap())).collect();
    assert_eq!(pairs[1], ("house".to_string(), "claude-3-5-haiku-20241022".to_string()));
}

#[sqlx::test(migrations = false)]
async fn legacy_completions_and_embeddings_are_forwarded_and_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let completion = app.post_json("/v1/completions", r#"{"model":"gpt-4o-mini","prompt":"Say hello"}"#, None).await;
    assert_eq!(completion.status(), 200);
    let embedding =
        app.post_json("/v1/embeddings", r#"{"model":"text-embedding-3-small","input":"hello"}"#, None).await;
    assert_eq!(embedding.status(), 200);

    let rows = app.logged_requests().await;
    assert_eq!(rows[0].endpoint, "/v1/completions");
    assert_eq!(rows[0].upstream_model.as_deref(), Some("claude-3-5-haiku-20241022"));
    assert_eq!(rows[0].reply_text.as_deref(), Some("Hello, world"));
    assert_eq!(rows[0].total_tokens, Some(7));
    assert_eq!(rows[1].endpoint, "/v1/embeddings");
    assert_eq!((rows[1].prompt_tokens, rows[1].total_tokens), (Some(8), Some(8)));
    assert_eq!(rows[1].usage_source, "upstream");
}

#[sqlx::test(migrations = false)]
async fn other_v1_endpoints_are_forwarded_unchanged_and_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let body = r#"{"model":"gpt-4o","input":"Hi"}"#;

    let response = app.client.post(app.url("/v1/responses?x=1")).body(body).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let upstream = app.upstream.last_received();
    assert_eq!(upstream.path_and_query, "/v1/responses?x=1");
    assert_eq!(upstream.body, body.as_bytes(), "not even the model is changed");
    let row = app.only_logged_request().await;
    assert_eq!(row.endpoint, "/v1/responses");
    assert_eq!(row.client_model.as_deref(), Some("gpt-4o"));
    assert_eq!(row.reply_text.as_deref(), Some("Hi from responses"));
    assert_eq!((row.prompt_tokens, row.completion_tokens), (Some(9), Some(4)));
}
