//! How the proxy binary refuses to start: one line naming the variable, and a non-zero exit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary and returns its exit code and stderr; a binary that starts after all is killed.
fn run_proxy_with(vars: &[(&str, &str)]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenslipper-proxy"))
        .env_clear()
        .env("PROXY_HOST", "127.0.0.1")
        .env("PROXY_PORT", "0")
        .env("LOG_SPOOL_DIR", crate::helpers::temp_spool_dir())
        .envs(vars.iter().copied())
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (code, stderr)
}

#[test]
fn a_wrong_value_stops_startup_with_one_line_naming_the_variable() {
    for (variable, value) in [
        ("PROXY_PORT", "eighty"),
        ("EXTRA_MODEL_MAPPING", "{\"gpt-4o\": 5}"),
        ("UPSTREAM_BASE_URL", "api.example.com/v1"),
        ("DATABASE_URL", "postgres://nope"),
    ] {
        let (code, stderr) = run_proxy_with(&[(variable, value)]);
        assert_eq!(code, 2, "{variable}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.starts_with(&format!("configuration error: {variable}: ")), "{stderr}");
    }
}

#[test]
fn a_taken_port_stops_startup_naming_proxy_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    let (code, stderr) = run_proxy_with(&[("PROXY_HOST", "127.0.0.1"), ("PROXY_PORT", &port)]);

    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("PROXY_PORT: cannot listen on 127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn a_spool_directory_another_proxy_uses_stops_startup_naming_log_spool_dir() {
    let dir = crate::helpers::temp_spool_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let held = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock")).unwrap();
    held.try_lock().unwrap();

    let (code, stderr) = run_proxy_with(&[("LOG_SPOOL_DIR", dir.to_str().unwrap())]);

    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("LOG_SPOOL_DIR: cannot use {}", dir.display())), "{stderr}");
    assert!(stderr.contains("another running proxy"), "{stderr}");
    drop(held);
    std::fs::remove_dir_all(dir).unwrap();
}
