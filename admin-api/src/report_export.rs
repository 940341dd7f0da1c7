//! Cost reports and the price table over plain HTTP, for spreadsheets, BI tools and scripts:
//! `GET /api/reports/{cost,top-requests,top-conversations}` as CSV or JSON, `GET /api/prices` and
//! `POST /api/prices` (import). Same data as the GraphQL fields of the same names, same admin token.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::db::prices;
use crate::graphql::cost_types::{CostGrouping, CostReportRow, ModelPrice, PriceInput};
use crate::graphql::mutation;
use crate::graphql::types::{RequestSummary, TimeRange};
use crate::reports;
use crate::routes::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reports/cost", get(cost))
        .route("/api/reports/top-requests", get(top_requests))
        .route("/api/reports/top-conversations", get(top_conversations))
        .route("/api/prices", get(export_prices).post(import_prices))
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportParams {
    group_by: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i32>,
    #[serde(default)]
    format: Format,
}

fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": message.into(), "code": "BAD_USER_INPUT"}})))
        .into_response()
}

fn internal(cause: impl std::fmt::Display) -> Response {
    tracing::error!(%cause, "report failed");
    let body = json!({"error": {"message": "Internal error; see the admin service's log.", "code": "INTERNAL"}});
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// Parameter errors are messages; the handlers turn them into a 400.
fn window(params: &ReportParams) -> Result<crate::time_window::Window, String> {
    let range = Some(TimeRange { from: params.from, to: params.to }).filter(|r| r.from.is_some() || r.to.is_some());
    crate::graphql::query::window(range).map_err(|e| e.message)
}

fn limit(params: &ReportParams) -> Result<i32, String> {
    match params.limit.unwrap_or(10) {
        n @ 1..=reports::MAX_TOP => Ok(n),
        n => Err(format!("limit must be from 1 to {} (got {n})", reports::MAX_TOP)),
    }
}

/// Runs a report within the per-request timeout.
async fn timed<T>(state: &AppState, work: impl std::future::Future<Output = sqlx::Result<T>>) -> Result<T, Response> {
    match tokio::time::timeout(state.query_timeout, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(internal(error)),
        Err(_) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {"message": "The report took too long and was stopped.", "code": "TIMEOUT"}})),
        )
            .into_response()),
    }
}

fn csv_response(name: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut text = csv_line(header_row.iter().map(|h| h.to_string()));
    for row in rows {
        text.push_str(&csv_line(row));
    }
    let disposition = format!("attachment; filename=\"tokenslipper-{name}.csv\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], text)
        .into_response()
}

/// One RFC 4180 line. Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first)
/// gets a leading apostrophe: model names and previews come from clients.
fn csv_line(cells: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = cells
        .into_iter()
        .map(|cell| {
            let cell = if cell.starts_with(['=', '+', '-', '@']) && cell.parse::<f64>().is_err() {
                format!("'{cell}")
            } else {
                cell
            };
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell
            }
        })
        .collect();
    format!("{}\r\n", cells.join(","))
}

fn number(value: impl ToString) -> String {
    value.to_string()
}

fn optional(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn grouping(text: Option<&str>) -> Result<CostGrouping, String> {
    let Some(text) = text else {
        return Err("groupBy is required: model, client_model, hour, day, week, month, client_key or endpoint".into());
    };
    serde_json::from_value(json!(text.to_ascii_uppercase())).map_err(|_| {
        format!(
            "groupBy must be one of model, client_model, hour, day, week, month, client_key, endpoint (got {text:?})"
        )
    })
}

async fn cost(State(state): State<AppState>, Query(params): Query<ReportParams>) -> Response {
    let (group_by, window) = match (grouping(params.group_by.as_deref()), window(&params)) {
        (Ok(g), Ok(w)) => (g, w),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let report = match timed(&state, reports::cost_report(&state.pool, &window, group_by)).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    if params.format == Format::Json {
        return Json(report).into_response();
    }
    let line = |row: &CostReportRow| {
        vec![
            row.key.clone(),
            number(row.requests),
            number(row.prompt_tokens),
            number(row.completion_tokens),
            number(row.cached_tokens),
            number(row.cache_write_tokens),
            number(row.cost.measured_usd),
            number(row.cost.estimated_usd),
            number(row.cost.unpriced_requests),
            row.cost.unpriced_models.join(" "),
        ]
    };
    let mut rows: Vec<Vec<String>> = report.rows.iter().map(line).collect();
    rows.push(line(&report.total));
    let header_row = [
        "group",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "measured_usd",
        "estimated_usd",
        "unpriced_requests",
        "unpriced_models",
    ];
    csv_response("cost", &header_row, rows)
}

async fn top_requests(State(state): State<AppState>, Query(params): Query<ReportParams>) -> Response {
    let (window, limit) = match (window(&params), limit(&params)) {
        (Ok(w), Ok(l)) => (w, l),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let top = match timed(&state, reports::top_requests(&state.pool, &window, limit)).await {
        Ok(top) => top,
        Err(response) => return response,
    };
    if params.format == Format::Json {
        return Json(top).into_response();
    }
    let line = |r: &RequestSummary| {
        vec![
            r.id.to_string(),
            r.started_at.to_rfc3339(),
            r.endpoint.clone(),
            optional(r.client_model.as_ref()),
            optional(r.upstream_model.as_ref()),
            optional(r.client_key.as_ref()),
            optional(r.prompt_tokens),
            optional(r.completion_tokens),
            optional(r.cached_tokens),
            optional(r.cache_write_tokens),
            format!("{:?}", r.cost.status).to_ascii_lowercase(),
            optional(r.cost.usd),
            optional(r.preview.as_ref()),
        ]
    };
    let header_row = [
        "id",
        "started_at",
        "endpoint",
        "client_model",
        "upstream_model",
        "client_key",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "cost_status",
        "cost_usd",
        "preview",
    ];
    csv_response("top-requests", &header_row, top.iter().map(line).collect())
}

async fn top_conversations(State(state): State<AppState>, Query(params): Query<ReportParams>) -> Response {
    let (window, limit) = match (window(&params), limit(&params)) {
        (Ok(w), Ok(l)) => (w, l),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let top = match timed(&state, reports::top_conversations(&state.pool, &window, limit)).await {
        Ok(top) => top,
        Err(response) => return response,
    };
    if params.format == Format::Json {
        return Json(top).into_response();
    }
    let rows = top
        .iter()
        .map(|c| {
            vec![
                c.conversation_id.clone(),
                optional(c.title.as_ref()),
                c.first_started_at.to_rfc3339(),
                c.last_started_at.to_rfc3339(),
                number(c.cost.requests),
                number(c.prompt_tokens),
                number(c.completion_tokens),
                number(c.cost.measured_usd),
                number(c.cost.estimated_usd),
                number(c.cost.unpriced_requests),
                c.latest_request_id.to_string(),
            ]
        })
        .collect();
    let header_row = [
        "conversation_id",
        "title",
        "first_started_at",
        "last_started_at",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "measured_usd",
        "estimated_usd",
        "unpriced_requests",
        "latest_request_id",
    ];
    csv_response("top-conversations", &header_row, rows)
}

/// The whole price table in the import format (without `updatedAt`).
async fn export_prices(State(state): State<AppState>) -> Response {
    match prices::all(&state.pool).await {
        Ok(stored) => {
            let list: Vec<ModelPrice> =
                stored.into_iter().map(|s| ModelPrice { updated_at: None, ..ModelPrice::from(s) }).collect();
            Json(list).into_response()
        }
        Err(error) => internal(error),
    }
}

/// Adds or replaces the prices of a JSON array (as `GET /api/prices` gives), all or none.
async fn import_prices(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let inputs: Vec<PriceInput> = match serde_json::from_slice(&body) {
        Ok(inputs) => inputs,
        Err(error) => return bad_request(format!("the body must be a JSON array of prices: {error}")),
    };
    let parsed = match mutation::validate(&inputs) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(message),
    };
    match prices::upsert(&state.pool, &parsed).await {
        Ok(()) => Json(json!({"imported": parsed.len()})).into_response(),
        Err(error) => internal(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        assert_eq!(csv_line(["a".into(), "b,c".into(), "say \"hi\"".into()]), "a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(
            csv_line(["=HYPERLINK(\"x\")".into(), "-1.5".into(), "@sum".into()]),
            "\"'=HYPERLINK(\"\"x\"\")\",-1.5,'@sum\r\n"
        );
        assert_eq!(csv_line(["line\nbreak".into()]), "\"line\nbreak\"\r\n");
    }
}
