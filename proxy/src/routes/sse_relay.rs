//! Relays an upstream SSE stream to the client event by event, keeping a copy of each event for the
//! log. When the proxy asked for usage on the client's behalf, what that changed in the stream is
//! taken out again (see `usage_chunk`). An upstream failure mid-stream becomes one OpenAI-style error event;
//! the client going away drops this stream, which cancels the upstream request and records the
//! call as cancelled.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream};

use crate::error::{stream_error_event, ProxyError};
use crate::pending_record::PendingRecord;
use crate::record::{Outcome, ResponseCapture, StreamEvent};
use crate::sse::{SseEvent, SseFramer};
use crate::usage_chunk;

pub struct SseRelay {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    framer: SseFramer,
    hide_usage_chunk: bool,
    events: Vec<StreamEvent>,
    pending: Option<PendingRecord>,
}

impl SseRelay {
    pub fn new(
        upstream: BoxStream<'static, reqwest::Result<Bytes>>,
        pending: PendingRecord,
        hide_usage_chunk: bool,
    ) -> Self {
        SseRelay { upstream, framer: SseFramer::new(), hide_usage_chunk, events: Vec::new(), pending: Some(pending) }
    }

    fn keep_for_log(&mut self, events: &[SseEvent]) {
        self.events.extend(
            events
                .iter()
                .filter(|e| !e.data.is_empty())
                .map(|e| StreamEvent { event: e.event.clone(), data: e.data.clone() }),
        );
    }

    fn finish(&mut self, outcome: Outcome, error: Option<&ProxyError>) {
        if let Some(mut pending) = self.pending.take() {
            let record = pending.record();
            record.response = ResponseCapture::Stream(std::mem::take(&mut self.events));
            record.error = error.map(ProxyError::recorded);
            pending.finish(outcome);
        }
    }
}

impl Drop for SseRelay {
    fn drop(&mut self) {
        // Still pending here means the client went away first: keep the partial reply, and let the
        // record's own drop mark it cancelled.
        if let Some(pending) = self.pending.as_mut() {
            pending.record().response = ResponseCapture::Stream(std::mem::take(&mut self.events));
        }
    }
}

impl Stream for SseRelay {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.pending.is_none() {
                return Poll::Ready(None);
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(pending) = this.pending.as_mut() {
                        pending.first_byte_now();
                    }
                    let events = this.framer.push(&chunk);
                    this.keep_for_log(&events);
                    if !this.hide_usage_chunk {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    // Only whole events leave, so that the usage chunk can be recognised and held
                    // back; events that arrived together still leave in one write.
                    let mut out = BytesMut::new();
                    for event in &events {
                        if let Some(bytes) = usage_chunk::event_for_client(event) {
                            out.extend_from_slice(&bytes);
                        }
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out.freeze())));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    let error = if error.is_timeout() {
                        ProxyError::UpstreamTimeout
                    } else {
                        tracing::warn!(error = %error, "upstream stream broke off");
                        ProxyError::UpstreamStreamBroken
                    };
                    this.finish(Outcome::Error, Some(&error));
                    return Poll::Ready(Some(Ok(stream_error_event(&error))));
                }
                Poll::Ready(None) => {
                    let rest = Bytes::copy_from_slice(this.framer.unfinished());
                    this.finish(Outcome::Ok, None);
                    if this.hide_usage_chunk && !rest.is_empty() {
                        return Poll::Ready(Some(Ok(rest)));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }
}
