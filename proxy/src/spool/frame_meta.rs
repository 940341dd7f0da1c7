//! A record's metadata (everything but its two bodies) in a `TSR3` frame: fixed-width fields, then
//! length-prefixed texts, little-endian. Frames of earlier versions carried it as JSON
//! (`json_meta.rs`); reading that back was most of what the store thread spent on a frame
//! (BENCHMARKS.md).
//!
//! `id u128 | started_at_us i64 | finished_at_us i64 | latency_us u64 | ttfb_us u64 |
//! http_status u16 | flags u8 | outcome u8 | response u8 | method | endpoint | client_model? |
//! upstream_model? | error_type? | error_message? | client_ip? | user_agent? | client_key?`
//!
//! A text is its length (u32) and its UTF-8 bytes; an absent one (`?`) is the length `u32::MAX`.
//! `ttfb_us` counts only when the flags say there is one.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use chrono::DateTime;

use crate::record::{Outcome, RecordedError, RequestRecord, ResponseCapture};

const STREAM: u8 = 1;
const USAGE_REQUESTED_BY_PROXY: u8 = 2;
const HAS_TIME_TO_FIRST_BYTE: u8 = 4;

const ABSENT: u32 = u32::MAX;

/// Appends the record's metadata to `out`; the response's kind goes with it, its bytes do not.
pub(super) fn encode_into(record: &RequestRecord, out: &mut Vec<u8>) {
    let micros = |d: Duration| d.as_micros() as u64;
    out.put_u128_le(record.id.as_u128());
    out.put_i64_le(record.started_at.timestamp_micros());
    out.put_i64_le(record.finished_at.timestamp_micros());
    out.put_u64_le(micros(record.latency));
    out.put_u64_le(record.time_to_first_byte.map_or(0, micros));
    out.put_u16_le(record.http_status);
    let flags = [
        (record.is_stream, STREAM),
        (record.usage_requested_by_proxy, USAGE_REQUESTED_BY_PROXY),
        (record.time_to_first_byte.is_some(), HAS_TIME_TO_FIRST_BYTE),
    ];
    out.put_u8(flags.iter().filter(|(set, _)| *set).fold(0, |all, (_, bit)| all | bit));
    out.put_u8(match record.outcome {
        Outcome::Ok => 0,
        Outcome::Error => 1,
        Outcome::Cancelled => 2,
    });
    out.put_u8(match record.response {
        ResponseCapture::None => 0,
        ResponseCapture::Body(_) => 1,
        ResponseCapture::Stream(_) => 2,
    });
    put_text(out, Some(&record.method));
    put_text(out, Some(&record.endpoint));
    put_text(out, record.client_model.as_deref());
    put_text(out, record.upstream_model.as_deref());
    put_text(out, record.error.as_ref().map(|e| &*e.error_type));
    put_text(out, record.error.as_ref().map(|e| &*e.message));
    put_text(out, record.client_ip.as_deref());
    put_text(out, record.user_agent.as_deref());
    put_text(out, record.client_key.as_deref());
}

fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        // A text is a header, a model name or an error message: far below 4 GB, which the
        // frame's own u32 lengths could not hold either.
        Some(text) => {
            out.put_u32_le(text.len() as u32);
            out.put_slice(text.as_bytes());
        }
        None => out.put_u32_le(ABSENT),
    }
}

/// The record the metadata and the two bodies make; `None` if the metadata does not read as
/// this layout (it was checksummed, so only a bug gets here).
pub(super) fn decode(mut meta: &[u8], request: Bytes, response: Bytes) -> Option<RequestRecord> {
    let meta = &mut meta;
    let id = uuid::Uuid::from_u128(meta.try_get_u128_le().ok()?);
    let started_at = DateTime::from_timestamp_micros(meta.try_get_i64_le().ok()?)?;
    let finished_at = DateTime::from_timestamp_micros(meta.try_get_i64_le().ok()?)?;
    let latency = Duration::from_micros(meta.try_get_u64_le().ok()?);
    let time_to_first_byte = Duration::from_micros(meta.try_get_u64_le().ok()?);
    let http_status = meta.try_get_u16_le().ok()?;
    let flags = meta.try_get_u8().ok()?;
    let outcome = match meta.try_get_u8().ok()? {
        0 => Outcome::Ok,
        1 => Outcome::Error,
        2 => Outcome::Cancelled,
        _ => return None,
    };
    let response = match meta.try_get_u8().ok()? {
        0 => ResponseCapture::None,
        1 => ResponseCapture::Body(response),
        2 => ResponseCapture::Stream(response),
        _ => return None,
    };
    let method = take_text(meta)??;
    let endpoint = take_text(meta)??;
    let client_model = take_text(meta)?;
    let upstream_model = take_text(meta)?;
    let error = match (take_text(meta)?, take_text(meta)?) {
        (Some(error_type), Some(message)) => Some(RecordedError { error_type, message }),
        (None, None) => None,
        _ => return None,
    };
    let client_ip = take_text(meta)?;
    let user_agent = take_text(meta)?;
    let client_key = take_text(meta)?;
    if meta.has_remaining() {
        return None;
    }
    Some(RequestRecord {
        id,
        started_at,
        finished_at,
        method,
        endpoint,
        client_model,
        upstream_model,
        is_stream: flags & STREAM != 0,
        usage_requested_by_proxy: flags & USAGE_REQUESTED_BY_PROXY != 0,
        http_status,
        outcome,
        error,
        latency,
        time_to_first_byte: (flags & HAS_TIME_TO_FIRST_BYTE != 0).then_some(time_to_first_byte),
        client_ip,
        user_agent,
        client_key,
        request_body: request,
        response,
    })
}

/// The next text: `Some(None)` if it is absent, `None` if the metadata ends first or it is not
/// UTF-8.
fn take_text(meta: &mut &[u8]) -> Option<Option<String>> {
    let length = meta.try_get_u32_le().ok()?;
    if length == ABSENT {
        return Some(None);
    }
    let bytes = meta.get(..length as usize)?;
    let text = std::str::from_utf8(bytes).ok()?.to_owned();
    meta.advance(length as usize);
    Some(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_record() -> RequestRecord {
        let mut record = RequestRecord::new("POST", "/v1/chat/completions");
        record.started_at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        record.finished_at = DateTime::from_timestamp_micros(1_764_000_001_654_321).unwrap();
        record.client_model = Some("gpt-4o".into());
        record.upstream_model = Some("claude-sonnet-4-5".into());
        record.is_stream = true;
        record.usage_requested_by_proxy = true;
        record.http_status = 502;
        record.outcome = Outcome::Error;
        record.error = Some(RecordedError { error_type: "upstream_error".into(), message: "ünïcode ✓".into() });
        record.latency = Duration::from_micros(987_654);
        record.time_to_first_byte = Some(Duration::ZERO);
        record.client_ip = Some("::1".into());
        record.user_agent = Some(String::new());
        record.client_key = Some("team-a".into());
        record.request_body = Bytes::from_static(b"{\"model\":\"gpt-4o\"}");
        record.response = ResponseCapture::Stream(Bytes::from_static(b"data: [DONE]\n\n"));
        record
    }

    fn round_trip(record: &RequestRecord) -> RequestRecord {
        let mut meta = Vec::new();
        encode_into(record, &mut meta);
        let response = match &record.response {
            ResponseCapture::None => Bytes::new(),
            ResponseCapture::Body(bytes) | ResponseCapture::Stream(bytes) => bytes.clone(),
        };
        decode(&meta, record.request_body.clone(), response).expect("reads back")
    }

    #[test]
    fn every_field_comes_back_as_it_was_set_or_left_absent() {
        let full = full_record();
        assert_eq!(format!("{:?}", round_trip(&full)), format!("{full:?}"));

        // The other end of each choice: nothing optional set, a whole body, a cancelled call.
        let mut bare = RequestRecord::new("GET", "/v1/models");
        bare.started_at = full.started_at;
        bare.finished_at = full.started_at;
        bare.outcome = Outcome::Cancelled;
        bare.response = ResponseCapture::Body(Bytes::from_static(b"\xff not utf-8"));
        assert_eq!(format!("{:?}", round_trip(&bare)), format!("{bare:?}"));
        bare.outcome = Outcome::Ok;
        bare.response = ResponseCapture::None;
        assert_eq!(format!("{:?}", round_trip(&bare)), format!("{bare:?}"));
    }

    #[test]
    fn metadata_cut_short_lengthened_or_out_of_range_reads_as_nothing() {
        let mut meta = Vec::new();
        encode_into(&full_record(), &mut meta);
        let read = |meta: &[u8]| decode(meta, Bytes::new(), Bytes::new());
        assert!(read(&meta).is_some());
        for cut in 0..meta.len() {
            assert!(read(&meta[..cut]).is_none(), "cut at {cut}");
        }
        assert!(read(&[&meta[..], b"x"].concat()).is_none(), "a byte left over");

        // Byte 51 is the outcome, 52 the response's kind.
        for (at, value) in [(51, 3), (52, 3)] {
            let mut bad = meta.clone();
            bad[at] = value;
            assert!(read(&bad).is_none(), "byte {at} = {value}");
        }
        // The method's text, made invalid UTF-8.
        let mut bad = meta.clone();
        bad[57] = 0xff;
        assert!(read(&bad).is_none(), "not UTF-8");
        // An error type without its message.
        let mut record = full_record();
        record.error = None;
        let mut unpaired = Vec::new();
        encode_into(&record, &mut unpaired);
        let error_type_at = 53 + (4 + 4) + (4 + 20) + (4 + 6) + (4 + 17);
        assert_eq!(&unpaired[error_type_at..error_type_at + 8], [0xff; 8]);
        unpaired.splice(error_type_at..error_type_at + 4, [1, 0, 0, 0, b'x']);
        assert!(read(&unpaired).is_none(), "half an error");
    }
}
