//! A first start against an empty database is quiet: the proxy applies the migrations and says
//! nothing alarming on the way, so a first-time user is not sent looking for a fault.

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

use crate::helpers::health;
use crate::proxy_process::ProxyProcess;

#[sqlx::test(migrations = false)]
async fn the_first_start_on_an_empty_database_logs_no_warning(_pool: MySqlPoolOptions, database: MySqlConnectOptions) {
    // Budgets checked often, so that a check before the migrations could not be missed.
    let proxy = ProxyProcess::start(&database, &[("LOG_LEVEL", "info"), ("BUDGET_CHECK_INTERVAL_MS", "20")]).await;
    let base = format!("http://127.0.0.1:{}", proxy.port);
    let mut migrated = false;
    for _ in 0..300 {
        let body = health(&base).await.expect("the proxy answers /health");
        if body["log_writer"]["migrations_applied"] == true {
            migrated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(migrated, "the proxy did not apply the migrations in 6 s");
    // Several budget checks after the migrations, each of which would log a failure once.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let output = proxy.stop().await;
    assert!(output.contains("database migrations applied"), "{output}");
    let alarming: Vec<&str> = output.lines().filter(|line| line.contains("WARN") || line.contains("ERROR")).collect();
    assert!(alarming.is_empty(), "a first start logged:\n{}", alarming.join("\n"));
}
