//! `bench-log-writer DATABASE_URL RECORDS BODY_BYTES SPOOL_DIR PROSE_FILE [FIRST]`: the log writer
//! benchmark in a process of its own, started by the harness (`bench --only writer`). The records
//! are numbered from FIRST (1 by default); runs that go on numbering into one database measure
//! the writer as its tables grow (BENCHMARKS.md, "The log writer as its tables grow"). It allocates
//! with mimalloc like the proxy binary, whose writer it measures; the harness's own processes stay
//! on glibc so that the reference proxy remains the floor the issue describes. Prints one line,
//! `rows=N elapsed_us=N writer_cpu_us=N database_cpu_us=N`.

use bench::writer_bench;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: bench-log-writer DATABASE_URL RECORDS BODY_BYTES SPOOL_DIR PROSE_FILE [FIRST]";

fn main() {
    if let Err(message) = run(std::env::args().skip(1).collect()) {
        eprintln!("bench-log-writer: {message}");
        std::process::exit(1);
    }
}

fn run(mut args: Vec<String>) -> Result<(), String> {
    let first = if args.len() == 6 { args.pop().expect("six arguments") } else { "1".to_string() };
    let first: u64 = first.parse().map_err(|_| format!("FIRST {first:?}: not a number\n{USAGE}"))?;
    let [database_url, records, body_bytes, spool_dir, prose_file] = <[String; 5]>::try_from(args)
        .map_err(|args| format!("{} arguments given, 5 or 6 expected\n{USAGE}", args.len()))?;
    let records: u64 = records.parse().map_err(|_| format!("RECORDS {records:?}: not a number\n{USAGE}"))?;
    let body_bytes: usize =
        body_bytes.parse().map_err(|_| format!("BODY_BYTES {body_bytes:?}: not a number\n{USAGE}"))?;
    let prose = std::fs::read_to_string(&prose_file).map_err(|e| format!("{prose_file}: {e}"))?;
    let result = writer_bench::run(&database_url, first, records, body_bytes, spool_dir.into(), &prose)?;
    println!(
        "rows={} elapsed_us={} writer_cpu_us={} database_cpu_us={}",
        result.rows,
        result.elapsed.as_micros(),
        result.writer_cpu.as_micros(),
        result.database_cpu.as_micros()
    );
    Ok(())
}
