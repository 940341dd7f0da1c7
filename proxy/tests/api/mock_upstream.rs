//! A stand-in for the upstream LLM API on a real socket. It replays recorded OpenAI wire traffic
//! (tests/fixtures) and injects faults. A test picks the behaviour with the `x-mock-scenario` request
//! header, which the proxy passes through like any other client header.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<ReceivedRequest>>,
    /// Off for long runs (the soak), where keeping every body would fill the memory.
    forget_requests: std::sync::atomic::AtomicBool,
    streams_dropped: AtomicUsize,
    dropped: Notify,
}

#[derive(Clone)]
pub struct MockUpstream {
    pub base_url: String,
    shared: Arc<Shared>,
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Splits an SSE body into its events, each with its blank-line terminator.
pub fn sse_events(body: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.split_inclusive("\n\n").map(|e| e.as_bytes().to_vec()).collect()
}

/// The recorded stream (made with `include_usage: true`) as the real API sends it to a client that
/// did not ask for usage: no usage chunk, and no `"usage":null` in the other chunks.
pub fn as_sent_without_usage(body: &[u8]) -> Vec<u8> {
    recorded_stream(body, false).concat()
}

fn recorded_stream(body: &[u8], wants_usage: bool) -> Vec<Vec<u8>> {
    let events = sse_events(body);
    if wants_usage {
        return events;
    }
    events
        .into_iter()
        .filter(|e| !is_usage_event(e))
        .map(|e| String::from_utf8(e).unwrap().replace(",\"usage\":null", "").into_bytes())
        .collect()
}

fn is_usage_event(event: &[u8]) -> bool {
    let text = String::from_utf8_lossy(event);
    text.contains("\"choices\":[]") && text.contains("\"usage\":{")
}

impl MockUpstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let mock = MockUpstream { base_url: format!("http://127.0.0.1:{port}/v1"), shared };
        let handler_mock = mock.clone();
        let app = axum::Router::new().fallback(move |method, uri, headers, body| {
            let mock = handler_mock.clone();
            async move { mock.handle(method, uri, headers, body).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        mock
    }

    /// Stops keeping what the mock receives ([`MockUpstream::received`] stays as it is).
    pub fn forget_requests(&self) {
        self.shared.forget_requests.store(true, Ordering::Relaxed);
    }

    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn last_received(&self) -> ReceivedRequest {
        self.received().pop().expect("the upstream received a request")
    }

    /// Waits until `count` response streams have been dropped by the proxy (upstream request cancelled).
    pub async fn wait_for_dropped_streams(&self, count: usize) {
        loop {
            let mut dropped = std::pin::pin!(self.shared.dropped.notified());
            dropped.as_mut().enable();
            if self.shared.streams_dropped.load(Ordering::Acquire) >= count {
                return;
            }
            dropped.await;
        }
    }

    async fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        if !self.shared.forget_requests.load(Ordering::Relaxed) {
            self.shared.received.lock().unwrap().push(ReceivedRequest {
                method: method.clone(),
                path_and_query: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                headers: headers.clone(),
                body: body.clone(),
            });
        }
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let wants_usage = request["stream_options"]["include_usage"] == true;
        let scenario = headers.get("x-mock-scenario").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (kind, argument) = scenario.split_once(':').unwrap_or((scenario.as_str(), ""));

        match kind {
            "json" => json_response(StatusCode::OK, fixture(argument)),
            "sse" => self.sse_response(recorded_events(argument, wants_usage), 1, None),
            "sse-fragmented" => {
                let bytes: Vec<u8> = recorded_events(argument, wants_usage).concat();
                self.sse_response(bytes.chunks(7).map(<[u8]>::to_vec).collect(), 1, None)
            }
            "break-midstream" => self.sse_response(recorded_events(argument, wants_usage), 3, Some(Fault::Break)),
            "stall-midstream" => self.sse_response(recorded_events(argument, wants_usage), 3, Some(Fault::Stall)),
            "error-event" => self.sse_response(
                vec![
                    b"data: {\"id\":\"e1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Par\"},\"finish_reason\":null}]}\n\n".to_vec(),
                    b"data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\",\"param\":null,\"code\":null}}\n\n".to_vec(),
                ],
                1,
                None,
            ),
            "endless" => self.endless_stream(),
            "status" => {
                let status = StatusCode::from_u16(argument.parse().unwrap()).unwrap();
                let body = format!(
                    r#"{{"error":{{"message":"mock upstream says {status}","type":"rate_limit_error","param":null,"code":"mock_{}"}}}}"#,
                    status.as_u16()
                );
                let mut response = json_response(status, body.into_bytes());
                if status == StatusCode::TOO_MANY_REQUESTS {
                    response.headers_mut().insert("retry-after", "7".parse().unwrap());
                }
                response
            }
            // An error status whose body is not JSON (a load balancer's HTML page).
            "status-text" => {
                let status = StatusCode::from_u16(argument.parse().unwrap()).unwrap();
                Response::builder()
                    .status(status)
                    .header("content-type", "text/html")
                    .body(Body::from("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"))
                    .unwrap()
            }
            // Events that are not JSON, a line without a field name, then a proper end.
            "malformed-sse" => self.sse_response(
                vec![
                    b"data: {\"id\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n".to_vec(),
                    b"data: {this is not json\n\n".to_vec(),
                    b"garbage without a colon\n\n".to_vec(),
                    b"data: {\"id\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n".to_vec(),
                    b"data: [DONE]\n\n".to_vec(),
                ],
                1,
                None,
            ),
            // A non-streamed answer that starts and never finishes.
            "half-body" => {
                let half = stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{\"id\":\"chatcmpl-half\",\"choi")) });
                let body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>> =
                    Box::pin(half.chain(stream::pending()));
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Body::from_stream(body))
                    .unwrap()
            }
            "no-headers" => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                json_response(StatusCode::OK, b"{}".to_vec())
            }
            _ => self.default_response(&uri, &request, wants_usage),
        }
    }

    /// What a well-behaved upstream answers for each endpoint when no scenario is asked for.
    fn default_response(&self, uri: &Uri, request: &serde_json::Value, wants_usage: bool) -> Response {
        let streaming = request["stream"] == true;
        let has_tools = request.get("tools").is_some();
        match uri.path() {
            "/v1/models" => json_response(
                StatusCode::OK,
                br#"{"object":"list","data":[{"id":"claude-sonnet-4-20250514","object":"model","created":1747000000,"owned_by":"anthropic"}]}"#.to_vec(),
            ),
            "/v1/embeddings" => json_response(
                StatusCode::OK,
                br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,0.015797347]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#.to_vec(),
            ),
            "/v1/completions" if streaming => {
                let mut events = vec![
                    br#"data: {"id":"cmpl-1","object":"text_completion","created":1782321900,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":null}]}"#.to_vec(),
                    br#"data: {"id":"cmpl-1","object":"text_completion","created":1782321900,"model":"gpt-3.5-turbo-instruct","choices":[{"text":", world","index":0,"logprobs":null,"finish_reason":"stop"}]}"#.to_vec(),
                ];
                if wants_usage {
                    events.push(br#"data: {"id":"cmpl-1","object":"text_completion","created":1782321900,"model":"gpt-3.5-turbo-instruct","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}"#.to_vec());
                }
                events.push(b"data: [DONE]".to_vec());
                let events = events.into_iter().map(|mut e| {
                    e.extend_from_slice(b"\n\n");
                    e
                });
                self.sse_response(events.collect(), 1, None)
            }
            "/v1/completions" => json_response(
                StatusCode::OK,
                br#"{"id":"cmpl-2","object":"text_completion","created":1782321900,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"Hello, world","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}"#.to_vec(),
            ),
            "/v1/chat/completions" if streaming && has_tools => {
                self.sse_response(recorded_events("openai_tool_streaming_0.sse", wants_usage), 1, None)
            }
            "/v1/chat/completions" if streaming => {
                self.sse_response(recorded_events("openai_simple_streaming_0.sse", wants_usage), 1, None)
            }
            "/v1/chat/completions" if has_tools => json_response(StatusCode::OK, fixture("openai_tool_0.json")),
            "/v1/chat/completions" => json_response(StatusCode::OK, fixture("openai_simple_0.json")),
            "/v1/responses" => json_response(
                StatusCode::OK,
                br#"{"id":"resp_1","object":"response","status":"completed","model":"gpt-4o-mini","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi from responses"}]}],"usage":{"input_tokens":9,"output_tokens":4,"total_tokens":13}}"#.to_vec(),
            ),
            _ => json_response(
                StatusCode::NOT_FOUND,
                br#"{"error":{"message":"no such endpoint","type":"invalid_request_error","param":null,"code":null}}"#.to_vec(),
            ),
        }
    }

    /// Sends `pieces` in writes of `per_write` pieces each; then ends, breaks the connection, or stalls.
    fn sse_response(&self, pieces: Vec<Vec<u8>>, per_write: usize, fault: Option<Fault>) -> Response {
        let writes: Vec<Vec<u8>> = pieces.chunks(per_write).map(|c| c.concat()).collect();
        let writes = match fault {
            None => writes,
            Some(_) => writes.into_iter().take(1).collect(),
        };
        let body = stream::iter(writes.into_iter().map(|w| Ok::<_, std::io::Error>(Bytes::from(w))));
        let body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>> = match fault {
            None => Box::pin(body),
            Some(Fault::Break) => Box::pin(body.chain(stream::once(async {
                // Let the status line and the first events leave before the connection breaks.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "mock breaks the stream"))
            }))),
            Some(Fault::Stall) => Box::pin(body.chain(stream::pending())),
        };
        sse(Body::from_stream(DropCounter { inner: body, shared: self.shared.clone() }))
    }

    fn endless_stream(&self) -> Response {
        let first = stream::once(async {
            Ok::<_, std::io::Error>(Bytes::from_static(
                b"data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            ))
        });
        let rest = stream::unfold(0u64, |n| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let event = format!(
                "data: {{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{n} \"}},\"finish_reason\":null}}]}}\n\n"
            );
            Some((Ok(Bytes::from(event)), n + 1))
        });
        let body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>> =
            Box::pin(first.chain(rest));
        sse(Body::from_stream(DropCounter { inner: body, shared: self.shared.clone() }))
    }
}

#[derive(Clone, Copy)]
enum Fault {
    Break,
    Stall,
}

/// The recorded events of a fixture; the usage chunk only when the request asked for it, as the real API does.
fn recorded_events(name: &str, wants_usage: bool) -> Vec<Vec<u8>> {
    recorded_stream(&fixture(name), wants_usage)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    Response::builder().status(status).header("content-type", "application/json").body(Body::from(body)).unwrap()
}

fn sse(body: Body) -> Response {
    Response::builder()
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(body)
        .unwrap()
}

/// Counts response bodies dropped before they ended, which is how a cancelled upstream request looks here.
struct DropCounter {
    inner: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
    shared: Arc<Shared>,
}

impl Stream for DropCounter {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.shared.streams_dropped.fetch_add(1, Ordering::AcqRel);
        self.shared.dropped.notify_waiters();
    }
}
