//! `GET /metrics`: Prometheus text format (see `crate::metrics`). Unauthenticated, like `/health`:
//! it carries model names, counts and costs, no content; bind the proxy where scrapers may reach it.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::startup::AppState;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.log.render_metrics())
}
