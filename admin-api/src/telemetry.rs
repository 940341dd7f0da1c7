//! Log output: lines on stderr, filtered by `LOG_LEVEL` (or `RUST_LOG` when set).

use tracing_subscriber::EnvFilter;

pub fn init(log_level: &str) {
    // sqlx logs statements at info; they can carry conversation text, so it starts at warn.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{log_level},sqlx=warn,hyper=warn")));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colours).with_writer(std::io::stderr).init();
}
