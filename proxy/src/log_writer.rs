//! The log pipeline. Request handlers hand a [`RequestRecord`] to a bounded queue and return at once;
//! one writer task turns records into rows and writes them in multi-row INSERTs, one transaction per
//! batch, flushed when the batch reaches a row count or a byte size or has waited a flush interval.
//! When MySQL is down the writer keeps retrying the batch it holds; meanwhile the queue absorbs new
//! records, and what does not fit is counted as dropped (the reliability issue adds a spool file).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use crate::config::LogWriterConfig;
use crate::conversation::{MessageNode, NodeId};
use crate::db;
use crate::record::RequestRecord;
use crate::rollup::HourlyRollup;
use crate::stored_request::StoredRequest;

enum Command {
    Record(Box<RequestRecord>),
    /// Write everything queued before this command, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything queued, then stop.
    Shutdown,
}

/// Counters shared between the writer task, the handles and `/health`.
#[derive(Default)]
struct Shared {
    written: AtomicU64,
    dropped: AtomicU64,
    /// Records the database refused even when written alone.
    rejected: AtomicU64,
    migrated: AtomicBool,
    database_error: Mutex<Option<String>>,
    last_drop: Mutex<Option<Instant>>,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// What `/health` reports about the pipeline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogWriterStatus {
    pub queued: usize,
    pub queue_capacity: usize,
    pub written: u64,
    pub dropped: u64,
    pub rejected_by_database: u64,
    pub migrations_applied: bool,
    pub last_database_error: Option<String>,
    /// True when a record was dropped in the last minute or the queue is more than 90 % full.
    pub falling_behind: bool,
}

/// The request path's handle on the pipeline. Cheap to clone.
#[derive(Clone)]
pub struct LogSender {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

/// Marks a request whose record is not submitted yet, so that [`LogSender::flush`] can wait for it.
pub struct InFlight {
    shared: Arc<Shared>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.shared.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}

impl LogSender {
    pub fn begin_request(&self) -> InFlight {
        self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { shared: self.shared.clone() }
    }

    /// Queues a record without waiting. A full queue drops it and counts the drop.
    pub fn submit(&self, record: RequestRecord) {
        if let Err(error) = self.commands.try_send(Command::Record(Box::new(record))) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            *self.shared.last_drop.lock().unwrap() = Some(Instant::now());
            let reason = match error {
                mpsc::error::TrySendError::Full(_) => "queue full",
                mpsc::error::TrySendError::Closed(_) => "writer stopped",
            };
            tracing::error!(reason, "request record dropped");
        }
    }

    /// Queues a record, waiting for room when the queue is full. For tools that replay traffic
    /// (seeding, benchmarks); the request path uses [`LogSender::submit`], which never waits.
    pub async fn send(&self, record: RequestRecord) {
        if self.commands.send(Command::Record(Box::new(record))).await.is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until no request is still in progress and everything queued is written. For tests and
    /// tools; the request path never calls it.
    pub async fn flush(&self) {
        loop {
            // Register for the wake-up before checking, so a request finishing in between is not missed.
            let mut idle = std::pin::pin!(self.shared.idle.notified());
            idle.as_mut().enable();
            if self.shared.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            idle.await;
        }
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    pub fn status(&self) -> LogWriterStatus {
        let capacity = self.commands.max_capacity();
        let queued = capacity - self.commands.capacity();
        let dropped_recently =
            self.shared.last_drop.lock().unwrap().is_some_and(|t| t.elapsed() < Duration::from_secs(60));
        LogWriterStatus {
            queued,
            queue_capacity: capacity,
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            rejected_by_database: self.shared.rejected.load(Ordering::Relaxed),
            migrations_applied: self.shared.migrated.load(Ordering::Relaxed),
            last_database_error: self.shared.database_error.lock().unwrap().clone(),
            falling_behind: dropped_recently || queued * 10 > capacity * 9,
        }
    }
}

/// The running writer task.
pub struct LogWriter {
    sender: LogSender,
    task: JoinHandle<()>,
}

impl LogWriter {
    pub fn start(pool: MySqlPool, config: LogWriterConfig) -> Self {
        let (commands, receiver) = mpsc::channel(config.queue_capacity);
        let shared = Arc::new(Shared::default());
        let worker = Worker { pool, config, shared: shared.clone(), known_nodes: HashSet::new() };
        let task = tokio::spawn(worker.run(receiver));
        LogWriter { sender: LogSender { commands, shared }, task }
    }

    pub fn sender(&self) -> LogSender {
        self.sender.clone()
    }

    /// Writes everything queued and stops. Gives up on the database after `deadline` so that a
    /// shutdown with MySQL down still ends.
    pub async fn shutdown(self, deadline: Duration) {
        let _ = self.sender.commands.send(Command::Shutdown).await;
        if tokio::time::timeout(deadline, self.task).await.is_err() {
            tracing::error!(
                queued = self.sender.status().queued,
                "log writer could not finish before the shutdown deadline; unwritten records are lost"
            );
        }
    }
}

/// Consecutive failures of one batch, with the database answering, before its rows are tried alone.
const POISON_SUSPECT_AFTER: u32 = 3;

/// How many node ids the writer remembers as already stored, to skip re-sending a long history.
const KNOWN_NODES_CAPACITY: usize = 50_000;

struct Worker {
    pool: MySqlPool,
    config: LogWriterConfig,
    shared: Arc<Shared>,
    known_nodes: HashSet<NodeId>,
}

impl Worker {
    async fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        self.migrate_once().await;
        let mut batch: Vec<StoredRequest> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let command = match deadline {
                Some(at) => match tokio::time::timeout_at(at, receiver.recv()).await {
                    Ok(command) => command,
                    Err(_elapsed) => {
                        self.write(&mut batch).await;
                        (batch_bytes, deadline) = (0, None);
                        continue;
                    }
                },
                None => receiver.recv().await,
            };
            match command {
                Some(Command::Record(record)) => {
                    let row = StoredRequest::from_record(*record);
                    batch_bytes += row.approximate_size();
                    batch.push(row);
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + self.config.flush_interval);
                    if batch.len() >= self.config.batch_max_rows || batch_bytes >= self.config.batch_max_bytes {
                        self.write(&mut batch).await;
                        (batch_bytes, deadline) = (0, None);
                    }
                }
                Some(Command::Flush(done)) => {
                    self.write(&mut batch).await;
                    (batch_bytes, deadline) = (0, None);
                    let _ = done.send(());
                }
                Some(Command::Shutdown) | None => {
                    receiver.close();
                    while let Ok(Command::Record(record)) = receiver.try_recv() {
                        batch.push(StoredRequest::from_record(*record));
                    }
                    self.write(&mut batch).await;
                    return;
                }
            }
        }
    }

    /// Applies migrations if they are not applied yet. Returns whether the schema is ready.
    async fn migrate_once(&mut self) -> bool {
        if self.shared.migrated.load(Ordering::Relaxed) {
            return true;
        }
        match db::MIGRATOR.run(&self.pool).await {
            Ok(()) => {
                self.shared.migrated.store(true, Ordering::Relaxed);
                tracing::info!("database migrations applied");
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
    async fn write(&mut self, batch: &mut Vec<StoredRequest>) {
        if batch.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0;
        loop {
            if self.migrate_once().await {
                match self.insert(batch).await {
                    Ok(()) => {
                        self.shared.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        *self.shared.database_error.lock().unwrap() = None;
                        batch.clear();
                        return;
                    }
                    Err(error) => {
                        self.note_database_error(&format!("insert failed: {error}"));
                        failures += 1;
                        if failures >= POISON_SUSPECT_AFTER && self.database_answers().await {
                            self.write_one_by_one(std::mem::take(batch)).await;
                            return;
                        }
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn write_one_by_one(&mut self, batch: Vec<StoredRequest>) {
        for row in batch {
            let rows = std::slice::from_ref(&row);
            if let Err(error) = self.insert(rows).await {
                if self.database_answers().await {
                    self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(id = %uuid::Uuid::from_bytes(row.id), %error, "the database rejects this record; it is dropped");
                    continue;
                }
                // The database went away meanwhile: back to retrying, this row and the rest with it.
                let mut rest = vec![row];
                Box::pin(self.write(&mut rest)).await;
                continue;
            }
            self.shared.written.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn database_answers(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    async fn insert(&mut self, batch: &[StoredRequest]) -> sqlx::Result<()> {
        let mut seen: HashSet<NodeId> = HashSet::new();
        let new_nodes: Vec<&MessageNode> = batch
            .iter()
            .flat_map(|row| row.conversation.nodes.iter())
            .filter(|node| !self.known_nodes.contains(&node.id) && seen.insert(node.id))
            .collect();
        let mut tx = self.pool.begin().await?;
        db::message_nodes::insert_message_nodes(&mut tx, &new_nodes).await?;
        let rollup = match db::requests::insert_request_batch(&mut tx, batch).await {
            Ok(()) => HourlyRollup::of(batch),
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
                HourlyRollup::of(inserted)
            }
            Err(error) => return Err(error),
        };
        db::rollups::add_hourly_rollup(&mut tx, &rollup).await?;
        tx.commit().await?;
        if self.known_nodes.len() + seen.len() > KNOWN_NODES_CAPACITY {
            self.known_nodes.clear();
        }
        self.known_nodes.extend(seen);
        Ok(())
    }

    fn note_database_error(&self, message: &str) {
        let mut last = self.shared.database_error.lock().unwrap();
        if last.as_deref() != Some(message) {
            tracing::warn!(error = message, "log writer cannot reach the database; will retry");
        }
        *last = Some(message.to_string());
    }
}
