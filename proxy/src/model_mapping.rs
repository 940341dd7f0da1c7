//! Client model names → upstream model names. Names without an entry pass through unchanged.

use std::collections::BTreeMap;

/// The mapping of the original design; `EXTRA_MODEL_MAPPING` entries override these.
pub const DEFAULT_MAPPING: [(&str, &str); 4] = [
    ("gpt-4o", "claude-3-5-sonnet-20241022"),
    ("gpt-4o-mini", "claude-3-5-haiku-20241022"),
    ("gpt-4", "claude-3-opus-20240229"),
    ("gpt-4-turbo", "claude-3-opus-20240229"),
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelMapping {
    entries: BTreeMap<String, String>,
}

impl ModelMapping {
    pub fn with_defaults_and(extra: BTreeMap<String, String>) -> Self {
        let mut entries: BTreeMap<String, String> =
            DEFAULT_MAPPING.iter().map(|(from, to)| (from.to_string(), to.to_string())).collect();
        entries.extend(extra);
        ModelMapping { entries }
    }

    /// The upstream name for `client_model`; the same name when it is not mapped.
    pub fn upstream_name<'a>(&'a self, client_model: &'a str) -> &'a str {
        self.entries.get(client_model).map(String::as_str).unwrap_or(client_model)
    }

    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(from, to)| (from.as_str(), to.as_str()))
    }

    pub fn is_alias(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_entries_override_defaults_and_unknown_names_pass_through() {
        let extra = BTreeMap::from([
            ("gpt-4o".to_string(), "claude-sonnet-4-20250514".to_string()),
            ("fast".to_string(), "claude-3-5-haiku-20241022".to_string()),
        ]);
        let mapping = ModelMapping::with_defaults_and(extra);
        assert_eq!(mapping.upstream_name("gpt-4o"), "claude-sonnet-4-20250514");
        assert_eq!(mapping.upstream_name("gpt-4"), "claude-3-opus-20240229");
        assert_eq!(mapping.upstream_name("fast"), "claude-3-5-haiku-20241022");
        assert_eq!(mapping.upstream_name("claude-opus-4-1"), "claude-opus-4-1");
    }
}
