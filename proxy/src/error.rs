//! Errors the proxy itself answers with, in OpenAI's shape: `{"error":{"message","type","param","code"}}`.
//! What a client sees is safe to show; upstream error bodies are passed through, not built here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::record::RecordedError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    InvalidBody(String),
    #[error("you must provide a model parameter")]
    MissingModel,
    #[error("Request body is larger than the limit of {limit} bytes.")]
    BodyTooLarge { limit: usize },
    #[error("Incorrect API key provided. Pass a key this proxy accepts as `Authorization: Bearer <key>`.")]
    InvalidClientKey,
    #[error("The upstream API could not be reached.")]
    UpstreamUnreachable,
    #[error("The upstream API did not answer in time.")]
    UpstreamTimeout,
    #[error("The upstream API stream broke off before it was complete.")]
    UpstreamStreamBroken,
    #[error("Unknown request URL: {method} {path}. This proxy serves the OpenAI API under /v1.")]
    UnknownRoute { method: String, path: String },
    #[error("The request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("You exceeded your current quota: the budget \"{name}\" is used up for this {period}. Raise it in the TokenSlipper admin, or wait for the next {period}.")]
    BudgetExhausted { name: String, period: &'static str },
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::InvalidBody(_) | ProxyError::MissingModel | ProxyError::BodyUnreadable(_) => {
                StatusCode::BAD_REQUEST
            }
            ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::InvalidClientKey => StatusCode::UNAUTHORIZED,
            ProxyError::UpstreamUnreachable | ProxyError::UpstreamStreamBroken => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::UnknownRoute { .. } => StatusCode::NOT_FOUND,
            ProxyError::BudgetExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// (type, param, code) of the OpenAI error object.
    fn parts(&self) -> (&'static str, Option<&'static str>, &'static str) {
        match self {
            ProxyError::InvalidBody(_) => ("invalid_request_error", None, "invalid_json"),
            ProxyError::MissingModel => ("invalid_request_error", Some("model"), "missing_required_parameter"),
            ProxyError::BodyTooLarge { .. } => ("invalid_request_error", None, "request_too_large"),
            ProxyError::BodyUnreadable(_) => ("invalid_request_error", None, "body_unreadable"),
            ProxyError::InvalidClientKey => ("invalid_request_error", None, "invalid_api_key"),
            ProxyError::UpstreamUnreachable => ("upstream_error", None, "upstream_unreachable"),
            ProxyError::UpstreamTimeout => ("upstream_error", None, "upstream_timeout"),
            ProxyError::UpstreamStreamBroken => ("upstream_error", None, "upstream_stream_broken"),
            ProxyError::UnknownRoute { .. } => ("invalid_request_error", None, "unknown_url"),
            // OpenAI's own answer when an account is out of credit.
            ProxyError::BudgetExhausted { .. } => ("insufficient_quota", None, "insufficient_quota"),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let (kind, param, code) = self.parts();
        json!({"error": {"message": self.to_string(), "type": kind, "param": param, "code": code}})
    }

    /// How the error is recorded: the code names it, the message is what the client was told.
    pub fn recorded(&self) -> RecordedError {
        RecordedError { error_type: self.parts().2.to_string(), message: self.to_string() }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        (self.status(), axum::Json(self.body())).into_response()
    }
}

/// The SSE event a client gets when the upstream fails mid-stream; the stream ends after it.
pub fn stream_error_event(error: &ProxyError) -> bytes::Bytes {
    let mut event = b"data: ".to_vec();
    event.extend_from_slice(&serde_json::to_vec(&error.body()).expect("a JSON value serialises"));
    event.extend_from_slice(b"\n\n");
    event.into()
}
