//! Relays an upstream SSE stream to the client event by event, keeping a copy of each event for the
//! log. When the proxy asked for usage on the client's behalf, what that changed in the stream is
//! taken out again (see `usage_chunk`). An upstream failure mid-stream becomes one OpenAI-style error event;
//! the client going away drops this stream, which cancels the upstream request and records the
//! call as cancelled.

use std::convert::Infallible;
use std::future::Future;
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
    /// What was taken from the upstream but not sent yet, while the upstream connection gets one turn.
    carry: Batch,
    /// That turn: the HTTP client hands a response body over one chunk at a time from its own task,
    /// so chunks that arrived in one read are only all ready after that task has run again.
    turn: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl SseRelay {
    pub fn new(
        upstream: BoxStream<'static, reqwest::Result<Bytes>>,
        pending: PendingRecord,
        hide_usage_chunk: bool,
    ) -> Self {
        SseRelay {
            upstream,
            framer: SseFramer::new(),
            hide_usage_chunk,
            events: Vec::new(),
            pending: Some(pending),
            carry: Batch::Empty,
            turn: None,
        }
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
    /// together leave in one write. When something new came, the upstream connection's task gets one
    /// scheduler turn to hand over the rest of what it already read; when that brings nothing more,
    /// the batch leaves. An event is never held waiting for the network.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(turn) = this.turn.as_mut() {
            if turn.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.turn = None;
        }
        let mut batch = std::mem::take(&mut this.carry);
        let mut took_more = false;
        loop {
            if this.pending.is_none() {
                return Poll::Ready(batch.take().map(Ok));
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending if took_more => {
                    // Give the connection task its turn (yield_now defers the wake until it ran).
                    this.carry = batch;
                    let mut turn: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(tokio::task::yield_now());
                    if turn.as_mut().poll(cx).is_pending() {
                        this.turn = Some(turn);
                    }
                    return Poll::Pending;
                }
                Poll::Pending => {
                    return match batch.take() {
                        Some(bytes) => Poll::Ready(Some(Ok(bytes))),
                        None => Poll::Pending,
                    };
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    took_more = true;
                    if let Some(pending) = this.pending.as_mut() {
                        pending.first_byte_now();
                    }
                    let events = this.framer.push(&chunk);
                    this.keep_for_log(&events);
                    if !this.hide_usage_chunk {
                        batch.push(chunk);
                        continue;
                    }
                    // Only whole events leave, so that the usage chunk can be recognised and held back.
                    for event in &events {
                        if let Some(bytes) = usage_chunk::event_for_client(event) {
                            batch.push_slice(&bytes);
                        }
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
        let (chunks, receiver) = tokio::sync::mpsc::unbounded_channel::<reqwest::Result<Bytes>>();
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

    /// As hyper's client delivers a body: from the connection's own task, one chunk at a time.
    #[tokio::test]
    async fn chunks_handed_over_one_at_a_time_by_another_task_still_leave_together() {
        let (log, _records) = LogSender::for_tests();
        let (chunks, receiver) = tokio::sync::mpsc::channel::<reqwest::Result<Bytes>>(1);
        let upstream = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|c| (c, r)) });
        let pending = PendingRecord::start(&log, RequestRecord::new("POST", "/v1/chat/completions"));
        let mut relay = SseRelay::new(upstream.boxed(), pending, false);
        tokio::spawn(async move {
            for event in [EVENT_A, EVENT_B, DONE] {
                chunks.send(Ok(Bytes::from_static(event))).await.unwrap();
            }
        });
        assert_eq!(relay.next().await.unwrap().unwrap(), [EVENT_A, EVENT_B, DONE].concat());
        assert!(relay.next().await.is_none());
    }
}
