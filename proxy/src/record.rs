//! What the request path hands to the log writer: raw facts only, cheap to gather. Everything that
//! needs parsing (messages, the assembled reply, usage) is derived later, in the writer.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{header, HeaderMap};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// An error the proxy itself observed or produced (upstream error bodies are read in the writer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedError {
    pub error_type: String,
    pub message: String,
}

/// One SSE event, for building a captured stream from its events (`ResponseCapture::stream_of`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ResponseCapture {
    /// Nothing came back (rejected before forwarding, or the upstream was never reached).
    #[default]
    None,
    /// A whole response body.
    Body(Bytes),
    /// A stream's bytes exactly as the upstream sent them, as far as it got. Kept whole rather than
    /// as events, so that relaying copies each chunk once and the log writer frames and reads it.
    Stream(Bytes),
}

impl ResponseCapture {
    /// The stream these events make, written as SSE.
    pub fn stream_of(events: &[StreamEvent]) -> Self {
        let mut bytes = Vec::new();
        for event in events {
            crate::sse::write_event(event.event.as_deref(), &event.data, &mut bytes);
        }
        ResponseCapture::Stream(bytes.into())
    }
}

#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// UUIDv7: time-ordered, made here so that a retried insert cannot duplicate a row.
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub method: String,
    /// The path the client called, without its query string.
    pub endpoint: String,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub is_stream: bool,
    /// True when the proxy turned on `stream_options.include_usage` and hid the usage chunk.
    pub usage_requested_by_proxy: bool,
    pub http_status: u16,
    pub outcome: Outcome,
    pub error: Option<RecordedError>,
    pub latency: Duration,
    pub time_to_first_byte: Option<Duration>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The label of the client key (see `client_auth`), when client authentication is on.
    pub client_key: Option<String>,
    /// The body as the client sent it.
    pub request_body: Bytes,
    pub response: ResponseCapture,
}

impl RequestRecord {
    /// A record for a client's call: who called (peer address, user agent) and what.
    pub fn for_client(method: &str, endpoint: &str, peer: SocketAddr, headers: &HeaderMap) -> Self {
        let mut record = RequestRecord::new(method, endpoint);
        record.client_ip = Some(peer.ip().to_string());
        record.user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(String::from);
        record
    }

    pub fn new(method: &str, endpoint: &str) -> Self {
        RequestRecord {
            id: Uuid::now_v7(),
            started_at: Utc::now(),
            finished_at: Utc::now(),
            method: method.to_string(),
            endpoint: endpoint.to_string(),
            client_model: None,
            upstream_model: None,
            is_stream: false,
            usage_requested_by_proxy: false,
            http_status: 0,
            outcome: Outcome::Ok,
            error: None,
            latency: Duration::ZERO,
            time_to_first_byte: None,
            client_ip: None,
            user_agent: None,
            client_key: None,
            request_body: Bytes::new(),
            response: ResponseCapture::None,
        }
    }
}
