//! The processes a run starts: the mock upstream and the paths to it — direct, the reference proxy,
//! TokenSlipper with and without logging, LiteLLM — each on a free loopback port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Direct,
    Reference,
    Logged,
    Unlogged,
    LiteLlm,
    /// Not a path to the mock: the admin API the storage check reads through.
    AdminApi,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Reference => "reference",
            Kind::Logged => "TokenSlipper",
            Kind::Unlogged => "TokenSlipper, no log",
            Kind::LiteLlm => "LiteLLM",
            Kind::AdminApi => "admin API",
        }
    }
}

pub struct Contender {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub authorization: Option<String>,
    /// None for the direct path: there is no process in between.
    pub pid: Option<u32>,
    _child: Option<Child>,
}

/// Where a run keeps its children's output, spools and configuration.
pub struct Workspace {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    pub proxy_threads: Option<usize>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Workspace {
    fn log_file(&self, name: &str) -> std::io::Result<Stdio> {
        Ok(std::fs::File::create(self.dir.join(format!("{name}.log")))?.into())
    }

    fn spawn(&self, name: &str, mut command: Command) -> Result<Child, String> {
        command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(self.log_file(name).map_err(|e| e.to_string())?)
            .stderr(self.log_file(&format!("{name}.err")).map_err(|e| e.to_string())?)
            .kill_on_drop(true);
        command.spawn().map_err(|e| format!("cannot start {name}: {e}"))
    }

    pub fn own_exe(&self, name: &str) -> Result<PathBuf, String> {
        let path = self.bin_dir.join(name);
        if path.exists() {
            Ok(path)
        } else {
            Err(format!(
                "{} is missing: build it first (`cargo build --release -p proxy -p admin-api -p bench`)",
                path.display()
            ))
        }
    }

    /// The mock upstream; as a contender it is the direct path.
    pub async fn mock_upstream(&self) -> Result<Contender, String> {
        let port = free_port();
        let mut command = Command::new(self.own_exe("bench")?);
        command.args(["mock-upstream", "--port", &port.to_string()]);
        let child = self.spawn("mock-upstream", command)?;
        Contender::started(Kind::Direct, loopback(port), child, false).await
    }

    pub async fn reference(&self, upstream: SocketAddr) -> Result<Contender, String> {
        let port = free_port();
        let mut command = Command::new(self.own_exe("bench")?);
        command.args(["reference-proxy", "--port", &port.to_string(), "--upstream", &format!("http://{upstream}")]);
        self.runtime_environment(&mut command);
        let child = self.spawn("reference-proxy", command)?;
        Contender::started(Kind::Reference, loopback(port), child, true).await
    }

    /// TokenSlipper logging into `database_url` (which must exist), or with logging off.
    pub async fn tokenslipper(
        &self,
        upstream: SocketAddr,
        database_url: &str,
        logged: bool,
    ) -> Result<Contender, String> {
        let port = free_port();
        let name = if logged { "tokenslipper" } else { "tokenslipper-unlogged" };
        // One spool per process: a run may start several logging proxies, one after the other or at once.
        let spool = self.dir.join(format!("{name}-{port}-spool"));
        let mut command = Command::new(self.own_exe("tokenslipper-proxy")?);
        command
            .env("PROXY_HOST", "127.0.0.1")
            .env("PROXY_PORT", port.to_string())
            .env("UPSTREAM_BASE_URL", format!("http://{upstream}/v1"))
            .env("UPSTREAM_API_KEY", "sk-bench-upstream")
            .env("DATABASE_URL", database_url)
            .env("LOG_SPOOL_DIR", &spool)
            .env("LOG_LEVEL", "warn")
            .env("LOG_REQUESTS", if logged { "true" } else { "false" })
            // As TokenSlipper's Docker image and `scripts/run-local.sh` set it, unless the run sets
            // another value to measure it.
            .env("MIMALLOC_PURGE_DELAY", std::env::var("MIMALLOC_PURGE_DELAY").unwrap_or_else(|_| "10".into()))
            .env_remove("RUST_LOG");
        self.runtime_environment(&mut command);
        let child = self.spawn(name, command)?;
        let kind = if logged { Kind::Logged } else { Kind::Unlogged };
        Contender::started(kind, loopback(port), child, true).await
    }

    /// The admin API over `database_url`, for reading the logged requests back.
    pub async fn admin_api(&self, database_url: &str, token: &str) -> Result<Contender, String> {
        let port = free_port();
        let mut command = Command::new(self.own_exe("tokenslipper-admin")?);
        command
            .env("ADMIN_HOST", "127.0.0.1")
            .env("ADMIN_PORT", port.to_string())
            .env("ADMIN_TOKEN", token)
            .env("DATABASE_URL", database_url)
            .env("LOG_LEVEL", "warn")
            .env_remove("RUST_LOG");
        let child = self.spawn("admin-api", command)?;
        Contender::started(Kind::AdminApi, loopback(port), child, false).await
    }

    /// LiteLLM's proxy, one worker, no database, every model routed to the mock as an OpenAI API.
    pub async fn litellm(&self, program: &Path, upstream: SocketAddr) -> Result<Contender, String> {
        let port = free_port();
        let config = self.dir.join("litellm.yaml");
        let master_key = "sk-bench-litellm-master";
        std::fs::write(
            &config,
            format!(
                "model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: \"openai/*\"\n      \
                 api_base: \"http://{upstream}/v1\"\n      api_key: \"sk-bench-upstream\"\n\
                 general_settings:\n  master_key: \"{master_key}\"\n\
                 litellm_settings:\n  telemetry: false\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut command = Command::new(program);
        command
            .args(["--config", &config.display().to_string(), "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--num_workers", "1"])
            .env_remove("DATABASE_URL")
            .env("LITELLM_LOG", "ERROR")
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env("NO_DOCS", "True");
        let child = self.spawn("litellm", command)?;
        let mut contender = Contender::started(Kind::LiteLlm, loopback(port), child, true).await?;
        contender.authorization = Some(format!("Bearer {master_key}"));
        Ok(contender)
    }

    /// The reference and TokenSlipper run alike: two malloc arenas, as TokenSlipper's Docker image
    /// and `scripts/run-local.sh` set (glibc's default of one per thread adds 10–15 MB under load;
    /// the reference allocates with glibc, TokenSlipper's proxy with mimalloc, which ignores it),
    /// and the runtime's worker threads when `--proxy-threads` asks for a number.
    fn runtime_environment(&self, command: &mut Command) {
        command.env("MALLOC_ARENA_MAX", "2");
        if let Some(threads) = self.proxy_threads {
            command.env("TOKIO_WORKER_THREADS", threads.to_string());
        }
    }
}

impl Contender {
    /// Waits until the port takes connections (LiteLLM needs many seconds to import itself).
    async fn started(kind: Kind, addr: SocketAddr, mut child: Child, keep_pid: bool) -> Result<Contender, String> {
        let began = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{} exited at start ({status}); see its log in the run's directory", kind.label()));
            }
            if began.elapsed() > Duration::from_secs(180) {
                return Err(format!("{} did not open {addr} within 180 s", kind.label()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pid = if keep_pid { child.id() } else { None };
        Ok(Contender { kind, addr, authorization: None, pid, _child: Some(child) })
    }
}
