//! The client that talks to the upstream API: a pool of HTTP/1.1 connections (TLS when the base URL
//! is https) that the task serving a request drives itself.
//!
//! A pooled client (reqwest, hyper-util's) runs each connection in a task of its own and hands the
//! response body over through a one-slot channel, so every chunk costs a task switch and the relay
//! sees one chunk per poll even when the upstream delivered a dozen SSE events in one read. Here
//! the relay polls the connection and the body together, so everything one read brought in is
//! relayed at once, in one write (after the stream's first events, which leave alone), and nothing
//! waits for another task.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

use crate::config::Config;

/// Idle connections kept for reuse; more than this many concurrent calls open new ones.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is not reused (servers close theirs after a minute or two).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not connect to the upstream: {0}")]
    Connect(String),
    #[error("no connection to the upstream within {0:?}")]
    ConnectTimeout(Duration),
    #[error("the upstream sent nothing for {0:?}")]
    Timeout(Duration),
    #[error("the upstream connection failed: {0}")]
    Connection(#[from] hyper::Error),
}

impl UpstreamError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout(_) | UpstreamError::ConnectTimeout(_))
    }
}

#[derive(Clone)]
pub struct UpstreamClient {
    pool: Arc<Pool>,
}

struct Pool {
    connector: HttpsConnector<HttpConnector>,
    /// `scheme://host:port` of the upstream, what the connector dials.
    origin: Uri,
    host: HeaderValue,
    connect_timeout: Duration,
    /// The longest wait for the next bytes of an answer, the first included.
    read_timeout: Duration,
    idle: Mutex<Vec<(Box<Connection>, Instant)>>,
}

/// One connection: the handle requests are sent through and the state machine that does the I/O,
/// which whoever waits for an answer polls. Kept boxed: it is ~1.8 KB, and it moves from the pool
/// into each request's future, its answer's body and back, which as a value made the handler's
/// future 7.8 KB, copied three times per request by axum (`memcpy` was ~9 % of the instructions
/// of a logged chat request, callgrind).
struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: http1::Connection<Io, Full<Bytes>>,
}

pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
}

impl UpstreamClient {
    pub fn new(config: &Config) -> Self {
        Self::with_timeouts(&config.upstream_base_url, config.upstream_connect_timeout, config.upstream_idle_timeout)
    }

    /// `read_timeout` bounds every wait for the answer's next bytes, the first included.
    pub fn with_timeouts(base: &reqwest::Url, connect_timeout: Duration, read_timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let authority = match base.port() {
            Some(port) => format!("{}:{port}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_string(),
        };
        let origin = format!("{}://{authority}", base.scheme()).parse().expect("a parsed URL's origin is a URI");
        let host = HeaderValue::from_str(&authority).expect("a parsed URL's authority is a header value");
        UpstreamClient {
            pool: Arc::new(Pool {
                connector,
                origin,
                host,
                connect_timeout,
                read_timeout,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends one request (`path_and_query` in origin form) and waits for the answer's head. A
    /// reused connection the upstream closed meanwhile is replaced, and the request sent again,
    /// only when it was not sent at all.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        headers.insert(header::HOST, self.pool.host.clone());
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Full::new(body))
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        *request.headers_mut() = headers;
        loop {
            let (mut connection, reused) = match self.pool.checkout() {
                Some(connection) => (connection, true),
                // Boxed: dialling is rare, and its ~1.4 KB future would otherwise be part of every
                // request's future, which is moved whole.
                None => (Box::pin(self.pool.connect()).await?, false),
            };
            let answer = std::pin::pin!(connection.sender.try_send_request(request));
            let answer = DriveUntil { driver: Some(&mut connection.driver), answer };
            let outcome = tokio::time::timeout(self.pool.read_timeout, answer).await;
            match outcome {
                Err(_elapsed) => return Err(UpstreamError::Timeout(self.pool.read_timeout)),
                Ok(Ok(response)) => {
                    let (head, body) = response.into_parts();
                    let body = UpstreamBody {
                        body,
                        connection: Some(connection),
                        pool: self.pool.clone(),
                        last_read: Instant::now(),
                        timer: None,
                    };
                    return Ok(UpstreamResponse { status: head.status, headers: head.headers, body });
                }
                Ok(Err(mut failed)) => match failed.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(failed.into_error().into()),
                },
            }
        }
    }
}

impl Pool {
    async fn connect(&self) -> Result<Box<Connection>, UpstreamError> {
        let connect = async {
            let io = self
                .connector
                .clone()
                .call(self.origin.clone())
                .await
                .map_err(|e| UpstreamError::Connect(e.to_string()))?;
            let (sender, driver) = http1::Builder::new().handshake(io).await?;
            Ok(Box::new(Connection { sender, driver }))
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .unwrap_or(Err(UpstreamError::ConnectTimeout(self.connect_timeout)))
    }

    /// An idle connection that can take a request now. Each is polled once first, so that a close
    /// the upstream sent while it lay idle is seen here rather than by the request.
    fn checkout(&self) -> Option<Box<Connection>> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((mut connection, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE_TIMEOUT && connection.poll_idle() {
                return Some(connection);
            }
        }
        None
    }

    fn put_back(&self, mut connection: Box<Connection>) {
        if !connection.poll_idle() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((connection, Instant::now()));
        }
    }
}

impl Connection {
    /// Lets the connection take in what happened since it was last polled; true when it is open and
    /// ready for the next request.
    fn poll_idle(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if Pin::new(&mut self.driver).poll(&mut cx).is_ready() {
            return false;
        }
        !self.sender.is_closed() && self.sender.is_ready()
    }
}

/// Waits for `answer` while polling the connection that produces it.
struct DriveUntil<'c, F> {
    driver: Option<&'c mut http1::Connection<Io, Full<Bytes>>>,
    answer: F,
}

impl<F: Future + Unpin> Future for DriveUntil<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let Some(driver) = self.driver.as_mut() {
            // A finished connection has failed or been closed; the answer reports which.
            if Pin::new(&mut **driver).poll(cx).is_ready() {
                self.driver = None;
            }
        }
        Pin::new(&mut self.answer).poll(cx)
    }
}

/// The answer's body, read by polling its connection in the same task. The connection goes back to
/// the pool when the body was read to its end; dropped earlier, it is closed.
pub struct UpstreamBody {
    body: Incoming,
    connection: Option<Box<Connection>>,
    pool: Arc<Pool>,
    last_read: Instant,
    /// Armed only while waiting; re-armed from `last_read`, so reads do not touch the timer.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl UpstreamBody {
    /// The whole body.
    pub async fn collect(mut self) -> Result<Bytes, (Bytes, UpstreamError)> {
        let mut collected = bytes::BytesMut::new();
        while let Some(chunk) = futures_util::StreamExt::next(&mut self).await {
            match chunk {
                Ok(chunk) => collected.extend_from_slice(&chunk),
                Err(error) => return Err((collected.freeze(), error)),
            }
        }
        Ok(collected.freeze())
    }

    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        let timeout = self.pool.read_timeout;
        let deadline = self.last_read + timeout;
        if Instant::now() >= deadline {
            return true;
        }
        let deadline = tokio::time::Instant::from_std(deadline);
        match self.timer.as_mut() {
            Some(timer) if timer.deadline() == deadline => {}
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.timer.as_mut().is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }
}

impl Stream for UpstreamBody {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // The connection first: it moves what its socket holds into the body.
            if let Some(connection) = this.connection.as_mut() {
                if Pin::new(&mut connection.driver).poll(cx).is_ready() {
                    this.connection = None;
                }
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.last_read = Instant::now();
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    this.connection = None;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Ready(None) => {
                    if let Some(connection) = this.connection.take() {
                        this.pool.put_back(connection);
                    }
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if this.timed_out(cx) {
                        this.connection = None;
                        return Poll::Ready(Some(Err(UpstreamError::Timeout(this.pool.read_timeout))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // Read to its end already, or abandoned midway (the connection then cannot be reused).
        if self.body.is_end_stream() {
            if let Some(connection) = self.connection.take() {
                self.pool.put_back(connection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::{FutureExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const EVENTS: usize = 12;

    /// An upstream that answers every request on a connection with `answer`, written at once, and
    /// counts the connections it accepted. `close_after_answer` drops each connection after one.
    async fn upstream(answer: Vec<u8>, close_after_answer: bool) -> (reqwest::Url, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap()).parse().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        let Ok(read) = socket.read(&mut buffer).await else { return };
                        if read == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..read]);
                        if request.windows(4).any(|w| w == b"\r\n\r\n") {
                            request.clear();
                            socket.write_all(&answer).await.unwrap();
                            if close_after_answer {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    /// An SSE answer of `EVENTS` events, each its own HTTP chunk, as an API streams them.
    fn sse_answer() -> Vec<u8> {
        let mut answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for i in 0..EVENTS {
            let event = format!("data: {{\"n\":{i}}}\n\n");
            answer.extend_from_slice(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes());
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        answer
    }

    fn client(url: &reqwest::Url) -> UpstreamClient {
        UpstreamClient::with_timeouts(url, Duration::from_secs(5), Duration::from_millis(500))
    }

    async fn get(client: &UpstreamClient) -> Result<UpstreamResponse, UpstreamError> {
        client.send(Method::POST, "/v1/chat/completions", HeaderMap::new(), Bytes::from_static(b"{}")).await
    }

    #[tokio::test]
    async fn chunks_that_arrived_together_are_all_ready_in_the_same_task() {
        let (url, _) = upstream(sse_answer(), false).await;
        let mut body = get(&client(&url)).await.unwrap().body;

        let first = body.next().await.unwrap().unwrap();
        assert_eq!(first, "data: {\"n\":0}\n\n");
        // The rest was read with the first: no other task has to run before it is there.
        for i in 1..EVENTS {
            let chunk = body.next().now_or_never().expect("ready without waiting").unwrap().unwrap();
            assert_eq!(chunk, format!("data: {{\"n\":{i}}}\n\n"));
        }
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn a_connection_read_to_its_end_is_reused() {
        let (url, accepted) = upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), false).await;
        let client = client(&url);
        for _ in 0..3 {
            let response = get(&client).await.unwrap();
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.body.collect().await.unwrap(), "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_while_idle_is_replaced() {
        let (url, accepted) = upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), true).await;
        let client = client(&url);
        for _ in 0..3 {
            assert_eq!(get(&client).await.unwrap().body.collect().await.unwrap(), "ok");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_answer_that_stalls_midway_times_out() {
        let stalled = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf".to_vec();
        let (url, _) = upstream(stalled, false).await;
        let started = Instant::now();
        let (partial, error) = get(&client(&url)).await.unwrap().body.collect().await.unwrap_err();
        assert_eq!(partial, "half");
        assert!(error.is_timeout(), "{error}");
        assert!(started.elapsed() >= Duration::from_millis(500));
    }
}
