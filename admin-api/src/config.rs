//! The admin service's configuration: same conventions as the proxy (environment, then `.env`;
//! one line naming the variable when a value is wrong).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use settings::{database_options, invalid, parse_number, parse_positive, ConfigError, Vars};
use sqlx::mysql::MySqlConnectOptions;

#[derive(Clone)]
pub struct Config {
    pub admin_host: String,
    pub admin_port: u16,
    /// `None` when `ADMIN_TOKEN` is unset: a random token is made at startup.
    pub admin_token: Option<String>,
    pub log_level: String,
    pub database: MySqlConnectOptions,
    pub database_display: String,
    /// Longest a GraphQL request may run before it is answered with a `TIMEOUT` error.
    pub query_timeout: Duration,
    /// The built admin SPA (`trunk build` output), served at `/admin`.
    pub admin_web_dir: PathBuf,
}

// The token must never reach a log line.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("admin_host", &self.admin_host)
            .field("admin_port", &self.admin_port)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database_display)
            .field("query_timeout", &self.query_timeout)
            .field("admin_web_dir", &self.admin_web_dir)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        settings::load_dotenv()?;
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars(vars);
        let log_level = vars.get("LOG_LEVEL").unwrap_or("info").to_ascii_lowercase();
        if !["trace", "debug", "info", "warn", "error"].contains(&log_level.as_str()) {
            return Err(invalid("LOG_LEVEL", format!("{log_level:?} is not one of trace, debug, info, warn, error")));
        }
        let admin_token = vars.get("ADMIN_TOKEN").map(String::from);
        if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(invalid("ADMIN_TOKEN", "must be at least 16 characters (or unset, to get a random one)"));
        }
        let database = database_options(&vars)?;
        Ok(Config {
            admin_host: vars.get("ADMIN_HOST").unwrap_or("0.0.0.0").to_string(),
            admin_port: parse_number("ADMIN_PORT", vars.get("ADMIN_PORT"), 8080)?,
            admin_token,
            log_level,
            database: database.options,
            database_display: database.display,
            query_timeout: Duration::from_secs(parse_positive(
                "ADMIN_QUERY_TIMEOUT_SECS",
                vars.get("ADMIN_QUERY_TIMEOUT_SECS"),
                10,
            )?),
            admin_web_dir: PathBuf::from(vars.get("ADMIN_WEB_DIR").unwrap_or("admin-web/dist")),
        })
    }
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
        assert_eq!(config.admin_port, 8080);
        assert_eq!(config.admin_token, None);
    }

    #[test]
    fn wrong_values_name_their_variable() {
        for (variable, value) in [("ADMIN_PORT", "http"), ("ADMIN_TOKEN", "short"), ("ADMIN_QUERY_TIMEOUT_SECS", "0")] {
            let error = Config::from_vars(&vars(&[(variable, value)])).unwrap_err();
            assert_eq!(error.variable, variable);
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = Config::from_vars(&vars(&[("ADMIN_TOKEN", "admin-token-secret-123")])).unwrap();
        assert!(!format!("{config:?}").contains("admin-token-secret-123"));
    }
}

#[cfg(test)]
mod example_file_tests {
    #[test]
    fn the_committed_env_example_is_a_valid_admin_configuration() {
        let vars = include_str!("../../.env.example")
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        super::Config::from_vars(&vars).unwrap();
    }
}
