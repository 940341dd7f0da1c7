//! The soak run (`scripts/soak.sh`; ignored in the normal test run): the real proxy binary under
//! minutes of mixed traffic (`SOAK_RATE` requests/s, default 400, from 8 clients) — plain and streamed chats, upstream errors, clients that hang up
//! mid-stream, 1 MB bodies — while its memory (RSS) and open file descriptors are sampled. At the
//! end both must be flat, and every request must have exactly one row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

use crate::helpers::spooled;
use crate::mock_upstream::MockUpstream;
use crate::proxy_process::ProxyProcess;

/// Resident memory in KiB and open descriptors of a process, from /proc.
fn sample(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (rss.parse().unwrap(), fds)
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

#[sqlx::test(migrations = false)]
#[ignore = "minutes long: run by scripts/soak.sh"]
async fn soak(pool_options: MySqlPoolOptions, database: MySqlConnectOptions) {
    let seconds: u64 = std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    // Paced below what MySQL takes on this machine, so the run is a steady state to look for leaks
    // in; unpaced, the spool's backlog grows for as long as the run lasts (see BENCHMARKS.md).
    let rate: u64 = std::env::var("SOAK_RATE").ok().and_then(|s| s.parse().ok()).unwrap_or(400);
    let pause = Duration::from_micros(8 * 1_000_000 / rate.max(1));
    let upstream = MockUpstream::start().await;
    upstream.forget_requests();
    let proxy = ProxyProcess::start(
        &database,
        &[("UPSTREAM_BASE_URL", &upstream.base_url), ("UPSTREAM_API_KEY", "sk-soak"), ("LOG_LEVEL", "warn")],
    )
    .await;
    let (pid, port) = (proxy.pid(), proxy.port);
    let base = format!("http://127.0.0.1:{port}");

    // Each request carries a marker, so its row can be found; `sent` holds the markers of requests
    // that reached the proxy whole (answered, or hung up on after the answer began).
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let big = "x".repeat(1 << 20);
    let mut clients = Vec::new();
    for client in 0..8 {
        let (sent, stop, base, big) = (sent.clone(), stop.clone(), base.clone(), big.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut next = tokio::time::Instant::now();
            for n in 0u64.. {
                next += pause;
                tokio::time::sleep_until(next).await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let marker = format!("soak-{client}-{n}");
                let kind = (client as u64 + n) % 10;
                let (body, scenario) = match kind {
                    0..=3 => (serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": marker}]}), None),
                    4..=6 => (serde_json::json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": marker}]}), None),
                    7 => (serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": marker}]}), Some("status:500")),
                    8 => (serde_json::json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": marker}]}), Some("endless")),
                    _ => (serde_json::json!({"model": "gpt-4o", "messages": [{"role": "system", "content": big}, {"role": "user", "content": marker}]}), None),
                };
                let mut request = http.post(format!("{base}/v1/chat/completions")).json(&body);
                if let Some(scenario) = scenario {
                    request = request.header("x-mock-scenario", scenario);
                }
                let Ok(mut response) = request.send().await else { continue };
                if kind == 8 {
                    // Hang up once the stream has begun.
                    let _ = response.chunk().await;
                    drop(response);
                } else {
                    let _ = response.bytes().await;
                }
                sent.lock().unwrap().push(marker);
            }
        }));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (rss, fds) = sample(pid);
        let requests = sent.lock().unwrap().len();
        let spooled = spooled(&base).await.unwrap();
        eprintln!(
            "soak: {:>4} s  {requests:>7} requests  RSS {rss:>6} KiB  {fds:>4} fds  {spooled:>6} waiting in the spool",
            started.elapsed().as_secs()
        );
        samples.push((rss, fds));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    // Let the writer catch up, then a graceful stop.
    let caught_up = Instant::now();
    while spooled(&base).await.unwrap() > 0 {
        assert!(caught_up.elapsed() < Duration::from_secs(600), "the writer does not catch up");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("soak: the writer caught up {:.1} s after the load stopped", caught_up.elapsed().as_secs_f64());
    let log = proxy.stop().await;
    eprint!("soak: what the proxy printed:\n{log}");
    let pool = pool_options.connect_with(database).await.unwrap();
    let rows: Vec<(Option<String>, i64)> =
        sqlx::query_as("SELECT last_user_message_preview, COUNT(*) FROM requests GROUP BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    let stored: HashMap<String, i64> = rows.into_iter().map(|(m, n)| (m.unwrap_or_default(), n)).collect();
    let sent = sent.lock().unwrap().clone();
    let missing = sent.iter().filter(|m| !stored.contains_key(*m)).count();
    let doubled = stored.values().filter(|n| **n != 1).count();
    eprintln!("soak: {} requests sent, {} rows, {missing} missing, {doubled} stored twice", sent.len(), stored.len());
    assert_eq!((missing, doubled), (0, 0));

    // Flat: the last third of the run against the first third (after a warm-up sample).
    let third = samples.len() / 3;
    assert!(third >= 2, "run at least 30 s");
    let (early, late) = (&samples[1..=third], &samples[samples.len() - third..]);
    let rss = |s: &[(u64, usize)]| median(&mut s.iter().map(|x| x.0).collect::<Vec<_>>());
    let fds = |s: &[(u64, usize)]| median(&mut s.iter().map(|x| x.1 as u64).collect::<Vec<_>>());
    eprintln!("soak: median RSS {} → {} KiB, median fds {} → {}", rss(early), rss(late), fds(early), fds(late));
    assert!(rss(late) <= rss(early) + rss(early) / 5 + 8 * 1024, "memory grows: {samples:?}");
    assert!(fds(late) <= fds(early) + 8, "descriptors grow: {samples:?}");
}
