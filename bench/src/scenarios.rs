//! The request-path scenarios. Each is run against every contender in turn, the order rotating from
//! round to round; figures that are "added" subtract the direct path's figure of the same round.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use sqlx::MySqlPool;

use crate::contenders::{Contender, Kind};
use crate::load::{self, FirstBytes, Load, LoadResult, Until};
use crate::mock_upstream::ReplyShape;
use crate::report::{Figure, Report};
use bench::process_stats::{self, cpu_time_of as cpu};

pub struct Plan {
    pub rounds: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub paced_streams: usize,
    pub open_streams: usize,
    pub open_stream_shape: ReplyShape,
}

/// Requests TokenSlipper (logging on) has answered, to compare with the rows MySQL holds.
pub struct Ledger {
    pub served: u64,
    pub pool: MySqlPool,
}

impl Ledger {
    /// Waits until MySQL holds exactly one row per answered request. Fewer rows after a minute, or
    /// more at any time, ends the run.
    pub async fn check(&self, scenario: &str) -> Result<(), String> {
        let began = std::time::Instant::now();
        loop {
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| format!("counting logged requests: {e}"))?;
            let rows = rows as u64;
            if rows == self.served {
                return Ok(());
            }
            if rows > self.served {
                return Err(format!(
                    "{scenario}: MySQL holds {rows} requests, but only {} were served (doubled)",
                    self.served
                ));
            }
            if began.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "{scenario}: MySQL holds {rows} requests after a minute, but {} were served (lost)",
                    self.served
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A chat request of about 1 KB, as a coding tool sends one.
pub fn chat_body(shape: ReplyShape, stream: bool) -> Bytes {
    let question = "Refactor the function below so that it returns early on an empty slice. ".repeat(11);
    Bytes::from(
        serde_json::json!({
            "model": shape.model_name(),
            "messages": [
                {"role": "system", "content": "You are a careful senior engineer. Answer with code first."},
                {"role": "user", "content": question},
            ],
            "stream": stream,
            "temperature": 0.2,
        })
        .to_string(),
    )
}

struct Measured {
    result: LoadResult,
    proxy_cpu: Duration,
    database_cpu: Duration,
    max_rss: u64,
    /// After the load, until MySQL held its rows (TokenSlipper logging only).
    drained: Duration,
}

/// Runs `load` against `contender` after a warm-up, sampling the contender's memory meanwhile. For
/// TokenSlipper logging, the measured time and CPU run until MySQL holds every row of the load
/// (the warm-up's are written before it starts): a log writer that fell behind during the load
/// must not flatter its throughput.
async fn measure(
    contender: &Contender,
    load: &Load,
    warmup: Duration,
    ledger: &mut Ledger,
) -> Result<Measured, String> {
    let load = Load { target: contender.addr, authorization: contender.authorization.clone(), ..load.clone() };
    if !warmup.is_zero() {
        let warm = Load { until: Until::Elapsed(warmup), ..load.clone() };
        let result = load::run(&warm, &FirstBytes::default()).await;
        accept(contender, &result, ledger, "warm-up")?;
    }
    if contender.kind == Kind::Logged {
        all_written(contender, ledger.served).await?;
    }
    let database = process_stats::database_server();
    let (cpu_before, database_before) = (cpu(contender.pid), cpu(database));
    let sampling = Rc::new(Cell::new(true));
    let sampler = tokio::task::spawn_local(sample_rss(contender.pid, sampling.clone(), None));
    let result = load::run(&load, &FirstBytes::default()).await;
    let mut drained = Duration::ZERO;
    if contender.kind == Kind::Logged {
        drained = all_written(contender, ledger.served + result.completed).await?;
    }
    sampling.set(false);
    let max_rss = sampler.await.unwrap_or(0);
    let measured = Measured {
        proxy_cpu: cpu(contender.pid).saturating_sub(cpu_before),
        database_cpu: cpu(database).saturating_sub(database_before),
        max_rss,
        drained,
        result,
    };
    accept(contender, &measured.result, ledger, "measured run")?;
    Ok(measured)
}

/// Waits until TokenSlipper's log writer has written `rows` records to MySQL in all (its
/// `tokenslipper_log_written_total`, which costs MySQL nothing to read); returns how long that took.
/// The ledger's count of rows in MySQL checks the same afterwards.
async fn all_written(contender: &Contender, rows: u64) -> Result<Duration, String> {
    let began = std::time::Instant::now();
    let mut sender = load::connect(contender.addr).await.map_err(|e| format!("reading /metrics: {e}"))?;
    loop {
        let request = hyper::Request::get("/metrics")
            .header(hyper::header::HOST, contender.addr.to_string())
            .body(http_body_util::Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| format!("reading /metrics: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("reading /metrics: {e}"))?;
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map_err(|e| format!("reading /metrics: {e}"))?
            .to_bytes();
        let written = String::from_utf8_lossy(&body)
            .lines()
            .find_map(|line| line.strip_prefix("tokenslipper_log_written_total ")?.trim().parse::<u64>().ok())
            .ok_or("/metrics has no tokenslipper_log_written_total")?;
        if written >= rows {
            return Ok(began.elapsed());
        }
        if began.elapsed() > Duration::from_secs(60) {
            return Err(format!("the log writer wrote {written} of {rows} records in a minute"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Highest RSS seen while `sampling` holds (and, with `after`, only once that many first bytes arrived).
async fn sample_rss(pid: Option<u32>, sampling: Rc<Cell<bool>>, after: Option<(FirstBytes, usize)>) -> u64 {
    let mut max = 0;
    while sampling.get() {
        let ready = after.as_ref().is_none_or(|(seen, wanted)| seen.count() >= *wanted);
        if let (Some(pid), true) = (pid, ready) {
            max = max.max(process_stats::rss_bytes(pid));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    max
}

/// Failures end the run, except LiteLLM's, which are reported. TokenSlipper's answers are counted.
fn accept(contender: &Contender, result: &LoadResult, ledger: &mut Ledger, what: &str) -> Result<(), String> {
    if contender.kind == Kind::Logged {
        ledger.served += result.completed;
    }
    if result.failed > 0 {
        let message = format!(
            "{} {what}: {} of {} requests failed (first: {})",
            contender.kind.label(),
            result.failed,
            result.failed + result.completed,
            result.first_failure.as_deref().unwrap_or("?")
        );
        if contender.kind == Kind::LiteLlm {
            eprintln!("warning: {message}");
        } else {
            return Err(message);
        }
    }
    Ok(())
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Turns each contender takes in a round's latency scenario (c=1), each `duration / 6` long.
const LATENCY_SLICES: u32 = 6;

/// One round of every scenario over `order` (the direct path included).
pub async fn round(order: &[&Contender], plan: &Plan, report: &mut Report, ledger: &mut Ledger) -> Result<(), String> {
    let instant = ReplyShape { words: 20, pace: Duration::ZERO };
    let whole = |concurrency| Load {
        target: order[0].addr,
        path: "/v1/chat/completions".into(),
        authorization: None,
        body: chat_body(instant, false),
        concurrency,
        until: Until::Elapsed(plan.duration),
    };

    // Non-streaming, one at a time: added latency. The contenders take turns in short slices and
    // each one's times are pooled, so that a noisy neighbour's seconds weigh on all of them alike:
    // measured one after the other, the direct path's own p50 moved 3× between rounds on one VM.
    let slice_load = Load { until: Until::Elapsed(plan.duration / LATENCY_SLICES), ..whole(1) };
    let mut times: HashMap<Kind, Vec<Duration>> = HashMap::new();
    for slice in 0..LATENCY_SLICES {
        for contender in order {
            let warmup = if slice == 0 { plan.warmup } else { Duration::ZERO };
            let m = measure(contender, &slice_load, warmup, ledger).await?;
            times.entry(contender.kind).or_default().extend(m.result.total);
            ledger_check(contender, ledger, "c=1").await?;
        }
    }
    let p: HashMap<Kind, (Duration, Duration)> = times
        .into_iter()
        .map(|(kind, mut total)| (kind, (load::quantile(&mut total, 0.5), load::quantile(&mut total, 0.99))))
        .collect();
    let (direct_p50, direct_p99) = p[&Kind::Direct];
    for (&kind, &(p50, p99)) in p.iter().filter(|(k, _)| **k != Kind::Direct) {
        report.add(Figure::AddedP50Us, kind, micros(p50) - micros(direct_p50));
        report.add(Figure::AddedP99Us, kind, micros(p99) - micros(direct_p99));
    }
    report.notes.push(format!("direct p50 {:.0} µs, p99 {:.0} µs", micros(direct_p50), micros(direct_p99)));

    // Non-streaming throughput.
    for (concurrency, throughput, cpu) in [
        (32, Figure::Throughput32, Figure::CpuPerRequest32Us),
        (256, Figure::Throughput256, Figure::CpuPerRequest256Us),
    ] {
        for contender in order {
            let m = measure(contender, &whole(concurrency), plan.warmup, ledger).await?;
            let completed = m.result.completed.max(1) as f64;
            let elapsed = m.result.elapsed + m.drained;
            report.add(throughput, contender.kind, m.result.completed as f64 / elapsed.as_secs_f64());
            if contender.pid.is_some() {
                report.add(cpu, contender.kind, micros(m.proxy_cpu) / completed);
            }
            if concurrency == 32 && contender.kind == Kind::Logged {
                report.add(Figure::DatabaseCpuPerRequest32Us, contender.kind, micros(m.database_cpu) / completed);
            }
            if concurrency == 256 && contender.pid.is_some() {
                report.add(Figure::Rss256Mb, contender.kind, megabytes(m.max_rss));
            }
            ledger_check(contender, ledger, &format!("c={concurrency}")).await?;
        }
    }

    // A stream's first byte, and a whole paced stream, one at a time.
    let paced = ReplyShape { words: 50, pace: Duration::from_millis(1) };
    let mut first = HashMap::new();
    let mut whole_stream = HashMap::new();
    for contender in order {
        let load = Load { body: chat_body(instant, true), ..whole(1) };
        let mut m = measure(contender, &load, plan.warmup, ledger).await?;
        first.insert(contender.kind, load::quantile(&mut m.result.first_byte, 0.5));
        let load =
            Load { body: chat_body(paced, true), until: Until::RequestsPerConnection(plan.paced_streams), ..whole(1) };
        let mut m = measure(contender, &load, Duration::ZERO, ledger).await?;
        whole_stream.insert(contender.kind, load::quantile(&mut m.result.total, 0.5));
        ledger_check(contender, ledger, "streams c=1").await?;
    }
    for contender in order.iter().filter(|c| c.kind != Kind::Direct) {
        let kind = contender.kind;
        report.add(Figure::AddedFirstByteUs, kind, micros(first[&kind]) - micros(first[&Kind::Direct]));
        report.add(Figure::AddedPacedStreamUs, kind, micros(whole_stream[&kind]) - micros(whole_stream[&Kind::Direct]));
    }

    // Streaming throughput: every event the client sees (role, words, finish, [DONE]).
    let events_per_stream = (instant.words + 3) as f64;
    for contender in order {
        let load = Load { body: chat_body(instant, true), ..whole(32) };
        let m = measure(contender, &load, plan.warmup, ledger).await?;
        let events = m.result.completed as f64 * events_per_stream;
        report.add(Figure::StreamEvents32, contender.kind, events / (m.result.elapsed + m.drained).as_secs_f64());
        if contender.pid.is_some() {
            report.add(Figure::CpuPerEvent32Us, contender.kind, micros(m.proxy_cpu) / events.max(1.0));
        }
        ledger_check(contender, ledger, "streams c=32").await?;
    }
    Ok(())
}

async fn ledger_check(contender: &Contender, ledger: &Ledger, scenario: &str) -> Result<(), String> {
    if contender.kind == Kind::Logged {
        ledger.check(scenario).await?;
    }
    Ok(())
}

/// Memory with many streams open at once: RSS once every stream has sent its first event.
pub async fn open_streams(
    contender: &Contender,
    plan: &Plan,
    report: &mut Report,
    ledger: &mut Ledger,
) -> Result<(), String> {
    let load = Load {
        target: contender.addr,
        path: "/v1/chat/completions".into(),
        authorization: contender.authorization.clone(),
        body: chat_body(plan.open_stream_shape, true),
        concurrency: plan.open_streams,
        until: Until::RequestsPerConnection(1),
    };
    let first_bytes = FirstBytes::default();
    let sampling = Rc::new(Cell::new(true));
    let sampler = tokio::task::spawn_local(sample_rss(
        contender.pid,
        sampling.clone(),
        Some((first_bytes.clone(), plan.open_streams)),
    ));
    let result = load::run(&load, &first_bytes).await;
    sampling.set(false);
    let max_rss = sampler.await.unwrap_or(0);
    accept(contender, &result, ledger, &format!("{} open streams", plan.open_streams))?;
    if result.failed == 0 {
        report.add(Figure::RssOpenStreamsMb, contender.kind, megabytes(max_rss));
    }
    ledger_check(contender, ledger, "open streams").await
}
