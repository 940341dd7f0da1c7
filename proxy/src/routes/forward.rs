//! Forwarding of every `/v1/*` call: read the body (within the size limit), map the model,
//! send it upstream with the upstream's key, relay the answer, and hand the record to the log.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, Response, Uri};
use axum::response::IntoResponse;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http_body_util::BodyExt;

use crate::client_auth::Access;
use crate::error::ProxyError;
use crate::pending_record::PendingRecord;
use crate::record::{Outcome, RequestRecord, ResponseCapture};
use crate::request_body;
use crate::routes::sse_relay::SseRelay;
use crate::startup::AppState;
use crate::upstream;
use crate::upstream_client::{UpstreamError, UpstreamResponse};

/// Endpoints whose body the proxy reads: `model` must be there, is mapped, and streams get usage.
fn is_model_endpoint(path: &str) -> bool {
    matches!(path, "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings")
}

pub async fn forward(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let mut pending =
        PendingRecord::start(&state.log, RequestRecord::for_client(method.as_str(), uri.path(), peer, &headers));

    match state.client_auth.check(&headers) {
        Access::Refused => return pending.fail(ProxyError::InvalidClientKey).into_response(),
        Access::Key { label } => pending.record().client_key = Some(label),
        Access::Open => {}
    }
    let body = match read_body(body, &headers, state.config.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return pending.fail(error).into_response(),
    };
    pending.record().request_body = body.clone();

    let mut forwarded = body.clone();
    let mut hide_usage_chunk = false;
    if is_model_endpoint(uri.path()) && method == Method::POST {
        let fields = match request_body::forward_fields(&body) {
            Ok(fields) => fields,
            Err(error) => return pending.fail(ProxyError::InvalidBody(error.to_string())).into_response(),
        };
        let Some(client_model) = fields.model.as_deref() else {
            return pending.fail(ProxyError::MissingModel).into_response();
        };
        let upstream_model = state.config.model_mapping.upstream_name(client_model);
        // Embeddings do not stream; chat and legacy completions report stream usage when asked.
        hide_usage_chunk = fields.stream && !fields.client_asked_for_usage && uri.path() != "/v1/embeddings";
        if let Some(rewritten) = request_body::rewrite(&body, &fields, upstream_model, hide_usage_chunk) {
            forwarded = Bytes::from(rewritten);
        }
        let record = pending.record();
        record.client_model = Some(client_model.to_string());
        record.upstream_model = Some(upstream_model.to_string());
        record.is_stream = fields.stream;
        record.usage_requested_by_proxy = hide_usage_chunk;
    } else if let Ok(fields) = request_body::forward_fields(&body) {
        // Other endpoints go upstream unchanged; their model and stream flag are still worth recording.
        let record = pending.record();
        record.client_model = fields.model.clone();
        record.upstream_model = fields.model;
        record.is_stream = fields.stream;
    }

    // A used-up budget with a hard limit answers here, before the upstream is asked.
    let record = pending.record();
    let models: Vec<&str> =
        [&record.client_model, &record.upstream_model].into_iter().flatten().map(String::as_str).collect();
    if let Some(budget) = state.budgets.check(&models, record.client_key.as_deref()) {
        return pending.fail(ProxyError::BudgetExhausted { name: budget.name, period: budget.period }).into_response();
    }

    let path = upstream_path(&state.config.upstream_base_url, &uri);
    let headers = upstream::request_headers(&headers, &state.config.upstream_api_key);
    let response = match state.upstream.send(method, &path, headers, forwarded).await {
        Ok(response) => response,
        Err(error) => return pending.fail(classify_send_error(&error)).into_response(),
    };
    relay_response(response, pending, hide_usage_chunk).await
}

/// The upstream's path and query for the client's `/v1/...`: the base URL's path takes `/v1`'s place.
pub(crate) fn upstream_path(base: &reqwest::Url, uri: &Uri) -> String {
    let rest = uri.path().strip_prefix("/v1").unwrap_or(uri.path());
    let mut path = format!("{}{rest}", base.path().trim_end_matches('/'));
    if path.is_empty() {
        path.push('/');
    }
    if let Some(query) = uri.query() {
        path.push('?');
        path.push_str(query);
    }
    path
}

pub(crate) fn classify_send_error(error: &UpstreamError) -> ProxyError {
    // The cause goes to the log here, once; the client gets the safe summary.
    tracing::warn!(error = %error, "upstream request failed");
    if error.is_timeout() {
        ProxyError::UpstreamTimeout
    } else {
        ProxyError::UpstreamUnreachable
    }
}

/// Reads the body, refusing at once (without reading it) when the declared length is over the limit,
/// and as soon as the bytes read pass it otherwise.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ProxyError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ProxyError::BodyTooLarge { limit });
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ProxyError::BodyTooLarge { limit }),
        Err(error) => Err(ProxyError::BodyUnreadable(error.to_string())),
    }
}

/// Sends the upstream's answer on: SSE event by event, anything else as a whole body once complete.
pub(crate) async fn relay_response(
    response: UpstreamResponse,
    mut pending: PendingRecord,
    hide_usage_chunk: bool,
) -> Response<Body> {
    let status = response.status;
    let headers = upstream::response_headers(&response.headers);
    pending.record().http_status = status.as_u16();
    let is_event_stream = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));

    let body = if is_event_stream {
        pending.record().is_stream = true;
        Body::from_stream(SseRelay::new(response.body.boxed(), pending, hide_usage_chunk))
    } else {
        let mut body = response.body;
        let mut collected = BytesMut::new();
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    pending.first_byte_now();
                    collected.extend_from_slice(&chunk);
                }
                None => break,
                Some(Err(error)) => {
                    pending.record().response = ResponseCapture::Body(collected.freeze());
                    return pending.fail(classify_send_error(&error)).into_response();
                }
            }
        }
        let collected = collected.freeze();
        pending.record().response = ResponseCapture::Body(collected.clone());
        pending.finish(Outcome::Ok);
        Body::from(collected)
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::extract::{ConnectInfo, State};
    use axum::http::{HeaderMap, Method, Uri};

    use crate::startup::AppState;

    /// axum moves a handler's future whole, more than once per request. A pooled upstream
    /// connection held in it by value made it 7.8 KB (see `upstream_client::Connection`).
    #[test]
    fn the_handlers_future_stays_small() {
        fn future_size<F, Fut>(_: F) -> usize
        where
            F: Fn(State<AppState>, ConnectInfo<SocketAddr>, Method, Uri, HeaderMap, Body) -> Fut,
        {
            std::mem::size_of::<Fut>()
        }
        let size = future_size(super::forward);
        assert!(size <= 3 * 1024, "forward's future is {size} bytes");
    }
}
