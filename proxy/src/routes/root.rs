//! `GET /`: what this service is and where to go next.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::startup::AppState;

pub async fn root(State(state): State<AppState>) -> Json<Value> {
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
            "admin": format!("http://<this host>:{}/admin", state.config.admin_port),
        }
    }))
}
