//! Writes one batch of rows to MySQL in one transaction, retrying until MySQL takes it. The store
//! task (see `log_writer`) starts writing a batch while the batch before it is still being written:
//! on one connection the writer encodes statements and compresses messages while MySQL executes the
//! other batch's statements on another, instead of the two taking turns.
//!
//! Two batches in flight never wait for each other in a cycle: both take their row locks in the
//! same order — message nodes in id order, the hourly rollups in key order (after the nodes) — and
//! their request rows and search blocks have keys of their own. A batch that inserts a node the other
//! is inserting waits for that one's commit.
//!
//! The text search credits a message to the first request that sent it, by asking MySQL which of a
//! batch's messages it held already. So a batch starts its transaction only once the batch before
//! it has asked (a later batch cannot have stored its messages by then), keeps that answer across
//! retries, and counts the messages the batch before it sent as held (it may not have committed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::MySqlPool;
use tokio::sync::oneshot;

use super::Shared;
use crate::conversation::{MessageNode, NodeId, NodeIdSet};
use crate::db;
use crate::rollup::HourlyRollup;
use crate::search_backfill;
use crate::search_block::SearchBlock;
use crate::stored_request::StoredRequest;

/// Consecutive failures of one batch, with the database answering, before its rows are tried alone.
const POISON_SUSPECT_AFTER: u32 = 3;

/// How many node ids the writer remembers as already stored, to skip re-sending a long history.
const KNOWN_NODES_CAPACITY: usize = 50_000;

/// A batch's place among the batches in flight (see the module's comment).
pub(super) struct InOrder {
    /// The messages the batch before this one sent first: MySQL may not hold them yet.
    earlier_sent: Arc<NodeIdSet>,
    /// Answered (or dropped) once the batch before this one has read which messages MySQL held.
    earlier_read: Option<oneshot::Receiver<()>>,
    /// Answered once this batch has.
    read: Option<oneshot::Sender<()>>,
    /// The messages this batch's requests may have sent first, not counting `earlier_sent`.
    sent: Vec<NodeId>,
    /// Which of them were stored before this batch, with `earlier_sent`: read in its first
    /// transaction and kept for retries.
    stored_before: Option<NodeIdSet>,
}

/// Hands each batch, in spool order, what it needs of the batch before it.
#[derive(Default)]
pub(super) struct Succession {
    last_sent: Arc<NodeIdSet>,
    last_read: Option<oneshot::Receiver<()>>,
}

impl Succession {
    pub(super) fn next(&mut self, batch: &[StoredRequest]) -> InOrder {
        let sent: NodeIdSet =
            batch.iter().flat_map(|row| row.sent_message_words.iter().map(|(node, _)| *node)).collect();
        let earlier_sent = std::mem::replace(&mut self.last_sent, Arc::new(sent));
        let sent = self.last_sent.iter().filter(|&node| !earlier_sent.contains(node)).copied().collect();
        let (read, next_may_start) = oneshot::channel();
        InOrder {
            earlier_sent,
            earlier_read: self.last_read.replace(next_may_start),
            read: Some(read),
            sent,
            stored_before: None,
        }
    }
}

/// What writing a batch needs. Cheap to clone: each batch in flight has a copy.
#[derive(Clone)]
pub(super) struct BatchWriter {
    pub(super) pool: MySqlPool,
    shared: Arc<Shared>,
    /// Shared with the blocking threads that turn records into rows, so that they read only the
    /// messages of nodes not stored yet (see `Store::prepare`).
    pub(super) known_nodes: Arc<Mutex<NodeIdSet>>,
    /// Set while MySQL refuses writes, to log the outage and the recovery once each.
    was_down: Arc<AtomicBool>,
}

impl BatchWriter {
    pub(super) fn new(pool: MySqlPool, shared: Arc<Shared>) -> Self {
        BatchWriter { pool, shared, known_nodes: Arc::default(), was_down: Arc::default() }
    }

    /// Applies migrations if they are not applied yet. Returns whether the schema is ready.
    pub(super) async fn migrate_once(&self) -> bool {
        if self.shared.migrated.load(Ordering::Relaxed) {
            return true;
        }
        match settings::apply_migrations(&self.pool).await {
            Ok(()) => {
                // Two batches can get here at once; one starts the backfill.
                if !self.shared.migrated.swap(true, Ordering::Relaxed) {
                    tracing::info!("database migrations applied");
                    tokio::spawn(search_backfill::run(self.pool.clone()));
                }
                true
            }
            Err(error) => {
                self.note_database_error(&format!("migrations not applied: {error}"));
                false
            }
        }
    }

    /// Writes the batch, retrying with backoff until the database takes it. A batch that keeps
    /// failing while the database answers holds a row it will never accept (a value it rejects, a
    /// row over `max_allowed_packet`): then rows are written one by one and only those are given up.
    /// Returns how many requests went into the text search's recent blocks.
    pub(super) async fn write(&self, batch: &mut Vec<StoredRequest>, order: &mut InOrder) -> usize {
        if let Some(earlier_read) = order.earlier_read.take() {
            let _ = earlier_read.await;
        }
        if batch.is_empty() {
            return 0;
        }
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0;
        loop {
            if self.migrate_once().await {
                match self.insert(batch, order).await {
                    Ok(recent) => {
                        self.shared.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        *self.shared.database_error.lock().unwrap() = None;
                        if self.was_down.swap(false, Ordering::Relaxed) {
                            let spooled = self.shared.spooled.load(Ordering::Relaxed);
                            tracing::info!(spooled, "log writer: MySQL takes records again; writing the spooled ones");
                        }
                        batch.clear();
                        return recent;
                    }
                    Err(error) => {
                        if !self.was_down.swap(true, Ordering::Relaxed) {
                            let spooled = self.shared.spooled.load(Ordering::Relaxed);
                            tracing::warn!(spooled, "log writer: MySQL does not take records; they wait in the spool");
                        }
                        self.note_database_error(&format!("insert failed: {error}"));
                        failures += 1;
                        if failures >= POISON_SUSPECT_AFTER && self.database_answers().await {
                            return self.write_one_by_one(std::mem::take(batch), order).await;
                        }
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn write_one_by_one(&self, batch: Vec<StoredRequest>, order: &mut InOrder) -> usize {
        let mut recent = 0;
        for row in batch {
            let rows = std::slice::from_ref(&row);
            match self.insert(rows, order).await {
                Ok(in_recent) => {
                    self.shared.written.fetch_add(1, Ordering::Relaxed);
                    recent += in_recent;
                }
                Err(error) if self.database_answers().await => {
                    self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(id = %uuid::Uuid::from_bytes(row.id), %error, "the database rejects this record; it is dropped");
                }
                // The database went away meanwhile: back to retrying, this row with it.
                Err(_) => recent += Box::pin(self.write(&mut vec![row], order)).await,
            }
        }
        recent
    }

    async fn database_answers(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// One transaction: the batch's new message nodes, its rows, their hourly rollups and their
    /// search block. Returns how many requests went into a recent search block.
    async fn insert(&self, batch: &[StoredRequest], order: &mut InOrder) -> sqlx::Result<usize> {
        let mut seen = NodeIdSet::default();
        let mut new_nodes: Vec<&MessageNode> = {
            let known = self.known_nodes.lock().unwrap();
            batch
                .iter()
                .flat_map(|row| row.conversation.nodes.iter())
                .filter(|node| !known.contains(&node.id) && seen.insert(node.id))
                .collect()
        };
        // The lock order both batches in flight keep (see the module's comment).
        new_nodes.sort_unstable_by_key(|node| node.id);
        let mut tx = self.pool.begin().await?;
        // The messages a request may have sent first, for the text search: those MySQL holds
        // already were sent by an earlier request (the writer forgot them, or another proxy wrote
        // them), as were those the batch in flight before this one sent.
        if order.stored_before.is_none() {
            let mut stored_before = db::message_nodes::stored_ids(&mut tx, &order.sent).await?;
            stored_before.extend(order.earlier_sent.iter().copied());
            order.stored_before = Some(stored_before);
            if let Some(read) = order.read.take() {
                let _ = read.send(());
            }
        }
        let stored_before = order.stored_before.as_ref().expect("read above");
        db::message_nodes::insert_message_nodes(&mut tx, &new_nodes).await?;
        let (rollup, search_block) = match db::requests::insert_request_batch(&mut tx, batch).await {
            Ok(()) => (HourlyRollup::of(batch), SearchBlock::of(batch, stored_before)),
            // Some rows are stored already: a replay of a batch whose commit was not acknowledged.
            // Insert the others one by one and count only those.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                tx.rollback().await?;
                tx = self.pool.begin().await?;
                db::message_nodes::insert_message_nodes(&mut tx, &new_nodes).await?;
                let mut inserted = Vec::with_capacity(batch.len());
                for row in batch {
                    if db::requests::insert_request_if_absent(&mut tx, row).await? {
                        inserted.push(row);
                    }
                }
                (HourlyRollup::of(inserted.iter().copied()), SearchBlock::of(inserted, stored_before))
            }
            Err(error) => return Err(error),
        };
        db::rollups::add_hourly_rollup(&mut tx, &rollup).await?;
        if let Some(block) = &search_block {
            db::search_index::insert_search_block(&mut tx, block).await?;
        }
        tx.commit().await?;
        {
            let mut known = self.known_nodes.lock().unwrap();
            if known.len() + seen.len() > KNOWN_NODES_CAPACITY {
                known.clear();
            }
            known.extend(seen);
        }
        Ok(search_block.filter(|block| !block.is_full()).map_or(0, |block| block.request_ids.len()))
    }

    pub(super) fn note_database_error(&self, message: &str) {
        let mut last = self.shared.database_error.lock().unwrap();
        if last.as_deref() != Some(message) {
            tracing::warn!(error = message, "log writer cannot reach the database; will retry");
        }
        *last = Some(message.to_string());
    }
}
