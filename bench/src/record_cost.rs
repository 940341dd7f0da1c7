//! What the log pipeline spends on a record before MySQL sees it: the journal appends its frame to
//! the spool (on the serving runtime's threads: the request path pays it), then the store thread's
//! `StoredRequest::from_record` splits the conversation into nodes, hashes them and assembles the
//! reply, and the messages of the nodes not stored before are read. No database, so the figures
//! repeat — under `valgrind --tool=callgrind` as instruction counts that do not drift.
//!
//!   bench record-cost [--records N] [--case chat|stream|agent]

use std::time::Instant;

use bytes::Bytes;
use proxy::record::{RequestRecord, ResponseCapture};
use proxy::spool;
use proxy::stored_request::StoredRequest;
use serde_json::json;

use bench::wire_shapes;

/// Words in a streamed reply: one content delta each, plus the role, finish and usage chunks.
const STREAM_WORDS: usize = 50;
/// Messages in an agent's turn: a system prompt, then tool calls and their results.
const HISTORY_MESSAGES: usize = 60;

/// A case's name for `--case`, its description, how to make one of its records, and how many of
/// its messages are new (the writer reads the fields of those only; the rest it stored before).
type Case = (&'static str, &'static str, fn() -> RequestRecord, usize);

pub fn run(records: usize, only: Option<&str>) -> Result<(), String> {
    let cases: [Case; 3] = [
        ("chat", "chat, 1 KB body, model mapped, whole reply, messages stored before", repeated_chat, 0),
        ("stream", "chat, streamed reply of 50 content events (usage chunk, [DONE])", streamed_chat, 2),
        ("agent", "agent turn, 60-message history (~60 KB body, 2 messages new), whole reply", agent_turn, 2),
    ];
    if let Some(only) = only.filter(|only| !cases.iter().any(|(case, ..)| case == only)) {
        return Err(format!("--case {only:?}: one of chat, stream, agent"));
    }
    println!("CPU the log pipeline spends on one record before MySQL, {records} records:");
    for (_, name, make, new_messages) in cases.into_iter().filter(|(case, ..)| only.is_none_or(|only| only == *case)) {
        let batch: Vec<RequestRecord> = (0..records).map(|_| make()).collect();
        let journal = journal_cost(&batch)?;
        println!("- {name}: the journal appends it to the spool in {journal:.1} µs");
        let began = Instant::now();
        let mut nodes = 0;
        for record in batch {
            let row = StoredRequest::from_record(record);
            let all = &row.conversation.nodes;
            for node in &all[all.len().saturating_sub(new_messages)..] {
                std::hint::black_box(node.fields());
            }
            nodes += all.len();
        }
        let per_record = began.elapsed().as_secs_f64() * 1e6 / records as f64;
        println!(
            "- {name}: the writer turns it into rows (StoredRequest::from_record) in {per_record:.1} µs ({} nodes each)",
            nodes / records.max(1)
        );
    }
    Ok(())
}

/// µs per record for appending the records to a spool in a temporary directory, flushed every
/// 500 records (as the journal did at the default batch size until it became 1,000; kept, so that
/// figures stay comparable); the file writes included.
fn journal_cost(records: &[RequestRecord]) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!("tokenslipper-record-cost-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let spent = runtime.block_on(async {
        let (mut appender, _reader) = spool::open(&dir).await?;
        let began = Instant::now();
        for chunk in records.chunks(500) {
            for record in chunk {
                appender.append(record).await?;
            }
            appender.flush().await?;
        }
        Ok::<_, std::io::Error>(began.elapsed())
    });
    let _ = std::fs::remove_dir_all(&dir);
    let spent = spent.map_err(|e| format!("spool in {}: {e}", dir.display()))?;
    Ok(spent.as_secs_f64() * 1e6 / records.len().max(1) as f64)
}

/// The harness's throughput scenario: the same chat again and again, so its messages are stored.
fn repeated_chat() -> RequestRecord {
    let mut record = RequestRecord::new("POST", "/v1/chat/completions");
    record.client_model = Some("gpt-4o".into());
    record.upstream_model = Some("claude-sonnet-4-5".into());
    record.http_status = 200;
    let question = "Refactor the function below so that it returns early on an empty slice. ".repeat(11);
    record.request_body = Bytes::from(
        json!({"model": "gpt-4o", "messages": [
                   {"role": "system", "content": "You are a careful senior engineer. Answer with code first."},
                   {"role": "user", "content": question}],
               "stream": false, "temperature": 0.2})
        .to_string(),
    );
    record.response = ResponseCapture::Body(wire_shapes::completion("claude-sonnet-4-5"));
    record
}

fn streamed_chat() -> RequestRecord {
    let mut record = RequestRecord::new("POST", "/v1/chat/completions");
    record.client_model = Some("gpt-4o-mini".into());
    record.is_stream = true;
    record.http_status = 200;
    record.request_body = Bytes::from(
        json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "system", "content": "You are a careful senior engineer."},
                            {"role": "user", "content": "Why does the borrow checker reject this loop?"}]})
        .to_string(),
    );
    let events = wire_shapes::stream_events("gpt-4o-mini", STREAM_WORDS, true);
    record.response = ResponseCapture::Stream(events.concat().into());
    record
}

fn agent_turn() -> RequestRecord {
    let mut record = RequestRecord::new("POST", "/v1/chat/completions");
    record.client_model = Some("gpt-4o-mini".into());
    record.http_status = 200;
    let file = "fn main() {\n    let values = vec![1, 2, 3];\n    println!(\"{values:?}\");\n}\n".repeat(12);
    let mut messages = vec![json!({"role": "system", "content": "You are an autonomous coding agent. Use the tools."})];
    messages.push(json!({"role": "user", "content": "Fix the failing test in src/lib.rs"}));
    for n in 0..(HISTORY_MESSAGES - 2) / 2 {
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("call_{n}"),
            "type": "function", "function": {"name": "read_file", "arguments": format!("{{\"path\":\"src/file_{n}.rs\"}}")}}]}));
        messages.push(json!({"role": "tool", "tool_call_id": format!("call_{n}"), "content": file}));
    }
    record.request_body = Bytes::from(json!({"model": "gpt-4o-mini", "messages": messages}).to_string());
    record.response = ResponseCapture::Body(wire_shapes::completion("gpt-4o-mini"));
    record
}
