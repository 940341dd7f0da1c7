//! Relays an upstream SSE stream to the client as it arrives, keeping a copy of its bytes for the
//! log (the log writer frames and reads them). When the proxy asked for usage on the client's
//! behalf, what that changed in the stream is taken out again (see `usage_chunk`). An upstream
//! failure mid-stream becomes one OpenAI-style error event; the client going away drops this
//! stream, which cancels the upstream request and records the call as cancelled.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream};

use crate::error::{stream_error_event, ProxyError};
use crate::pending_record::PendingRecord;
use crate::record::{Outcome, ResponseCapture};
use crate::sse::SseFramer;
use crate::upstream_client::UpstreamError;
use crate::usage_chunk;

pub struct SseRelay {
    upstream: BoxStream<'static, Result<Bytes, UpstreamError>>,
    framer: SseFramer,
    hide_usage_chunk: bool,
    /// Everything the upstream sent so far.
    received: BytesMut,
    pending: Option<PendingRecord>,
    first_write: FirstWrite,
}

/// The stream's first write leaves with the first events alone: the events that arrived with them
/// are read only after it is flushed, so that the client's first byte does not wait for their work.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FirstWrite {
    NotYet,
    /// Handed to hyper, which flushes only when the body has nothing ready.
    Handed,
    Flushed,
}

impl SseRelay {
    pub fn new(
        upstream: BoxStream<'static, Result<Bytes, UpstreamError>>,
        pending: PendingRecord,
        hide_usage_chunk: bool,
    ) -> Self {
        SseRelay {
            upstream,
            framer: SseFramer::new(),
            hide_usage_chunk,
            received: BytesMut::new(),
            pending: Some(pending),
            first_write: FirstWrite::NotYet,
        }
    }

    fn finish(&mut self, outcome: Outcome, error: Option<&ProxyError>) {
        if let Some(mut pending) = self.pending.take() {
            let record = pending.record();
            record.response = captured(&mut self.received);
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
            pending.record().response = captured(&mut self.received);
        }
    }
}

/// What the upstream sent so far, for the record.
fn captured(received: &mut BytesMut) -> ResponseCapture {
    ResponseCapture::Stream(std::mem::take(received).freeze())
}

/// What one poll sends on: everything the upstream had ready, as one write. A lone chunk goes
/// on without a copy.
#[derive(Default)]
enum Batch {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Batch {
    fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        *self = match std::mem::take(self) {
            Batch::Empty => Batch::One(bytes),
            Batch::One(first) => {
                let mut many = BytesMut::with_capacity(first.len() + bytes.len());
                many.extend_from_slice(&first);
                many.extend_from_slice(&bytes);
                Batch::Many(many)
            }
            Batch::Many(mut many) => {
                many.extend_from_slice(&bytes);
                Batch::Many(many)
            }
        }
    }

    fn push_slice(&mut self, bytes: &[u8]) {
        match self {
            Batch::Many(many) => many.extend_from_slice(bytes),
            _ => self.push(Bytes::copy_from_slice(bytes)),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Batch::Empty)
    }

    fn take(self) -> Option<Bytes> {
        match self {
            Batch::Empty => None,
            Batch::One(bytes) => Some(bytes),
            Batch::Many(many) => Some(many.freeze()),
        }
    }
}

impl Stream for SseRelay {
    type Item = Result<Bytes, Infallible>;

    /// Takes every chunk the upstream has ready before answering, so that events that arrived
    /// together leave in one write; answers as soon as the upstream has nothing more ready, so that
    /// no event is ever held back. The stream's first events are the exception (`FirstWrite`).
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.first_write == FirstWrite::Handed {
            // Nothing ready makes hyper flush the first write; the wake-up polls again at once.
            this.first_write = FirstWrite::Flushed;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut batch = Batch::Empty;
        loop {
            if this.pending.is_none() {
                return Poll::Ready(batch.take().map(Ok));
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending => {
                    return match batch.take() {
                        Some(bytes) => Poll::Ready(Some(Ok(bytes))),
                        None => Poll::Pending,
                    };
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(pending) = this.pending.as_mut() {
                        pending.first_byte_now();
                    }
                    this.received.extend_from_slice(&chunk);
                    if !this.hide_usage_chunk {
                        batch.push(chunk);
                    } else {
                        // Only whole events leave, so that the usage chunk can be recognised and
                        // held back.
                        for event in &this.framer.push(&chunk) {
                            if let Some(bytes) = usage_chunk::event_for_client(event) {
                                batch.push_slice(&bytes);
                            }
                        }
                    }
                    if this.first_write == FirstWrite::NotYet && !batch.is_empty() {
                        this.first_write = FirstWrite::Handed;
                        return Poll::Ready(batch.take().map(Ok));
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
                    batch.push(stream_error_event(&error));
                    return Poll::Ready(batch.take().map(Ok));
                }
                Poll::Ready(None) => {
                    let rest = this.framer.unfinished().to_vec();
                    this.finish(Outcome::Ok, None);
                    if this.hide_usage_chunk {
                        batch.push_slice(&rest);
                    }
                    return Poll::Ready(batch.take().map(Ok));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{FutureExt, StreamExt};

    use super::*;
    use crate::log_writer::LogSender;
    use crate::record::RequestRecord;

    const EVENT_A: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
    const EVENT_B: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n";
    const DONE: &[u8] = b"data: [DONE]\n\n";

    #[tokio::test]
    async fn events_that_arrive_together_leave_in_one_write_and_none_is_held_back() {
        let (log, _records) = LogSender::for_tests();
        let (chunks, receiver) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, UpstreamError>>();
        let upstream = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|c| (c, r)) });
        let pending = PendingRecord::start(&log, RequestRecord::new("POST", "/v1/chat/completions"));
        let mut relay = SseRelay::new(upstream.boxed(), pending, false);

        // One event ready: it leaves at once, although more may follow.
        chunks.send(Ok(Bytes::from_static(EVENT_A))).unwrap();
        assert_eq!(relay.next().await.unwrap().unwrap(), EVENT_A);
        assert!(relay.next().now_or_never().is_none(), "nothing is ready, so nothing may be sent");

        // Three chunks (one event split in two, then another) ready together: one write.
        chunks.send(Ok(Bytes::from_static(&EVENT_B[..10]))).unwrap();
        chunks.send(Ok(Bytes::from_static(&EVENT_B[10..]))).unwrap();
        chunks.send(Ok(Bytes::from_static(DONE))).unwrap();
        assert_eq!(relay.next().await.unwrap().unwrap(), [EVENT_B, DONE].concat());

        drop(chunks);
        assert!(relay.next().await.is_none());
    }

    #[tokio::test]
    async fn a_streams_first_event_leaves_alone_and_is_flushed_before_the_events_that_came_with_it() {
        let (log, _records) = LogSender::for_tests();
        let chunks = [EVENT_A, EVENT_B, DONE].map(|chunk| Ok(Bytes::from_static(chunk)));
        let upstream = futures_util::stream::iter(chunks);
        let pending = PendingRecord::start(&log, RequestRecord::new("POST", "/v1/chat/completions"));
        let mut relay = SseRelay::new(upstream.boxed(), pending, true);

        assert_eq!(relay.next().await.unwrap().unwrap(), EVENT_A);
        // Not ready once, with a wake-up: hyper flushes only when the body has nothing ready.
        assert!(relay.next().now_or_never().is_none(), "the first write must be flushed alone");
        assert_eq!(relay.next().await.unwrap().unwrap(), [EVENT_B, DONE].concat());
        assert!(relay.next().await.is_none());
    }
}
