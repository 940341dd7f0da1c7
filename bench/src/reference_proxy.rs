//! The floor: the least work any proxy must do. A hyper server and a pooled hyper client, TCP_NODELAY
//! on both sides, the request and response bodies passed through as they arrive (every frame the
//! client library yields is written on as it is), nothing parsed, nothing logged.

use std::convert::Infallible;

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Upstream = Client<HttpConnector, Incoming>;

pub async fn serve(listener: TcpListener, upstream: String) -> std::io::Result<()> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(4096).build(connector);
    let upstream: &'static str = Box::leak(upstream.into_boxed_str());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| pass(client.clone(), upstream, request));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn pass(
    client: Upstream,
    upstream: &'static str,
    mut request: Request<Incoming>,
) -> Result<Response<Either<Incoming, Full<Bytes>>>, Infallible> {
    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match format!("{upstream}{path}").parse::<Uri>() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return Ok(bad_gateway()),
    }
    request.headers_mut().remove(hyper::header::HOST);
    match client.request(request).await {
        Ok(response) => Ok(response.map(Either::Left)),
        Err(_) => Ok(bad_gateway()),
    }
}

fn bad_gateway() -> Response<Either<Incoming, Full<Bytes>>> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
