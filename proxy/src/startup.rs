//! Builds the application: binds the listener first (so tests can use port 0 and read the port back),
//! then the pooled upstream client, the lazy database pool and the log writer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use sqlx::MySqlPool;
use tokio::net::TcpListener;
use tower::Service;

use crate::budget_gate::BudgetGate;
use crate::budget_watch::BudgetWatch;
use crate::client_auth::ClientAuth;
use crate::config::Config;
use crate::db;
use crate::log_writer::{LogSender, LogWriter};
use crate::routes;
use crate::self_wake::AbsorbSelfWakes;
use crate::upstream_client::UpstreamClient;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub upstream: UpstreamClient,
    pub log: LogSender,
    pub client_auth: ClientAuth,
    pub pool: MySqlPool,
    pub budgets: BudgetGate,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("PROXY_PORT: cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("cannot build the HTTP client for webhooks: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("LOG_SPOOL_DIR: cannot use {dir}: {source}")]
    Spool { dir: String, source: std::io::Error },
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: LogWriter,
    watcher: tokio::task::JoinHandle<()>,
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
        let webhook_client = crate::upstream::webhook_client()?;
        let spool_dir = config.log_writer.spool_dir.display().to_string();
        let writer = LogWriter::start(pool.clone(), config.log_writer.clone())
            .await
            .map_err(|source| StartupError::Spool { dir: spool_dir, source })?;
        let budgets = BudgetGate::default();
        let watch = BudgetWatch {
            pool: pool.clone(),
            gate: budgets.clone(),
            client: webhook_client,
            interval: config.budget_check_interval,
            log: writer.sender(),
        };
        let watcher = tokio::spawn(watch.run());
        let state = AppState {
            budgets,
            client_auth: ClientAuth::new(config.verify_client_auth, &config.proxy_api_keys),
            upstream: UpstreamClient::new(&config),
            config: Arc::new(config),
            log: writer.sender(),
            pool,
        };
        Ok(Application { listener, state, writer, watcher })
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
    ///
    /// A loop of its own rather than `axum::serve`, for the limits a public endpoint needs: headers
    /// must arrive within `CLIENT_HEADER_TIMEOUT_SECS` (a slow client cannot hold a connection
    /// open for free) and within `MAX_HEADER_BYTES` (larger ones are answered 431).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let header_timeout = self.state.config.client_header_timeout;
        let router = routes::router(self.state);
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).max_buf_size(MAX_HEADER_BYTES);
        builder.http2().timer(TokioTimer::new());
        let connections = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait, rather than spin.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Small SSE writes must leave at once, not wait for Nagle's algorithm.
            let _ = tcp.set_nodelay(true);
            let router = router.clone();
            let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().call(request.map(axum::body::Body::new))
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned();
            let connection = AbsorbSelfWakes::new(connections.watch(connection));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        self.watcher.abort();
        connections.shutdown().await;
        self.writer.shutdown(Duration::from_secs(10)).await;
        Ok(())
    }
}

/// hyper's read buffer, and so the most a request's headers may take (its minimum is 8 KiB).
const MAX_HEADER_BYTES: usize = 64 * 1024;
