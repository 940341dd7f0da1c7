//! The load generator: `concurrency` connections, each sending the same request again as soon as the
//! previous answer is complete (a closed loop, as wrk does), for a time or a number of requests.
//! It runs on the harness's single thread, like wrk with one thread.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Clone)]
pub struct Load {
    pub target: SocketAddr,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Bytes,
    pub concurrency: usize,
    pub until: Until,
}

#[derive(Clone, Copy)]
pub enum Until {
    Elapsed(Duration),
    /// Each connection sends this many requests.
    RequestsPerConnection(usize),
}

/// What one load run saw. Times are per request, in the order they completed.
#[derive(Default)]
pub struct LoadResult {
    /// From sending the request to the last byte of the answer.
    pub total: Vec<Duration>,
    /// From sending the request to the first frame of the answer's body.
    pub first_byte: Vec<Duration>,
    pub completed: u64,
    pub failed: u64,
    pub body_bytes: u64,
    pub elapsed: Duration,
    pub first_failure: Option<String>,
}

impl LoadResult {
    fn merge(&mut self, other: LoadResult) {
        self.total.extend(other.total);
        self.first_byte.extend(other.first_byte);
        self.completed += other.completed;
        self.failed += other.failed;
        self.body_bytes += other.body_bytes;
        self.first_failure = self.first_failure.take().or(other.first_failure);
    }
}

/// Counts answers whose first body frame has arrived, for scenarios that hold streams open.
#[derive(Clone, Default)]
pub struct FirstBytes(Rc<Cell<usize>>);

impl FirstBytes {
    pub fn count(&self) -> usize {
        self.0.get()
    }
}

pub async fn run(load: &Load, first_bytes: &FirstBytes) -> LoadResult {
    let started = Instant::now();
    let deadline = match load.until {
        Until::Elapsed(duration) => Some(started + duration),
        Until::RequestsPerConnection(_) => None,
    };
    let workers: Vec<_> = (0..load.concurrency)
        .map(|_| tokio::task::spawn_local(connection(load.clone(), deadline, first_bytes.clone())))
        .collect();
    let mut result = LoadResult::default();
    for worker in workers {
        match worker.await {
            Ok(part) => result.merge(part),
            Err(error) => {
                result.failed += 1;
                result.first_failure.get_or_insert(error.to_string());
            }
        }
    }
    result.elapsed = started.elapsed();
    result
}

async fn connection(load: Load, deadline: Option<Instant>, first_bytes: FirstBytes) -> LoadResult {
    let mut result = LoadResult::default();
    let mut sender = match connect(load.target).await {
        Ok(sender) => sender,
        Err(error) => {
            result.failed += 1;
            result.first_failure = Some(format!("connect: {error}"));
            return result;
        }
    };
    let mut sent = 0usize;
    loop {
        match (deadline, load.until) {
            (Some(at), _) if Instant::now() >= at => break,
            (_, Until::RequestsPerConnection(n)) if sent >= n => break,
            _ => {}
        }
        sent += 1;
        let mut request = Request::post(load.path.as_str())
            .header(hyper::header::HOST, load.target.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(authorization) = &load.authorization {
            request = request.header(hyper::header::AUTHORIZATION, authorization);
        }
        let request = request.body(Full::new(load.body.clone())).expect("a valid request");
        let began = Instant::now();
        if sender.ready().await.is_err() {
            match connect(load.target).await {
                Ok(fresh) => sender = fresh,
                Err(error) => {
                    result.failed += 1;
                    result.first_failure.get_or_insert(format!("reconnect: {error}"));
                    break;
                }
            }
        }
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(error) => {
                result.failed += 1;
                result.first_failure.get_or_insert(format!("send: {error}"));
                continue;
            }
        };
        let status = response.status();
        let mut body = response.into_body();
        let mut first = None;
        let mut bytes = 0u64;
        let mut broken = None;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        if first.is_none() {
                            first = Some(began.elapsed());
                            first_bytes.0.set(first_bytes.0.get() + 1);
                        }
                        bytes += data.len() as u64;
                    }
                }
                Err(error) => {
                    broken = Some(error.to_string());
                    break;
                }
            }
        }
        let total = began.elapsed();
        if !status.is_success() || broken.is_some() {
            result.failed += 1;
            result.first_failure.get_or_insert(broken.unwrap_or_else(|| format!("status {status}")));
            continue;
        }
        result.completed += 1;
        result.body_bytes += bytes;
        result.total.push(total);
        result.first_byte.push(first.unwrap_or(total));
    }
    result
}

pub type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

pub async fn connect(target: SocketAddr) -> std::io::Result<Sender> {
    let stream = TcpStream::connect(target).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::task::spawn_local(connection);
    Ok(sender)
}

/// The `q`-quantile (0.0–1.0) of `times`, which it sorts.
pub fn quantile(times: &mut [Duration], q: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    times.sort_unstable();
    let index = ((times.len() - 1) as f64 * q).round() as usize;
    times[index]
}
