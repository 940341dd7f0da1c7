//! The header rules for what is passed on to and from the upstream API (the client that talks to it
//! is `upstream_client`), and the HTTP client budget webhooks are sent with.

use axum::http::{header, HeaderMap, HeaderName};

/// For budget alerts (`budget_watch`); each send sets its own timeout.
pub fn webhook_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10)).build()
}

/// Headers that describe one hop, or that the proxy sets itself, and so are never copied across.
fn is_hop_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// The client's headers as the upstream should see them: its credentials replaced by the
/// upstream key, hop-by-hop headers and compression requests dropped.
pub fn request_headers(client: &HeaderMap, upstream_api_key: &str) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(client.len());
    for (name, value) in client {
        if is_hop_header(name)
            || name == header::AUTHORIZATION
            || name == "x-api-key"
            || name == header::ACCEPT_ENCODING
        {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    if !upstream_api_key.is_empty() {
        if let Ok(mut value) = format!("Bearer {upstream_api_key}").parse::<axum::http::HeaderValue>() {
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    headers
}

/// The upstream's response headers as the client should see them.
pub fn response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        if !is_hop_header(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}
