//! The real proxy binary in a process of its own, against a test's fresh database.

use std::process::Stdio;

use sqlx::mysql::MySqlConnectOptions;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

pub struct ProxyProcess {
    child: Child,
    /// The port the proxy bound (it is started on port 0).
    pub port: u16,
    /// What it printed up to its banner's line naming the port.
    banner: String,
    /// The rest of its standard output and its log (standard error), read as they come so that a
    /// long run never blocks on a full pipe.
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl ProxyProcess {
    /// Starts the binary with nothing in its environment but `vars`, `database`, port 0 on the
    /// loopback and a spool of its own, and returns once its banner names the port.
    pub async fn start(database: &MySqlConnectOptions, vars: &[(&str, &str)]) -> ProxyProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenslipper-proxy"))
            .env_clear()
            .env("PROXY_HOST", "127.0.0.1")
            .env("PROXY_PORT", "0")
            .env("LOG_SPOOL_DIR", crate::helpers::temp_spool_dir())
            .env("DB_HOST", database.get_host())
            .env("DB_PORT", database.get_port().to_string())
            .env("DB_USER", database.get_username())
            .env("DB_NAME", database.get_database().unwrap())
            .envs(vars.iter().copied())
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = tokio::spawn(read_to_end(child.stderr.take().unwrap()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let port = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).await.unwrap() == 0 {
                let _ = child.wait().await;
                panic!("the proxy exited early: {banner}{}", stderr.await.unwrap());
            }
            banner.push_str(&line);
            if let Some(rest) = line.split("Proxy:").nth(1) {
                break rest.trim().split(':').nth(2).unwrap().split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        let stdout = tokio::spawn(read_to_end(stdout));
        ProxyProcess { child, port, banner, stdout, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Stops the proxy with SIGTERM (it drains its log queue first), checks that it exited cleanly,
    /// and returns everything it printed: its standard output, then its log (standard error).
    pub async fn stop(mut self) -> String {
        let pid = self.pid().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().await.unwrap();
        let output = self.banner + &self.stdout.await.unwrap() + &self.stderr.await.unwrap();
        assert!(status.success(), "clean exit on SIGTERM: {status}\n{output}");
        output
    }
}

async fn read_to_end(mut from: impl AsyncRead + Unpin) -> String {
    let mut text = String::new();
    from.read_to_string(&mut text).await.unwrap();
    text
}
