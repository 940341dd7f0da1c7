//! Builds the application: binds the listener first (so tests can use port 0 and read the port back),
//! then the pooled upstream client, the lazy database pool and the log writer.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::client_auth::ClientAuth;
use crate::config::Config;
use crate::db;
use crate::log_writer::{LogSender, LogWriter};
use crate::routes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub http_client: reqwest::Client,
    pub log: LogSender,
    pub client_auth: ClientAuth,
    pub pool: MySqlPool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("PROXY_PORT: cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("UPSTREAM_BASE_URL: cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("LOG_SPOOL_DIR: cannot use {dir}: {source}")]
    Spool { dir: String, source: std::io::Error },
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: LogWriter,
}

impl Application {
    /// Builds against the database in `config`. The pool connects lazily: MySQL may be down.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let pool = db::lazy_pool(config.database.clone());
        Self::build_with_pool(config, pool).await
    }

    pub async fn build_with_pool(config: Config, pool: MySqlPool) -> Result<Self, StartupError> {
        let address = format!("{}:{}", config.proxy_host, config.proxy_port);
        let listener = TcpListener::bind(&address).await.map_err(|source| StartupError::Bind { address, source })?;
        let http_client = crate::upstream::build_client(&config)?;
        let spool_dir = config.log_writer.spool_dir.display().to_string();
        let writer = LogWriter::start(pool.clone(), config.log_writer.clone())
            .await
            .map_err(|source| StartupError::Spool { dir: spool_dir, source })?;
        let state = AppState {
            client_auth: ClientAuth::new(config.verify_client_auth, &config.proxy_api_keys),
            config: Arc::new(config),
            http_client,
            log: writer.sender(),
            pool,
        };
        Ok(Application { listener, state, writer })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn log_sender(&self) -> LogSender {
        self.state.log.clone()
    }

    pub fn banner(&self) -> String {
        let config = &self.state.config;
        let port = self.port();
        format!(
            "\n  TokenSlipper proxy v{version}\n  \
             ─────────────────────────────────────────────\n  \
             Proxy:      http://{host}:{port}  (OpenAI base URL: http://localhost:{port}/v1)\n  \
             Upstream:   {upstream}\n  \
             Admin:      http://localhost:{admin}/admin\n  \
             Database:   {database}\n  \
             Clients:    {auth}\n",
            version = env!("CARGO_PKG_VERSION"),
            host = config.proxy_host,
            upstream = config.upstream_base_url,
            admin = config.admin_port,
            database = config.database_display,
            auth = if config.verify_client_auth { "required (PROXY_API_KEYS)" } else { "off (any key accepted)" },
        )
    }

    /// Serves until `shutdown` resolves, lets open requests finish, then drains the log queue.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let listener = self.listener.tap_io(|tcp| {
            // Small SSE writes must leave at once, not wait for Nagle's algorithm.
            let _ = tcp.set_nodelay(true);
        });
        let app = routes::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        self.writer.shutdown(Duration::from_secs(10)).await;
        served
    }
}
