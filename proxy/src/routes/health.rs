//! `GET /health`: 200 when MySQL answers and the log writer keeps up, 503 with the reasons otherwise.
//! `log_writer.spooled` is how many records wait on disk for MySQL.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::startup::AppState;

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&state.pool)).await;
    let database_reachable = matches!(database, Ok(Ok(_)));
    let writer = state.log.status();

    let mut reasons = Vec::new();
    if !database_reachable {
        reasons.push("database unreachable".to_string());
    }
    if !writer.migrations_applied {
        reasons.push("database migrations not applied yet".to_string());
    }
    if writer.falling_behind {
        reasons.push(format!(
            "log writer falling behind ({} waiting in the spool, {} of {} queued, {} dropped)",
            writer.spooled, writer.queued, writer.queue_capacity, writer.dropped
        ));
    }
    let status = if reasons.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if reasons.is_empty() { "ok" } else { "degraded" },
        "reasons": reasons,
        "database": if database_reachable { "reachable" } else { "unreachable" },
        "log_writer": writer,
    });
    (status, Json(body))
}
