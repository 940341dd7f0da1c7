//! Builds the admin service: binds the listener first (tests use port 0), then the lazy pool and
//! the schema. The pool connects on first use, so the service starts while MySQL is down.

use std::future::Future;
use std::time::Duration;

use sqlx::mysql::MySqlPoolOptions;
use sqlx::Executor;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::admin_site::AdminSite;
use crate::auth::AdminToken;
use crate::config::Config;
use crate::graphql::build_schema;
use crate::routes::{router, AppState};

#[derive(Debug, thiserror::Error)]
#[error("ADMIN_PORT: cannot listen on {address}: {source}")]
pub struct BindError {
    address: String,
    source: std::io::Error,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    token: AdminToken,
    /// Set when the token was generated here and must be shown once.
    generated_token: Option<String>,
    site: AdminSite,
    config: Config,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, BindError> {
        let pool = pool_options(&config).connect_lazy_with(config.database.clone());
        Self::build_with_pool(config, pool).await
    }

    pub async fn build_with_pool(config: Config, pool: MySqlPool) -> Result<Self, BindError> {
        let address = format!("{}:{}", config.admin_host, config.admin_port);
        let listener = TcpListener::bind(&address).await.map_err(|source| BindError { address, source })?;
        apply_migrations(pool.clone()).await;
        let (token, generated_token) = match &config.admin_token {
            Some(token) => (AdminToken::new(token), None),
            None => {
                let token = AdminToken::generate();
                (AdminToken::new(&token), Some(token))
            }
        };
        let state = AppState { schema: build_schema(pool.clone()), pool, query_timeout: config.query_timeout };
        let site = AdminSite::locate(&config.admin_web_dir);
        if let Some(reason) = site.missing_reason() {
            tracing::warn!("/admin answers 503: {reason}");
        }
        Ok(Application { listener, state, token, generated_token, site, config })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn banner(&self) -> String {
        let port = self.port();
        let token_line = match &self.generated_token {
            Some(token) => format!("{token}  (generated: set ADMIN_TOKEN to keep one across restarts)"),
            None => "from ADMIN_TOKEN".to_string(),
        };
        format!(
            "\n  TokenSlipper admin v{version}\n  \
             ─────────────────────────────────────────────\n  \
             GraphQL:    http://localhost:{port}/graphql  (GraphiQL in a browser)\n  \
             Admin:      http://localhost:{port}/admin{site_note}\n  \
             Database:   {database}\n  \
             Token:      {token_line}\n",
            version = env!("CARGO_PKG_VERSION"),
            database = self.config.database_display,
            site_note = if self.site.missing_reason().is_some() { "  (NOT BUILT: see the log)" } else { "" },
        )
    }

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let app = router(self.state, self.token, &self.site);
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await
    }
}

/// The schema is `migrations/`, applied by whichever service starts first (under a lock, so both
/// at once is safe; see `settings::apply_migrations`): the admin API answers on a fresh database
/// even before the proxy ran.
/// When MySQL is down this retries in the background instead of holding up the start.
async fn apply_migrations(pool: MySqlPool) {
    if let Err(error) = settings::apply_migrations(&pool).await {
        tracing::warn!(%error, "database migrations not applied yet; retrying in the background");
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                tokio::time::sleep(backoff).await;
                match settings::apply_migrations(&pool).await {
                    Ok(()) => return tracing::info!("database migrations applied"),
                    Err(_) => backoff = (backoff * 2).min(Duration::from_secs(30)),
                }
            }
        });
    }
}

/// The admin API's connections: a few, quick to give up when MySQL is away, and set up so that the
/// server stops a query when its GraphQL request has timed out.
pub fn pool_options(config: &Config) -> MySqlPoolOptions {
    let timeout_secs = config.query_timeout.as_secs();
    MySqlPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(3)).after_connect(
        move |connection, _| {
            Box::pin(async move {
                // Each server knows only its own spelling of these and refuses the other's,
                // which is fine, so errors are ignored.
                // Conversations are walked with recursive CTEs, one level a message; MySQL
                // stops those at 1,000 levels by default (MariaDB's limit is far higher).
                let _ = connection.execute("SET SESSION cte_max_recursion_depth = 1000000").await;
                // A GraphQL request that times out drops its query; the server should stop
                // working on it too rather than finish for nobody.
                let _ = connection.execute(format!("SET SESSION max_statement_time = {timeout_secs}").as_str()).await;
                let _ = connection
                    .execute(format!("SET SESSION max_execution_time = {}", timeout_secs * 1000).as_str())
                    .await;
                Ok(())
            })
        },
    )
}
