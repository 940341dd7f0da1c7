//! The benchmark harness (see BENCHMARKS.md, "Request path and log writer"):
//!
//! ```sh
//! scripts/bench.sh             # everything, several rounds, LiteLLM included when installed
//! scripts/bench.sh --quick     # a few seconds: the harness works and nothing is lost
//! scripts/bench.sh --only growth   # the log writer as its tables grow (not in a full run)
//! ```
//!
//! The same binary is the mock upstream (`bench mock-upstream --port P`) and the reference proxy
//! (`bench reference-proxy --port P --upstream URL`), which the harness starts as processes of
//! their own so that each one's CPU and memory can be read; the log writer's benchmark runs in
//! `bench-log-writer` (src/bin/log_writer.rs), on the proxy's allocator. `bench record-cost` times
//! what the log writer does with each record before MySQL sees it (run it under callgrind to count
//! instructions).

mod contenders;
mod growth;
mod load;
mod mock_upstream;
mod options;
mod record_cost;
mod reference_proxy;
mod report;
mod run;
mod scenarios;
mod storage;

use std::net::SocketAddr;

use options::{Command, Options};

fn main() {
    let command = match Options::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}\n\n{}", options::USAGE);
            std::process::exit(2);
        }
    };
    let outcome = match command {
        Command::MockUpstream { port } => serve(port, |listener| Box::pin(mock_upstream::serve(listener))),
        Command::ReferenceProxy { port, upstream } => {
            serve(port, move |listener| Box::pin(reference_proxy::serve(listener, upstream)))
        }
        Command::Bench(options) => run::harness(options),
        Command::RecordCost { records, case } => record_cost::run(records, case.as_deref()),
    };
    if let Err(message) = outcome {
        eprintln!("bench: {message}");
        std::process::exit(1);
    }
}

type Server = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>>>>;

/// A server on its own multi-threaded runtime (`TOKIO_WORKER_THREADS` sets its size).
fn serve(port: u16, server: impl FnOnce(tokio::net::TcpListener) -> Server) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| format!("port {port}: {e}"))?;
        server(listener).await.map_err(|e| e.to_string())
    })
}
