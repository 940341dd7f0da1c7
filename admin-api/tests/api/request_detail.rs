use chrono::TimeDelta;
use serde_json::json;
use sqlx::MySqlPool;

use crate::helpers::{at, error_code, seed, spawn_admin, write_records, Seed};

const DETAIL: &str = "query($id: ID!) { request(id: $id) { summary { id clientModel upstreamModel outcome \
    httpStatus promptTokens completionTokens totalTokens cachedTokens usageSource latencyMs ttfbMs messageCount } \
    finishedAt errorMessage clientIp userAgent bodySha256 conversationId \
    messages { position role name content contentPartsJson toolCalls { id name arguments } toolCallId } \
    reply { text finishReason toolCalls { name arguments } } rawRequest rawResponse } }";

#[sqlx::test(migrations = false)]
async fn a_request_is_returned_whole_with_its_conversation_and_raw_json(pool: MySqlPool) {
    let mut first = Seed::new(at("2026-06-01T12:00:00Z"), "gpt-4o");
    first.usage = Some((42, 7, 30));
    first.latency_ms = 1234;
    let record = first.record();
    let id = record.id.to_string();
    seed(&pool, &[first.clone()]).await;
    let admin = spawn_admin(pool).await;

    let data = admin.data(DETAIL, json!({"id": id})).await;

    let request = &data["request"];
    let summary = &request["summary"];
    assert_eq!(summary["id"], id);
    assert_eq!(summary["clientModel"], "gpt-4o");
    assert_eq!(summary["upstreamModel"], "claude-3-5-sonnet-20241022");
    assert_eq!(summary["outcome"], "OK");
    assert_eq!(
        (&summary["promptTokens"], &summary["completionTokens"], &summary["totalTokens"], &summary["cachedTokens"]),
        (&json!(42), &json!(7), &json!(49), &json!(30))
    );
    assert_eq!(summary["usageSource"], "UPSTREAM");
    assert_eq!(summary["latencyMs"], 1234.0);
    assert_eq!(summary["ttfbMs"], 617.0);
    assert_eq!(summary["messageCount"], 2);
    assert_eq!(request["clientIp"], "10.1.2.3");
    assert_eq!(request["userAgent"], "seed/1.0");
    assert_eq!(request["finishedAt"], "2026-06-01T12:00:01.234+00:00");
    assert_eq!(request["bodySha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        request["messages"][0],
        json!({"position": 0, "role": "system", "name": null, "content": "You are terse.", "contentPartsJson": null, "toolCalls": [], "toolCallId": null})
    );
    assert_eq!(request["messages"][1]["content"], "hello there");
    assert_eq!(request["reply"], json!({"text": "general kenobi", "finishReason": "stop", "toolCalls": []}));
    assert_eq!(request["rawRequest"].as_str().unwrap().as_bytes(), &record.request_body[..]);
    let raw_response: serde_json::Value = serde_json::from_str(request["rawResponse"].as_str().unwrap()).unwrap();
    assert_eq!(raw_response["usage"]["total_tokens"], 49);
}

#[sqlx::test(migrations = false)]
async fn a_replys_text_and_tool_calls_are_stored_once_and_its_raw_json_comes_back_byte_for_byte(pool: MySqlPool) {
    let seed_row = Seed::new(at("2026-06-01T12:00:00Z") + TimeDelta::minutes(2), "gpt-4o");
    let mut record = seed_row.record();
    let text = "Walk the list once and flip each \"next\" pointer.\n\tThen return the old tail: é ✓ ".repeat(3);
    let arguments = json!({"body": "fn flip() {}\n".repeat(12), "path": "src/list.rs"}).to_string();
    // Compact, keys in order: as the writer writes `reply_tool_calls`, whichever way serde_json
    // orders keys in the build.
    let calls = format!(
        r#"[{{"function":{{"arguments":{},"name":"write_file"}},"id":"call_2","type":"function"}}]"#,
        serde_json::to_string(&arguments).unwrap()
    );
    let sent = format!(
        r#"{{"id":"chatcmpl-seed","choices":[{{"index":0,"message":{{"role":"assistant","content":{},"tool_calls":{calls}}},"finish_reason":"tool_calls"}}]}}"#,
        serde_json::to_string(&text).unwrap()
    );
    record.response = proxy::record::ResponseCapture::Body(sent.clone().into());
    let id = record.id.to_string();
    write_records(&pool, vec![record]).await;

    let (stored, text_at, calls_at): (Vec<u8>, Option<u32>, Option<u32>) =
        sqlx::query_as("SELECT response_json, response_reply_offset, response_tool_calls_offset FROM requests")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(text_at.is_some() && calls_at.is_some(), "both were cut out");
    let stored = String::from_utf8(stored).unwrap();
    assert!(!stored.contains("flip each") && !stored.contains("write_file"), "each is stored once: {stored}");
    let admin = spawn_admin(pool).await;
    let data = admin.data(DETAIL, json!({"id": id})).await;
    assert_eq!(data["request"]["reply"]["text"], text);
    assert_eq!(data["request"]["reply"]["toolCalls"][0]["arguments"], arguments);
    assert_eq!(data["request"]["rawResponse"].as_str().unwrap(), sent, "byte for byte");
}

#[sqlx::test(migrations = false)]
async fn tool_calls_in_messages_and_replies_are_listed(pool: MySqlPool) {
    let seed_row = Seed::new(at("2026-06-01T12:00:00Z") + TimeDelta::minutes(1), "gpt-4o");
    let mut record = seed_row.record();
    record.request_body = bytes::Bytes::from_static(
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"22 C"}]}"#,
    );
    record.response = proxy::record::ResponseCapture::Body(bytes::Bytes::from_static(
        br#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_2","type":"function","function":{"name":"forecast","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
    ));
    let id = record.id.to_string();
    crate::helpers::write_records(&pool, vec![record]).await;
    let admin = spawn_admin(pool).await;

    let data = admin.data(DETAIL, json!({"id": id})).await;

    let messages = &data["request"]["messages"];
    assert_eq!(
        messages[1]["toolCalls"],
        json!([{"id": "call_1", "name": "weather", "arguments": "{\"city\":\"Rome\"}"}])
    );
    assert_eq!(messages[2]["toolCallId"], "call_1");
    assert_eq!(data["request"]["reply"]["toolCalls"], json!([{"name": "forecast", "arguments": "{}"}]));
    assert_eq!(data["request"]["reply"]["finishReason"], "tool_calls");
    // The upstream answered without counting: the proxy estimated the usage.
    assert_eq!(data["request"]["summary"]["usageSource"], "ESTIMATED");
}

#[sqlx::test(migrations = false)]
async fn an_unknown_id_is_null_and_a_malformed_one_is_bad_user_input(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    let unknown = admin.data(DETAIL, json!({"id": "01890a5d-ac96-774b-bcce-b302099a8057"})).await;
    assert_eq!(unknown["request"], serde_json::Value::Null);

    let malformed = admin.query(DETAIL, json!({"id": "'; DROP TABLE requests; --"})).await;
    assert_eq!(error_code(&malformed), "BAD_USER_INPUT");
}

#[sqlx::test(migrations = false)]
async fn a_long_message_stored_compressed_is_shown_whole_and_titles_its_conversation(pool: MySqlPool) {
    let mut long = Seed::new(at("2026-06-01T12:00:00Z"), "gpt-4o");
    long.user_text = "Fix the failing test: ".to_string() + &"thread 'parse' panicked at src/lib.rs:42\n".repeat(40);
    let record = long.record();
    seed(&pool, &[long.clone()]).await;
    let stored: (Option<Vec<u8>>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT content_text, content_compressed FROM message_nodes WHERE position = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(stored.0.is_none() && stored.1.is_some(), "the text is stored compressed");
    let admin = spawn_admin(pool).await;

    let data = admin.data(DETAIL, json!({"id": record.id.to_string()})).await;
    assert_eq!(data["request"]["messages"][1]["content"], long.user_text);
    assert_eq!(data["request"]["rawRequest"].as_str().unwrap().as_bytes(), &record.request_body[..]);

    let range = json!({"from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"});
    let data = admin.data("query($r: TimeRange) { topConversations(range: $r) { title } }", json!({"r": range})).await;
    let title: String = long.user_text.chars().take(200).collect();
    assert_eq!(data["topConversations"][0]["title"], title);
}

#[sqlx::test(migrations = false)]
async fn a_message_whose_json_is_stored_compressed_is_shown_with_its_tool_calls_and_exact_raw_request(pool: MySqlPool) {
    // An agent's turn: the assistant wrote a whole file through a tool call, then the tool answered.
    let file = "fn parse(line: &str) -> Option<u32> {\n    line.trim().parse().ok()\n}\n".repeat(20);
    let arguments = json!({"path": "src/lib.rs", "content": file}).to_string();
    let mut record = Seed::new(at("2026-06-01T12:00:00Z"), "gpt-4o").record();
    record.request_body = serde_json::to_vec(&json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Fix the parser"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "write_file", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "written"},
    ]}))
    .unwrap()
    .into();
    write_records(&pool, vec![record.clone()]).await;
    let stored: (Vec<u8>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT raw_json, raw_compressed FROM message_nodes WHERE position = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(stored.0.is_empty() && stored.1.is_some(), "the assistant message's JSON is stored compressed");
    let admin = spawn_admin(pool).await;

    let data = admin.data(DETAIL, json!({"id": record.id.to_string()})).await;
    let call = &data["request"]["messages"][1]["toolCalls"][0];
    assert_eq!((call["id"].as_str(), call["name"].as_str()), (Some("call_1"), Some("write_file")));
    assert_eq!(call["arguments"], arguments);
    assert_eq!(data["request"]["messages"][2]["content"], "written");
    assert_eq!(data["request"]["rawRequest"].as_str().unwrap().as_bytes(), &record.request_body[..]);
}
