//! The log writer alone: how many request records per second it moves from the queue, through the
//! spool, into MariaDB — each record a distinct conversation with a body of the given size, its text
//! cut from real prose (the writer compresses long texts: a repeated sentence would flatter it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proxy::config::{Config, LogWriterConfig};
use proxy::log_writer::LogWriter;
use proxy::record::{Outcome, RequestRecord, ResponseCapture};
use sqlx::mysql::MySqlPoolOptions;

use crate::process_stats::{self, cpu_time_of as cpu};
use crate::wire_shapes;

pub struct WriterRun {
    pub rows: u64,
    pub elapsed: Duration,
    /// CPU the writer (this process) and the database server spent meanwhile.
    pub writer_cpu: Duration,
    pub database_cpu: Duration,
}

/// Writes `count` records of about `body_bytes` each into `database_url` with the proxy's default
/// writer settings, on a runtime of the proxy's shape (two workers). The records are numbered from
/// `first` (each number its own conversation): an empty database takes them from 1, and a run that
/// goes on from where an earlier one stopped measures the writer into tables that have grown.
pub fn run(
    database_url: &str,
    first: u64,
    count: u64,
    body_bytes: usize,
    spool_dir: std::path::PathBuf,
    prose: &str,
) -> Result<WriterRun, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .connect(database_url)
            .await
            .map_err(|e| format!("writer benchmark: {e}"))?;
        // The proxy's own defaults (batch size, flush interval, queue), only the spool elsewhere.
        let defaults = Config::from_vars(&HashMap::new()).map_err(|e| e.to_string())?;
        let config = LogWriterConfig { spool_dir, ..defaults.log_writer };
        let writer = LogWriter::start(pool.clone(), config).await.map_err(|e| e.to_string())?;
        let sender = writer.sender();
        // Migrations first, so that the timing is of writing only: a record of its own, numbered
        // past the run's.
        sender.send(record(first + count, body_bytes, prose)).await;
        sender.flush().await;
        let count_rows = || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM requests").fetch_one(&pool);
        let rows_before = count_rows().await.map_err(|e| e.to_string())?;
        let records: Vec<RequestRecord> = (first..first + count).map(|n| record(n, body_bytes, prose)).collect();
        let database = process_stats::database_server();
        let (writer_before, database_before) = (cpu(Some(std::process::id())), cpu(database));
        let began = Instant::now();
        for record in records {
            sender.send(record).await;
        }
        sender.flush().await;
        let elapsed = began.elapsed();
        let writer_cpu = cpu(Some(std::process::id())).saturating_sub(writer_before);
        let database_cpu = cpu(database).saturating_sub(database_before);
        writer.shutdown(Duration::from_secs(30)).await;
        let rows = count_rows().await.map_err(|e| e.to_string())?;
        if rows - rows_before != count as i64 {
            return Err(format!("writer benchmark: {count} records written, MySQL holds {} more", rows - rows_before));
        }
        Ok(WriterRun { rows: count, elapsed, writer_cpu, database_cpu })
    })
}

/// The nearest index at or before `at` where a character of `text` starts (`str::floor_char_boundary`
/// is newer than the workspace's minimum Rust).
fn char_start_at_or_before(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn record(n: u64, body_bytes: usize, prose: &str) -> RequestRecord {
    let mut record = RequestRecord::new("POST", "/v1/chat/completions");
    // A different stretch of the prose for each record, so no two records share a text.
    let want = body_bytes.saturating_sub(200).min(prose.len());
    let start = char_start_at_or_before(prose, (n as usize).wrapping_mul(7_919) % (prose.len() - want + 1));
    let end = char_start_at_or_before(prose, start + want);
    let question = format!("Question {n}: {}", &prose[start..end]);
    record.request_body = Bytes::from(
        serde_json::json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are a careful senior engineer."},
                {"role": "user", "content": question},
            ],
        })
        .to_string(),
    );
    record.client_model = Some("gpt-4o".into());
    record.upstream_model = Some("claude-sonnet-4-5".into());
    record.http_status = 200;
    record.outcome = Outcome::Ok;
    record.latency = Duration::from_millis(420);
    record.time_to_first_byte = Some(Duration::from_millis(380));
    record.client_ip = Some("127.0.0.1".into());
    record.response = ResponseCapture::Body(wire_shapes::completion("claude-sonnet-4-5"));
    record
}
