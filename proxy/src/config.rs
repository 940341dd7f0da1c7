//! Configuration: read once at startup from the environment (and an optional `.env` file), validated whole,
//! so a wrong value stops the process with one line that names the variable.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use settings::{database_options, invalid, parse_bool, parse_number, parse_positive, Vars};
use sqlx::mysql::MySqlConnectOptions;

use crate::model_mapping::ModelMapping;

pub use settings::ConfigError;

#[derive(Clone)]
pub struct Config {
    pub proxy_host: String,
    pub proxy_port: u16,
    pub admin_port: u16,
    /// Base URL including the version prefix, e.g. `https://api.anthropic.com/v1`, without a trailing slash.
    pub upstream_base_url: reqwest::Url,
    pub upstream_api_key: String,
    pub upstream_connect_timeout: Duration,
    /// Longest wait for the next byte from the upstream (first byte included) before the call fails with 504.
    pub upstream_idle_timeout: Duration,
    pub verify_client_auth: bool,
    pub proxy_api_keys: Vec<String>,
    pub log_level: String,
    pub model_mapping: ModelMapping,
    pub database: MySqlConnectOptions,
    /// Where the database lives, without credentials, for the banner and the log.
    pub database_display: String,
    pub max_body_bytes: usize,
    /// Longest a client may take to send a request's headers; slower connections are closed.
    pub client_header_timeout: Duration,
    pub log_writer: LogWriterConfig,
    /// How often budgets are re-read and their usage summed (hard limits and alerts follow within it).
    pub budget_check_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct LogWriterConfig {
    /// Where records wait on disk until MySQL holds them (see `spool`).
    pub spool_dir: std::path::PathBuf,
    pub queue_capacity: usize,
    pub batch_max_rows: usize,
    pub batch_max_bytes: usize,
    /// How long a record may wait in memory before the spool is flushed and the store thread takes
    /// it. Short, so that the writer's work and MariaDB's arrive as a trickle of small batches
    /// rather than bursts that delay the requests they land on: 2 ms instead of 10 cut the logged
    /// proxy's added p99 at c=1 by about a third (BENCHMARKS.md). Under load batches still fill to
    /// `batch_max_rows` while the store thread is busy, and MySQL sees at most 500 commits a second.
    pub flush_interval: Duration,
    /// `LOG_REQUESTS=false` records nothing (only `/metrics` counts); for measuring what logging costs.
    pub enabled: bool,
}

// Keys must never reach a log line, so Debug is written by hand.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("proxy_host", &self.proxy_host)
            .field("proxy_port", &self.proxy_port)
            .field("admin_port", &self.admin_port)
            .field("upstream_base_url", &self.upstream_base_url.as_str())
            .field("upstream_api_key", &"<redacted>")
            .field("verify_client_auth", &self.verify_client_auth)
            .field("proxy_api_keys", &format!("<{} redacted>", self.proxy_api_keys.len()))
            .field("database", &self.database_display)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("client_header_timeout", &self.client_header_timeout)
            .field("budget_check_interval", &self.budget_check_interval)
            .field("log_writer", &self.log_writer)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads `.env` (variables already set in the environment win), then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        settings::load_dotenv()?;
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars(vars);
        let get = |name: &str| vars.get(name);

        let upstream_base_url = parse_base_url(get("UPSTREAM_BASE_URL").unwrap_or("https://api.anthropic.com/v1"))?;
        let verify_client_auth = parse_bool("VERIFY_CLIENT_AUTH", get("VERIFY_CLIENT_AUTH"), false)?;
        let proxy_api_keys: Vec<String> = get("PROXY_API_KEYS")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(String::from)
            .collect();
        if verify_client_auth && proxy_api_keys.is_empty() {
            return Err(invalid(
                "PROXY_API_KEYS",
                "VERIFY_CLIENT_AUTH is true but no client keys are configured (comma-separated list)",
            ));
        }
        let log_level = get("LOG_LEVEL").unwrap_or("info").to_ascii_lowercase();
        if !["trace", "debug", "info", "warn", "error"].contains(&log_level.as_str()) {
            return Err(invalid("LOG_LEVEL", format!("{log_level:?} is not one of trace, debug, info, warn, error")));
        }
        let extra_mapping = match get("EXTRA_MODEL_MAPPING") {
            None => BTreeMap::new(),
            Some(text) => serde_json::from_str::<BTreeMap<String, String>>(text).map_err(|e| {
                invalid(
                    "EXTRA_MODEL_MAPPING",
                    format!("must be a JSON object of client model to upstream model names: {e}"),
                )
            })?,
        };
        let database = database_options(&vars)?;

        Ok(Config {
            proxy_host: get("PROXY_HOST").unwrap_or("0.0.0.0").to_string(),
            proxy_port: parse_number("PROXY_PORT", get("PROXY_PORT"), 8000)?,
            admin_port: parse_number("ADMIN_PORT", get("ADMIN_PORT"), 8080)?,
            upstream_base_url,
            upstream_api_key: get("UPSTREAM_API_KEY").unwrap_or("").to_string(),
            upstream_connect_timeout: Duration::from_secs(parse_positive(
                "UPSTREAM_CONNECT_TIMEOUT_SECS",
                get("UPSTREAM_CONNECT_TIMEOUT_SECS"),
                10,
            )?),
            upstream_idle_timeout: Duration::from_secs(parse_positive(
                "UPSTREAM_IDLE_TIMEOUT_SECS",
                get("UPSTREAM_IDLE_TIMEOUT_SECS"),
                300,
            )?),
            verify_client_auth,
            proxy_api_keys,
            log_level,
            model_mapping: ModelMapping::with_defaults_and(extra_mapping),
            database: database.options,
            database_display: database.display,
            max_body_bytes: parse_positive("MAX_BODY_BYTES", get("MAX_BODY_BYTES"), 32 * 1024 * 1024)?,
            client_header_timeout: Duration::from_secs(parse_positive(
                "CLIENT_HEADER_TIMEOUT_SECS",
                get("CLIENT_HEADER_TIMEOUT_SECS"),
                30,
            )?),
            budget_check_interval: Duration::from_millis(parse_positive(
                "BUDGET_CHECK_INTERVAL_MS",
                get("BUDGET_CHECK_INTERVAL_MS"),
                2_000,
            )?),
            log_writer: LogWriterConfig {
                spool_dir: get("LOG_SPOOL_DIR").unwrap_or("spool").into(),
                queue_capacity: parse_positive("LOG_QUEUE_CAPACITY", get("LOG_QUEUE_CAPACITY"), 10_000)?,
                batch_max_rows: parse_positive("LOG_BATCH_MAX_ROWS", get("LOG_BATCH_MAX_ROWS"), 1_000)?,
                batch_max_bytes: parse_positive("LOG_BATCH_MAX_BYTES", get("LOG_BATCH_MAX_BYTES"), 4 * 1024 * 1024)?,
                flush_interval: Duration::from_millis(parse_positive(
                    "LOG_FLUSH_INTERVAL_MS",
                    get("LOG_FLUSH_INTERVAL_MS"),
                    2,
                )?),
                enabled: parse_bool("LOG_REQUESTS", get("LOG_REQUESTS"), true)?,
            },
        })
    }

    pub fn upstream_host(&self) -> String {
        let host = self.upstream_base_url.host_str().unwrap_or("");
        match self.upstream_base_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}

fn parse_base_url(text: &str) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(text.trim_end_matches('/'))
        .map_err(|e| invalid("UPSTREAM_BASE_URL", format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("UPSTREAM_BASE_URL", format!("{text:?} must be an http:// or https:// URL with a host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("UPSTREAM_BASE_URL", "must not carry a query string or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(config.proxy_port, 8000);
        assert_eq!(config.admin_port, 8080);
        assert_eq!(config.upstream_base_url.as_str(), "https://api.anthropic.com/v1");
        assert!(!config.verify_client_auth);
        assert_eq!(config.database_display, "mysql://127.0.0.1:3306/tokenslipper");
    }

    #[test]
    fn a_bad_port_names_the_variable() {
        let error = Config::from_vars(&vars(&[("PROXY_PORT", "80000")])).unwrap_err();
        assert_eq!(error.variable, "PROXY_PORT");
        assert!(error.to_string().starts_with("PROXY_PORT: "), "{error}");
    }

    #[test]
    fn invalid_mapping_json_names_the_variable() {
        let error = Config::from_vars(&vars(&[("EXTRA_MODEL_MAPPING", "{gpt: 1}")])).unwrap_err();
        assert_eq!(error.variable, "EXTRA_MODEL_MAPPING");
    }

    #[test]
    fn malformed_upstream_url_names_the_variable() {
        for bad in ["not a url", "ftp://example.com/v1", "http://"] {
            let error = Config::from_vars(&vars(&[("UPSTREAM_BASE_URL", bad)])).unwrap_err();
            assert_eq!(error.variable, "UPSTREAM_BASE_URL", "{bad}");
        }
    }

    #[test]
    fn client_auth_without_keys_is_refused() {
        let error = Config::from_vars(&vars(&[("VERIFY_CLIENT_AUTH", "true")])).unwrap_err();
        assert_eq!(error.variable, "PROXY_API_KEYS");
    }

    #[test]
    fn debug_output_never_shows_keys_or_passwords() {
        let config = Config::from_vars(&vars(&[
            ("UPSTREAM_API_KEY", "sk-upstream-secret"),
            ("VERIFY_CLIENT_AUTH", "true"),
            ("PROXY_API_KEYS", "sk-client-secret"),
            ("DATABASE_URL", "mysql://u:db-secret@db:3307/x"),
        ]))
        .unwrap();
        let text = format!("{config:?}");
        for secret in ["sk-upstream-secret", "sk-client-secret", "db-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("mysql://db:3307/x"));
    }
}

#[cfg(test)]
mod example_file_tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../.env.example");

    fn example_vars() -> HashMap<String, String> {
        EXAMPLE
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
            .map(|l| l.split_once('=').unwrap())
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    }

    #[test]
    fn the_committed_env_example_is_a_valid_configuration() {
        Config::from_vars(&example_vars()).unwrap();
    }

    #[test]
    fn every_variable_in_the_env_example_is_read_by_a_configuration() {
        let source = [
            include_str!("config.rs"),
            include_str!("../../settings/src/database.rs"),
            include_str!("../../admin-api/src/config.rs"),
        ]
        .concat();
        for key in example_vars().keys() {
            assert!(source.contains(&format!("\"{key}\"")), "{key} is documented but never read");
        }
    }
}
