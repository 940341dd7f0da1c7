//! HTTP routes of the proxy.

pub mod forward;
pub mod health;
pub mod metrics;
pub mod models;
pub mod root;
pub mod sse_relay;

use axum::http::{Method, Uri};
use axum::routing::get;
use axum::Router;

use crate::error::ProxyError;
use crate::startup::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root::root))
        .route("/health", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/models", get(models::list_models).fallback(forward::forward))
        .route("/v1/models/{id}", get(models::retrieve_model).fallback(forward::forward))
        // Chat, completions, embeddings and any other `/v1/*` call, whatever the method.
        .route("/v1/{*rest}", axum::routing::any(forward::forward))
        .fallback(unknown_route)
        .with_state(state)
}

async fn unknown_route(method: Method, uri: Uri) -> ProxyError {
    ProxyError::UnknownRoute { method: method.to_string(), path: uri.path().to_string() }
}
