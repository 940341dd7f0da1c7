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

use std::sync::OnceLock;
use std::time::Duration;

use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::Arguments;

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

/// A multi-row INSERT's text for each of [`STATEMENT_ROWS`], built once per process. Building it
/// with `QueryBuilder` for every batch formatted each placeholder and separator anew (`fmt::write`
/// per bound value, the text and the arguments grown by reallocation): ~3 % of the log writer's
/// instructions with 1 KB records (callgrind).
pub(crate) struct MultiRowInsert {
    /// `INSERT INTO t (a, b) `: everything before `VALUES`.
    head: &'static str,
    columns: usize,
    /// What follows the rows (` ON DUPLICATE KEY UPDATE …`), or nothing.
    tail: &'static str,
    texts: [OnceLock<String>; STATEMENT_ROWS.len()],
}

impl MultiRowInsert {
    /// `head` names the columns, each bound in turn per row.
    pub(crate) const fn new(head: &'static str, tail: &'static str) -> Self {
        // As many columns as the list names: one more than its commas.
        let (bytes, mut i, mut columns) = (head.as_bytes(), 0, 1);
        while i < bytes.len() {
            columns += (bytes[i] == b',') as usize;
            i += 1;
        }
        MultiRowInsert { head, columns, tail, texts: [const { OnceLock::new() }; STATEMENT_ROWS.len()] }
    }

    /// `rows` in runs of the statement shapes, each with its statement.
    pub(crate) fn runs<'a, T>(&'a self, rows: &'a [T]) -> impl Iterator<Item = (&'a [T], &'a str)> {
        in_statement_shapes(rows).map(|run| (run, self.sql(run.len())))
    }

    /// The statement for a run of `rows` rows from [`in_statement_shapes`].
    fn sql(&self, rows: usize) -> &str {
        let shape = STATEMENT_ROWS.iter().position(|&n| n == rows).expect("runs come from in_statement_shapes");
        self.texts[shape].get_or_init(|| {
            let row = format!("({})", vec!["?"; self.columns].join(", "));
            format!("{}VALUES {}{}", self.head, vec![row; rows].join(", "), self.tail)
        })
    }

    /// Arguments with room for `rows` rows of about `bytes` bytes of values in all.
    pub(crate) fn arguments(&self, rows: usize, bytes: usize) -> MySqlArguments {
        let mut arguments = MySqlArguments::default();
        arguments.reserve(rows * self.columns, bytes);
        arguments
    }
}

/// Adds each value to the arguments in turn; an error fails the statement (where `QueryBuilder`
/// panicked).
macro_rules! bind_all {
    ($arguments:expr; $($value:expr),+ $(,)?) => {{
        use sqlx::Arguments as _;
        $( $arguments.add($value).map_err(sqlx::Error::Encode)?; )+
    }};
}
pub(crate) use bind_all;

/// `sql`, which ends in `IN (`, with these byte strings (ids) bound and the list closed.
pub(crate) fn in_list<'a>(sql: &str, values: &'a [impl AsRef<[u8]>]) -> sqlx::QueryBuilder<'a, sqlx::MySql> {
    let mut query = sqlx::QueryBuilder::new(sql);
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value.as_ref());
    }
    query.push(")");
    query
}

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

    #[test]
    fn a_multi_row_insert_has_a_placeholder_per_column_and_row_in_each_shape() {
        let insert = MultiRowInsert::new("INSERT INTO t (a, b, c) ", " ON DUPLICATE KEY UPDATE a = a");
        assert_eq!(insert.sql(1), "INSERT INTO t (a, b, c) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE a = a");
        assert_eq!(
            insert.sql(4),
            "INSERT INTO t (a, b, c) VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?), (?, ?, ?) ON DUPLICATE KEY UPDATE a = a"
        );
        for rows in STATEMENT_ROWS {
            assert_eq!(insert.sql(rows).matches('?').count(), 3 * rows);
            assert!(std::ptr::eq(insert.sql(rows), insert.sql(rows)), "built once");
        }
        let rows: Vec<u32> = (0..21).collect();
        let runs: Vec<(usize, usize)> =
            insert.runs(&rows).map(|(run, sql)| (run.len(), sql.matches('?').count())).collect();
        assert_eq!(runs, [(16, 48), (4, 12), (1, 3)]);
    }
}
