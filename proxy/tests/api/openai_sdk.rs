//! The official OpenAI Python SDK against the real proxy binary: a real client is happy, every call
//! is recorded, and neither key shows up in the proxy's output.

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use tokio::process::Command;

use crate::helpers::fetch_logged_requests;
use crate::mock_upstream::MockUpstream;
use crate::proxy_process::ProxyProcess;

/// The endpoints `openai_sdk_client.py` calls, in its order.
pub const SDK_CALL_ENDPOINTS: [&str; 6] = [
    "/v1/chat/completions",
    "/v1/chat/completions",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
];

/// Runs `openai_sdk_client.py` against `base_url` and checks what the SDK got back from the mock
/// upstream through the proxy: a chat, a stream without the usage chunk it did not ask for, a
/// streamed tool call, a legacy completion, an embedding and the model list.
pub async fn run_openai_sdk(base_url: &str, key: &str) -> serde_json::Value {
    let sdk = Command::new("python3")
        .arg(format!("{}/tests/openai_sdk_client.py", env!("CARGO_MANIFEST_DIR")))
        .args([base_url, key])
        .output()
        .await
        .unwrap();
    assert!(sdk.status.success(), "SDK run failed: {}", String::from_utf8_lossy(&sdk.stderr));
    let result: serde_json::Value = serde_json::from_slice(&sdk.stdout).unwrap();

    assert_eq!(result["chat_text"], "Olá!");
    assert_eq!(result["chat_total_tokens"], 22);
    assert_eq!(result["stream_text"], "Olá!");
    assert_eq!(result["stream_chunks_with_usage"], 0, "no usage chunk the client did not ask for");
    assert_eq!(result["tool_name"], "weather");
    assert_eq!(result["tool_arguments"]["location"], "Florence,Italy");
    assert_eq!(result["tool_stream_total_tokens"], 77);
    assert_eq!(result["completion_text"], "Hello, world");
    assert_eq!(result["embedding_length"], 3);
    assert!(result["model_ids"].as_array().unwrap().iter().any(|m| m == "gpt-4o"));
    result
}

const UPSTREAM_KEY: &str = "sk-upstream-sdk-secret-77aa";
const CLIENT_KEY: &str = "sk-client-sdk-secret-55bb";

#[sqlx::test(migrations = false)]
async fn the_official_openai_python_sdk_works_through_the_proxy_binary(
    pool_options: MySqlPoolOptions,
    database: MySqlConnectOptions,
) {
    let has_sdk = std::process::Command::new("python3").args(["-c", "import openai"]).status();
    assert!(
        has_sdk.is_ok_and(|s| s.success()),
        "this test needs python3 with the openai package (scripts/test.sh installs it)"
    );
    let upstream = MockUpstream::start().await;
    let path = std::env::var("PATH").unwrap_or_default();
    let proxy = ProxyProcess::start(
        &database,
        &[
            ("PATH", path.as_str()),
            ("UPSTREAM_BASE_URL", upstream.base_url.as_str()),
            ("UPSTREAM_API_KEY", UPSTREAM_KEY),
            ("VERIFY_CLIENT_AUTH", "true"),
            ("PROXY_API_KEYS", CLIENT_KEY),
            ("LOG_LEVEL", "debug"),
        ],
    )
    .await;
    let base_url = format!("http://127.0.0.1:{}/v1", proxy.port);

    run_openai_sdk(&base_url, CLIENT_KEY).await;

    // SIGTERM: the proxy drains its log queue before it exits.
    let output = proxy.stop().await;

    let pool = pool_options.connect_with(database).await.unwrap();
    let rows = fetch_logged_requests(&pool).await;
    let endpoints: Vec<&str> = rows.iter().map(|r| r.endpoint.as_str()).collect();
    assert_eq!(endpoints, SDK_CALL_ENDPOINTS);
    assert!(rows.iter().all(|r| r.http_status == 200 && r.outcome == "ok"), "{rows:#?}");
    assert_eq!(rows[1].usage_source, "upstream", "usage was collected for the stream that did not ask for it");
    assert!(rows[1].user_agent.as_deref().unwrap().starts_with("OpenAI/Python"));

    for secret in [UPSTREAM_KEY, CLIENT_KEY] {
        assert!(!output.contains(secret), "{secret} appeared in the proxy's output:\n{output}");
    }
}
