//! What clients get wrong: each case gets a clear answer in OpenAI's error format (or is passed to
//! the upstream to judge, when it is the upstream's business), is recorded, and leaves the proxy
//! serving the next request.

use sqlx::MySqlPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_app;

const GOOD: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;

#[sqlx::test(migrations = false)]
async fn a_model_that_is_not_a_string_is_a_400_naming_model(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    for body in [r#"{"model":5,"messages":[]}"#, r#"{"model":null,"messages":[]}"#, r#"{"model":["gpt-4o"]}"#] {
        let response = app.post_json("/v1/chat/completions", body, None).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], "model", "{body}");
    }
    assert!(app.upstream.received().is_empty());
    assert_eq!(app.logged_requests().await.len(), 3, "each refusal is recorded");
}

#[sqlx::test(migrations = false)]
async fn a_body_that_is_not_an_object_or_not_utf8_is_a_400(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    for body in [&b"[1,2,3]"[..], b"\"just a string\"", b"{\"model\":\"gpt-4o\",\"messages\":\"\xff\xfe\"}", b""] {
        let response = app
            .client
            .post(app.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
    let rows = app.logged_requests().await;
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().any(|r| r.raw_request == b"{\"model\":\"gpt-4o\",\"messages\":\"\xff\xfe\"}"),
        "kept byte for byte"
    );
    assert_eq!(app.post_json("/v1/chat/completions", GOOD, None).await.status(), 200);
}

#[sqlx::test(migrations = false)]
async fn fields_of_the_wrong_type_are_the_upstreams_to_judge_and_are_recorded(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    // The proxy only needs `model`; the rest goes through unchanged, and the record copes.
    let body = r#"{"model":"gpt-4o","messages":"not a list","stream":"yes","temperature":"hot"}"#;
    let response = app.post_json("/v1/chat/completions", body, None).await;

    assert_eq!(response.status(), 200);
    let forwarded: serde_json::Value = serde_json::from_slice(&app.upstream.last_received().body).unwrap();
    assert_eq!(forwarded["messages"], "not a list");
    let row = app.only_logged_request().await;
    assert_eq!(row.message_count, 0);
    assert_eq!(row.raw_request, body.as_bytes());
}

#[sqlx::test(migrations = false)]
async fn unknown_paths_and_methods_get_an_openai_style_404(pool: MySqlPool) {
    let app = spawn_app(pool).await;

    for (method, path) in [("GET", "/v2/chat/completions"), ("DELETE", "/admin"), ("BREW", "/coffee")] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unknown_url", "{method} {path}");
    }
    assert!(app.upstream.received().is_empty());
}

#[sqlx::test(migrations = false)]
async fn garbage_instead_of_http_closes_that_connection_only(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let address = app.address.trim_start_matches("http://").to_string();

    let mut garbage = tokio::net::TcpStream::connect(&address).await.unwrap();
    garbage.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), garbage.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 400"), "{answer}");

    assert_eq!(app.post_json("/v1/chat/completions", GOOD, None).await.status(), 200);
}

/// A client may hang up at any moment: while sending headers, in the middle of its body, right
/// after it, or while the answer is on its way. None of it may stop the proxy; every request the
/// proxy started is recorded (as cancelled when the client left before the answer).
#[sqlx::test(migrations = false)]
async fn a_client_that_hangs_up_at_any_moment_leaves_the_proxy_serving(pool: MySqlPool) {
    let app = spawn_app(pool).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let body = GOOD.as_bytes();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let whole: Vec<u8> = [head.as_bytes(), body].concat();
    // Every prefix of the request: cut in the request line, the headers, the body, or not at all.
    let cuts: Vec<usize> = (0..=whole.len()).step_by(7).chain([head.len(), whole.len()]).collect();
    for &cut in &cuts {
        let mut client = tokio::net::TcpStream::connect(&address).await.unwrap();
        client.write_all(&whole[..cut]).await.unwrap();
        drop(client);
    }
    // And while the answer streams back.
    let mut client = tokio::net::TcpStream::connect(&address).await.unwrap();
    let streamed = GOOD.replace("\"messages\"", "\"stream\":true,\"messages\"");
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\nContent-Length: {}\r\nx-mock-scenario: endless\r\n\r\n{streamed}",
        streamed.len()
    );
    client.write_all(request.as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let _ = client.read(&mut first).await.unwrap();
    drop(client);

    assert_eq!(app.post_json("/v1/chat/completions", GOOD, None).await.status(), 200, "still serving");
    let rows = app.logged_requests().await;
    // A request cut before the end of its headers was never a request: no record. One whose headers
    // arrived reached the handler and is recorded, as a body it could not read or as cancelled; a
    // whole one whose client vanished at once may also be dropped by the server before the handler
    // runs. Never anything else, and never a record too many.
    let outcomes: Vec<(&str, Option<&str>)> =
        rows.iter().map(|r| (r.outcome.as_str(), r.error_type.as_deref())).collect();
    let headers_arrived = cuts.iter().filter(|&&cut| cut >= head.len()).count();
    let whole_sends = cuts.iter().filter(|&&cut| cut == whole.len()).count();
    let bounds = (headers_arrived - whole_sends + 2)..=(headers_arrived + 2);
    assert!(bounds.contains(&rows.len()), "{} rows, expected {bounds:?}: {outcomes:?}", rows.len());
    assert!(outcomes.iter().any(|o| o.0 == "cancelled"), "the stream the client left: {outcomes:?}");
    assert_eq!(outcomes.last(), Some(&("ok", None)), "the last, whole request");
    assert!(
        outcomes.iter().all(|o| matches!(o, ("ok", None) | ("cancelled", _) | ("error", Some("body_unreadable")))),
        "{outcomes:?}"
    );
}
