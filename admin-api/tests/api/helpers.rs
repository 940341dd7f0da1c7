//! Seeds a database through the proxy's own log writer, starts the admin API on port 0, and
//! sends GraphQL to it.

use std::collections::HashMap;
use std::time::Duration;

use admin_api::config::Config;
use admin_api::startup::Application;
use chrono::{DateTime, TimeDelta, Utc};
use proxy::config::LogWriterConfig;
use proxy::log_writer::LogWriter;
use proxy::record::{Outcome, RequestRecord, ResponseCapture};
use serde_json::{json, Value};
use sqlx::MySqlPool;

pub const TOKEN: &str = "admin-test-token-0123456789";

/// One request to seed, described by what matters to the admin API.
#[derive(Clone, Debug)]
pub struct Seed {
    pub started_at: DateTime<Utc>,
    pub client_model: &'static str,
    pub upstream_model: &'static str,
    pub stream: bool,
    pub status: u16,
    pub outcome: Outcome,
    pub latency_ms: u64,
    /// (prompt, completion, cached); `None` for a reply without usage.
    pub usage: Option<(i64, i64, i64)>,
    /// Input written to the prompt cache (part of the prompt), reported with the usage.
    pub cache_write: i64,
    /// The client key's label, as the proxy records it when client authentication is on.
    pub client_key: Option<&'static str>,
    pub endpoint: &'static str,
    pub user_text: String,
    pub reply_text: String,
}

impl Seed {
    pub fn new(started_at: DateTime<Utc>, client_model: &'static str) -> Self {
        Seed {
            started_at,
            client_model,
            upstream_model: "claude-3-5-sonnet-20241022",
            stream: false,
            status: 200,
            outcome: Outcome::Ok,
            latency_ms: 100,
            usage: Some((10, 5, 0)),
            cache_write: 0,
            client_key: None,
            endpoint: "/v1/chat/completions",
            user_text: "hello there".into(),
            reply_text: "general kenobi".into(),
        }
    }

    pub fn record(&self) -> RequestRecord {
        let mut record = RequestRecord::new("POST", self.endpoint);
        record.client_key = self.client_key.map(String::from);
        // A UUIDv7 of the seed's own time, with "random" bits derived from the seed, so the same
        // seed always gets the same id. Seeds use distinct times, so ids sort as times do.
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}{}", self.started_at, self.client_model));
        let random: [u8; 10] = digest[..10].try_into().unwrap();
        record.id =
            uuid::Builder::from_unix_timestamp_millis(self.started_at.timestamp_millis() as u64, &random).into_uuid();
        record.started_at = self.started_at;
        record.finished_at = self.started_at + TimeDelta::milliseconds(self.latency_ms as i64);
        record.latency = Duration::from_millis(self.latency_ms);
        record.time_to_first_byte = Some(Duration::from_millis(self.latency_ms / 2));
        record.client_model = Some(self.client_model.into());
        record.upstream_model = Some(self.upstream_model.into());
        record.is_stream = self.stream;
        record.http_status = self.status;
        record.outcome = self.outcome;
        record.client_ip = Some("10.1.2.3".into());
        record.user_agent = Some("seed/1.0".into());
        let body = json!({
            "model": self.client_model,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": self.user_text},
            ],
        });
        record.request_body = serde_json::to_vec(&body).unwrap().into();
        let mut response = json!({
            "id": "chatcmpl-seed", "object": "chat.completion", "model": self.upstream_model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply_text}, "finish_reason": "stop"}],
        });
        if let Some((prompt, completion, cached)) = self.usage {
            response["usage"] = json!({
                "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": self.cache_write},
            });
        }
        if self.status >= 400 {
            response = json!({"error": {"message": "upstream says no", "type": "rate_limit_error"}});
        }
        record.response = ResponseCapture::Body(serde_json::to_vec(&response).unwrap().into());
        record
    }
}

/// Writes the seeds with the proxy's writer (rows, conversation nodes and hourly rollups).
pub async fn seed(pool: &MySqlPool, seeds: &[Seed]) {
    write_records(pool, seeds.iter().map(Seed::record).collect()).await;
}

/// Writes records with the proxy's writer.
pub async fn write_records(pool: &MySqlPool, records: Vec<RequestRecord>) {
    write_records_in_batches(pool, records, 500).await;
}

/// Writes records with the proxy's writer, at most `batch_rows` in a transaction (and so in a
/// block of the text search's index).
pub async fn write_records_in_batches(pool: &MySqlPool, records: Vec<RequestRecord>, batch_rows: usize) {
    let spool_dir = std::env::temp_dir().join(format!("tokenslipper-seed-spool-{}", uuid::Uuid::now_v7()));
    let writer = LogWriter::start(
        pool.clone(),
        LogWriterConfig {
            spool_dir: spool_dir.clone(),
            queue_capacity: 100_000,
            batch_max_rows: batch_rows,
            batch_max_bytes: 4 << 20,
            flush_interval: Duration::from_millis(50),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let sender = writer.sender();
    for record in records {
        sender.send(record).await;
    }
    sender.flush().await;
    writer.shutdown(Duration::from_secs(10)).await;
    std::fs::remove_dir_all(spool_dir).unwrap();
}

pub struct TestAdmin {
    pub address: String,
    pub client: reqwest::Client,
}

pub async fn spawn_admin(pool: MySqlPool) -> TestAdmin {
    spawn_admin_with(pool, &[]).await
}

pub async fn spawn_admin_with(pool: MySqlPool, vars: &[(&str, &str)]) -> TestAdmin {
    let mut env: HashMap<String, String> = HashMap::from([
        ("ADMIN_HOST".into(), "127.0.0.1".into()),
        ("ADMIN_PORT".into(), "0".into()),
        ("ADMIN_TOKEN".into(), TOKEN.into()),
    ]);
    for (key, value) in vars {
        env.insert(key.to_string(), value.to_string());
    }
    let config = Config::from_vars(&env).unwrap();
    let app = Application::build_with_pool(config, pool.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    TestAdmin { address, client: reqwest::Client::new() }
}

impl TestAdmin {
    /// Sends a query with the admin token; returns the whole GraphQL response.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        self.query_with_token(Some(TOKEN), query, variables).await.1
    }

    /// The `data` of a query that must succeed.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.query(query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response}");
        response["data"].clone()
    }

    pub async fn query_with_token(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}
