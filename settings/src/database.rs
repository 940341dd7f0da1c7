//! The MySQL connection: `DATABASE_URL`, or the `DB_*` set (built from parts, so a password needs
//! no URL escaping). The display form has no credentials and is safe to log.

use sqlx::mysql::MySqlConnectOptions;

use crate::values::{invalid, parse_number, ConfigError, Vars};

#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    pub options: MySqlConnectOptions,
    /// `mysql://host:port/name`, without user or password.
    pub display: String,
}

pub fn database_options(vars: &Vars) -> Result<DatabaseSettings, ConfigError> {
    if let Some(url) = vars.get("DATABASE_URL") {
        if !(url.starts_with("mysql://") || url.starts_with("mariadb://")) {
            return Err(invalid("DATABASE_URL", "must start with mysql:// (or mariadb://)"));
        }
        let options: MySqlConnectOptions = url
            .parse()
            .map_err(|e| invalid("DATABASE_URL", format!("not a mysql:// URL: {}", redact_url_error(e, url))))?;
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid("DATABASE_URL", e.to_string()))?;
        let display = format!(
            "mysql://{}:{}{}",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(3306),
            parsed.path()
        );
        return Ok(DatabaseSettings { options, display });
    }
    let host = vars.get("DB_HOST").unwrap_or("127.0.0.1");
    let port: u16 = parse_number("DB_PORT", vars.get("DB_PORT"), 3306)?;
    let user = vars.get("DB_USER").unwrap_or("root");
    let name = vars.get("DB_NAME").unwrap_or("tokenslipper");
    let mut options = MySqlConnectOptions::new().host(host).port(port).username(user).database(name);
    if let Some(password) = vars.get("DB_PASSWORD") {
        options = options.password(password);
    }
    Ok(DatabaseSettings { options, display: format!("mysql://{host}:{port}/{name}") })
}

// sqlx's parse errors can quote the URL, password included; never pass that on.
fn redact_url_error(error: sqlx::Error, url: &str) -> String {
    let text = error.to_string();
    match reqwest::Url::parse(url).ok().and_then(|u| u.password().map(String::from)) {
        Some(password) if !password.is_empty() => text.replace(&password, "<redacted>"),
        _ => text,
    }
}
