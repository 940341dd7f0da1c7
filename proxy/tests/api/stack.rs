//! The assembled stack, as a user starts it without Docker: `scripts/run-local.sh` builds and runs
//! the proxy and the admin service with a private MariaDB of its own. The official OpenAI Python
//! SDK calls the proxy (chat, streamed chat, tool calls, legacy completions, embeddings, models)
//! against the mock upstream; GraphQL must then hold every call with its messages, reply and usage,
//! and the admin web app in headless Chromium must list them and show their detail. Ctrl-C (SIGINT)
//! to the script must stop everything it started.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[path = "../../../admin-api/tests/api/chromium.rs"]
mod chromium;

use crate::helpers::free_port;
use crate::mock_upstream::MockUpstream;
use crate::openai_sdk::{run_openai_sdk, SDK_CALL_ENDPOINTS};
use chromium::Browser;

const UPSTREAM_KEY: &str = "sk-upstream-stack-secret-31cc";
const CLIENT_KEY: &str = "sk-client-stack-secret-42dd";
const ADMIN_TOKEN: &str = "admin-stack-token-0123456789abcdef";

/// The port in a banner line such as `  Proxy:      http://127.0.0.1:41531  (OpenAI base URL: …)`.
fn banner_port(line: &str, label: &str) -> Option<u16> {
    let rest = line.split(label).nth(1)?;
    rest.trim().split(':').nth(2)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The HEALTHCHECK command of one stage of the Dockerfile, as the argument list Docker runs.
fn dockerfile_healthcheck(stage: &str) -> Vec<String> {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile")).unwrap();
    let from = dockerfile.find(&format!(" AS {stage}\n")).unwrap_or_else(|| panic!("no stage {stage}"));
    let stage_text = &dockerfile[from..];
    let check = &stage_text[stage_text.find("HEALTHCHECK").unwrap()..];
    let json = check.split("CMD ").nth(1).unwrap().lines().next().unwrap();
    serde_json::from_str(json).unwrap()
}

/// Runs a Dockerfile HEALTHCHECK here, with the port variable the image sets.
fn healthcheck_passes(stage: &str, port_variable: &str, port: u16) -> bool {
    let command = dockerfile_healthcheck(stage);
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env(port_variable, port.to_string())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    status.success()
}

struct Stack {
    script: tokio::process::Child,
    proxy_port: u16,
    admin_port: u16,
    log: std::path::PathBuf,
}

impl Stack {
    async fn start(upstream: &MockUpstream, db_port: u16, workdir: &std::path::Path) -> Stack {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let log = workdir.join("run-local.log");
        // Everything that matters is set here, so a developer's own .env cannot change the run.
        // Through `env --default-signal=INT`: a shell cannot trap a signal ignored when it started, and
        // a test runner started in the background (nohup, `&` in a script) passes SIGINT on ignored.
        let mut script = Command::new("env");
        script.args(["--default-signal=INT", &format!("{root}/scripts/run-local.sh")]);
        // What cargo sets for a test would reach the script's own `cargo build` and make it, and
        // the next `cargo test`, rebuild crates whose build scripts watch the environment.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let keep = ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_TERM_COLOR"].contains(&name.as_ref());
            if (name.starts_with("CARGO_") || name == "CARGO" || name == "LD_LIBRARY_PATH") && !keep {
                script.env_remove(name.as_ref());
            }
        }
        let mut script = script
            .env("TOKENSLIPPER_PROFILE", "dev")
            .env("LOCAL_MARIADB", "auto")
            .env("LOCAL_MARIADB_DIR", workdir.join("mariadb"))
            .env("DATABASE_URL", format!("mysql://root@127.0.0.1:{db_port}/tokenslipper"))
            .env("PROXY_HOST", "127.0.0.1")
            .env("PROXY_PORT", "0")
            .env("ADMIN_HOST", "127.0.0.1")
            .env("ADMIN_PORT", "0")
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("ADMIN_WEB_DIR", "admin-web/dist")
            .env("UPSTREAM_BASE_URL", &upstream.base_url)
            .env("UPSTREAM_API_KEY", UPSTREAM_KEY)
            .env("VERIFY_CLIENT_AUTH", "true")
            .env("PROXY_API_KEYS", CLIENT_KEY)
            .env("EXTRA_MODEL_MAPPING", "{}")
            .env("LOG_LEVEL", "info")
            .env("LOG_SPOOL_DIR", workdir.join("spool"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(script.stdout.take().unwrap()).lines();
        let (mut proxy_port, mut admin_port) = (None, None);
        while proxy_port.is_none() || admin_port.is_none() {
            let Some(line) = lines.next_line().await.unwrap() else {
                panic!("run-local.sh ended before both services started:\n{}", std::fs::read_to_string(&log).unwrap());
            };
            proxy_port = proxy_port.or(banner_port(&line, "Proxy:"));
            admin_port = admin_port.or(banner_port(&line, "GraphQL:"));
        }
        // Keep reading, so the script never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Stack { script, proxy_port: proxy_port.unwrap(), admin_port: admin_port.unwrap(), log }
    }

    fn admin(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.admin()))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(response.get("errors").is_none(), "{response}");
        response["data"].clone()
    }
}

const LIST: &str = "query { requests(page: 1, pageSize: 50) { totalCount items { id endpoint stream httpStatus } } }";
const DETAIL: &str = "query($id: ID!) { request(id: $id) {
    summary { endpoint clientModel stream outcome promptTokens completionTokens totalTokens usageSource }
    messages { role content }
    reply { text toolCalls { name arguments } }
} }";

#[tokio::test]
async fn the_stack_started_by_run_local_records_every_sdk_call_and_shows_it_in_the_admin_app() {
    let has_sdk = std::process::Command::new("python3").args(["-c", "import openai"]).status();
    assert!(has_sdk.is_ok_and(|s| s.success()), "needs python3 with the openai package (scripts/test.sh installs it)");
    chromium::dist_dir();
    let workdir = std::env::temp_dir().join(format!("tokenslipper-stack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&workdir);
    std::fs::create_dir_all(&workdir).unwrap();
    let upstream = MockUpstream::start().await;
    let db_port = free_port();
    let mut stack = Stack::start(&upstream, db_port, &workdir).await;

    // The application's view: the official SDK, as any OpenAI client would use the proxy.
    run_openai_sdk(&format!("http://127.0.0.1:{}/v1", stack.proxy_port), CLIENT_KEY).await;

    // The records, through the admin API: all six calls, once each (the writer flushes within a second).
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = stack.graphql(LIST, json!({})).await["requests"].clone();
        if listed["totalCount"] == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if listed["totalCount"] != 6 {
        panic!("{listed}\nrun-local.sh's log:\n{}", std::fs::read_to_string(&stack.log).unwrap());
    }
    let items = listed["items"].as_array().unwrap();
    // Newest first; the SDK made the calls in this order.
    let endpoints: Vec<&str> = items.iter().rev().map(|i| i["endpoint"].as_str().unwrap()).collect();
    assert_eq!(endpoints, SDK_CALL_ENDPOINTS);
    assert!(items.iter().all(|i| i["httpStatus"] == 200), "{listed}");
    let mut details = Vec::new();
    for item in items.iter().rev() {
        details.push(stack.graphql(DETAIL, json!({"id": item["id"]})).await["request"].clone());
    }

    let chat = &details[0];
    assert_eq!(chat["messages"], json!([{"role": "user", "content": "Say hi in Portuguese"}]));
    assert_eq!(chat["reply"]["text"], "Olá!");
    assert_eq!((&chat["summary"]["totalTokens"], &chat["summary"]["usageSource"]), (&json!(22), &json!("UPSTREAM")));
    let streamed = &details[1];
    assert_eq!(streamed["summary"]["stream"], true);
    assert_eq!(streamed["messages"][0]["content"], "Count to three");
    assert_eq!(streamed["reply"]["text"], "Olá!");
    assert_eq!(streamed["summary"]["usageSource"], "UPSTREAM", "usage collected for a stream that did not ask");
    let tool = &details[2];
    assert_eq!(tool["reply"]["toolCalls"][0]["name"], "weather");
    let arguments: Value = serde_json::from_str(tool["reply"]["toolCalls"][0]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["location"], "Florence,Italy");
    assert_eq!(tool["summary"]["totalTokens"], 77);
    assert_eq!(details[3]["reply"]["text"], "Hello, world");
    assert!(details[4]["summary"]["promptTokens"].as_i64().unwrap() > 0, "embedding usage: {}", details[4]);

    // The admin web app, served by the same admin service: the list, then the tool call's detail.
    let browser = Browser::start(&stack.admin()).await;
    browser.open("/admin/requests").await;
    browser.fill("#admin-token", ADMIN_TOKEN).await;
    browser.click("form.panel button[type=submit]").await;
    browser.wait_text(".result-count", "the recorded calls", |t| t == "6 requests").await;
    browser.wait_count("table.requests tbody tr", 6, "six rows").await;
    let previews = browser.client.find_all(fantoccini::Locator::Css("td.preview")).await.unwrap();
    let mut texts = Vec::new();
    for preview in previews {
        texts.push(preview.text().await.unwrap());
    }
    assert!(texts.iter().any(|t| t.contains("Count to three")), "{texts:?}");
    browser.screenshot("stack-requests").await;
    browser.open(&format!("/admin/request/{}", items[3]["id"].as_str().unwrap())).await;
    browser.wait_text(".reply", "the tool call reply", |t| t.contains("weather")).await;
    assert!(browser.text_of(".chat li[data-role=user]").await.contains("Florence"));
    browser.screenshot("stack-request-detail").await;
    drop(browser);

    // No key anywhere it could leak to: the whole database, and every GraphQL answer above.
    let dump = Command::new("mariadb-dump")
        .args(["--protocol=tcp", "-h127.0.0.1", &format!("-P{db_port}"), "-uroot", "tokenslipper"])
        .output()
        .await
        .unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("Say hi in Portuguese"), "the dump holds the conversations");
    let answers = format!("{listed}{details:?}");
    for secret in [UPSTREAM_KEY, CLIENT_KEY, ADMIN_TOKEN] {
        assert!(!dump.contains(secret), "{secret} is in the database");
        assert!(!answers.contains(secret), "{secret} is in a GraphQL answer");
    }

    // The images' HEALTHCHECK commands (Dockerfile) pass against the running services.
    assert!(healthcheck_passes("proxy", "PROXY_PORT", stack.proxy_port), "proxy HEALTHCHECK");
    assert!(healthcheck_passes("admin", "ADMIN_PORT", stack.admin_port), "admin HEALTHCHECK");

    // Ctrl-C: the script stops the services and the MariaDB it started.
    let pid = stack.script.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(60), stack.script.wait()).await;
    let log = std::fs::read_to_string(&stack.log).unwrap();
    let status = status.unwrap_or_else(|_| panic!("run-local.sh did not stop within 60 s of Ctrl-C\n{log}")).unwrap();
    assert_eq!(status.code(), Some(130), "{log}");
    for port in [stack.proxy_port, stack.admin_port, db_port] {
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "port {port} still open\n{log}");
    }
    for secret in [UPSTREAM_KEY, CLIENT_KEY, ADMIN_TOKEN] {
        assert!(!log.contains(secret), "{secret} appeared in the output:\n{log}");
    }
    assert!(!healthcheck_passes("proxy", "PROXY_PORT", stack.proxy_port), "the HEALTHCHECK fails when nothing answers");
    std::fs::remove_dir_all(&workdir).unwrap();
}
