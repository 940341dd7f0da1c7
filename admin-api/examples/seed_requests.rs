//! Fills a database with realistic recorded traffic, through the proxy's own log writer (rows,
//! conversation nodes, hourly rollups), for the admin API's scale benchmark.
//!
//! cargo run --release -p admin-api --example seed_requests -- DATABASE_URL [REQUESTS] [DAYS]
//!
//! The traffic: coding-assistant chats that grow turn by turn (shared system prompts, histories
//! repeated with every turn), one-shot calls, embeddings; four client models; ~60 % streamed;
//! ~4 % upstream errors and ~1 % cancellations; latencies from 80 ms to a minute; spread over the
//! last DAYS days with a daily rhythm. Deterministic: the same arguments give the same data.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use proxy::config::LogWriterConfig;
use proxy::log_writer::LogWriter;
use proxy::record::{Outcome, RequestRecord, ResponseCapture};
use serde_json::{json, Value};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

/// xorshift64*: small, fast, deterministic; statistical quality is plenty for test data.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(10_000) < percent * 100
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the",
    "function",
    "returns",
    "error",
    "when",
    "config",
    "file",
    "missing",
    "test",
    "fails",
    "because",
    "database",
    "connection",
    "timeout",
    "refactor",
    "module",
    "into",
    "smaller",
    "parts",
    "please",
    "explain",
    "why",
    "this",
    "borrow",
    "checker",
    "complains",
    "about",
    "lifetime",
    "async",
    "trait",
    "docker",
    "build",
    "cache",
    "layer",
    "kubernetes",
    "pod",
    "restarts",
    "memory",
    "limit",
    "python",
    "import",
    "path",
    "react",
    "component",
    "state",
    "update",
    "query",
    "index",
    "slow",
    "migration",
    "rollback",
    "deploy",
    "pipeline",
];

const SYSTEM_PROMPTS: &[&str] = &[
    "You are a powerful agentic AI coding assistant. You operate in the user's IDE. Follow the user's instructions carefully, use tools when needed, and never invent file contents.",
    "You are a helpful assistant.",
    "You are a senior engineer reviewing code. Be precise and brief. Point out bugs first, style last.",
];

/// Between `min` and `min + spread` words.
fn sentence(random: &mut Random, min: u64, spread: u64) -> String {
    let words = min + random.below(spread);
    (0..words).map(|_| *random.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

struct Chat {
    model: &'static str,
    messages: Vec<Value>,
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: seed_requests DATABASE_URL [REQUESTS] [DAYS]");
    let total: u64 = args.next().map(|a| a.parse().expect("REQUESTS is a number")).unwrap_or(1_000_000);
    let days: i64 = args.next().map(|a| a.parse().expect("DAYS is a number")).unwrap_or(90);

    let options: MySqlConnectOptions = url.parse().expect("a mysql:// URL");
    let pool = MySqlPoolOptions::new().max_connections(4).connect_with(options).await.expect("database reachable");
    let spool_dir = std::env::temp_dir().join(format!("tokenslipper-seed-spool-{}", std::process::id()));
    let writer = LogWriter::start(
        pool.clone(),
        LogWriterConfig {
            spool_dir: spool_dir.clone(),
            queue_capacity: 20_000,
            batch_max_rows: 1_000,
            batch_max_bytes: 8 << 20,
            flush_interval: Duration::from_millis(200),
            enabled: true,
        },
    )
    .await
    .expect("a spool directory in the temp dir");
    let sender = writer.sender();

    let mut random = Random(0x005E_ED0F_70C3_u64 ^ total);
    let models: [(&str, &str); 4] = [
        ("gpt-4o", "claude-3-5-sonnet-20241022"),
        ("gpt-4o-mini", "claude-3-5-haiku-20241022"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        ("gpt-4", "claude-3-opus-20240229"),
    ];
    let mut chats: Vec<Chat> = Vec::new();
    let start = Utc::now() - TimeDelta::days(days);
    let span_ms = days * 24 * 3600 * 1000;
    let started = Instant::now();

    for n in 0..total {
        // Evenly spread, with a daily rhythm: busier in working hours.
        let base = span_ms * n as i64 / total as i64;
        let jitter = (random.below(1000)) as i64;
        let at = start + TimeDelta::milliseconds(base + jitter);

        let mut record = RequestRecord::new("POST", "/v1/chat/completions");
        let mut random_bits = [0u8; 10];
        random_bits.iter_mut().for_each(|b| *b = random.next() as u8);
        record.id = uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis() as u64, &random_bits).into_uuid();
        record.started_at = at;
        record.client_ip = Some(format!("10.0.{}.{}", random.below(4), random.below(250)));
        record.user_agent = Some(random.pick(&["OpenAI/Python 1.99.0", "Cursor/1.4", "OpenAI/JS 5.1.0"]).to_string());

        let roll = random.below(100);
        let (client_model, upstream_model) = *random.pick(&models);
        let reply = sentence(&mut random, 5, 60);
        if roll < 8 {
            // Embeddings.
            record.endpoint = "/v1/embeddings".into();
            record.client_model = Some("text-embedding-3-small".into());
            record.upstream_model = Some("text-embedding-3-small".into());
            let input = sentence(&mut random, 20, 200);
            record.request_body =
                serde_json::to_vec(&json!({"model": "text-embedding-3-small", "input": input})).unwrap().into();
            let prompt_tokens = 10 + random.below(400) as i64;
            record.response = ResponseCapture::Body(
                serde_json::to_vec(
                    &json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.01, -0.02]}],
                    "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}),
                )
                .unwrap()
                .into(),
            );
        } else {
            // A chat: continue one of the open ones most of the time, as an agent does.
            if chats.len() < 50 || random.chance(15) {
                let system = *random.pick(SYSTEM_PROMPTS);
                chats.push(Chat { model: client_model, messages: vec![json!({"role": "system", "content": system})] });
                if chats.len() > 400 {
                    chats.remove(0);
                }
            }
            let index = random.below(chats.len() as u64) as usize;
            let chat = &mut chats[index];
            let question = sentence(&mut random, 4, 40);
            let question = if random.chance(1) { format!("{question} zebrafish") } else { question };
            // A word of this request alone, as agents quote ids, hashes and line numbers: the
            // word index keeps such words apart from the others (`search_index::rare_words`).
            let question = format!("{question} ticket {n}");
            chat.messages.push(json!({"role": "user", "content": question}));
            if chat.messages.len() > 80 {
                chat.messages.drain(1..21);
            }
            let upstream = models.iter().find(|(c, _)| *c == chat.model).map(|(_, u)| *u).unwrap_or(upstream_model);
            record.client_model = Some(chat.model.into());
            record.upstream_model = Some(upstream.into());
            record.is_stream = random.chance(60);
            let body =
                json!({"model": chat.model, "messages": chat.messages, "stream": record.is_stream, "temperature": 0.2});
            record.request_body = serde_json::to_vec(&body).unwrap().into();
            let history: usize = chat.messages.iter().map(|m| m.to_string().len()).sum();
            let prompt_tokens = (history / 4) as i64 + 20;
            let completion_tokens = (reply.len() / 4) as i64 + 1;
            let response = json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion", "model": upstream,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens,
                          "prompt_tokens_details": {"cached_tokens": prompt_tokens / 2}}});
            record.response = ResponseCapture::Body(serde_json::to_vec(&response).unwrap().into());
            chat.messages.push(json!({"role": "assistant", "content": reply}));
        }

        let latency_ms = 80 + random.below(1500) + if random.chance(5) { random.below(60_000) } else { 0 };
        record.latency = Duration::from_millis(latency_ms);
        record.time_to_first_byte = Some(Duration::from_millis(latency_ms.min(60 + random.below(700))));
        record.finished_at = at + TimeDelta::milliseconds(latency_ms as i64);
        record.http_status = 200;
        record.outcome = Outcome::Ok;
        if random.chance(4) {
            record.http_status = *random.pick(&[429u16, 500, 529]);
            record.response = ResponseCapture::Body(
                serde_json::to_vec(&json!({"error": {"message": "Overloaded", "type": "overloaded_error"}}))
                    .unwrap()
                    .into(),
            );
        } else if random.chance(1) {
            record.http_status = 499;
            record.outcome = Outcome::Cancelled;
        }
        sender.send(record).await;
        if (n + 1) % 50_000 == 0 {
            let rate = (n + 1) as f64 / started.elapsed().as_secs_f64();
            eprintln!("{} requests queued ({rate:.0}/s)", n + 1);
        }
    }
    sender.flush().await;
    writer.shutdown(Duration::from_secs(60)).await;
    let _ = std::fs::remove_dir_all(&spool_dir);
    let elapsed = started.elapsed().as_secs_f64();
    println!("seeded {total} requests over {days} days in {elapsed:.1} s ({:.0} rows/s)", total as f64 / elapsed);
}
