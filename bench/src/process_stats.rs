//! CPU time and resident memory of a running process, read from `/proc` (Linux).

use std::time::Duration;

/// CPU time of `pid`, zero when there is no such process (the direct path has none).
pub fn cpu_time_of(pid: Option<u32>) -> Duration {
    pid.map(cpu_time).unwrap_or_default()
}

/// User + system CPU time the process (all its threads) has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
}

/// Resident set size in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The local MariaDB (or MySQL) server, whose CPU logging costs too.
pub fn database_server() -> Option<u32> {
    pid_of("mariadbd").or_else(|| pid_of("mysqld"))
}

/// The process id of a running program by its name.
fn pid_of(program: &str) -> Option<u32> {
    let out = std::process::Command::new("pgrep").args(["-o", "-x", program]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
