//! A record's metadata as JSON, as frames before `TSR3` carry it: read, never written (tests write
//! it to make such frames).

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::record::{Outcome, RecordedError, RequestRecord, ResponseCapture, StreamEvent};

/// Everything in a record except the two bodies, which follow it in the frame as raw bytes.
/// Borrowed from the record when written (by tests); read back as owned text.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct Meta<'a> {
    id: u128,
    started_at_us: i64,
    finished_at_us: i64,
    method: Cow<'a, str>,
    endpoint: Cow<'a, str>,
    client_model: Option<Cow<'a, str>>,
    upstream_model: Option<Cow<'a, str>>,
    is_stream: bool,
    usage_requested_by_proxy: bool,
    http_status: u16,
    outcome: Cow<'a, str>,
    error: Option<(Cow<'a, str>, Cow<'a, str>)>,
    latency_us: u64,
    time_to_first_byte_us: Option<u64>,
    client_ip: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    /// Absent in frames written before client keys were recorded.
    #[serde(default)]
    client_key: Option<Cow<'a, str>>,
    /// `none`, `body` (the response bytes follow the request's), `sse` (so do the stream's bytes),
    /// or `stream` (frames of earlier versions: the stream's events are in `events`).
    response: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<(Option<String>, String)>,
}

pub(super) fn decode(meta: &[u8], request: Bytes, response: Bytes) -> Option<RequestRecord> {
    let meta: Meta = serde_json::from_slice(meta).ok()?;
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us);
    let mut record = RequestRecord::new(&meta.method, &meta.endpoint);
    record.id = uuid::Uuid::from_u128(meta.id);
    record.started_at = time(meta.started_at_us)?;
    record.finished_at = time(meta.finished_at_us)?;
    record.client_model = meta.client_model.map(Cow::into_owned);
    record.upstream_model = meta.upstream_model.map(Cow::into_owned);
    record.is_stream = meta.is_stream;
    record.usage_requested_by_proxy = meta.usage_requested_by_proxy;
    record.http_status = meta.http_status;
    record.outcome = match &*meta.outcome {
        "ok" => Outcome::Ok,
        "error" => Outcome::Error,
        "cancelled" => Outcome::Cancelled,
        _ => return None,
    };
    record.error = meta.error.map(|(error_type, message)| RecordedError {
        error_type: error_type.into_owned(),
        message: message.into_owned(),
    });
    record.latency = Duration::from_micros(meta.latency_us);
    record.time_to_first_byte = meta.time_to_first_byte_us.map(Duration::from_micros);
    record.client_ip = meta.client_ip.map(Cow::into_owned);
    record.user_agent = meta.user_agent.map(Cow::into_owned);
    record.client_key = meta.client_key.map(Cow::into_owned);
    record.request_body = request;
    record.response = match &*meta.response {
        "none" => ResponseCapture::None,
        "body" => ResponseCapture::Body(response),
        "sse" => ResponseCapture::Stream(response),
        "stream" => ResponseCapture::stream_of(
            &meta.events.into_iter().map(|(event, data)| StreamEvent { event, data }).collect::<Vec<_>>(),
        ),
        _ => return None,
    };
    Some(record)
}

#[cfg(test)]
pub(super) fn encode(record: &RequestRecord) -> Vec<u8> {
    fn borrowed(text: &Option<String>) -> Option<Cow<'_, str>> {
        text.as_deref().map(Cow::Borrowed)
    }
    let micros = |d: Duration| d.as_micros() as u64;
    let response = match &record.response {
        ResponseCapture::None => "none",
        ResponseCapture::Body(_) => "body",
        ResponseCapture::Stream(_) => "sse",
    };
    let meta = Meta {
        id: record.id.as_u128(),
        started_at_us: record.started_at.timestamp_micros(),
        finished_at_us: record.finished_at.timestamp_micros(),
        method: Cow::Borrowed(&record.method),
        endpoint: Cow::Borrowed(&record.endpoint),
        client_model: borrowed(&record.client_model),
        upstream_model: borrowed(&record.upstream_model),
        is_stream: record.is_stream,
        usage_requested_by_proxy: record.usage_requested_by_proxy,
        http_status: record.http_status,
        outcome: Cow::Borrowed(record.outcome.as_str()),
        error: record.error.as_ref().map(|e| (Cow::Borrowed(&*e.error_type), Cow::Borrowed(&*e.message))),
        latency_us: micros(record.latency),
        time_to_first_byte_us: record.time_to_first_byte.map(micros),
        client_ip: borrowed(&record.client_ip),
        user_agent: borrowed(&record.user_agent),
        client_key: borrowed(&record.client_key),
        response: Cow::Borrowed(response),
        events: Vec::new(),
    };
    serde_json::to_vec(&meta).expect("the record metadata serialises")
}
