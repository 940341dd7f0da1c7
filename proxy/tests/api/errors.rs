use sqlx::MySqlPool;

use crate::helpers::{spawn_app, spawn_app_with};

async fn error_body(response: reqwest::Response) -> serde_json::Value {
    let body: serde_json::Value = response.json().await.unwrap();
    let error = &body["error"];
    for key in ["message", "type", "param", "code"] {
        assert!(error.get(key).is_some(), "OpenAI error shape has {key}: {body}");
    }
    body
}

#[sqlx::test(migrations = false)]
async fn malformed_json_is_a_400_in_openai_format_and_is_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":["#, None).await;

    assert_eq!(response.status(), 400);
    let body = error_body(response).await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(app.upstream.received().is_empty(), "nothing was forwarded");
    let row = app.only_logged_request().await;
    assert_eq!((row.http_status, row.outcome.as_str()), (400, "error"));
    assert_eq!(row.error_type.as_deref(), Some("invalid_json"));
    assert_eq!(row.raw_request, br#"{"model":"gpt-4o","messages":["#);
}

#[sqlx::test(migrations = false)]
async fn a_missing_model_is_a_400_naming_the_parameter(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response = app.post_json("/v1/chat/completions", r#"{"messages":[]}"#, None).await;

    assert_eq!(response.status(), 400);
    let body = error_body(response).await;
    assert_eq!(body["error"]["param"], "model");
    let row = app.only_logged_request().await;
    assert_eq!(row.error_type.as_deref(), Some("missing_required_parameter"));
}

#[sqlx::test(migrations = false)]
async fn a_body_over_the_limit_is_a_413_whether_its_length_is_declared_or_not(pool: MySqlPool) {
    let app = spawn_app_with(pool, &[("MAX_BODY_BYTES", "1000")]).await;
    let big = format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(2000));

    let declared = app.post_json("/v1/chat/completions", &big, None).await;
    assert_eq!(declared.status(), 413);
    assert_eq!(error_body(declared).await["error"]["code"], "request_too_large");

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.as_bytes().chunks(100).map(|c| Ok(c.to_vec())).collect();
    let chunked = app
        .client
        .post(app.url("/v1/chat/completions"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 413);

    assert!(app.upstream.received().is_empty());
    let rows = app.logged_requests().await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.http_status == 413 && r.error_type.as_deref() == Some("request_too_large")));
}

#[sqlx::test(migrations = false)]
async fn upstream_429_500_and_503_are_passed_through_with_their_body_and_retry_after(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;

    let limited = app.post_json("/v1/chat/completions", body, Some("status:429")).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    let limited_body = limited.text().await.unwrap();
    assert!(limited_body.contains("mock upstream says 429"));

    let failed = app.post_json("/v1/chat/completions", body, Some("status:500")).await;
    assert_eq!(failed.status(), 500);
    assert!(failed.text().await.unwrap().contains("mock_500"));
    let unavailable = app.post_json("/v1/chat/completions", body, Some("status:503")).await;
    assert_eq!(unavailable.status(), 503);
    assert!(unavailable.text().await.unwrap().contains("mock_503"));

    let rows = app.logged_requests().await;
    assert_eq!((rows[0].http_status, rows[0].outcome.as_str()), (429, "error"));
    assert_eq!(rows[0].error_type.as_deref(), Some("rate_limit_error"));
    assert_eq!(rows[0].error_message.as_deref(), Some("mock upstream says 429 Too Many Requests"));
    assert_eq!(rows[0].response_json.as_ref().unwrap()["error"]["code"], "mock_429");
    assert_eq!((rows[1].http_status, rows[1].outcome.as_str()), (500, "error"));
    assert_eq!((rows[2].http_status, rows[2].outcome.as_str()), (503, "error"));
}

#[sqlx::test(migrations = false)]
async fn an_unreachable_upstream_is_a_502_and_is_recorded(pool: MySqlPool) {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{closed_port}/v1");
    let app = spawn_app_with(pool, &[("UPSTREAM_BASE_URL", base.as_str())]).await;

    let response = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;

    assert_eq!(response.status(), 502);
    let body = error_body(response).await;
    assert_eq!(body["error"]["code"], "upstream_unreachable");
    assert!(!body["error"]["message"].as_str().unwrap().contains("127.0.0.1"), "no internals in the message");
    let row = app.only_logged_request().await;
    assert_eq!((row.http_status, row.error_type.as_deref()), (502, Some("upstream_unreachable")));
}

#[sqlx::test(migrations = false)]
async fn an_upstream_that_does_not_answer_in_time_is_a_504(pool: MySqlPool) {
    let app = spawn_app_with(pool, &[("UPSTREAM_IDLE_TIMEOUT_SECS", "1")]).await;

    let response =
        app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, Some("no-headers")).await;

    assert_eq!(response.status(), 504);
    assert_eq!(error_body(response).await["error"]["code"], "upstream_timeout");
    let row = app.only_logged_request().await;
    assert_eq!((row.http_status, row.error_type.as_deref()), (504, Some("upstream_timeout")));
}

#[sqlx::test(migrations = false)]
async fn a_stream_that_stalls_past_the_idle_timeout_ends_with_an_error_event(pool: MySqlPool) {
    let app = spawn_app_with(pool, &[("UPSTREAM_IDLE_TIMEOUT_SECS", "1")]).await;

    let response = app.stream_chat("stall-midstream:openai_simple_streaming_0.sse").await;

    let text = response.text().await.unwrap();
    let last_event = text.split_terminator("\n\n").last().unwrap();
    let error: serde_json::Value = serde_json::from_str(last_event.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "upstream_timeout", "{text}");
    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "error");
    assert_eq!(row.error_type.as_deref(), Some("upstream_timeout"));
}

#[sqlx::test(migrations = false)]
async fn an_unknown_url_outside_v1_is_a_404_in_openai_format(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response = app.client.get(app.url("/nope")).send().await.unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(error_body(response).await["error"]["code"], "unknown_url");
}

#[sqlx::test(migrations = false)]
async fn an_upstream_that_does_not_accept_the_connection_in_time_is_a_504(pool: MySqlPool) {
    // A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(std::time::Duration::from_millis(200), tokio::net::TcpStream::connect(address)).await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    let base = format!("http://{address}/v1");
    let app =
        spawn_app_with(pool, &[("UPSTREAM_BASE_URL", base.as_str()), ("UPSTREAM_CONNECT_TIMEOUT_SECS", "1")]).await;

    let response = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;

    assert_eq!(response.status(), 504);
    assert_eq!(error_body(response).await["error"]["code"], "upstream_timeout");
    let row = app.only_logged_request().await;
    assert_eq!((row.http_status, row.error_type.as_deref()), (504, Some("upstream_timeout")));
    drop(listener);
}

#[sqlx::test(migrations = false)]
async fn an_upstream_host_that_does_not_resolve_is_a_502_and_is_recorded(pool: MySqlPool) {
    // `.invalid` never resolves (RFC 2606).
    let app = spawn_app_with(pool, &[("UPSTREAM_BASE_URL", "http://no-such-upstream.invalid/v1")]).await;

    let response = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;

    assert_eq!(response.status(), 502);
    let body = error_body(response).await;
    assert_eq!(body["error"]["code"], "upstream_unreachable");
    assert!(!body["error"]["message"].as_str().unwrap().contains("invalid"), "no internals in the message");
    let row = app.only_logged_request().await;
    assert_eq!((row.http_status, row.error_type.as_deref()), (502, Some("upstream_unreachable")));
}

#[sqlx::test(migrations = false)]
async fn an_error_page_that_is_not_json_is_passed_through_and_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response =
        app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, Some("status-text:503")).await;

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert!(response.text().await.unwrap().contains("503 Service Temporarily Unavailable"));
    let row = app.only_logged_request().await;
    assert_eq!((row.http_status, row.outcome.as_str()), (503, "error"));
    let (kept,): (Option<Vec<u8>>,) =
        sqlx::query_as("SELECT response_json FROM requests").fetch_one(&app.pool).await.unwrap();
    assert!(kept.is_some_and(|r| r.starts_with(b"<html>")), "the page is kept as it came");
}

#[sqlx::test(migrations = false)]
async fn a_stream_with_malformed_events_reaches_the_client_unchanged_and_the_good_events_are_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let response = app.stream_chat("malformed-sse:").await;

    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("data: {this is not json\n\n") && text.contains("garbage without a colon"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "ok");
    assert_eq!(row.reply_text.as_deref(), Some("Hello"), "the two good deltas, joined");
}

#[sqlx::test(migrations = false)]
async fn an_answer_that_never_finishes_is_cut_at_the_idle_timeout_and_recorded(pool: MySqlPool) {
    let app = spawn_app_with(pool, &[("UPSTREAM_IDLE_TIMEOUT_SECS", "1")]).await;

    let response =
        app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, Some("half-body")).await;

    // A non-streamed answer is read whole before it is relayed, so the client gets a clean error.
    assert_eq!(response.status(), 504);
    assert_eq!(error_body(response).await["error"]["code"], "upstream_timeout");
    let row = app.only_logged_request().await;
    assert_eq!(row.outcome, "error");
    assert_eq!(row.error_type.as_deref(), Some("upstream_timeout"));
}

#[sqlx::test(migrations = false)]
async fn a_client_that_sends_its_headers_too_slowly_is_disconnected(pool: MySqlPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(pool, &[("CLIENT_HEADER_TIMEOUT_SECS", "1")]).await;
    let address = app.address.trim_start_matches("http://").to_string();

    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\n").await.unwrap();
    // ... and the rest of the headers never come.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection is closed after the header timeout");

    // Other clients are served meanwhile and after.
    let response = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
    assert_eq!(response.status(), 200);
}

#[sqlx::test(migrations = false)]
async fn headers_over_64_kib_are_refused_with_431_and_nothing_is_forwarded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    let huge = "x".repeat(100 * 1024);
    let response = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("x-huge", huge)
        .body(r#"{"model":"gpt-4o","messages":[]}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 431);
    assert!(app.upstream.received().is_empty(), "nothing reached the upstream");
    let ok = app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
    assert_eq!(ok.status(), 200, "the proxy serves on");
}
