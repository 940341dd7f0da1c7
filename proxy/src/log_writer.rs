//! The log pipeline. Request handlers hand a [`RequestRecord`] to a bounded queue and return at once.
//! A journal task appends every record to the spool on local disk (see `spool`), handing what it
//! appended to the operating system at least every flush interval. A store task reads the spool in
//! order, turns records into rows and writes them to MySQL in multi-row INSERTs, one transaction per
//! batch and two batches in flight, then confirms the spool position. While MySQL is down or slow,
//! records wait in the spool, across restarts too; nothing is held only in memory for longer than one
//! flush interval.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pricing::PriceBook;
use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use crate::config::LogWriterConfig;
use crate::conversation::NodeIdSet;
use crate::db;
use crate::metrics::Metrics;
use crate::record::RequestRecord;
use crate::search_block::{self, FULL_BLOCK_REQUESTS};
use crate::spool::{self, Position, SpoolAppender, SpoolReader};
use crate::stored_request::StoredRequest;

mod batch_writer;
use batch_writer::{BatchWriter, Succession};

enum Command {
    Record(Box<RequestRecord>),
    /// Write everything queued before this command to MySQL, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything queued, then stop.
    Shutdown,
}

/// Counters shared between the writer task, the handles and `/health`.
#[derive(Default)]
struct Shared {
    /// False with `LOG_REQUESTS=false`: records are counted in `/metrics`, never kept.
    enabled: bool,
    written: AtomicU64,
    dropped: AtomicU64,
    /// Records in the spool that MySQL does not hold yet (found at start, appended since, minus stored).
    spooled: AtomicU64,
    /// More spooled records than this means MySQL is not keeping up.
    backlog_limit: u64,
    /// Records the database refused even when written alone.
    rejected: AtomicU64,
    migrated: AtomicBool,
    database_error: Mutex<Option<String>>,
    last_drop: Mutex<Option<Instant>>,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Records waiting for a flush at which the journal is woken before its flush interval ends.
    batch_rows: usize,
    /// Ends the journal's wait for more records before the flush interval is over.
    wake_journal: Notify,
    metrics: Metrics,
}

/// What `/health` reports about the pipeline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogWriterStatus {
    pub queued: usize,
    pub queue_capacity: usize,
    pub written: u64,
    pub dropped: u64,
    /// Records kept in the spool file, waiting for MySQL.
    pub spooled: u64,
    pub rejected_by_database: u64,
    pub migrations_applied: bool,
    pub last_database_error: Option<String>,
    /// True when a record was dropped in the last minute, the queue is more than 90 % full, or more
    /// than two batches wait in the spool.
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
    /// A sender whose records land in the returned receiver, for unit tests of the request path.
    #[cfg(test)]
    pub(crate) fn for_tests() -> (LogSender, mpsc::Receiver<impl Sized>) {
        let (commands, receiver) = mpsc::channel(64);
        let shared = Arc::new(Shared { enabled: true, ..Shared::default() });
        (LogSender { commands, shared }, receiver)
    }

    pub fn begin_request(&self) -> InFlight {
        self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { shared: self.shared.clone() }
    }

    /// Queues a record without waiting. A full queue drops it and counts the drop.
    pub fn submit(&self, record: RequestRecord) {
        self.shared.metrics.observe_request(&record);
        if !self.shared.enabled {
            return;
        }
        let reason = match self.commands.try_send(Command::Record(Box::new(record))) {
            Ok(()) => return self.queued_one(),
            Err(mpsc::error::TrySendError::Full(_)) => "queue full",
            Err(mpsc::error::TrySendError::Closed(_)) => "writer stopped",
        };
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        *self.shared.last_drop.lock().unwrap() = Some(Instant::now());
        tracing::error!(reason, "request record dropped");
    }

    /// Queues a record, waiting for room when the queue is full. For tools that replay traffic
    /// (seeding, benchmarks); the request path uses [`LogSender::submit`], which never waits.
    pub async fn send(&self, record: RequestRecord) {
        match self.commands.send(Command::Record(Box::new(record))).await {
            Ok(()) => self.queued_one(),
            Err(_) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Wakes the journal when a batch's worth of records waits for it (see `Journal`): those queued
    /// and the one it holds while it waits, the record that woke it.
    fn queued_one(&self) {
        let queued = self.commands.max_capacity() - self.commands.capacity();
        if queued + 1 >= self.shared.batch_rows {
            self.shared.wake_journal.notify_one();
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
            self.shared.wake_journal.notify_one();
            let _ = wait.await;
        }
    }

    /// `/metrics`: the request, token and cost families and the pipeline's gauges.
    pub fn render_metrics(&self) -> String {
        let status = self.status();
        self.shared.metrics.render(&[
            ("tokenslipper_log_queue_depth", "gauge", "Records queued for the spool.", status.queued as u64),
            ("tokenslipper_log_spooled_records", "gauge", "Records in the spool waiting for MySQL.", status.spooled),
            ("tokenslipper_log_written_total", "counter", "Records written to MySQL.", status.written),
            ("tokenslipper_log_dropped_total", "counter", "Records dropped (queue full).", status.dropped),
            (
                "tokenslipper_log_rejected_total",
                "counter",
                "Records MySQL refused even alone.",
                status.rejected_by_database,
            ),
        ])
    }

    /// Whether the database schema is up to date (the store task applies the migrations).
    pub fn migrations_applied(&self) -> bool {
        self.shared.migrated.load(Ordering::Relaxed)
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
            spooled: self.shared.spooled.load(Ordering::Relaxed),
            rejected_by_database: self.shared.rejected.load(Ordering::Relaxed),
            migrations_applied: self.migrations_applied(),
            last_database_error: self.shared.database_error.lock().unwrap().clone(),
            falling_behind: dropped_recently
                || queued * 10 > capacity * 9
                || self.shared.spooled.load(Ordering::Relaxed) > self.shared.backlog_limit,
        }
    }
}

/// The running pipeline: the journal task (queue → spool) and the store task (spool → MySQL).
pub struct LogWriter {
    sender: LogSender,
    journal: JoinHandle<()>,
    /// Answered when the store thread has stopped.
    store_stopped: oneshot::Receiver<()>,
    /// Tells the store thread to stop where it is (the shutdown deadline passed).
    abandon_store: oneshot::Sender<()>,
}

impl LogWriter {
    /// Opens the spool in `config.spool_dir` and starts both tasks. Records a previous process left
    /// in the spool are written to MySQL first.
    ///
    /// The store task runs on a thread of its own, with its own single-threaded runtime and its own
    /// connections (from `pool`'s settings), at a lower scheduling priority: turning a batch into
    /// rows and encoding its INSERT takes a millisecond or more, which on the serving runtime's
    /// workers held up the requests queued behind it, and when the cores are busy the requests
    /// should get them first — what the writer cannot do at once waits in the spool.
    pub async fn start(pool: MySqlPool, config: LogWriterConfig) -> std::io::Result<Self> {
        let (appender, reader) = spool::open(&config.spool_dir).await?;
        let shared = Arc::new(Shared {
            enabled: config.enabled,
            backlog_limit: 2 * config.batch_max_rows as u64,
            batch_rows: config.batch_max_rows,
            ..Shared::default()
        });
        let backlog_end = appender.position();
        let (commands, receiver) = mpsc::channel(config.queue_capacity);
        let (flushed, flushed_to) = watch::channel(appender.position());
        let (flush_requests, flush_requests_rx) = mpsc::unbounded_channel();
        let journal = Journal {
            appender,
            config: config.clone(),
            shared: shared.clone(),
            flushed,
            flush_requests,
            pending: (0, 0),
        };
        let journal = tokio::spawn(journal.run(receiver));
        let (connect_options, pool_options) = (pool.connect_options(), pool.options().clone());
        let store_shared = shared.clone();
        let (stopped, store_stopped) = oneshot::channel();
        let (abandon_store, abandoned) = oneshot::channel::<()>();
        let (built, runtime_built) = oneshot::channel();
        std::thread::Builder::new().name("log-store".into()).spawn(move || {
            background_priority();
            // One blocking thread: the store's blocking work (reading the spool, turning the next
            // batch into rows, confirming) takes turns on it — a confirmation may wait for the next
            // batch's rows while MySQL writes the current one — and each extra thread kept an
            // allocator heap of its own, partly filled: at c=256 the peak RSS was 10-13 MB higher
            // with tokio's default pool (BENCHMARKS.md, "What each optimisation bought").
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .thread_name("log-store")
                .max_blocking_threads(1)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => return drop(built.send(Err(error))),
            };
            let _ = built.send(Ok(()));
            runtime.block_on(async move {
                // Opened on this runtime, so that its sockets are driven here.
                let pool = pool_options.connect_lazy_with((*connect_options).clone());
                let store = Store {
                    writer: BatchWriter::new(pool, store_shared.clone()),
                    config,
                    shared: store_shared,
                    reader,
                    backlog_end,
                    prices: PriceBook::default(),
                    prices_loaded: None,
                    recent_search_requests: None,
                    merging: None,
                };
                tokio::select! {
                    () = store.run(flushed_to, flush_requests_rx) => {}
                    _ = abandoned => {}
                }
            });
            // Dropping the runtime ends what the store task spawned (the search backfill).
            drop(runtime);
            let _ = stopped.send(());
        })?;
        runtime_built.await.map_err(std::io::Error::other)??;
        Ok(LogWriter { sender: LogSender { commands, shared }, journal, store_stopped, abandon_store })
    }

    pub fn sender(&self) -> LogSender {
        self.sender.clone()
    }

    /// Spools everything queued, then writes the spool to MySQL. Gives up on MySQL after `deadline`
    /// so that a shutdown with MySQL down still ends; what is not written stays in the spool and is
    /// written by the next start.
    pub async fn shutdown(self, deadline: Duration) {
        let _ = self.sender.commands.send(Command::Shutdown).await;
        self.sender.shared.wake_journal.notify_one();
        let _ = self.journal.await;
        if tokio::time::timeout(deadline, self.store_stopped).await.is_err() {
            tracing::warn!(
                spooled = self.sender.status().spooled,
                "log writer: MySQL did not take every record before the shutdown deadline; they stay in the spool for the next start"
            );
            let _ = self.abandon_store.send(());
        }
    }
}

/// Lowers the calling thread's scheduling priority (nice 10), which threads it starts inherit.
#[cfg(target_os = "linux")]
fn background_priority() {
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), LOG_STORE_NICE) {
        tracing::debug!(%error, "log writer: cannot lower the store thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn background_priority() {}

/// Competing with a nice-0 thread for a core, a nice-10 thread gets about a tenth of it (the
/// kernel's weights 110 and 1024); an idle core it gets whole.
#[cfg(target_os = "linux")]
const LOG_STORE_NICE: i32 = 10;

/// Appends queued records to the spool and flushes it every flush interval (or sooner, at the
/// batch limits), then tells the store task how far the spool is readable.
///
/// The first record after a flush wakes the journal; the records that follow it within the flush
/// interval wait in the queue and are taken together at its end (or once a batch's worth waits, or
/// when a flush or the shutdown is asked for). Woken for every record, the journal was a task made
/// runnable per request, and tokio woke the other worker thread for it: a futex call or an eventfd
/// write per request (BENCHMARKS.md, "What each optimisation bought").
struct Journal {
    appender: SpoolAppender,
    config: LogWriterConfig,
    shared: Arc<Shared>,
    flushed: watch::Sender<Position>,
    flush_requests: mpsc::UnboundedSender<(Position, oneshot::Sender<()>)>,
    /// Records and bytes appended since the last flush.
    pending: (usize, u64),
}

/// Where the journal stands after a command.
enum Next {
    /// Records wait to be flushed.
    Pending,
    /// Nothing waits to be flushed.
    Flushed,
    Stopped,
}

impl Journal {
    async fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        loop {
            let Some(first) = receiver.recv().await else { return self.stop(&mut receiver).await };
            match self.handle(first, &mut receiver).await {
                Next::Pending => {}
                Next::Flushed => continue,
                Next::Stopped => return,
            }
            let deadline = tokio::time::Instant::now() + self.config.flush_interval;
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.shared.wake_journal.notified() => {}
            }
            let mut next = Next::Pending;
            // Only what is queued now: senders on the other worker must not keep this loop going.
            for _ in 0..receiver.len() {
                let Ok(command) = receiver.try_recv() else { break };
                next = self.handle(command, &mut receiver).await;
                if let Next::Stopped = next {
                    return;
                }
            }
            if let Next::Pending = next {
                self.flush().await;
            }
        }
    }

    async fn handle(&mut self, command: Command, receiver: &mut mpsc::Receiver<Command>) -> Next {
        match command {
            Command::Record(record) => {
                let before = self.appender.position().offset;
                self.append(&record).await;
                self.pending.0 += 1;
                self.pending.1 += self.appender.position().offset.saturating_sub(before);
                if self.pending.0 >= self.config.batch_max_rows || self.pending.1 >= self.config.batch_max_bytes as u64
                {
                    self.flush().await;
                    return Next::Flushed;
                }
                Next::Pending
            }
            Command::Flush(done) => {
                let end = self.flush().await;
                let _ = self.flush_requests.send((end, done));
                Next::Flushed
            }
            Command::Shutdown => {
                self.stop(receiver).await;
                Next::Stopped
            }
        }
    }

    /// Spools what is still queued, flushes and takes no more.
    async fn stop(&mut self, receiver: &mut mpsc::Receiver<Command>) {
        receiver.close();
        while let Ok(Command::Record(record)) = receiver.try_recv() {
            self.append(&record).await;
        }
        self.flush().await;
    }

    async fn append(&mut self, record: &RequestRecord) {
        match self.appender.append(record).await {
            Ok(()) => {
                self.shared.spooled.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                *self.shared.last_drop.lock().unwrap() = Some(Instant::now());
                tracing::error!(%error, id = %record.id, "spool: cannot append; the record is dropped");
            }
        }
    }

    async fn flush(&mut self) -> Position {
        self.pending = (0, 0);
        match self.appender.flush().await {
            Ok(end) => {
                self.flushed.send_replace(end);
                end
            }
            Err(error) => {
                tracing::error!(%error, "spool: cannot write to disk");
                *self.flushed.borrow()
            }
        }
    }
}

/// Reads the spool in order and writes it to MySQL, retrying until MySQL takes it.
struct Store {
    writer: BatchWriter,
    config: LogWriterConfig,
    shared: Arc<Shared>,
    reader: SpoolReader,
    /// Where the records an earlier process left end (this process appends after it).
    backlog_end: Position,
    /// For the cost in `/metrics`; reloaded every [`PRICES_MAX_AGE`].
    prices: PriceBook,
    prices_loaded: Option<Instant>,
    /// Requests in the text search's recent blocks (`None` until read from MySQL): at
    /// `FULL_BLOCK_REQUESTS` they are merged into one block.
    recent_search_requests: Option<usize>,
    /// The merge of recent search blocks, while one runs.
    merging: Option<JoinHandle<()>>,
}

/// A batch being written: the task writing it (answering how many requests went into recent search
/// blocks), where its records end in the spool and how many there are.
struct Writing {
    task: JoinHandle<usize>,
    next: Position,
    records: u64,
}

const PRICES_MAX_AGE: Duration = Duration::from_secs(60);

impl Store {
    async fn run(
        mut self,
        mut flushed: watch::Receiver<Position>,
        mut flush_requests: mpsc::UnboundedReceiver<(Position, oneshot::Sender<()>)>,
    ) {
        // Counted here, not at start, so that a long backlog does not hold up serving. Only this
        // task takes records off the spool, so the count cannot race its own progress.
        match self.reader.count(self.reader.position(), self.backlog_end).await {
            Ok(0) => {}
            Ok(backlog) => {
                self.shared.spooled.fetch_add(backlog, Ordering::Relaxed);
                tracing::info!(records = backlog, "spool: records from before this start wait for MySQL");
            }
            Err(error) => tracing::warn!(%error, "spool: cannot count the records from before this start"),
        }
        self.writer.migrate_once().await;
        let mut waiting: Vec<(Position, oneshot::Sender<()>)> = Vec::new();
        loop {
            let end = *flushed.borrow_and_update();
            if self.reader.position() < end {
                self.store_up_to(end).await;
            }
            // Answer the flushes whose records MySQL now holds, with their search blocks merged.
            if !waiting.is_empty() {
                self.merged().await;
            }
            let confirmed = self.reader.position();
            let (done, still): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|(at, _)| *at <= confirmed);
            waiting = still;
            for (_, reply) in done {
                let _ = reply.send(());
            }
            // A flush that happened meanwhile wakes `changed()` at once.
            tokio::select! {
                changed = flushed.changed() => {
                    if changed.is_err() {
                        // The journal has stopped: store what it left, then stop.
                        let end = *flushed.borrow();
                        self.store_up_to(end).await;
                        self.merged().await;
                        for (_, reply) in waiting.drain(..) {
                            let _ = reply.send(());
                        }
                        return;
                    }
                }
                Some(request) = flush_requests.recv() => waiting.push(request),
                // A first attempt can fail (MySQL down, another proxy migrating the same database
                // at that moment); retry without waiting for a record to write, so that `/health`
                // and the budget watcher do not wait for traffic.
                () = tokio::time::sleep(Duration::from_secs(1)), if !self.shared.migrated.load(Ordering::Relaxed) => {
                    self.writer.migrate_once().await;
                }
            }
        }
    }

    /// Writes the spool from the confirmed position up to `end`, batch by batch, two at a time: a
    /// batch is written while the one before it still is (see `batch_writer`), and the batch after
    /// them is read and turned into rows (parsing, hashing) on a blocking thread meanwhile, so that
    /// the writer's CPU and MySQL's work overlap. Three batches at most are held at once. The spool
    /// is confirmed in order, each batch once it and every batch before it are stored.
    async fn store_up_to(&mut self, end: Position) {
        let mut from = self.reader.position();
        let mut writing: Option<Writing> = None;
        let mut succession = Succession::default();
        let mut prepared = self.prepare(from, end).await;
        while let Some((rows, next)) = prepared.take() {
            let mut batch = match rows.await {
                Ok(batch) => batch,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            };
            if next == from {
                break;
            }
            prepared = self.prepare(next, end).await;
            let records = batch.len() as u64;
            self.refresh_prices().await;
            self.shared.metrics.observe_usage(&batch, &self.prices);
            let mut order = succession.next(&batch);
            let writer = self.writer.clone();
            let task = tokio::spawn(async move { writer.write(&mut batch, &mut order).await });
            if let Some(older) = writing.replace(Writing { task, next, records }) {
                self.stored(older).await;
            }
            from = next;
        }
        if let Some(last) = writing.take() {
            self.stored(last).await;
        }
    }

    /// Waits until MySQL holds the batch, then confirms its records in the spool.
    async fn stored(&mut self, writing: Writing) {
        let in_recent_blocks = match writing.task.await {
            Ok(requests) => requests,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        if in_recent_blocks > 0 {
            self.note_recent_search_block(in_recent_blocks).await;
        }
        if let Err(error) = self.reader.confirm(writing.next).await {
            // MySQL holds the rows; on a restart they would be offered again and skipped as present.
            tracing::error!(%error, "spool: cannot record the confirmed position");
        }
        // Saturating: if the backlog could not be counted, the figure is low, never wrapped.
        let _ = self
            .shared
            .spooled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(writing.records)));
    }

    /// Reads the batch that starts at `from` and starts turning it into rows; `None` at `end`.
    async fn prepare(&mut self, from: Position, end: Position) -> Option<(JoinHandle<Vec<StoredRequest>>, Position)> {
        if from >= end {
            return None;
        }
        loop {
            match self.reader.read(from, end, self.config.batch_max_rows, self.config.batch_max_bytes).await {
                Ok((records, next)) => {
                    let known_nodes = self.writer.known_nodes.clone();
                    let rows = tokio::task::spawn_blocking(move || {
                        let mut rows: Vec<StoredRequest> =
                            records.into_iter().map(StoredRequest::from_record).collect();
                        // Read the messages of the nodes MySQL does not hold yet here, off the store
                        // task: the first copy of each, the one `insert` writes (turns of one chat in
                        // a batch carry the same nodes); its row sent it, as far as the text search
                        // goes. A node stored meanwhile was read for nothing; one forgotten meanwhile
                        // is read when it is inserted.
                        let new_nodes: Vec<(usize, usize)> = {
                            let known = known_nodes.lock().unwrap();
                            let mut seen = NodeIdSet::default();
                            rows.iter()
                                .enumerate()
                                .flat_map(|(r, row)| {
                                    row.conversation.nodes.iter().enumerate().map(move |(n, node)| (r, n, node))
                                })
                                .filter(|(_, _, node)| !known.contains(&node.id) && seen.insert(node.id))
                                .map(|(r, n, _)| (r, n))
                                .collect()
                        };
                        for &(r, n) in &new_nodes {
                            rows[r].conversation.nodes[n].fields();
                        }
                        search_block::credit_words(&mut rows, &new_nodes);
                        rows
                    });
                    return Some((rows, next));
                }
                Err(error) => {
                    tracing::error!(%error, "spool: cannot read; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Reloads the price table when it is older than a minute; keeps the old one if MySQL does not answer.
    async fn refresh_prices(&mut self) {
        if self.prices_loaded.is_some_and(|at| at.elapsed() < PRICES_MAX_AGE)
            || !self.shared.migrated.load(Ordering::Relaxed)
        {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(2), db::prices::load_price_book(&self.writer.pool)).await {
            Ok(Ok(prices)) => self.prices = prices,
            Ok(Err(error)) => tracing::warn!(%error, "cannot read the price table; /metrics keeps the last prices"),
            Err(_) => tracing::warn!("the price table did not load in 2 s; /metrics keeps the last prices"),
        }
        self.prices_loaded = Some(Instant::now());
    }

    /// Counts a block written to `search_recent`, and starts merging the recent blocks when they
    /// hold enough requests. The merge runs beside the batches being written, one at a time, and
    /// holds no lock they wait for (see `merge_recent_blocks`). A failure is logged and retried after
    /// a later batch: the rows are stored, and a search reads recent blocks too.
    async fn note_recent_search_block(&mut self, requests: usize) {
        if self.merging.as_ref().is_some_and(|merge| !merge.is_finished()) {
            // It changes what there is to count: counted again after it.
            self.recent_search_requests = None;
            return;
        }
        let recent = match self.recent_search_requests {
            Some(recent) => recent + requests,
            None => match db::search_index::recent_requests(&self.writer.pool).await {
                Ok(recent) => recent,
                Err(error) => {
                    tracing::warn!(%error, "cannot count the text search's recent blocks");
                    return;
                }
            },
        };
        self.recent_search_requests = Some(recent);
        if recent < FULL_BLOCK_REQUESTS {
            return;
        }
        let pool = self.writer.pool.clone();
        self.merging = Some(tokio::spawn(async move {
            match db::search_index::merge_recent_blocks(&pool).await {
                Ok(merged) => tracing::debug!(merged, "text search: recent blocks merged"),
                Err(error) => tracing::warn!(%error, "cannot merge the text search's recent blocks; retrying later"),
            }
        }));
        // Another proxy may have merged them, or added its own: count again next time.
        self.recent_search_requests = None;
    }

    /// Waits for the merge of recent search blocks, if one is running.
    async fn merged(&mut self) {
        if let Some(merge) = self.merging.take() {
            if let Err(error) = merge.await {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}
