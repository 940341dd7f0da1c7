//! `GET /`: what this service is and where to go next.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

use crate::startup::AppState;

pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    // The admin service runs on the same host as the proxy, on its own port.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .map(|authority| authority.host().to_string())
        .unwrap_or_else(|| "localhost".to_string());
    Json(json!({
        "service": "TokenSlipper proxy",
        "version": env!("CARGO_PKG_VERSION"),
        "upstream_host": state.config.upstream_host(),
        "links": {
            "health": "/health",
            "models": "/v1/models",
            "chat_completions": "/v1/chat/completions",
            "completions": "/v1/completions",
            "embeddings": "/v1/embeddings",
            "admin": format!("http://{host}:{}/admin", state.config.admin_port),
        }
    }))
}
