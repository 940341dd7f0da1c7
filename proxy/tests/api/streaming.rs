use futures_util::StreamExt;
use sqlx::MySqlPool;

use crate::helpers::spawn_app;
use crate::mock_upstream::{as_sent_without_usage, fixture};

fn streaming_request(file: &str) -> String {
    // The recorded requests asked for usage; these tests decide that themselves.
    let mut request: serde_json::Value = serde_json::from_slice(&fixture(file)).unwrap();
    request.as_object_mut().unwrap().remove("stream_options");
    request.to_string()
}

fn usage_requested_by(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).unwrap()["stream_options"]["include_usage"] == true
}

#[sqlx::test(migrations = false)]
async fn a_streamed_tool_call_reaches_the_client_as_sent_without_the_usage_chunk_it_did_not_ask_for(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let request = streaming_request("openai_tool_streaming_0.request.json");

    let response = app.post_json("/v1/chat/completions", &request, Some("sse:openai_tool_streaming_0.sse")).await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let received = response.bytes().await.unwrap();
    assert_eq!(received, as_sent_without_usage(&fixture("openai_tool_streaming_0.sse")));
    assert!(usage_requested_by(&app.upstream.last_received().body), "the proxy asked the upstream for usage");

    let row = app.only_logged_request().await;
    assert!(row.is_stream);
    assert_eq!(row.outcome, "ok");
    assert_eq!(row.finish_reason.as_deref(), Some("tool_calls"));
    let calls = row.reply_tool_calls.unwrap();
    assert_eq!(calls[0]["id"], "call_qLFv8oQOs68qRuEVmG8TuEJp");
    assert_eq!(calls[0]["function"]["name"], "weather");
    assert_eq!(calls[0]["function"]["arguments"], r#"{"location":"Florence,Italy"}"#);
    assert_eq!((row.prompt_tokens, row.completion_tokens, row.total_tokens), (Some(61), Some(16), Some(77)));
    assert_eq!(row.usage_source, "upstream");
    let assembled = row.response_json.unwrap();
    assert_eq!(assembled["object"], "chat.completion");
    assert_eq!(
        assembled["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"location":"Florence,Italy"}"#
    );
    assert_eq!(assembled["usage"]["total_tokens"], 77);
    assert_eq!(row.raw_request, request.as_bytes(), "the client's own body, not the one with stream_options added");
}

#[sqlx::test(migrations = false)]
async fn a_client_that_asks_for_usage_gets_the_recorded_stream_byte_for_byte(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let request = String::from_utf8(fixture("openai_multi_tool_streaming_0.request.json")).unwrap();

    let response = app.post_json("/v1/chat/completions", &request, Some("sse:openai_multi_tool_streaming_0.sse")).await;

    assert_eq!(response.bytes().await.unwrap(), fixture("openai_multi_tool_streaming_0.sse"));
    assert_eq!(
        app.upstream.last_received().body,
        request.replace("gpt-4o-mini", "claude-3-5-haiku-20241022").as_bytes()
    );
    let row = app.only_logged_request().await;
    let calls = row.reply_tool_calls.unwrap();
    assert_eq!(calls.as_array().unwrap().len(), 2, "both parallel tool calls are assembled: {calls}");
    assert_eq!(calls[0]["function"]["name"], "add");
    assert_eq!(calls[1]["function"]["name"], "multiply");
    assert!(row.total_tokens.is_some());
}

#[sqlx::test(migrations = false)]
async fn a_stream_split_at_odd_byte_boundaries_gives_the_same_bytes_and_record(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let request = streaming_request("openai_simple_streaming_0.request.json");

    let whole = app.post_json("/v1/chat/completions", &request, Some("sse:openai_simple_streaming_0.sse")).await;
    let whole = whole.bytes().await.unwrap();
    let fragmented =
        app.post_json("/v1/chat/completions", &request, Some("sse-fragmented:openai_simple_streaming_0.sse")).await;
    let fragmented = fragmented.bytes().await.unwrap();

    assert_eq!(whole, fragmented);
    assert_eq!(whole, as_sent_without_usage(&fixture("openai_simple_streaming_0.sse")));
    let rows = app.logged_requests().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].reply_text, rows[1].reply_text);
    assert_eq!(rows[0].total_tokens, rows[1].total_tokens);
    assert_eq!(rows[0].response_json, rows[1].response_json);
    assert_eq!(rows[0].reply_text.as_deref(), Some("Olá!"));
}

#[sqlx::test(migrations = false)]
async fn a_client_that_disconnects_mid_stream_cancels_the_upstream_call_and_is_recorded_as_cancelled(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response = app.stream_chat("endless").await;
    let mut body = response.bytes_stream();
    // The upstream never ends, so these events can only have reached the client unbuffered.
    let mut seen = String::new();
    while !seen.contains("w1 ") {
        seen.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
    }
    drop(body);

    app.upstream.wait_for_dropped_streams(1).await;
    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "cancelled");
    let reply = row.reply_text.as_deref().unwrap();
    assert!(reply.starts_with("w0 w1 "), "partial reply kept: {reply:?}");
    // The upstream never sent usage, but it generated (and bills) what was relayed: an estimate,
    // marked as one, rather than a free request.
    assert_eq!(row.usage_source, "estimated");
    assert_eq!(row.completion_tokens, Some(proxy::token_estimate::tokens_in(reply)));
    assert!(row.prompt_tokens.unwrap() > 0);
}

#[sqlx::test(migrations = false)]
async fn an_upstream_that_breaks_mid_stream_gives_the_client_an_error_event_and_records_the_partial_reply(
    pool: MySqlPool,
) {
    let app = spawn_app(pool).await;
    let request = streaming_request("openai_simple_streaming_0.request.json");

    let response =
        app.post_json("/v1/chat/completions", &request, Some("break-midstream:openai_simple_streaming_0.sse")).await;

    assert_eq!(response.status(), 200, "the status was already sent when the stream broke");
    let text = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(events.len(), 4, "three relayed events and one error event: {text}");
    let error: serde_json::Value = serde_json::from_str(events[3].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["type"], "upstream_error");
    assert_eq!(error["error"]["code"], "upstream_stream_broken");

    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "error");
    assert_eq!(row.error_type.as_deref(), Some("upstream_stream_broken"));
    assert!(!row.reply_text.unwrap_or_default().is_empty(), "the partial reply is kept");
}

#[sqlx::test(migrations = false)]
async fn an_error_event_from_the_upstream_is_relayed_and_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response = app.stream_chat("error-event").await;

    let text = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("overloaded_error"));
    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "error");
    assert_eq!(row.error_type.as_deref(), Some("overloaded_error"));
    assert_eq!(row.error_message.as_deref(), Some("Overloaded"));
    assert_eq!(row.reply_text.as_deref(), Some("Par"));
}

#[sqlx::test(migrations = false)]
async fn a_legacy_completions_stream_is_assembled(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response =
        app.post_json("/v1/completions", r#"{"model":"gpt-4o-mini","prompt":"Say hello","stream":true}"#, None).await;

    let text = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
    assert!(!text.contains("usage"), "the usage chunk the client did not ask for is hidden: {text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
    let row = app.only_logged_request().await;
    assert_eq!(row.reply_text.as_deref(), Some("Hello, world"));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert_eq!(row.total_tokens, Some(7));
    assert_eq!(row.response_json.unwrap()["object"], "text_completion");
}

#[sqlx::test(migrations = false)]
async fn a_client_that_gives_up_before_a_non_streamed_answer_is_recorded_as_cancelled(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let impatient = reqwest::Client::builder().timeout(std::time::Duration::from_millis(300)).build().unwrap();

    let result = impatient
        .post(app.url("/v1/chat/completions"))
        .header("x-mock-scenario", "no-headers")
        .body(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"slow"}]}"#)
        .send()
        .await;

    assert!(result.unwrap_err().is_timeout());
    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "cancelled");
    assert_eq!(row.http_status, 499);
    assert_eq!(row.messages.len(), 1);
}
