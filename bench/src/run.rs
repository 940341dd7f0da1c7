//! One benchmark run: start the contenders, run the rounds, the log writer and the storage replay,
//! check that nothing was lost, and print the report.

use std::fmt::Write;
use std::time::Duration;

use sqlx::mysql::MySqlPoolOptions;
use sqlx::MySqlPool;

use crate::contenders::{Contender, Kind, Workspace};
use crate::mock_upstream::ReplyShape;
use crate::options::Options;
use crate::report::{Figure, Report};
use crate::scenarios::{self, Ledger, Plan};
use bench::process_stats;
use bench::writer_bench::WriterRun;

use crate::growth;
use crate::storage;

pub fn harness(options: Options) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(options))
}

/// A fresh, empty database on the server; returns its URL.
pub(crate) async fn fresh_database(server: &MySqlPool, mysql: &str, name: &str) -> Result<String, String> {
    for statement in [format!("DROP DATABASE IF EXISTS `{name}`"), format!("CREATE DATABASE `{name}`")] {
        sqlx::query(&statement).execute(server).await.map_err(|e| format!("{statement}: {e}"))?;
    }
    Ok(format!("{mysql}/{name}"))
}

async fn connect(url: &str) -> Result<MySqlPool, String> {
    MySqlPoolOptions::new().max_connections(2).connect(url).await.map_err(|e| format!("{url}: {e}"))
}

/// Waits until TokenSlipper has applied every migration it carries (the storage figure's "before"
/// must see every table).
async fn migrated(pool: &MySqlPool) -> Result<(), String> {
    let migrations = settings::MIGRATOR.iter().count() as i64;
    for _ in 0..600 {
        let applied: Result<i64, _> =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await;
        if applied.is_ok_and(|applied| applied >= migrations) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("TokenSlipper did not apply its migrations within 30 s".into())
}

async fn run(options: Options) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tokenslipper-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bin_dir = std::env::current_exe().map_err(|e| e.to_string())?.parent().map(Into::into).unwrap_or_default();
    let workspace = Workspace { dir: dir.clone(), bin_dir, proxy_threads: options.proxy_threads };
    eprintln!("bench: children's logs in {}", dir.display());
    let server = connect(&options.mysql).await?;
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", machine_line(&options));

    let upstream = workspace.mock_upstream().await?;
    if options.runs("request-path") {
        let report = request_path(&options, &workspace, &server, &upstream).await?;
        out.push_str(&report);
    }
    if options.runs("writer") {
        out.push_str(&log_writer(&options, &workspace, &server).await?);
    }
    if options.runs("storage") {
        out.push_str(&storage_replay(&options, &workspace, &server, &upstream).await?);
    }
    if options.runs("growth") {
        out.push_str(&growth::log_writer_growth(&options, &workspace, &server).await?);
    }
    println!("{out}");
    if let Some(path) = &options.out {
        std::fs::write(path, &out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn machine_line(options: &Options) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!(
        "Machine: {cores} cores ({cpu}); {} round(s){}; proxy runtime threads: {}.",
        options.rounds,
        if options.quick { ", --quick" } else { "" },
        options.proxy_threads.map(|n| n.to_string()).unwrap_or("default".into())
    )
}

async fn request_path(
    options: &Options,
    workspace: &Workspace,
    server: &MySqlPool,
    upstream: &Contender,
) -> Result<String, String> {
    let plan = if options.quick {
        Plan {
            rounds: 1,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            paced_streams: 3,
            open_streams: 50,
            open_stream_shape: ReplyShape { words: 10, pace: Duration::from_millis(20) },
        }
    } else {
        Plan {
            rounds: options.rounds,
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(3),
            paced_streams: 20,
            open_streams: 1000,
            open_stream_shape: ReplyShape { words: 30, pace: Duration::from_millis(100) },
        }
    };
    let logged_url = fresh_database(server, &options.mysql, "ts_bench_logged").await?;
    let unlogged_url = fresh_database(server, &options.mysql, "ts_bench_unlogged").await?;
    let mut contenders = vec![
        workspace.reference(upstream.addr).await?,
        workspace.tokenslipper(upstream.addr, &logged_url, true).await?,
        workspace.tokenslipper(upstream.addr, &unlogged_url, false).await?,
    ];
    let mut report = Report::default();
    match &options.litellm {
        Some(program) => match workspace.litellm(program, upstream.addr).await {
            Ok(litellm) => contenders.push(litellm),
            Err(error) => report.notes.push(format!("LiteLLM not measured: {error}")),
        },
        None => report.notes.push("LiteLLM not measured (--quick, --no-litellm, or not installed)".into()),
    }
    let pool = connect(&logged_url).await?;
    migrated(&pool).await?;
    let mut ledger = Ledger { served: 0, pool };

    tokio::time::sleep(Duration::from_secs(1)).await;
    for contender in &contenders {
        if let Some(pid) = contender.pid {
            report.add(Figure::RssIdleMb, contender.kind, process_stats::rss_bytes(pid) as f64 / (1024.0 * 1024.0));
        }
    }
    let mut everyone: Vec<&Contender> = vec![upstream];
    everyone.extend(contenders.iter());
    for round in 0..plan.rounds {
        eprintln!("bench: round {} of {}", round + 1, plan.rounds);
        let mut order = everyone.clone();
        order.rotate_left(round % everyone.len());
        scenarios::round(&order, &plan, &mut report, &mut ledger).await?;
    }
    // After every round: memory the open streams leave behind (malloc keeps it) must not count in
    // the figures at c=256.
    for round in 0..plan.rounds {
        for contender in everyone.iter().filter(|c| c.pid.is_some()) {
            // LiteLLM holds 1,000 streams slowly; once is enough to know its memory.
            if contender.kind == Kind::LiteLlm && round > 0 {
                continue;
            }
            scenarios::open_streams(contender, &plan, &mut report, &mut ledger).await?;
        }
    }
    let kinds: Vec<Kind> = {
        let mut kinds: Vec<Kind> = everyone.iter().map(|c| c.kind).collect();
        kinds.sort();
        kinds
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Request path ({} rounds; medians, min–max in brackets; {} open streams)\n",
        plan.rounds, plan.open_streams
    );
    out.push_str(&report.table(&kinds));
    for line in report.litellm_verdicts() {
        let _ = writeln!(out, "\n- against LiteLLM, {line}");
    }
    let _ = writeln!(
        out,
        "\nNothing lost: TokenSlipper answered {} requests and MySQL holds exactly one row for each (checked after every scenario).",
        ledger.served
    );
    let mut notes = report.notes.clone();
    notes.dedup();
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    out.push('\n');
    Ok(out)
}

async fn log_writer(options: &Options, workspace: &Workspace, server: &MySqlPool) -> Result<String, String> {
    let (runs, small, large) = if options.quick { (1, 500, 50) } else { (3, 50_000, 5_000) };
    let mut out = String::from("## Log writer into MariaDB (records/s; every record a new conversation)\n\n");
    let prose_file = writer_prose_file(options, workspace)?;
    for (count, body_bytes) in [(small, 1024usize), (large, 50 * 1024)] {
        let (mut rates, mut writer_cpu, mut database_cpu) = (Vec::new(), Vec::new(), Vec::new());
        for n in 0..runs {
            let url = fresh_database(server, &options.mysql, "ts_bench_writer").await?;
            let spool = workspace.dir.join(format!("writer-spool-{body_bytes}-{n}"));
            let result = writer_process(workspace, &url, 1, count, body_bytes, &spool, &prose_file).await?;
            rates.push(result.rows as f64 / result.elapsed.as_secs_f64());
            writer_cpu.push(result.writer_cpu.as_secs_f64() * 1e6 / result.rows as f64);
            database_cpu.push(result.database_cpu.as_secs_f64() * 1e6 / result.rows as f64);
        }
        for figures in [&mut rates, &mut writer_cpu, &mut database_cpu] {
            figures.sort_by(f64::total_cmp);
        }
        let _ = writeln!(
            out,
            "- {} KB bodies, {count} records × {runs}: {:.0} records/s ({:.0}–{:.0}){}; CPU per record: \
             writer {:.0} µs, MariaDB {:.0} µs",
            body_bytes / 1024,
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            if body_bytes == 1024 { ", goal ≥ 20,000" } else { "" },
            writer_cpu[runs / 2],
            database_cpu[runs / 2],
        );
    }
    out.push('\n');
    Ok(out)
}

/// A file of prose for the writer's records (see `prose`), in the workspace.
pub(crate) fn writer_prose_file(options: &Options, workspace: &Workspace) -> Result<std::path::PathBuf, String> {
    let traces = recorded_traces(options)?.unwrap_or_default();
    let prose_file = workspace.dir.join("writer-prose.txt");
    std::fs::write(&prose_file, prose(&traces)).map_err(|e| format!("{}: {e}", prose_file.display()))?;
    Ok(prose_file)
}

/// Prose for the records' texts: the messages of `conversations` one after the other, or a sentence
/// over and over when there are none.
fn prose(conversations: &[storage::Conversation]) -> String {
    let texts: Vec<&str> =
        conversations.iter().flat_map(|c| &c.messages).filter_map(|m| m["content"].as_str()).collect();
    match texts.join("\n") {
        joined if joined.len() >= 64 * 1024 => joined,
        _ => "The quick brown fox jumps over the lazy dog. ".repeat(64 * 1024 / 45 + 1),
    }
}

/// One writer benchmark run in `bench-log-writer`, a process on the proxy's allocator: `count`
/// records numbered from `first`.
pub(crate) async fn writer_process(
    workspace: &Workspace,
    database_url: &str,
    first: u64,
    count: u64,
    body_bytes: usize,
    spool: &std::path::Path,
    prose_file: &std::path::Path,
) -> Result<WriterRun, String> {
    let output = tokio::process::Command::new(workspace.own_exe("bench-log-writer")?)
        .arg(database_url)
        .arg(count.to_string())
        .arg(body_bytes.to_string())
        .arg(spool)
        .arg(prose_file)
        .arg(first.to_string())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot start bench-log-writer: {e}"))?;
    if !output.status.success() {
        return Err(format!("{} ({})", String::from_utf8_lossy(&output.stderr).trim(), output.status));
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let figure = |name: &str| -> Result<u64, String> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .ok_or_else(|| format!("bench-log-writer printed no {name}: {line:?}"))
    };
    Ok(WriterRun {
        rows: figure("rows")?,
        elapsed: Duration::from_micros(figure("elapsed_us")?),
        writer_cpu: Duration::from_micros(figure("writer_cpu_us")?),
        database_cpu: Duration::from_micros(figure("database_cpu_us")?),
    })
}

async fn storage_replay(
    options: &Options,
    workspace: &Workspace,
    server: &MySqlPool,
    upstream: &Contender,
) -> Result<String, String> {
    let (conversations, source) = match recorded_traces(options)? {
        Some(traces) => (traces, options.traces.display().to_string()),
        None => (storage::synthetic_traces(3, 6), "synthetic conversations (no traces used)".to_string()),
    };
    let (url, bodies, result) =
        replay_into(options, workspace, server, upstream, "ts_bench_storage", &conversations).await?;
    let token = "bench-admin-token-0123456789";
    let admin = workspace.admin_api(&url, token).await?;
    storage::verify_through_admin_api(&admin, token, &bodies).await?;
    let mut out = storage_report(&source, &result);
    out.push_str("- every request read back through the admin API: whole conversation and exact raw body\n");
    if !options.quick {
        // The same at scale: InnoDB's fixed costs are a large share of a 90 MB replay.
        let copies = storage::copies(&conversations, STORAGE_SCALE_COPIES);
        let (_, _, result) =
            replay_into(options, workspace, server, upstream, "ts_bench_storage_scale", &copies).await?;
        out.push_str(&storage_report(
            &format!("the same, {STORAGE_SCALE_COPIES} times over as different conversations"),
            &result,
        ));
    }
    out.push('\n');
    Ok(out)
}

/// The recorded conversations in `--traces`; none in `--quick` mode or when the directory is missing.
fn recorded_traces(options: &Options) -> Result<Option<Vec<storage::Conversation>>, String> {
    if options.quick || !options.traces.exists() {
        return Ok(None);
    }
    storage::read_traces(&options.traces).map(Some)
}

/// Replays `conversations` through a TokenSlipper of its own into the fresh database `name`; returns
/// the database's URL, the request bodies and what MySQL used for them.
async fn replay_into(
    options: &Options,
    workspace: &Workspace,
    server: &MySqlPool,
    upstream: &Contender,
    name: &str,
    conversations: &[storage::Conversation],
) -> Result<(String, Vec<bytes::Bytes>, storage::StorageResult), String> {
    let bodies = storage::replay_bodies(conversations);
    let url = fresh_database(server, &options.mysql, name).await?;
    let proxy = workspace.tokenslipper(upstream.addr, &url, true).await?;
    let pool = connect(&url).await?;
    migrated(&pool).await?;
    let result = storage::replay(&proxy, &pool, &bodies, conversations.len()).await?;
    Ok((url, bodies, result))
}

/// The second storage replay: the traces this many times over.
const STORAGE_SCALE_COPIES: usize = 8;

fn storage_report(source: &str, result: &storage::StorageResult) -> String {
    let tables = result
        .grown_tables
        .iter()
        .map(|(table, grown)| format!("`{table}` {:.2}", *grown as f64 / 1e6))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "## Storage on replayed conversations ({source})\n\n\
         - {} conversations, {} requests, {:.1} MB of request bodies ({:.0} bytes per request)\n\
         - MariaDB data + indexes used: {:.1} MB ({:.0} bytes per request) = {:.1} % of the raw bytes; goal ≤ 10 %\n\
         - grown, MB: {tables}\n",
        result.conversations,
        result.requests,
        result.raw_bytes as f64 / 1e6,
        result.raw_bytes as f64 / result.requests as f64,
        result.stored_bytes as f64 / 1e6,
        result.stored_bytes as f64 / result.requests as f64,
        100.0 * result.stored_bytes as f64 / result.raw_bytes as f64,
    )
}
