//! The `growth` part (`bench --only growth`): the log writer into one database run after run, so
//! that each run starts where the last one stopped and the table says how the writer holds up as
//! its tables outgrow InnoDB's buffer pool (BENCHMARKS.md, "The log writer as its tables grow").
//! Every record is a new conversation with a 1 KB question, as in the `writer` part.

use std::fmt::Write;

use sqlx::MySqlPool;

use crate::contenders::Workspace;
use crate::options::Options;
use crate::run::{fresh_database, writer_process, writer_prose_file};

const DATABASE: &str = "ts_bench_growth";

pub async fn log_writer_growth(options: &Options, workspace: &Workspace, server: &MySqlPool) -> Result<String, String> {
    let (runs, count) =
        if options.quick { (options.growth_runs.min(2), 1_000) } else { (options.growth_runs, 250_000) };
    let prose_file = writer_prose_file(options, workspace)?;
    let url = fresh_database(server, &options.mysql, DATABASE).await?;
    let buffer_pool: u64 = sqlx::query_scalar("SELECT @@innodb_buffer_pool_size")
        .fetch_one(server)
        .await
        .map_err(|e| format!("innodb_buffer_pool_size: {e}"))?;
    let mut out = format!(
        "## Log writer as its tables grow (1 KB bodies, every record a new conversation, {count} records a run, \
         InnoDB buffer pool {} MB)\n\n\
         | rows before the run | records/s | MariaDB CPU per record | writer CPU per record |\n\
         |---:|---:|---:|---:|\n",
        buffer_pool >> 20
    );
    for run in 0..runs {
        // Each run also writes one record numbered past its own before it starts the clock.
        let rows_before = run * (count + 1);
        let spool = workspace.dir.join(format!("growth-spool-{run}"));
        let result = writer_process(workspace, &url, rows_before + 1, count, 1024, &spool, &prose_file).await?;
        let _ = std::fs::remove_dir_all(&spool);
        let per_record = |cpu: std::time::Duration| cpu.as_secs_f64() * 1e6 / result.rows as f64;
        let line = format!(
            "| {rows_before} | {:.0} | {:.0} µs | {:.0} µs |",
            result.rows as f64 / result.elapsed.as_secs_f64(),
            per_record(result.database_cpu),
            per_record(result.writer_cpu),
        );
        eprintln!("bench: growth {line}");
        let _ = writeln!(out, "{line}");
    }
    match largest_indexes(server).await {
        Ok(indexes) => {
            let _ = writeln!(out, "\n- largest indexes at the end, MB: {indexes}");
        }
        Err(error) => {
            let _ = writeln!(out, "\n- index sizes unavailable: {error}");
        }
    }
    let statement = format!("DROP DATABASE `{DATABASE}`");
    sqlx::query(&statement).execute(server).await.map_err(|e| format!("{statement}: {e}"))?;
    out.push('\n');
    Ok(out)
}

/// The growth database's eight largest indexes (InnoDB's persistent statistics, refreshed first).
async fn largest_indexes(server: &MySqlPool) -> Result<String, sqlx::Error> {
    for table in ["requests", "message_nodes", "search_postings"] {
        sqlx::raw_sql(&format!("ANALYZE TABLE `{DATABASE}`.`{table}`")).execute(server).await?;
    }
    let sizes: Vec<(String, String, u64)> = sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(index_name AS CHAR), CAST(stat_value * @@innodb_page_size AS UNSIGNED) \
         FROM mysql.innodb_index_stats WHERE database_name = ? AND stat_name = 'size' ORDER BY stat_value DESC LIMIT 8",
    )
    .bind(DATABASE)
    .fetch_all(server)
    .await?;
    Ok(sizes
        .iter()
        .map(|(table, index, bytes)| format!("`{table}.{index}` {:.1}", *bytes as f64 / 1e6))
        .collect::<Vec<_>>()
        .join(", "))
}
