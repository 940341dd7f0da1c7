//! The proxy's side of the database: the migrator and the inserts. The proxy writes the request
//! tables; the admin API only reads them. What the proxy reads: the price table (the cost in
//! `/metrics`), budgets (`budget_watch`), which of a batch's message nodes are stored already and
//! the text search's recent blocks (the writer, see `search_block`), and the requests logged before
//! the word index (`search_backfill`).
//!
//! The multi-row INSERTs run as non-persistent statements: each batch size is a different statement
//! of up to tens of thousands of placeholders; caching them (sqlx keeps 100 per connection, the
//! server its own copies) only holds memory, as nearly every batch size comes once.

pub mod budgets;
pub mod message_nodes;
pub mod prices;
pub mod requests;
pub mod rollups;
pub mod search_index;

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};

/// The migrations in `migrations/`, embedded in the binary and applied at startup.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool that connects on first use, so the proxy starts and forwards while MySQL is down.
pub fn lazy_pool(options: MySqlConnectOptions) -> MySqlPool {
    MySqlPoolOptions::new().max_connections(4).acquire_timeout(Duration::from_secs(3)).connect_lazy_with(options)
}
