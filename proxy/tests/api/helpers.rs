//! Starts the real proxy on port 0 against a fresh MariaDB database and a mock upstream, and reads
//! back what it recorded.

use std::collections::HashMap;
use std::time::Duration;

use proxy::config::Config;
use proxy::log_writer::LogSender;
use proxy::startup::Application;
use sqlx::{MySqlPool, Row};
use tokio::sync::oneshot;

use crate::mock_upstream::MockUpstream;

pub const UPSTREAM_KEY: &str = "sk-upstream-test-secret-9f8e7d";

pub struct TestApp {
    pub address: String,
    pub log: LogSender,
    pub pool: MySqlPool,
    pub upstream: MockUpstream,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app(pool: MySqlPool) -> TestApp {
    spawn_app_with(pool, &[]).await
}

/// A port nothing listens on right now, for a process that must be told its port in advance.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `/health` of the proxy at `base`; `None` when it does not answer.
pub async fn health(base: &str) -> Option<serde_json::Value> {
    match reqwest::get(format!("{base}/health")).await {
        Ok(response) => response.json().await.ok(),
        Err(error) => {
            eprintln!("/health of {base}: {error:?}");
            None
        }
    }
}

/// Records waiting in the spool of the proxy at `base`, from its `/health`; `None` when it does not answer.
pub async fn spooled(base: &str) -> Option<u64> {
    health(base).await?["log_writer"]["spooled"].as_u64()
}

/// A fresh directory for a spool, under the system's temp dir.
pub fn temp_spool_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tokenslipper-test-spool-{}", uuid::Uuid::now_v7()))
}

/// Starts the proxy with the test defaults plus `vars` (which win).
pub async fn spawn_app_with(pool: MySqlPool, vars: &[(&str, &str)]) -> TestApp {
    let upstream = MockUpstream::start().await;
    let mut env: HashMap<String, String> = HashMap::from([
        ("PROXY_HOST".into(), "127.0.0.1".into()),
        ("PROXY_PORT".into(), "0".into()),
        ("UPSTREAM_BASE_URL".into(), upstream.base_url.clone()),
        ("UPSTREAM_API_KEY".into(), UPSTREAM_KEY.into()),
        ("UPSTREAM_IDLE_TIMEOUT_SECS".into(), "30".into()),
        // Each app its own spool: tests run side by side.
        ("LOG_SPOOL_DIR".into(), temp_spool_dir().display().to_string()),
    ]);
    for (key, value) in vars {
        env.insert(key.to_string(), value.to_string());
    }
    let config = Config::from_vars(&env).expect("test configuration is valid");
    let app = Application::build_with_pool(config, pool.clone()).await.expect("the proxy starts");
    let port = app.port();
    let log = app.log_sender();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stop.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        log,
        pool,
        upstream,
        client: reqwest::Client::new(),
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &str, scenario: Option<&str>) -> reqwest::Response {
        let mut request =
            self.client.post(self.url(path)).header("content-type", "application/json").body(body.to_string());
        if let Some(scenario) = scenario {
            request = request.header("x-mock-scenario", scenario);
        }
        request.send().await.expect("the proxy answers")
    }

    /// A one-message streaming chat request, answered as `scenario` says.
    pub async fn stream_chat(&self, scenario: &str) -> reqwest::Response {
        let body = r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"go"}]}"#;
        self.post_json("/v1/chat/completions", body, Some(scenario)).await
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client.get(self.url(path)).send().await.expect("the proxy answers").json().await.expect("a JSON body")
    }

    /// Waits until every request so far is recorded in the database.
    pub async fn flush(&self) {
        self.log.flush().await;
    }

    /// Stops the server gracefully and waits for the log writer to drain.
    pub async fn shut_down(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub async fn logged_requests(&self) -> Vec<LoggedRequest> {
        self.flush().await;
        fetch_logged_requests(&self.pool).await
    }

    pub async fn only_logged_request(&self) -> LoggedRequest {
        let mut rows = self.logged_requests().await;
        assert_eq!(rows.len(), 1, "exactly one request is recorded: {rows:#?}");
        rows.remove(0)
    }
}

/// A `requests` row with the conversation and raw request rebuilt from `message_nodes`.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub id: Vec<u8>,
    pub method: String,
    pub endpoint: String,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub is_stream: bool,
    pub http_status: i64,
    pub outcome: String,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub latency_us: i64,
    pub ttfb_us: Option<i64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub usage_source: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub body_sha256: Option<Vec<u8>>,
    pub message_count: i64,
    pub last_user_message_preview: Option<String>,
    pub reply_text: Option<String>,
    pub reply_tool_calls: Option<serde_json::Value>,
    pub finish_reason: Option<String>,
    pub response_json: Option<serde_json::Value>,
    pub messages: Vec<LoggedMessage>,
    pub raw_request: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMessage {
    pub position: i64,
    pub role: String,
    pub name: Option<String>,
    pub content_text: Option<String>,
    pub content_parts: Option<String>,
    pub tool_calls: Option<serde_json::Value>,
    pub tool_call_id: Option<String>,
    /// The message as the client sent it (put back together when its text was stored once).
    pub raw_json: Vec<u8>,
}

fn text(row: &sqlx::mysql::MySqlRow, column: &str) -> Option<String> {
    // Text columns are read as bytes: MariaDB reports some of them as BLOB to sqlx (sqlx #3387).
    row.get::<Option<Vec<u8>>, _>(column).map(|b| String::from_utf8(b).unwrap())
}

pub async fn fetch_logged_requests(pool: &MySqlPool) -> Vec<LoggedRequest> {
    let rows = sqlx::query(
        "SELECT id, method, endpoint, client_model, upstream_model, is_stream, http_status, outcome, error_type, \
         error_message, latency_us, ttfb_us, prompt_tokens, completion_tokens, total_tokens, cached_tokens, \
         usage_source, client_ip, user_agent, body_sha256, message_count, last_user_message_preview, reply_text, \
         reply_tool_calls, finish_reason, response_json, response_reply_offset, response_tool_calls_offset, \
         request_envelope, messages_offset, last_message_id \
         FROM requests ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut logged = Vec::new();
    for row in rows {
        let last_message_id: Option<Vec<u8>> = row.get("last_message_id");
        let messages = match &last_message_id {
            Some(id) => fetch_conversation(pool, id).await,
            None => Vec::new(),
        };
        let envelope: Vec<u8> = row.get("request_envelope");
        let offset: Option<i32> = row.get("messages_offset");
        let raws: Vec<&[u8]> = messages.iter().map(|m| m.raw_json.as_slice()).collect();
        let raw_request = stored_conversation::reassemble(&envelope, offset.map(|o| o as usize), &raws);
        let json = |column: &str| text(&row, column).map(|t| serde_json::from_str(&t).unwrap());
        logged.push(LoggedRequest {
            id: row.get("id"),
            method: text(&row, "method").unwrap(),
            endpoint: text(&row, "endpoint").unwrap(),
            client_model: text(&row, "client_model"),
            upstream_model: text(&row, "upstream_model"),
            is_stream: row.get::<bool, _>("is_stream"),
            http_status: row.get::<i16, _>("http_status") as i64,
            outcome: text(&row, "outcome").unwrap(),
            error_type: text(&row, "error_type"),
            error_message: text(&row, "error_message"),
            latency_us: row.get("latency_us"),
            ttfb_us: row.get("ttfb_us"),
            prompt_tokens: row.get::<Option<i32>, _>("prompt_tokens").map(i64::from),
            completion_tokens: row.get::<Option<i32>, _>("completion_tokens").map(i64::from),
            total_tokens: row.get::<Option<i32>, _>("total_tokens").map(i64::from),
            cached_tokens: row.get::<Option<i32>, _>("cached_tokens").map(i64::from),
            usage_source: text(&row, "usage_source").unwrap(),
            client_ip: text(&row, "client_ip"),
            user_agent: text(&row, "user_agent"),
            body_sha256: row.get("body_sha256"),
            message_count: row.get::<i32, _>("message_count") as i64,
            last_user_message_preview: text(&row, "last_user_message_preview"),
            reply_text: text(&row, "reply_text"),
            reply_tool_calls: json("reply_tool_calls"),
            finish_reason: text(&row, "finish_reason"),
            // Put back together as the admin API does: the reply's text is stored once.
            response_json: row.get::<Option<Vec<u8>>, _>("response_json").map(|stored| {
                let cuts = stored_conversation::ReplyCuts::from_columns(
                    row.get("response_reply_offset"),
                    row.get("response_tool_calls_offset"),
                );
                let (reply_text, tool_calls) = (text(&row, "reply_text"), text(&row, "reply_tool_calls"));
                let parts =
                    stored_conversation::ReplyParts { text: reply_text.as_deref(), tool_calls: tool_calls.as_deref() };
                let raw = stored_conversation::response_json(&stored, cuts, parts);
                serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null)
            }),
            messages,
            raw_request,
        });
    }
    logged
}

/// The conversation ending at `last_message_id`, oldest first, by walking parent links in SQL.
pub async fn fetch_conversation(pool: &MySqlPool, last_message_id: &[u8]) -> Vec<LoggedMessage> {
    let rows = sqlx::query(
        "WITH RECURSIVE chain AS ( \
           SELECT id, parent_id FROM message_nodes WHERE id = ? \
           UNION ALL \
           SELECT n.id, n.parent_id FROM message_nodes n JOIN chain c ON n.id = c.parent_id) \
         SELECT m.position, m.role, m.name, m.content_text, m.content_compressed, m.content_parts, m.tool_calls, \
         m.tool_call_id, m.raw_json, m.content_offset, m.raw_compressed FROM chain JOIN message_nodes m ON m.id = chain.id \
         ORDER BY m.position",
    )
    .bind(last_message_id)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let compressed: Option<Vec<u8>> = row.get("content_compressed");
            let content_text = text(row, "content_text").or_else(|| {
                compressed.map(|c| stored_conversation::decompress_text(&c).expect("a stored text inflates"))
            });
            let stored: Vec<u8> = match row.get::<Option<Vec<u8>>, _>("raw_compressed") {
                Some(compressed) => stored_conversation::decompress(&compressed).expect("a stored JSON inflates"),
                None => row.get("raw_json"),
            };
            let offset: Option<i32> = row.get("content_offset");
            let raw_json =
                stored_conversation::message_json(&stored, offset.map(|o| o as usize), content_text.as_deref())
                    .into_owned();
            (row, content_text, raw_json)
        })
        .map(|(row, content_text, raw_json)| LoggedMessage {
            position: row.get::<i32, _>("position") as i64,
            role: text(row, "role").unwrap(),
            name: text(row, "name"),
            content_text,
            content_parts: text(row, "content_parts"),
            tool_calls: text(row, "tool_calls").map(|t| serde_json::from_str(&t).unwrap()),
            tool_call_id: text(row, "tool_call_id"),
            raw_json,
        })
        .collect()
}

pub async fn count(pool: &MySqlPool, table: &str) -> i64 {
    let sql = match table {
        "requests" => "SELECT COUNT(*) FROM requests",
        "message_nodes" => "SELECT COUNT(*) FROM message_nodes",
        "search_recent" => "SELECT COUNT(*) FROM search_recent",
        "search_postings" => "SELECT COUNT(*) FROM search_postings",
        "search_blocks" => "SELECT COUNT(*) FROM search_blocks",
        other => panic!("unknown table {other}"),
    };
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// An index's parts as `information_schema` lists them, in order: (column, prefix length, non-unique).
pub async fn index_parts(pool: &MySqlPool, table: &str, index: &str) -> Vec<(String, Option<i64>, i64)> {
    sqlx::query_as(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(SUB_PART AS SIGNED), CAST(NON_UNIQUE AS SIGNED) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? \
         ORDER BY SEQ_IN_INDEX",
    )
    .bind(table)
    .bind(index)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits until one of the proxies has applied the migrations (another finds them done when it
/// first writes).
pub async fn migrated(apps: &[&TestApp]) {
    for _ in 0..300 {
        if apps.iter().any(|app| app.log.status().migrations_applied) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors: Vec<_> = apps.iter().map(|app| app.log.status().last_database_error).collect();
    panic!("no proxy applied the migrations: {errors:?}");
}
