//! Applying `migrations/` when two services (two proxies, or a proxy and the admin API) may start
//! against the same fresh database at once.
//!
//! sqlx's migrator guards itself with `GET_LOCK(name, -1)`. MySQL reads -1 as "wait forever";
//! MariaDB answers NULL at once, without the lock, so two migrators could run the same migration
//! together: one fails half-way, and since MySQL cannot roll back DDL, the migration stays marked
//! as partially applied and no service can write any more. A lock of our own with a positive
//! timeout works on both servers.

use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{ConnectOptions, Connection, MySqlPool};

/// `migrations/`, embedded in the binaries of both services (`build.rs` makes cargo notice a new one).
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Longest a service waits for another one's migrations before it reports an error (and retries).
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// sqlx's default threshold for a slow statement.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Runs [`MIGRATOR`] while holding a lock named after the database. The lock lives on a connection
/// taken out of the pool and closed afterwards, so it is released even if this future is dropped.
/// The migrations run on a connection of their own that logs a slow statement at info, not as a
/// warning: a migration's DDL takes seconds on a slow disk or a large table, which is nothing for a
/// user to look into.
pub async fn apply_migrations(pool: &MySqlPool) -> Result<(), MigrateError> {
    let mut lock = pool.acquire().await?.detach();
    // Lock names are limited to 64 characters: the database name is hashed.
    let acquired: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK(CONCAT('tokenslipper-migrate-', SHA1(DATABASE())), ?)")
            .bind(LOCK_WAIT.as_secs())
            .fetch_one(&mut lock)
            .await?;
    if acquired != Some(1) {
        let _ = lock.close().await;
        return Err(MigrateError::Execute(sqlx::Error::Protocol(format!(
            "another service held the migration lock for more than {} s",
            LOCK_WAIT.as_secs()
        ))));
    }
    let options = pool.connect_options().as_ref().clone().log_slow_statements(log::LevelFilter::Info, SLOW_STATEMENT);
    let migrating = MySqlPoolOptions::new().max_connections(1).connect_lazy_with(options);
    let result = MIGRATOR.run(&migrating).await;
    migrating.close().await;
    // Closing the session releases the lock.
    let _ = lock.close().await;
    result
}
