use std::io::Write;

use admin_api::config::Config;
use admin_api::startup::Application;

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    };
    admin_api::telemetry::init(&config.log_level);
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
}
