use std::io::Write;

use proxy::config::Config;
use proxy::startup::Application;

/// mimalloc rather than glibc's malloc: every request allocates and frees its buffers, headers and
/// record on two worker threads, and glibc's arenas and bins cost a quarter to a third more CPU
/// per request at the same memory (BENCHMARKS.md, "What each optimisation bought"). How soon it
/// hands freed memory back is read from `MIMALLOC_PURGE_DELAY` (the Docker image sets 10 ms): setting
/// it from here would take unsafe code.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    };
    proxy::telemetry::init(&config.log_level);
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("startup error: {error}");
            std::process::exit(1);
        }
    };
    // Not println!: a closed stdout (a pipe whose reader went away) must not stop the service.
    let _ = writeln!(std::io::stdout(), "{}", app.banner());
    if let Err(error) = app.run_until(shutdown_signal()).await {
        tracing::error!(%error, "server stopped with an error");
        std::process::exit(1);
    }
}

/// Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down: finishing open requests and writing queued records");
}
