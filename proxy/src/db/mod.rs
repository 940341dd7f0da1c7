//! The proxy's side of the database: the migrator and the inserts. The proxy writes the request
//! tables; the admin API only reads them. What the proxy reads: the price table (the cost in
//! `/metrics`), budgets (`budget_watch`), which of a batch's message nodes are stored already and
//! the text search's recent blocks (the writer, see `search_block`), and the requests logged before
//! the word index (`search_backfill`).
//!
//! The multi-row INSERTs of the request rows, their messages and the word index's postings run in
//! a few fixed shapes ([`in_statement_shapes`]), each prepared once per connection and reused:
//! preparing a statement of a whole batch's rows made the server describe every placeholder back,
//! a packet apiece (17,000 for a batch of 500 requests), for every batch.

pub mod budgets;
pub mod message_nodes;
pub mod prices;
pub mod requests;
pub mod rollups;
pub mod search_index;

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};

/// Rows per multi-row statement, largest first: a batch is written as runs of these, so that each
/// table has at most four statements, all prepared once per connection (sqlx caches 100 per
/// connection). 128 rows of `requests` are 4,352 placeholders, well under MySQL's 65,535.
const STATEMENT_ROWS: [usize; 4] = [128, 16, 4, 1];

/// `rows` in runs of [`STATEMENT_ROWS`] rows, the largest that fit first (1,000 rows: 7 × 128,
/// 6 × 16, 2 × 4).
pub(crate) fn in_statement_shapes<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = STATEMENT_ROWS.into_iter().find(|&size| size <= rows.len())?;
        let (run, rest) = rows.split_at(size);
        rows = rest;
        Some(run)
    })
}

/// The migrations in `migrations/`, embedded in the binary and applied at startup.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool that connects on first use, so the proxy starts and forwards while MySQL is down.
pub fn lazy_pool(options: MySqlConnectOptions) -> MySqlPool {
    MySqlPoolOptions::new().max_connections(4).acquire_timeout(Duration::from_secs(3)).connect_lazy_with(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_written_in_the_few_reusable_statement_shapes() {
        let rows: Vec<u32> = (0..500).collect();
        let sizes: Vec<usize> = in_statement_shapes(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [128, 128, 128, 16, 16, 16, 16, 16, 16, 16, 4]);
        let rejoined: Vec<u32> = in_statement_shapes(&rows).flatten().copied().collect();
        assert_eq!(rejoined, rows, "every row once, in order");
        assert_eq!(in_statement_shapes(&rows[..7]).map(<[u32]>::len).collect::<Vec<_>>(), [4, 1, 1, 1]);
        assert_eq!(in_statement_shapes::<u32>(&[]).count(), 0);
    }
}
