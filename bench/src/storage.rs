//! Storage per logged request: coding-agent conversations replayed turn by turn (each request
//! repeats the whole history so far, as an agent sends it) through TokenSlipper into an empty
//! database, then the bytes MariaDB uses for them against the bytes of the requests. Afterwards every
//! request is read back through the admin API and must give its whole conversation and raw body.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{json, Value};
use sqlx::MySqlPool;

use crate::contenders::Contender;
use crate::load;
use crate::mock_upstream::ReplyShape;

pub struct Conversation {
    pub messages: Vec<Value>,
}

pub struct StorageResult {
    pub conversations: usize,
    pub requests: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// The tables that grew, by how much, largest first.
    pub grown_tables: Vec<(String, u64)>,
}

/// The `*.traj.json` conversations in `dir` (their `messages`), or none when it is missing.
pub fn read_traces(dir: &Path) -> Result<Vec<Conversation>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".traj.json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let trace: Value = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let messages = trace["messages"].as_array().cloned().unwrap_or_default();
            Ok(Conversation { messages })
        })
        .collect()
}

/// Small agent-like conversations for `--quick` and checkouts without `../shared`.
pub fn synthetic_traces(count: usize, turns: usize) -> Vec<Conversation> {
    (0..count)
        .map(|c| {
            let mut messages = vec![
                json!({"role": "system", "content": "You are a coding agent. Run one shell command per turn."}),
                json!({"role": "user", "content": format!("Fix issue #{c}: the parser drops the last line.")}),
            ];
            for t in 0..turns {
                messages.push(json!({"role": "assistant", "content": format!("THOUGHT: look again ({t}).\n```bash\ncat src/parser.rs\n```")}));
                messages.push(json!({"role": "user", "content": format!("<output>fn parse() {{ /* {t} */ }}</output>")}));
            }
            Conversation { messages }
        })
        .collect()
}

/// `conversations` `times` over, each copy a different conversation to the proxy (its first message
/// names the copy, so no message is shared with another copy): the storage figure at a size where
/// InnoDB's fixed costs (a table's first pages, then whole 1 MB extents) no longer count.
pub fn copies(conversations: &[Conversation], times: usize) -> Vec<Conversation> {
    (0..times)
        .flat_map(|copy| {
            conversations.iter().map(move |conversation| {
                let mut messages = conversation.messages.clone();
                if let Some(Value::String(content)) = messages.first_mut().and_then(|m| m.get_mut("content")) {
                    *content = format!("(copy {copy}) {content}");
                }
                Conversation { messages }
            })
        })
        .collect()
}

/// The request bodies of a replay: one per assistant turn, carrying every message before it.
pub fn replay_bodies(conversations: &[Conversation]) -> Vec<Bytes> {
    let model = ReplyShape { words: 20, pace: Duration::ZERO }.model_name();
    let mut bodies = Vec::new();
    for conversation in conversations {
        for (index, message) in conversation.messages.iter().enumerate() {
            if message["role"] == "assistant" && index > 0 {
                let body = json!({"model": model, "messages": &conversation.messages[..index]});
                bodies.push(Bytes::from(body.to_string()));
            }
        }
    }
    bodies
}

/// Data + index bytes of each table of the database, as InnoDB counts them (whole extents once a
/// table passes 32 pages).
async fn used_bytes(pool: &MySqlPool) -> Result<BTreeMap<String, u64>, String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    for table in &tables {
        // Fresh statistics: information_schema's sizes come from them.
        sqlx::query(&format!("ANALYZE TABLE `{table}`")).execute(pool).await.map_err(|e| e.to_string())?;
    }
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(data_length + index_length AS SIGNED) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    Ok(sizes.into_iter().map(|(table, bytes)| (table, bytes as u64)).collect())
}

/// Replays `bodies` one after the other through `proxy`, which logs into `pool`'s database.
pub async fn replay(
    proxy: &Contender,
    pool: &MySqlPool,
    bodies: &[Bytes],
    conversations: usize,
) -> Result<StorageResult, String> {
    let before = used_bytes(pool).await?;
    let mut sender = load::connect(proxy.addr).await.map_err(|e| format!("storage replay: {e}"))?;
    for body in bodies {
        let request = Request::post("/v1/chat/completions")
            .header(hyper::header::HOST, proxy.addr.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| format!("storage replay: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("storage replay: {e}"))?;
        let status = response.status();
        let _ = response.into_body().collect().await;
        if !status.is_success() {
            return Err(format!("storage replay: the proxy answered {status}"));
        }
    }
    let ledger = crate::scenarios::Ledger { served: bodies.len() as u64, pool: pool.clone() };
    ledger.check("storage replay").await?;
    let after = used_bytes(pool).await?;
    let mut grown_tables: Vec<(String, u64)> = after
        .iter()
        .map(|(table, bytes)| (table.clone(), bytes.saturating_sub(before.get(table).copied().unwrap_or(0))))
        .filter(|(_, grown)| *grown > 0)
        .collect();
    grown_tables.sort_by_key(|(_, grown)| std::cmp::Reverse(*grown));
    Ok(StorageResult {
        conversations,
        requests: bodies.len() as u64,
        raw_bytes: bodies.iter().map(|b| b.len() as u64).sum(),
        stored_bytes: grown_tables.iter().map(|(_, grown)| grown).sum(),
        grown_tables,
    })
}

/// Reads every logged request back through the admin API's GraphQL and checks that it gives the
/// whole conversation (one message per message sent) and the exact raw request.
pub async fn verify_through_admin_api(admin: &Contender, token: &str, bodies: &[Bytes]) -> Result<(), String> {
    let mut sender = load::connect(admin.addr).await.map_err(|e| format!("admin API: {e}"))?;
    let mut ids = Vec::new();
    for page in 1.. {
        let query =
            json!({"query": format!("{{ requests(page: {page}, pageSize: 200) {{ hasNextPage items {{ id }} }} }}")});
        let answer = graphql(&mut sender, admin, token, query).await?;
        let items = answer["data"]["requests"]["items"].as_array().cloned().unwrap_or_default();
        ids.extend(items.iter().filter_map(|item| item["id"].as_str().map(String::from)));
        if answer["data"]["requests"]["hasNextPage"] != Value::Bool(true) {
            break;
        }
    }
    if ids.len() != bodies.len() {
        return Err(format!("admin API lists {} requests, {} were replayed", ids.len(), bodies.len()));
    }
    let mut expected: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for body in bodies {
        *expected.entry(body.as_ref()).or_default() += 1;
    }
    for id in ids {
        let query = json!({"query": "query($id: ID!) { request(id: $id) { rawRequest messages { role } } }", "variables": {"id": id}});
        let answer = graphql(&mut sender, admin, token, query).await?;
        let detail = &answer["data"]["request"];
        let raw = detail["rawRequest"].as_str().ok_or_else(|| format!("request {id}: no detail ({answer})"))?;
        let sent: Value =
            serde_json::from_str(raw).map_err(|e| format!("request {id}: raw request is not JSON: {e}"))?;
        let shown = detail["messages"].as_array().map(Vec::len).unwrap_or(0);
        let count = sent["messages"].as_array().map(Vec::len).unwrap_or(usize::MAX);
        if shown != count {
            return Err(format!("request {id}: the detail shows {shown} messages, the request carried {count}"));
        }
        match expected.get_mut(raw.as_bytes()) {
            Some(left) if *left > 0 => *left -= 1,
            _ => return Err(format!("request {id}: its raw request is not one that was sent")),
        }
    }
    Ok(())
}

async fn graphql(sender: &mut load::Sender, admin: &Contender, token: &str, query: Value) -> Result<Value, String> {
    let request = Request::post("/graphql")
        .header(hyper::header::HOST, admin.addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::from(query.to_string())))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| format!("admin API: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("admin API: {e}"))?;
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let answer: Value = serde_json::from_slice(&body).map_err(|e| format!("admin API answered non-JSON: {e}"))?;
    if answer.get("errors").is_some() {
        return Err(format!("admin API: {}", answer["errors"]));
    }
    Ok(answer)
}
