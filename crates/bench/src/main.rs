//! `coldstart`: starts each Lambda binary (and the Python peer) fresh against a local Lambda
//! Runtime API and a local AWS API server, and prints the cold-start and footprint table.
//! `scripts/bench-coldstart` is the way to run it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use oms_bench::bench::{self, BenchError, Kind, Options};
use oms_bench::report::{Machine, Report};

const USAGE: &str = "coldstart [--runs N] [--warmup N] [--bin-dir DIR] [--python PATH] \
[--peer-dir DIR] [--only name,name] [--timeout-secs S] [--log-dir DIR] [--prefix NAME] \
[--markdown FILE] [--json FILE]";

struct Args {
    opts: Options,
    markdown: Option<PathBuf>,
    json: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let stamp = oms_bench::emulator::unix_millis();
    let mut opts = Options {
        runs: 21,
        warmup: 1,
        bin_dir: PathBuf::from(target).join("release"),
        python: None,
        peer_dir: PathBuf::from("bench/python-peer"),
        log_dir: std::env::temp_dir().join(format!("oms-bench-{stamp}")),
        timeout: Duration::from_secs(30),
        kinds: Kind::DEFAULT.to_vec(),
        prefix: format!("oms-bench-{stamp}"),
    };
    let (mut markdown, mut json) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--runs" => opts.runs = number(value()?)?,
            "--warmup" => opts.warmup = number(value()?)?,
            "--bin-dir" => opts.bin_dir = value()?.into(),
            "--python" => opts.python = Some(value()?.into()),
            "--peer-dir" => opts.peer_dir = value()?.into(),
            "--log-dir" => opts.log_dir = value()?.into(),
            "--prefix" => opts.prefix = value()?,
            "--timeout-secs" => opts.timeout = Duration::from_secs(number(value()?)? as u64),
            "--markdown" => markdown = Some(value()?.into()),
            "--json" => json = Some(value()?.into()),
            "--only" => {
                opts.kinds = value()?
                    .split(',')
                    .map(|n| Kind::parse(n.trim()).ok_or(format!("unknown function {n}")))
                    .collect::<Result<_, _>>()?;
                opts.kinds.sort();
                opts.kinds.dedup();
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    // Absolute, because the Python peer runs in its own directory (the venv's interpreter is not
    // resolved through its symlink: that would leave the venv).
    let absolute = |p: &mut PathBuf| -> Result<(), String> {
        *p = std::path::absolute(&*p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(())
    };
    absolute(&mut opts.bin_dir)?;
    absolute(&mut opts.peer_dir)?;
    absolute(&mut opts.log_dir)?;
    if let Some(p) = opts.python.as_mut() {
        absolute(p)?;
    }
    // With an interpreter given, the Python peer runs beside the Rust functions by default.
    if opts.python.is_some() && !args.iter().any(|a| a == "--only") {
        opts.kinds.push(Kind::PythonWebhook);
    }
    Ok(Args {
        opts,
        markdown,
        json,
    })
}

/// SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Args {
        opts,
        markdown,
        json,
    } = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "coldstart: {} × {} starts (+{} warm-up) — functions' output in {}",
        opts.kinds.len(),
        opts.runs,
        opts.warmup,
        opts.log_dir.display()
    );
    let (runs, warmup, bin_dir) = (opts.runs, opts.warmup, opts.bin_dir.clone());
    // Interrupted, the run is dropped, and with it the function process it was measuring.
    let run = bench::run(opts, |p| eprintln!("coldstart: {p}"));
    let result = tokio::select! {
        r = run => r,
        _ = interrupted() => {
            eprintln!("coldstart: interrupted");
            return ExitCode::from(130);
        }
    };
    let samples = match result {
        Ok(s) => s,
        Err(e @ BenchError::Usage(_)) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("coldstart FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = Report::new(
        Machine::here(),
        runs,
        warmup,
        samples,
        bench::binary_sizes(&bin_dir),
        bin_dir,
    );
    print!("{}", report.text());
    let writes = [
        (markdown, report.markdown()),
        (json, format!("{:#}\n", report.json())),
    ];
    for (path, text) in writes {
        if let Some(path) = path
            && let Err(e) = std::fs::write(&path, text)
        {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
