//! The admin binary itself: one-line configuration errors, and a generated token shown once in the
//! banner that then opens the API.

use std::process::Stdio;

use serde_json::json;
use sqlx::mysql::MySqlConnectOptions;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn admin_binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokenslipper-admin"));
    command.env_clear().current_dir(std::env::temp_dir()).kill_on_drop(true);
    command
}

#[tokio::test]
async fn a_wrong_value_stops_startup_with_one_line_naming_the_variable() {
    for (variable, value) in [("ADMIN_PORT", "http"), ("ADMIN_TOKEN", "short"), ("DB_PORT", "-1")] {
        let output = admin_binary().env(variable, value).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(&format!("configuration error: {variable}: ")), "{stderr}");
    }
}

#[sqlx::test(migrations = false)]
async fn without_admin_token_a_generated_one_is_printed_once_and_opens_the_api(
    _: sqlx::mysql::MySqlPoolOptions,
    database: MySqlConnectOptions,
) {
    let mut admin = admin_binary()
        .env("ADMIN_HOST", "127.0.0.1")
        .env("ADMIN_PORT", "0")
        .env("DB_HOST", database.get_host())
        .env("DB_PORT", database.get_port().to_string())
        .env("DB_USER", database.get_username())
        .env("DB_NAME", database.get_database().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(admin.stdout.take().unwrap()).lines();
    let (mut port, mut token) = (None, None);
    while port.is_none() || token.is_none() {
        let line = lines.next_line().await.unwrap().expect("the banner");
        if let Some(rest) = line.split("GraphQL:").nth(1) {
            port = rest.trim().split(':').nth(2).and_then(|p| p.split('/').next()).map(String::from);
        }
        if let Some(rest) = line.split("Token:").nth(1) {
            token = rest.split_whitespace().next().map(String::from);
        }
    }
    let (port, token) = (port.unwrap(), token.unwrap());
    assert_eq!(token.len(), 64, "{token}");

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let query = json!({"query": "{ __typename }"});
    let without = client.post(&url).json(&query).send().await.unwrap();
    assert_eq!(without.status(), 401);
    let with: serde_json::Value =
        client.post(&url).bearer_auth(&token).json(&query).send().await.unwrap().json().await.unwrap();
    assert_eq!(with["data"]["__typename"], "Query");
    admin.kill().await.unwrap();
}
