//! Typed reading of environment variables. A value that cannot be used is a [`ConfigError`] that
//! names the variable, which the binaries print as their one line before exiting.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

pub fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

/// The variables a configuration is read from; empty values count as unset.
pub struct Vars<'a>(pub &'a HashMap<String, String>);

impl<'a> Vars<'a> {
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// Loads `.env` from the working directory if there is one; variables already set win.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Err(error) if !error.not_found() => Err(invalid(".env", error.to_string())),
        _ => Ok(()),
    }
}

pub fn parse_bool(variable: &'static str, value: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(variable, format!("{other:?} is not true or false"))),
    }
}

pub fn parse_number<T: std::str::FromStr>(
    variable: &'static str,
    value: Option<&str>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => {
            text.parse().map_err(|_| invalid(variable, format!("{text:?} is not a valid number for this setting")))
        }
    }
}

pub fn parse_positive<T>(variable: &'static str, value: Option<&str>, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    let number = parse_number(variable, value, default)?;
    if number <= T::default() {
        return Err(invalid(variable, "must be greater than zero"));
    }
    Ok(number)
}
