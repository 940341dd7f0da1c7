//! The simulated model API every contender talks to: an HTTP/1.1 server answering
//! `POST …/chat/completions` at once, as a whole body or as an SSE stream, and `GET …/models`.
//!
//! What to answer is read from the request's `model`, so that the same request works through any
//! proxy: `bench-w20-p1000` streams 20 content deltas, one every 1,000 µs (`p0`: all at once, each
//! event still its own HTTP chunk, so that they arrive together as a real upstream's often do).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use bench::wire_shapes;

type MockBody = BoxBody<Bytes, Infallible>;

/// What a model name asks of the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyShape {
    pub words: usize,
    pub pace: Duration,
}

impl ReplyShape {
    pub fn model_name(self) -> String {
        format!("bench-w{}-p{}", self.words, self.pace.as_micros())
    }

    fn from_model(model: &str) -> Self {
        let mut shape = ReplyShape { words: 20, pace: Duration::ZERO };
        for part in model.split('-') {
            if let Some(n) = part.strip_prefix('w').and_then(|n| n.parse().ok()) {
                shape.words = n;
            } else if let Some(n) = part.strip_prefix('p').and_then(|n| n.parse().ok()) {
                shape.pace = Duration::from_micros(n);
            }
        }
        shape
    }
}

pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<MockBody>, Infallible> {
    let path = request.uri().path().to_string();
    if path.ends_with("/models") {
        return Ok(json(StatusCode::OK, Bytes::from_static(br#"{"object":"list","data":[{"id":"bench-w20-p0","object":"model","created":1700000000,"owned_by":"bench"}]}"#)));
    }
    if !path.ends_with("/chat/completions") {
        return Ok(json(
            StatusCode::NOT_FOUND,
            Bytes::from_static(br#"{"error":{"message":"unknown path","type":"invalid_request_error"}}"#),
        ));
    }
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(json(StatusCode::BAD_REQUEST, Bytes::new())),
    };
    let Ok(fields) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return Ok(json(
            StatusCode::BAD_REQUEST,
            Bytes::from_static(br#"{"error":{"message":"body is not JSON","type":"invalid_request_error"}}"#),
        ));
    };
    let model = fields["model"].as_str().unwrap_or("bench");
    let shape = ReplyShape::from_model(model);
    if fields["stream"] != serde_json::Value::Bool(true) {
        return Ok(json(StatusCode::OK, wire_shapes::completion(model)));
    }
    let include_usage = fields["stream_options"]["include_usage"] == serde_json::Value::Bool(true);
    let events = wire_shapes::stream_events(model, shape.words, include_usage);
    let body: MockBody = if shape.pace.is_zero() {
        BodyExt::boxed(StreamBody::new(stream::iter(events.into_iter().map(|e| Ok(Frame::data(e))))))
    } else {
        // Event n leaves at start + n × pace: deadlines, not sleeps one after the other, so that the
        // timer's millisecond rounding does not add up over a stream and every path sees the same pacing.
        // The usage chunk and `[DONE]` follow the finish event at once, as OpenAI sends them, so that
        // a proxy asking for usage does not make the stream one interval longer.
        let (pace, start, finish) = (shape.pace, tokio::time::Instant::now(), shape.words + 1);
        let paced = stream::iter(events.into_iter().enumerate()).then(move |(n, event)| async move {
            tokio::time::sleep_until(start + pace * n.min(finish) as u32).await;
            Ok(Frame::data(event))
        });
        BodyExt::boxed(StreamBody::new(paced))
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, "text/event-stream; charset=utf-8".parse().unwrap());
    Ok(response)
}

fn json(status: StatusCode, body: Bytes) -> Response<MockBody> {
    let mut response = Response::new(Full::new(body).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_round_trip() {
        let shape = ReplyShape { words: 50, pace: Duration::from_millis(1) };
        assert_eq!(shape.model_name(), "bench-w50-p1000");
        assert_eq!(ReplyShape::from_model(&shape.model_name()), shape);
        assert_eq!(ReplyShape::from_model("gpt-4o"), ReplyShape { words: 20, pace: Duration::ZERO });
    }
}
