//! The request list's page, page size and filters, as they live in the URL (`/admin/requests?page=2&size=50&q=retry`),
//! so that a view can be bookmarked and shared.

pub const PAGE_SIZES: [i64; 5] = [10, 20, 50, 100, 200];
pub const DEFAULT_PAGE_SIZE: i64 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    Cancelled,
}

impl Outcome {
    pub fn as_param(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub fn from_param(value: &str) -> Option<Outcome> {
        match value {
            "ok" => Some(Outcome::Ok),
            "error" => Some(Outcome::Error),
            "cancelled" => Some(Outcome::Cancelled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub page: i64,
    pub size: i64,
    pub model: String,
    pub outcome: Option<Outcome>,
    pub stream: Option<bool>,
    /// `YYYY-MM-DD`, a local date, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, a local date, inclusive.
    pub to: String,
    pub search: String,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            page: 1,
            size: DEFAULT_PAGE_SIZE,
            model: String::new(),
            outcome: None,
            stream: None,
            from: String::new(),
            to: String::new(),
            search: String::new(),
        }
    }
}

impl ListQuery {
    /// Reads the URL's parameters; values that make no sense (page 0, size 7, a malformed date)
    /// fall back to the defaults instead of producing an error page.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> ListQuery {
        let text = |key: &str| param(key).map(|v| v.trim().to_owned()).unwrap_or_default();
        let date = |key: &str| Some(text(key)).filter(|d| is_date(d)).unwrap_or_default();
        ListQuery {
            page: text("page").parse::<i64>().ok().filter(|p| *p >= 1).unwrap_or(1),
            size: text("size").parse::<i64>().ok().filter(|s| PAGE_SIZES.contains(s)).unwrap_or(DEFAULT_PAGE_SIZE),
            model: text("model"),
            outcome: Outcome::from_param(&text("outcome")),
            stream: match text("stream").as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            from: date("from"),
            to: date("to"),
            search: text("q"),
        }
    }

    /// `?page=2&size=50&…`, defaults left out; empty when everything is default.
    pub fn to_query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.page != 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if self.size != DEFAULT_PAGE_SIZE {
            pairs.push(("size", self.size.to_string()));
        }
        let texts = [("model", &self.model), ("from", &self.from), ("to", &self.to), ("q", &self.search)];
        for (key, value) in texts {
            if !value.is_empty() {
                pairs.push((key, value.clone()));
            }
        }
        if let Some(outcome) = self.outcome {
            pairs.push(("outcome", outcome.as_param().to_owned()));
        }
        if let Some(stream) = self.stream {
            pairs.push(("stream", stream.to_string()));
        }
        if pairs.is_empty() {
            return String::new();
        }
        let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
        format!("?{}", joined.join("&"))
    }

    /// The same filters on another page.
    pub fn with_page(&self, page: i64) -> ListQuery {
        ListQuery { page: page.max(1), ..self.clone() }
    }

    pub fn has_filters(&self) -> bool {
        let empty = ListQuery { page: self.page, size: self.size, ..ListQuery::default() };
        *self != empty
    }
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, like `encodeURIComponent`.
fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(query: &[(&str, &str)]) -> ListQuery {
        let map: HashMap<String, String> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ListQuery::from_params(|key| map.get(key).cloned())
    }

    #[test]
    fn an_empty_url_is_the_first_page_of_twenty_without_filters() {
        let query = parse(&[]);
        assert_eq!(query, ListQuery::default());
        assert_eq!(query.to_query_string(), "");
        assert!(!query.has_filters());
    }

    #[test]
    fn every_field_survives_a_round_trip_through_the_url() {
        let query = ListQuery {
            page: 3,
            size: 50,
            model: "claude-sonnet-4 / fast".into(),
            outcome: Some(Outcome::Cancelled),
            stream: Some(false),
            from: "2026-11-01".into(),
            to: "2026-11-26".into(),
            search: "retry 超时 & more".into(),
        };
        let url = query.to_query_string();
        assert!(url.starts_with("?page=3&size=50&model=claude-sonnet-4%20%2F%20fast&"), "{url}");
        // Decode the way the router does and read it back.
        let pairs: HashMap<String, String> = url[1..]
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), percent_decode(v))
            })
            .collect();
        assert_eq!(ListQuery::from_params(|key| pairs.get(key).cloned()), query);
        assert!(query.has_filters());
    }

    #[test]
    fn nonsense_values_fall_back_to_defaults() {
        let query =
            parse(&[("page", "0"), ("size", "7"), ("outcome", "maybe"), ("stream", "yes"), ("from", "2026-1-1")]);
        assert_eq!(query, ListQuery::default());
        assert_eq!(parse(&[("page", "-4")]).page, 1);
        assert_eq!(parse(&[("size", "200")]).size, 200);
    }

    #[test]
    fn another_page_keeps_the_filters() {
        let query = parse(&[("q", "timeout"), ("page", "4")]);
        assert_eq!(query.with_page(5).to_query_string(), "?page=5&q=timeout");
        assert_eq!(query.with_page(1).to_query_string(), "?q=timeout");
        assert_eq!(query.with_page(0).page, 1);
    }

    fn percent_decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
