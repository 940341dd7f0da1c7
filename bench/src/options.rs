//! The command line.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: bench [--quick] [--rounds N] [--only request-path|writer|storage|growth] [--growth-runs N]
             [--mysql mysql://root@127.0.0.1:3306] [--traces DIR] [--litellm PROGRAM | --no-litellm]
             [--proxy-threads N] [--out FILE]
       bench mock-upstream --port P
       bench reference-proxy --port P --upstream http://HOST:PORT
       bench record-cost [--records N] [--case chat|stream|agent]";

pub enum Command {
    Bench(Options),
    MockUpstream {
        port: u16,
    },
    ReferenceProxy {
        port: u16,
        upstream: String,
    },
    /// The log writer's CPU per record, without a database (see `record_cost`).
    RecordCost {
        records: usize,
        case: Option<String>,
    },
}

pub struct Options {
    pub quick: bool,
    pub rounds: usize,
    pub only: Option<String>,
    /// Runs of the `growth` part (which only `--only growth` runs): each adds 250,000 records.
    pub growth_runs: u64,
    /// The MariaDB/MySQL server, without a database: the harness makes its own `ts_bench_*` ones.
    pub mysql: String,
    pub traces: PathBuf,
    pub litellm: Option<PathBuf>,
    pub proxy_threads: Option<usize>,
    pub out: Option<PathBuf>,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
        let mut options = Options {
            quick: false,
            rounds: 5,
            only: None,
            growth_runs: 5,
            mysql: "mysql://root@127.0.0.1:3306".into(),
            traces: PathBuf::from("../shared/data/traces/mini-swe-agent"),
            litellm: default_litellm(),
            proxy_threads: None,
            out: None,
        };
        let mut port = None;
        let mut upstream = None;
        let mut subcommand = None;
        let (mut records, mut case) = (2_000, None);
        let mut growth_runs_given = false;
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "mock-upstream" | "reference-proxy" | "record-cost" if subcommand.is_none() => subcommand = Some(arg),
                "--case" => case = Some(value("--case")?),
                "--records" => records = value("--records")?.parse().map_err(|e| format!("--records: {e}"))?,
                "--port" => port = Some(value("--port")?.parse::<u16>().map_err(|e| format!("--port: {e}"))?),
                "--upstream" => upstream = Some(value("--upstream")?),
                "--quick" => options.quick = true,
                "--rounds" => options.rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
                "--only" => options.only = Some(value("--only")?),
                "--growth-runs" => {
                    options.growth_runs = value("--growth-runs")?.parse().map_err(|e| format!("--growth-runs: {e}"))?;
                    growth_runs_given = true;
                }
                "--mysql" => options.mysql = value("--mysql")?.trim_end_matches('/').to_string(),
                "--traces" => options.traces = value("--traces")?.into(),
                "--litellm" => options.litellm = Some(value("--litellm")?.into()),
                "--no-litellm" => options.litellm = None,
                "--proxy-threads" => {
                    options.proxy_threads =
                        Some(value("--proxy-threads")?.parse().map_err(|e| format!("--proxy-threads: {e}"))?)
                }
                "--out" => options.out = Some(value("--out")?.into()),
                "-h" | "--help" => return Err("".into()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if let Some(only) = &options.only {
            if !["request-path", "writer", "storage", "growth"].contains(&only.as_str()) {
                return Err(format!("--only {only:?}: one of request-path, writer, storage, growth"));
            }
        }
        if growth_runs_given && options.only.as_deref() != Some("growth") {
            return Err("--growth-runs counts the runs of --only growth, which this run leaves out".into());
        }
        match subcommand.as_deref() {
            Some("mock-upstream") => Ok(Command::MockUpstream { port: port.ok_or("--port is required")? }),
            Some("record-cost") => Ok(Command::RecordCost { records, case }),
            Some(_) => Ok(Command::ReferenceProxy {
                port: port.ok_or("--port is required")?,
                upstream: upstream.ok_or("--upstream is required")?,
            }),
            None => {
                if options.quick {
                    options.rounds = 1;
                    options.litellm = None;
                }
                Ok(Command::Bench(options))
            }
        }
    }

    /// Whether the run includes `part`; a run without `--only` includes every part but `growth`,
    /// which takes minutes and a database of millions of rows.
    pub fn runs(&self, part: &str) -> bool {
        self.only.as_deref().map_or(part != "growth", |only| only == part)
    }
}

/// LiteLLM where `scripts/bench.sh` installs it, else on the PATH.
fn default_litellm() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let installed = home.join(".cache/tokenslipper-tools/litellm-venv/bin/litellm");
    if installed.exists() {
        return Some(installed);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join("litellm"))
        .find(|path| path.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        Options::parse(args.iter().map(|arg| arg.to_string()))
    }

    fn bench_options(args: &[&str]) -> Options {
        match parse(args) {
            Ok(Command::Bench(options)) => options,
            _ => panic!("{args:?} is not a benchmark run"),
        }
    }

    #[test]
    fn the_growth_part_runs_only_when_asked_for_by_name() {
        let full = bench_options(&[]);
        assert!(full.runs("writer") && full.runs("storage") && !full.runs("growth"));
        let growth = bench_options(&["--only", "growth", "--growth-runs", "3"]);
        assert!(growth.runs("growth") && !growth.runs("writer"));
        assert_eq!(growth.growth_runs, 3);
        assert_eq!(bench_options(&["--only", "growth"]).growth_runs, 5);
    }

    #[test]
    fn growth_runs_without_the_growth_part_are_refused() {
        let refused = parse(&["--growth-runs", "3"]).err().expect("refused");
        assert!(refused.contains("--only growth"), "{refused}");
        assert!(parse(&["--only", "writer", "--growth-runs", "3"]).is_err());
        assert!(parse(&["--only", "growth", "--growth-runs", "many"]).is_err());
    }
}
